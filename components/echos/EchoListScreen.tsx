/**
 * The Echos tab: the signed-in user's echos, newest first, with pull to refresh. An echo that cannot
 * speak (its voice was deleted, or it has none) says so on its row; its conversation offers a voice.
 */
import { useRouter } from 'expo-router';
import { FlatList, Pressable, RefreshControl, StyleSheet, Text, View } from 'react-native';

import { Button } from '@/components/ui/Button';
import { EmptyView, ErrorBanner, ErrorView, LoadingView } from '@/components/ui/StateViews';
import { fontSize, radius, spacing, useTheme } from '@/constants/theme';
import { formatDate } from '@/lib/format';
import { useApi } from '@/lib/session';
import type { Echo } from '@/lib/types';
import { useRefreshOnRefocus } from '@/lib/useRefreshOnRefocus';
import { useResource } from '@/lib/useResource';
import { VOICE_NOTICES, voiceStatusOf } from '@/lib/voiceStatus';

export function EchoListScreen() {
  const api = useApi();
  const router = useRouter();
  const theme = useTheme();
  const echos = useResource(async () => {
    const result = await api.listEchos();
    return [...result.echos].sort((a, b) => b.created_at.localeCompare(a.created_at));
  }, [api]);

  // Coming back from the create screen: show the new echo without a manual refresh.
  useRefreshOnRefocus(echos.reload);

  const createButton = <Button title="New echo" onPress={() => router.push('/echo/new')} testID="new-echo-button" />;

  if (echos.loading && !echos.data) return <LoadingView label="Loading your echos…" />;
  if (echos.error && !echos.data) return <ErrorView message={echos.error} onRetry={() => void echos.reload('initial')} />;

  const items = echos.data ?? [];
  return (
    <View style={[styles.screen, { backgroundColor: theme.background }]}>
      <FlatList
        testID="echo-list"
        data={items}
        keyExtractor={(item) => item._id}
        contentContainerStyle={items.length ? styles.list : styles.emptyList}
        refreshControl={<RefreshControl refreshing={echos.refreshing} onRefresh={() => void echos.reload('refresh')} />}
        ListHeaderComponent={
          <View style={styles.header}>
            <ErrorBanner message={echos.error} />
            {items.length ? createButton : null}
          </View>
        }
        ListEmptyComponent={
          <EmptyView
            title="No echos yet"
            message="Create an echo: give it a name, a persona and a voice recording, then talk with it."
            action={createButton}
          />
        }
        renderItem={({ item }) => <EchoRow echo={item} onPress={() => router.push(`/echo/${item._id}`)} />}
      />
    </View>
  );
}

function EchoRow({ echo, onPress }: { echo: Echo; onPress: () => void }) {
  const theme = useTheme();
  const status = voiceStatusOf(echo);
  const notice = status === 'ready' ? null : VOICE_NOTICES[status];
  return (
    <Pressable
      testID={`echo-row-${echo._id}`}
      accessibilityRole="button"
      accessibilityLabel={notice ? `Open ${echo.name}. ${notice}` : `Open ${echo.name}`}
      accessibilityHint={notice ? 'Opens the conversation, where you can choose a voice.' : undefined}
      onPress={onPress}
      style={({ pressed }) => [styles.row, { backgroundColor: theme.surface, borderColor: theme.border }, pressed && { opacity: 0.8 }]}>
      <Text style={[styles.name, { color: theme.text }]}>{echo.name}</Text>
      {echo.persona_prompt ? (
        <Text numberOfLines={2} style={[styles.persona, { color: theme.textMuted }]}>
          {echo.persona_prompt}
        </Text>
      ) : null}
      {notice ? (
        <Text testID={`echo-voice-notice-${echo._id}`} style={[styles.notice, { color: theme.text, backgroundColor: theme.warningSurface, borderColor: theme.warning }]}>
          {notice}
        </Text>
      ) : null}
      <Text style={[styles.date, { color: theme.textMuted }]}>Created {formatDate(echo.created_at)}</Text>
    </Pressable>
  );
}

const styles = StyleSheet.create({
  screen: { flex: 1 },
  list: { padding: spacing.lg, gap: spacing.md },
  emptyList: { flexGrow: 1, padding: spacing.lg },
  header: { gap: spacing.md },
  row: { borderWidth: 1, borderRadius: radius.lg, padding: spacing.lg, gap: spacing.xs },
  name: { fontSize: fontSize.lg, fontWeight: '700' },
  persona: { fontSize: fontSize.md },
  date: { fontSize: fontSize.sm },
  notice: { fontSize: fontSize.sm, fontWeight: '600', borderLeftWidth: 4, borderRadius: radius.sm, paddingHorizontal: spacing.sm, paddingVertical: spacing.xs, overflow: 'hidden' },
});
