/**
 * Shown at the top of a conversation whose echo cannot speak: its voice was deleted, or it never had
 * one. Says so in the API's words and offers the user's voices right there; choosing one PATCHes the
 * echo (`updateEcho(id, {voice_model_id})`), after which it speaks again.
 */
import { useState } from 'react';
import { ActivityIndicator, Pressable, StyleSheet, Text, View } from 'react-native';

import { Button } from '@/components/ui/Button';
import { ErrorBanner } from '@/components/ui/StateViews';
import { fontSize, radius, spacing, useTheme } from '@/constants/theme';
import { errorMessage } from '@/lib/api';
import { useApi } from '@/lib/session';
import type { Echo, VoiceModel, VoiceStatus } from '@/lib/types';
import { useResource } from '@/lib/useResource';
import { VOICE_NOTICES } from '@/lib/voiceStatus';

/** The most voices the server lists in one page. */
const VOICE_LIMIT = 200;

export function VoiceNotice({
  echo,
  status,
  onChanged,
}: {
  echo: Echo;
  status: Exclude<VoiceStatus, 'ready'>;
  /** Called with the echo as the server returns it after the change. */
  onChanged: (echo: Echo, voice: VoiceModel) => void;
}) {
  const api = useApi();
  const theme = useTheme();
  const [selected, setSelected] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<string | null>(null);
  const voices = useResource(async () => (await api.listVoiceModels({ limit: VOICE_LIMIT })).voice_models, [api, echo._id, status]);

  // A voice that speaks for another echo cannot be shared (the server answers 409).
  const isFree = (voice: VoiceModel) => !voice.echo_id || voice.echo_id === echo._id;
  const items = voices.data ?? [];
  const anyFree = items.some(isFree);
  const chosen = items.find((v) => v.model_id === selected && isFree(v)) ?? null;

  async function giveVoice() {
    if (!chosen || saving) return;
    setSaving(true);
    setSaveError(null);
    try {
      const result = await api.updateEcho(echo._id, { voice_model_id: chosen.model_id });
      onChanged(result.echo, chosen);
    } catch (e) {
      setSaveError(errorMessage(e));
      // The voice may have gone, or been taken by another echo, meanwhile: show the list as it is now.
      void voices.reload('refresh');
    } finally {
      setSaving(false);
    }
  }

  return (
    <View testID="voice-notice" style={[styles.box, { borderColor: theme.warning, backgroundColor: theme.warningSurface }]}>
      <Text testID="voice-notice-text" accessibilityRole="alert" accessibilityLiveRegion="polite" style={[styles.notice, { color: theme.text }]}>
        {VOICE_NOTICES[status]}
      </Text>

      {voices.loading && !voices.data ? (
        <View style={styles.loading} accessibilityRole="progressbar" accessibilityLabel="Loading your voices…">
          <ActivityIndicator color={theme.tint} />
          <Text style={{ color: theme.textMuted }}>Loading your voices…</Text>
        </View>
      ) : !voices.data ? (
        <View style={styles.choices}>
          <ErrorBanner message={`Your voices could not be loaded: ${voices.error ?? 'unknown error'}`} testID="voice-list-error" />
          <Button title="Try again" variant="secondary" compact onPress={() => void voices.reload('initial')} testID="voice-list-retry" />
        </View>
      ) : !anyFree ? (
        <Text testID="no-free-voice" style={[styles.hint, { color: theme.text }]}>
          {items.length
            ? 'Each of your voices already speaks for another echo. A voice is cloned when you create an echo; delete an echo you no longer need to free its voice.'
            : 'You have no voices yet. A voice is cloned when you create an echo.'}
        </Text>
      ) : (
        <View style={styles.choices}>
          <Text style={[styles.label, { color: theme.text }]} nativeID="voice-choice-label">
            {status === 'deleted' ? `Another voice for ${echo.name}` : `A voice for ${echo.name}`}
          </Text>
          <View accessibilityRole="radiogroup" accessibilityLabel={`A voice for ${echo.name}`} style={styles.chips}>
            {items.map((voice) => {
              const free = isFree(voice);
              const on = selected === voice.model_id && free;
              return (
                <Pressable
                  key={voice.model_id}
                  testID={`voice-choice-${voice.model_id}`}
                  accessibilityRole="radio"
                  accessibilityState={{ checked: on, disabled: !free }}
                  accessibilityLabel={free ? voice.name : `${voice.name}, already the voice of another echo`}
                  disabled={!free || saving}
                  onPress={() => setSelected(voice.model_id)}
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
          <Button
            title="Use this voice"
            onPress={() => void giveVoice()}
            disabled={!chosen}
            busy={saving}
            testID="use-voice-button"
            accessibilityLabel={chosen ? `Use ${chosen.name} as ${echo.name}'s voice` : 'Use this voice (choose one first)'}
          />
        </View>
      )}
      <ErrorBanner message={saveError} testID="voice-change-error" />
    </View>
  );
}

const styles = StyleSheet.create({
  box: { borderWidth: 1, borderLeftWidth: 4, borderRadius: radius.md, padding: spacing.md, gap: spacing.sm, marginBottom: spacing.md },
  notice: { fontSize: fontSize.md, fontWeight: '700' },
  hint: { fontSize: fontSize.sm },
  loading: { flexDirection: 'row', alignItems: 'center', gap: spacing.sm },
  choices: { gap: spacing.sm },
  label: { fontSize: fontSize.sm, fontWeight: '600' },
  chips: { flexDirection: 'row', flexWrap: 'wrap', gap: spacing.sm },
  chip: { minHeight: 44, justifyContent: 'center', borderWidth: 1, borderRadius: radius.pill, paddingHorizontal: spacing.md, maxWidth: '100%' },
  chipText: { fontSize: fontSize.sm, fontWeight: '600' },
  unavailable: { opacity: 0.5 },
});
