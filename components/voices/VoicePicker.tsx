/**
 * Choose one of the person's voices (radio chips). A voice speaks for one echo at a time, so a voice that
 * already has another echo is shown but cannot be chosen (`isVoiceFree`).
 */
import { Pressable, StyleSheet, Text, View } from 'react-native';

import { fontSize, radius, spacing, useTheme } from '@/constants/theme';
import type { VoiceModel } from '@/lib/types';

/** Whether `voice` may be given to the echo `echoId` (none: a new echo). */
export function isVoiceFree(voice: VoiceModel, echoId?: string | null): boolean {
  return !voice.echo_id || (echoId != null && voice.echo_id === echoId);
}

export function VoicePicker({
  voices,
  selected,
  onSelect,
  echoId,
  label,
  disabled,
  testIDPrefix = 'voice-choice',
}: {
  voices: VoiceModel[];
  selected: string | null;
  onSelect: (modelId: string) => void;
  /** The echo being given a voice (its own voice stays choosable); none for a new echo. */
  echoId?: string | null;
  label: string;
  disabled?: boolean;
  testIDPrefix?: string;
}) {
  const theme = useTheme();
  return (
    <View accessibilityRole="radiogroup" accessibilityLabel={label} style={styles.chips}>
      {voices.map((voice) => {
        const free = isVoiceFree(voice, echoId);
        const on = selected === voice.model_id && free;
        return (
          <Pressable
            key={voice.model_id}
            testID={`${testIDPrefix}-${voice.model_id}`}
            accessibilityRole="radio"
            accessibilityState={{ checked: on, disabled: !free }}
            // The web build reads these (react-native-web maps aria-* to the DOM).
            aria-checked={on}
            aria-disabled={!free}
            accessibilityLabel={free ? voice.name : `${voice.name}, already the voice of another echo`}
            disabled={!free || disabled}
            onPress={() => onSelect(voice.model_id)}
            style={[
              styles.chip,
              { borderColor: on ? theme.tint : theme.border, backgroundColor: on ? theme.tint : theme.surface },
              !free && styles.unavailable,
            ]}>
            <Text numberOfLines={1} style={[styles.chipText, { color: on ? theme.onTint : theme.text }]}>
              {free ? voice.name : `${voice.name} (has an echo)`}
            </Text>
          </Pressable>
        );
      })}
    </View>
  );
}

const styles = StyleSheet.create({
  chips: { flexDirection: 'row', flexWrap: 'wrap', gap: spacing.sm },
  chip: { minHeight: 44, justifyContent: 'center', borderWidth: 1, borderRadius: radius.pill, paddingHorizontal: spacing.md, maxWidth: '100%' },
  chipText: { fontSize: fontSize.sm, fontWeight: '600' },
  unavailable: { opacity: 0.5 },
});
