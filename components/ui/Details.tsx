/** Technical details one tap away: a toggle that shows what most people never need (ids, addresses). */
import { useState, type ReactNode } from 'react';
import { Pressable, StyleSheet, Text, View } from 'react-native';

import { fontSize, spacing, useTheme } from '@/constants/theme';

export function Details({ title = 'Technical details', children, testID = 'details' }: { title?: string; children: ReactNode; testID?: string }) {
  const theme = useTheme();
  const [open, setOpen] = useState(false);
  return (
    <View style={styles.wrap}>
      <Pressable
        testID={`${testID}-toggle`}
        accessibilityRole="button"
        accessibilityState={{ expanded: open }}
        onPress={() => setOpen((v) => !v)}
        style={styles.toggle}>
        <Text style={[styles.toggleText, { color: theme.tint }]}>
          {open ? '▾' : '▸'} {title}
        </Text>
      </Pressable>
      {open ? (
        <View testID={testID} style={styles.body}>
          {children}
        </View>
      ) : null}
    </View>
  );
}

/** A label and a selectable value, for inside Details. */
export function DetailRow({ label, value, testID }: { label: string; value: string; testID?: string }) {
  const theme = useTheme();
  return (
    <View style={styles.row}>
      <Text style={[styles.label, { color: theme.textMuted }]}>{label}</Text>
      <Text selectable testID={testID} style={[styles.value, { color: theme.text }]}>
        {value}
      </Text>
    </View>
  );
}

const styles = StyleSheet.create({
  wrap: { gap: spacing.xs },
  toggle: { minHeight: 34, justifyContent: 'center', alignSelf: 'flex-start' },
  toggleText: { fontSize: fontSize.sm, fontWeight: '600' },
  body: { gap: spacing.sm },
  row: { gap: 2 },
  label: { fontSize: fontSize.sm },
  value: { fontSize: fontSize.sm },
});
