import tseslint from 'typescript-eslint';

/** A feature never reaches into the composition root. */
const NO_APP = { regex: '^(\\.\\./)+(app|services|extension)(/|$)', message: 'A feature never imports the composition root (src/app, src/extension.ts): take what it needs from its FeatureContext.' };

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '.vscode-test/**', 'agents/**', 'bench/**', 'scripts/**', 'test/fixtures/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-console': 'error',
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // The core runs in plain Node (tests, `routelens serve`): it must never depend on the editor.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'vscode', message: 'The core (collector, store, decoders, statistics, routes) must not import vscode.' }] }],
    },
  },
  {
    // A feature gets everything through its FeatureContext: no composition root, no other feature.
    files: ['src/features/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            NO_APP,
          ],
        },
      ],
    },
  },
  {
    files: ['src/features/*/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            NO_APP,
            { regex: '^\\.\\./(?!context$|\\.\\./)', message: 'A feature never imports another feature (nor the feature list); shared editor code lives in src/editor, shared types in src/shared or the core.' },
          ],
        },
      ],
    },
  },
  {
    // The shared editor helpers serve every feature and the composition root: they import neither.
    files: ['src/editor/**/*.ts', 'src/settings.ts', 'src/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(\\.\\./)+(app|features|services)(/|$)', message: 'Shared editor code does not depend on the composition root or on a feature.' }] }],
    },
  },
  {
    files: ['src/webview/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'vscode', message: 'Webview code runs in a browser.' }] }],
      'no-restricted-properties': ['error', { object: 'document', property: 'write', message: 'Render telemetry as text.' }],
      'no-restricted-syntax': ['error', { selector: "AssignmentExpression[left.property.name=/^(innerHTML|outerHTML)$/]", message: 'Telemetry strings are rendered as text: use textContent or DOM nodes.' }],
    },
  },
  {
    files: ['test/**/*.ts', 'src/cli.ts'],
    rules: { 'no-console': 'off' },
  },
);
