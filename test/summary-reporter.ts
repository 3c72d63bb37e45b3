// Prints the plain closing line CI reads ("N passed, N failed") and writes it to test/results/summary.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const failures: string[] = [];
    for (const mod of testModules) {
      let sawTest = false;
      for (const tc of mod.children.allTests()) {
        sawTest = true;
        const state = tc.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') { failed++; failures.push(`${mod.moduleId}: ${tc.fullName}`); }
        else skipped++;
      }
      // A file that failed to load (or whose hooks failed) counts as a failure, never as nothing.
      if (!sawTest && mod.state() === 'failed') { failed++; failures.push(`${mod.moduleId}: (file failed)`); }
      else if (mod.errors().length > 0 && mod.state() === 'failed' && sawTest) {
        // errors outside tests (e.g. afterAll) make the module fail
        failed++; failures.push(`${mod.moduleId}: (hook error)`);
      }
    }
    failed += unhandledErrors.length;
    mkdirSync('test/results', { recursive: true });
    writeFileSync('test/results/summary.json', JSON.stringify({ passed, failed, skipped, failures }, null, 2));
    process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  }
}
