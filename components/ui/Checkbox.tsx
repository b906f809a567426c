/** A checkbox with a label; the whole row toggles it. */
import { Pressable, StyleSheet, Text, View } from 'react-native';

import { fontSize, radius, spacing, useTheme } from '@/constants/theme';

export function Checkbox({ checked, onChange, label, testID }: { checked: boolean; onChange: (next: boolean) => void; label: string; testID?: string }) {
  const theme = useTheme();
  return (
    <Pressable
      testID={testID}
      accessibilityRole="checkbox"
      accessibilityState={{ checked }}
      accessibilityLabel={label}
      onPress={() => onChange(!checked)}
      style={styles.row}>
      <View style={[styles.box, { borderColor: checked ? theme.tint : theme.border, backgroundColor: checked ? theme.tint : theme.surface }]}>
        {checked ? <Text style={[styles.tick, { color: theme.onTint }]}>✓</Text> : null}
      </View>
      <Text style={[styles.label, { color: theme.text }]}>{label}</Text>
    </Pressable>
  );
}

const styles = StyleSheet.create({
  row: { flexDirection: 'row', alignItems: 'flex-start', gap: spacing.md, marginBottom: spacing.lg },
  box: { width: 24, height: 24, borderRadius: radius.sm, borderWidth: 2, alignItems: 'center', justifyContent: 'center', marginTop: 1 },
  tick: { fontSize: 15, fontWeight: '800', lineHeight: 18 },
  label: { flex: 1, fontSize: fontSize.md, lineHeight: 22 },
});
