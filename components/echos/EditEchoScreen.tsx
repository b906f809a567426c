/**
 * Change an echo: its name, who it is (the persona), who talks with it (a name and a relation) and its voice. An echo whose voice was deleted (or that
 * never had one) says so here and offers the person's free voices; saving PATCHes only what changed. The echo
 * can be deleted from here too (its voice stays under Voices).
 */
import { Stack, useRouter } from 'expo-router';
import { useEffect, useRef, useState } from 'react';
import { StyleSheet, Text, View } from 'react-native';

import { useBackControl, useLeave } from '@/components/navigation/BackControl';
import { Button } from '@/components/ui/Button';
import { FormScreen } from '@/components/ui/FormScreen';
import { ErrorBanner, NotLoadedView } from '@/components/ui/StateViews';
import { TextField } from '@/components/ui/TextField';
import { isVoiceFree, VoicePicker } from '@/components/voices/VoicePicker';
import { SAMPLE_TEXT } from '@/constants/config';
import { fontSize, radius, spacing, useTheme } from '@/constants/theme';
import { errorMessage } from '@/lib/api';
import { confirmAsync } from '@/lib/confirm';
import { useApi } from '@/lib/session';
import type { Echo, EchoChanges, VoiceModel } from '@/lib/types';
import { useResource } from '@/lib/useResource';
import { useSpeaker } from '@/lib/useSpeaker';
import { VOICE_NOTICES, voiceStatusOf } from '@/lib/voiceStatus';

import { NAME_MAX, PERSONA_MAX } from './CreateEchoScreen';
import { type Talker, TalkerFields, talkerError } from './TalkerFields';

interface EditData {
  echo: Echo;
  voices: VoiceModel[];
}

export function EditEchoScreen({ echoId }: { echoId: string }) {
  const api = useApi();
  const router = useRouter();
  const theme = useTheme();
  const speaker = useSpeaker();
  const backControl = useBackControl({ pathname: '/echo/[id]', params: { id: echoId } }, 'Conversation');
  const leave = useLeave({ pathname: '/echo/[id]', params: { id: echoId } });
  const [name, setName] = useState('');
  const [persona, setPersona] = useState('');
  const [talker, setTalker] = useState<Talker>({ talking_with: '', relation: '' });
  const [voiceId, setVoiceId] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [showErrors, setShowErrors] = useState(false);

  const data = useResource<EditData>(async () => {
    const [echo, voices] = await Promise.all([api.getEcho(echoId), api.listVoiceModels({ limit: 200 })]);
    return { echo: echo.echo, voices: voices.voice_models };
  }, [api, echoId]);

  // The form starts from the echo as the server has it (once: a reload after a failed save keeps the edits).
  const loaded = data.data?.echo ?? null;
  const filled = useRef(false);
  useEffect(() => {
    if (!loaded || filled.current) return;
    filled.current = true;
    setName(loaded.name);
    setPersona(loaded.persona_prompt);
    setTalker({ talking_with: loaded.talking_with ?? '', relation: loaded.relation ?? '' });
    setVoiceId(voiceStatusOf(loaded) === 'ready' ? loaded.voice_model_id : null);
  }, [loaded]);

  const title = loaded ? `Edit ${loaded.name}` : 'Edit echo';
  const header = <Stack.Screen options={{ title, headerLeft: backControl }} />;

  if (!data.data) return <NotLoadedView header={header} resource={data} loadingLabel="Loading…" failure="This echo could not be loaded." />;

  const { echo, voices } = data.data;
  const status = voiceStatusOf(echo);
  const nameError = !name.trim() ? 'Give your echo a name.' : name.trim().length > NAME_MAX ? `Keep the name under ${NAME_MAX} characters.` : null;
  const personaError = !persona.trim() ? 'Describe who this echo is and how they speak.' : persona.length > PERSONA_MAX ? `Keep this under ${PERSONA_MAX} characters.` : null;
  const anyFree = voices.some((v) => isVoiceFree(v, echo._id));
  const selected = voices.find((v) => v.model_id === voiceId) ?? null;

  const talkerInvalid = Boolean(talkerError(talker.talking_with) || talkerError(talker.relation));

  const changes: EchoChanges = {};
  if (name.trim() !== echo.name) changes.name = name.trim();
  if (persona.trim() !== echo.persona_prompt) changes.persona_prompt = persona.trim();
  // Who talks with it: an emptied field is sent as "" (the server clears it).
  if (talker.talking_with.trim() !== (echo.talking_with ?? '')) changes.talking_with = talker.talking_with.trim();
  if (talker.relation.trim() !== (echo.relation ?? '')) changes.relation = talker.relation.trim();
  if (voiceId && (voiceId !== echo.voice_model_id || status !== 'ready')) changes.voice_model_id = voiceId;

  async function save() {
    setShowErrors(true);
    setError(null);
    if (nameError || personaError || talkerInvalid || saving) return;
    if (!Object.keys(changes).length) {
      leave();
      return;
    }
    setSaving(true);
    try {
      const result = await api.updateEcho(echo._id, changes);
      data.setData((current) => (current ? { ...current, echo: result.echo } : current));
      speaker.stop();
      leave();
    } catch (e) {
      setError(errorMessage(e));
      // A voice may have gone, or been taken by another echo, meanwhile.
      void data.reload('refresh');
    } finally {
      setSaving(false);
    }
  }

  async function remove() {
    setError(null);
    const ok = await confirmAsync(`Delete ${echo.name}?`, 'The echo, its conversation and its memories are deleted. Its voice stays under Voices.');
    if (!ok) return;
    setDeleting(true);
    try {
      await api.deleteEcho(echo._id);
      speaker.stop();
      if (router.canGoBack()) router.dismissTo('/');
      else router.replace('/');
    } catch (e) {
      setError(errorMessage(e));
      setDeleting(false);
    }
  }

  return (
    <FormScreen header={header} testID="edit-echo-screen" contentStyle={styles.content}>
      <TextField
        label="Name"
        value={name}
        onChangeText={setName}
        maxLength={NAME_MAX + 20}
        editable={!saving}
        error={showErrors ? nameError : null}
        testID="edit-name-input"
      />
      <TextField
        label="Who they are"
        value={persona}
        onChangeText={setPersona}
        multiline
        editable={!saving}
        error={showErrors ? personaError : null}
        testID="edit-persona-input"
      />
      <TalkerFields echoName={name || echo.name} value={talker} onChange={setTalker} editable={!saving} showErrors={showErrors} testIDPrefix="edit" />

      <Text style={[styles.section, { color: theme.text }]}>Voice</Text>
      {status !== 'ready' ? (
        <Text testID="edit-voice-notice" accessibilityRole="alert" style={[styles.notice, { color: theme.text, backgroundColor: theme.warningSurface, borderColor: theme.warning }]}>
          {VOICE_NOTICES[status]}
        </Text>
      ) : null}
      {anyFree ? (
        <View style={styles.voices}>
          <VoicePicker voices={voices} selected={voiceId} onSelect={setVoiceId} echoId={echo._id} label={`${echo.name}'s voice`} disabled={saving} />
          {selected ? (
            <Button
              title={speaker.activeKey === selected.model_id && speaker.phase !== 'idle' ? 'Stop' : `Hear ${selected.name}`}
              variant="secondary"
              compact
              style={styles.start}
              onPress={() => void speaker.toggle(selected.model_id, SAMPLE_TEXT, { referenceId: selected.model_id })}
              testID="edit-preview-voice"
            />
          ) : null}
          <ErrorBanner message={speaker.error} testID="edit-preview-error" />
        </View>
      ) : (
        <Text testID="edit-no-free-voice" style={[styles.hint, { color: theme.textMuted }]}>
          {voices.length
            ? 'Each of your voices already speaks for another echo.'
            : 'You have no voices yet.'}
        </Text>
      )}
      <Button
        title="Make a new voice"
        variant="plain"
        compact
        style={styles.start}
        onPress={() => router.push('/voice/new')}
        testID="edit-new-voice"
      />

      <ErrorBanner message={error} testID="edit-error" />
      <Button title="Save" onPress={() => void save()} busy={saving} testID="edit-save" />

      <View style={[styles.danger, { borderColor: theme.border }]}>
        <Button title={`Delete ${echo.name}`} variant="danger" busy={deleting} onPress={() => void remove()} testID="delete-echo-button" />
      </View>
    </FormScreen>
  );
}

const styles = StyleSheet.create({
  content: { gap: spacing.sm },
  section: { fontSize: fontSize.md, fontWeight: '600' },
  hint: { fontSize: fontSize.sm },
  notice: { fontSize: fontSize.md, fontWeight: '700', borderWidth: 1, borderLeftWidth: 4, borderRadius: radius.md, padding: spacing.md, overflow: 'hidden' },
  voices: { gap: spacing.sm },
  start: { alignSelf: 'flex-start' },
  danger: { marginTop: spacing.xl, paddingTop: spacing.lg, borderTopWidth: StyleSheet.hairlineWidth },
});
