/**
 * Make a voice from a recording, without making an echo yet: a name, the recording (a file or one made now),
 * and the speaker's consent. The voice then waits under Voices for an echo to speak in it.
 */
import { Stack } from 'expo-router';
import { useState } from 'react';
import { StyleSheet, Text } from 'react-native';

import { useBackControl, useLeave } from '@/components/navigation/BackControl';
import { Button } from '@/components/ui/Button';
import { FormScreen } from '@/components/ui/FormScreen';
import { LabelledProgress } from '@/components/ui/ProgressBar';
import { ErrorBanner } from '@/components/ui/StateViews';
import { TextField } from '@/components/ui/TextField';
import { fontSize, spacing, useTheme } from '@/constants/theme';
import { errorMessage } from '@/lib/api';
import { useApi } from '@/lib/session';

import { NewVoiceFields, type RecordingChoice } from './VoiceSourceField';

export const VOICE_NAME_MAX = 100;

export function CloneVoiceScreen() {
  const api = useApi();
  const theme = useTheme();
  const backControl = useBackControl('/voices', 'Voices');
  const leave = useLeave('/voices');
  const [name, setName] = useState('');
  const [recording, setRecording] = useState<RecordingChoice | null>(null);
  const [transcript, setTranscript] = useState('');
  const [consent, setConsent] = useState(false);
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [showErrors, setShowErrors] = useState(false);

  const busy = progress !== null;
  const nameError = !name.trim() ? 'Give the voice a name.' : name.trim().length > VOICE_NAME_MAX ? `Keep the name under ${VOICE_NAME_MAX} characters.` : null;
  const recordingError = recording ? null : 'Choose an audio file or record a voice.';
  const consentError = consent ? null : "You need the speaker's consent to clone their voice.";

  async function submit() {
    setShowErrors(true);
    setError(null);
    if (nameError || recordingError || consentError || !recording) return;
    setProgress(0);
    try {
      await api.uploadReference(
        { file: recording.file, name: name.trim(), consent, transcript: transcript.trim() || undefined },
        { onProgress: setProgress },
      );
      setProgress(null);
      leave();
    } catch (e) {
      setProgress(null);
      setError(errorMessage(e));
    }
  }

  return (
    <FormScreen header={<Stack.Screen options={{ title: 'New voice', headerLeft: backControl }} />} testID="clone-voice-screen">
      <TextField
        label="Whose voice is it?"
        placeholder="e.g. Grandma Rose"
        value={name}
        onChangeText={setName}
        maxLength={VOICE_NAME_MAX + 20}
        editable={!busy}
        error={showErrors ? nameError : null}
        testID="voice-name-input"
      />
      <Text style={[styles.section, { color: theme.text }]}>Recording</Text>
      <NewVoiceFields
        recording={recording}
        onRecordingChange={setRecording}
        recordingError={showErrors ? recordingError : null}
        transcript={transcript}
        onTranscriptChange={setTranscript}
        consent={consent}
        onConsentChange={setConsent}
        consentError={showErrors ? consentError : null}
        disabled={busy}
        testIDs={{ transcript: 'voice-transcript-input', consent: 'voice-consent-checkbox' }}
      />
      <ErrorBanner message={error} testID="clone-error" />
      {progress !== null ? <LabelledProgress label="Uploading the recording…" value={progress} testID="clone-progress" /> : null}
      <Button title="Make this voice" onPress={() => void submit()} busy={busy} testID="clone-voice-submit" />
    </FormScreen>
  );
}

const styles = StyleSheet.create({
  section: { fontSize: fontSize.md, fontWeight: '600', marginBottom: spacing.xs },
});
