/**
 * One echo's conversation: the stored messages (oldest first), a composer, pull to refresh,
 * and a speak button on every message that plays it in the echo's cloned voice.
 *
 * Speaking always goes as the echo (`speakAsEcho`), never in a stock voice. An echo whose voice was
 * deleted, or that has none, shows a notice with a voice picker instead (VoiceNotice); so does a 409
 * `voice_deleted` / `no_voice` answer, since the voice may have been deleted elsewhere.
 */
import { Stack, useRouter } from 'expo-router';
import { useRef, useState } from 'react';
import { AccessibilityInfo, FlatList, KeyboardAvoidingView, Platform, RefreshControl, StyleSheet, Text, TextInput, View } from 'react-native';

import { Button } from '@/components/ui/Button';
import { EmptyView, ErrorBanner, ErrorView, LoadingView, NoticeBanner } from '@/components/ui/StateViews';
import { fontSize, radius, spacing, useTheme } from '@/constants/theme';
import { errorMessage } from '@/lib/api';
import { confirmAsync } from '@/lib/confirm';
import { useApi } from '@/lib/session';
import type { Echo, Message, MessageRole } from '@/lib/types';
import { useResource } from '@/lib/useResource';
import { useSpeaker } from '@/lib/useSpeaker';
import { VOICE_NOTICES, voiceProblemOf, voiceStatusOf } from '@/lib/voiceStatus';

import { MessageBubble } from './MessageBubble';
import { VoiceNotice } from './VoiceNotice';

const MESSAGE_LIMIT = 200;
const MAX_MESSAGE_LENGTH = 5000;

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
  const [deleting, setDeleting] = useState(false);
  const [voiceChanged, setVoiceChanged] = useState<string | null>(null);

  const conversation = useResource<ConversationData>(async () => {
    const [echo, messages] = await Promise.all([api.getEcho(echoId), api.listMessages(echoId, MESSAGE_LIMIT)]);
    return { echo: echo.echo, messages: messages.messages };
  }, [api, echoId]);

  /** Brings the voice notice into view and reads it out. */
  function pointToVoiceNotice(status: keyof typeof VOICE_NOTICES) {
    listRef.current?.scrollToOffset({ offset: 0, animated: true });
    AccessibilityInfo.announceForAccessibility(VOICE_NOTICES[status]);
  }

  const speaker = useSpeaker({
    // The server refused: the echo's voice was deleted (elsewhere, perhaps) or it has none. Show the notice.
    onError: (error) => {
      const problem = voiceProblemOf(error);
      if (!problem) return false;
      setVoiceChanged(null);
      conversation.setData((current) =>
        current ? { ...current, echo: { ...current.echo, voice_status: problem, voice_model_id: null } } : current,
      );
      pointToVoiceNotice(problem);
      return true;
    },
  });

  const title = conversation.data?.echo.name ?? 'Conversation';
  // Opened from a link or after a reload there is nothing to go back to: offer the list.
  const homeButton = router.canGoBack()
    ? undefined
    : () => <Button title="Echos" variant="plain" compact onPress={() => router.replace('/')} testID="header-home-button" />;
  const echoLoaded = Boolean(conversation.data);

  async function deleteEcho() {
    const ok = await confirmAsync(`Delete ${title}?`, 'The echo and its conversation are deleted. Its voice stays under Voices.');
    if (!ok) return;
    setDeleting(true);
    try {
      await api.deleteEcho(echoId);
      speaker.stop();
      if (router.canGoBack()) router.back();
      else router.replace('/');
    } catch (e) {
      setSendError(errorMessage(e));
      setDeleting(false);
    }
  }

  const deleteButton = echoLoaded
    ? () => <Button title="Delete" variant="plain" compact busy={deleting} onPress={() => void deleteEcho()} testID="delete-echo-button" accessibilityLabel={`Delete ${title}`} />
    : undefined;
  const header = <Stack.Screen options={{ title, headerLeft: homeButton, headerRight: deleteButton }} />;

  if (conversation.loading && !conversation.data) {
    return (
      <>
        {header}
        <LoadingView label="Loading conversation…" />
      </>
    );
  }
  if (!conversation.data) {
    return (
      <>
        {header}
        <ErrorView message={conversation.error ?? 'The conversation could not be loaded.'} onRetry={() => void conversation.reload('initial')} />
      </>
    );
  }

  const { echo, messages } = conversation.data;
  const voiceStatus = voiceStatusOf(echo);
  const trimmed = draft.trim();

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
    if (!trimmed || sending) return;
    if (trimmed.length > MAX_MESSAGE_LENGTH) {
      setSendError(`Messages can be at most ${MAX_MESSAGE_LENGTH} characters.`);
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
          />
        )}
      />
      <View style={[styles.composer, { borderTopColor: theme.border, backgroundColor: theme.surface }]}>
        <ErrorBanner message={sendError} testID="send-error" />
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
          <Button title="Send" onPress={() => void send()} disabled={!trimmed} busy={sending} testID="send-button" />
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
  inputRow: { flexDirection: 'row', alignItems: 'flex-end', gap: spacing.sm },
  input: { flex: 1, borderWidth: 1, borderRadius: radius.md, paddingHorizontal: spacing.md, paddingVertical: spacing.sm, fontSize: fontSize.md, maxHeight: 140, minHeight: 44 },
});
