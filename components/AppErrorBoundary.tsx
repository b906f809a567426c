/** The screen shown when a route throws while rendering: a plain message and a retry. */
import type { ErrorBoundaryProps } from 'expo-router';
import { StyleSheet, Text, View } from 'react-native';

import { Button } from '@/components/ui/Button';
import { fontSize, spacing, useTheme } from '@/constants/theme';

export function AppErrorBoundary({ error, retry }: ErrorBoundaryProps) {
  const theme = useTheme();
  return (
    <View style={[styles.wrap, { backgroundColor: theme.background }]} testID="app-error-boundary">
      <Text style={[styles.title, { color: theme.text }]}>Something went wrong</Text>
      <Text style={[styles.message, { color: theme.textMuted }]}>{error.message || 'An unexpected error happened.'}</Text>
      <Button title="Try again" onPress={() => void retry()} testID="error-boundary-retry" />
    </View>
  );
}

const styles = StyleSheet.create({
  wrap: { flex: 1, alignItems: 'center', justifyContent: 'center', padding: spacing.xl, gap: spacing.md },
  title: { fontSize: fontSize.xl, fontWeight: '700' },
  message: { fontSize: fontSize.md, textAlign: 'center' },
});
