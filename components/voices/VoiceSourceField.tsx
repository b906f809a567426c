/**
 * A recording to make a voice from: an audio file, or one recorded now. Shows what was chosen, with a way
 * to remove it. With what is said in it and the speaker's consent, NewVoiceFields is the whole of a new
 * voice, used when cloning a voice on its own and when creating an echo with a new voice.
 */
import * as DocumentPicker from 'expo-document-picker';
import { useState } from 'react';
import { StyleSheet, Text, View } from 'react-native';

import { VoiceRecorder } from '@/components/echos/VoiceRecorder';
import { Button } from '@/components/ui/Button';
import { Checkbox } from '@/components/ui/Checkbox';
import { ErrorBanner } from '@/components/ui/StateViews';
import { TextField } from '@/components/ui/TextField';
import { VOICE_LIMITS } from '@/constants/config';
import { fontSize, radius, spacing, useTheme } from '@/constants/theme';
import { errorMessage } from '@/lib/api';
import { formatDuration } from '@/lib/format';
import type { UploadFile } from '@/lib/types';

export interface RecordingChoice {
  file: UploadFile;
  source: 'file' | 'recording';
  seconds?: number;
  size?: number | null;
}

export const RECORDING_HINT = `A clear recording of one person speaking: ${VOICE_LIMITS.recommendedMin} to ${VOICE_LIMITS.recommendedMax} seconds is best (at least ${VOICE_LIMITS.minSeconds} seconds, at most 4½ minutes). A voicemail, the sound of a video, or one you record now.`;

export function VoiceSourceField({
  value,
  onChange,
  disabled,
  error,
}: {
  value: RecordingChoice | null;
  onChange: (choice: RecordingChoice | null) => void;
  disabled?: boolean;
  /** Why the form cannot go on without a recording (shown under the buttons). */
  error?: string | null;
}) {
  const theme = useTheme();
  const [pickError, setPickError] = useState<string | null>(null);

  async function pickFile() {
    setPickError(null);
    try {
      const result = await DocumentPicker.getDocumentAsync({ type: ['audio/*'], copyToCacheDirectory: true, multiple: false });
      if (result.canceled) return;
      const asset = result.assets[0];
      if (!asset) return;
      onChange({
        source: 'file',
        size: asset.size ?? null,
        file: { uri: asset.uri, name: asset.name || 'voice-sample', mimeType: asset.mimeType ?? null, file: asset.file ?? null },
      });
    } catch (e) {
      setPickError(errorMessage(e));
    }
  }

  return (
    <View style={styles.wrap}>
      <Text style={[styles.hint, { color: theme.textMuted }]}>{RECORDING_HINT}</Text>
      {value ? (
        <View style={[styles.card, { borderColor: theme.border, backgroundColor: theme.surface }]} testID="selected-voice">
          <View style={styles.flex}>
            <Text style={[styles.name, { color: theme.text }]} numberOfLines={1}>
              {value.source === 'recording' ? 'New recording' : value.file.name}
            </Text>
            <Text style={[styles.hint, { color: theme.textMuted }]}>
              {value.seconds ? formatDuration(value.seconds) : value.size ? `${Math.max(1, Math.round(value.size / 1024))} KB` : 'Ready to upload'}
            </Text>
          </View>
          <Button title="Remove" variant="plain" compact onPress={() => onChange(null)} disabled={disabled} testID="remove-voice-button" />
        </View>
      ) : (
        <View style={styles.buttons}>
          <Button title="Choose audio file" variant="secondary" onPress={() => void pickFile()} disabled={disabled} testID="pick-file-button" />
          <VoiceRecorder disabled={disabled} onRecorded={(file, seconds) => onChange({ file, source: 'recording', seconds })} />
        </View>
      )}
      <ErrorBanner message={pickError} testID="pick-error" />
      {error ? <Text style={[styles.hint, { color: theme.danger }]}>{error}</Text> : null}
    </View>
  );
}

/** The recording, what is said in it (optional) and the speaker's consent; errors show as given. */
export function NewVoiceFields({
  recording,
  onRecordingChange,
  recordingError,
  transcript,
  onTranscriptChange,
  consent,
  onConsentChange,
  consentError,
  disabled,
  testIDs,
}: {
  recording: RecordingChoice | null;
  onRecordingChange: (choice: RecordingChoice | null) => void;
  recordingError?: string | null;
  transcript: string;
  onTranscriptChange: (text: string) => void;
  consent: boolean;
  onConsentChange: (next: boolean) => void;
  consentError?: string | null;
  disabled?: boolean;
  testIDs: { transcript: string; consent: string };
}) {
  const theme = useTheme();
  return (
    <>
      <VoiceSourceField value={recording} onChange={onRecordingChange} disabled={disabled} error={recordingError} />
      <View style={styles.spacer} />
      <TextField
        label="What is said in the recording (optional)"
        placeholder="Writing it down helps the voice come out closer."
        value={transcript}
        onChangeText={onTranscriptChange}
        editable={!disabled}
        testID={testIDs.transcript}
      />
      <Checkbox
        checked={consent}
        onChange={onConsentChange}
        testID={testIDs.consent}
        label="I have the speaker's consent to clone their voice (or the right to give it on their behalf)."
      />
      {consentError ? <Text style={[styles.hint, { color: theme.danger, marginTop: -spacing.md }]}>{consentError}</Text> : null}
    </>
  );
}

const styles = StyleSheet.create({
  spacer: { height: spacing.lg },
  wrap: { gap: spacing.xs },
  flex: { flex: 1 },
  hint: { fontSize: fontSize.sm, marginBottom: spacing.sm },
  buttons: { gap: spacing.sm },
  card: { flexDirection: 'row', alignItems: 'center', borderWidth: 1, borderRadius: radius.md, padding: spacing.md, gap: spacing.md },
  name: { fontSize: fontSize.md, fontWeight: '600' },
});
