#!/usr/bin/env node
// kubectl-cutover: the kubectl plugin's executable (`kubectl cutover ...` when it is on PATH).
// The plugin is TypeScript run by Node's type stripping (Node >= 22.18 / 23.6, the project targets
// 24). This shim is plain JavaScript so that an older `node` first on PATH can still find the
// project's own Node 24 (node_modules/.bin/node) and hand over to it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
const stripsTypes = major > 23 || (major === 23 && minor >= 6) || (major === 22 && minor >= 18);
if (!stripsTypes) {
  const local = fileURLToPath(new URL('../../node_modules/.bin/node', import.meta.url));
  if (existsSync(local) && !process.env.KUBECTL_CUTOVER_REEXEC) {
    const r = spawnSync(local, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, KUBECTL_CUTOVER_REEXEC: '1' } });
    process.exit(r.status ?? 1);
  }
  process.stderr.write(`kubectl-cutover needs Node.js 24 (found ${process.versions.node})\n`);
  process.exit(1);
}
// Cache compiled code between runs (a plugin is started once per command).
const { enableCompileCache } = await import('node:module');
enableCompileCache?.();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
