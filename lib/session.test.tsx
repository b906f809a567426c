import { act, fireEvent, render, screen, waitFor } from '@testing-library/react-native';
import { Text } from 'react-native';

import { localIdentity, SESSION_KEY, SessionProvider, useSession, type SessionStorage } from './session';

function memoryStorage(initial: Record<string, string> = {}): SessionStorage & { data: Map<string, string> } {
  const data = new Map(Object.entries(initial));
  return {
    data,
    getItem: async (k) => data.get(k) ?? null,
    setItem: async (k, v) => {
      data.set(k, v);
    },
    removeItem: async (k) => {
      data.delete(k);
    },
  };
}

function Probe() {
  const { state, api } = useSession();
  return (
    <>
      <Text testID="status">{state.status}</Text>
      <Text testID="notice">{state.status === 'signedOut' ? (state.notice ?? '') : ''}</Text>
      <Text testID="user">{state.status === 'signedIn' ? state.session.userId : ''}</Text>
      <Text testID="list" onPress={() => void api.listEchos().catch(() => undefined)}>
        list
      </Text>
    </>
  );
}

function response(status: number, body: unknown) {
  return { ok: status < 300, status, headers: { get: () => null }, text: async () => JSON.stringify(body) } as unknown as Response;
}

const LOCAL = { apiUrl: 'http://localhost:5000', auth0: null };
const AUTH0 = { apiUrl: 'http://localhost:5000', auth0: { domain: 'echo.auth0.com', clientId: 'c', audience: 'a' } };

describe('localIdentity', () => {
  it('makes a safe local identity from a name', () => {
    expect(localIdentity('  Alex Smith! ')).toBe('local|alex-smith');
    expect(localIdentity('', () => 'abc123')).toBe('local|guest-abc123');
  });
});

describe('SessionProvider', () => {
  it('starts signed out with nothing saved', async () => {
    render(
      <SessionProvider config={LOCAL} storage={memoryStorage()}>
        <Probe />
      </SessionProvider>,
    );
    await waitFor(() => expect(screen.getByTestId('status').props.children).toBe('signedOut'));
  });

  it('drops a saved session from the other mode', async () => {
    const storage = memoryStorage({ [SESSION_KEY]: JSON.stringify({ mode: 'local', userId: 'u1', identity: 'local|a' }) });
    render(
      <SessionProvider config={AUTH0} storage={storage}>
        <Probe />
      </SessionProvider>,
    );
    await waitFor(() => expect(screen.getByTestId('status').props.children).toBe('signedOut'));
  });

  it('drops a session whose token has expired, saying why', async () => {
    const saved = { mode: 'auth0', userId: 'u1', identity: 'auth0|1', accessToken: 't', expiresAt: Date.now() - 1000 };
    render(
      <SessionProvider config={AUTH0} storage={memoryStorage({ [SESSION_KEY]: JSON.stringify(saved) })}>
        <Probe />
      </SessionProvider>,
    );
    await waitFor(() => expect(screen.getByTestId('notice').props.children).toMatch(/expired/));
  });

  it('sends the bearer token and signs out when the server answers 401', async () => {
    const saved = { mode: 'auth0', userId: 'u1', identity: 'auth0|1', accessToken: 'tok', expiresAt: Date.now() + 60_000 };
    const storage = memoryStorage({ [SESSION_KEY]: JSON.stringify(saved) });
    const fetchImpl = jest.fn(async () => response(401, { success: false, error: 'unauthorized', message: 'Token expired' }));
    render(
      <SessionProvider config={AUTH0} storage={storage} fetchImpl={fetchImpl as unknown as typeof fetch}>
        <Probe />
      </SessionProvider>,
    );
    await waitFor(() => expect(screen.getByTestId('user').props.children).toBe('u1'));
    await act(async () => fireEvent.press(screen.getByTestId('list')));
    const init = (fetchImpl.mock.calls[0] as unknown as [string, RequestInit])[1];
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer tok');
    await waitFor(() => expect(screen.getByTestId('status').props.children).toBe('signedOut'));
    expect(storage.data.has(SESSION_KEY)).toBe(false);
  });
});
