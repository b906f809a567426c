/** The whole app in the router: configuration, session restore, local sign-in and the guard together. */
import { fireEvent, renderRouter, screen, waitFor } from 'expo-router/testing-library';
import * as SecureStore from 'expo-secure-store';

import RootLayout from '@/app/_layout';
import SignIn from '@/app/(auth)/sign-in';
import TabsLayout from '@/app/(tabs)/_layout';
import Echos from '@/app/(tabs)/index';
import Settings from '@/app/(tabs)/settings';
import Voices from '@/app/(tabs)/voices';
import NotFound from '@/app/+not-found';
import Conversation from '@/app/echo/[id]';
import NewEcho from '@/app/echo/new';
import { SESSION_KEY } from '@/lib/session';

const routes = {
  _layout: RootLayout,
  '(auth)/sign-in': SignIn,
  '(tabs)/_layout': TabsLayout,
  '(tabs)/index': Echos,
  '(tabs)/voices': Voices,
  '(tabs)/settings': Settings,
  'echo/new': NewEcho,
  'echo/[id]': Conversation,
  '+not-found': NotFound,
};

function json(status: number, body: unknown) {
  return Promise.resolve({
    ok: status < 300,
    status,
    headers: { get: () => null },
    text: async () => JSON.stringify(body),
  } as unknown as Response);
}

const store = (SecureStore as unknown as { __store: Map<string, string> }).__store;
const fetchMock = jest.fn();

beforeEach(() => {
  store.clear();
  fetchMock.mockReset();
  global.fetch = fetchMock as unknown as typeof fetch;
});

describe('Echo app', () => {
  it('signs in locally, keeps the user id, and shows their echos', async () => {
    fetchMock.mockImplementation((url: string, init?: RequestInit) => {
      if (url === 'http://localhost:5000/api/users/local%7Calex' && init?.method === 'POST') {
        return json(201, { success: true, user: 'user-123', user_record: { _id: 'user-123', auth0_user_id: 'local|alex', created_at: '' }, created: true });
      }
      if (url === 'http://localhost:5000/api/echos?user_id=user-123') return json(200, { success: true, echos: [], count: 0 });
      return json(404, { success: false, error: 'not_found', message: `unexpected ${url}` });
    });
    renderRouter(routes, { initialUrl: '/' });
    fireEvent.changeText(await screen.findByTestId('local-name-input'), 'Alex');
    fireEvent.press(screen.getByTestId('local-sign-in-button'));
    expect(await screen.findByText('No echos yet')).toBeTruthy();
    expect(JSON.parse(store.get(SESSION_KEY)!)).toMatchObject({ mode: 'local', userId: 'user-123', identity: 'local|alex' });
  });

  it('restores a saved session and signs out from Settings', async () => {
    store.set(SESSION_KEY, JSON.stringify({ mode: 'local', userId: 'user-9', identity: 'local|sam' }));
    fetchMock.mockImplementation((url: string) => {
      if (url.startsWith('http://localhost:5000/api/echos')) return json(200, { success: true, echos: [], count: 0 });
      if (url === 'http://localhost:5000/health') return json(200, { status: 'healthy', components: {} });
      return json(404, { success: false, error: 'not_found', message: 'nope' });
    });
    renderRouter(routes, { initialUrl: '/settings' });
    expect(await screen.findByText('sam')).toBeTruthy();
    expect(screen.queryByText(/local\|/)).toBeNull();
    fireEvent.press(screen.getByTestId('sign-out-button'));
    expect(await screen.findByTestId('sign-in-screen')).toBeTruthy();
    expect(store.has(SESSION_KEY)).toBe(false);
  });

  it('shows the server error when local sign-in fails', async () => {
    fetchMock.mockImplementation(() => json(503, { success: false, error: 'database_unavailable', message: 'The database is unavailable right now.' }));
    renderRouter(routes, { initialUrl: '/' });
    fireEvent.changeText(await screen.findByTestId('local-name-input'), 'Alex');
    fireEvent.press(screen.getByTestId('local-sign-in-button'));
    expect(await screen.findByText('The database is unavailable right now.')).toBeTruthy();
    await waitFor(() => expect(screen.getByTestId('sign-in-screen')).toBeTruthy());
  });
});
