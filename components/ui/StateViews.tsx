/** The shared loading, empty and error states of a screen, and an inline error banner. */
import type { ReactNode } from 'react';
import { ActivityIndicator, StyleSheet, Text, View } from 'react-native';

import { fontSize, radius, spacing, useTheme } from '@/constants/theme';
import type { Resource } from '@/lib/useResource';

import { Button } from './Button';

export function LoadingView({ label = 'Loading…' }: { label?: string }) {
  const theme = useTheme();
  return (
    <View style={styles.center} testID="loading-view" accessibilityRole="progressbar" accessibilityLabel={label}>
      <ActivityIndicator color={theme.tint} />
      <Text style={[styles.muted, { color: theme.textMuted }]}>{label}</Text>
    </View>
  );
}

/**
 * A screen whose data has not come yet: its header, over the loading state while it loads, or else the error
 * (`failure` when there is no message) with a way to try again.
 */
export function NotLoadedView({
  header,
  resource,
  loadingLabel,
  failure,
}: {
  header: ReactNode;
  resource: Pick<Resource<unknown>, 'loading' | 'error' | 'reload'>;
  loadingLabel: string;
  failure: string;
}) {
  return (
    <>
      {header}
      {resource.loading ? <LoadingView label={loadingLabel} /> : <ErrorView message={resource.error ?? failure} onRetry={() => void resource.reload('initial')} />}
    </>
  );
}

export function EmptyView({ title, message, action }: { title: string; message?: string; action?: ReactNode }) {
  const theme = useTheme();
  return (
    <View style={styles.center} testID="empty-view">
      <Text style={[styles.title, { color: theme.text }]}>{title}</Text>
      {message ? <Text style={[styles.muted, { color: theme.textMuted }]}>{message}</Text> : null}
      {action ? <View style={styles.action}>{action}</View> : null}
    </View>
  );
}

export function ErrorView({ message, onRetry }: { message: string; onRetry?: () => void }) {
  const theme = useTheme();
  return (
    <View style={styles.center} testID="error-view">
      <Text style={[styles.title, { color: theme.text }]}>Something went wrong</Text>
      <Text style={[styles.muted, { color: theme.textMuted }]} accessibilityRole="alert">
        {message}
      </Text>
      {onRetry ? (
        <View style={styles.action}>
          <Button title="Try again" onPress={onRetry} testID="retry-button" />
        </View>
      ) : null}
    </View>
  );
}

export function ErrorBanner({ message, testID = 'error-banner' }: { message: string | null | undefined; testID?: string }) {
  const theme = useTheme();
  if (!message) return null;
  return (
    <View testID={testID} accessibilityRole="alert" style={[styles.banner, { borderColor: theme.danger, backgroundColor: theme.surface }]}>
      <Text style={{ color: theme.danger, fontSize: fontSize.md }}>{message}</Text>
    </View>
  );
}

export function NoticeBanner({ message, testID = 'notice-banner' }: { message: string | null | undefined; testID?: string }) {
  const theme = useTheme();
  if (!message) return null;
  return (
    <View testID={testID} style={[styles.banner, { borderColor: theme.border, backgroundColor: theme.surface }]}>
      <Text style={{ color: theme.text, fontSize: fontSize.md }}>{message}</Text>
    </View>
  );
}

const styles = StyleSheet.create({
  center: { flex: 1, alignItems: 'center', justifyContent: 'center', padding: spacing.xl, gap: spacing.sm },
  title: { fontSize: fontSize.lg, fontWeight: '700', textAlign: 'center' },
  muted: { fontSize: fontSize.md, textAlign: 'center' },
  action: { marginTop: spacing.md },
  banner: { borderWidth: 1, borderRadius: radius.md, padding: spacing.md, marginBottom: spacing.md },
});
