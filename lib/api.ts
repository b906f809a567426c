/**
 * The one typed client for Echo's REST API.
 *
 * Every call sends the caller's identity: `Authorization: Bearer <token>` when signed in
 * with Auth0, and `user_id` (query string on GET/DELETE, body on POST/PATCH) always.
 * Errors become `ApiError`s carrying the server's plain-words `message`; reads are retried
 * a bounded number of times on connection errors, 429 and 502/503/504.
 */
import { Platform } from 'react-native';

import { SseParser, type SseEvent } from './sse';
import type {
  ApiKeyPage,
  AudioFormat,
  CreatedApiKey,
  Echo,
  EchoChanges,
  HealthResponse,
  Memory,
  Message,
  MessageRole,
  ReplyAudio,
  ReplyResponse,
  SpeechHistoryPage,
  SynthesizeResponse,
  UploadFile,
  UploadReferenceInput,
  UploadResponse,
  UserRecord,
  UserResponse,
  VoiceModel,
  VoiceRecordingResponse,
} from './types';

export interface Credentials {
  /** The backend's user id (the `user` string from POST /api/users/<id>). */
  userId: string | null;
  /** An Auth0 access token, when signed in with Auth0. */
  accessToken: string | null;
}

export interface ApiClientOptions {
  baseUrl: string;
  getCredentials?: () => Credentials | null;
  /** Called when the server answers 401 (an expired or rejected token) and renewing did not help. */
  onUnauthorized?: (error: ApiError) => void;
  /**
   * Renews the access token after a 401 (with the refresh token); resolves true when there is a new one.
   * Each request renews at most once and is then sent once more; concurrent 401s share one renewal.
   */
  renewCredentials?: () => Promise<boolean>;
  fetchImpl?: typeof fetch;
  xhrFactory?: () => XMLHttpRequest;
  /** Per-request timeout for JSON calls, in milliseconds. */
  timeoutMs?: number;
  /** Timeout for speech synthesis, which can take a while. */
  synthesizeTimeoutMs?: number;
  /** Timeout for an upload, in milliseconds. */
  uploadTimeoutMs?: number;
  /** Timeout for a whole reply (written and spoken), in milliseconds. */
  replyTimeoutMs?: number;
  /** Retries for safe (GET) requests on connection errors, 429 and 502/503/504. */
  maxRetries?: number;
  /** Base delay between retries; doubles each time, with jitter, capped at 8 s. */
  retryBaseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** An error from the API, or from reaching it; `message` is fit to show to a person. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly retryAfterSeconds: number | null;

  constructor(status: number, code: string, message: string, retryAfterSeconds: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  get isNetworkError(): boolean {
    return this.status === 0;
  }
}

const FALLBACK_MESSAGES: Record<number, string> = {
  400: 'The request was not accepted. Please check what you entered.',
  401: 'Your session has expired. Please sign in again.',
  403: 'You are not allowed to do that.',
  404: 'That item could not be found. It may have been deleted.',
  409: 'That conflicts with something that already exists.',
  413: 'That file is too large to upload.',
  415: 'That file does not look like audio. Please choose a recording.',
  422: 'The recording must be between 3 seconds and 4.5 minutes long.',
  429: 'Too many requests. Please wait a moment and try again.',
  500: 'The server had a problem. Please try again.',
  502: 'The voice service had a problem. Please try again shortly.',
  503: 'The service is unavailable right now. Please try again shortly.',
  504: 'The voice service took too long to answer. Please try again.',
};

export function fallbackMessage(status: number): string {
  return FALLBACK_MESSAGES[status] ?? (status >= 500 ? FALLBACK_MESSAGES[500]! : 'Something went wrong. Please try again.');
}

/** Turns a response's status and body text into an ApiError. */
export function errorFromResponse(status: number, bodyText: string, retryAfter: string | null): ApiError {
  let code = `http_${status}`;
  let message = fallbackMessage(status);
  try {
    const body: unknown = JSON.parse(bodyText);
    if (body && typeof body === 'object') {
      const b = body as { error?: unknown; message?: unknown };
      if (typeof b.error === 'string' && b.error) code = b.error;
      if (typeof b.message === 'string' && b.message.trim()) message = b.message.trim();
    }
  } catch {
    // Not JSON (a proxy's HTML error page, say): keep the plain fallback message.
  }
  const seconds = retryAfter !== null && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter.trim()) : null;
  return new ApiError(status, code, message, seconds);
}

/** What to ask an echo: the person's new message (`content`; none to reply to the conversation as it stands). */
export interface ReplyInput {
  content?: string;
  /** Speak the reply in the echo's voice; the server's default is whether the echo has a voice. */
  speak?: boolean;
  format?: AudioFormat;
}

/** Called while the reply is written: the stored message, each piece of text, the audio once speech starts. */
export interface ReplyHandlers {
  onMessage?: (message: Message) => void;
  /** `text` is the new piece, `soFar` the whole reply written so far. */
  onDelta?: (text: string, soFar: string) => void;
  onAudio?: (audioUrl: string) => void;
  signal?: AbortSignal;
}

const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
const MAX_RETRY_DELAY_MS = 8000;

type Query = Record<string, string | number | undefined | null>;

interface RequestOptions {
  query?: Query;
  body?: Record<string, unknown>;
  /** Adds the caller's user_id (default true). */
  withUser?: boolean;
  timeoutMs?: number;
  signal?: AbortSignal;
}

function buildQuery(query: Query): string {
  const parts = Object.entries(query)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

const seg = (value: string) => encodeURIComponent(value);

const MIME_BY_EXT: Record<string, string> = {
  wav: 'audio/wav',
  mp3: 'audio/mpeg',
  m4a: 'audio/mp4',
  aac: 'audio/aac',
  ogg: 'audio/ogg',
  opus: 'audio/opus',
  webm: 'audio/webm',
  flac: 'audio/flac',
  caf: 'audio/x-caf',
  '3gp': 'audio/3gpp',
};

export function guessMimeType(fileName: string): string {
  const ext = fileName.split('.').pop()?.toLowerCase() ?? '';
  return MIME_BY_EXT[ext] ?? 'application/octet-stream';
}

export function createApiClient(options: ApiClientOptions) {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const doFetch = options.fetchImpl ?? ((...args: Parameters<typeof fetch>) => fetch(...args));
  const timeoutMs = options.timeoutMs ?? 20_000;
  const maxRetries = Math.max(0, options.maxRetries ?? 2);
  const retryBase = options.retryBaseDelayMs ?? 500;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  const credentials = (): Credentials => options.getCredentials?.() ?? { userId: null, accessToken: null };

  function authHeaders(): Record<string, string> {
    const token = credentials().accessToken;
    return token ? { Authorization: `Bearer ${token}` } : {};
  }

  let renewing: Promise<boolean> | null = null;

  /** One renewal at a time; a request whose token was already replaced meanwhile just goes again. */
  async function renewAfter401(usedToken: string | null): Promise<boolean> {
    if (!options.renewCredentials) return false;
    const current = credentials().accessToken;
    if (current && current !== usedToken) return true;
    if (!renewing) {
      renewing = options.renewCredentials().catch(() => false).finally(() => {
        renewing = null;
      });
    }
    return renewing;
  }

  /**
   * Runs a call; on a 401 renews the token once and runs it again. A 401 that remains (or no way to renew)
   * goes to onUnauthorized, which signs the person out.
   */
  async function withRenewal<T>(run: () => Promise<T>): Promise<T> {
    const usedToken = credentials().accessToken;
    try {
      return await run();
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401) throw e;
      if (!(await renewAfter401(usedToken))) {
        options.onUnauthorized?.(e);
        throw e;
      }
    }
    try {
      return await run();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) options.onUnauthorized?.(e);
      throw e;
    }
  }

  async function once<T>(method: string, url: string, init: RequestInit, ms: number, signal?: AbortSignal): Promise<T> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, ms);
    const onAbort = () => controller.abort();
    signal?.addEventListener('abort', onAbort);
    let response: Response;
    try {
      response = await doFetch(url, { ...init, method, signal: controller.signal });
    } catch {
      if (timedOut) throw new ApiError(0, 'timeout', 'The server took too long to answer. Please try again.');
      if (signal?.aborted) throw new ApiError(0, 'aborted', 'The request was cancelled.');
      throw new ApiError(0, 'network_error', `Could not reach the Echo server at ${baseUrl}. Check your connection and that the server is running.`);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
    const text = await response.text();
    if (!response.ok) throw errorFromResponse(response.status, text, response.headers.get('Retry-After'));
    try {
      return (text ? JSON.parse(text) : {}) as T;
    } catch {
      throw new ApiError(response.status, 'invalid_response', 'The server sent an answer the app could not read.');
    }
  }

  function request<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, opts: RequestOptions = {}): Promise<T> {
    return withRenewal(() => requestOnce<T>(method, path, opts));
  }

  async function requestOnce<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, opts: RequestOptions = {}): Promise<T> {
    const withUser = opts.withUser ?? true;
    const { userId } = credentials();
    const query: Query = { ...(opts.query ?? {}) };
    let body: Record<string, unknown> | undefined = opts.body;
    if (withUser && userId) {
      if (method === 'GET' || method === 'DELETE') query.user_id = userId;
      else body = { ...(body ?? {}), user_id: userId };
    }
    const headers: Record<string, string> = { Accept: 'application/json', ...authHeaders() };
    const init: RequestInit = { headers };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const url = `${baseUrl}${path}${buildQuery(query)}`;
    const retries = method === 'GET' ? maxRetries : 0;
    for (let attempt = 0; ; attempt++) {
      try {
        return await once<T>(method, url, init, opts.timeoutMs ?? timeoutMs, opts.signal);
      } catch (e) {
        const error = e as ApiError;
        const retryable = error.code === 'network_error' || error.code === 'timeout' || RETRYABLE_STATUS.has(error.status);
        if (!retryable || attempt >= retries || opts.signal?.aborted) throw error;
        const backoff = Math.min(MAX_RETRY_DELAY_MS, retryBase * 2 ** attempt);
        const delay = error.retryAfterSeconds !== null ? Math.min(MAX_RETRY_DELAY_MS, error.retryAfterSeconds * 1000) : backoff / 2 + Math.random() * (backoff / 2);
        await sleep(delay);
      }
    }
  }

  async function appendAudio(form: FormData, file: UploadFile): Promise<void> {
    const type = file.mimeType || guessMimeType(file.name);
    if (file.file) {
      form.append('audio', file.file, file.name);
    } else if (Platform.OS === 'web') {
      // A blob: or data: URI from the web recorder or picker.
      const blob = await (await doFetch(file.uri)).blob();
      form.append('audio', blob, file.name);
    } else {
      // React Native's FormData takes a {uri, name, type} descriptor for files.
      form.append('audio', { uri: file.uri, name: file.name, type } as unknown as Blob);
    }
  }

  /** Uploads a voice reference with XMLHttpRequest, which (unlike fetch) reports upload progress. */
  function uploadReference(
    input: UploadReferenceInput,
    handlers: { onProgress?: (fraction: number) => void; signal?: AbortSignal } = {},
  ): Promise<UploadResponse> {
    return withRenewal(() => uploadReferenceOnce(input, handlers));
  }

  async function uploadReferenceOnce(
    input: UploadReferenceInput,
    handlers: { onProgress?: (fraction: number) => void; signal?: AbortSignal } = {},
  ): Promise<UploadResponse> {
    if (!input.consent) {
      throw new ApiError(400, 'consent_required', "Please confirm that you have the speaker's consent before uploading their voice.");
    }
    const form = new FormData();
    await appendAudio(form, input.file);
    form.append('name', input.name);
    form.append('consent', 'true');
    const { userId } = credentials();
    if (userId) form.append('user_id', userId);
    if (input.echoId) form.append('echo_id', input.echoId);
    if (input.transcript?.trim()) form.append('transcript', input.transcript.trim());

    const xhr = options.xhrFactory ? options.xhrFactory() : new XMLHttpRequest();
    return new Promise<UploadResponse>((resolve, reject) => {
      const rejectWith = (error: ApiError) => reject(error);
      xhr.open('POST', `${baseUrl}/api/upload-reference`);
      xhr.timeout = options.uploadTimeoutMs ?? 180_000;
      xhr.setRequestHeader('Accept', 'application/json');
      for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
      if (xhr.upload) {
        xhr.upload.onprogress = (event) => {
          if (event.lengthComputable && event.total > 0) handlers.onProgress?.(Math.min(1, event.loaded / event.total));
        };
      }
      xhr.onload = () => {
        const text = typeof xhr.responseText === 'string' ? xhr.responseText : '';
        if (xhr.status >= 200 && xhr.status < 300) {
          try {
            handlers.onProgress?.(1);
            resolve(JSON.parse(text) as UploadResponse);
          } catch {
            rejectWith(new ApiError(xhr.status, 'invalid_response', 'The server sent an answer the app could not read.'));
          }
        } else {
          rejectWith(errorFromResponse(xhr.status, text, xhr.getResponseHeader('Retry-After')));
        }
      };
      xhr.onerror = () =>
        rejectWith(new ApiError(0, 'network_error', `Could not reach the Echo server at ${baseUrl}. Check your connection and that the server is running.`));
      xhr.ontimeout = () => rejectWith(new ApiError(0, 'timeout', 'The upload took too long. Please try a shorter recording or a better connection.'));
      xhr.onabort = () => rejectWith(new ApiError(0, 'aborted', 'The upload was cancelled.'));
      handlers.signal?.addEventListener('abort', () => xhr.abort());
      xhr.send(form);
    });
  }

  /**
   * Asks an echo to reply, streamed as Server-Sent Events with XMLHttpRequest: React Native's XHR (like a
   * browser's) hands over the text received so far on each progress event, where fetch cannot stream on
   * native. Without progress events the whole answer is read at the end, as events or as the JSON answer.
   * Resolves with the stored message and reply; rejects with an ApiError (`aborted` when stopped, the
   * server's code and plain words for an `error` event, `incomplete` when the stream ends without a reply).
   */
  function replyToMessage(echoId: string, input: ReplyInput = {}, handlers: ReplyHandlers = {}): Promise<ReplyResponse> {
    // A 401 comes before anything is stored or streamed, so asking again after renewing is safe.
    return withRenewal(() => replyOnce(echoId, input, handlers));
  }

  function replyOnce(echoId: string, input: ReplyInput, handlers: ReplyHandlers): Promise<ReplyResponse> {
    const body: Record<string, unknown> = { format: input.format ?? 'mp3' };
    if (input.content !== undefined) body.content = input.content;
    if (input.speak !== undefined) body.speak = input.speak;
    const { userId } = credentials();
    if (userId) body.user_id = userId;

    const xhr = options.xhrFactory ? options.xhrFactory() : new XMLHttpRequest();
    return new Promise<ReplyResponse>((resolve, reject) => {
      const parser = new SseParser();
      let consumed = 0;
      let settled = false;
      let message: Message | null = null;
      let text = '';
      let audioUrl: string | null = null;
      let sawEvent = false;

      const settle = (error: ApiError | null, value?: ReplyResponse) => {
        if (settled) return;
        settled = true;
        handlers.signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve(value!);
      };
      const onAbort = () => {
        settle(new ApiError(0, 'aborted', 'The reply was stopped.'));
        xhr.abort();
      };
      const audio = (url: unknown) => {
        if (typeof url === 'string' && url && url !== audioUrl) {
          audioUrl = url;
          handlers.onAudio?.(url);
        }
      };
      const handle = (event: SseEvent) => {
        if (settled) return;
        sawEvent = true;
        let data: Record<string, unknown>;
        try {
          data = JSON.parse(event.data) as Record<string, unknown>;
        } catch {
          return; // Not ours to read (a keep-alive, say).
        }
        if (event.event === 'message' && data.message) {
          message = data.message as Message;
          handlers.onMessage?.(message);
        } else if (event.event === 'delta' && typeof data.text === 'string') {
          text += data.text;
          handlers.onDelta?.(data.text, text);
        } else if (event.event === 'audio') {
          audio(data.audio_url);
        } else if (event.event === 'done' && data.reply) {
          audio(data.audio_url);
          settle(null, {
            success: true,
            message: (message ?? data.message) as Message,
            reply: data.reply as Message,
            audio_url: typeof data.audio_url === 'string' ? data.audio_url : null,
            audio: (data.audio as ReplyAudio | null | undefined) ?? null,
          });
        } else if (event.event === 'error') {
          const status = typeof data.status === 'number' ? data.status : 502;
          const code = typeof data.error === 'string' ? data.error : 'reply_failed';
          const words = typeof data.message === 'string' && data.message.trim() ? data.message.trim() : fallbackMessage(status);
          settle(new ApiError(status, code, words));
        }
      };
      const readNew = () => {
        const all = typeof xhr.responseText === 'string' ? xhr.responseText : '';
        if (all.length <= consumed) return;
        const chunk = all.slice(consumed);
        consumed = all.length;
        parser.push(chunk).forEach(handle);
      };
      const ok = () => xhr.status >= 200 && xhr.status < 300;

      xhr.open('POST', `${baseUrl}/api/conversation/${seg(echoId)}/reply`);
      xhr.timeout = options.replyTimeoutMs ?? 180_000;
      xhr.setRequestHeader('Accept', 'text/event-stream');
      xhr.setRequestHeader('Content-Type', 'application/json');
      for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
      // Set before send: React Native's XHR only delivers partial text when a progress handler is there.
      xhr.onprogress = () => {
        if (ok()) readNew();
      };
      xhr.onload = () => {
        if (settled) return;
        const all = typeof xhr.responseText === 'string' ? xhr.responseText : '';
        if (!ok()) {
          settle(errorFromResponse(xhr.status, all, xhr.getResponseHeader('Retry-After')));
          return;
        }
        readNew();
        parser.end().forEach(handle);
        if (settled) return;
        if (!sawEvent) {
          // No events at all: the plain JSON answer (a server or proxy that does not stream).
          try {
            const answer = JSON.parse(all) as ReplyResponse;
            if (answer && answer.reply) {
              if (answer.message) handlers.onMessage?.(answer.message);
              handlers.onDelta?.(answer.reply.content, answer.reply.content);
              audio(answer.audio_url);
              settle(null, { ...answer, audio_url: answer.audio_url ?? null, audio: answer.audio ?? null });
              return;
            }
          } catch {
            // Fall through: not JSON either.
          }
          settle(new ApiError(xhr.status, 'invalid_response', 'The server sent an answer the app could not read.'));
          return;
        }
        settle(new ApiError(0, 'incomplete', 'The reply was cut short before it was finished. Please try again.'));
      };
      xhr.onerror = () =>
        settle(new ApiError(0, 'network_error', `Could not reach the Echo server at ${baseUrl}. Check your connection and that the server is running.`));
      xhr.ontimeout = () => settle(new ApiError(0, 'timeout', 'The reply took too long. Please try again.'));
      xhr.onabort = () => settle(new ApiError(0, 'aborted', 'The reply was stopped.'));
      if (handlers.signal?.aborted) {
        settle(new ApiError(0, 'aborted', 'The reply was stopped.'));
        return;
      }
      handlers.signal?.addEventListener('abort', onAbort);
      xhr.send(JSON.stringify(body));
    });
  }

  /** An absolute URL for a backend path such as "/api/audio/<token>.mp3". */
  function resolveUrl(pathOrUrl: string): string {
    if (/^https?:\/\//i.test(pathOrUrl)) return pathOrUrl;
    return `${baseUrl}${pathOrUrl.startsWith('/') ? '' : '/'}${pathOrUrl}`;
  }

  /**
   * A source for expo-audio: the audio URL (with user_id) and, when signed in with Auth0, the bearer header.
   * A signed address (`signed`: a recording_url or a history item's audio_url) is played as it is.
   */
  function audioSource(audioUrl: string, signed = false): { uri: string; headers?: Record<string, string> } {
    const url = resolveUrl(audioUrl);
    if (signed) return { uri: url };
    const { userId } = credentials();
    const uri = userId && !/[?&]user_id=/.test(url) ? `${url}${url.includes('?') ? '&' : '?'}user_id=${encodeURIComponent(userId)}` : url;
    const headers = authHeaders();
    return Object.keys(headers).length ? { uri, headers } : { uri };
  }

  return {
    baseUrl,
    resolveUrl,
    audioSource,

    health: () => request<HealthResponse>('GET', '/health', { withUser: false, timeoutMs: 8000 }),

    /** Creates the user on first sign-in (201) or returns the existing one (200). */
    ensureUser: (auth0UserId: string, email?: string | null) =>
      request<UserResponse>('POST', `/api/users/${seg(auth0UserId)}`, {
        body: email ? { email } : {},
        withUser: false,
      }),
    /** Reads a user; the record includes its email only when the caller is that user (user_id is sent). */
    getUser: (auth0UserId: string) => request<{ success: true; user: UserRecord }>('GET', `/api/users/${seg(auth0UserId)}`),
    /** Deletes the caller's own account and everything in it (voices, recordings, echos, messages). */
    deleteUser: (auth0UserId: string) =>
      request<{ success: true; message?: string }>('DELETE', `/api/users/${seg(auth0UserId)}`, { timeoutMs: 60_000 }),

    uploadReference,

    /** Speaks text in one voice model (its model_id): a voice's sample, say. */
    synthesize: (text: string, referenceId: string, format: AudioFormat = 'mp3') =>
      request<SynthesizeResponse>('POST', '/api/synthesize', {
        // progressive: the server answers once audio starts and audio_url streams the rest, so playback
        // begins before the last sentence is spoken (raw PCM cannot be played, so it waits for the file).
        body: { text, format, progressive: format !== 'pcm', reference_id: referenceId },
        timeoutMs: options.synthesizeTimeoutMs ?? 90_000,
      }),
    /**
     * Speaks text as an echo, in its own voice (the server picks it). Never in a stock voice: an echo
     * whose voice was deleted answers 409 `voice_deleted`, one without a voice 409 `no_voice`
     * (see `voiceProblemOf` in lib/voiceStatus.ts).
     */
    speakAsEcho: (echoId: string, text: string, format: AudioFormat = 'mp3') =>
      request<SynthesizeResponse>('POST', '/api/synthesize', {
        body: { text, format, progressive: format !== 'pcm', echo_id: echoId },
        timeoutMs: options.synthesizeTimeoutMs ?? 90_000,
      }),

    listVoiceModels: (page: { limit?: number; offset?: number } = {}) =>
      request<{ success: true; voice_models: VoiceModel[]; count: number }>('GET', '/api/voice-models', { query: page }),
    getVoiceModel: (modelId: string) =>
      request<{ success: true; voice_model: VoiceModel }>('GET', `/api/voice-models/${seg(modelId)}`),
    deleteVoiceModel: (modelId: string) =>
      request<{ success: true; message: string }>('DELETE', `/api/voice-models/${seg(modelId)}`),
    /** Gives a voice another name (1 to 100 characters). */
    renameVoiceModel: (modelId: string, name: string) =>
      request<{ success: true; voice_model: VoiceModel }>('PATCH', `/api/voice-models/${seg(modelId)}`, { body: { name } }),
    /** A signed address of the voice's original recording (404 `no_recording` when none was kept). */
    getVoiceRecording: (modelId: string) =>
      request<VoiceRecordingResponse>('GET', `/api/voice-models/${seg(modelId)}/recording`),
    /** A short sample of a cloned voice: a fixed text, so the server's cache makes repeats instant. */
    previewVoice: (modelId: string, text: string) =>
      request<SynthesizeResponse>('POST', '/api/synthesize', {
        body: { text, format: 'mp3', reference_id: modelId },
        timeoutMs: options.synthesizeTimeoutMs ?? 90_000,
      }),

    /** What Echo has spoken for this person, newest first. */
    listSpeechHistory: (page: { limit?: number; offset?: number } = {}) =>
      request<SpeechHistoryPage>('GET', '/api/speech-history', { query: page }),
    deleteSpeechHistoryItem: (itemId: string) =>
      request<{ success: true }>('DELETE', `/api/speech-history/${seg(itemId)}`),
    clearSpeechHistory: () => request<{ success: true; deleted: number }>('DELETE', '/api/speech-history'),

    /** The person's API keys for other apps (home assistants, chat apps), newest first; at most 20. */
    listApiKeys: () => request<ApiKeyPage>('GET', '/api/api-keys', { query: { limit: 100 } }),
    /** A new key: its secret (`key`) is in this answer only, never again. 400 `too_many_keys` past 20. */
    createApiKey: (name: string) => request<CreatedApiKey>('POST', '/api/api-keys', { body: { name } }),
    /** Revokes a key: from now on it answers 401, at once. */
    revokeApiKey: (keyId: string) => request<{ success: true }>('DELETE', `/api/api-keys/${seg(keyId)}`),
    /** Where other apps send speech requests: the OpenAI-compatible speech API at `<server>/v1`. */
    speechApiUrl: () => `${baseUrl}/v1`,

    /** Makes an echo; `talking_with` (your name) and `relation` (what you are to it) are optional. */
    createEcho: (echo: { name: string; persona_prompt: string; voice_model_id: string; talking_with?: string; relation?: string }) =>
      request<{ success: true; echo: Echo }>('POST', '/api/echo', { body: { ...echo } }),
    listEchos: () => request<{ success: true; echos: Echo[]; count: number }>('GET', '/api/echos'),
    getEcho: (echoId: string) => request<{ success: true; echo: Echo }>('GET', `/api/echo/${seg(echoId)}`),
    /**
     * Changes an echo; `{voice_model_id: "<one of your voices>"}` gives it another voice, `null` removes it;
     * `talking_with` / `relation` say who talks with it, and `""` clears one.
     */
    updateEcho: (echoId: string, changes: EchoChanges) =>
      request<{ success: true; echo: Echo }>('PATCH', `/api/echo/${seg(echoId)}`, { body: { ...changes } }),
    deleteEcho: (echoId: string) => request<{ success: true; message?: string }>('DELETE', `/api/echo/${seg(echoId)}`),
    getEchoVoiceModel: (echoId: string) =>
      request<{ success: true; voice_model: VoiceModel }>('GET', `/api/echo/${seg(echoId)}/voice-model`),

    listMessages: (echoId: string, limit?: number) =>
      request<{ success: true; messages: Message[] }>('GET', `/api/conversation/${seg(echoId)}`, { query: { limit } }),
    postMessage: (echoId: string, role: MessageRole, content: string) =>
      request<{ success: true; message: Message }>('POST', `/api/conversation/${seg(echoId)}`, { body: { role, content } }),
    replyToMessage,

    /** The echo's memories, newest first (at most 200 per echo). */
    listMemories: (echoId: string, page: { limit?: number; offset?: number } = {}) =>
      request<{ success: true; memories: Memory[]; total: number; limit: number; offset: number }>(
        'GET',
        `/api/echo/${seg(echoId)}/memories`,
        { query: page },
      ),
    addMemory: (echoId: string, text: string) =>
      request<{ success: true; memory: Memory }>('POST', `/api/echo/${seg(echoId)}/memories`, { body: { text } }),
    updateMemory: (echoId: string, memoryId: string, text: string) =>
      request<{ success: true; memory: Memory }>('PATCH', `/api/echo/${seg(echoId)}/memories/${seg(memoryId)}`, { body: { text } }),
    deleteMemory: (echoId: string, memoryId: string) =>
      request<{ success: true; deleted: true }>('DELETE', `/api/echo/${seg(echoId)}/memories/${seg(memoryId)}`),
  };
}

export type ApiClient = ReturnType<typeof createApiClient>;

/** The message to show for any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error && error.message) return error.message;
  return 'Something went wrong. Please try again.';
}
