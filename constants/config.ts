/**
 * App configuration from EXPO_PUBLIC_* variables, validated once at start.
 *
 * Expo inlines `process.env.EXPO_PUBLIC_*` at build time only when each one is read
 * with plain dot notation, so they are listed one by one below.
 */

export const DEFAULT_API_URL = 'http://localhost:5000';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface Auth0Config {
  domain: string;
  clientId: string;
  audience: string;
}

export interface AppConfig {
  /** Backend base URL without a trailing slash, e.g. "http://localhost:5000". */
  apiUrl: string;
  /** Auth0 settings, or null for local mode (no sign-in provider). */
  auth0: Auth0Config | null;
}

export interface RawEnv {
  EXPO_PUBLIC_API_URL?: string;
  EXPO_PUBLIC_AUTH0_DOMAIN?: string;
  EXPO_PUBLIC_AUTH0_CLIENT_ID?: string;
  EXPO_PUBLIC_AUTH0_AUDIENCE?: string;
}

const URL_PATTERN = /^(https?):\/\/([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?(\/[^\s?#]*)?$/;

/** Checks a backend base URL and returns it without a trailing slash; throws ConfigError. */
export function parseApiUrl(raw: string | undefined | null): string {
  const value = (raw ?? '').trim();
  if (!value) return DEFAULT_API_URL;
  const match = URL_PATTERN.exec(value);
  if (!match) {
    throw new ConfigError(
      `The backend URL "${value}" is not valid. Use a full http:// or https:// address such as ${DEFAULT_API_URL}, with no query string.`,
    );
  }
  const port = match[3];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) {
    throw new ConfigError(`The backend URL "${value}" has an invalid port number.`);
  }
  return value.replace(/\/+$/, '');
}

const DOMAIN_PATTERN = /^[A-Za-z0-9.-]+(?::\d{1,5})?$/;

/** Auth0 settings when all three are set, null when none is; throws ConfigError when only some are. */
export function parseAuth0Config(env: RawEnv): Auth0Config | null {
  const domainRaw = (env.EXPO_PUBLIC_AUTH0_DOMAIN ?? '').trim();
  const clientId = (env.EXPO_PUBLIC_AUTH0_CLIENT_ID ?? '').trim();
  const audience = (env.EXPO_PUBLIC_AUTH0_AUDIENCE ?? '').trim();
  const given = [domainRaw, clientId, audience].filter(Boolean).length;
  if (given === 0) return null;
  if (given < 3) {
    throw new ConfigError(
      'Auth0 is only partly configured: set EXPO_PUBLIC_AUTH0_DOMAIN, EXPO_PUBLIC_AUTH0_CLIENT_ID and EXPO_PUBLIC_AUTH0_AUDIENCE together, or none of them for local mode.',
    );
  }
  const domain = domainRaw.replace(/^https?:\/\//, '').replace(/\/+$/, '');
  if (!DOMAIN_PATTERN.test(domain)) {
    throw new ConfigError(`EXPO_PUBLIC_AUTH0_DOMAIN "${domainRaw}" is not a host name.`);
  }
  return { domain, clientId, audience };
}

export function buildConfig(env: RawEnv): AppConfig {
  return { apiUrl: parseApiUrl(env.EXPO_PUBLIC_API_URL), auth0: parseAuth0Config(env) };
}

/** The variables baked in at build time. */
export function buildTimeEnv(): RawEnv {
  return {
    EXPO_PUBLIC_API_URL: process.env.EXPO_PUBLIC_API_URL,
    EXPO_PUBLIC_AUTH0_DOMAIN: process.env.EXPO_PUBLIC_AUTH0_DOMAIN,
    EXPO_PUBLIC_AUTH0_CLIENT_ID: process.env.EXPO_PUBLIC_AUTH0_CLIENT_ID,
    EXPO_PUBLIC_AUTH0_AUDIENCE: process.env.EXPO_PUBLIC_AUTH0_AUDIENCE,
  };
}

/** Upload limits the backend enforces; shown to the user before they pick a file. */
export const VOICE_LIMITS = {
  minSeconds: 3,
  maxSeconds: 270,
  recommendedMin: 10,
  recommendedMax: 30,
} as const;

/** What a voice's preview says: short and fixed (the server caches the answer, so repeats are instant). */
export const SAMPLE_TEXT = 'Hello. This is how this voice sounds in Echo.';
