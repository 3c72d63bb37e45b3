// The testbed resolves its binaries when it needs them and says clearly when one is missing.
import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MissingBinaryError, systemBinary } from '../../testbed/paths.ts';
import { startDetached } from '../../testbed/procs.ts';

const saved = { ...process.env };
afterEach(() => { process.env = { ...saved }; });

describe('testbed binaries', () => {
  it('startDetached with a binary that is not there throws a clear error (no unhandled spawn error)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cutover-procs-'));
    expect(() => startDetached('alertmanager', join(dir, 'alertmanager'), [], join(dir, 'log')))
      .toThrow(`cannot start alertmanager: ${join(dir, 'alertmanager')} is not an executable file (ENOENT)`);
  });

  it('a system binary is looked up when asked: found on PATH once it is there', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cutover-path-'));
    delete process.env.CUTOVER_ALERTMANAGER_BIN;
    process.env.PATH = dir;
    // Not installed yet: this is what a fresh machine sees before install-system.sh ran (unless /usr/bin has it).
    let before: string | MissingBinaryError;
    try { before = systemBinary('alertmanager'); } catch (err) { before = err as MissingBinaryError; }
    if (before instanceof MissingBinaryError) expect(before.message).toContain('apt-get install prometheus-alertmanager');
    // "Installed": the same call now finds it.
    writeFileSync(join(dir, 'prometheus-alertmanager'), '#!/bin/sh\n');
    chmodSync(join(dir, 'prometheus-alertmanager'), 0o755);
    expect(systemBinary('alertmanager')).toBe(join(dir, 'prometheus-alertmanager'));
  });

  it('an override naming a missing file is an error that names the variable', () => {
    process.env.CUTOVER_PROMETHEUS_BIN = '/nonexistent/prometheus';
    expect(() => systemBinary('prometheus')).toThrow(/prometheus not found \(looked for \/nonexistent\/prometheus \(CUTOVER_PROMETHEUS_BIN\)\).*unset it/);
  });
});
