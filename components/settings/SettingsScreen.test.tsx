import { act, fireEvent, screen } from '@testing-library/react-native';

import { ApiError } from '@/lib/api';
import { confirmAsync } from '@/lib/confirm';
import { deferred, makeMockApi } from '@/test-utils/api';
import { renderWithSession } from '@/test-utils/render';
import { mockRouter } from '@/test-utils/router';

import { SettingsScreen } from './SettingsScreen';

jest.mock('@/lib/confirm', () => ({ confirmAsync: jest.fn() }));
jest.mock('expo-router', () => require('@/test-utils/router').routerModule());

beforeEach(() => jest.clearAllMocks());

const HEALTHY = {
  status: 'healthy',
  components: { database: { status: 'ok' }, voice_provider: { status: 'ok', provider: 'local', description: 'Local voice engine' } },
};

describe('SettingsScreen', () => {
  it('shows the name (never "local|name"), the health while loading and after, and the details one tap away', async () => {
    const api = makeMockApi();
    const pending = deferred<typeof HEALTHY>();
    api.health.mockReturnValue(pending.promise);
    renderWithSession(<SettingsScreen />, { api });
    expect(screen.getByTestId('settings-health').props.children).toBe('Checking…');
    expect(screen.getByTestId('settings-identity').props.children).toBe('alex');
    expect(screen.queryByText(/local\|/)).toBeNull();
    expect(screen.queryByTestId('settings-user-id')).toBeNull();
    expect(screen.queryByTestId('settings-api-url')).toBeNull();
    await act(async () => pending.resolve(HEALTHY));
    expect(screen.getByTestId('settings-health').props.children).toBe('Working');
    expect(screen.queryByText('Local voice engine')).toBeNull();

    fireEvent.press(screen.getByTestId('settings-details-toggle'));
    expect(screen.getByTestId('settings-api-url').props.children).toBe('http://localhost:5000');
    expect(screen.getByTestId('settings-user-id').props.children).toBe('u1');
    expect(screen.getByTestId('settings-sign-in-id').props.children).toBe('local|alex');
    expect(screen.getByText('Local voice engine')).toBeTruthy();
  });

  it('shows the name typed at sign-in', () => {
    const api = makeMockApi();
    api.health.mockResolvedValue(HEALTHY);
    renderWithSession(<SettingsScreen />, {
      api,
      state: { status: 'signedIn', session: { mode: 'local', userId: 'u1', identity: 'local|alex-smith', displayName: 'Alex Smith' } },
    });
    expect(screen.getByTestId('settings-identity').props.children).toBe('Alex Smith');
  });

  it('says in words when the server is degraded, with the details one tap away', async () => {
    const api = makeMockApi();
    api.health.mockResolvedValue({ status: 'degraded', components: { database: { status: 'unavailable' }, voice_provider: { status: 'ok' } } });
    renderWithSession(<SettingsScreen />, { api });
    expect(await screen.findByText('Partly working: some things may fail for now')).toBeTruthy();
    fireEvent.press(screen.getByTestId('settings-details-toggle'));
    expect(screen.getByText('Degraded (database: unavailable, voice: ok)')).toBeTruthy();
  });

  it('says when the backend cannot be reached', async () => {
    const api = makeMockApi();
    api.health.mockRejectedValue(new ApiError(0, 'network_error', 'Could not reach the Echo server at http://localhost:5000.'));
    renderWithSession(<SettingsScreen />, { api });
    expect(await screen.findByText('Not answering')).toBeTruthy();
    expect(screen.getByText('Could not reach the Echo server at http://localhost:5000.')).toBeTruthy();
  });

  it('leads to connecting other apps', async () => {
    const api = makeMockApi();
    api.health.mockResolvedValue(HEALTHY);
    renderWithSession(<SettingsScreen />, { api });
    await act(async () => {});
    expect(screen.getByText(/home assistant/)).toBeTruthy();
    fireEvent.press(screen.getByTestId('connect-apps-button'));
    expect(mockRouter.push).toHaveBeenCalledWith('/connect');
  });

  it('signs out', async () => {
    const api = makeMockApi();
    api.health.mockResolvedValue(HEALTHY);
    const { session } = renderWithSession(<SettingsScreen />, { api });
    await act(async () => fireEvent.press(screen.getByTestId('sign-out-button')));
    expect(session.signOut).toHaveBeenCalled();
  });

  it('deletes the account after confirmation and signs out', async () => {
    const api = makeMockApi();
    api.health.mockResolvedValue(HEALTHY);
    api.deleteUser.mockResolvedValue({ success: true });
    jest.mocked(confirmAsync).mockResolvedValue(true);
    const { session } = renderWithSession(<SettingsScreen />, { api });
    await act(async () => fireEvent.press(screen.getByTestId('delete-account-button')));
    expect(api.deleteUser).toHaveBeenCalledWith('local|alex');
    expect(session.signOut).toHaveBeenCalledWith('Your account and everything in it were deleted.');
  });

  it('keeps the account when the deletion is not confirmed, and shows failures', async () => {
    const api = makeMockApi();
    api.health.mockResolvedValue(HEALTHY);
    jest.mocked(confirmAsync).mockResolvedValueOnce(false).mockResolvedValueOnce(true);
    api.deleteUser.mockRejectedValue(new ApiError(503, 'database_unavailable', 'The database is unavailable.'));
    const { session } = renderWithSession(<SettingsScreen />, { api });
    await act(async () => fireEvent.press(screen.getByTestId('delete-account-button')));
    expect(api.deleteUser).not.toHaveBeenCalled();
    await act(async () => fireEvent.press(screen.getByTestId('delete-account-button')));
    expect(screen.getByText('The database is unavailable.')).toBeTruthy();
    expect(session.signOut).not.toHaveBeenCalled();
  });
});
