/**
 * Runtime configuration for the web build: whoever hosts the exported site may put an
 * `echo-config.json` beside index.html ({"apiUrl": "https://api.example.org"}) to point the
 * same build at another backend without rebuilding. Only the site's own origin can set it.
 */
import type { RawEnv } from '@/constants/config';

export const RUNTIME_CONFIG_PATH = '/echo-config.json';

export async function loadRuntimeEnv(fetchImpl: typeof fetch = fetch): Promise<RawEnv | null> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 3000);
  try {
    const response = await fetchImpl(RUNTIME_CONFIG_PATH, { signal: controller.signal, cache: 'no-store' });
    if (!response.ok) return null;
    const type = response.headers.get('Content-Type') ?? '';
    if (!type.includes('json')) return null; // an SPA fallback answering with index.html
    const body: unknown = await response.json();
    if (!body || typeof body !== 'object') return null;
    const b = body as Record<string, unknown>;
    const env: RawEnv = {};
    if (typeof b.apiUrl === 'string') env.EXPO_PUBLIC_API_URL = b.apiUrl;
    if (typeof b.auth0Domain === 'string') env.EXPO_PUBLIC_AUTH0_DOMAIN = b.auth0Domain;
    if (typeof b.auth0ClientId === 'string') env.EXPO_PUBLIC_AUTH0_CLIENT_ID = b.auth0ClientId;
    if (typeof b.auth0Audience === 'string') env.EXPO_PUBLIC_AUTH0_AUDIENCE = b.auth0Audience;
    return env;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}
