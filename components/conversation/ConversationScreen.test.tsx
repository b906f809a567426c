import { act, fireEvent, screen, waitFor } from '@testing-library/react-native';
import { createAudioPlayer } from 'expo-audio';

import { ApiError } from '@/lib/api';
import { deferred, makeMockApi, type MockApi } from '@/test-utils/api';
import { ECHO, message, VOICE } from '@/test-utils/fixtures';
import type { Echo, SynthesizeResponse, VoiceModel } from '@/lib/types';
import { renderWithSession } from '@/test-utils/render';
import { mockRouter } from '@/test-utils/router';

import { ConversationScreen } from './ConversationScreen';

jest.mock('expo-router', () => require('@/test-utils/router').routerModule());

type FakePlayer = { play: jest.Mock; pause: jest.Mock; remove: jest.Mock; finish: () => void; source: unknown };

const DELETED_NOTICE = "This echo's voice was deleted; choose another voice for it.";
const READY: Echo = { ...ECHO, voice_status: 'ready' };
const VOICE_DELETED: Echo = { ...ECHO, voice_model_id: null, voice_status: 'deleted' };
const SECOND_VOICE: VoiceModel = { ...VOICE, _id: 'v2', model_id: 'm2', name: 'Grandma at the seaside' };
const TAKEN_VOICE: VoiceModel = { ...VOICE, _id: 'v3', model_id: 'm3', name: 'Grandpa Joe', echo_id: 'e9' };
const SPOKEN: SynthesizeResponse = {
  success: true,
  audio_url: '/api/audio/tok.mp3',
  audio_path: '/api/audio/tok.mp3',
  format: 'mp3',
  media_type: 'audio/mpeg',
  provider: 'local',
  reference_id: 'm1',
};

function apiWith(messages = [message('a1', 'user', 'Hi Grandma'), message('a2', 'assistant', 'Hello, sweetheart!')], echo: Echo = READY): MockApi {
  const api = makeMockApi();
  api.getEcho.mockResolvedValue({ success: true, echo });
  api.listMessages.mockResolvedValue({ success: true, messages });
  api.listVoiceModels.mockResolvedValue({ success: true, voice_models: [SECOND_VOICE, TAKEN_VOICE], count: 2 });
  return api;
}

beforeEach(() => jest.clearAllMocks());

describe('ConversationScreen', () => {
  it('shows a loading state, then the messages oldest first', async () => {
    const api = apiWith();
    const pending = deferred<{ success: true; messages: ReturnType<typeof message>[] }>();
    api.listMessages.mockReturnValue(pending.promise);
    renderWithSession(<ConversationScreen echoId="e1" />, { api });
    expect(screen.getByTestId('loading-view')).toBeTruthy();
    await act(async () => pending.resolve({ success: true, messages: [message('a1', 'user', 'Hi Grandma'), message('a2', 'assistant', 'Hello, sweetheart!')] }));
    const texts = screen.getAllByText(/Hi Grandma|Hello, sweetheart!/).map((n) => n.props.children);
    expect(texts).toEqual(['Hi Grandma', 'Hello, sweetheart!']);
    expect(api.listMessages).toHaveBeenCalledWith('e1', 200);
  });

  it('shows an empty conversation', async () => {
    renderWithSession(<ConversationScreen echoId="e1" />, { api: apiWith([]) });
    expect(await screen.findByText('Say hello to Grandma Rose')).toBeTruthy();
  });

  it("shows the server's message when the echo cannot be loaded", async () => {
    const api = apiWith();
    api.getEcho.mockRejectedValue(new ApiError(404, 'not_found', 'Echo not found.'));
    renderWithSession(<ConversationScreen echoId="e1" />, { api });
    expect(await screen.findByText('Echo not found.')).toBeTruthy();
    expect(screen.getByTestId('retry-button')).toBeTruthy();
  });

  it('keeps a message without a reply when the server writes none', async () => {
    const api = apiWith([]);
    api.health.mockResolvedValue({ status: 'healthy', components: { language_model: { status: 'off', provider: 'none' } } });
    api.postMessage.mockResolvedValue({ success: true, message: message('n1', 'user', 'How is the garden?') });
    renderWithSession(<ConversationScreen echoId="e1" />, { api });
    fireEvent.changeText(await screen.findByTestId('message-input'), '  How is the garden? ');
    await screen.findByTestId('model-note');
    await act(async () => fireEvent.press(screen.getByTestId('send-button')));
    expect(api.postMessage).toHaveBeenCalledWith('e1', 'user', 'How is the garden?');
    expect(await screen.findByText('How is the garden?')).toBeTruthy();
    expect(screen.getByTestId('message-input').props.value).toBe('');
  });

  it("can write the echo's side of the conversation", async () => {
    const api = apiWith([]);
    api.postMessage.mockResolvedValue({ success: true, message: message('n2', 'assistant', 'Roses are blooming.') });
    renderWithSession(<ConversationScreen echoId="e1" />, { api });
    fireEvent.press(await screen.findByTestId('role-assistant'));
    fireEvent.changeText(screen.getByTestId('message-input'), 'Roses are blooming.');
    await act(async () => fireEvent.press(screen.getByTestId('send-button')));
    expect(api.postMessage).toHaveBeenCalledWith('e1', 'assistant', 'Roses are blooming.');
  });

  it('keeps the draft and shows the error when sending fails', async () => {
    const api = apiWith([]);
    api.health.mockResolvedValue({ status: 'healthy', components: { language_model: { status: 'off', provider: 'none' } } });
    api.postMessage.mockRejectedValue(new ApiError(503, 'database_unavailable', 'The database is unavailable.'));
    renderWithSession(<ConversationScreen echoId="e1" />, { api });
    fireEvent.changeText(await screen.findByTestId('message-input'), 'Hello?');
    await screen.findByTestId('model-note');
    await act(async () => fireEvent.press(screen.getByTestId('send-button')));
    expect(await screen.findByText('The database is unavailable.')).toBeTruthy();
    expect(screen.getByTestId('message-input').props.value).toBe('Hello?');
  });

  it("speaks a message as the echo, in its voice, then stops", async () => {
    const api = apiWith();
    api.speakAsEcho.mockResolvedValue(SPOKEN);
    renderWithSession(<ConversationScreen echoId="e1" />, { api });
    await screen.findByTestId('speak-a2');
    expect(screen.queryByTestId('voice-notice')).toBeNull();
    await act(async () => fireEvent.press(screen.getByTestId('speak-a2')));
    expect(api.speakAsEcho).toHaveBeenCalledWith('e1', 'Hello, sweetheart!');
    expect(api.synthesize).not.toHaveBeenCalled();
    expect(createAudioPlayer).toHaveBeenCalledWith({ uri: 'http://localhost:5000/api/audio/tok.mp3?user_id=u1' });
    const player = jest.mocked(createAudioPlayer).mock.results[0]!.value as FakePlayer;
    expect(player.play).toHaveBeenCalled();
    expect(screen.getByText('Stop')).toBeTruthy();

    fireEvent.press(screen.getByTestId('speak-a2'));
    expect(player.pause).toHaveBeenCalled();
    expect(player.remove).toHaveBeenCalled();
    expect(screen.queryByText('Stop')).toBeNull();
  });

  it('returns to the play state when the audio ends', async () => {
    const api = apiWith();
    api.speakAsEcho.mockResolvedValue({ ...SPOKEN, audio_url: '/api/audio/t2.mp3' });
    renderWithSession(<ConversationScreen echoId="e1" />, { api });
    await screen.findByTestId('speak-a1');
    await act(async () => fireEvent.press(screen.getByTestId('speak-a1')));
    const player = jest.mocked(createAudioPlayer).mock.results[0]!.value as FakePlayer;
    act(() => player.finish());
    await waitFor(() => expect(screen.queryByText('Stop')).toBeNull());
  });

  it('shows why speaking failed', async () => {
    const api = apiWith();
    api.speakAsEcho.mockRejectedValue(new ApiError(502, 'provider_error', 'The voice service had a problem. Please try again shortly.'));
    renderWithSession(<ConversationScreen echoId="e1" />, { api });
    await screen.findByTestId('speak-a1');
    await act(async () => fireEvent.press(screen.getByTestId('speak-a1')));
    expect(await screen.findByText('The voice service had a problem. Please try again shortly.')).toBeTruthy();
  });

  it('speaks as the echo even when an older server sends no voice_status', async () => {
    const api = apiWith(undefined, ECHO);
    api.speakAsEcho.mockResolvedValue(SPOKEN);
    renderWithSession(<ConversationScreen echoId="e1" />, { api });
    await screen.findByTestId('speak-a1');
    expect(screen.queryByTestId('voice-notice')).toBeNull();
    await act(async () => fireEvent.press(screen.getByTestId('speak-a1')));
    expect(api.speakAsEcho).toHaveBeenCalledWith('e1', 'Hi Grandma');
    expect(api.synthesize).not.toHaveBeenCalled();
    expect(api.previewVoice).not.toHaveBeenCalled();
  });

  it("names the echo's voice at the top, and leaves it out when it cannot be read", async () => {
    const api = apiWith();
    api.getEchoVoiceModel.mockResolvedValue({ success: true, voice_model: { ...VOICE, name: 'Rose, 2019' } });
    renderWithSession(<ConversationScreen echoId="e1" />, { api });
    expect((await screen.findByTestId('echo-voice-line')).props.children.join('')).toBe('Grandma Rose speaks in the voice “Rose, 2019”.');
    expect(api.getEchoVoiceModel).toHaveBeenCalledWith('e1');
  });

  it("opens the echo's memories and its editing one tap away", async () => {
    renderWithSession(<ConversationScreen echoId="e1" />, { api: apiWith() });
    fireEvent.press(await screen.findByTestId('edit-echo-button'));
    expect(mockRouter.push).toHaveBeenCalledWith({ pathname: '/echo/[id]/edit', params: { id: 'e1' } });
    fireEvent.press(screen.getByTestId('memories-button'));
    expect(mockRouter.push).toHaveBeenCalledWith({ pathname: '/echo/[id]/memories', params: { id: 'e1' } });
  });

  it('offers a way to the list when there is nothing to go back to', async () => {
    mockRouter.canGoBack.mockReturnValue(false);
    renderWithSession(<ConversationScreen echoId="e1" />, { api: apiWith() });
    await screen.findByText('Hi Grandma');
    fireEvent.press(screen.getByTestId('header-home-button'));
    expect(mockRouter.replace).toHaveBeenCalledWith('/');
    mockRouter.canGoBack.mockReturnValue(true);
  });
});

describe('ConversationScreen: an echo without a usable voice', () => {
  it('says that the voice was deleted, in the API words, and does not speak in any other voice', async () => {
    const api = apiWith(undefined, VOICE_DELETED);
    renderWithSession(<ConversationScreen echoId="e1" />, { api });
    expect(await screen.findByText(DELETED_NOTICE)).toBeTruthy();
    expect(screen.getByTestId('voice-notice-text').props.accessibilityRole).toBe('alert');
    await act(async () => fireEvent.press(screen.getByTestId('speak-a2')));
    expect(api.speakAsEcho).not.toHaveBeenCalled();
    expect(api.synthesize).not.toHaveBeenCalled();
    expect(createAudioPlayer).not.toHaveBeenCalled();
    expect(screen.getByText(DELETED_NOTICE)).toBeTruthy();
  });

  it('says when the echo never had a voice', async () => {
    renderWithSession(<ConversationScreen echoId="e1" />, { api: apiWith(undefined, { ...ECHO, voice_model_id: null, voice_status: 'none' }) });
    expect(await screen.findByText('This echo has no voice yet; choose one for it.')).toBeTruthy();
    expect(await screen.findByText('A voice for Grandma Rose')).toBeTruthy();
  });

  it('offers the free voices, PATCHes the chosen one, and then speaks again', async () => {
    const api = apiWith(undefined, VOICE_DELETED);
    const patched = deferred<{ success: true; echo: Echo }>();
    api.updateEcho.mockReturnValue(patched.promise);
    api.speakAsEcho.mockResolvedValue({ ...SPOKEN, reference_id: 'm2' });
    renderWithSession(<ConversationScreen echoId="e1" />, { api });

    const free = await screen.findByTestId('voice-choice-m2');
    expect(screen.getByText('Another voice for Grandma Rose')).toBeTruthy();
    // A voice that speaks for another echo cannot be shared.
    expect(screen.getByTestId('voice-choice-m3').props.accessibilityState).toMatchObject({ disabled: true });
    expect(screen.getByText('Grandpa Joe (has an echo)')).toBeTruthy();
    expect(screen.getByTestId('use-voice-button').props.accessibilityState).toMatchObject({ disabled: true });

    fireEvent.press(free);
    expect(screen.getByTestId('voice-choice-m2').props.accessibilityState).toMatchObject({ checked: true });
    fireEvent.press(screen.getByTestId('use-voice-button'));
    expect(api.updateEcho).toHaveBeenCalledWith('e1', { voice_model_id: 'm2' });
    await act(async () => patched.resolve({ success: true, echo: { ...ECHO, voice_model_id: 'm2', voice_status: 'ready' } }));

    expect(screen.queryByTestId('voice-notice')).toBeNull();
    expect(screen.getByTestId('voice-changed')).toBeTruthy();
    expect(screen.getByText('Grandma Rose now speaks in the voice “Grandma at the seaside”.')).toBeTruthy();
    await act(async () => fireEvent.press(screen.getByTestId('speak-a2')));
    expect(api.speakAsEcho).toHaveBeenCalledWith('e1', 'Hello, sweetheart!');
    expect(createAudioPlayer).toHaveBeenCalled();
  });

  it('keeps the notice and says why when the voice cannot be given', async () => {
    const api = apiWith(undefined, VOICE_DELETED);
    api.updateEcho.mockRejectedValue(new ApiError(409, 'conflict', 'This voice model already belongs to another echo.'));
    renderWithSession(<ConversationScreen echoId="e1" />, { api });
    fireEvent.press(await screen.findByTestId('voice-choice-m2'));
    await act(async () => fireEvent.press(screen.getByTestId('use-voice-button')));
    expect(await screen.findByText('This voice model already belongs to another echo.')).toBeTruthy();
    expect(screen.getByText(DELETED_NOTICE)).toBeTruthy();
    await waitFor(() => expect(api.listVoiceModels).toHaveBeenCalledTimes(2)); // the list is fetched again
  });

  it('says so when none of the voices is free', async () => {
    const api = apiWith(undefined, VOICE_DELETED);
    api.listVoiceModels.mockResolvedValue({ success: true, voice_models: [TAKEN_VOICE], count: 1 });
    renderWithSession(<ConversationScreen echoId="e1" />, { api });
    expect(await screen.findByTestId('no-free-voice')).toBeTruthy();
    expect(screen.queryByTestId('use-voice-button')).toBeNull();
  });

  it('shows the notice when the server answers 409 voice_deleted (the voice went elsewhere)', async () => {
    const api = apiWith();
    api.speakAsEcho.mockRejectedValue(
      new ApiError(409, 'voice_deleted', "This echo's voice was deleted; choose another voice for it."),
    );
    renderWithSession(<ConversationScreen echoId="e1" />, { api });
    await screen.findByTestId('speak-a2');
    expect(screen.queryByTestId('voice-notice')).toBeNull();
    await act(async () => fireEvent.press(screen.getByTestId('speak-a2')));
    expect(await screen.findByTestId('voice-notice')).toBeTruthy();
    expect(screen.getByTestId('voice-notice-text').props.children).toBe(DELETED_NOTICE);
    expect(screen.queryByTestId('speak-error')).toBeNull(); // said once, by the notice
    expect(createAudioPlayer).not.toHaveBeenCalled();
    expect(api.synthesize).not.toHaveBeenCalled();
    expect(await screen.findByTestId('voice-choice-m2')).toBeTruthy();
    expect(screen.queryByText('Stop')).toBeNull();

    // Pressing again does not ask the server: the app knows now.
    await act(async () => fireEvent.press(screen.getByTestId('speak-a2')));
    expect(api.speakAsEcho).toHaveBeenCalledTimes(1);
  });

  it('shows the no-voice notice on a 409 no_voice', async () => {
    const api = apiWith();
    api.speakAsEcho.mockRejectedValue(new ApiError(409, 'no_voice', 'This echo has no voice yet; choose one for it.'));
    renderWithSession(<ConversationScreen echoId="e1" />, { api });
    await screen.findByTestId('speak-a1');
    await act(async () => fireEvent.press(screen.getByTestId('speak-a1')));
    expect(await screen.findByText('This echo has no voice yet; choose one for it.')).toBeTruthy();
  });
});
