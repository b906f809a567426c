/**
 * Shown at the top of a conversation whose echo cannot speak: its voice was deleted, or it never had
 * one. Says so in the API's words and offers the user's voices right there; choosing one PATCHes the
 * echo (`updateEcho(id, {voice_model_id})`), after which it speaks again.
 */
import { useState } from 'react';
import { ActivityIndicator, StyleSheet, Text, View } from 'react-native';

import { Button } from '@/components/ui/Button';
import { isVoiceFree, VoicePicker } from '@/components/voices/VoicePicker';
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
  const isFree = (voice: VoiceModel) => isVoiceFree(voice, echo._id);
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
            ? 'Each of your voices already speaks for another echo. Make a new voice under Voices, or delete an echo you no longer need to free its voice.'
            : 'You have no voices yet. Make one from a recording under Voices.'}
        </Text>
      ) : (
        <View style={styles.choices}>
          <Text style={[styles.label, { color: theme.text }]} nativeID="voice-choice-label">
            {status === 'deleted' ? `Another voice for ${echo.name}` : `A voice for ${echo.name}`}
          </Text>
          <VoicePicker
            voices={items}
            selected={selected}
            onSelect={setSelected}
            echoId={echo._id}
            label={`A voice for ${echo.name}`}
            disabled={saving}
          />
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
});
