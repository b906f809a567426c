import { act, fireEvent, screen, waitFor } from '@testing-library/react-native';
import * as DocumentPicker from 'expo-document-picker';

import { ApiError } from '@/lib/api';
import type { UploadResponse } from '@/lib/types';
import { deferred, makeMockApi } from '@/test-utils/api';
import { ECHO, VOICE } from '@/test-utils/fixtures';
import { renderWithSession } from '@/test-utils/render';
import { mockRouter, mockSearchParams as mockParams } from '@/test-utils/router';

import { CreateEchoScreen } from './CreateEchoScreen';

jest.mock('expo-router', () => require('@/test-utils/router').routerModule());

const picked = {
  canceled: false,
  assets: [{ uri: 'file:///cache/rose.wav', name: 'rose.wav', mimeType: 'audio/wav', size: 480_000, lastModified: 0 }],
} as unknown as DocumentPicker.DocumentPickerResult;

const UPLOADED: UploadResponse = {
  success: true,
  model_id: 'm1',
  reference_id: 'm1',
  name: 'Grandma Rose',
  provider: 'local',
  database_record: VOICE,
  warnings: [],
};

beforeEach(() => {
  jest.clearAllMocks();
  jest.mocked(DocumentPicker.getDocumentAsync).mockResolvedValue(picked);
});

async function fillForm() {
  fireEvent.changeText(screen.getByTestId('echo-name-input'), '  Grandma Rose ');
  fireEvent.changeText(screen.getByTestId('echo-persona-input'), 'Warm, funny, loves gardening.');
  await act(async () => fireEvent.press(screen.getByTestId('pick-file-button')));
  expect(await screen.findByText('rose.wav')).toBeTruthy();
}

describe('CreateEchoScreen', () => {
  it('explains what is missing and uploads nothing', async () => {
    const api = makeMockApi();
    renderWithSession(<CreateEchoScreen />, { api });
    fireEvent.press(screen.getByTestId('create-echo-submit'));
    expect(await screen.findByText('Give your echo a name.')).toBeTruthy();
    expect(screen.getByText('Choose an audio file or record a voice.')).toBeTruthy();
    expect(screen.getByText("You need the speaker's consent to clone their voice.")).toBeTruthy();
    expect(api.uploadReference).not.toHaveBeenCalled();
  });

  it('needs consent even when everything else is filled in', async () => {
    const api = makeMockApi();
    renderWithSession(<CreateEchoScreen />, { api });
    await fillForm();
    fireEvent.press(screen.getByTestId('create-echo-submit'));
    expect(await screen.findByText("You need the speaker's consent to clone their voice.")).toBeTruthy();
    expect(api.uploadReference).not.toHaveBeenCalled();
  });

  it('uploads with progress, creates the echo, then opens its conversation', async () => {
    const api = makeMockApi();
    const upload = deferred<UploadResponse>();
    let reportProgress: (p: number) => void = () => undefined;
    api.uploadReference.mockImplementation((_input, handlers) => {
      reportProgress = handlers?.onProgress ?? reportProgress;
      return upload.promise;
    });
    api.createEcho.mockResolvedValue({ success: true, echo: ECHO });
    renderWithSession(<CreateEchoScreen />, { api });
    await fillForm();
    fireEvent.press(screen.getByTestId('consent-checkbox'));
    fireEvent.press(screen.getByTestId('create-echo-submit'));

    await waitFor(() => expect(api.uploadReference).toHaveBeenCalled());
    expect(api.uploadReference.mock.calls[0]![0]).toEqual({
      file: { uri: 'file:///cache/rose.wav', name: 'rose.wav', mimeType: 'audio/wav', file: null },
      name: 'Grandma Rose',
      consent: true,
      transcript: undefined,
    });
    act(() => reportProgress(0.42));
    expect(screen.getByText('Uploading voice… 42%')).toBeTruthy();

    await act(async () => upload.resolve(UPLOADED));
    await waitFor(() => expect(mockRouter.replace).toHaveBeenCalledWith({ pathname: '/echo/[id]', params: { id: 'e1' } }));
    expect(api.createEcho).toHaveBeenCalledWith({ name: 'Grandma Rose', persona_prompt: 'Warm, funny, loves gardening.', voice_model_id: 'm1' });
  });

  it("shows the server's message when the upload is refused", async () => {
    const api = makeMockApi();
    api.uploadReference.mockRejectedValue(new ApiError(422, 'audio_too_short', 'The recording is 1.5 seconds long; it must be at least 3 seconds.'));
    renderWithSession(<CreateEchoScreen />, { api });
    await fillForm();
    fireEvent.press(screen.getByTestId('consent-checkbox'));
    fireEvent.press(screen.getByTestId('create-echo-submit'));
    expect(await screen.findByText('The recording is 1.5 seconds long; it must be at least 3 seconds.')).toBeTruthy();
    expect(api.createEcho).not.toHaveBeenCalled();
    expect(mockRouter.replace).not.toHaveBeenCalled();
  });

  it('retries creating the echo without uploading the voice again', async () => {
    const api = makeMockApi();
    api.uploadReference.mockResolvedValue(UPLOADED);
    api.createEcho.mockRejectedValueOnce(new ApiError(503, 'database_unavailable', 'The database is unavailable. Please try again.'));
    api.createEcho.mockResolvedValueOnce({ success: true, echo: ECHO });
    renderWithSession(<CreateEchoScreen />, { api });
    await fillForm();
    fireEvent.press(screen.getByTestId('consent-checkbox'));
    fireEvent.press(screen.getByTestId('create-echo-submit'));
    expect(await screen.findByText('The database is unavailable. Please try again.')).toBeTruthy();
    fireEvent.press(screen.getByTestId('create-echo-submit'));
    await waitFor(() => expect(mockRouter.replace).toHaveBeenCalled());
    expect(api.uploadReference).toHaveBeenCalledTimes(1);
    expect(api.createEcho).toHaveBeenCalledTimes(2);
  });

  it('reuses a voice the person already has: no recording, no upload', async () => {
    const api = makeMockApi();
    const taken = { ...VOICE, _id: 'v2', model_id: 'm2', name: 'Joe', echo_id: 'e9' };
    api.listVoiceModels.mockResolvedValue({ success: true, voice_models: [VOICE, taken], count: 2 });
    api.createEcho.mockResolvedValue({ success: true, echo: { ...ECHO, _id: 'e5' } });
    renderWithSession(<CreateEchoScreen />, { api });
    expect(await screen.findByTestId('existing-voices')).toBeTruthy();
    // Only a voice no echo speaks in is offered.
    expect(screen.getByTestId('existing-voice-m1')).toBeTruthy();
    expect(screen.queryByTestId('existing-voice-m2')).toBeNull();
    fireEvent.changeText(screen.getByTestId('echo-name-input'), 'Grandma Rose');
    fireEvent.changeText(screen.getByTestId('echo-persona-input'), 'Warm.');
    fireEvent.press(screen.getByTestId('create-echo-submit'));
    expect(await screen.findByText('Choose one of your voices.')).toBeTruthy();
    expect(screen.queryByText("You need the speaker's consent to clone their voice.")).toBeNull();
    fireEvent.press(screen.getByTestId('existing-voice-m1'));
    fireEvent.press(screen.getByTestId('create-echo-submit'));
    await waitFor(() => expect(mockRouter.replace).toHaveBeenCalledWith({ pathname: '/echo/[id]', params: { id: 'e5' } }));
    expect(api.createEcho).toHaveBeenCalledWith({ name: 'Grandma Rose', persona_prompt: 'Warm.', voice_model_id: 'm1' });
    expect(api.uploadReference).not.toHaveBeenCalled();
  });

  it('asks who will talk with the echo, by its name, and sends their name and relation', async () => {
    const api = makeMockApi();
    api.listVoiceModels.mockResolvedValue({ success: true, voice_models: [VOICE], count: 1 });
    api.createEcho.mockResolvedValue({ success: true, echo: { ...ECHO, talking_with: 'Anna', relation: 'granddaughter' } });
    renderWithSession(<CreateEchoScreen />, { api });
    await screen.findByTestId('existing-voices');
    // Before the echo has a name the questions say "them"; then its name.
    expect(screen.getByLabelText('Who will talk with them? (optional)')).toBe(screen.getByTestId('echo-talking-with-input'));
    fireEvent.changeText(screen.getByTestId('echo-name-input'), 'Grandma Rose');
    fireEvent.changeText(screen.getByTestId('echo-persona-input'), 'Warm.');
    fireEvent.changeText(screen.getByLabelText('Who will talk with Grandma Rose? (optional)'), '  Anna ');
    fireEvent.changeText(screen.getByLabelText('What are you to Grandma Rose? (optional)'), 'granddaughter ');
    expect(screen.getByText('Your name, so that the echo calls you by it.')).toBeTruthy();
    expect(screen.getByText('For example granddaughter, son or neighbour.')).toBeTruthy();
    fireEvent.press(screen.getByTestId('existing-voice-m1'));
    fireEvent.press(screen.getByTestId('create-echo-submit'));
    await waitFor(() => expect(mockRouter.replace).toHaveBeenCalled());
    expect(api.createEcho).toHaveBeenCalledWith({
      name: 'Grandma Rose',
      persona_prompt: 'Warm.',
      voice_model_id: 'm1',
      talking_with: 'Anna',
      relation: 'granddaughter',
    });
  });

  it('sends only what was said of who talks with it, and refuses more than 80 characters', async () => {
    const api = makeMockApi();
    api.listVoiceModels.mockResolvedValue({ success: true, voice_models: [VOICE], count: 1 });
    api.createEcho.mockResolvedValue({ success: true, echo: ECHO });
    renderWithSession(<CreateEchoScreen />, { api });
    await screen.findByTestId('existing-voices');
    fireEvent.changeText(screen.getByTestId('echo-name-input'), 'Grandma Rose');
    fireEvent.changeText(screen.getByTestId('echo-persona-input'), 'Warm.');
    fireEvent.press(screen.getByTestId('existing-voice-m1'));
    fireEvent.changeText(screen.getByTestId('echo-relation-input'), 'g'.repeat(81));
    fireEvent.press(screen.getByTestId('create-echo-submit'));
    expect(await screen.findByText('Keep this under 80 characters.')).toBeTruthy();
    expect(api.createEcho).not.toHaveBeenCalled();
    fireEvent.changeText(screen.getByTestId('echo-relation-input'), 'son');
    fireEvent.press(screen.getByTestId('create-echo-submit'));
    await waitFor(() => expect(mockRouter.replace).toHaveBeenCalled());
    expect(api.createEcho).toHaveBeenCalledWith({ name: 'Grandma Rose', persona_prompt: 'Warm.', voice_model_id: 'm1', relation: 'son' });
  });

  it('can still make a new voice from a recording when the person has voices', async () => {
    const api = makeMockApi();
    api.listVoiceModels.mockResolvedValue({ success: true, voice_models: [VOICE], count: 1 });
    renderWithSession(<CreateEchoScreen />, { api });
    await screen.findByTestId('existing-voices');
    fireEvent.press(screen.getByTestId('voice-mode-new'));
    expect(screen.queryByTestId('existing-voices')).toBeNull();
    expect(screen.getByTestId('pick-file-button')).toBeTruthy();
    expect(screen.getByTestId('consent-checkbox')).toBeTruthy();
  });

  it('starts with the voice it was opened for (from Voices)', async () => {
    const api = makeMockApi();
    api.listVoiceModels.mockResolvedValue({ success: true, voice_models: [VOICE], count: 1 });
    mockParams.voice = 'm1';
    renderWithSession(<CreateEchoScreen />, { api });
    const chip = await screen.findByTestId('existing-voice-m1');
    expect(chip.props.accessibilityState).toMatchObject({ checked: true });
    delete mockParams.voice;
  });

  it('uses a recording made in the app', async () => {
    const audio = jest.requireMock('expo-audio') as { __recorderState: { isRecording: boolean; durationMillis: number } };
    const api = makeMockApi();
    const view = renderWithSession(<CreateEchoScreen />, { api });
    await act(async () => fireEvent.press(screen.getByTestId('record-button')));
    audio.__recorderState.isRecording = true;
    audio.__recorderState.durationMillis = 12_000;
    view.rerender(<CreateEchoScreen />);
    expect(screen.getByText('● Recording 12 s')).toBeTruthy();
    await act(async () => fireEvent.press(screen.getByTestId('stop-recording-button')));
    audio.__recorderState.isRecording = false;
    expect(await screen.findByText('New recording')).toBeTruthy();
    expect(screen.getByText('12 s')).toBeTruthy();
  });
});
