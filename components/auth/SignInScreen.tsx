/**
 * Sign-in. With Auth0 configured: the provider's login page (PKCE). Without it (local mode):
 * the person's name, registered through POST /api/users/local|<name> (lib/session.tsx's localIdentity; the
 * web page makes the same identity from the same name, so both show the same voices and echos).
 */
import { useState } from 'react';
import { KeyboardAvoidingView, Platform, StyleSheet, Text, View } from 'react-native';

import { Button } from '@/components/ui/Button';
import { DetailRow, Details } from '@/components/ui/Details';
import { ErrorBanner, NoticeBanner } from '@/components/ui/StateViews';
import { TextField } from '@/components/ui/TextField';
import type { Auth0Config } from '@/constants/config';
import { fontSize, spacing, useTheme } from '@/constants/theme';
import { errorMessage } from '@/lib/api';
import { useAuth0SignIn } from '@/lib/auth0';
import { localIdentity, useSession, type Auth0Tokens } from '@/lib/session';

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
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit() {
    // The same rule as the web page: a name with at least one letter or digit (not a random guest).
    if (localIdentity(name, () => '') === 'local|guest-') {
      setError('Please write your name, with at least one letter or number.');
      return;
    }
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
        placeholder="e.g. Alex"
        value={name}
        onChangeText={setName}
        autoCapitalize="none"
        autoCorrect={false}
        onSubmitEditing={() => void submit()}
        returnKeyType="go"
        editable={!busy}
        testID="local-name-input"
        hint="No password here: use the same name to see your echos again, in the app and on the web page."
      />
      <ErrorBanner message={error} testID="sign-in-error" />
      <Button title="Continue" onPress={() => void submit()} busy={busy} testID="local-sign-in-button" />
      <View style={styles.server}>
        <Details testID="sign-in-details">
          <DetailRow label="Echo's server" value={config.apiUrl} testID="sign-in-server" />
        </Details>
      </View>
    </View>
  );
}

const styles = StyleSheet.create({
  flex: { flex: 1 },
  content: { flex: 1, justifyContent: 'center', padding: spacing.xl, width: '100%', maxWidth: 480, alignSelf: 'center' },
  title: { fontSize: fontSize.xxl, fontWeight: '800', marginBottom: spacing.xs },
  tagline: { fontSize: fontSize.md, marginBottom: spacing.xl },
  form: { gap: spacing.sm },
  server: { marginTop: spacing.md },
});
