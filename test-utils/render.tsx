/** Renders a screen inside a signed-in (or signed-out) session with a fake API client. */
import { render } from '@testing-library/react-native';
import type { ReactElement, ReactNode } from 'react';

import type { AppConfig } from '@/constants/config';
import type { ApiClient } from '@/lib/api';
import { StaticSessionProvider, type Session, type SessionContextValue, type SessionState } from '@/lib/session';

import { makeMockApi, type MockApi } from './api';

export const TEST_SESSION: Session = { mode: 'local', userId: 'u1', identity: 'local|alex', email: null };

export function renderWithSession(
  ui: ReactElement,
  options: { api?: MockApi; state?: SessionState; config?: AppConfig } = {},
) {
  const api = options.api ?? makeMockApi();
  const value: SessionContextValue = {
    state: options.state ?? { status: 'signedIn', session: TEST_SESSION },
    config: options.config ?? { apiUrl: 'http://localhost:5000', auth0: null },
    api: api as unknown as ApiClient,
    signInLocal: jest.fn(async () => undefined),
    completeAuth0SignIn: jest.fn(async () => undefined),
    signOut: jest.fn(async () => undefined),
  };
  // A wrapper (not a parent element) so that rerender() keeps the session.
  const Wrapper = ({ children }: { children: ReactNode }) => <StaticSessionProvider value={value}>{children}</StaticSessionProvider>;
  const result = render(ui, { wrapper: Wrapper });
  return { ...result, api, session: value };
}
