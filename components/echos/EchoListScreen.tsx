/**
 * Where a signed-in person lands: their echos, newest first; opening one shows its conversation. A first
 * visit (no voices, no echos) walks through the three steps in plain words; someone with voices but no echo
 * yet is offered to make one with them. An echo that cannot speak says so on its row.
 */
import { useRouter } from 'expo-router';
import { FlatList, Pressable, RefreshControl, ScrollView, StyleSheet, Text, View } from 'react-native';

import { Button } from '@/components/ui/Button';
import { EmptyView, ErrorBanner, ErrorView, LoadingView } from '@/components/ui/StateViews';
import { listStyles } from '@/components/ui/listStyles';
import { fontSize, radius, spacing, useTheme } from '@/constants/theme';
import { formatDate } from '@/lib/format';
import { useApi } from '@/lib/session';
import type { Echo, VoiceModel } from '@/lib/types';
import { useRefreshOnRefocus } from '@/lib/useRefreshOnRefocus';
import { useResource } from '@/lib/useResource';
import { VOICE_NOTICES, voiceStatusOf } from '@/lib/voiceStatus';

interface HomeData {
  echos: Echo[];
  /** null when the voices could not be listed (the echos still show). */
  voices: VoiceModel[] | null;
}

/** The three steps of a first visit, in plain words. */
export const FIRST_STEPS = [
  {
    title: 'A recording',
    text: 'A recording of the person speaking, 10 to 30 seconds: a voicemail, the sound of a video, or one you record now.',
  },
  {
    title: 'A voice',
    text: 'Echo learns how they sound from the recording. It takes a moment, and you can listen to it before going on.',
  },
  {
    title: 'An echo',
    text: 'Give them a name and a few words about who they are. Then write to them, and hear them answer in their voice.',
  },
] as const;

export function EchoListScreen() {
  const api = useApi();
  const router = useRouter();
  const theme = useTheme();
  const home = useResource<HomeData>(async () => {
    const [echos, voices] = await Promise.all([
      api.listEchos(),
      api
        .listVoiceModels({ limit: 200 })
        .then((r) => r.voice_models)
        .catch(() => null),
    ]);
    return { echos: [...echos.echos].sort((a, b) => b.created_at.localeCompare(a.created_at)), voices };
  }, [api]);

  // Coming back from the create screen: show the new echo without a manual refresh.
  useRefreshOnRefocus(home.reload);

  const createButton = <Button title="New echo" onPress={() => router.push('/echo/new')} testID="new-echo-button" />;

  if (home.loading && !home.data) return <LoadingView label="Loading your echos…" />;
  if (home.error && !home.data) return <ErrorView message={home.error} onRetry={() => void home.reload('initial')} />;

  const items = home.data?.echos ?? [];
  const voices = home.data?.voices ?? null;
  if (!items.length && voices !== null && !voices.length) {
    return <FirstVisit onStart={() => router.push('/echo/new')} error={home.error} />;
  }
  const freeVoices = (voices ?? []).filter((v) => !v.echo_id).length;
  return (
    <View style={[listStyles.screen, { backgroundColor: theme.background }]}>
      <FlatList
        testID="echo-list"
        data={items}
        keyExtractor={(item) => item._id}
        contentContainerStyle={items.length ? listStyles.list : listStyles.emptyList}
        refreshControl={<RefreshControl refreshing={home.refreshing} onRefresh={() => void home.reload('refresh')} />}
        ListHeaderComponent={
          <View style={styles.header}>
            <ErrorBanner message={home.error} />
            {items.length ? createButton : null}
          </View>
        }
        ListEmptyComponent={
          <EmptyView
            title="No echos yet"
            message={
              freeVoices
                ? `You have ${freeVoices === 1 ? 'a voice' : `${freeVoices} voices`} ready. Make an echo that speaks in ${freeVoices === 1 ? 'it' : 'one of them'}, then talk with it.`
                : 'Make an echo: a name, a few words about who they are and a voice, then talk with it.'
            }
            action={createButton}
          />
        }
        renderItem={({ item }) => <EchoRow echo={item} onPress={() => router.push(`/echo/${item._id}`)} />}
      />
    </View>
  );
}

function FirstVisit({ onStart, error }: { onStart: () => void; error: string | null }) {
  const theme = useTheme();
  return (
    <ScrollView style={{ backgroundColor: theme.background }} contentContainerStyle={styles.welcome} testID="first-visit">
      <ErrorBanner message={error} />
      <Text style={[styles.welcomeTitle, { color: theme.text }]} accessibilityRole="header">
        Welcome to Echo
      </Text>
      <Text style={[styles.persona, { color: theme.textMuted }]}>
        Hear someone you love again. It takes three steps, and you can stop at any point.
      </Text>
      {FIRST_STEPS.map((step, index) => (
        <View key={step.title} testID={`first-step-${index + 1}`} style={[styles.step, { backgroundColor: theme.surface, borderColor: theme.border }]}>
          <Text style={[styles.stepNumber, { color: theme.onTint, backgroundColor: theme.tint }]}>{index + 1}</Text>
          <View style={styles.stepBody}>
            <Text style={[styles.name, { color: theme.text }]}>{step.title}</Text>
            <Text style={[styles.persona, { color: theme.textMuted }]}>{step.text}</Text>
          </View>
        </View>
      ))}
      <Button title="Begin with a recording" onPress={onStart} testID="first-visit-start" />
    </ScrollView>
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
      accessibilityLabel={notice ? `Talk with ${echo.name}. ${notice}` : `Talk with ${echo.name}`}
      accessibilityHint={notice ? 'Opens the conversation, where you can choose a voice.' : undefined}
      onPress={onPress}
      style={({ pressed }) => [listStyles.row, { backgroundColor: theme.surface, borderColor: theme.border }, pressed && { opacity: 0.8 }]}>
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
      <Text style={[styles.date, { color: theme.textMuted }]}>Made {formatDate(echo.created_at)}</Text>
    </Pressable>
  );
}

const styles = StyleSheet.create({
  header: { gap: spacing.md, alignItems: 'flex-start' },
  name: { fontSize: fontSize.lg, fontWeight: '700' },
  persona: { fontSize: fontSize.md },
  date: { fontSize: fontSize.sm },
  notice: { fontSize: fontSize.sm, fontWeight: '600', borderLeftWidth: 4, borderRadius: radius.sm, paddingHorizontal: spacing.sm, paddingVertical: spacing.xs, overflow: 'hidden' },
  welcome: { padding: spacing.xl, gap: spacing.md, width: '100%', maxWidth: 640, alignSelf: 'center' },
  welcomeTitle: { fontSize: fontSize.xxl, fontWeight: '800' },
  step: { flexDirection: 'row', gap: spacing.md, borderWidth: 1, borderRadius: radius.lg, padding: spacing.lg, alignItems: 'flex-start' },
  stepNumber: { width: 32, height: 32, borderRadius: 16, textAlign: 'center', lineHeight: 32, fontWeight: '800', overflow: 'hidden' },
  stepBody: { flex: 1, gap: spacing.xs },
});
