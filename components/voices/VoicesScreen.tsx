/** The Voices tab: the user's cloned voices, a sample of each, and delete with confirmation. */
import { useState } from 'react';
import { FlatList, RefreshControl, StyleSheet, Text, View } from 'react-native';

import { Button } from '@/components/ui/Button';
import { EmptyView, ErrorBanner, ErrorView, LoadingView } from '@/components/ui/StateViews';
import { SAMPLE_TEXT } from '@/constants/config';
import { fontSize, radius, spacing, useTheme } from '@/constants/theme';
import { errorMessage } from '@/lib/api';
import { confirmAsync } from '@/lib/confirm';
import { formatDate, formatDuration } from '@/lib/format';
import { useApi } from '@/lib/session';
import type { VoiceModel } from '@/lib/types';
import { useRefreshOnRefocus } from '@/lib/useRefreshOnRefocus';
import { useResource } from '@/lib/useResource';
import { useSpeaker } from '@/lib/useSpeaker';

const PAGE_SIZE = 100;

export function VoicesScreen() {
  const api = useApi();
  const theme = useTheme();
  const speaker = useSpeaker();
  const [deleting, setDeleting] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const voices = useResource(async () => (await api.listVoiceModels({ limit: PAGE_SIZE })).voice_models, [api]);

  // Fresh on every visit (a voice may have been added meanwhile); silence when leaving.
  useRefreshOnRefocus(voices.reload, speaker.stop);

  async function remove(voice: VoiceModel) {
    setActionError(null);
    const ok = await confirmAsync(
      `Delete "${voice.name}"?`,
      'The cloned voice and its recording are deleted. An echo that speaks in it will need another voice before it can speak again.',
    );
    if (!ok) return;
    if (speaker.activeKey === voice.model_id) speaker.stop();
    setDeleting(voice.model_id);
    try {
      await api.deleteVoiceModel(voice.model_id);
      voices.setData((current) => (current ? current.filter((v) => v.model_id !== voice.model_id) : current));
    } catch (e) {
      setActionError(errorMessage(e));
    } finally {
      setDeleting(null);
    }
  }

  if (voices.loading && !voices.data) return <LoadingView label="Loading your voices…" />;
  if (voices.error && !voices.data) return <ErrorView message={voices.error} onRetry={() => void voices.reload('initial')} />;

  const items = voices.data ?? [];
  return (
    <View style={[styles.flex, { backgroundColor: theme.background }]}>
      <FlatList
        testID="voice-list"
        data={items}
        keyExtractor={(v) => v.model_id}
        contentContainerStyle={items.length ? styles.list : styles.emptyList}
        refreshControl={<RefreshControl refreshing={voices.refreshing} onRefresh={() => void voices.reload('refresh')} />}
        ListHeaderComponent={
          <View>
            <ErrorBanner message={voices.error} testID="refresh-error" />
            <ErrorBanner message={actionError ?? speaker.error} testID="voice-action-error" />
          </View>
        }
        ListEmptyComponent={<EmptyView title="No voices yet" message="Voices you clone while creating an echo appear here." />}
        renderItem={({ item }) => {
          const phase = speaker.activeKey === item.model_id ? speaker.phase : 'idle';
          return (
            <View testID={`voice-row-${item.model_id}`} style={[styles.row, { backgroundColor: theme.surface, borderColor: theme.border }]}>
              <Text style={[styles.name, { color: theme.text }]}>{item.name}</Text>
              <Text style={[styles.meta, { color: theme.textMuted }]}>
                {[formatDuration(item.duration_seconds), item.provider === 'fish' ? 'Fish Audio' : 'Local engine', formatDate(item.created_at)]
                  .filter(Boolean)
                  .join(' · ')}
              </Text>
              <View style={styles.actions}>
                <Button
                  title={phase === 'loading' ? 'Preparing…' : phase === 'playing' ? 'Stop' : 'Play sample'}
                  variant="secondary"
                  compact
                  onPress={() => void speaker.toggle(item.model_id, SAMPLE_TEXT, { referenceId: item.model_id })}
                  testID={`play-voice-${item.model_id}`}
                />
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
            </View>
          );
        }}
      />
    </View>
  );
}

const styles = StyleSheet.create({
  flex: { flex: 1 },
  list: { padding: spacing.lg, gap: spacing.md },
  emptyList: { flexGrow: 1, padding: spacing.lg },
  row: { borderWidth: 1, borderRadius: radius.lg, padding: spacing.lg, gap: spacing.xs },
  name: { fontSize: fontSize.lg, fontWeight: '700' },
  meta: { fontSize: fontSize.sm },
  actions: { flexDirection: 'row', gap: spacing.sm, marginTop: spacing.sm },
});
