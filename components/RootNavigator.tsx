/** The root stack with the sign-in guard: signed-out users only reach the sign-in screen. */
import { Stack } from 'expo-router';

export function RootNavigator({ signedIn }: { signedIn: boolean }) {
  return (
    <Stack>
      <Stack.Protected guard={signedIn}>
        <Stack.Screen name="(tabs)" options={{ headerShown: false }} />
        <Stack.Screen name="echo/new" options={{ title: 'New echo', presentation: 'modal' }} />
        <Stack.Screen name="echo/[id]" options={{ title: 'Conversation' }} />
        <Stack.Screen name="echo/[id]/memories" options={{ title: 'Memories' }} />
        <Stack.Screen name="echo/[id]/edit" options={{ title: 'Edit echo' }} />
        <Stack.Screen name="voice/new" options={{ title: 'New voice', presentation: 'modal' }} />
        <Stack.Screen name="connect" options={{ title: 'Connect other apps' }} />
      </Stack.Protected>
      <Stack.Protected guard={!signedIn}>
        <Stack.Screen name="(auth)/sign-in" options={{ headerShown: false, title: 'Sign in' }} />
      </Stack.Protected>
      <Stack.Screen name="+not-found" options={{ title: 'Not found' }} />
    </Stack>
  );
}
