/** Jest: jest-expo's preset (iOS-like environment), tests beside the code. */
module.exports = {
  preset: 'jest-expo',
  // The first test of a suite pays for transforming and loading React Native; on a loaded 2-core CI machine that
  // alone can pass jest's 5 s default. Waits inside tests have their own deadlines.
  testTimeout: 30000,
  setupFilesAfterEnv: ['<rootDir>/jest.setup.ts'],
  moduleNameMapper: { '^@/(.*)$': '<rootDir>/$1' },
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/backend/', '/.venv/', '/tests/', '/.expo/'],
  modulePathIgnorePatterns: ['<rootDir>/dist/', '<rootDir>/.venv/'],
  transformIgnorePatterns: [
    'node_modules/(?!((jest-)?react-native|@react-native(-community)?)|expo(nent)?|@expo(nent)?/.*|@expo-google-fonts/.*|react-navigation|@react-navigation/.*|@sentry/react-native|native-base|react-native-svg)',
  ],
  collectCoverageFrom: ['lib/**/*.{ts,tsx}', 'components/**/*.{ts,tsx}', 'constants/**/*.ts', '!**/*.test.{ts,tsx}'],
};
