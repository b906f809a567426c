/**
 * The Voices tab: the person's voices, which echo speaks in each, and for each one its original recording,
 * a short preview of how it sounds cloned, renaming, making an echo with it, and deleting it. A new voice is
 * made from a recording one tap away ("New voice").
 */
import { useRouter } from 'expo-router';
import { useRef, useState } from 'react';
import { FlatList, RefreshControl, StyleSheet, Text, View } from 'react-native';

import { Button } from '@/components/ui/Button';
import { EmptyView, ErrorBanner, ErrorView, LoadingView } from '@/components/ui/StateViews';
import { TextField } from '@/components/ui/TextField';
import { SAMPLE_TEXT } from '@/constants/config';
import { listStyles } from '@/components/ui/listStyles';
import { fontSize, spacing, useTheme } from '@/constants/theme';
import { errorMessage } from '@/lib/api';
import { confirmAsync } from '@/lib/confirm';
import { engineName, formatDate, formatDuration } from '@/lib/format';
import { useApi } from '@/lib/session';
import type { Echo, VoiceModel } from '@/lib/types';
import { useRefreshOnRefocus } from '@/lib/useRefreshOnRefocus';
import { useResource } from '@/lib/useResource';
import { useSpeaker, type SpeakerPhase } from '@/lib/useSpeaker';

import { VOICE_NAME_MAX } from './CloneVoiceScreen';

const PAGE_SIZE = 100;

interface VoicesData {
  voices: VoiceModel[];
  /** Echo names by id, to say which echo speaks in a voice. */
  echoNames: Record<string, string>;
}

export const recordingKey = (modelId: string) => `recording-${modelId}`;
export const previewKey = (modelId: string) => `preview-${modelId}`;

/** Why a voice's new name cannot be saved; null when it can. */
export function voiceNameProblem(name: string): string | null {
  const trimmed = name.trim();
  if (!trimmed) return 'Give the voice a name.';
  if (trimmed.length > VOICE_NAME_MAX) return `Keep the name under ${VOICE_NAME_MAX} characters.`;
  return null;
}

export function VoicesScreen() {
  const api = useApi();
  const router = useRouter();
  const theme = useTheme();
  // A preview that fails says so on its own row, where the person is looking.
  const previewing = useRef<string | null>(null);
  const speaker = useSpeaker({
    onError: (e) => {
      if (!previewing.current) return false;
      setRowMessage({ id: previewing.current, text: errorMessage(e) });
      return true;
    },
  });
  const [deleting, setDeleting] = useState<string | null>(null);
  const [fetching, setFetching] = useState<string | null>(null);
  const [rowMessage, setRowMessage] = useState<{ id: string; text: string } | null>(null);
  const [renaming, setRenaming] = useState<{ id: string; name: string; saving: boolean; error: string | null } | null>(null);
  const resource = useResource<VoicesData>(async () => {
    const [voices, echos] = await Promise.all([
      api.listVoiceModels({ limit: PAGE_SIZE }),
      api.listEchos().catch(() => ({ echos: [] as Echo[] })),
    ]);
    return { voices: voices.voice_models, echoNames: Object.fromEntries(echos.echos.map((e) => [e._id, e.name])) };
  }, [api]);

  // Fresh on every visit (a voice may have been added meanwhile); silence when leaving.
  useRefreshOnRefocus(resource.reload, speaker.stop);

  const updateVoices = (change: (voices: VoiceModel[]) => VoiceModel[]) =>
    resource.setData((current) => (current ? { ...current, voices: change(current.voices) } : current));

  async function remove(voice: VoiceModel) {
    setRowMessage(null);
    const ok = await confirmAsync(
      `Delete "${voice.name}"?`,
      'The voice and its recording are deleted. An echo that speaks in it will need another voice before it can speak again.',
    );
    if (!ok) return;
    if (speaker.activeKey?.endsWith(voice.model_id)) speaker.stop();
    setDeleting(voice.model_id);
    try {
      await api.deleteVoiceModel(voice.model_id);
      updateVoices((voices) => voices.filter((v) => v.model_id !== voice.model_id));
    } catch (e) {
      setRowMessage({ id: voice.model_id, text: errorMessage(e) });
    } finally {
      setDeleting(null);
    }
  }

  async function playRecording(voice: VoiceModel) {
    const key = recordingKey(voice.model_id);
    setRowMessage(null);
    if (speaker.activeKey === key && speaker.phase !== 'idle') {
      speaker.stop();
      return;
    }
    speaker.stop();
    setFetching(voice.model_id);
    try {
      const answer = await api.getVoiceRecording(voice.model_id);
      speaker.play(key, answer.recording_url, { signed: true });
    } catch (e) {
      setRowMessage({ id: voice.model_id, text: errorMessage(e) });
    } finally {
      setFetching(null);
    }
  }

  async function saveName() {
    if (!renaming || renaming.saving) return;
    const problem = voiceNameProblem(renaming.name);
    if (problem) {
      setRenaming({ ...renaming, error: problem });
      return;
    }
    setRenaming({ ...renaming, saving: true, error: null });
    try {
      const answer = await api.renameVoiceModel(renaming.id, renaming.name.trim());
      const name = answer.voice_model?.name ?? renaming.name.trim();
      updateVoices((voices) => voices.map((v) => (v.model_id === renaming.id ? { ...v, name } : v)));
      setRenaming(null);
    } catch (e) {
      setRenaming((current) => (current ? { ...current, saving: false, error: errorMessage(e) } : current));
    }
  }

  if (resource.loading && !resource.data) return <LoadingView label="Loading your voices…" />;
  if (resource.error && !resource.data) return <ErrorView message={resource.error} onRetry={() => void resource.reload('initial')} />;

  const { voices: items, echoNames } = resource.data ?? { voices: [], echoNames: {} };
  const newVoice = <Button title="New voice" onPress={() => router.push('/voice/new')} testID="new-voice-button" />;
  return (
    <View style={[listStyles.screen, { backgroundColor: theme.background }]}>
      <FlatList
        testID="voice-list"
        data={items}
        keyExtractor={(v) => v.model_id}
        contentContainerStyle={items.length ? listStyles.list : listStyles.emptyList}
        refreshControl={<RefreshControl refreshing={resource.refreshing} onRefresh={() => void resource.reload('refresh')} />}
        ListHeaderComponent={
          <View style={styles.header}>
            <ErrorBanner message={resource.error} testID="refresh-error" />
            {items.length ? newVoice : null}
          </View>
        }
        ListEmptyComponent={
          <EmptyView
            title="No voices yet"
            message="A voice is made from a recording of someone speaking. An echo then talks in it."
            action={newVoice}
          />
        }
        renderItem={({ item }) => {
          const echoName = item.echo_id ? (echoNames[item.echo_id] ?? 'an echo') : null;
          const phaseOf = (key: string): SpeakerPhase => (speaker.activeKey === key ? speaker.phase : 'idle');
          const recordingPhase = fetching === item.model_id ? 'loading' : phaseOf(recordingKey(item.model_id));
          const previewPhase = phaseOf(previewKey(item.model_id));
          const editing = renaming?.id === item.model_id ? renaming : null;
          return (
            <View testID={`voice-row-${item.model_id}`} style={[listStyles.row, { backgroundColor: theme.surface, borderColor: theme.border }]}>
              {editing ? (
                <View>
                  <TextField
                    label="Name"
                    value={editing.name}
                    onChangeText={(name) => setRenaming({ ...editing, name, error: null })}
                    maxLength={VOICE_NAME_MAX + 20}
                    autoFocus
                    editable={!editing.saving}
                    onSubmitEditing={() => void saveName()}
                    error={editing.error}
                    testID={`rename-input-${item.model_id}`}
                  />
                  <View style={styles.actions}>
                    <Button title="Save" compact busy={editing.saving} onPress={() => void saveName()} testID={`rename-save-${item.model_id}`} />
                    <Button title="Cancel" variant="plain" compact disabled={editing.saving} onPress={() => setRenaming(null)} testID={`rename-cancel-${item.model_id}`} />
                  </View>
                </View>
              ) : (
                <Text style={[styles.name, { color: theme.text }]} testID={`voice-name-${item.model_id}`}>
                  {item.name}
                </Text>
              )}
              <Text style={[styles.meta, { color: theme.textMuted }]} testID={`voice-meta-${item.model_id}`}>
                {[
                  echoName ? `${echoName} speaks in it` : 'No echo speaks in it yet',
                  formatDuration(item.duration_seconds),
                  `made ${formatDate(item.created_at)}`,
                  `cloned with ${engineName(item.provider)}`,
                ]
                  .filter(Boolean)
                  .join(' · ')}
              </Text>
              <View style={styles.actions}>
                <Button
                  title={recordingPhase === 'loading' ? 'Opening…' : recordingPhase === 'playing' ? 'Stop' : 'Play recording'}
                  variant="secondary"
                  compact
                  onPress={() => void playRecording(item)}
                  testID={`play-recording-${item.model_id}`}
                  accessibilityLabel={recordingPhase === 'idle' ? `Play the original recording of ${item.name}` : 'Stop'}
                />
                <Button
                  title={previewPhase === 'loading' ? 'Preparing…' : previewPhase === 'playing' ? 'Stop' : 'Hear preview'}
                  variant="secondary"
                  compact
                  onPress={() => {
                    setRowMessage(null);
                    previewing.current = item.model_id;
                    void speaker.toggle(previewKey(item.model_id), SAMPLE_TEXT, { referenceId: item.model_id });
                  }}
                  testID={`play-voice-${item.model_id}`}
                  accessibilityLabel={previewPhase === 'idle' ? `Hear how ${item.name} sounds cloned` : 'Stop'}
                />
                {editing ? null : (
                  <Button
                    title="Rename"
                    variant="secondary"
                    compact
                    onPress={() => setRenaming({ id: item.model_id, name: item.name, saving: false, error: null })}
                    testID={`rename-voice-${item.model_id}`}
                    accessibilityLabel={`Rename ${item.name}`}
                  />
                )}
                {item.echo_id ? null : (
                  <Button
                    title="Make an echo"
                    variant="secondary"
                    compact
                    onPress={() => router.push({ pathname: '/echo/new', params: { voice: item.model_id } })}
                    testID={`make-echo-${item.model_id}`}
                    accessibilityLabel={`Make an echo that speaks in ${item.name}`}
                  />
                )}
                <Button
                  title="Delete"
                  variant="danger"
                  compact
                  busy={deleting === item.model_id}
                  onPress={() => void remove(item)}
                  testID={`delete-voice-${item.model_id}`}
                  accessibilityLabel={`Delete voice ${item.name}`}
                />
              </View>
              {rowMessage?.id === item.model_id ? <ErrorBanner message={rowMessage.text} testID={`voice-error-${item.model_id}`} /> : null}
            </View>
          );
        }}
      />
    </View>
  );
}

const styles = StyleSheet.create({
  header: { gap: spacing.sm, alignItems: 'flex-start' },
  name: { fontSize: fontSize.lg, fontWeight: '700' },
  meta: { fontSize: fontSize.sm },
  actions: { flexDirection: 'row', flexWrap: 'wrap', gap: spacing.sm, marginTop: spacing.sm },
});
