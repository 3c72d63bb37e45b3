// One real node per machine: a second testbed's `up` while the run's shared testbed holds the real
// node fails at once, with one line naming the holder, and starts nothing.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testbed } from '../helpers/cluster.ts';
import { REPO_ROOT } from '../testbed/paths.ts';
import { LOCK_FILE } from '../testbed/realnode.ts';
import { requireRealNode } from '../testbed/testbed.ts';

const dir = mkdtempSync(join(tmpdir(), 'cutover-tb-second-'));

function testbedCli(args: string[], env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(REPO_ROOT, 'test', 'testbed', 'cli.ts'), ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, timeout: 240_000 },
      (err, _stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr }));
  });
}

afterAll(async () => {
  await testbedCli(['down'], { TESTBED_DIR: dir });
  rmSync(dir, { recursive: true, force: true });
});

describe('the real-node lock', () => {
  it('a second testbed cannot take the real node: one line names the holder, nothing is started', async () => {
    const info = testbed();
    requireRealNode(info);
    const r = await testbedCli(['up'], { TESTBED_DIR: dir, CUTOVER_REAL_NODE: '' });
    expect(r.code).toBe(1);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('testbed: '));
    expect(lines).toEqual([`testbed: the real node is in use by the testbed in ${info.dir} (lock ${LOCK_FILE}, holder pid ${lines[0]?.match(/holder pid (\d+)/)?.[1]}): stop it with TESTBED_DIR=${info.dir} npm run testbed -- down, or start this one without a real node: CUTOVER_REAL_NODE=0`]);
    expect(existsSync(join(dir, 'state.json'))).toBe(false);
    expect(existsSync(join(dir, 'logs', 'etcd.log'))).toBe(false);
  });
});
