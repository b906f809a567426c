/** A labelled text input with an optional hint and error line. */
import { StyleSheet, Text, TextInput, View, type TextInputProps } from 'react-native';

import { fontSize, radius, spacing, useTheme } from '@/constants/theme';

export interface TextFieldProps extends TextInputProps {
  label: string;
  hint?: string;
  error?: string | null;
}

export function TextField({ label, hint, error, style, multiline, ...input }: TextFieldProps) {
  const theme = useTheme();
  return (
    <View style={styles.wrap}>
      <Text style={[styles.label, { color: theme.text }]}>{label}</Text>
      <TextInput
        accessibilityLabel={label}
        placeholderTextColor={theme.textMuted}
        multiline={multiline}
        style={[
          styles.input,
          multiline && styles.multiline,
          { color: theme.text, backgroundColor: theme.surface, borderColor: error ? theme.danger : theme.border },
          style,
        ]}
        {...input}
      />
      {error ? (
        <Text style={[styles.small, { color: theme.danger }]}>{error}</Text>
      ) : hint ? (
        <Text style={[styles.small, { color: theme.textMuted }]}>{hint}</Text>
      ) : null}
    </View>
  );
}

const styles = StyleSheet.create({
  wrap: { marginBottom: spacing.lg },
  label: { fontSize: fontSize.md, fontWeight: '600', marginBottom: spacing.xs },
  input: {
    borderWidth: 1,
    borderRadius: radius.md,
    paddingHorizontal: spacing.md,
    paddingVertical: spacing.sm,
    fontSize: fontSize.md,
    minHeight: 44,
  },
  multiline: { minHeight: 96, textAlignVertical: 'top' },
  small: { fontSize: fontSize.sm, marginTop: spacing.xs },
});
