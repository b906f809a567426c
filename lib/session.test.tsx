import { act, fireEvent, render, screen, waitFor } from '@testing-library/react-native';
import { Text } from 'react-native';

import { displayNameOf, localIdentity, SESSION_KEY, SessionProvider, useSession, type RenewTokens, type SessionStorage } from './session';

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
      <Text testID="name">{state.status === 'signedIn' ? displayNameOf(state.session) : ''}</Text>
      <Text testID="list" onPress={() => void api.listEchos().catch(() => undefined)}>
        list
      </Text>
      <Text testID="list-twice" onPress={() => void Promise.all([api.listEchos(), api.listVoiceModels()]).catch(() => undefined)}>
        list twice
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

  describe('renewing the token after a 401', () => {
    const saved = {
      mode: 'auth0',
      userId: 'u1',
      identity: 'auth0|1',
      email: 'sam@example.org',
      accessToken: 'old',
      refreshToken: 'refresh-1',
      expiresAt: Date.now() + 60_000,
    };
    const ok = response(200, { success: true, echos: [], count: 0, voice_models: [] });
    const denied = () => response(401, { success: false, error: 'unauthorized', message: 'Token expired' });
    const bearer = (call: unknown) => ((call as [string, RequestInit])[1].headers as Record<string, string>).Authorization;

    async function start(fetchImpl: jest.Mock, renewTokens: RenewTokens, session: object = saved) {
      const storage = memoryStorage({ [SESSION_KEY]: JSON.stringify(session) });
      render(
        <SessionProvider config={AUTH0} storage={storage} fetchImpl={fetchImpl as unknown as typeof fetch} renewTokens={renewTokens}>
          <Probe />
        </SessionProvider>,
      );
      await waitFor(() => expect(screen.getByTestId('user').props.children).toBe('u1'));
      return storage;
    }

    it('renews once with the refresh token and sends the request again', async () => {
      const fetchImpl = jest.fn().mockResolvedValueOnce(denied()).mockResolvedValue(ok);
      const renew = jest.fn(async () => ({ accessToken: 'new', refreshToken: 'refresh-2', expiresIn: 3600 }));
      const storage = await start(fetchImpl, renew);
      await act(async () => fireEvent.press(screen.getByTestId('list')));
      await waitFor(() => expect(fetchImpl).toHaveBeenCalledTimes(2));
      expect(renew).toHaveBeenCalledWith(AUTH0.auth0, 'refresh-1');
      expect(bearer(fetchImpl.mock.calls[0])).toBe('Bearer old');
      expect(bearer(fetchImpl.mock.calls[1])).toBe('Bearer new');
      expect(screen.getByTestId('status').props.children).toBe('signedIn');
      const kept = JSON.parse(storage.data.get(SESSION_KEY)!);
      expect(kept).toMatchObject({ accessToken: 'new', refreshToken: 'refresh-2' });
      expect(screen.getByTestId('name').props.children).toBe('sam@example.org');
    });

    it('signs out when the renewed token is refused too, renewing only once', async () => {
      const fetchImpl = jest.fn(async () => denied());
      const renew = jest.fn(async () => ({ accessToken: 'new' }));
      const storage = await start(fetchImpl, renew);
      await act(async () => fireEvent.press(screen.getByTestId('list')));
      await waitFor(() => expect(screen.getByTestId('status').props.children).toBe('signedOut'));
      expect(renew).toHaveBeenCalledTimes(1);
      expect(fetchImpl).toHaveBeenCalledTimes(2);
      expect(screen.getByTestId('notice').props.children).toMatch(/expired/);
      expect(storage.data.has(SESSION_KEY)).toBe(false);
    });

    it('signs out when renewing fails', async () => {
      const fetchImpl = jest.fn(async () => denied());
      const renew = jest.fn(async () => {
        throw new Error('invalid_grant');
      });
      await start(fetchImpl, renew);
      await act(async () => fireEvent.press(screen.getByTestId('list')));
      await waitFor(() => expect(screen.getByTestId('status').props.children).toBe('signedOut'));
      expect(fetchImpl).toHaveBeenCalledTimes(1);
    });

    it('shares one renewal between requests refused at the same time', async () => {
      const fetchImpl = jest.fn(async (_url: string, init: RequestInit) =>
        (init.headers as Record<string, string>).Authorization === 'Bearer old' ? denied() : ok,
      );
      const renew = jest.fn(async () => ({ accessToken: 'new' }));
      await start(fetchImpl, renew);
      await act(async () => fireEvent.press(screen.getByTestId('list-twice')));
      await waitFor(() => expect(fetchImpl).toHaveBeenCalledTimes(4));
      expect(renew).toHaveBeenCalledTimes(1);
      expect(screen.getByTestId('status').props.children).toBe('signedIn');
    });

    it('keeps an expired session that can be renewed', async () => {
      const fetchImpl = jest.fn().mockResolvedValueOnce(denied()).mockResolvedValue(ok);
      const renew = jest.fn(async () => ({ accessToken: 'new' }));
      await start(fetchImpl, renew, { ...saved, expiresAt: Date.now() - 1000 });
      await act(async () => fireEvent.press(screen.getByTestId('list')));
      await waitFor(() => expect(bearer(fetchImpl.mock.calls[1])).toBe('Bearer new'));
    });
  });

  it('shows the name typed in local mode, never "local|name"', async () => {
    const fetchImpl = jest.fn(async () => response(201, { success: true, user: 'u9', user_record: {}, created: true }));
    function SignIn() {
      const { signInLocal } = useSession();
      return (
        <Text testID="sign-in" onPress={() => void signInLocal('  Alex  Smith ')}>
          sign in
        </Text>
      );
    }
    render(
      <SessionProvider config={LOCAL} storage={memoryStorage()} fetchImpl={fetchImpl as unknown as typeof fetch}>
        <Probe />
        <SignIn />
      </SessionProvider>,
    );
    await waitFor(() => expect(screen.getByTestId('status').props.children).toBe('signedOut'));
    await act(async () => fireEvent.press(screen.getByTestId('sign-in')));
    await waitFor(() => expect(screen.getByTestId('name').props.children).toBe('Alex Smith'));
    expect((fetchImpl.mock.calls[0] as unknown as [string])[0]).toBe('http://localhost:5000/api/users/local%7Calex-smith');
  });
});

describe('displayNameOf', () => {
  it('shows a name, not the identity', () => {
    expect(displayNameOf({ mode: 'local', userId: 'u1', identity: 'local|alex' })).toBe('alex');
    expect(displayNameOf({ mode: 'auth0', userId: 'u1', identity: 'auth0|123', email: 'a@b.org' })).toBe('a@b.org');
    expect(displayNameOf({ mode: 'auth0', userId: 'u1', identity: 'auth0|123' })).toBe('You');
  });
});
