/**
 * Create an echo: name, persona prompt and a voice (an audio file or a recording), with the
 * speaker's consent. The voice is uploaded first (with progress), then the echo is created
 * with the new voice model; a failed second step retries without uploading again.
 */
import * as DocumentPicker from 'expo-document-picker';
import { useRouter } from 'expo-router';
import { useState } from 'react';
import { KeyboardAvoidingView, Platform, ScrollView, StyleSheet, Text, View } from 'react-native';

import { Button } from '@/components/ui/Button';
import { Checkbox } from '@/components/ui/Checkbox';
import { ProgressBar } from '@/components/ui/ProgressBar';
import { ErrorBanner, NoticeBanner } from '@/components/ui/StateViews';
import { TextField } from '@/components/ui/TextField';
import { VOICE_LIMITS } from '@/constants/config';
import { fontSize, radius, spacing, useTheme } from '@/constants/theme';
import { errorMessage } from '@/lib/api';
import { formatDuration } from '@/lib/format';
import { useApi } from '@/lib/session';
import type { UploadFile } from '@/lib/types';

import { VoiceRecorder } from './VoiceRecorder';

const NAME_MAX = 100;
const PERSONA_MAX = 4000;

type Phase = { step: 'editing' } | { step: 'uploading'; progress: number } | { step: 'creating' };

interface VoiceChoice {
  file: UploadFile;
  source: 'file' | 'recording';
  seconds?: number;
  size?: number | null;
}

export function CreateEchoScreen() {
  const api = useApi();
  const router = useRouter();
  const theme = useTheme();
  const [name, setName] = useState('');
  const [persona, setPersona] = useState('');
  const [transcript, setTranscript] = useState('');
  const [voice, setVoice] = useState<VoiceChoice | null>(null);
  const [consent, setConsent] = useState(false);
  const [phase, setPhase] = useState<Phase>({ step: 'editing' });
  const [error, setError] = useState<string | null>(null);
  const [warnings, setWarnings] = useState<string[]>([]);
  const [uploadedModelId, setUploadedModelId] = useState<string | null>(null);
  const [showErrors, setShowErrors] = useState(false);

  const busy = phase.step !== 'editing';
  const nameError = !name.trim() ? 'Give your echo a name.' : name.trim().length > NAME_MAX ? `Keep the name under ${NAME_MAX} characters.` : null;
  const personaError = !persona.trim() ? 'Describe who this echo is and how they speak.' : persona.length > PERSONA_MAX ? `Keep the persona under ${PERSONA_MAX} characters.` : null;
  const voiceError = !voice ? 'Choose an audio file or record a voice.' : null;
  const consentError = !consent ? "You need the speaker's consent to clone their voice." : null;

  function chooseVoice(choice: VoiceChoice | null) {
    setVoice(choice);
    setUploadedModelId(null);
    setError(null);
  }

  async function pickFile() {
    setError(null);
    try {
      const result = await DocumentPicker.getDocumentAsync({ type: ['audio/*'], copyToCacheDirectory: true, multiple: false });
      if (result.canceled) return;
      const asset = result.assets[0];
      if (!asset) return;
      chooseVoice({
        source: 'file',
        size: asset.size ?? null,
        file: { uri: asset.uri, name: asset.name || 'voice-sample', mimeType: asset.mimeType ?? null, file: asset.file ?? null },
      });
    } catch (e) {
      setError(errorMessage(e));
    }
  }

  async function submit() {
    setShowErrors(true);
    setError(null);
    if (nameError || personaError || voiceError || consentError || !voice) return;
    try {
      let modelId = uploadedModelId;
      if (!modelId) {
        setPhase({ step: 'uploading', progress: 0 });
        const uploaded = await api.uploadReference(
          { file: voice.file, name: name.trim(), consent, transcript: transcript.trim() || undefined },
          { onProgress: (progress) => setPhase({ step: 'uploading', progress }) },
        );
        modelId = uploaded.model_id;
        setUploadedModelId(modelId);
        setWarnings(uploaded.warnings ?? []);
      }
      setPhase({ step: 'creating' });
      await api.createEcho({ name: name.trim(), persona_prompt: persona.trim(), voice_model_id: modelId });
      setPhase({ step: 'editing' });
      if (router.canGoBack()) router.back();
      else router.replace('/');
    } catch (e) {
      setPhase({ step: 'editing' });
      setError(errorMessage(e));
    }
  }

  return (
    <KeyboardAvoidingView style={[styles.flex, { backgroundColor: theme.background }]} behavior={Platform.OS === 'ios' ? 'padding' : undefined}>
      <ScrollView contentContainerStyle={styles.content} keyboardShouldPersistTaps="handled" testID="create-echo-screen">
        <TextField
          label="Name"
          placeholder="e.g. Grandma Rose"
          value={name}
          onChangeText={setName}
          maxLength={NAME_MAX + 20}
          editable={!busy}
          error={showErrors ? nameError : null}
          testID="echo-name-input"
        />
        <TextField
          label="Persona"
          placeholder="Who is this echo? How do they talk, what do they care about?"
          value={persona}
          onChangeText={setPersona}
          multiline
          editable={!busy}
          error={showErrors ? personaError : null}
          testID="echo-persona-input"
        />

        <Text style={[styles.section, { color: theme.text }]}>Voice</Text>
        <Text style={[styles.hint, { color: theme.textMuted }]}>
          {`A clear recording of one person speaking, ${VOICE_LIMITS.recommendedMin}–${VOICE_LIMITS.recommendedMax} seconds is best (at least ${VOICE_LIMITS.minSeconds} s, at most 4½ minutes). WAV, MP3, M4A, AAC, OGG, Opus, WebM or FLAC.`}
        </Text>
        {voice ? (
          <View style={[styles.voiceCard, { borderColor: theme.border, backgroundColor: theme.surface }]} testID="selected-voice">
            <View style={styles.flex}>
              <Text style={[styles.voiceName, { color: theme.text }]} numberOfLines={1}>
                {voice.source === 'recording' ? 'New recording' : voice.file.name}
              </Text>
              <Text style={[styles.hint, { color: theme.textMuted }]}>
                {voice.seconds ? formatDuration(voice.seconds) : voice.size ? `${Math.max(1, Math.round(voice.size / 1024))} KB` : 'Ready to upload'}
              </Text>
            </View>
            <Button title="Remove" variant="plain" compact onPress={() => chooseVoice(null)} disabled={busy} testID="remove-voice-button" />
          </View>
        ) : (
          <View style={styles.voiceButtons}>
            <Button title="Choose audio file" variant="secondary" onPress={() => void pickFile()} disabled={busy} testID="pick-file-button" />
            <VoiceRecorder disabled={busy} onRecorded={(file, seconds) => chooseVoice({ file, source: 'recording', seconds })} />
          </View>
        )}
        {showErrors && voiceError ? <Text style={[styles.hint, { color: theme.danger }]}>{voiceError}</Text> : null}

        <View style={styles.spacer} />
        <TextField
          label="What is said in the recording (optional)"
          placeholder="A transcript helps some voice engines clone more accurately."
          value={transcript}
          onChangeText={setTranscript}
          editable={!busy}
          testID="echo-transcript-input"
        />

        <Checkbox
          checked={consent}
          onChange={setConsent}
          testID="consent-checkbox"
          label="I have the speaker's consent to clone their voice (or the right to give it on their behalf)."
        />
        {showErrors && consentError ? <Text style={[styles.hint, { color: theme.danger, marginTop: -spacing.md }]}>{consentError}</Text> : null}

        <ErrorBanner message={error} testID="create-error" />
        {warnings.length ? <NoticeBanner message={warnings.join('\n')} testID="upload-warnings" /> : null}

        {phase.step === 'uploading' ? (
          <View style={styles.progress} testID="upload-progress">
            <Text style={{ color: theme.text }}>Uploading voice… {Math.round(phase.progress * 100)}%</Text>
            <ProgressBar value={phase.progress} />
          </View>
        ) : phase.step === 'creating' ? (
          <Text style={[styles.progress, { color: theme.text }]} testID="creating-status">
            Creating your echo…
          </Text>
        ) : null}

        <Button title={uploadedModelId ? 'Try again' : 'Create echo'} onPress={() => void submit()} busy={busy} testID="create-echo-submit" />
      </ScrollView>
    </KeyboardAvoidingView>
  );
}

const styles = StyleSheet.create({
  flex: { flex: 1 },
  content: { padding: spacing.lg, paddingBottom: spacing.xxl },
  section: { fontSize: fontSize.md, fontWeight: '600', marginBottom: spacing.xs },
  hint: { fontSize: fontSize.sm, marginBottom: spacing.sm },
  voiceButtons: { gap: spacing.sm },
  voiceCard: { flexDirection: 'row', alignItems: 'center', borderWidth: 1, borderRadius: radius.md, padding: spacing.md, gap: spacing.md },
  voiceName: { fontSize: fontSize.md, fontWeight: '600' },
  spacer: { height: spacing.lg },
  progress: { gap: spacing.sm, marginBottom: spacing.md },
});
