import { act, fireEvent, screen, waitFor } from '@testing-library/react-native';
import { createAudioPlayer } from 'expo-audio';

import { ApiError } from '@/lib/api';
import { confirmAsync } from '@/lib/confirm';
import { deferred, makeMockApi, type MockApi } from '@/test-utils/api';
import { ECHO, message, VOICE } from '@/test-utils/fixtures';
import { renderWithSession } from '@/test-utils/render';
import { mockRouter } from '@/test-utils/router';

import { ConversationScreen } from './ConversationScreen';

jest.mock('expo-router', () => require('@/test-utils/router').routerModule());
jest.mock('@/lib/confirm', () => ({ confirmAsync: jest.fn() }));

type FakePlayer = { play: jest.Mock; pause: jest.Mock; remove: jest.Mock; finish: () => void; source: unknown };

function apiWith(messages = [message('a1', 'user', 'Hi Grandma'), message('a2', 'assistant', 'Hello, sweetheart!')]): MockApi {
  const api = makeMockApi();
  api.getEcho.mockResolvedValue({ success: true, echo: ECHO });
  api.listMessages.mockResolvedValue({ success: true, messages });
  api.getEchoVoiceModel.mockResolvedValue({ success: true, voice_model: VOICE });
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

  it('sends a message and shows it', async () => {
    const api = apiWith([]);
    api.postMessage.mockResolvedValue({ success: true, message: message('n1', 'user', 'How is the garden?') });
    renderWithSession(<ConversationScreen echoId="e1" />, { api });
    fireEvent.changeText(await screen.findByTestId('message-input'), '  How is the garden? ');
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
    api.postMessage.mockRejectedValue(new ApiError(503, 'database_unavailable', 'The database is unavailable.'));
    renderWithSession(<ConversationScreen echoId="e1" />, { api });
    fireEvent.changeText(await screen.findByTestId('message-input'), 'Hello?');
    await act(async () => fireEvent.press(screen.getByTestId('send-button')));
    expect(await screen.findByText('The database is unavailable.')).toBeTruthy();
    expect(screen.getByTestId('message-input').props.value).toBe('Hello?');
  });

  it("speaks a message in the echo's voice, then stops", async () => {
    const api = apiWith();
    api.synthesize.mockResolvedValue({
      success: true,
      audio_url: '/api/audio/tok.mp3',
      audio_path: '/api/audio/tok.mp3',
      format: 'mp3',
      media_type: 'audio/mpeg',
      provider: 'local',
      reference_id: 'm1',
    });
    renderWithSession(<ConversationScreen echoId="e1" />, { api });
    await screen.findByTestId('speak-a2');
    await act(async () => fireEvent.press(screen.getByTestId('speak-a2')));
    expect(api.synthesize).toHaveBeenCalledWith('Hello, sweetheart!', 'm1');
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
    api.synthesize.mockResolvedValue({ success: true, audio_url: '/api/audio/t2.mp3', audio_path: '', format: 'mp3', media_type: 'audio/mpeg', provider: 'local', reference_id: 'm1' });
    renderWithSession(<ConversationScreen echoId="e1" />, { api });
    await screen.findByTestId('speak-a1');
    await act(async () => fireEvent.press(screen.getByTestId('speak-a1')));
    const player = jest.mocked(createAudioPlayer).mock.results[0]!.value as FakePlayer;
    act(() => player.finish());
    await waitFor(() => expect(screen.queryByText('Stop')).toBeNull());
  });

  it('shows why speaking failed', async () => {
    const api = apiWith();
    api.synthesize.mockRejectedValue(new ApiError(502, 'provider_error', 'The voice service had a problem. Please try again shortly.'));
    renderWithSession(<ConversationScreen echoId="e1" />, { api });
    await screen.findByTestId('speak-a1');
    await act(async () => fireEvent.press(screen.getByTestId('speak-a1')));
    expect(await screen.findByText('The voice service had a problem. Please try again shortly.')).toBeTruthy();
  });

  it('uses the echo voice_model_id when the voice model cannot be loaded', async () => {
    const api = apiWith();
    api.getEchoVoiceModel.mockRejectedValue(new ApiError(404, 'not_found', 'gone'));
    api.synthesize.mockResolvedValue({ success: true, audio_url: '/a.mp3', audio_path: '', format: 'mp3', media_type: 'audio/mpeg', provider: 'local', reference_id: 'm1' });
    renderWithSession(<ConversationScreen echoId="e1" />, { api });
    await screen.findByTestId('speak-a1');
    await act(async () => fireEvent.press(screen.getByTestId('speak-a1')));
    expect(api.synthesize).toHaveBeenCalledWith('Hi Grandma', 'm1');
  });

  it('deletes the echo after confirmation and goes back to the list', async () => {
    const api = apiWith();
    api.deleteEcho.mockResolvedValue({ success: true });
    jest.mocked(confirmAsync).mockResolvedValue(true);
    renderWithSession(<ConversationScreen echoId="e1" />, { api });
    await screen.findByTestId('delete-echo-button');
    await act(async () => fireEvent.press(screen.getByTestId('delete-echo-button')));
    expect(confirmAsync).toHaveBeenCalledWith('Delete Grandma Rose?', expect.any(String));
    expect(api.deleteEcho).toHaveBeenCalledWith('e1');
    expect(mockRouter.back).toHaveBeenCalled();
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
