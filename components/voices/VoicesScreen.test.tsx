import { act, fireEvent, screen } from '@testing-library/react-native';
import { createAudioPlayer } from 'expo-audio';

import { ApiError } from '@/lib/api';
import { confirmAsync } from '@/lib/confirm';
import { SAMPLE_TEXT } from '@/constants/config';
import { deferred, makeMockApi } from '@/test-utils/api';
import { VOICE } from '@/test-utils/fixtures';
import { renderWithSession } from '@/test-utils/render';

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
    expect(screen.getByText(/12 s · Local engine/)).toBeTruthy();
    expect(api.listVoiceModels).toHaveBeenCalledWith({ limit: 100 });
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

  it('plays a sample in the voice', async () => {
    const api = makeMockApi();
    api.listVoiceModels.mockResolvedValue({ success: true, voice_models: [VOICE], count: 1 });
    api.synthesize.mockResolvedValue({ success: true, audio_url: '/api/audio/s.mp3', audio_path: '', format: 'mp3', media_type: 'audio/mpeg', provider: 'local', reference_id: 'm1' });
    renderWithSession(<VoicesScreen />, { api });
    await screen.findByTestId('play-voice-m1');
    await act(async () => fireEvent.press(screen.getByTestId('play-voice-m1')));
    expect(api.synthesize).toHaveBeenCalledWith(SAMPLE_TEXT, 'm1');
    expect(createAudioPlayer).toHaveBeenCalled();
    expect(screen.getByText('Stop')).toBeTruthy();
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
