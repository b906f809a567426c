/// <reference types="expo/types" />
// Expo's ambient types (process.env.EXPO_PUBLIC_*, asset imports), kept in the repo
// so that `tsc --noEmit` works on a fresh clone before `expo start` writes expo-env.d.ts.
