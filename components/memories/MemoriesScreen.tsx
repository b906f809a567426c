/**
 * "What <name> remembers": the memories an echo draws on when it replies (newest first). Add one (at most
 * 1,000 characters, 200 per echo), change one in place, or delete one after confirming.
 */
import { Stack } from 'expo-router';
import { useState } from 'react';
import { FlatList, KeyboardAvoidingView, Platform, RefreshControl, StyleSheet, Text, TextInput, View } from 'react-native';

import { useBackControl } from '@/components/navigation/BackControl';
import { Button } from '@/components/ui/Button';
import { EmptyView, ErrorBanner, NotLoadedView } from '@/components/ui/StateViews';
import { fontSize, radius, spacing, useTheme } from '@/constants/theme';
import { errorMessage } from '@/lib/api';
import { confirmAsync } from '@/lib/confirm';
import { formatDate } from '@/lib/format';
import { useApi } from '@/lib/session';
import type { Echo, Memory } from '@/lib/types';
import { useResource } from '@/lib/useResource';

export const MAX_MEMORY_LENGTH = 1000;
export const MAX_MEMORIES = 200;

interface MemoriesData {
  echo: Echo;
  memories: Memory[];
  total: number;
}

/** Why a memory's text cannot be saved, in plain words; null when it can. */
export function memoryProblem(text: string): string | null {
  const length = text.trim().length;
  if (!length) return null;
  if (length > MAX_MEMORY_LENGTH) {
    return `A memory can be at most ${MAX_MEMORY_LENGTH.toLocaleString('en-US')} characters (this one has ${length.toLocaleString('en-US')}). Split it into several.`;
  }
  return null;
}

export function MemoriesScreen({ echoId }: { echoId: string }) {
  const api = useApi();
  const theme = useTheme();
  const [draft, setDraft] = useState('');
  const [adding, setAdding] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);

  const resource = useResource<MemoriesData>(async () => {
    const [echo, page] = await Promise.all([api.getEcho(echoId), api.listMemories(echoId, { limit: MAX_MEMORIES })]);
    return { echo: echo.echo, memories: page.memories, total: page.total };
  }, [api, echoId]);

  const name = resource.data?.echo.name;
  const title = name ? `What ${name} remembers` : 'Memories';
  // Opened from a link or after a reload: the way back leads to the echo's conversation.
  const backControl = useBackControl({ pathname: '/echo/[id]', params: { id: echoId } }, name ?? 'Conversation');
  const header = <Stack.Screen options={{ title, headerLeft: backControl }} />;

  if (!resource.data) return <NotLoadedView header={header} resource={resource} loadingLabel="Loading memories…" failure="The memories could not be loaded." />;

  const { memories, total } = resource.data;
  const full = total >= MAX_MEMORIES;
  const problem = memoryProblem(draft);
  const trimmed = draft.trim();

  const change = (update: (data: MemoriesData) => MemoriesData) => resource.setData((current) => (current ? update(current) : current));

  async function add() {
    if (!trimmed || problem || adding || full) return;
    setAdding(true);
    setActionError(null);
    try {
      const { memory } = await api.addMemory(echoId, trimmed);
      change((d) => ({ ...d, memories: [memory, ...d.memories], total: d.total + 1 }));
      setDraft('');
    } catch (e) {
      setActionError(errorMessage(e));
    } finally {
      setAdding(false);
    }
  }

  async function remove(memory: Memory) {
    const ok = await confirmAsync('Delete this memory?', `${name ?? 'The echo'} will no longer draw on it: “${preview(memory.text)}”`);
    if (!ok) return;
    setActionError(null);
    try {
      await api.deleteMemory(echoId, memory._id);
      change((d) => ({ ...d, memories: d.memories.filter((m) => m._id !== memory._id), total: Math.max(0, d.total - 1) }));
    } catch (e) {
      setActionError(errorMessage(e));
    }
  }

  const saved = (memory: Memory) => change((d) => ({ ...d, memories: d.memories.map((m) => (m._id === memory._id ? memory : m)) }));

  return (
    <KeyboardAvoidingView style={[styles.flex, { backgroundColor: theme.background }]} behavior={Platform.OS === 'ios' ? 'padding' : undefined}>
      {header}
      <FlatList
        testID="memory-list"
        data={memories}
        keyExtractor={(m) => m._id}
        contentContainerStyle={styles.list}
        keyboardShouldPersistTaps="handled"
        refreshControl={<RefreshControl refreshing={resource.refreshing} onRefresh={() => void resource.reload('refresh')} />}
        ListHeaderComponent={
          <View style={styles.head}>
            <Text style={[styles.title, { color: theme.text }]} accessibilityRole="header">
              {title}
            </Text>
            <Text style={[styles.hint, { color: theme.textMuted }]}>
              {`Things ${name} knew and said: when ${name} replies, the memories closest to what you wrote are used. ${total} of ${MAX_MEMORIES}.`}
            </Text>
            <ErrorBanner message={resource.error} testID="refresh-error" />
            {full ? (
              <Text testID="memory-limit" style={[styles.hint, { color: theme.text }]}>
                {`${name} has ${MAX_MEMORIES} memories, the most an echo can keep. Delete one to add another.`}
              </Text>
            ) : (
              <MemoryEditor
                value={draft}
                onChange={setDraft}
                label="A new memory"
                placeholder={`Something ${name} remembers…`}
                testID="memory-input"
                problem={problem}
              />
            )}
            {full ? null : (
              <Button title="Add memory" onPress={() => void add()} disabled={!trimmed || Boolean(problem)} busy={adding} testID="add-memory-button" />
            )}
            <ErrorBanner message={actionError} testID="memory-error" />
          </View>
        }
        ListEmptyComponent={<EmptyView title="No memories yet" message={`Add what ${name} would remember: people, places, sayings, stories.`} />}
        renderItem={({ item }) => <MemoryRow memory={item} echoId={echoId} onSaved={saved} onDelete={() => void remove(item)} />}
      />
    </KeyboardAvoidingView>
  );
}

function preview(text: string): string {
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

function MemoryEditor({
  value,
  onChange,
  label,
  placeholder,
  testID,
  problem,
}: {
  value: string;
  onChange: (text: string) => void;
  label: string;
  placeholder?: string;
  testID: string;
  problem: string | null;
}) {
  const theme = useTheme();
  const length = value.trim().length;
  return (
    <View style={styles.editor}>
      <TextInput
        testID={testID}
        accessibilityLabel={label}
        placeholder={placeholder}
        placeholderTextColor={theme.textMuted}
        value={value}
        onChangeText={onChange}
        multiline
        style={[styles.input, { color: theme.text, borderColor: problem ? theme.danger : theme.border, backgroundColor: theme.surface }]}
      />
      <Text testID={`${testID}-count`} style={[styles.count, { color: length > MAX_MEMORY_LENGTH ? theme.danger : theme.textMuted }]}>
        {`${length.toLocaleString('en-US')} / ${MAX_MEMORY_LENGTH.toLocaleString('en-US')}`}
      </Text>
      {problem ? (
        <Text testID={`${testID}-problem`} accessibilityRole="alert" style={[styles.count, { color: theme.danger }]}>
          {problem}
        </Text>
      ) : null}
    </View>
  );
}

function MemoryRow({ memory, echoId, onSaved, onDelete }: { memory: Memory; echoId: string; onSaved: (m: Memory) => void; onDelete: () => void }) {
  const api = useApi();
  const theme = useTheme();
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(memory.text);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const problem = memoryProblem(text);

  async function save() {
    const trimmed = text.trim();
    if (!trimmed || problem || saving) return;
    setSaving(true);
    setError(null);
    try {
      const result = await api.updateMemory(echoId, memory._id, trimmed);
      onSaved(result.memory);
      setEditing(false);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setSaving(false);
    }
  }

  return (
    <View testID={`memory-${memory._id}`} style={[styles.row, { borderColor: theme.border, backgroundColor: theme.surface }]}>
      {editing ? (
        <MemoryEditor value={text} onChange={setText} label="Change this memory" testID={`memory-edit-${memory._id}`} problem={problem} />
      ) : (
        <Text style={[styles.text, { color: theme.text }]} selectable>
          {memory.text}
        </Text>
      )}
      <ErrorBanner message={error} testID={`memory-row-error-${memory._id}`} />
      <View style={styles.actions}>
        <Text style={[styles.date, { color: theme.textMuted }]}>{formatDate(memory.updated_at ?? memory.created_at)}</Text>
        {editing ? (
          <>
            <Button
              title="Cancel"
              variant="plain"
              compact
              onPress={() => {
                setEditing(false);
                setText(memory.text);
                setError(null);
              }}
              testID={`cancel-memory-${memory._id}`}
            />
            <Button title="Save" compact onPress={() => void save()} disabled={!text.trim() || Boolean(problem)} busy={saving} testID={`save-memory-${memory._id}`} />
          </>
        ) : (
          <>
            <Button
              title="Edit"
              variant="secondary"
              compact
              onPress={() => {
                setText(memory.text);
                setEditing(true);
              }}
              testID={`edit-memory-${memory._id}`}
            />
            <Button title="Delete" variant="plain" compact onPress={onDelete} testID={`delete-memory-${memory._id}`} accessibilityLabel="Delete this memory" />
          </>
        )}
      </View>
    </View>
  );
}

const styles = StyleSheet.create({
  flex: { flex: 1 },
  list: { padding: spacing.lg, gap: spacing.md },
  head: { gap: spacing.sm, marginBottom: spacing.md },
  title: { fontSize: fontSize.lg, fontWeight: '700' },
  hint: { fontSize: fontSize.sm },
  editor: { gap: spacing.xs, alignSelf: 'stretch' },
  input: { borderWidth: 1, borderRadius: radius.md, paddingHorizontal: spacing.md, paddingVertical: spacing.sm, fontSize: fontSize.md, minHeight: 88, textAlignVertical: 'top' },
  count: { fontSize: fontSize.sm },
  row: { borderWidth: 1, borderRadius: radius.md, padding: spacing.md, gap: spacing.sm },
  text: { fontSize: fontSize.md, lineHeight: 21 },
  actions: { flexDirection: 'row', alignItems: 'center', justifyContent: 'flex-end', gap: spacing.sm },
  date: { flex: 1, fontSize: 11 },
});
