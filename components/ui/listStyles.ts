/** The look the list screens (echos, voices, what was spoken) share: a readable width, and rows as cards. */
import { StyleSheet } from 'react-native';

import { radius, spacing } from '@/constants/theme';

export const listStyles = StyleSheet.create({
  screen: { flex: 1 },
  list: { padding: spacing.lg, gap: spacing.md, width: '100%', maxWidth: 900, alignSelf: 'center' },
  emptyList: { flexGrow: 1, padding: spacing.lg },
  row: { borderWidth: 1, borderRadius: radius.lg, padding: spacing.lg, gap: spacing.xs },
});
