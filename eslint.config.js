// Layering (DESIGN §4): only operator/src/kube/** talks to the Kubernetes API library.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.testbed*/**', 'crds/**', 'charts/**', 'test/results/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['operator/src/**/*.ts'],
    ignores: ['operator/src/kube/**'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: '@kubernetes/client-node', message: 'Only operator/src/kube/** may import @kubernetes/client-node (DESIGN §4).' }],
        patterns: [{ group: ['@kubernetes/client-node/*'], message: 'Only operator/src/kube/** may import @kubernetes/client-node (DESIGN §4).' }],
      }],
    },
  },
);
