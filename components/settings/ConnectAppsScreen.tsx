/**
 * Connect other apps: what a home assistant or a chat app needs to speak in this person's voices. The speech
 * address (`<server>/v1`, OpenAI's text-to-speech dialect), personal API keys (made here and shown once, listed by
 * name and first characters with when they were made and last used, revoked after a confirmation), and each
 * voice's and echo's id with a Copy button: the one place in the app where ids are shown in the open.
 */
import * as Clipboard from 'expo-clipboard';
import { Stack } from 'expo-router';
import { useCallback, useState } from 'react';
import { Platform, RefreshControl, ScrollView, StyleSheet, Text, View } from 'react-native';

import { useBackControl } from '@/components/navigation/BackControl';
import { Button } from '@/components/ui/Button';
import { ErrorBanner, NoticeBanner } from '@/components/ui/StateViews';
import { TextField } from '@/components/ui/TextField';
import { fontSize, radius, spacing, useTheme } from '@/constants/theme';
import { ApiError, errorMessage } from '@/lib/api';
import { confirmAsync } from '@/lib/confirm';
import { formatAgo } from '@/lib/format';
import { useApi } from '@/lib/session';
import type { ApiKey, Echo, VoiceModel } from '@/lib/types';
import { useRefreshOnRefocus } from '@/lib/useRefreshOnRefocus';
import { useResource } from '@/lib/useResource';
import { voiceStatusOf } from '@/lib/voiceStatus';

export const KEY_NAME_MAX = 100;
export const KEY_WARNING = 'Copy this key now: Echo will not show it again. Anyone with it can speak in your voices.';
export const MODEL_ID = 'echo-tts';

/** "Made 3 days ago · Last used 5 minutes ago" (or "Not used yet"). */
export function keyWhen(key: ApiKey, now: number = Date.now()): string {
  const made = formatAgo(key.created_at, now);
  const used = key.last_used_at ? formatAgo(key.last_used_at, now) : '';
  return [made ? `Made ${made}` : '', used ? `Last used ${used}` : 'Not used yet'].filter(Boolean).join(' · ');
}

/** Whether an address only reaches this device (another device on the network needs the computer's own address). */
export function onlyThisDevice(url: string): boolean {
  return /^https?:\/\/(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?(\/|$)/i.test(url);
}

interface Ids {
  voices: VoiceModel[];
  echos: Echo[];
}

export function ConnectAppsScreen() {
  const api = useApi();
  const theme = useTheme();
  const backControl = useBackControl('/settings', 'Settings');
  const address = api.speechApiUrl();

  const keys = useResource(async () => (await api.listApiKeys()).api_keys, [api]);
  const ids = useResource<Ids>(async () => {
    const [voices, echos] = await Promise.all([
      api.listVoiceModels({ limit: 100 }),
      api.listEchos().catch(() => ({ echos: [] as Echo[] })),
    ]);
    return { voices: voices.voice_models, echos: echos.echos.filter((e) => voiceStatusOf(e) === 'ready') };
  }, [api]);

  const [name, setName] = useState('');
  const [nameError, setNameError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [createError, setCreateError] = useState<string | null>(null);
  // The new key, shown once: only here, until the person is done or leaves the screen.
  const [fresh, setFresh] = useState<{ name: string; key: string } | null>(null);
  const [copied, setCopied] = useState<{ what: string; text: string; ok: boolean } | null>(null);
  const [revoking, setRevoking] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [listError, setListError] = useState<string | null>(null);

  const forgetFresh = useCallback(() => {
    setFresh(null);
    setCopied(null);
  }, []);
  const { reload: reloadKeys } = keys;
  const { reload: reloadIds } = ids;
  const reloadAll = useCallback(
    async (mode: 'refresh' | 'initial' = 'refresh') => {
      await Promise.all([reloadKeys(mode), reloadIds(mode)]);
    },
    [reloadKeys, reloadIds],
  );
  // Back on the screen: fresh "last used" times and ids. Away from it: the new key is gone for good.
  useRefreshOnRefocus(reloadAll, forgetFresh);

  async function copy(what: string, text: string) {
    let ok = false;
    try {
      ok = (await Clipboard.setStringAsync(text)) !== false;
    } catch {
      ok = false;
    }
    setCopied({ what, text, ok });
  }

  async function make() {
    setCreateError(null);
    setNotice(null);
    const trimmed = name.trim();
    if (!trimmed) {
      setNameError('Give the key a name, such as the app or the room it is for.');
      return;
    }
    if (trimmed.length > KEY_NAME_MAX) {
      setNameError(`Keep the name under ${KEY_NAME_MAX} characters.`);
      return;
    }
    setNameError(null);
    setCreating(true);
    try {
      const made = await api.createApiKey(trimmed);
      setFresh({ name: made.api_key.name || trimmed, key: made.key });
      setCopied(null);
      setName('');
      keys.setData((current) => [made.api_key, ...(current ?? []).filter((k) => k._id !== made.api_key._id)]);
    } catch (e) {
      setCreateError(`Could not make the key: ${errorMessage(e)}`);
    } finally {
      setCreating(false);
    }
  }

  async function revoke(key: ApiKey) {
    setNotice(null);
    setListError(null);
    const ok = await confirmAsync(
      `Revoke the key “${key.name}”?`,
      'It stops working at once: any app using it can no longer speak in your voices. This cannot be undone; you can make a new key instead.',
      'Revoke',
    );
    if (!ok) return;
    setRevoking(key._id);
    try {
      await api.revokeApiKey(key._id);
    } catch (e) {
      // Already gone (revoked elsewhere) is what was asked for; anything else is said.
      if (!(e instanceof ApiError && e.status === 404)) {
        setListError(`Could not revoke “${key.name}”: ${errorMessage(e)}`);
        setRevoking(null);
        return;
      }
    }
    setRevoking(null);
    keys.setData((current) => (current ?? []).filter((k) => k._id !== key._id));
    setNotice(`Revoked “${key.name}”. It no longer works.`);
  }

  const copiedNote = (what: string) =>
    copied && copied.what === what ? (
      copied.ok ? (
        <Text style={[styles.small, { color: theme.success }]} accessibilityLiveRegion="polite" testID={`copied-${what}`}>
          Copied. Paste it into the other app.
        </Text>
      ) : (
        <ErrorBanner message="It could not be copied here. Press and hold it to select it, then copy it by hand." testID={`copy-failed-${what}`} />
      )
    ) : null;

  const keyList = keys.data ?? [];
  const voices = ids.data?.voices ?? [];
  const echos = ids.data?.echos ?? [];
  return (
    <ScrollView
      style={{ backgroundColor: theme.background }}
      contentContainerStyle={styles.content}
      keyboardShouldPersistTaps="handled"
      refreshControl={<RefreshControl refreshing={keys.refreshing || ids.refreshing} onRefresh={() => void reloadAll('refresh')} />}
      testID="connect-screen">
      <Stack.Screen options={{ title: 'Connect other apps', headerLeft: backControl }} />

      <Section title="Connect other apps">
        <Text style={[styles.body, { color: theme.text }]}>
          Other apps can speak in your voices too: a home assistant reading the weather on a kitchen speaker, or a chat app reading
          its answers aloud. Such an app needs three things from here: the speech address, a key of its own, and the id of the voice
          to use.
        </Text>
        <Text style={[styles.small, { color: theme.textMuted }]}>
          Echo speaks the same language as OpenAI&apos;s text-to-speech service. In the app, look for a setting such as “OpenAI text to
          speech” or “OpenAI-compatible speech server”, and enter:
        </Text>
        <Fact label="Address (base URL)">
          <Text selectable style={[styles.code, { color: theme.text, borderColor: theme.border }]} testID="connect-address">
            {address}
          </Text>
          <Button title="Copy" variant="secondary" compact onPress={() => void copy('address', address)} accessibilityLabel="Copy the speech address" testID="copy-address" />
        </Fact>
        {copiedNote('address')}
        {onlyThisDevice(address) ? (
          <Text style={[styles.small, { color: theme.textMuted }]} testID="address-this-device">
            This address only works on the computer Echo runs on. On another device, such as a speaker, use that computer&apos;s
            address on your network instead.
          </Text>
        ) : null}
        <Fact label="Key (API key)">
          <Text style={[styles.body, { color: theme.text }]}>A key you make below, one for each app.</Text>
        </Fact>
        <Fact label="Voice">
          <Text style={[styles.body, { color: theme.text }]}>One of the voice ids further down.</Text>
        </Fact>
        <Fact label="Model">
          <Text selectable style={[styles.code, { color: theme.text, borderColor: theme.border }]}>
            {MODEL_ID}
          </Text>
          <Text style={[styles.small, { color: theme.textMuted }]}>(apps that only offer tts-1 work too)</Text>
        </Fact>
      </Section>

      <Section title="Your keys">
        <Text style={[styles.small, { color: theme.textMuted }]}>
          A key lets one app speak in your voices without signing in. Make one for each app, so that you can stop one without the
          others. A key can only make speech: it cannot read your conversations or change or delete anything.
        </Text>
        <View>
          <TextField
            label="Name of the new key"
            value={name}
            onChangeText={(text) => {
              setName(text);
              if (nameError) setNameError(null);
            }}
            placeholder="e.g. Kitchen speaker"
            hint="Something to tell it apart: the app, or the room it is in."
            error={nameError}
            maxLength={KEY_NAME_MAX}
            autoCapitalize="sentences"
            autoCorrect={false}
            returnKeyType="done"
            onSubmitEditing={() => void make()}
            testID="key-name"
          />
          <ErrorBanner message={createError} testID="key-create-error" />
          <Button title="Make a key" onPress={() => void make()} busy={creating} testID="key-make" />
        </View>

        {fresh ? (
          <View style={[styles.fresh, { borderColor: theme.warning, backgroundColor: theme.warningSurface }]} testID="key-new">
            <Text style={[styles.freshTitle, { color: theme.text }]} accessibilityRole="header">
              Your new key “{fresh.name}”
            </Text>
            <Text style={[styles.warning, { color: theme.text }]} testID="key-new-warning">
              {KEY_WARNING}
            </Text>
            <Text selectable style={[styles.code, styles.secret, { color: theme.text, borderColor: theme.border, backgroundColor: theme.surface }]} testID="key-new-secret">
              {fresh.key}
            </Text>
            {copiedNote('key')}
            <View style={styles.row}>
              <Button title="Copy" onPress={() => void copy('key', fresh.key)} accessibilityLabel="Copy the new key" testID="key-new-copy" />
              <Button title="Done: hide the key" variant="secondary" onPress={forgetFresh} testID="key-new-done" />
            </View>
          </View>
        ) : null}

        <NoticeBanner message={notice} testID="keys-notice" />
        <ErrorBanner message={listError} testID="keys-error" />
        <ErrorBanner message={keys.error ? `Could not load your keys: ${keys.error}` : null} testID="keys-load-error" />
        {keys.loading && !keys.data ? (
          <Text style={[styles.small, { color: theme.textMuted }]}>Loading your keys…</Text>
        ) : keys.data && keyList.length === 0 ? (
          <Text style={[styles.small, { color: theme.textMuted }]} testID="keys-empty">
            No keys yet.
          </Text>
        ) : null}
        {keyList.map((key) => (
          <View key={key._id} style={[styles.item, { borderColor: theme.border }]} testID={`key-${key._id}`}>
            <View style={styles.itemMain}>
              <Text style={[styles.itemTitle, { color: theme.text }]}>{key.name}</Text>
              <Text style={[styles.small, { color: theme.textMuted }]} testID={`key-prefix-${key._id}`}>
                Starts with {key.prefix}…
              </Text>
              <Text style={[styles.small, { color: theme.textMuted }]} testID={`key-when-${key._id}`}>
                {keyWhen(key)}
              </Text>
            </View>
            <Button
              title="Revoke"
              variant="danger"
              compact
              busy={revoking === key._id}
              onPress={() => void revoke(key)}
              accessibilityLabel={`Revoke the key “${key.name}”`}
              testID={`key-revoke-${key._id}`}
            />
          </View>
        ))}
      </Section>

      <Section title="Voice ids">
        <Text style={[styles.small, { color: theme.textMuted }]}>
          An app asks for a voice by its id. Copy the id of the voice you want into the app&apos;s voice setting.
        </Text>
        <ErrorBanner message={ids.error ? `Could not load your voices: ${ids.error}` : null} testID="ids-error" />
        {ids.data && voices.length === 0 ? (
          <Text style={[styles.small, { color: theme.textMuted }]} testID="ids-empty">
            No voices yet. Make one under Voices first.
          </Text>
        ) : null}
        {voices.map((voice) => (
          <IdRow key={voice.model_id} kind="voice" id={voice.model_id} name={voice.name} onCopy={copy} note={copiedNote(`voice-${voice.model_id}`)} />
        ))}
        {echos.length ? (
          <>
            <Text style={[styles.subTitle, { color: theme.text }]}>Your echos</Text>
            <Text style={[styles.small, { color: theme.textMuted }]}>
              An echo&apos;s id speaks in that echo&apos;s voice, and keeps doing so if you give the echo another voice.
            </Text>
            {echos.map((echo) => {
              const voice = voices.find((v) => v.model_id === echo.voice_model_id);
              return (
                <IdRow
                  key={echo._id}
                  kind="echo"
                  id={echo._id}
                  name={echo.name}
                  meta={voice ? `Speaks in the voice “${voice.name}”` : undefined}
                  onCopy={copy}
                  note={copiedNote(`echo-${echo._id}`)}
                />
              );
            })}
          </>
        ) : null}
      </Section>
    </ScrollView>
  );
}

function IdRow({
  kind,
  id,
  name,
  meta,
  note,
  onCopy,
}: {
  kind: 'voice' | 'echo';
  id: string;
  name: string;
  meta?: string;
  note: React.ReactNode;
  onCopy: (what: string, text: string) => Promise<void>;
}) {
  const theme = useTheme();
  return (
    <View style={[styles.item, { borderColor: theme.border }]} testID={`${kind}-id-${id}`}>
      <View style={styles.itemMain}>
        <Text style={[styles.itemTitle, { color: theme.text }]}>{name}</Text>
        {meta ? <Text style={[styles.small, { color: theme.textMuted }]}>{meta}</Text> : null}
        <Text selectable style={[styles.small, { color: theme.text }]}>
          Id: <Text style={styles.mono}>{id}</Text>
        </Text>
        {note}
      </View>
      <Button
        title="Copy id"
        variant="secondary"
        compact
        onPress={() => void onCopy(`${kind}-${id}`, id)}
        accessibilityLabel={`Copy the id of the ${kind} “${name}”`}
        testID={`copy-${kind}-${id}`}
      />
    </View>
  );
}

function Section({ title, children }: { title: string; children: React.ReactNode }) {
  const theme = useTheme();
  return (
    <View style={[styles.section, { backgroundColor: theme.surface, borderColor: theme.border }]}>
      <Text style={[styles.sectionTitle, { color: theme.text }]} accessibilityRole="header">
        {title}
      </Text>
      {children}
    </View>
  );
}

function Fact({ label, children }: { label: string; children: React.ReactNode }) {
  const theme = useTheme();
  return (
    <View style={styles.fact}>
      <Text style={[styles.factLabel, { color: theme.textMuted }]}>{label}</Text>
      <View style={styles.row}>{children}</View>
    </View>
  );
}

const MONO = { fontFamily: Platform.select({ ios: 'Menlo', default: 'monospace' }) };

const styles = StyleSheet.create({
  content: { padding: spacing.lg, gap: spacing.lg, width: '100%', maxWidth: 900, alignSelf: 'center' },
  section: { borderWidth: 1, borderRadius: radius.lg, padding: spacing.lg, gap: spacing.md },
  sectionTitle: { fontSize: fontSize.lg, fontWeight: '700' },
  subTitle: { fontSize: fontSize.md, fontWeight: '700', marginTop: spacing.sm },
  body: { fontSize: fontSize.md, lineHeight: 21 },
  small: { fontSize: fontSize.sm },
  fact: { gap: 2 },
  factLabel: { fontSize: fontSize.sm, fontWeight: '600' },
  row: { flexDirection: 'row', flexWrap: 'wrap', alignItems: 'center', gap: spacing.sm },
  code: { ...MONO, fontSize: fontSize.sm, borderWidth: 1, borderRadius: radius.sm, paddingHorizontal: spacing.sm, paddingVertical: 2 },
  mono: MONO,
  fresh: { borderWidth: 2, borderRadius: radius.md, padding: spacing.md, gap: spacing.sm },
  freshTitle: { fontSize: fontSize.md, fontWeight: '700' },
  warning: { fontSize: fontSize.md, fontWeight: '700' },
  secret: { paddingVertical: spacing.sm, fontSize: fontSize.md },
  item: { flexDirection: 'row', flexWrap: 'wrap', alignItems: 'center', justifyContent: 'space-between', gap: spacing.sm, borderTopWidth: 1, paddingTop: spacing.md },
  itemMain: { flex: 1, minWidth: 200, gap: 2 },
  itemTitle: { fontSize: fontSize.md, fontWeight: '700' },
});
