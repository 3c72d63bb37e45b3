// vitest globalSetup for the `cluster` project: ONE testbed per run, shared by the integration and e2e files.
// Reuses a testbed a developer already started (`npm run testbed -- up`) and leaves it running.
import type { TestProject } from 'vitest/node';
import { startTestbed, testbedEnv, type Testbed } from './testbed.ts';

let testbed: Testbed | undefined;

export async function setup(project: TestProject): Promise<void> {
  testbed = await startTestbed();
  for (const [k, v] of Object.entries(testbedEnv(testbed.info))) process.env[k] = v;
  project.provide('testbed', testbed.info);
}

export async function teardown(): Promise<void> {
  await testbed?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    testbed: import('./testbed.ts').TestbedInfo;
  }
}
