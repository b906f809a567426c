/**
 * A screen that is one form: it scrolls, keeps the keyboard up while a button is tapped, makes room for the
 * keyboard on iOS and keeps a readable width on wide screens. The header (a Stack.Screen) goes in as given.
 */
import type { ReactNode } from 'react';
import { KeyboardAvoidingView, Platform, ScrollView, StyleSheet, type StyleProp, type ViewStyle } from 'react-native';

import { spacing, useTheme } from '@/constants/theme';

export function FormScreen({ header, testID, contentStyle, children }: { header: ReactNode; testID: string; contentStyle?: StyleProp<ViewStyle>; children: ReactNode }) {
  const theme = useTheme();
  return (
    <KeyboardAvoidingView style={[styles.flex, { backgroundColor: theme.background }]} behavior={Platform.OS === 'ios' ? 'padding' : undefined}>
      {header}
      <ScrollView contentContainerStyle={[styles.content, contentStyle]} keyboardShouldPersistTaps="handled" testID={testID}>
        {children}
      </ScrollView>
    </KeyboardAvoidingView>
  );
}

const styles = StyleSheet.create({
  flex: { flex: 1 },
  content: { padding: spacing.lg, paddingBottom: spacing.xxl, width: '100%', maxWidth: 720, alignSelf: 'center' },
});
