/** Jest: jest-expo's preset (iOS-like environment), tests beside the code. */
module.exports = {
  preset: 'jest-expo',
  setupFilesAfterEnv: ['<rootDir>/jest.setup.ts'],
  moduleNameMapper: { '^@/(.*)$': '<rootDir>/$1' },
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/backend/', '/.venv/', '/tests/', '/.expo/'],
  modulePathIgnorePatterns: ['<rootDir>/dist/', '<rootDir>/.venv/'],
  transformIgnorePatterns: [
    'node_modules/(?!((jest-)?react-native|@react-native(-community)?)|expo(nent)?|@expo(nent)?/.*|@expo-google-fonts/.*|react-navigation|@react-navigation/.*|@sentry/react-native|native-base|react-native-svg)',
  ],
  collectCoverageFrom: ['lib/**/*.{ts,tsx}', 'components/**/*.{ts,tsx}', 'constants/**/*.ts', '!**/*.test.{ts,tsx}'],
};
