/** Root layout: configuration, session and the guarded root stack. */
import { DarkTheme, DefaultTheme, ThemeProvider } from '@react-navigation/native';
import { StatusBar } from 'expo-status-bar';
import { useColorScheme } from 'react-native';

import { AppErrorBoundary } from '@/components/AppErrorBoundary';
import { ConfigGate } from '@/components/ConfigGate';
import { RootNavigator } from '@/components/RootNavigator';
import { LoadingView } from '@/components/ui/StateViews';
import { SessionProvider, useSession } from '@/lib/session';

export { AppErrorBoundary as ErrorBoundary };

export default function RootLayout() {
  const scheme = useColorScheme();
  return (
    <ThemeProvider value={scheme === 'dark' ? DarkTheme : DefaultTheme}>
      <ConfigGate>
        {(config) => (
          <SessionProvider config={config}>
            <SessionNavigator />
          </SessionProvider>
        )}
      </ConfigGate>
      <StatusBar style="auto" />
    </ThemeProvider>
  );
}

function SessionNavigator() {
  const { state } = useSession();
  if (state.status === 'loading') return <LoadingView label="Starting…" />;
  return <RootNavigator signedIn={state.status === 'signedIn'} />;
}
