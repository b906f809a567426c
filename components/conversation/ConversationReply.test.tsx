/** The echo replies: what the person writes is sent to /reply, the reply shows as it is written, and is spoken. */
import { act, fireEvent, screen, waitFor } from '@testing-library/react-native';
import { createAudioPlayer } from 'expo-audio';

import { ApiError, type ReplyHandlers, type ReplyInput } from '@/lib/api';
import type { Echo, Message, ReplyResponse } from '@/lib/types';
import { makeMockApi, type MockApi } from '@/test-utils/api';
import { ECHO, message, MODELS } from '@/test-utils/fixtures';
import { renderWithSession } from '@/test-utils/render';
import { mockRouter } from '@/test-utils/router';

import { ConversationScreen, LOCAL_MODEL_NOTE } from './ConversationScreen';

jest.mock('expo-router', () => require('@/test-utils/router').routerModule());
jest.mock('@/lib/confirm', () => ({ confirmAsync: jest.fn() }));

type FakePlayer = { play: jest.Mock; pause: jest.Mock; remove: jest.Mock; source: unknown };

const READY: Echo = { ...ECHO, voice_status: 'ready' };
const STORED = message('m1', 'user', 'How is the garden?');
const REPLY = message('r1', 'assistant', 'Blooming, love.');

/** One call to replyToMessage, driven by the test: its input, its handlers, and how it ends. */
interface Call {
  input: ReplyInput;
  handlers: ReplyHandlers;
  resolve: (value: ReplyResponse) => void;
  reject: (error: unknown) => void;
}

function setup(options: { provider?: string; echo?: Echo; messages?: Message[] } = {}) {
  const api: MockApi = makeMockApi();
  api.getEcho.mockResolvedValue({ success: true, echo: options.echo ?? READY });
  api.listMessages.mockResolvedValue({ success: true, messages: options.messages ?? [] });
  api.listVoiceModels.mockResolvedValue({ success: true, voice_models: [], count: 0 });
  if (options.provider) {
    api.health.mockResolvedValue({ status: 'healthy', components: { language_model: { status: 'ok', provider: options.provider, model: 'm' } } });
  }
  const calls: Call[] = [];
  api.replyToMessage.mockImplementation(
    (_echoId: string, input: ReplyInput = {}, handlers: ReplyHandlers = {}) =>
      new Promise<ReplyResponse>((resolve, reject) => {
        // Like the real client: aborting rejects with code "aborted".
        handlers.signal?.addEventListener('abort', () => reject(new ApiError(0, 'aborted', 'The reply was stopped.')));
        calls.push({ input, handlers, resolve, reject });
      }),
  );
  renderWithSession(<ConversationScreen echoId="e1" />, { api });
  return { api, calls };
}

async function write(text: string) {
  fireEvent.changeText(await screen.findByTestId('message-input'), text);
  await act(async () => fireEvent.press(screen.getByTestId('send-button')));
}

const sendDisabled = () => screen.getByTestId('send-button').props.accessibilityState.disabled as boolean;

beforeEach(() => jest.clearAllMocks());

describe('ConversationScreen: the echo replies', () => {
  it('shows the message at once, writes the reply as it comes, marks it as an AI echo, and keeps it', async () => {
    const { api, calls } = setup();
    await write('  How is the garden? ');
    expect(api.replyToMessage).toHaveBeenCalledWith('e1', { content: 'How is the garden?', speak: true, format: 'mp3' }, expect.any(Object));
    expect(api.postMessage).not.toHaveBeenCalled();
    // The person's message is there before the server answers; the draft is cleared.
    expect(screen.getByText('How is the garden?')).toBeTruthy();
    expect(screen.getByTestId('message-input').props.value).toBe('');
    expect(screen.getByTestId('reply-draft')).toBeTruthy();
    expect(sendDisabled()).toBe(true);

    const call = calls[0]!;
    act(() => call.handlers.onMessage?.(STORED));
    expect(screen.getByTestId('message-m1')).toBeTruthy(); // the stored copy replaced the one shown
    expect(screen.getAllByText('How is the garden?')).toHaveLength(1);

    act(() => call.handlers.onDelta?.('Blooming', 'Blooming'));
    expect(screen.getByTestId('reply-text').props.children).toBe('Blooming');
    act(() => call.handlers.onDelta?.(', love.', 'Blooming, love.'));
    expect(screen.getByTestId('reply-text').props.children).toBe('Blooming, love.');
    expect(screen.getByTestId(`ai-label-reply-in-progress`)).toBeTruthy();

    fireEvent.changeText(screen.getByTestId('message-input'), 'And the roses?');
    expect(sendDisabled()).toBe(true); // one reply at a time

    await act(async () => call.resolve({ success: true, message: STORED, reply: REPLY, audio_url: null, audio: null }));
    expect(screen.queryByTestId('reply-draft')).toBeNull();
    expect(screen.getByTestId('message-r1')).toBeTruthy();
    expect(screen.getByText('Blooming, love.')).toBeTruthy();
    expect(screen.getByTestId('ai-label-r1')).toBeTruthy();
    expect(screen.queryByTestId('ai-label-m1')).toBeNull(); // the person's own message is not labelled
    expect(sendDisabled()).toBe(false);
    expect(screen.queryByTestId('stop-reply')).toBeNull();
  });

  it('plays the reply when the audio event comes, at the backend URL', async () => {
    const { api, calls } = setup();
    await write('Hello');
    expect(createAudioPlayer).not.toHaveBeenCalled();
    act(() => calls[0]!.handlers.onAudio?.('/api/audio/r.mp3?sig=s'));
    expect(api.audioSource).toHaveBeenCalledWith('/api/audio/r.mp3?sig=s', false);
    expect(createAudioPlayer).toHaveBeenCalledWith({ uri: 'http://localhost:5000/api/audio/r.mp3?sig=s?user_id=u1' });
    const player = jest.mocked(createAudioPlayer).mock.results[0]!.value as FakePlayer;
    expect(player.play).toHaveBeenCalled();

    // Once stored, the reply's own button stops what plays.
    await act(async () => calls[0]!.resolve({ success: true, message: STORED, reply: REPLY, audio_url: '/api/audio/r.mp3?sig=s', audio: null }));
    expect(screen.getByText('Stop')).toBeTruthy();
    fireEvent.press(screen.getByTestId('speak-r1'));
    expect(player.pause).toHaveBeenCalled();
  });

  it('does not ask an echo without a voice to speak', async () => {
    const { api } = setup({ echo: { ...ECHO, voice_model_id: null, voice_status: 'none' } });
    await write('Hello');
    expect(api.replyToMessage).toHaveBeenCalledWith('e1', expect.objectContaining({ speak: false }), expect.any(Object));
  });

  it('Stop aborts the request and the audio, keeps the message, and Try again asks without content', async () => {
    const { api, calls } = setup();
    await write('How is the garden?');
    act(() => {
      calls[0]!.handlers.onMessage?.(STORED);
      calls[0]!.handlers.onDelta?.('Bloo', 'Bloo');
      calls[0]!.handlers.onAudio?.('/api/audio/r.mp3');
    });
    const player = jest.mocked(createAudioPlayer).mock.results[0]!.value as FakePlayer;
    await act(async () => fireEvent.press(screen.getByTestId('stop-reply')));
    expect(calls[0]!.handlers.signal?.aborted).toBe(true);
    expect(player.pause).toHaveBeenCalled();
    expect(player.remove).toHaveBeenCalled();
    expect(screen.getByTestId('message-m1')).toBeTruthy();
    expect(screen.queryByTestId('reply-draft')).toBeNull();
    expect(screen.getByText('You stopped the reply.')).toBeTruthy();
    expect(sendDisabled()).toBe(true); // nothing written: Send stays off until there is text

    await act(async () => fireEvent.press(screen.getByTestId('retry-reply')));
    expect(api.replyToMessage).toHaveBeenCalledTimes(2);
    expect(calls[1]!.input).toEqual({ content: undefined, speak: true, format: 'mp3' });
    expect('content' in calls[1]!.input && calls[1]!.input.content !== undefined).toBe(false);
    expect(screen.queryByTestId('retry-reply')).toBeNull();
    await act(async () => calls[1]!.resolve({ success: true, message: STORED, reply: REPLY, audio_url: null, audio: null }));
    expect(screen.getByTestId('message-r1')).toBeTruthy();
    expect(screen.getAllByText('How is the garden?')).toHaveLength(1);
  });

  it("shows the server's words when the reply fails part-way, and Try again asks without content", async () => {
    const { api, calls } = setup();
    await write('How is the garden?');
    act(() => calls[0]!.handlers.onMessage?.(STORED));
    await act(async () => calls[0]!.reject(new ApiError(502, 'language_model_error', 'The language model failed part-way: overloaded.')));
    expect(screen.getByText('The language model failed part-way: overloaded.')).toBeTruthy();
    expect(screen.getByTestId('message-m1')).toBeTruthy();
    expect(screen.queryByTestId('unsent-m1')).toBeNull();
    await act(async () => fireEvent.press(screen.getByTestId('retry-reply')));
    expect(calls[1]!.input.content).toBeUndefined();
    expect(api.listMessages).toHaveBeenCalledTimes(1); // it knew the message was kept
  });

  it('says how long to wait on a 429, and sends the message again (it was not kept)', async () => {
    const { api, calls } = setup();
    await write('Hello?');
    await act(async () => calls[0]!.reject(new ApiError(429, 'too_many_requests', 'Too many requests.', 30)));
    expect(screen.getByText('Too many requests. Please wait 30 seconds before trying again.')).toBeTruthy();
    expect(screen.getByText('Hello?')).toBeTruthy();
    expect(screen.getByText('Not sent')).toBeTruthy();
    await act(async () => fireEvent.press(screen.getByTestId('retry-reply')));
    expect(calls[1]!.input.content).toBe('Hello?');
    expect(api.listMessages).toHaveBeenCalledTimes(1);
  });

  it("shows the server's rate-limit words as they are when they already say when", async () => {
    const { calls } = setup();
    await write('Hello?');
    await act(async () => calls[0]!.reject(new ApiError(429, 'rate_limited', 'You can ask for more speech in 2 minutes.', 120)));
    expect(screen.getByText('You can ask for more speech in 2 minutes.')).toBeTruthy();
    expect(screen.queryByText(/Please wait/)).toBeNull();
  });

  it('asks the server whether the message was kept when the connection failed before the stream', async () => {
    const { api, calls } = setup();
    await write('Hello?');
    api.listMessages.mockResolvedValue({ success: true, messages: [message('m7', 'user', 'Hello?')] });
    await act(async () => calls[0]!.reject(new ApiError(0, 'network_error', 'Could not reach the Echo server.')));
    expect(api.listMessages).toHaveBeenLastCalledWith('e1', 1);
    expect(screen.getByText('Could not reach the Echo server.')).toBeTruthy();
    expect(screen.getByTestId('message-m7')).toBeTruthy();
    await act(async () => fireEvent.press(screen.getByTestId('retry-reply')));
    expect(calls[1]!.input.content).toBeUndefined();
  });

  it('keeps the message without a reply when the server answers replies_off', async () => {
    const { api, calls } = setup();
    api.postMessage.mockResolvedValue({ success: true, message: STORED });
    await write('How is the garden?');
    await act(async () => calls[0]!.reject(new ApiError(409, 'replies_off', 'Replies are off: set LLM_PROVIDER.')));
    expect(api.postMessage).toHaveBeenCalledWith('e1', 'user', 'How is the garden?');
    expect(screen.getByTestId('message-m1')).toBeTruthy();
    expect(screen.getByTestId('model-note').props.children).toBe('Replies are off: set LLM_PROVIDER.');
    expect(screen.queryByTestId('retry-reply')).toBeNull();
    // The next message is kept the same way, without asking for a reply.
    api.postMessage.mockResolvedValue({ success: true, message: message('m2', 'user', 'And the roses?') });
    await write('And the roses?');
    expect(api.replyToMessage).toHaveBeenCalledTimes(1);
    expect(api.postMessage).toHaveBeenLastCalledWith('e1', 'user', 'And the roses?');
  });

  it('shows the voice notice when the echo lost its voice meanwhile', async () => {
    const { calls } = setup();
    await write('Hello?');
    await act(async () => calls[0]!.reject(new ApiError(409, 'voice_deleted', "This echo's voice was deleted; choose another voice for it.")));
    expect(await screen.findByTestId('voice-notice')).toBeTruthy();
    expect(screen.queryByTestId('reply-error')).toBeNull();
    await act(async () => fireEvent.press(screen.getByTestId('retry-reply')));
    expect(calls[1]!.input).toMatchObject({ content: 'Hello?', speak: false });
  });

  it('says when replies come from the small bundled model, and not otherwise', async () => {
    setup({ provider: 'local' });
    expect(await screen.findByText(LOCAL_MODEL_NOTE)).toBeTruthy();
    fireEvent.press(screen.getByTestId('role-assistant'));
    expect(screen.queryByTestId('model-note')).toBeNull();
  });

  it('shows no model note for a connected model', async () => {
    const { api } = setup({ provider: 'openai' });
    await screen.findByTestId('message-input');
    await waitFor(() => expect(api.health).toHaveBeenCalled());
    expect(screen.queryByTestId('model-note')).toBeNull();
  });

  it('names the model that wrote a reply once the server says, and on the replies it lists', async () => {
    const older = message('r0', 'assistant', 'Hello, pet.', MODELS.local);
    const { calls } = setup({ messages: [older, message('h1', 'assistant', 'Said by hand.')] });
    expect(await screen.findByTestId('ai-label-r0')).toHaveTextContent('AI echo · written by SmolLM2-135M-Instruct (small offline model)', { exact: true });
    expect(screen.getByTestId('ai-label-h1')).toHaveTextContent('AI echo', { exact: true }); // added by hand: no model
    await write('Are you really Rose?');
    // While it is written nobody knows yet which model (or Echo's own answer) it is.
    expect(screen.getByTestId('ai-label-reply-in-progress')).toHaveTextContent('AI echo', { exact: true });
    const honest = message('r1', 'assistant', "I'm not really Rose: I'm an AI echo.", MODELS.echo);
    await act(async () => calls[0]!.resolve({ success: true, message: STORED, reply: honest, audio_url: null, audio: null }));
    const label = screen.getByTestId('ai-label-r1');
    expect(label).toHaveTextContent("AI echo · Echo's honest answer", { exact: true });
    expect(label.props.accessibilityLabel).toBe("Written by an AI echo: Echo's honest answer");
  });

  it("opens the echo's memories", async () => {
    setup();
    fireEvent.press(await screen.findByTestId('memories-button'));
    expect(mockRouter.push).toHaveBeenCalledWith({ pathname: '/echo/[id]/memories', params: { id: 'e1' } });
  });
});
