/** A fake API client: every method a jest.fn that fails unless the test gives it an answer. */
import type { ApiClient } from '@/lib/api';

export type MockApi = { [K in keyof ApiClient]: ApiClient[K] extends (...args: infer A) => infer R ? jest.Mock<R, A> : ApiClient[K] };

const METHODS = [
  'health',
  'ensureUser',
  'getUser',
  'deleteUser',
  'uploadReference',
  'synthesize',
  'speakAsEcho',
  'listVoiceModels',
  'getVoiceModel',
  'deleteVoiceModel',
  'renameVoiceModel',
  'getVoiceRecording',
  'previewVoice',
  'listSpeechHistory',
  'deleteSpeechHistoryItem',
  'clearSpeechHistory',
  'listApiKeys',
  'createApiKey',
  'revokeApiKey',
  'createEcho',
  'listEchos',
  'getEcho',
  'updateEcho',
  'deleteEcho',
  'getEchoVoiceModel',
  'listMessages',
  'postMessage',
  'replyToMessage',
  'listMemories',
  'addMemory',
  'updateMemory',
  'deleteMemory',
] as const;

export function makeMockApi(baseUrl = 'http://localhost:5000'): MockApi {
  const api: Record<string, unknown> = {
    baseUrl,
    resolveUrl: jest.fn((path: string) => `${baseUrl}${path}`),
    speechApiUrl: jest.fn(() => `${baseUrl}/v1`),
    audioSource: jest.fn((path: string, signed?: boolean) => ({ uri: signed ? `${baseUrl}${path}` : `${baseUrl}${path}?user_id=u1` })),
  };
  for (const name of METHODS) {
    api[name] = jest.fn(() => Promise.reject(new Error(`api.${name} was not mocked`)));
  }
  return api as unknown as MockApi;
}

/** A promise the test settles by hand, to look at loading states. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
