import { ApiError, createApiClient, errorFromResponse, guessMimeType, type Credentials } from './api';
import { voiceProblemOf, voiceStatusOf } from './voiceStatus';

type FetchCall = [string, RequestInit];

function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}) {
  return {
    ok: status >= 200 && status < 300,
    status,
    headers: { get: (name: string) => headers[name] ?? headers[name.toLowerCase()] ?? null },
    text: async () => (typeof body === 'string' ? body : JSON.stringify(body)),
  } as unknown as Response;
}

function setup(responses: (Response | Error)[], credentials: Credentials = { userId: 'u1', accessToken: null }) {
  const fetchImpl = jest.fn(async (_url: string, _init?: RequestInit) => {
    const next = responses.shift();
    if (!next) throw new Error('no more responses');
    if (next instanceof Error) throw next;
    return next;
  });
  const sleep = jest.fn(async () => undefined);
  const onUnauthorized = jest.fn();
  const api = createApiClient({
    baseUrl: 'http://localhost:5000/',
    fetchImpl: fetchImpl as unknown as typeof fetch,
    getCredentials: () => credentials,
    onUnauthorized,
    sleep,
  });
  const call = (i: number) => fetchImpl.mock.calls[i] as unknown as FetchCall;
  return { api, fetchImpl, sleep, onUnauthorized, call };
}

describe('API client requests', () => {
  it('sends user_id as a query parameter on GET and parses the answer', async () => {
    const { api, call } = setup([jsonResponse(200, { success: true, echos: [], count: 0 })]);
    await expect(api.listEchos()).resolves.toEqual({ success: true, echos: [], count: 0 });
    const [url, init] = call(0);
    expect(url).toBe('http://localhost:5000/api/echos?user_id=u1');
    expect(init.method).toBe('GET');
    expect(init.body).toBeUndefined();
    expect((init.headers as Record<string, string>).Authorization).toBeUndefined();
  });

  it('sends user_id in the JSON body on POST', async () => {
    const { api, call } = setup([jsonResponse(201, { success: true, echo: { _id: 'e1' } })]);
    await api.createEcho({ name: 'Rose', persona_prompt: 'Kind', voice_model_id: 'm1' });
    const [url, init] = call(0);
    expect(url).toBe('http://localhost:5000/api/echo');
    expect(init.method).toBe('POST');
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
    expect(JSON.parse(init.body as string)).toEqual({ name: 'Rose', persona_prompt: 'Kind', voice_model_id: 'm1', user_id: 'u1' });
  });

  it('sends user_id in the body on PATCH and in the query on DELETE, with ids escaped', async () => {
    const { api, call } = setup([jsonResponse(200, { success: true, echo: {} }), jsonResponse(200, { success: true, message: 'deleted' })]);
    await api.updateEcho('e/1', { name: 'New' });
    await api.deleteVoiceModel('m 1');
    expect(call(0)[0]).toBe('http://localhost:5000/api/echo/e%2F1');
    expect(call(0)[1].method).toBe('PATCH');
    expect(JSON.parse(call(0)[1].body as string)).toEqual({ name: 'New', user_id: 'u1' });
    expect(call(1)[0]).toBe('http://localhost:5000/api/voice-models/m%201?user_id=u1');
    expect(call(1)[1].method).toBe('DELETE');
  });

  it('adds the bearer token when signed in with Auth0', async () => {
    const { api, call } = setup([jsonResponse(200, { success: true, messages: [] })], { userId: 'u1', accessToken: 'tok' });
    await api.listMessages('e1', 50);
    expect(call(0)[0]).toBe('http://localhost:5000/api/conversation/e1?limit=50&user_id=u1');
    expect((call(0)[1].headers as Record<string, string>).Authorization).toBe('Bearer tok');
  });

  it('registers a user without a user_id and with the identity in the path', async () => {
    const { api, call } = setup([jsonResponse(201, { success: true, user: 'u9', user_record: {}, created: true })], { userId: null, accessToken: null });
    await api.ensureUser('local|alex');
    expect(call(0)[0]).toBe('http://localhost:5000/api/users/local%7Calex');
    expect(JSON.parse(call(0)[1].body as string)).toEqual({});
  });

  it('asks for mp3 by default and passes the reference id when synthesizing', async () => {
    const { api, call } = setup([jsonResponse(200, { success: true, audio_url: '/api/audio/t.mp3' })]);
    await api.synthesize('Hello', 'm1');
    expect(JSON.parse(call(0)[1].body as string)).toEqual({
      text: 'Hello',
      format: 'mp3',
      progressive: true,
      reference_id: 'm1',
      user_id: 'u1',
    });
  });

  it('speaks as an echo with echo_id (never a reference_id) and the caller\'s user_id', async () => {
    const { api, call } = setup([jsonResponse(200, { success: true, audio_url: '/api/audio/t.mp3', reference_id: 'm1' })]);
    await api.speakAsEcho('e1', 'Hello, sweetheart.');
    const [url, init] = call(0);
    expect(url).toBe('http://localhost:5000/api/synthesize');
    expect(init.method).toBe('POST');
    expect(JSON.parse(init.body as string)).toEqual({ text: 'Hello, sweetheart.', format: 'mp3', progressive: true, echo_id: 'e1', user_id: 'u1' });
  });

  it('asks for the whole file when speaking as an echo in raw PCM', async () => {
    const { api, call } = setup([jsonResponse(200, { success: true, audio_url: '/api/audio/t.pcm' })]);
    await api.speakAsEcho('e1', 'Hi', 'pcm');
    expect(JSON.parse(call(0)[1].body as string)).toMatchObject({ format: 'pcm', progressive: false, echo_id: 'e1' });
  });

  it("turns a 409 for an echo whose voice was deleted into the API's words", async () => {
    const body = { success: false, error: 'voice_deleted', message: "This echo's voice was deleted; choose another voice for it.", echo_id: 'e1' };
    const { api, fetchImpl } = setup([jsonResponse(409, body)]);
    const error = await api.speakAsEcho('e1', 'Hi').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 409, code: 'voice_deleted', message: "This echo's voice was deleted; choose another voice for it." });
    expect(voiceProblemOf(error)).toBe('deleted');
    expect(fetchImpl).toHaveBeenCalledTimes(1); // no retry, and no second try in another voice
  });

  it('gives an echo another voice, or none, with PATCH', async () => {
    const { api, call } = setup([jsonResponse(200, { success: true, echo: {} }), jsonResponse(200, { success: true, echo: {} })]);
    await api.updateEcho('e1', { voice_model_id: 'm2' });
    await api.updateEcho('e1', { voice_model_id: null });
    expect(JSON.parse(call(0)[1].body as string)).toEqual({ voice_model_id: 'm2', user_id: 'u1' });
    expect(JSON.parse(call(1)[1].body as string)).toEqual({ voice_model_id: null, user_id: 'u1' });
  });

  it('sends who talks with an echo when making it, and clears it with "" when changing it', async () => {
    const { api, call } = setup([jsonResponse(201, { success: true, echo: {} }), jsonResponse(200, { success: true, echo: {} })]);
    await api.createEcho({ name: 'Rose', persona_prompt: 'Kind', voice_model_id: 'm1', talking_with: 'Anna', relation: 'granddaughter' });
    await api.updateEcho('e1', { talking_with: '', relation: 'grandson' });
    expect(JSON.parse(call(0)[1].body as string)).toEqual({
      name: 'Rose',
      persona_prompt: 'Kind',
      voice_model_id: 'm1',
      talking_with: 'Anna',
      relation: 'granddaughter',
      user_id: 'u1',
    });
    expect(call(1)[1].method).toBe('PATCH');
    expect(JSON.parse(call(1)[1].body as string)).toEqual({ talking_with: '', relation: 'grandson', user_id: 'u1' });
  });

  it('names the caller when reading a user, so its own record comes with its email', async () => {
    const { api, call } = setup([jsonResponse(200, { success: true, user: { _id: 'u1', auth0_user_id: 'local|alex', email: 'a@example.org' } })]);
    await api.getUser('local|alex');
    expect(call(0)[0]).toBe('http://localhost:5000/api/users/local%7Calex?user_id=u1');
  });

  it('names the user on every call that touches their records', async () => {
    const ok = () => jsonResponse(200, { success: true });
    const { api, call } = setup(Array.from({ length: 12 }, ok));
    await api.listEchos();
    await api.getEcho('e1');
    await api.updateEcho('e1', { name: 'Rose' });
    await api.deleteEcho('e1');
    await api.getEchoVoiceModel('e1');
    await api.listMessages('e1');
    await api.postMessage('e1', 'user', 'Hi');
    await api.listVoiceModels();
    await api.getVoiceModel('m1');
    await api.deleteVoiceModel('m1');
    await api.speakAsEcho('e1', 'Hi');
    await api.synthesize('Hi', 'm1');
    for (let i = 0; i < 12; i++) {
      const [url, init] = call(i);
      const named = url.includes('user_id=u1') || (typeof init.body === 'string' && JSON.parse(init.body).user_id === 'u1');
      expect([url, named]).toEqual([url, true]);
    }
  });

  it('builds audio sources on the backend with user_id and the bearer header', () => {
    const local = setup([]).api;
    expect(local.audioSource('/api/audio/t.mp3')).toEqual({ uri: 'http://localhost:5000/api/audio/t.mp3?user_id=u1' });
    const auth0 = setup([], { userId: 'u1', accessToken: 'tok' }).api;
    expect(auth0.audioSource('/api/audio/t.mp3?x=1')).toEqual({
      uri: 'http://localhost:5000/api/audio/t.mp3?x=1&user_id=u1',
      headers: { Authorization: 'Bearer tok' },
    });
    expect(local.resolveUrl('https://cdn.example.org/a.mp3')).toBe('https://cdn.example.org/a.mp3');
  });
});

describe('API client errors and retries', () => {
  it("turns an error body into an ApiError with the server's message", async () => {
    const { api } = setup([jsonResponse(404, { success: false, error: 'not_found', message: 'Echo not found.' })]);
    const error = await api.getEcho('nope').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 404, code: 'not_found', message: 'Echo not found.' });
  });

  it('falls back to plain words when the body is not JSON', () => {
    const error = errorFromResponse(502, '<html>Bad gateway</html>', null);
    expect(error.code).toBe('http_502');
    expect(error.message).toMatch(/voice service/i);
  });

  it('retries a GET on 503 and then succeeds', async () => {
    const { api, fetchImpl, sleep } = setup([
      jsonResponse(503, { success: false, error: 'database_unavailable', message: 'Database unavailable' }),
      jsonResponse(200, { success: true, echos: [], count: 0 }),
    ]);
    await expect(api.listEchos()).resolves.toMatchObject({ count: 0 });
    expect(fetchImpl).toHaveBeenCalledTimes(2);
    expect(sleep).toHaveBeenCalledTimes(1);
  });

  it('honours Retry-After on 429 and gives up after the retry budget', async () => {
    const busy = () => jsonResponse(429, { success: false, error: 'rate_limited', message: 'Slow down.' }, { 'Retry-After': '2' });
    const { api, fetchImpl, sleep } = setup([busy(), busy(), busy()]);
    await expect(api.listVoiceModels()).rejects.toMatchObject({ status: 429, message: 'Slow down.', retryAfterSeconds: 2 });
    expect(fetchImpl).toHaveBeenCalledTimes(3);
    expect(sleep).toHaveBeenCalledWith(2000);
  });

  it('never retries a POST', async () => {
    const { api, fetchImpl } = setup([jsonResponse(503, { success: false, error: 'provider_unavailable', message: 'Voice service down.' })]);
    await expect(api.speakAsEcho('e1', 'Hi')).rejects.toMatchObject({ status: 503, message: 'Voice service down.' });
    expect(fetchImpl).toHaveBeenCalledTimes(1);
  });

  it('reports a connection failure in plain words, naming the server', async () => {
    const { api } = setup([new TypeError('Network request failed'), new TypeError('x'), new TypeError('x')]);
    await expect(api.listEchos()).rejects.toMatchObject({ status: 0, code: 'network_error', message: expect.stringContaining('http://localhost:5000') });
  });

  it('calls onUnauthorized on 401', async () => {
    const { api, onUnauthorized } = setup([jsonResponse(401, { success: false, error: 'unauthorized', message: 'Token expired.' })]);
    await expect(api.listEchos()).rejects.toMatchObject({ status: 401 });
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
  });

  it('renews the token once on a 401 and sends a POST again with the new one', async () => {
    const credentials = { userId: 'u1', accessToken: 'old' };
    const fetchImpl = jest
      .fn()
      .mockResolvedValueOnce(jsonResponse(401, { success: false, error: 'unauthorized', message: 'Token expired.' }))
      .mockResolvedValueOnce(jsonResponse(201, { success: true, echo: { _id: 'e1' } }));
    const renewCredentials = jest.fn(async () => {
      credentials.accessToken = 'new';
      return true;
    });
    const onUnauthorized = jest.fn();
    const api = createApiClient({ baseUrl: 'http://x', fetchImpl, getCredentials: () => credentials, renewCredentials, onUnauthorized });
    await expect(api.createEcho({ name: 'A', persona_prompt: 'B', voice_model_id: 'm1' })).resolves.toMatchObject({ echo: { _id: 'e1' } });
    expect(renewCredentials).toHaveBeenCalledTimes(1);
    expect((fetchImpl.mock.calls[1][1] as RequestInit).headers).toMatchObject({ Authorization: 'Bearer new' });
    expect(onUnauthorized).not.toHaveBeenCalled();
  });
});

describe('voices, recordings and the history of what was spoken', () => {
  it('renames a voice with PATCH', async () => {
    const { api, call } = setup([jsonResponse(200, { success: true, voice_model: { name: 'Rose' } })]);
    await api.renameVoiceModel('m/1', 'Rose');
    const [url, init] = call(0);
    expect(url).toBe('http://localhost:5000/api/voice-models/m%2F1');
    expect(init.method).toBe('PATCH');
    expect(JSON.parse(init.body as string)).toEqual({ name: 'Rose', user_id: 'u1' });
  });

  it("asks for a voice's recording, and previews a voice with a fixed text (not progressive)", async () => {
    const { api, call } = setup([
      jsonResponse(200, { success: true, recording_url: '/api/recording/m1?sig=s' }),
      jsonResponse(200, { success: true, audio_url: '/api/audio/p.mp3' }),
    ]);
    await expect(api.getVoiceRecording('m1')).resolves.toMatchObject({ recording_url: '/api/recording/m1?sig=s' });
    expect(call(0)[0]).toBe('http://localhost:5000/api/voice-models/m1/recording?user_id=u1');
    await api.previewVoice('m1', 'Hello.');
    expect(JSON.parse(call(1)[1].body as string)).toEqual({ text: 'Hello.', format: 'mp3', reference_id: 'm1', user_id: 'u1' });
  });

  it('lists, deletes one and clears the speech history', async () => {
    const { api, call } = setup([
      jsonResponse(200, { success: true, items: [], count: 0, total: 0, limit: 20, offset: 40 }),
      jsonResponse(200, { success: true }),
      jsonResponse(200, { success: true, deleted: 3 }),
    ]);
    await api.listSpeechHistory({ limit: 20, offset: 40 });
    expect(call(0)[0]).toBe('http://localhost:5000/api/speech-history?limit=20&offset=40&user_id=u1');
    await api.deleteSpeechHistoryItem('h1');
    expect(call(1)[0]).toBe('http://localhost:5000/api/speech-history/h1?user_id=u1');
    expect(call(1)[1].method).toBe('DELETE');
    await expect(api.clearSpeechHistory()).resolves.toEqual({ success: true, deleted: 3 });
    expect(call(2)[0]).toBe('http://localhost:5000/api/speech-history?user_id=u1');
  });

  it('lists, makes and revokes personal API keys, and knows the speech address', async () => {
    const { api, call } = setup([
      jsonResponse(200, { success: true, api_keys: [], count: 0, total: 0, limit: 100, offset: 0 }),
      jsonResponse(201, { success: true, key: 'echo_secret', api_key: { _id: 'k1', name: 'Kitchen', prefix: 'echo_secret' } }),
      jsonResponse(200, { success: true }),
    ]);
    await api.listApiKeys();
    expect(call(0)[0]).toBe('http://localhost:5000/api/api-keys?limit=100&user_id=u1');
    await expect(api.createApiKey('Kitchen')).resolves.toMatchObject({ key: 'echo_secret' });
    expect(call(1)[0]).toBe('http://localhost:5000/api/api-keys');
    expect(JSON.parse(call(1)[1].body as string)).toEqual({ name: 'Kitchen', user_id: 'u1' });
    await api.revokeApiKey('k1');
    expect(call(2)[0]).toBe('http://localhost:5000/api/api-keys/k1?user_id=u1');
    expect(call(2)[1].method).toBe('DELETE');
    expect(api.speechApiUrl()).toBe('http://localhost:5000/v1');
  });

  it('plays a signed address as it is, without user_id or headers', () => {
    const { api } = setup([], { userId: 'u1', accessToken: 'tok' });
    expect(api.audioSource('/api/recording/m1?sig=s', true)).toEqual({ uri: 'http://localhost:5000/api/recording/m1?sig=s' });
  });
});

class FakeXhr {
  static last: FakeXhr | null = null;
  method = '';
  url = '';
  headers: Record<string, string> = {};
  body: FormData | null = null;
  status = 0;
  responseText = '';
  timeout = 0;
  upload: { onprogress: ((e: { lengthComputable: boolean; loaded: number; total: number }) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  ontimeout: (() => void) | null = null;
  onabort: (() => void) | null = null;
  constructor() {
    FakeXhr.last = this;
  }
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name] = value;
  }
  getResponseHeader() {
    return null;
  }
  send(body: FormData) {
    this.body = body;
  }
  abort() {
    this.onabort?.();
  }
  respond(status: number, body: unknown) {
    this.status = status;
    this.responseText = JSON.stringify(body);
    this.onload?.();
  }
}

/** Stands in for React Native's FormData, which takes {uri, name, type} file parts. */
class FakeFormData {
  parts: [string, unknown][] = [];
  append(name: string, value: unknown) {
    this.parts.push([name, value]);
  }
}

function formEntries(form: FormData): Record<string, unknown> {
  return Object.fromEntries((form as unknown as FakeFormData).parts);
}

const RealFormData = global.FormData;
beforeAll(() => {
  global.FormData = FakeFormData as unknown as typeof FormData;
});
afterAll(() => {
  global.FormData = RealFormData;
});

/** Lets queued promise callbacks run until the latest fake request matches (bounded). */
async function waitForXhr(match: (xhr: FakeXhr) => boolean): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if (FakeXhr.last && match(FakeXhr.last) && FakeXhr.last.body) return;
    await Promise.resolve();
  }
  throw new Error('the request was not sent');
}

describe('uploadReference', () => {
  const file = { uri: 'file:///voice.wav', name: 'voice.wav', mimeType: 'audio/wav' };

  function uploadClient(credentials: Credentials = { userId: 'u1', accessToken: 'tok' }) {
    return createApiClient({
      baseUrl: 'http://localhost:5000',
      getCredentials: () => credentials,
      xhrFactory: () => new FakeXhr() as unknown as XMLHttpRequest,
    });
  }

  it('posts multipart with consent, user and file, reports progress, and resolves', async () => {
    const progress: number[] = [];
    const promise = uploadClient().uploadReference({ file, name: 'Rose', consent: true, transcript: ' hi ' }, { onProgress: (p) => progress.push(p) });
    await Promise.resolve();
    await Promise.resolve();
    const xhr = FakeXhr.last!;
    expect(xhr.method).toBe('POST');
    expect(xhr.url).toBe('http://localhost:5000/api/upload-reference');
    expect(xhr.headers.Authorization).toBe('Bearer tok');
    const fields = formEntries(xhr.body!);
    expect(fields).toMatchObject({ name: 'Rose', consent: 'true', user_id: 'u1', transcript: 'hi' });
    expect(fields.audio).toEqual({ uri: 'file:///voice.wav', name: 'voice.wav', type: 'audio/wav' });
    expect(fields.echo_id).toBeUndefined();
    xhr.upload.onprogress?.({ lengthComputable: true, loaded: 50, total: 100 });
    xhr.respond(201, { success: true, model_id: 'm1', reference_id: 'm1', warnings: [] });
    await expect(promise).resolves.toMatchObject({ model_id: 'm1' });
    expect(progress).toEqual([0.5, 1]);
  });

  it('uploads again after renewing the token on a 401', async () => {
    const credentials = { userId: 'u1', accessToken: 'old' };
    const onUnauthorized = jest.fn();
    const api = createApiClient({
      baseUrl: 'http://localhost:5000',
      getCredentials: () => credentials,
      xhrFactory: () => new FakeXhr() as unknown as XMLHttpRequest,
      onUnauthorized,
      renewCredentials: async () => {
        credentials.accessToken = 'new';
        return true;
      },
    });
    const promise = api.uploadReference({ file, name: 'Rose', consent: true });
    await waitForXhr((x) => x.headers.Authorization === 'Bearer old');
    FakeXhr.last!.respond(401, { success: false, error: 'unauthorized', message: 'Token expired.' });
    await waitForXhr((x) => x.headers.Authorization === 'Bearer new');
    FakeXhr.last!.respond(201, { success: true, model_id: 'm1' });
    await expect(promise).resolves.toMatchObject({ model_id: 'm1' });
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it("refuses to upload without the speaker's consent", async () => {
    await expect(uploadClient().uploadReference({ file, name: 'Rose', consent: false })).rejects.toMatchObject({ code: 'consent_required' });
  });

  it("rejects with the server's message on 422", async () => {
    const promise = uploadClient().uploadReference({ file, name: 'Rose', consent: true });
    await Promise.resolve();
    await Promise.resolve();
    FakeXhr.last!.respond(422, { success: false, error: 'audio_too_short', message: 'The recording is 1.2 seconds long; it must be at least 3 seconds.' });
    await expect(promise).rejects.toMatchObject({ status: 422, message: 'The recording is 1.2 seconds long; it must be at least 3 seconds.' });
  });

  it('rejects with a network error when the connection fails', async () => {
    const promise = uploadClient().uploadReference({ file, name: 'Rose', consent: true });
    await Promise.resolve();
    await Promise.resolve();
    FakeXhr.last!.onerror?.();
    await expect(promise).rejects.toMatchObject({ code: 'network_error' });
  });

  it('guesses audio types from file names', () => {
    expect(guessMimeType('a.M4A')).toBe('audio/mp4');
    expect(guessMimeType('a.unknown')).toBe('application/octet-stream');
  });
});

describe('voice status', () => {
  it('uses the status the server sends, and derives it from voice_model_id otherwise', () => {
    expect(voiceStatusOf({ voice_model_id: null, voice_status: 'deleted' })).toBe('deleted');
    expect(voiceStatusOf({ voice_model_id: 'm1', voice_status: 'ready' })).toBe('ready');
    expect(voiceStatusOf({ voice_model_id: 'm1' })).toBe('ready');
    expect(voiceStatusOf({ voice_model_id: null })).toBe('none');
  });

  it('recognises only the two 409 answers that mean "no voice to speak in"', () => {
    expect(voiceProblemOf(new ApiError(409, 'no_voice', 'This echo has no voice yet; choose one for it.'))).toBe('none');
    expect(voiceProblemOf(new ApiError(409, 'conflict', 'Taken.'))).toBeNull();
    expect(voiceProblemOf(new ApiError(404, 'voice_deleted', 'x'))).toBeNull();
    expect(voiceProblemOf(new Error('voice_deleted'))).toBeNull();
  });
});
