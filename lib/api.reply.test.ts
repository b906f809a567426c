/** The echo's reply (SSE over XMLHttpRequest) and the memories calls of the API client. */
import { ApiError, createApiClient, type Credentials, type ReplyHandlers } from './api';

type FetchCall = [string, RequestInit];

/** An XMLHttpRequest whose response text grows as the test delivers chunks, with a progress event each time. */
class StreamXhr {
  static last: StreamXhr | null = null;
  method = '';
  url = '';
  headers: Record<string, string> = {};
  body: string | null = null;
  status = 0;
  responseText = '';
  timeout = 0;
  responseHeaders: Record<string, string> = {};
  onprogress: (() => void) | null = null;
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  ontimeout: (() => void) | null = null;
  onabort: (() => void) | null = null;
  aborted = false;
  constructor() {
    StreamXhr.last = this;
  }
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name] = value;
  }
  getResponseHeader(name: string) {
    return this.responseHeaders[name] ?? null;
  }
  send(body: string) {
    this.body = body;
  }
  abort() {
    this.aborted = true;
    this.onabort?.();
  }
  /** Delivers more of the body, as a progress event does. */
  chunk(text: string, status = 200) {
    this.status = status;
    this.responseText += text;
    this.onprogress?.();
  }
  /** The response is complete. */
  finish(text = '', status = this.status || 200, headers: Record<string, string> = {}) {
    this.status = status;
    this.responseText += text;
    this.responseHeaders = headers;
    this.onload?.();
  }
  get sentBody(): Record<string, unknown> {
    return JSON.parse(this.body ?? 'null') as Record<string, unknown>;
  }
}

const ev = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
const USER_MSG = { _id: 'm1', echo_id: 'e1', role: 'user', content: 'Hi Gran', created_at: '2026-11-20T10:05:00Z' };
const REPLY = { _id: 'r1', echo_id: 'e1', role: 'assistant', content: 'Hello, love.', created_at: '2026-11-20T10:05:02Z' };

function client(credentials: Credentials = { userId: 'u1', accessToken: null }) {
  const onUnauthorized = jest.fn();
  const api = createApiClient({
    baseUrl: 'http://localhost:5000/',
    getCredentials: () => credentials,
    xhrFactory: () => new StreamXhr() as unknown as XMLHttpRequest,
    onUnauthorized,
  });
  return { api, onUnauthorized };
}

function recorder() {
  const seen: string[] = [];
  const handlers: ReplyHandlers = {
    onMessage: (m) => seen.push(`message:${m._id}`),
    onDelta: (text, soFar) => seen.push(`delta:${text}|${soFar}`),
    onAudio: (url) => seen.push(`audio:${url}`),
  };
  return { seen, handlers };
}

describe('replyToMessage', () => {
  it('posts to the reply URL with the SSE Accept header, JSON body, user_id and bearer token', () => {
    const { api } = client({ userId: 'u1', accessToken: 'tok' });
    void api.replyToMessage('e/1', { content: 'Hi Gran', speak: true }).catch(() => undefined);
    const xhr = StreamXhr.last!;
    expect(xhr.method).toBe('POST');
    expect(xhr.url).toBe('http://localhost:5000/api/conversation/e%2F1/reply');
    expect(xhr.headers).toEqual({ Accept: 'text/event-stream', 'Content-Type': 'application/json', Authorization: 'Bearer tok' });
    expect(xhr.sentBody).toEqual({ content: 'Hi Gran', speak: true, format: 'mp3', user_id: 'u1' });
    // Set before send, or React Native's XHR delivers no partial text.
    expect(xhr.onprogress).toEqual(expect.any(Function));
  });

  it('sends no content to ask again about the conversation as it stands', () => {
    const { api } = client();
    void api.replyToMessage('e1', { speak: false }).catch(() => undefined);
    expect(StreamXhr.last!.sentBody).toEqual({ speak: false, format: 'mp3', user_id: 'u1' });
    expect('content' in StreamXhr.last!.sentBody).toBe(false);
  });

  it('hands over each event as its progress arrives, then resolves with the stored reply', async () => {
    const { api } = client();
    const { seen, handlers } = recorder();
    const promise = api.replyToMessage('e1', { content: 'Hi Gran' }, handlers);
    const xhr = StreamXhr.last!;
    const stream = ev('message', { message: USER_MSG }) + ev('delta', { text: 'Hello, ' }) + ev('audio', { audio_url: '/api/audio/r.mp3?sig=x' }) + ev('delta', { text: 'love.' });
    const split = stream.indexOf('Hello') + 3;
    xhr.chunk(stream.slice(0, split));
    expect(seen).toEqual(['message:m1']); // the delta is not complete yet
    xhr.chunk(stream.slice(split));
    expect(seen).toEqual(['message:m1', 'delta:Hello, |Hello, ', 'audio:/api/audio/r.mp3?sig=x', 'delta:love.|Hello, love.']);
    xhr.chunk(ev('done', { reply: REPLY, audio_url: '/api/audio/r.mp3?sig=x', audio: { complete: true } }));
    await expect(promise).resolves.toEqual({ success: true, message: USER_MSG, reply: REPLY, audio_url: '/api/audio/r.mp3?sig=x', audio: { complete: true } });
    expect(seen.filter((s) => s.startsWith('audio:'))).toHaveLength(1); // the same URL is announced once
  });

  it('reads the whole stream at the end when no progress events came', async () => {
    const { api } = client();
    const { seen, handlers } = recorder();
    const promise = api.replyToMessage('e1', { content: 'Hi Gran' }, handlers);
    StreamXhr.last!.finish(ev('message', { message: USER_MSG }) + ev('delta', { text: 'Hello, love.' }) + ev('done', { reply: REPLY, audio_url: null, audio: null }), 200);
    await expect(promise).resolves.toMatchObject({ reply: REPLY, audio_url: null });
    expect(seen).toEqual(['message:m1', 'delta:Hello, love.|Hello, love.']);
  });

  it('falls back to the JSON answer when the server does not stream', async () => {
    const { api } = client();
    const { seen, handlers } = recorder();
    const promise = api.replyToMessage('e1', { content: 'Hi Gran' }, handlers);
    StreamXhr.last!.finish(JSON.stringify({ success: true, message: USER_MSG, reply: REPLY, audio_url: '/api/audio/j.mp3', audio: { complete: false } }), 201);
    await expect(promise).resolves.toMatchObject({ message: USER_MSG, reply: REPLY, audio_url: '/api/audio/j.mp3' });
    expect(seen).toEqual(['message:m1', 'delta:Hello, love.|Hello, love.', 'audio:/api/audio/j.mp3']);
  });

  it('keeps which model wrote the reply, from the done event and from the JSON answer', async () => {
    const model = { provider: 'local', name: 'SmolLM2-135M-Instruct' };
    const { api } = client();
    const streamed = api.replyToMessage('e1', { content: 'Hi Gran' });
    StreamXhr.last!.finish(ev('message', { message: USER_MSG }) + ev('done', { reply: { ...REPLY, model }, audio_url: null, audio: null }), 200);
    expect((await streamed).reply.model).toEqual(model);
    const answered = api.replyToMessage('e1', { content: 'Hi Gran' });
    const honest = { provider: 'echo', name: 'honest answer' };
    StreamXhr.last!.finish(JSON.stringify({ success: true, message: USER_MSG, reply: { ...REPLY, model: honest }, audio_url: null, audio: null }), 201);
    expect((await answered).reply.model).toEqual(honest);
  });

  it("rejects with the server's code and words on an error event", async () => {
    const { api } = client();
    const promise = api.replyToMessage('e1', { content: 'Hi' });
    StreamXhr.last!.chunk(ev('message', { message: USER_MSG }) + ev('delta', { text: 'Well' }) + ev('error', { success: false, error: 'language_model_error', message: 'The language model failed part-way.', status: 502 }));
    const error = (await promise.catch((e: unknown) => e)) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 502, code: 'language_model_error', message: 'The language model failed part-way.' });
  });

  it('turns an error before the stream into an ApiError with Retry-After', async () => {
    const { api } = client();
    const promise = api.replyToMessage('e1', { content: 'Hi' });
    StreamXhr.last!.finish(JSON.stringify({ success: false, error: 'too_many_requests', message: 'Too many requests. Try again in 42 seconds.' }), 429, { 'Retry-After': '42' });
    await expect(promise).rejects.toMatchObject({ status: 429, code: 'too_many_requests', retryAfterSeconds: 42, message: 'Too many requests. Try again in 42 seconds.' });
  });

  it('says the reply was cut short when the stream ends without done', async () => {
    const { api } = client();
    const promise = api.replyToMessage('e1', { content: 'Hi' });
    StreamXhr.last!.chunk(ev('message', { message: USER_MSG }) + ev('delta', { text: 'Well' }));
    StreamXhr.last!.finish();
    await expect(promise).rejects.toMatchObject({ code: 'incomplete' });
  });

  it('aborts the request when its signal is aborted', async () => {
    const { api } = client();
    const controller = new AbortController();
    const promise = api.replyToMessage('e1', { content: 'Hi' }, { signal: controller.signal });
    controller.abort();
    await expect(promise).rejects.toMatchObject({ code: 'aborted' });
    expect(StreamXhr.last!.aborted).toBe(true);
  });

  it('calls onUnauthorized on 401', async () => {
    const { api, onUnauthorized } = client();
    const promise = api.replyToMessage('e1', { content: 'Hi' });
    StreamXhr.last!.finish(JSON.stringify({ success: false, error: 'unauthorized', message: 'Sign in again.' }), 401);
    await expect(promise).rejects.toMatchObject({ status: 401 });
    expect(onUnauthorized).toHaveBeenCalled();
  });
});

function jsonResponse(status: number, body: unknown) {
  return { ok: status >= 200 && status < 300, status, headers: { get: () => null }, text: async () => JSON.stringify(body) } as unknown as Response;
}

describe('memories', () => {
  function setup(body: unknown, status = 200) {
    const fetchImpl = jest.fn(async (_url: string, _init?: RequestInit) => jsonResponse(status, body));
    const api = createApiClient({ baseUrl: 'http://localhost:5000', fetchImpl: fetchImpl as unknown as typeof fetch, getCredentials: () => ({ userId: 'u1', accessToken: null }), maxRetries: 0 });
    return { api, call: () => fetchImpl.mock.calls[0] as unknown as FetchCall };
  }

  it('lists them with GET, paged, naming the user', async () => {
    const { api, call } = setup({ success: true, memories: [], total: 0, limit: 200, offset: 0 });
    await api.listMemories('e1', { limit: 200 });
    expect(call()[0]).toBe('http://localhost:5000/api/echo/e1/memories?limit=200&user_id=u1');
    expect(call()[1].method).toBe('GET');
  });

  it('adds one with POST {text}', async () => {
    const { api, call } = setup({ success: true, memory: { _id: 'k1' } }, 201);
    await expect(api.addMemory('e1', 'She grew roses.')).resolves.toEqual({ success: true, memory: { _id: 'k1' } });
    expect(call()[0]).toBe('http://localhost:5000/api/echo/e1/memories');
    expect(call()[1].method).toBe('POST');
    expect(JSON.parse(call()[1].body as string)).toEqual({ text: 'She grew roses.', user_id: 'u1' });
  });

  it('changes one with PATCH {text}', async () => {
    const { api, call } = setup({ success: true, memory: { _id: 'k1' } });
    await api.updateMemory('e1', 'k1', 'Red roses.');
    expect(call()[0]).toBe('http://localhost:5000/api/echo/e1/memories/k1');
    expect(call()[1].method).toBe('PATCH');
    expect(JSON.parse(call()[1].body as string)).toEqual({ text: 'Red roses.', user_id: 'u1' });
  });

  it('deletes one with DELETE', async () => {
    const { api, call } = setup({ success: true, deleted: true });
    await api.deleteMemory('e1', 'k 1');
    expect(call()[0]).toBe('http://localhost:5000/api/echo/e1/memories/k%201?user_id=u1');
    expect(call()[1].method).toBe('DELETE');
  });

  it("rejects with the server's plain words for the limits", async () => {
    const { api } = setup({ success: false, error: 'bad_request', reason: 'too_many_memories', message: 'This echo already has 200 memories, the most it can keep; delete or merge some first.' }, 400);
    await expect(api.addMemory('e1', 'One more')).rejects.toMatchObject({ status: 400, message: 'This echo already has 200 memories, the most it can keep; delete or merge some first.' });
  });
});
