/**
 * Loads and validates the configuration before anything talks to the backend; an invalid
 * EXPO_PUBLIC_API_URL or half-set Auth0 settings show a clear message instead of the app.
 */
import { useEffect, useState, type ReactNode } from 'react';
import { StyleSheet, Text, View } from 'react-native';

import { LoadingView } from '@/components/ui/StateViews';
import { buildConfig, buildTimeEnv, ConfigError, type AppConfig, type RawEnv } from '@/constants/config';
import { fontSize, spacing, useTheme } from '@/constants/theme';
import { loadRuntimeEnv } from '@/lib/runtimeConfig';

type ConfigState = { status: 'loading' } | { status: 'ready'; config: AppConfig } | { status: 'error'; message: string };

export function resolveConfig(runtime: RawEnv | null, build: RawEnv = buildTimeEnv()): ConfigState {
  try {
    return { status: 'ready', config: buildConfig({ ...build, ...(runtime ?? {}) }) };
  } catch (e) {
    return { status: 'error', message: e instanceof ConfigError ? e.message : String(e) };
  }
}

export function ConfigGate({ children }: { children: (config: AppConfig) => ReactNode }) {
  const [state, setState] = useState<ConfigState>({ status: 'loading' });
  useEffect(() => {
    let active = true;
    loadRuntimeEnv()
      .catch(() => null)
      .then((runtime) => {
        if (active) setState(resolveConfig(runtime));
      });
    return () => {
      active = false;
    };
  }, []);

  if (state.status === 'loading') return <LoadingView label="Starting…" />;
  if (state.status === 'error') return <ConfigErrorView message={state.message} />;
  return <>{children(state.config)}</>;
}

function ConfigErrorView({ message }: { message: string }) {
  const theme = useTheme();
  return (
    <View style={[styles.wrap, { backgroundColor: theme.background }]} testID="config-error">
      <Text style={[styles.title, { color: theme.text }]}>Echo is not configured correctly</Text>
      <Text style={[styles.message, { color: theme.textMuted }]}>{message}</Text>
    </View>
  );
}

const styles = StyleSheet.create({
  wrap: { flex: 1, alignItems: 'center', justifyContent: 'center', padding: spacing.xl, gap: spacing.md },
  title: { fontSize: fontSize.xl, fontWeight: '700', textAlign: 'center' },
  message: { fontSize: fontSize.md, textAlign: 'center' },
});
