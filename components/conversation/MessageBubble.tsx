/**
 * One message: the person's on the right, the echo's on the left, each with a speak/stop button. The echo's
 * are marked as written by an AI echo, naming the model that wrote it when the server says (see
 * lib/replyModel.ts); a reply still being written has no button yet.
 */
import { StyleSheet, Text, View } from 'react-native';

import { Button } from '@/components/ui/Button';
import { fontSize, radius, spacing, useTheme } from '@/constants/theme';
import { formatTime } from '@/lib/format';
import { aiLabel } from '@/lib/replyModel';
import type { Message } from '@/lib/types';
import type { SpeakerPhase } from '@/lib/useSpeaker';

export function MessageBubble({
  message,
  echoName,
  speaking,
  onToggleSpeak,
  writing = false,
  unsent = false,
}: {
  message: Message;
  echoName: string;
  speaking: SpeakerPhase;
  onToggleSpeak: () => void;
  /** The reply is still being written. */
  writing?: boolean;
  /** The person's message did not reach the server. */
  unsent?: boolean;
}) {
  const theme = useTheme();
  const mine = message.role === 'user';
  const muted = mine ? theme.onBubbleUser : theme.textMuted;
  // Who wrote the echo's message: "AI echo", and which model when the server says.
  const ai = mine ? null : aiLabel(message.model);
  const label = speaking === 'loading' ? 'Preparing…' : speaking === 'playing' ? 'Stop' : 'Speak';
  return (
    <View testID={`message-${message._id}`} style={[styles.row, mine ? styles.right : styles.left]}>
      <View style={[styles.bubble, { backgroundColor: mine ? theme.bubbleUser : theme.bubbleEcho }]}>
        <View style={styles.header}>
          <Text style={[styles.author, { color: muted }]}>{mine ? 'You' : echoName}</Text>
          {ai ? (
            <Text
              testID={`ai-label-${message._id}`}
              accessibilityLabel={ai.accessibilityLabel}
              style={[styles.aiLabel, { color: theme.textMuted, borderColor: theme.border }]}>
              {ai.text}
            </Text>
          ) : null}
        </View>
        <Text
          testID={writing ? 'reply-text' : undefined}
          style={[styles.content, { color: mine ? theme.onBubbleUser : theme.onBubbleEcho }]}
          selectable
          accessibilityLiveRegion={writing ? 'polite' : undefined}>
          {message.content || (writing ? '…' : '')}
        </Text>
        <View style={styles.footer}>
          <Text testID={unsent ? `unsent-${message._id}` : undefined} style={[styles.time, { color: muted }]}>
            {writing ? 'Writing…' : unsent ? 'Not sent' : formatTime(message.created_at)}
          </Text>
          {writing ? null : <Button
            title={label}
            compact
            variant="secondary"
            onPress={onToggleSpeak}
            testID={`speak-${message._id}`}
            accessibilityLabel={speaking === 'idle' ? `Speak this message in ${echoName}'s voice` : 'Stop speaking'}
          />}
        </View>
      </View>
    </View>
  );
}

const styles = StyleSheet.create({
  row: { flexDirection: 'row' },
  right: { justifyContent: 'flex-end' },
  left: { justifyContent: 'flex-start' },
  bubble: { maxWidth: '85%', borderRadius: radius.lg, padding: spacing.md, gap: spacing.xs },
  header: { flexDirection: 'row', flexWrap: 'wrap', alignItems: 'center', gap: spacing.sm },
  author: { fontSize: fontSize.sm, fontWeight: '600' },
  aiLabel: { fontSize: 11, flexShrink: 1, borderWidth: 1, borderRadius: radius.pill, paddingHorizontal: spacing.xs, overflow: 'hidden' },
  content: { fontSize: fontSize.md, lineHeight: 21 },
  footer: { flexDirection: 'row', alignItems: 'center', justifyContent: 'space-between', gap: spacing.md, marginTop: spacing.xs },
  time: { fontSize: 11, opacity: 0.8 },
});
