import tseslint from 'typescript-eslint';

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
