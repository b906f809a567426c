/** One message: the person's on the right, the echo's on the left, each with a speak/stop button. */
import { StyleSheet, Text, View } from 'react-native';

import { Button } from '@/components/ui/Button';
import { fontSize, radius, spacing, useTheme } from '@/constants/theme';
import { formatTime } from '@/lib/format';
import type { Message } from '@/lib/types';
import type { SpeakerPhase } from '@/lib/useSpeaker';

export function MessageBubble({
  message,
  echoName,
  speaking,
  onToggleSpeak,
}: {
  message: Message;
  echoName: string;
  speaking: SpeakerPhase;
  onToggleSpeak: () => void;
}) {
  const theme = useTheme();
  const mine = message.role === 'user';
  const label = speaking === 'loading' ? 'Preparing…' : speaking === 'playing' ? 'Stop' : 'Speak';
  return (
    <View testID={`message-${message._id}`} style={[styles.row, mine ? styles.right : styles.left]}>
      <View style={[styles.bubble, { backgroundColor: mine ? theme.bubbleUser : theme.bubbleEcho }]}>
        <Text style={[styles.author, { color: mine ? theme.onBubbleUser : theme.textMuted }]}>{mine ? 'You' : echoName}</Text>
        <Text style={[styles.content, { color: mine ? theme.onBubbleUser : theme.onBubbleEcho }]} selectable>
          {message.content}
        </Text>
        <View style={styles.footer}>
          <Text style={[styles.time, { color: mine ? theme.onBubbleUser : theme.textMuted }]}>{formatTime(message.created_at)}</Text>
          <Button
            title={label}
            compact
            variant="secondary"
            onPress={onToggleSpeak}
            testID={`speak-${message._id}`}
            accessibilityLabel={speaking === 'idle' ? `Speak this message in ${echoName}'s voice` : 'Stop speaking'}
          />
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
  author: { fontSize: fontSize.sm, fontWeight: '600' },
  content: { fontSize: fontSize.md, lineHeight: 21 },
  footer: { flexDirection: 'row', alignItems: 'center', justifyContent: 'space-between', gap: spacing.md, marginTop: spacing.xs },
  time: { fontSize: 11, opacity: 0.8 },
});
