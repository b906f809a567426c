import { act, fireEvent, screen } from '@testing-library/react-native';
import { createAudioPlayer } from 'expo-audio';

import { ApiError } from '@/lib/api';
import { confirmAsync } from '@/lib/confirm';
import { SAMPLE_TEXT } from '@/constants/config';
import { deferred, makeMockApi } from '@/test-utils/api';
import { ECHO, VOICE } from '@/test-utils/fixtures';
import { renderWithSession } from '@/test-utils/render';
import { mockRouter } from '@/test-utils/router';

import { VoicesScreen } from './VoicesScreen';

jest.mock('expo-router', () => require('@/test-utils/router').routerModule());
jest.mock('@/lib/confirm', () => ({ confirmAsync: jest.fn() }));

beforeEach(() => jest.clearAllMocks());

describe('VoicesScreen', () => {
  it('shows a loading state, then the voices', async () => {
    const api = makeMockApi();
    const pending = deferred<{ success: true; voice_models: (typeof VOICE)[]; count: number }>();
    api.listVoiceModels.mockReturnValue(pending.promise);
    renderWithSession(<VoicesScreen />, { api });
    expect(screen.getByTestId('loading-view')).toBeTruthy();
    await act(async () => pending.resolve({ success: true, voice_models: [VOICE], count: 1 }));
    expect(screen.getByText('Grandma Rose')).toBeTruthy();
    expect(screen.getByTestId('voice-meta-m1').props.children).toMatch(/^No echo speaks in it yet · 12 s · made .* · cloned with /);
    // Which engine cloned it is said in words, never as the provider's code name.
    expect(screen.getByTestId('voice-meta-m1').props.children).toMatch(/cloned with the engine on this server$/);
    expect(screen.queryByText(/\blocal\b/)).toBeNull();
    expect(api.listVoiceModels).toHaveBeenCalledWith({ limit: 100 });
  });

  it('says which echo speaks in a voice, and offers a new echo only for a free one', async () => {
    const api = makeMockApi();
    const free = { ...VOICE, _id: 'v2', model_id: 'm2', name: 'Joe', echo_id: null };
    api.listVoiceModels.mockResolvedValue({ success: true, voice_models: [{ ...VOICE, echo_id: 'e1' }, free], count: 2 });
    api.listEchos.mockResolvedValue({ success: true, echos: [ECHO], count: 1 });
    renderWithSession(<VoicesScreen />, { api });
    expect((await screen.findByTestId('voice-meta-m1')).props.children).toMatch(/^Grandma Rose speaks in it · /);
    expect(screen.queryByTestId('make-echo-m1')).toBeNull();
    fireEvent.press(screen.getByTestId('make-echo-m2'));
    expect(mockRouter.push).toHaveBeenCalledWith({ pathname: '/echo/new', params: { voice: 'm2' } });
    fireEvent.press(screen.getByTestId('new-voice-button'));
    expect(mockRouter.push).toHaveBeenCalledWith('/voice/new');
  });

  it("plays the voice's original recording from its signed address", async () => {
    const api = makeMockApi();
    api.listVoiceModels.mockResolvedValue({ success: true, voice_models: [VOICE], count: 1 });
    api.getVoiceRecording.mockResolvedValue({ success: true, recording_url: '/api/recording/m1?sig=abc', media_type: 'audio/wav', expires_in: 3600 });
    renderWithSession(<VoicesScreen />, { api });
    await screen.findByTestId('play-recording-m1');
    await act(async () => fireEvent.press(screen.getByTestId('play-recording-m1')));
    expect(api.getVoiceRecording).toHaveBeenCalledWith('m1');
    expect(api.audioSource).toHaveBeenCalledWith('/api/recording/m1?sig=abc', true);
    expect(jest.mocked(createAudioPlayer).mock.calls.at(-1)![0]).toEqual({ uri: 'http://localhost:5000/api/recording/m1?sig=abc' });
    expect(screen.getByTestId('play-recording-m1')).toHaveTextContent('Stop');
    fireEvent.press(screen.getByTestId('play-recording-m1'));
    expect(screen.getByTestId('play-recording-m1')).toHaveTextContent('Play recording');
  });

  it('says so on the row when no recording was kept', async () => {
    const api = makeMockApi();
    api.listVoiceModels.mockResolvedValue({ success: true, voice_models: [VOICE], count: 1 });
    api.getVoiceRecording.mockRejectedValue(new ApiError(404, 'no_recording', 'Echo did not keep the recording of this voice.'));
    renderWithSession(<VoicesScreen />, { api });
    await screen.findByTestId('play-recording-m1');
    await act(async () => fireEvent.press(screen.getByTestId('play-recording-m1')));
    expect(screen.getByTestId('voice-error-m1')).toHaveTextContent('Echo did not keep the recording of this voice.');
    expect(createAudioPlayer).not.toHaveBeenCalled();
  });

  it('renames a voice', async () => {
    const api = makeMockApi();
    api.listVoiceModels.mockResolvedValue({ success: true, voice_models: [VOICE], count: 1 });
    api.renameVoiceModel.mockResolvedValue({ success: true, voice_model: { ...VOICE, name: 'Rose at 80' } });
    renderWithSession(<VoicesScreen />, { api });
    fireEvent.press(await screen.findByTestId('rename-voice-m1'));
    fireEvent.changeText(screen.getByTestId('rename-input-m1'), '   ');
    await act(async () => fireEvent.press(screen.getByTestId('rename-save-m1')));
    expect(screen.getByText('Give the voice a name.')).toBeTruthy();
    expect(api.renameVoiceModel).not.toHaveBeenCalled();
    fireEvent.changeText(screen.getByTestId('rename-input-m1'), '  Rose at 80 ');
    await act(async () => fireEvent.press(screen.getByTestId('rename-save-m1')));
    expect(api.renameVoiceModel).toHaveBeenCalledWith('m1', 'Rose at 80');
    expect(screen.getByTestId('voice-name-m1')).toHaveTextContent('Rose at 80');
    expect(screen.queryByTestId('rename-input-m1')).toBeNull();
  });

  it("keeps the new name in the field and shows the server's words when renaming fails", async () => {
    const api = makeMockApi();
    api.listVoiceModels.mockResolvedValue({ success: true, voice_models: [VOICE], count: 1 });
    api.renameVoiceModel.mockRejectedValue(new ApiError(400, 'invalid_name', 'A name can be at most 100 characters.'));
    renderWithSession(<VoicesScreen />, { api });
    fireEvent.press(await screen.findByTestId('rename-voice-m1'));
    fireEvent.changeText(screen.getByTestId('rename-input-m1'), 'Rose');
    await act(async () => fireEvent.press(screen.getByTestId('rename-save-m1')));
    expect(screen.getByText('A name can be at most 100 characters.')).toBeTruthy();
    expect(screen.getByTestId('rename-input-m1').props.value).toBe('Rose');
  });

  it('shows the empty state', async () => {
    const api = makeMockApi();
    api.listVoiceModels.mockResolvedValue({ success: true, voice_models: [], count: 0 });
    renderWithSession(<VoicesScreen />, { api });
    expect(await screen.findByText('No voices yet')).toBeTruthy();
  });

  it('shows the error state', async () => {
    const api = makeMockApi();
    api.listVoiceModels.mockRejectedValue(new ApiError(0, 'network_error', 'Could not reach the Echo server.'));
    renderWithSession(<VoicesScreen />, { api });
    expect(await screen.findByText('Could not reach the Echo server.')).toBeTruthy();
  });

  it('plays a short preview of the cloned voice', async () => {
    const api = makeMockApi();
    api.listVoiceModels.mockResolvedValue({ success: true, voice_models: [VOICE], count: 1 });
    api.previewVoice.mockResolvedValue({ success: true, audio_url: '/api/audio/s.mp3', audio_path: '', format: 'mp3', media_type: 'audio/mpeg', provider: 'local', reference_id: 'm1' });
    renderWithSession(<VoicesScreen />, { api });
    await screen.findByTestId('play-voice-m1');
    await act(async () => fireEvent.press(screen.getByTestId('play-voice-m1')));
    expect(api.previewVoice).toHaveBeenCalledWith('m1', SAMPLE_TEXT);
    expect(api.synthesize).not.toHaveBeenCalled();
    expect(createAudioPlayer).toHaveBeenCalled();
    expect(screen.getByTestId('play-voice-m1')).toHaveTextContent('Stop');
  });

  it("shows a preview's rate limit on its row, in the server's words", async () => {
    const api = makeMockApi();
    api.listVoiceModels.mockResolvedValue({ success: true, voice_models: [VOICE], count: 1 });
    api.previewVoice.mockRejectedValue(new ApiError(429, 'rate_limited', 'You can ask for more speech in 30 seconds.', 30));
    renderWithSession(<VoicesScreen />, { api });
    await screen.findByTestId('play-voice-m1');
    await act(async () => fireEvent.press(screen.getByTestId('play-voice-m1')));
    expect(screen.getByTestId('voice-error-m1')).toHaveTextContent('You can ask for more speech in 30 seconds.');
  });

  it('deletes a voice after confirmation', async () => {
    const api = makeMockApi();
    api.listVoiceModels.mockResolvedValue({ success: true, voice_models: [VOICE], count: 1 });
    api.deleteVoiceModel.mockResolvedValue({ success: true, message: 'Deleted' });
    jest.mocked(confirmAsync).mockResolvedValue(true);
    renderWithSession(<VoicesScreen />, { api });
    await screen.findByTestId('delete-voice-m1');
    await act(async () => fireEvent.press(screen.getByTestId('delete-voice-m1')));
    expect(confirmAsync).toHaveBeenCalledWith('Delete "Grandma Rose"?', expect.any(String));
    expect(api.deleteVoiceModel).toHaveBeenCalledWith('m1');
    expect(await screen.findByText('No voices yet')).toBeTruthy();
  });

  it('keeps the voice when the deletion is not confirmed', async () => {
    const api = makeMockApi();
    api.listVoiceModels.mockResolvedValue({ success: true, voice_models: [VOICE], count: 1 });
    jest.mocked(confirmAsync).mockResolvedValue(false);
    renderWithSession(<VoicesScreen />, { api });
    await screen.findByTestId('delete-voice-m1');
    await act(async () => fireEvent.press(screen.getByTestId('delete-voice-m1')));
    expect(api.deleteVoiceModel).not.toHaveBeenCalled();
    expect(screen.getByText('Grandma Rose')).toBeTruthy();
  });

  it('shows why a deletion failed', async () => {
    const api = makeMockApi();
    api.listVoiceModels.mockResolvedValue({ success: true, voice_models: [VOICE], count: 1 });
    api.deleteVoiceModel.mockRejectedValue(new ApiError(502, 'provider_error', 'The voice service could not delete the voice. Please try again.'));
    jest.mocked(confirmAsync).mockResolvedValue(true);
    renderWithSession(<VoicesScreen />, { api });
    await screen.findByTestId('delete-voice-m1');
    await act(async () => fireEvent.press(screen.getByTestId('delete-voice-m1')));
    expect(await screen.findByText('The voice service could not delete the voice. Please try again.')).toBeTruthy();
    expect(screen.getByText('Grandma Rose')).toBeTruthy();
  });
});
