import { act, fireEvent, screen } from '@testing-library/react-native';

import { ApiError } from '@/lib/api';
import { renderWithSession } from '@/test-utils/render';

import { SignInScreen } from './SignInScreen';

const mockAuth = { ready: true, busy: false, error: null as string | null, signIn: jest.fn(async () => undefined) };
jest.mock('@/lib/auth0', () => ({ useAuth0SignIn: () => mockAuth }));

describe('SignInScreen', () => {
  it('signs in locally with the name given', async () => {
    const { session } = renderWithSession(<SignInScreen />, { state: { status: 'signedOut' } });
    fireEvent.changeText(screen.getByTestId('local-name-input'), 'alex');
    await act(async () => fireEvent.press(screen.getByTestId('local-sign-in-button')));
    expect(session.signInLocal).toHaveBeenCalledWith('alex');
    // The server's address is a technical detail: one tap away.
    expect(screen.queryByTestId('sign-in-server')).toBeNull();
    fireEvent.press(screen.getByTestId('sign-in-details-toggle'));
    expect(screen.getByTestId('sign-in-server').props.children).toBe('http://localhost:5000');
  });

  it('asks for a name rather than signing in as nobody', async () => {
    const { session } = renderWithSession(<SignInScreen />, { state: { status: 'signedOut' } });
    fireEvent.changeText(screen.getByTestId('local-name-input'), '  !!! ');
    await act(async () => fireEvent.press(screen.getByTestId('local-sign-in-button')));
    expect(screen.getByText('Please write your name, with at least one letter or number.')).toBeTruthy();
    expect(session.signInLocal).not.toHaveBeenCalled();
  });

  it("shows why local sign-in failed", async () => {
    const { session } = renderWithSession(<SignInScreen />, { state: { status: 'signedOut' } });
    jest.mocked(session.signInLocal).mockRejectedValue(new ApiError(0, 'network_error', 'Could not reach the Echo server at http://localhost:5000.'));
    fireEvent.changeText(screen.getByTestId('local-name-input'), 'alex');
    await act(async () => fireEvent.press(screen.getByTestId('local-sign-in-button')));
    expect(screen.getByText('Could not reach the Echo server at http://localhost:5000.')).toBeTruthy();
  });

  it('shows why the user was signed out', () => {
    renderWithSession(<SignInScreen />, { state: { status: 'signedOut', notice: 'Your session has expired. Please sign in again.' } });
    expect(screen.getByText('Your session has expired. Please sign in again.')).toBeTruthy();
  });

  it('offers the Auth0 login when Auth0 is configured', async () => {
    renderWithSession(<SignInScreen />, {
      state: { status: 'signedOut' },
      config: { apiUrl: 'https://api.echo.example.org', auth0: { domain: 'echo.auth0.com', clientId: 'c', audience: 'a' } },
    });
    expect(screen.queryByTestId('local-name-input')).toBeNull();
    await act(async () => fireEvent.press(screen.getByTestId('auth0-sign-in-button')));
    expect(mockAuth.signIn).toHaveBeenCalled();
  });
});
