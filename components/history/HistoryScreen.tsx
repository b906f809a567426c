/**
 * What Echo has spoken, newest first (GET /api/speech-history): the words, whose voice, how long; play it
 * again, keep a copy (download in a browser, share on a phone) and delete one or all.
 */
import { useState } from 'react';
import { FlatList, RefreshControl, StyleSheet, Text, View } from 'react-native';

import { Button } from '@/components/ui/Button';
import { EmptyView, ErrorBanner, ErrorView, LoadingView } from '@/components/ui/StateViews';
import { listStyles } from '@/components/ui/listStyles';
import { fontSize, spacing, useTheme } from '@/constants/theme';
import { errorMessage } from '@/lib/api';
import { confirmAsync } from '@/lib/confirm';
import { formatDuration, formatTime } from '@/lib/format';
import { SAVE_AUDIO_LABEL, saveAudio } from '@/lib/saveAudio';
import { useApi } from '@/lib/session';
import type { Echo, SpeechHistoryItem } from '@/lib/types';
import { useRefreshOnRefocus } from '@/lib/useRefreshOnRefocus';
import { useResource } from '@/lib/useResource';
import { useSpeaker } from '@/lib/useSpeaker';

export const HISTORY_PAGE = 20;

interface HistoryData {
  items: SpeechHistoryItem[];
  total: number;
  echoNames: Record<string, string>;
}

/** Whose voice an entry was spoken in, in plain words. */
export function voiceLabel(item: SpeechHistoryItem): string {
  if (item.voice_name) return `Voice: ${item.voice_name}`;
  if (item.voice_model_id) return 'A voice since deleted';
  return 'The standard voice';
}

const newestFirst = (items: SpeechHistoryItem[]) => [...items].sort((a, b) => b.created_at.localeCompare(a.created_at));

function fileNameOf(item: SpeechHistoryItem): string {
  const when = item.created_at.replace(/[:]/g, '-').replace(/\..*$/, '').replace(/Z$/, '');
  return `echo-${when || item._id}.${item.format || 'mp3'}`;
}

export function HistoryScreen() {
  const api = useApi();
  const theme = useTheme();
  const speaker = useSpeaker();
  const [busy, setBusy] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [rowMessage, setRowMessage] = useState<{ id: string; text: string } | null>(null);
  const [listError, setListError] = useState<string | null>(null);

  const history = useResource<HistoryData>(async () => {
    const [page, echos] = await Promise.all([
      api.listSpeechHistory({ limit: HISTORY_PAGE, offset: 0 }),
      api.listEchos().catch(() => ({ echos: [] as Echo[] })),
    ]);
    return { items: newestFirst(page.items), total: page.total, echoNames: Object.fromEntries(echos.echos.map((e) => [e._id, e.name])) };
  }, [api]);

  useRefreshOnRefocus(history.reload, speaker.stop);

  const change = (update: (data: HistoryData) => HistoryData) => history.setData((current) => (current ? update(current) : current));

  async function more() {
    const data = history.data;
    if (!data || loadingMore) return;
    setLoadingMore(true);
    setListError(null);
    try {
      const page = await api.listSpeechHistory({ limit: HISTORY_PAGE, offset: data.items.length });
      change((current) => {
        const known = new Set(current.items.map((i) => i._id));
        return { ...current, total: page.total, items: newestFirst([...current.items, ...page.items.filter((i) => !known.has(i._id))]) };
      });
    } catch (e) {
      setListError(errorMessage(e));
    } finally {
      setLoadingMore(false);
    }
  }

  async function remove(item: SpeechHistoryItem) {
    setRowMessage(null);
    const ok = await confirmAsync('Delete this from your history?', `“${item.text.slice(0, 80)}” and its sound are deleted.`);
    if (!ok) return;
    if (speaker.activeKey === item._id) speaker.stop();
    setBusy(item._id);
    try {
      await api.deleteSpeechHistoryItem(item._id);
      change((current) => ({ ...current, total: Math.max(0, current.total - 1), items: current.items.filter((i) => i._id !== item._id) }));
    } catch (e) {
      setRowMessage({ id: item._id, text: errorMessage(e) });
    } finally {
      setBusy(null);
    }
  }

  async function removeAll() {
    setListError(null);
    const ok = await confirmAsync('Delete your whole history?', 'Everything listed here and its sound are deleted. Your voices and echos stay.', 'Delete all');
    if (!ok) return;
    speaker.stop();
    setBusy('all');
    try {
      await api.clearSpeechHistory();
      change((current) => ({ ...current, items: [], total: 0 }));
    } catch (e) {
      setListError(errorMessage(e));
    } finally {
      setBusy(null);
    }
  }

  async function save(item: SpeechHistoryItem) {
    if (!item.audio_url) return;
    setRowMessage(null);
    try {
      await saveAudio(api.resolveUrl(item.audio_url), fileNameOf(item));
    } catch (e) {
      setRowMessage({ id: item._id, text: errorMessage(e) });
    }
  }

  if (history.loading && !history.data) return <LoadingView label="Loading what was spoken…" />;
  if (history.error && !history.data) return <ErrorView message={history.error} onRetry={() => void history.reload('initial')} />;

  const { items, total, echoNames } = history.data ?? { items: [], total: 0, echoNames: {} };
  return (
    <View style={[listStyles.screen, { backgroundColor: theme.background }]}>
      <FlatList
        testID="history-list"
        data={items}
        keyExtractor={(i) => i._id}
        contentContainerStyle={items.length ? listStyles.list : listStyles.emptyList}
        refreshControl={<RefreshControl refreshing={history.refreshing} onRefresh={() => void history.reload('refresh')} />}
        ListHeaderComponent={
          <View style={styles.header}>
            <ErrorBanner message={history.error} testID="refresh-error" />
            <ErrorBanner message={listError ?? speaker.error} testID="history-error" />
            {items.length ? (
              <View style={styles.headerRow}>
                <Text style={[styles.count, { color: theme.textMuted }]} testID="history-count">
                  {total === 1 ? '1 thing spoken' : `${total} things spoken`}, newest first
                </Text>
                <Button title="Delete all" variant="plain" compact busy={busy === 'all'} onPress={() => void removeAll()} testID="history-clear" />
              </View>
            ) : null}
          </View>
        }
        ListEmptyComponent={<EmptyView title="Nothing spoken yet" message="What your echos say aloud, and the voices' previews, appear here to hear again." />}
        ListFooterComponent={
          items.length < total ? (
            <Button title="Show more" variant="secondary" busy={loadingMore} onPress={() => void more()} testID="history-more" />
          ) : null
        }
        renderItem={({ item }) => {
          const phase = speaker.activeKey === item._id ? speaker.phase : 'idle';
          const echoName = item.echo_id ? echoNames[item.echo_id] : null;
          return (
            <View testID={`history-item-${item._id}`} style={[listStyles.row, { backgroundColor: theme.surface, borderColor: theme.border }]}>
              <Text style={[styles.text, { color: theme.text }]} numberOfLines={4} selectable>
                {item.text}
              </Text>
              <Text style={[styles.meta, { color: theme.textMuted }]} testID={`history-meta-${item._id}`}>
                {[echoName ? `Said by ${echoName}` : null, voiceLabel(item), formatDuration(item.duration_seconds), formatTime(item.created_at)]
                  .filter(Boolean)
                  .join(' · ')}
              </Text>
              {item.audio_url ? (
                <View style={styles.actions}>
                  <Button
                    title={phase === 'playing' ? 'Stop' : 'Play'}
                    variant="secondary"
                    compact
                    onPress={() => (phase !== 'idle' ? speaker.stop() : speaker.play(item._id, item.audio_url!, { signed: true }))}
                    testID={`history-play-${item._id}`}
                    accessibilityLabel={phase === 'idle' ? `Play “${item.text.slice(0, 60)}”` : 'Stop'}
                  />
                  <Button
                    title={SAVE_AUDIO_LABEL}
                    variant="secondary"
                    compact
                    onPress={() => void save(item)}
                    testID={`history-save-${item._id}`}
                    accessibilityLabel={`${SAVE_AUDIO_LABEL} “${item.text.slice(0, 60)}”`}
                  />
                  <Button title="Delete" variant="plain" compact busy={busy === item._id} onPress={() => void remove(item)} testID={`history-delete-${item._id}`} />
                </View>
              ) : (
                <View style={styles.actions}>
                  <Text style={[styles.meta, { color: theme.textMuted }]}>The sound is no longer kept.</Text>
                  <Button title="Delete" variant="plain" compact busy={busy === item._id} onPress={() => void remove(item)} testID={`history-delete-${item._id}`} />
                </View>
              )}
              {rowMessage?.id === item._id ? <ErrorBanner message={rowMessage.text} testID={`history-item-error-${item._id}`} /> : null}
            </View>
          );
        }}
      />
    </View>
  );
}

const styles = StyleSheet.create({
  header: { gap: spacing.sm },
  headerRow: { flexDirection: 'row', alignItems: 'center', justifyContent: 'space-between', flexWrap: 'wrap', gap: spacing.sm },
  count: { fontSize: fontSize.sm },
  text: { fontSize: fontSize.md, lineHeight: 21 },
  meta: { fontSize: fontSize.sm },
  actions: { flexDirection: 'row', flexWrap: 'wrap', alignItems: 'center', gap: spacing.sm, marginTop: spacing.sm },
});
