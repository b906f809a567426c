import * as WebBrowser from 'expo-web-browser';

import { SignInScreen } from '@/components/auth/SignInScreen';

// Completes the Auth0 redirect when the web build is reopened in the login popup.
WebBrowser.maybeCompleteAuthSession();

export default SignInScreen;
