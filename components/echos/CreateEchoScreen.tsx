/**
 * Create an echo: a name, who they are (the persona), who will talk with them (optional: a name and a
 * relation, e.g. granddaughter) and a voice: one the person already has (a voice with
 * no echo yet) or a new one from a recording, with the speaker's consent. A new voice is uploaded first
 * (with progress), then the echo is made on it; a failed second step retries without uploading again.
 * Once made, the echo's conversation opens.
 */
import { Stack, useLocalSearchParams, useRouter } from 'expo-router';
import { useState } from 'react';
import { Pressable, StyleSheet, Text, View } from 'react-native';

import { useBackControl } from '@/components/navigation/BackControl';
import { Button } from '@/components/ui/Button';
import { FormScreen } from '@/components/ui/FormScreen';
import { LabelledProgress } from '@/components/ui/ProgressBar';
import { ErrorBanner, NoticeBanner } from '@/components/ui/StateViews';
import { TextField } from '@/components/ui/TextField';
import { isVoiceFree, VoicePicker } from '@/components/voices/VoicePicker';
import { NewVoiceFields, type RecordingChoice } from '@/components/voices/VoiceSourceField';
import { fontSize, radius, spacing, useTheme } from '@/constants/theme';
import { errorMessage } from '@/lib/api';
import { useApi } from '@/lib/session';
import { useResource } from '@/lib/useResource';

import { type Talker, TalkerFields, talkerError } from './TalkerFields';

export const NAME_MAX = 100;
export const PERSONA_MAX = 4000;

type Phase = { step: 'editing' } | { step: 'uploading'; progress: number } | { step: 'creating' };
type VoiceMode = 'existing' | 'new';

export function CreateEchoScreen() {
  const api = useApi();
  const router = useRouter();
  const theme = useTheme();
  const params = useLocalSearchParams<{ voice?: string }>();
  const backControl = useBackControl('/', 'Echos');
  const [name, setName] = useState('');
  const [persona, setPersona] = useState('');
  const [talker, setTalker] = useState<Talker>({ talking_with: '', relation: '' });
  const [transcript, setTranscript] = useState('');
  const [recording, setRecording] = useState<RecordingChoice | null>(null);
  const [consent, setConsent] = useState(false);
  const [phase, setPhase] = useState<Phase>({ step: 'editing' });
  const [error, setError] = useState<string | null>(null);
  const [warnings, setWarnings] = useState<string[]>([]);
  const [uploadedModelId, setUploadedModelId] = useState<string | null>(null);
  const [showErrors, setShowErrors] = useState(false);
  const [chosenVoice, setChosenVoice] = useState<string | null>(typeof params.voice === 'string' ? params.voice : null);
  const [mode, setMode] = useState<VoiceMode | null>(null);

  // Voices with no echo yet can be reused; without them (or if they cannot be listed) a new recording it is.
  const voices = useResource(async () => (await api.listVoiceModels({ limit: 200 })).voice_models, [api]);
  const freeVoices = (voices.data ?? []).filter((v) => isVoiceFree(v));
  const canReuse = freeVoices.length > 0;
  const voiceMode: VoiceMode = mode ?? (recording ? 'new' : canReuse ? 'existing' : 'new');
  const reusing = voiceMode === 'existing' && canReuse;
  const existing = reusing ? (freeVoices.find((v) => v.model_id === chosenVoice) ?? null) : null;

  const busy = phase.step !== 'editing';
  const nameError = !name.trim() ? 'Give your echo a name.' : name.trim().length > NAME_MAX ? `Keep the name under ${NAME_MAX} characters.` : null;
  const personaError = !persona.trim() ? 'Describe who this echo is and how they speak.' : persona.length > PERSONA_MAX ? `Keep the persona under ${PERSONA_MAX} characters.` : null;
  const talkerInvalid = Boolean(talkerError(talker.talking_with) || talkerError(talker.relation));
  const voiceError = reusing
    ? existing
      ? null
      : 'Choose one of your voices.'
    : !recording
      ? 'Choose an audio file or record a voice.'
      : null;
  const consentError = !reusing && !consent ? "You need the speaker's consent to clone their voice." : null;

  function chooseRecording(choice: RecordingChoice | null) {
    setRecording(choice);
    setUploadedModelId(null);
    setError(null);
  }

  async function submit() {
    setShowErrors(true);
    setError(null);
    if (nameError || personaError || talkerInvalid || voiceError || consentError) return;
    try {
      let modelId = reusing ? existing!.model_id : uploadedModelId;
      if (!modelId) {
        setPhase({ step: 'uploading', progress: 0 });
        const uploaded = await api.uploadReference(
          { file: recording!.file, name: name.trim(), consent, transcript: transcript.trim() || undefined },
          { onProgress: (progress) => setPhase({ step: 'uploading', progress }) },
        );
        modelId = uploaded.model_id;
        setUploadedModelId(modelId);
        setWarnings(uploaded.warnings ?? []);
      }
      setPhase({ step: 'creating' });
      // Who talks with it only when said (both are optional).
      const talkingWith = talker.talking_with.trim();
      const relation = talker.relation.trim();
      const created = await api.createEcho({
        name: name.trim(),
        persona_prompt: persona.trim(),
        voice_model_id: modelId,
        ...(talkingWith ? { talking_with: talkingWith } : {}),
        ...(relation ? { relation } : {}),
      });
      setPhase({ step: 'editing' });
      // Conversation first: the new echo opens, and going back from it leads to the list.
      router.replace({ pathname: '/echo/[id]', params: { id: created.echo._id } });
    } catch (e) {
      setPhase({ step: 'editing' });
      setError(errorMessage(e));
    }
  }

  return (
    <FormScreen header={<Stack.Screen options={{ title: 'New echo', headerLeft: backControl }} />} testID="create-echo-screen">
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
        label="Who they are"
        placeholder="How do they talk? What do they care about? A few sentences are enough."
        value={persona}
        onChangeText={setPersona}
        multiline
        editable={!busy}
        error={showErrors ? personaError : null}
        testID="echo-persona-input"
      />
      <TalkerFields echoName={name} value={talker} onChange={setTalker} editable={!busy} showErrors={showErrors} testIDPrefix="echo" />

      <Text style={[styles.section, { color: theme.text }]}>Voice</Text>
      {canReuse ? (
        <View style={styles.modes} accessibilityRole="radiogroup" accessibilityLabel="Which voice">
          <ModeChip label="A voice you have" selected={voiceMode === 'existing'} onPress={() => setMode('existing')} testID="voice-mode-existing" disabled={busy} />
          <ModeChip label="A new recording" selected={voiceMode === 'new'} onPress={() => setMode('new')} testID="voice-mode-new" disabled={busy} />
        </View>
      ) : null}

      {reusing ? (
        <View style={styles.existing} testID="existing-voices">
          <Text style={[styles.hint, { color: theme.textMuted }]}>Your voices that no echo speaks in yet:</Text>
          <VoicePicker
            voices={freeVoices}
            selected={chosenVoice}
            onSelect={(id) => {
              setChosenVoice(id);
              setError(null);
            }}
            label="A voice for this echo"
            disabled={busy}
            testIDPrefix="existing-voice"
          />
          {showErrors && voiceError ? <Text style={[styles.hint, { color: theme.danger }]}>{voiceError}</Text> : null}
        </View>
      ) : (
        <NewVoiceFields
          recording={recording}
          onRecordingChange={chooseRecording}
          recordingError={showErrors ? voiceError : null}
          transcript={transcript}
          onTranscriptChange={setTranscript}
          consent={consent}
          onConsentChange={setConsent}
          consentError={showErrors ? consentError : null}
          disabled={busy}
          testIDs={{ transcript: 'echo-transcript-input', consent: 'consent-checkbox' }}
        />
      )}

      <ErrorBanner message={error} testID="create-error" />
      {warnings.length ? <NoticeBanner message={warnings.join('\n')} testID="upload-warnings" /> : null}

      {phase.step === 'uploading' ? (
        <LabelledProgress label="Uploading voice…" value={phase.progress} testID="upload-progress" />
      ) : phase.step === 'creating' ? (
        <Text style={[styles.progress, { color: theme.text }]} testID="creating-status">
          Creating your echo…
        </Text>
      ) : null}

      <Button title={uploadedModelId && !reusing ? 'Try again' : 'Create echo'} onPress={() => void submit()} busy={busy} testID="create-echo-submit" />
    </FormScreen>
  );
}

function ModeChip({ label, selected, onPress, testID, disabled }: { label: string; selected: boolean; onPress: () => void; testID: string; disabled?: boolean }) {
  const theme = useTheme();
  return (
    <Pressable
      testID={testID}
      accessibilityRole="radio"
      accessibilityState={{ checked: selected, disabled }}
      disabled={disabled}
      onPress={onPress}
      style={[styles.chip, { borderColor: selected ? theme.tint : theme.border, backgroundColor: selected ? theme.tint : theme.surface }]}>
      <Text style={[styles.chipText, { color: selected ? theme.onTint : theme.text }]}>{label}</Text>
    </Pressable>
  );
}

const styles = StyleSheet.create({
  section: { fontSize: fontSize.md, fontWeight: '600', marginBottom: spacing.xs },
  hint: { fontSize: fontSize.sm, marginBottom: spacing.sm },
  modes: { flexDirection: 'row', flexWrap: 'wrap', gap: spacing.sm, marginBottom: spacing.md },
  chip: { minHeight: 44, justifyContent: 'center', borderWidth: 1, borderRadius: radius.pill, paddingHorizontal: spacing.md },
  chipText: { fontSize: fontSize.sm, fontWeight: '600' },
  existing: { marginBottom: spacing.lg, gap: spacing.sm },
  progress: { gap: spacing.sm, marginBottom: spacing.md },
});
