import { loadRuntimeEnv, RUNTIME_CONFIG_PATH } from './runtimeConfig.web';

function reply(status: number, body: unknown, type = 'application/json') {
  return jest.fn(async () => ({ ok: status < 300, status, headers: { get: () => type }, json: async () => body }) as unknown as Response);
}

describe('web runtime configuration', () => {
  it('reads the API URL from echo-config.json on the same origin', async () => {
    const fetchImpl = reply(200, { apiUrl: 'http://127.0.0.1:5055' });
    await expect(loadRuntimeEnv(fetchImpl as unknown as typeof fetch)).resolves.toEqual({ EXPO_PUBLIC_API_URL: 'http://127.0.0.1:5055' });
    expect((fetchImpl.mock.calls[0] as unknown[])[0]).toBe(RUNTIME_CONFIG_PATH);
  });

  it('ignores a missing file and an SPA fallback page', async () => {
    await expect(loadRuntimeEnv(reply(404, {}) as unknown as typeof fetch)).resolves.toBeNull();
    await expect(loadRuntimeEnv(reply(200, '<html>', 'text/html') as unknown as typeof fetch)).resolves.toBeNull();
    await expect(loadRuntimeEnv(jest.fn(async () => Promise.reject(new Error('offline'))) as unknown as typeof fetch)).resolves.toBeNull();
  });
});
