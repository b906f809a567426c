// ESLint flat config: Expo's shared rules, plus the folders that are not app code.
const { defineConfig } = require('eslint/config');
const expoConfig = require('eslint-config-expo/flat');

module.exports = defineConfig([
  expoConfig,
  {
    ignores: ['dist/*', 'node_modules/*', '.expo/*', 'backend/*', '.venv/*', 'coverage/*', 'tests/*'],
  },
  {
    files: ['**/*.test.ts', '**/*.test.tsx', 'test-utils/**', 'jest.setup.ts'],
    languageOptions: { globals: { jest: 'readonly', describe: 'readonly', it: 'readonly', expect: 'readonly', beforeEach: 'readonly', afterEach: 'readonly' } },
    // jest.mock() factories must use require(): they are hoisted above the imports.
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
]);
