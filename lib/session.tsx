/**
 * Who is signed in, and the API client that speaks for them.
 *
 * Local mode (no Auth0): the person picks a name, the app registers "local|<name>" through
 * POST /api/users/<id> and keeps the returned user id. Auth0 mode: the access token from the
 * PKCE login goes on every call as a Bearer token; a 401 renews it once with the refresh token before
 * signing out. Either way the session is persisted.
 *
 * People never see "local|name" or an Auth0 `sub`: `displayNameOf` gives the name to show.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';

import type { AppConfig } from '@/constants/config';

import { ApiError, createApiClient, type ApiClient } from './api';
import { refreshAuth0Tokens } from './auth0';
import * as defaultStorage from './storage';

export const SESSION_KEY = 'echo.session.v1';

export interface Session {
  mode: 'local' | 'auth0';
  /** The backend's user id, sent as user_id. */
  userId: string;
  /** The identity the user record was made for: "local|name" or the Auth0 `sub`. */
  identity: string;
  email?: string | null;
  /** The name to show: what the person typed in local mode; their name or email with Auth0. */
  displayName?: string | null;
  accessToken?: string | null;
  /** Auth0's refresh token (scope offline_access): renews the access token after a 401. */
  refreshToken?: string | null;
  /** Access token expiry, epoch milliseconds. */
  expiresAt?: number | null;
}

/** The name to show for a session; never "local|…" or an Auth0 `sub`. */
export function displayNameOf(session: Session): string {
  const given = session.displayName?.trim();
  if (given) return given;
  if (session.mode === 'local') return session.identity.replace(/^local\|/, '');
  return session.email || 'You';
}

export type SessionState =
  | { status: 'loading' }
  | { status: 'signedOut'; notice?: string }
  | { status: 'signedIn'; session: Session };

export interface Auth0Tokens {
  accessToken: string;
  sub: string;
  email?: string | null;
  name?: string | null;
  refreshToken?: string | null;
  expiresIn?: number | null;
}

/** A renewed access token (and the refresh token, when the provider rotates it). */
export interface RenewedTokens {
  accessToken: string;
  refreshToken?: string | null;
  expiresIn?: number | null;
}

export type RenewTokens = (auth0: NonNullable<AppConfig['auth0']>, refreshToken: string) => Promise<RenewedTokens>;

export interface SessionContextValue {
  state: SessionState;
  config: AppConfig;
  api: ApiClient;
  signInLocal: (name: string) => Promise<void>;
  completeAuth0SignIn: (tokens: Auth0Tokens) => Promise<void>;
  signOut: (notice?: string) => Promise<void>;
}

export interface SessionStorage {
  getItem: (key: string) => Promise<string | null>;
  setItem: (key: string, value: string) => Promise<void>;
  removeItem: (key: string) => Promise<void>;
}

const SessionContext = createContext<SessionContextValue | null>(null);

/** Makes "local|<name>" from what the person typed: lower case letters, digits, dot, dash, underscore. */
export function localIdentity(name: string, random: () => string = () => Math.random().toString(36).slice(2, 8)): string {
  const slug = name
    .trim()
    .toLowerCase()
    .replace(/\s+/g, '-')
    .replace(/[^a-z0-9._-]/g, '')
    .slice(0, 48);
  return `local|${slug || `guest-${random()}`}`;
}

function isSession(value: unknown): value is Session {
  if (!value || typeof value !== 'object') return false;
  const v = value as Partial<Session>;
  return (v.mode === 'local' || v.mode === 'auth0') && typeof v.userId === 'string' && typeof v.identity === 'string';
}

export function SessionProvider({
  config,
  children,
  storage = defaultStorage,
  fetchImpl,
  renewTokens = refreshAuth0Tokens,
}: {
  config: AppConfig;
  children: ReactNode;
  storage?: SessionStorage;
  fetchImpl?: typeof fetch;
  renewTokens?: RenewTokens;
}) {
  const [state, setState] = useState<SessionState>({ status: 'loading' });
  const sessionRef = useRef<Session | null>(null);
  const signOutRef = useRef<(notice?: string) => Promise<void>>(async () => {});
  const renewRef = useRef<() => Promise<boolean>>(async () => false);

  const api = useMemo(
    () =>
      createApiClient({
        baseUrl: config.apiUrl,
        fetchImpl,
        getCredentials: () => ({
          userId: sessionRef.current?.userId ?? null,
          accessToken: sessionRef.current?.accessToken ?? null,
        }),
        renewCredentials: () => renewRef.current(),
        onUnauthorized: () => {
          if (sessionRef.current) void signOutRef.current('Your session has expired. Please sign in again.');
        },
      }),
    [config.apiUrl, fetchImpl],
  );

  const setSession = useCallback(
    async (session: Session | null, notice?: string) => {
      sessionRef.current = session;
      if (session) {
        await storage.setItem(SESSION_KEY, JSON.stringify(session)).catch(() => undefined);
        setState({ status: 'signedIn', session });
      } else {
        await storage.removeItem(SESSION_KEY).catch(() => undefined);
        setState({ status: 'signedOut', notice });
      }
    },
    [storage],
  );

  const signOut = useCallback((notice?: string) => setSession(null, notice), [setSession]);
  signOutRef.current = signOut;

  // After a 401: a new access token from the refresh token, once; false signs the person out.
  renewRef.current = async () => {
    const current = sessionRef.current;
    if (!current || current.mode !== 'auth0' || !current.refreshToken || !config.auth0) return false;
    try {
      const fresh = await renewTokens(config.auth0, current.refreshToken);
      if (sessionRef.current !== current || !fresh.accessToken) return false; // signed out meanwhile
      await setSession({
        ...current,
        accessToken: fresh.accessToken,
        refreshToken: fresh.refreshToken || current.refreshToken,
        expiresAt: fresh.expiresIn ? Date.now() + fresh.expiresIn * 1000 : null,
      });
      return true;
    } catch {
      return false;
    }
  };

  // Restore a saved session, dropping one from the other mode or with an expired token.
  useEffect(() => {
    let active = true;
    (async () => {
      let saved: Session | null = null;
      try {
        const raw = await storage.getItem(SESSION_KEY);
        const parsed: unknown = raw ? JSON.parse(raw) : null;
        if (isSession(parsed)) saved = parsed;
      } catch {
        saved = null;
      }
      if (!active) return;
      const wantedMode = config.auth0 ? 'auth0' : 'local';
      // An expired token with a refresh token is kept: the first 401 renews it.
      const expired = saved?.expiresAt != null && saved.expiresAt <= Date.now() && !saved.refreshToken;
      if (saved && saved.mode === wantedMode && !expired) {
        sessionRef.current = saved;
        setState({ status: 'signedIn', session: saved });
      } else {
        sessionRef.current = null;
        setState({ status: 'signedOut', notice: expired ? 'Your session has expired. Please sign in again.' : undefined });
      }
    })();
    return () => {
      active = false;
    };
  }, [storage, config.auth0]);

  const signInLocal = useCallback(
    async (name: string) => {
      const identity = localIdentity(name);
      const result = await api.ensureUser(identity);
      if (!result.user) throw new ApiError(500, 'invalid_response', 'The server did not return a user id.');
      await setSession({
        mode: 'local',
        userId: result.user,
        identity,
        email: result.user_record?.email ?? null,
        displayName: name.trim().replace(/\s+/g, ' ').slice(0, 48) || identity.replace(/^local\|/, ''),
      });
    },
    [api, setSession],
  );

  const completeAuth0SignIn = useCallback(
    async (tokens: Auth0Tokens) => {
      const expiresAt = tokens.expiresIn ? Date.now() + tokens.expiresIn * 1000 : null;
      // The token must be in place before the call: the backend derives the user from it.
      sessionRef.current = {
        mode: 'auth0',
        userId: '',
        identity: tokens.sub,
        accessToken: tokens.accessToken,
        refreshToken: tokens.refreshToken ?? null,
        expiresAt,
      };
      try {
        const result = await api.ensureUser(tokens.sub, tokens.email);
        await setSession({
          mode: 'auth0',
          userId: result.user,
          identity: tokens.sub,
          email: tokens.email ?? result.user_record?.email ?? null,
          displayName: tokens.name ?? tokens.email ?? result.user_record?.email ?? null,
          accessToken: tokens.accessToken,
          refreshToken: tokens.refreshToken ?? null,
          expiresAt,
        });
      } catch (error) {
        sessionRef.current = null;
        throw error;
      }
    },
    [api, setSession],
  );

  const value = useMemo<SessionContextValue>(
    () => ({ state, config, api, signInLocal, completeAuth0SignIn, signOut }),
    [state, config, api, signInLocal, completeAuth0SignIn, signOut],
  );

  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionContextValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession must be used inside <SessionProvider>.');
  return value;
}

export function useApi(): ApiClient {
  return useSession().api;
}

/** The signed-in session; only for screens behind the sign-in guard. */
export function useSignedInSession(): Session {
  const { state } = useSession();
  if (state.status !== 'signedIn') throw new Error('This screen needs a signed-in user.');
  return state.session;
}

/** For tests and previews: a provider with a fixed state and API client. */
export function StaticSessionProvider({ value, children }: { value: SessionContextValue; children: ReactNode }) {
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}
