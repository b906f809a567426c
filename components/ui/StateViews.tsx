/** The shared loading, empty and error states of a screen, and an inline error banner. */
import type { ReactNode } from 'react';
import { ActivityIndicator, StyleSheet, Text, View } from 'react-native';

import { fontSize, radius, spacing, useTheme } from '@/constants/theme';

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
