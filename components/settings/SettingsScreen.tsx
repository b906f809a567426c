/**
 * Settings: who is signed in (by name, never "local|name"), whether Echo's server is answering, connecting other
 * apps (its own screen: keys, the speech address, voice ids), sign out and deleting everything. Addresses, ids and
 * engine names stay under "Technical details" here.
 */
import { useRouter } from 'expo-router';
import { useState } from 'react';
import { ScrollView, StyleSheet, Text, View } from 'react-native';

import { Button } from '@/components/ui/Button';
import { DetailRow, Details } from '@/components/ui/Details';
import { ErrorBanner } from '@/components/ui/StateViews';
import { fontSize, radius, spacing, useTheme } from '@/constants/theme';
import { errorMessage } from '@/lib/api';
import { confirmAsync } from '@/lib/confirm';
import { displayNameOf, useSession, useSignedInSession } from '@/lib/session';
import { useResource } from '@/lib/useResource';

export function SettingsScreen() {
  const { api, config, signOut } = useSession();
  const session = useSignedInSession();
  const theme = useTheme();
  const router = useRouter();
  const health = useResource(() => api.health(), [api]);
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState<string | null>(null);

  async function deleteAccount() {
    setDeleteError(null);
    const ok = await confirmAsync(
      'Delete your account?',
      'All your voices, their recordings, your echos and their conversations are deleted for good.',
      'Delete everything',
    );
    if (!ok) return;
    setDeleting(true);
    try {
      await api.deleteUser(session.identity);
      await signOut('Your account and everything in it were deleted.');
    } catch (e) {
      setDeleteError(errorMessage(e));
      setDeleting(false);
    }
  }

  const healthText = health.loading
    ? 'Checking…'
    : health.error
      ? 'Not answering'
      : health.data?.status === 'healthy'
        ? 'Working'
        : health.data
          ? 'Partly working: some things may fail for now'
          : '';
  const degradedDetail = health.data && health.data.status !== 'healthy'
    ? `Degraded (database: ${health.data.components.database?.status ?? 'unknown'}, voice: ${health.data.components.voice_provider?.status ?? 'unknown'})`
    : null;
  const provider = health.data?.components.voice_provider;

  return (
    <ScrollView style={{ backgroundColor: theme.background }} contentContainerStyle={styles.content} testID="settings-screen">
      <Section title="You">
        <Row label="Signed in as" value={displayNameOf(session)} testID="settings-identity" />
        <Row
          label="How you sign in"
          value={
            session.mode === 'auth0'
              ? 'With your account'
              : 'With your name, no password. The same name shows the same echos here and on the web page.'
          }
        />
        <Button title="Sign out" variant="secondary" onPress={() => void signOut()} testID="sign-out-button" />
      </Section>

      <Section title="Echo's server">
        <Row label="Status" value={healthText} testID="settings-health" />
        <ErrorBanner message={health.error} testID="health-error" />
        <Button title="Check again" variant="secondary" compact onPress={() => void health.reload('refresh')} busy={health.refreshing} testID="health-recheck" />
        <Details testID="settings-details">
          <DetailRow label="Server address" value={config.apiUrl} testID="settings-api-url" />
          {degradedDetail ? <DetailRow label="Health" value={degradedDetail} testID="settings-health-detail" /> : null}
          {provider ? <DetailRow label="Voice engine" value={String(provider.description ?? provider.provider ?? provider.status)} /> : null}
          <DetailRow label="Sign-in identity" value={session.identity} testID="settings-sign-in-id" />
          <DetailRow label="User id" value={session.userId} testID="settings-user-id" />
        </Details>
      </Section>

      <Section title="Connect other apps">
        <Text style={{ color: theme.textMuted, fontSize: fontSize.sm }}>
          Hear your voices on a home assistant&apos;s speaker or in a chat app: make a key for the app, and find the address and
          the voice to enter in it.
        </Text>
        <Button title="Connect other apps" variant="secondary" onPress={() => router.push('/connect')} testID="connect-apps-button" />
      </Section>

      <Section title="Your data">
        <Text style={{ color: theme.textMuted, fontSize: fontSize.sm }}>
          Deleting your account removes every voice you cloned (at the voice service too), the recordings, your echos and their
          conversations.
        </Text>
        <ErrorBanner message={deleteError} testID="delete-account-error" />
        <Button title="Delete my account" variant="danger" onPress={() => void deleteAccount()} busy={deleting} testID="delete-account-button" />
      </Section>
    </ScrollView>
  );
}

function Section({ title, children }: { title: string; children: React.ReactNode }) {
  const theme = useTheme();
  return (
    <View style={[styles.section, { backgroundColor: theme.surface, borderColor: theme.border }]}>
      <Text style={[styles.sectionTitle, { color: theme.text }]}>{title}</Text>
      {children}
    </View>
  );
}

function Row({ label, value, testID }: { label: string; value: string; testID?: string }) {
  const theme = useTheme();
  return (
    <View style={styles.row}>
      <Text style={[styles.label, { color: theme.textMuted }]}>{label}</Text>
      <Text style={[styles.value, { color: theme.text }]} selectable testID={testID}>
        {value}
      </Text>
    </View>
  );
}

const styles = StyleSheet.create({
  content: { padding: spacing.lg, gap: spacing.lg },
  section: { borderWidth: 1, borderRadius: radius.lg, padding: spacing.lg, gap: spacing.md },
  sectionTitle: { fontSize: fontSize.lg, fontWeight: '700' },
  row: { gap: 2 },
  label: { fontSize: fontSize.sm },
  value: { fontSize: fontSize.md },
});
