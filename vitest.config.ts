import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs nothing; `cluster` (integration + e2e) shares ONE testbed per run,
// started by test/testbed/global-setup.ts and stopped after the last file.
export default defineConfig({
  test: {
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Unit tests first, then the cluster suites: on 2 cores, running both at once starves the
          // testbed and makes timing-sensitive checks flaky.
          sequence: { groupOrder: 0 },
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'cluster',
          sequence: { groupOrder: 1 },
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['./test/testbed/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 600_000,
          fileParallelism: false,
          maxWorkers: 1,
        },
      },
    ],
  },
});
