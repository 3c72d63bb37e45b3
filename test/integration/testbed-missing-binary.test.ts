// A testbed start that cannot find or run one of its binaries fails with a clear error and leaves
// nothing running. (On a fresh machine `up` once crashed on an Alertmanager path chosen when a module
// loaded, before the package was installed, with etcd and kube-apiserver left behind.)
// The missing binary is simulated with CUTOVER_ALERTMANAGER_BIN, in a testbed directory of its own;
// the shared testbed of the run is not touched.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../testbed/paths.ts';

const dirs: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cutover-tb-missing-'));
  dirs.push(d);
  return d;
}

function testbedCli(args: string[], env: Record<string, string>): Promise<{ code: number; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(REPO_ROOT, 'test', 'testbed', 'cli.ts'), ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, maxBuffer: 16 << 20, timeout: 240_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

const COMPONENTS = /^(etcd|kube-apiserver|kube-controller|kube-scheduler|kwok|prometheus|alertmanager)/;

/**
 * Testbed processes (pid → command line): those whose command line mentions the testbed directory
 * (etcd keeps its data in /dev/shm, so it does not), and every component process not in `before`.
 */
function testbedProcesses(dir: string, before: ReadonlySet<number> = new Set()): Map<number, string> {
  const out = new Map<number, string>();
  for (const p of readdirSync('/proc')) {
    const pid = Number(p);
    if (!/^\d+$/.test(p) || pid === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ');
      const comm = readFileSync(`/proc/${p}/comm`, 'utf8').trim();
      if ((cmd.includes(dir) && !cmd.includes('vitest')) || (COMPONENTS.test(comm) && !before.has(pid))) out.set(pid, cmd);
    } catch { /* gone */ }
  }
  return out;
}

afterAll(async () => {
  // Whatever the outcome, nothing of these testbeds may outlive the test (the old code left them running).
  for (const d of dirs) {
    await testbedCli(['down'], { TESTBED_DIR: d });
    rmSync(d, { recursive: true, force: true });
  }
});

describe('testbed up with a missing binary', () => {
  it('a binary that is not there: a clear error naming it and how to get it, and nothing started', async () => {
    const dir = tempDir();
    const before = new Set(testbedProcesses(dir).keys());
    const r = await testbedCli(['up'], { TESTBED_DIR: dir, CUTOVER_ALERTMANAGER_BIN: join(dir, 'no-such-alertmanager') });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('testbed: alertmanager not found');
    expect(r.stderr).toContain('CUTOVER_ALERTMANAGER_BIN');
    expect(r.stderr).not.toMatch(/ENOENT|Unhandled 'error' event/);
    expect(existsSync(join(dir, 'state.json'))).toBe(false);
    expect([...testbedProcesses(dir, before).values()]).toEqual([]);
  });

  it('a binary that exits at start: `up` stops every component it started and says which one failed', async () => {
    const dir = tempDir();
    const fake = join(dir, 'alertmanager-that-exits');
    writeFileSync(fake, '#!/bin/sh\necho "simulated: cannot start" >&2\nexit 1\n');
    chmodSync(fake, 0o755);
    const before = new Set(testbedProcesses(dir).keys());
    const r = await testbedCli(['up'], { TESTBED_DIR: dir, CUTOVER_ALERTMANAGER_BIN: fake });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/testbed: alertmanager exited before it was ready; see .*alertmanager\.log/);
    // etcd and kube-apiserver did start (their logs exist) and were stopped again.
    expect(existsSync(join(dir, 'logs', 'kube-apiserver.log'))).toBe(true);
    expect(existsSync(join(dir, 'state.json'))).toBe(false);
    expect([...testbedProcesses(dir, before).values()]).toEqual([]);
  });
});
