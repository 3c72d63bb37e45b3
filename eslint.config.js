// Layering (DESIGN §4): only operator/src/kube/** talks to the Kubernetes API library, and a
// controller's planner (observe → plan → apply → status) is pure: it imports nothing that does I/O.
import tseslint from 'typescript-eslint';

const CLIENT_NODE = 'Only operator/src/kube/** may import @kubernetes/client-node (DESIGN §4).';
const clientNode = {
  paths: [{ name: '@kubernetes/client-node', message: CLIENT_NODE }],
  patterns: [{ group: ['@kubernetes/client-node/*'], message: CLIENT_NODE }],
};

// The planners: each controller's plan.ts, the files split out of it, and the base they share.
const PLANNER_FILES = [
  'operator/src/controllers/*/plan.ts',
  'operator/src/controllers/trafficshift/persistence.ts',
  'operator/src/controllers/trafficshift/status.ts',
  'operator/src/controllers/migrationslice/triggers.ts',
  'operator/src/controllers/shared/planner.ts',
];
const PURE = 'A planner is pure (DESIGN §4: observe → plan → apply → status): no I/O, so no kube/, node:*, got or the Prometheus provider; the reconciler observes and applies.';
const PARITY_PURE = 'Parity scoring (diff, noise, verdict, report, summary, redact, breaker) is pure: no I/O; comparator.ts and server.ts do it.';
const IO_BUILTINS = ['fs', 'fs/promises', 'http', 'https', 'http2', 'net', 'tls', 'dgram', 'dns', 'child_process', 'worker_threads', 'timers', 'timers/promises'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.testbed*/**', 'crds/**', 'charts/**', 'test/results/**', 'operator/src/cli/dashboard/assets/**'] },
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
      'no-restricted-imports': ['error', clientNode],
    },
  },
  {
    // Parity's scoring is pure too (the comparator and its server do the I/O).
    files: ['operator/src/parity/*.ts'],
    ignores: ['operator/src/parity/comparator.ts', 'operator/src/parity/server.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [...clientNode.paths, { name: 'got', message: PARITY_PURE }, ...IO_BUILTINS.map((name) => ({ name, message: PARITY_PURE }))],
        patterns: [...clientNode.patterns, { group: ['node:*'], message: PARITY_PURE }, { group: ['**/kube/*', '**/kube'], message: PARITY_PURE }],
      }],
    },
  },
  {
    files: PLANNER_FILES,
    rules: {
      // Replaces the rule above for these files, so it repeats the client-node restriction.
      'no-restricted-imports': ['error', {
        paths: [
          ...clientNode.paths,
          { name: 'got', message: PURE },
          ...IO_BUILTINS.map((name) => ({ name, message: PURE })),
        ],
        patterns: [
          ...clientNode.patterns,
          { group: ['node:*'], message: PURE },
          { group: ['**/kube/*', '**/kube'], message: PURE },
          { group: ['**/analysis/prometheus.ts', '**/analysis/prometheus'], message: PURE },
          { group: ['**/analysis/webcheck.ts', '**/analysis/webcheck'], message: PURE },
        ],
      }],
    },
  },
);
