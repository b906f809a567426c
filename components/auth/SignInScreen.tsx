/**
 * Sign-in. With Auth0 configured: the provider's login page (PKCE). Without it (local mode):
 * a name for this machine's user, registered through POST /api/users/local|<name>.
 */
import { useState } from 'react';
import { KeyboardAvoidingView, Platform, StyleSheet, Text, View } from 'react-native';

import { Button } from '@/components/ui/Button';
import { ErrorBanner, NoticeBanner } from '@/components/ui/StateViews';
import { TextField } from '@/components/ui/TextField';
import type { Auth0Config } from '@/constants/config';
import { fontSize, spacing, useTheme } from '@/constants/theme';
import { errorMessage } from '@/lib/api';
import { useAuth0SignIn } from '@/lib/auth0';
import { useSession, type Auth0Tokens } from '@/lib/session';

export function SignInScreen() {
  const { config, state } = useSession();
  const theme = useTheme();
  const notice = state.status === 'signedOut' ? state.notice : undefined;
  return (
    <KeyboardAvoidingView style={[styles.flex, { backgroundColor: theme.background }]} behavior={Platform.OS === 'ios' ? 'padding' : undefined}>
      <View style={styles.content} testID="sign-in-screen">
        <Text style={[styles.title, { color: theme.text }]}>Echo</Text>
        <Text style={[styles.tagline, { color: theme.textMuted }]}>Hear the voices you love, saying anything.</Text>
        <NoticeBanner message={notice} testID="sign-in-notice" />
        {config.auth0 ? <Auth0SignIn auth0={config.auth0} /> : <LocalSignIn />}
      </View>
    </KeyboardAvoidingView>
  );
}

function Auth0SignIn({ auth0 }: { auth0: Auth0Config }) {
  const { completeAuth0SignIn } = useSession();
  const auth = useAuth0SignIn(auth0, (tokens: Auth0Tokens) => completeAuth0SignIn(tokens));
  return (
    <View style={styles.form}>
      <ErrorBanner message={auth.error} testID="sign-in-error" />
      <Button title="Sign in" onPress={() => void auth.signIn()} disabled={!auth.ready} busy={auth.busy} testID="auth0-sign-in-button" />
    </View>
  );
}

function LocalSignIn() {
  const { signInLocal, config } = useSession();
  const theme = useTheme();
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit() {
    setBusy(true);
    setError(null);
    try {
      await signInLocal(name);
    } catch (e) {
      setError(errorMessage(e));
      setBusy(false);
    }
  }

  return (
    <View style={styles.form}>
      <TextField
        label="Your name"
        placeholder="e.g. alex"
        value={name}
        onChangeText={setName}
        autoCapitalize="none"
        autoCorrect={false}
        onSubmitEditing={() => void submit()}
        returnKeyType="go"
        editable={!busy}
        testID="local-name-input"
        hint="Local mode: no password. Use the same name to see your echos again."
      />
      <ErrorBanner message={error} testID="sign-in-error" />
      <Button title="Continue" onPress={() => void submit()} busy={busy} testID="local-sign-in-button" />
      <Text style={[styles.server, { color: theme.textMuted }]}>Server: {config.apiUrl}</Text>
    </View>
  );
}

const styles = StyleSheet.create({
  flex: { flex: 1 },
  content: { flex: 1, justifyContent: 'center', padding: spacing.xl, width: '100%', maxWidth: 480, alignSelf: 'center' },
  title: { fontSize: fontSize.xxl, fontWeight: '800', marginBottom: spacing.xs },
  tagline: { fontSize: fontSize.md, marginBottom: spacing.xl },
  form: { gap: spacing.sm },
  server: { fontSize: fontSize.sm, marginTop: spacing.md },
});
