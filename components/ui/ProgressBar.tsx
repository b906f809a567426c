/** A thin determinate progress bar, 0 to 1, and the same under a line saying what is going on. */
import { StyleSheet, Text, View } from 'react-native';

import { radius, spacing, useTheme } from '@/constants/theme';

export function ProgressBar({ value, testID }: { value: number; testID?: string }) {
  const theme = useTheme();
  const pct = Math.round(Math.max(0, Math.min(1, value)) * 100);
  return (
    <View
      testID={testID}
      accessibilityRole="progressbar"
      accessibilityValue={{ min: 0, max: 100, now: pct }}
      style={[styles.track, { backgroundColor: theme.border }]}>
      <View style={[styles.fill, { width: `${pct}%`, backgroundColor: theme.tint }]} />
    </View>
  );
}

/** "Uploading… 42%" over the bar. */
export function LabelledProgress({ label, value, testID }: { label: string; value: number; testID?: string }) {
  const theme = useTheme();
  return (
    <View style={styles.labelled} testID={testID}>
      <Text style={{ color: theme.text }}>
        {label} {Math.round(value * 100)}%
      </Text>
      <ProgressBar value={value} />
    </View>
  );
}

const styles = StyleSheet.create({
  labelled: { gap: spacing.sm, marginBottom: spacing.md },
  track: { height: 8, borderRadius: radius.pill, overflow: 'hidden', width: '100%' },
  fill: { height: '100%', borderRadius: radius.pill },
});
