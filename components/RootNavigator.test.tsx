import { Slot } from 'expo-router';
import { renderRouter, screen } from 'expo-router/testing-library';
import { Text } from 'react-native';

import { RootNavigator } from './RootNavigator';

function routes(signedIn: boolean) {
  return {
    _layout: () => <RootNavigator signedIn={signedIn} />,
    '(tabs)/_layout': () => <Slot />,
    '(tabs)/index': () => <Text>Echos home</Text>,
    '(tabs)/settings': () => <Text>Settings page</Text>,
    '(auth)/sign-in': () => <Text>Sign in page</Text>,
    'echo/new': () => <Text>New echo page</Text>,
    'echo/[id]': () => <Text>Conversation page</Text>,
    'echo/[id]/memories': () => <Text>Memories page</Text>,
    'echo/[id]/edit': () => <Text>Edit echo page</Text>,
    'voice/new': () => <Text>New voice page</Text>,
    connect: () => <Text>Connect other apps page</Text>,
    '(tabs)/history': () => <Text>History page</Text>,
    '+not-found': () => <Text>Not found page</Text>,
  };
}

describe('sign-in guard', () => {
  it('sends a signed-out user from the home screen to sign-in', () => {
    renderRouter(routes(false), { initialUrl: '/' });
    expect(screen.getByText('Sign in page')).toBeTruthy();
    expect(screen.queryByText('Echos home')).toBeNull();
  });

  it.each(['/echo/e1', '/echo/new', '/settings'])('keeps a signed-out user out of %s', (url) => {
    renderRouter(routes(false), { initialUrl: url });
    expect(screen.getByText('Sign in page')).toBeTruthy();
    expect(screen.queryByText('Conversation page')).toBeNull();
    expect(screen.queryByText('New echo page')).toBeNull();
    expect(screen.queryByText('Settings page')).toBeNull();
  });

  it('lets a signed-in user in', () => {
    renderRouter(routes(true), { initialUrl: '/echo/e1' });
    expect(screen.getByText('Conversation page')).toBeTruthy();
  });

  it("opens an echo's memories beside its conversation", () => {
    renderRouter(routes(true), { initialUrl: '/echo/e1/memories' });
    expect(screen.getByText('Memories page')).toBeTruthy();
    expect(screen.queryByText('Conversation page')).toBeNull();
  });

  it('keeps a signed-out user out of the memories', () => {
    renderRouter(routes(false), { initialUrl: '/echo/e1/memories' });
    expect(screen.getByText('Sign in page')).toBeTruthy();
    expect(screen.queryByText('Memories page')).toBeNull();
  });

  it.each([
    ['/echo/e1/edit', 'Edit echo page'],
    ['/voice/new', 'New voice page'],
    ['/history', 'History page'],
    ['/connect', 'Connect other apps page'],
  ])('opens %s for a signed-in user and keeps a signed-out one out', (url, text) => {
    const signedIn = renderRouter(routes(true), { initialUrl: url });
    expect(screen.getByText(text)).toBeTruthy();
    signedIn.unmount();
    renderRouter(routes(false), { initialUrl: url });
    expect(screen.getByText('Sign in page')).toBeTruthy();
    expect(screen.queryByText(text)).toBeNull();
  });

  it('sends a signed-in user away from sign-in', () => {
    renderRouter(routes(true), { initialUrl: '/sign-in' });
    expect(screen.queryByText('Sign in page')).toBeNull();
    expect(screen.getByText('Echos home')).toBeTruthy();
  });
});
