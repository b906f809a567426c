/**
 * Auth0 sign-in with the authorization-code flow and PKCE (expo-auth-session).
 *
 * The access token (audience = the Echo API) goes on every API call; the ID token only
 * tells the app who signed in (`sub`, `email`). The backend verifies the access token. The refresh token
 * (scope offline_access) renews the access token when the server answers 401 (`refreshAuth0Tokens`).
 */
import { exchangeCodeAsync, makeRedirectUri, refreshAsync, ResponseType, useAuthRequest, useAutoDiscovery } from 'expo-auth-session';
import { useCallback, useEffect, useState } from 'react';

import type { Auth0Config } from '@/constants/config';

import { errorMessage } from './api';
import type { Auth0Tokens, RenewedTokens } from './session';

/** Auth0's token endpoint for a tenant domain. */
export function auth0TokenEndpoint(auth0: Auth0Config): string {
  return `https://${auth0.domain}/oauth/token`;
}

/** A new access token from a refresh token (expo-auth-session's refresh grant). */
export async function refreshAuth0Tokens(auth0: Auth0Config, refreshToken: string): Promise<RenewedTokens> {
  const tokens = await refreshAsync(
    { clientId: auth0.clientId, refreshToken, extraParams: { audience: auth0.audience } },
    { tokenEndpoint: auth0TokenEndpoint(auth0) },
  );
  return { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken ?? null, expiresIn: tokens.expiresIn ?? null };
}

/** The claims of a JWT's payload, unverified: only for display and the user's `sub`. */
export function decodeJwtPayload(token: string): Record<string, unknown> | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const base64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const binary = globalThis.atob(base64);
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    const json = new TextDecoder().decode(bytes);
    const payload: unknown = JSON.parse(json);
    return payload && typeof payload === 'object' ? (payload as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export interface Auth0SignIn {
  ready: boolean;
  busy: boolean;
  error: string | null;
  signIn: () => Promise<void>;
}

/**
 * Runs the Auth0 login and hands the tokens to `onTokens`. Render it only when Auth0 is
 * configured: it fetches the provider's discovery document on mount.
 */
export function useAuth0SignIn(auth0: Auth0Config, onTokens: (tokens: Auth0Tokens) => Promise<void>): Auth0SignIn {
  const discovery = useAutoDiscovery(`https://${auth0.domain}`);
  const redirectUri = makeRedirectUri({ scheme: 'echo', path: 'sign-in' });
  const [request, response, promptAsync] = useAuthRequest(
    {
      clientId: auth0.clientId,
      redirectUri,
      responseType: ResponseType.Code,
      usePKCE: true,
      // offline_access: a refresh token, so an expired access token is renewed without signing in again.
      scopes: ['openid', 'profile', 'email', 'offline_access'],
      extraParams: { audience: auth0.audience },
    },
    discovery,
  );
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!response || !discovery || !request) return;
    if (response.type === 'error') {
      setError(response.error?.message ?? 'Sign-in failed. Please try again.');
      setBusy(false);
      return;
    }
    if (response.type !== 'success') {
      setBusy(false);
      return;
    }
    let active = true;
    (async () => {
      try {
        const tokens = await exchangeCodeAsync(
          {
            clientId: auth0.clientId,
            code: response.params.code ?? '',
            redirectUri,
            extraParams: request.codeVerifier ? { code_verifier: request.codeVerifier } : {},
          },
          discovery,
        );
        const claims = tokens.idToken ? decodeJwtPayload(tokens.idToken) : decodeJwtPayload(tokens.accessToken);
        const sub = typeof claims?.sub === 'string' ? claims.sub : null;
        if (!sub) throw new Error('The sign-in provider did not say who you are. Please try again.');
        await onTokens({
          accessToken: tokens.accessToken,
          sub,
          email: typeof claims?.email === 'string' ? claims.email : null,
          name: typeof claims?.name === 'string' ? claims.name : null,
          refreshToken: tokens.refreshToken ?? null,
          expiresIn: tokens.expiresIn ?? null,
        });
      } catch (e) {
        if (active) setError(errorMessage(e));
      } finally {
        if (active) setBusy(false);
      }
    })();
    return () => {
      active = false;
    };
  }, [auth0, response, discovery, request, redirectUri, onTokens]);

  const signIn = useCallback(async () => {
    setError(null);
    setBusy(true);
    const result = await promptAsync().catch((e: unknown) => {
      setError(errorMessage(e));
      return null;
    });
    if (!result || result.type !== 'success') setBusy(false);
  }, [promptAsync]);

  return { ready: Boolean(request && discovery), busy, error, signIn };
}
