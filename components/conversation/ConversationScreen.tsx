/**
 * One echo's conversation, the first thing an echo shows: the stored messages (oldest first), a composer,
 * pull to refresh, and a speak button on every message that plays it in the echo's cloned voice. Its voice is
 * named at the top; its memories and the editing of its name, persona and voice are one tap away.
 *
 * Speaking always goes as the echo (`speakAsEcho`), never in a stock voice. An echo whose voice was
 * deleted, or that has none, shows a notice with a voice picker instead (VoiceNotice); so does a 409
 * `voice_deleted` / `no_voice` answer, since the voice may have been deleted elsewhere.
 *
 * What the person writes gets the echo's reply (useEchoReply): shown as it is written, marked as written by
 * an AI echo, spoken as soon as its first sentence is. With the echo's name chosen as the author, a message is
 * written for the echo by hand instead; a server with replies off keeps the person's messages without one.
 */
import { Stack, useRouter } from 'expo-router';
import { useRef, useState } from 'react';
import { AccessibilityInfo, FlatList, KeyboardAvoidingView, Platform, RefreshControl, StyleSheet, Text, TextInput, View } from 'react-native';

import { useBackControl } from '@/components/navigation/BackControl';
import { Button } from '@/components/ui/Button';
import { EmptyView, ErrorBanner, NoticeBanner, NotLoadedView } from '@/components/ui/StateViews';
import { fontSize, radius, spacing, useTheme } from '@/constants/theme';
import { errorMessage } from '@/lib/api';
import { useApi } from '@/lib/session';
import type { Echo, Message, MessageRole } from '@/lib/types';
import { useRefreshOnRefocus } from '@/lib/useRefreshOnRefocus';
import { useResource } from '@/lib/useResource';
import { useSpeaker } from '@/lib/useSpeaker';
import { VOICE_NOTICES, voiceProblemOf, voiceStatusOf } from '@/lib/voiceStatus';

import { MessageBubble } from './MessageBubble';
import { REPLY_AUDIO_KEY, useEchoReply } from './useEchoReply';
import { VoiceNotice } from './VoiceNotice';

const MESSAGE_LIMIT = 200;
const MAX_MESSAGE_LENGTH = 5000;

/** What the person is told when the bundled offline model writes the replies. */
export const LOCAL_MODEL_NOTE =
  "Replies come from a small offline model that can make things up. The server's operator can connect a better one.";
export const REPLIES_OFF_NOTE = 'This server writes no replies: your messages are kept, and you can write the echo’s side yourself.';

interface ConversationData {
  echo: Echo;
  messages: Message[];
}

export function ConversationScreen({ echoId }: { echoId: string }) {
  const api = useApi();
  const router = useRouter();
  const theme = useTheme();
  const listRef = useRef<FlatList<Message>>(null);
  const [draft, setDraft] = useState('');
  const [role, setRole] = useState<MessageRole>('user');
  const [sending, setSending] = useState(false);
  const [sendError, setSendError] = useState<string | null>(null);
  const [voiceChanged, setVoiceChanged] = useState<string | null>(null);
  const [repliesOff, setRepliesOff] = useState<string | null>(null);
  // Which model writes replies, from /health; the conversation works without knowing it.
  const health = useResource(async () => (await api.health()).components.language_model ?? null, [api]);
  const modelProvider = health.data?.provider ?? null;

  const conversation = useResource<ConversationData>(async () => {
    const [echo, messages] = await Promise.all([api.getEcho(echoId), api.listMessages(echoId, MESSAGE_LIMIT)]);
    return { echo: echo.echo, messages: messages.messages };
  }, [api, echoId]);

  // The voice's name, for the line at the top; the conversation works without it.
  const voiceModelId = conversation.data?.echo.voice_model_id ?? null;
  const voiceName = useResource(
    async () => (voiceModelId ? (await api.getEchoVoiceModel(echoId)).voice_model.name : null),
    [api, echoId, voiceModelId],
  );

  // Edited elsewhere (name, persona, voice): fresh when the conversation comes back into view.
  useRefreshOnRefocus(conversation.reload);

  /** Brings the voice notice into view and reads it out. */
  function pointToVoiceNotice(status: keyof typeof VOICE_NOTICES) {
    listRef.current?.scrollToOffset({ offset: 0, animated: true });
    AccessibilityInfo.announceForAccessibility(VOICE_NOTICES[status]);
  }

  // The server refused: the echo's voice was deleted (elsewhere, perhaps) or it has none. Show the notice.
  const onVoiceProblem = (error: unknown): boolean => {
    const problem = voiceProblemOf(error);
    if (!problem) return false;
    setVoiceChanged(null);
    conversation.setData((current) =>
      current ? { ...current, echo: { ...current.echo, voice_status: problem, voice_model_id: null } } : current,
    );
    pointToVoiceNotice(problem);
    return true;
  };

  const speaker = useSpeaker({ onError: onVoiceProblem });

  const reply = useEchoReply({
    api,
    echoId,
    update: (change) => conversation.setData((current) => (current ? { ...current, messages: change(current.messages) } : current)),
    play: speaker.play,
    rekey: speaker.rekey,
    stopAudio: speaker.stop,
    onVoiceProblem,
    onRepliesOff: (message) => setRepliesOff(message || REPLIES_OFF_NOTE),
  });

  const title = conversation.data?.echo.name ?? 'Conversation';
  // Opened from a link or after a reload there is nothing to go back to: offer the list.
  const homeButton = useBackControl('/', 'Echos');
  const echoLoaded = Boolean(conversation.data);

  const headerButtons = echoLoaded
    ? () => (
        <View style={styles.headerButtons}>
          <Button
            title="Memories"
            variant="plain"
            compact
            onPress={() => router.push({ pathname: '/echo/[id]/memories', params: { id: echoId } })}
            testID="memories-button"
            accessibilityLabel={`What ${title} remembers`}
          />
          <Button
            title="Edit"
            variant="plain"
            compact
            onPress={() => router.push({ pathname: '/echo/[id]/edit', params: { id: echoId } })}
            testID="edit-echo-button"
            accessibilityLabel={`Change ${title}'s name, persona or voice`}
          />
        </View>
      )
    : undefined;
  const header = <Stack.Screen options={{ title, headerLeft: homeButton, headerRight: headerButtons }} />;

  if (!conversation.data) {
    return <NotLoadedView header={header} resource={conversation} loadingLabel="Loading conversation…" failure="The conversation could not be loaded." />;
  }

  const { echo, messages } = conversation.data;
  const voiceStatus = voiceStatusOf(echo);
  const trimmed = draft.trim();
  const writing = reply.phase === 'writing';
  const replies = role === 'user' && repliesOff === null && modelProvider !== 'none';
  const modelNote =
    role !== 'user' ? null : repliesOff ?? (modelProvider === 'none' ? REPLIES_OFF_NOTE : modelProvider === 'local' ? LOCAL_MODEL_NOTE : null);

  function toggleSpeak(message: Message) {
    if (voiceStatus !== 'ready') {
      // No voice to speak in: say so, rather than speak in any other.
      speaker.stop();
      pointToVoiceNotice(voiceStatus);
      return;
    }
    setVoiceChanged(null);
    void speaker.toggle(message._id, message.content, { echoId: echo._id });
  }

  async function send() {
    if (!trimmed || sending || writing) return;
    if (trimmed.length > MAX_MESSAGE_LENGTH) {
      setSendError(`Messages can be at most ${MAX_MESSAGE_LENGTH} characters.`);
      return;
    }
    if (replies) {
      // The message shows at once; the echo's reply is written below it.
      setSendError(null);
      setDraft('');
      setVoiceChanged(null);
      speaker.stop();
      setTimeout(() => listRef.current?.scrollToEnd({ animated: true }), 50);
      await reply.send(trimmed, voiceStatus === 'ready');
      return;
    }
    setSending(true);
    setSendError(null);
    try {
      const result = await api.postMessage(echoId, role, trimmed);
      conversation.setData((current) => (current ? { ...current, messages: [...current.messages, result.message] } : current));
      setDraft('');
      setTimeout(() => listRef.current?.scrollToEnd({ animated: true }), 50);
    } catch (e) {
      setSendError(errorMessage(e));
    } finally {
      setSending(false);
    }
  }

  return (
    <KeyboardAvoidingView
      style={[styles.flex, { backgroundColor: theme.background }]}
      behavior={Platform.OS === 'ios' ? 'padding' : undefined}
      keyboardVerticalOffset={Platform.OS === 'ios' ? 90 : 0}>
      {header}
      <FlatList
        ref={listRef}
        testID="message-list"
        data={messages}
        keyExtractor={(m) => m._id}
        contentContainerStyle={messages.length ? styles.list : styles.emptyList}
        refreshControl={<RefreshControl refreshing={conversation.refreshing} onRefresh={() => void conversation.reload('refresh')} />}
        onContentSizeChange={() => listRef.current?.scrollToEnd({ animated: false })}
        ListHeaderComponent={
          <View>
            <ErrorBanner message={conversation.error} testID="refresh-error" />
            {voiceStatus === 'ready' && voiceName.data ? (
              <Text testID="echo-voice-line" style={[styles.voiceLine, { color: theme.textMuted }]}>
                {echo.name} speaks in the voice “{voiceName.data}”.
              </Text>
            ) : null}
            {voiceStatus !== 'ready' ? (
              <VoiceNotice
                echo={echo}
                status={voiceStatus}
                onChanged={(updated, voice) => {
                  conversation.setData((current) => (current ? { ...current, echo: updated } : current));
                  const text = `${updated.name} now speaks in the voice “${voice.name}”.`;
                  setVoiceChanged(text);
                  AccessibilityInfo.announceForAccessibility(text);
                }}
              />
            ) : null}
            <NoticeBanner message={voiceChanged} testID="voice-changed" />
            <ErrorBanner message={speaker.error} testID="speak-error" />
          </View>
        }
        ListEmptyComponent={
          <EmptyView title={`Say hello to ${echo.name}`} message="Write a message below. Tap Speak on any message to hear it in this echo's voice." />
        }
        renderItem={({ item }) => (
          <MessageBubble
            message={item}
            echoName={echo.name}
            speaking={speaker.activeKey === item._id ? speaker.phase : 'idle'}
            onToggleSpeak={() => toggleSpeak(item)}
            unsent={reply.unsent.has(item._id)}
          />
        )}
        ListFooterComponent={
          writing ? (
            <View testID="reply-draft" style={messages.length ? undefined : styles.draftAlone}>
              <MessageBubble
                message={{ _id: REPLY_AUDIO_KEY, echo_id: echo._id, role: 'assistant', content: reply.text, created_at: '' }}
                echoName={echo.name}
                speaking="idle"
                onToggleSpeak={() => undefined}
                writing
              />
            </View>
          ) : null
        }
      />
      <View style={[styles.composer, { borderTopColor: theme.border, backgroundColor: theme.surface }]}>
        <ErrorBanner message={sendError} testID="send-error" />
        {reply.error || reply.canRetry ? (
          <View style={styles.replyProblem}>
            <ErrorBanner message={reply.error} testID="reply-error" />
            {reply.canRetry ? (
              <Button
                title="Try again"
                variant="secondary"
                compact
                disabled={writing}
                onPress={() => void reply.retry(voiceStatus === 'ready')}
                testID="retry-reply"
                accessibilityLabel={`Ask ${echo.name} to reply again`}
              />
            ) : null}
          </View>
        ) : null}
        {modelNote ? (
          <Text testID="model-note" style={[styles.note, { color: theme.textMuted }]}>
            {modelNote}
          </Text>
        ) : null}
        <View style={styles.roles} accessibilityRole="radiogroup">
          <RoleChip label="You" selected={role === 'user'} onPress={() => setRole('user')} testID="role-user" />
          <RoleChip label={echo.name} selected={role === 'assistant'} onPress={() => setRole('assistant')} testID="role-assistant" />
        </View>
        <View style={styles.inputRow}>
          <TextInput
            testID="message-input"
            accessibilityLabel="Message"
            placeholder={role === 'user' ? 'Write a message…' : `What ${echo.name} says…`}
            placeholderTextColor={theme.textMuted}
            value={draft}
            onChangeText={setDraft}
            multiline
            editable={!sending}
            style={[styles.input, { color: theme.text, borderColor: theme.border, backgroundColor: theme.background }]}
          />
          {writing ? (
            <Button
              title="Stop"
              variant="secondary"
              onPress={reply.stop}
              testID="stop-reply"
              accessibilityLabel={`Stop ${echo.name}'s reply`}
            />
          ) : null}
          <Button title="Send" onPress={() => void send()} disabled={!trimmed || writing} busy={sending} testID="send-button" />
        </View>
      </View>
    </KeyboardAvoidingView>
  );
}

function RoleChip({ label, selected, onPress, testID }: { label: string; selected: boolean; onPress: () => void; testID: string }) {
  const theme = useTheme();
  return (
    <Text
      testID={testID}
      accessibilityRole="radio"
      accessibilityState={{ selected }}
      onPress={onPress}
      numberOfLines={1}
      style={[
        styles.chip,
        { borderColor: selected ? theme.tint : theme.border, color: selected ? theme.onTint : theme.text, backgroundColor: selected ? theme.tint : 'transparent' },
      ]}>
      {label}
    </Text>
  );
}

const styles = StyleSheet.create({
  flex: { flex: 1 },
  list: { padding: spacing.lg, gap: spacing.md },
  emptyList: { flexGrow: 1, padding: spacing.lg },
  composer: { borderTopWidth: StyleSheet.hairlineWidth, padding: spacing.md, gap: spacing.sm },
  roles: { flexDirection: 'row', gap: spacing.sm, alignItems: 'center' },
  chip: { borderWidth: 1, borderRadius: radius.pill, paddingHorizontal: spacing.md, paddingVertical: spacing.xs, fontSize: fontSize.sm, overflow: 'hidden', maxWidth: 180 },
  headerButtons: { flexDirection: 'row', alignItems: 'center' },
  draftAlone: { marginTop: spacing.md },
  replyProblem: { gap: spacing.sm, alignItems: 'flex-start' },
  note: { fontSize: fontSize.sm },
  voiceLine: { fontSize: fontSize.sm, marginBottom: spacing.sm, textAlign: 'center' },
  inputRow: { flexDirection: 'row', alignItems: 'flex-end', gap: spacing.sm },
  input: { flex: 1, borderWidth: 1, borderRadius: radius.md, paddingHorizontal: spacing.md, paddingVertical: spacing.sm, fontSize: fontSize.md, maxHeight: 140, minHeight: 44 },
});
