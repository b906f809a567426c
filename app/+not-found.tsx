import { Link, Stack } from 'expo-router';
import { StyleSheet, Text, View } from 'react-native';

import { fontSize, spacing, useTheme } from '@/constants/theme';

export default function NotFoundScreen() {
  const theme = useTheme();
  return (
    <>
      <Stack.Screen options={{ title: 'Not found' }} />
      <View style={[styles.wrap, { backgroundColor: theme.background }]} testID="not-found">
        <Text style={[styles.title, { color: theme.text }]}>This page does not exist.</Text>
        <Link href="/" style={[styles.link, { color: theme.tint }]}>
          Go to your echos
        </Link>
      </View>
    </>
  );
}

const styles = StyleSheet.create({
  wrap: { flex: 1, alignItems: 'center', justifyContent: 'center', padding: spacing.xl, gap: spacing.md },
  title: { fontSize: fontSize.lg, fontWeight: '700' },
  link: { fontSize: fontSize.md, paddingVertical: spacing.md },
});
