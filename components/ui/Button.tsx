/** A pressable button with primary, secondary, danger and plain looks and a busy state. */
import { ActivityIndicator, Pressable, StyleSheet, Text, type StyleProp, type ViewStyle } from 'react-native';

import { fontSize, radius, spacing, useTheme } from '@/constants/theme';

export type ButtonVariant = 'primary' | 'secondary' | 'danger' | 'plain';

export interface ButtonProps {
  title: string;
  onPress: () => void;
  variant?: ButtonVariant;
  disabled?: boolean;
  busy?: boolean;
  testID?: string;
  accessibilityLabel?: string;
  compact?: boolean;
  style?: StyleProp<ViewStyle>;
}

export function Button({ title, onPress, variant = 'primary', disabled, busy, testID, accessibilityLabel, compact, style }: ButtonProps) {
  const theme = useTheme();
  const inactive = Boolean(disabled || busy);
  const background =
    variant === 'primary' ? theme.tint : variant === 'danger' ? theme.danger : variant === 'secondary' ? theme.surface : 'transparent';
  const foreground =
    variant === 'primary' ? theme.onTint : variant === 'danger' ? theme.onDanger : variant === 'secondary' ? theme.text : theme.tint;
  return (
    <Pressable
      testID={testID}
      accessibilityRole="button"
      accessibilityLabel={accessibilityLabel ?? title}
      accessibilityState={{ disabled: inactive, busy: Boolean(busy) }}
      disabled={inactive}
      onPress={onPress}
      style={({ pressed }) => [
        styles.base,
        compact && styles.compact,
        { backgroundColor: background, borderColor: variant === 'secondary' ? theme.border : background },
        (pressed || inactive) && { opacity: inactive ? 0.5 : 0.8 },
        style,
      ]}>
      {busy ? <ActivityIndicator size="small" color={foreground} style={styles.spinner} /> : null}
      <Text style={[styles.label, compact && styles.compactLabel, { color: foreground }]}>{title}</Text>
    </Pressable>
  );
}

const styles = StyleSheet.create({
  base: {
    minHeight: 44,
    paddingHorizontal: spacing.lg,
    paddingVertical: spacing.sm,
    borderRadius: radius.md,
    borderWidth: 1,
    flexDirection: 'row',
    alignItems: 'center',
    justifyContent: 'center',
  },
  compact: { minHeight: 34, paddingHorizontal: spacing.md, paddingVertical: spacing.xs },
  label: { fontSize: fontSize.md, fontWeight: '600' },
  compactLabel: { fontSize: fontSize.sm },
  spinner: { marginRight: spacing.sm },
});
