// What ships is the bundle (operator/build.ts → dist/; the image holds it and no node_modules). Built
// here into a directory with no node_modules anywhere above it, and run from there as the image
// runs it: the operator's entrypoint, the comparator's, and the chunks loaded on first use only.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { isBuiltin } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOperator, ENTRYPOINTS, ROOT, staleReason, type BuildInfo } from '../../../operator/build.ts';
import { ParitySchema } from '../../../operator/src/api/shadowrun.ts';
import { comparatorDeployment } from '../../../operator/src/parity/workload.ts';

const execFileP = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'cutover-bundle-'));
const dist = join(dir, 'dist');
let info: BuildInfo;
let child: ChildProcess | undefined;
let server: Server | undefined;

beforeAll(async () => { info = await buildOperator(dist); }, 120_000);
afterAll(async () => {
  child?.kill('SIGKILL');
  if (server) await new Promise<void>((r) => server!.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

describe('the bundle (dist/)', () => {
  it('imports nothing from outside but Node built-ins (and what ws and debug try to require, optional)', () => {
    expect(Object.keys(info.outputs)).toEqual(expect.arrayContaining(Object.keys(ENTRYPOINTS).map((e) => `${e}.mjs`)));
    // ws tries bufferutil / utf-8-validate and debug supports-color inside try/catch: absent is fine.
    expect(info.externals.filter((x) => !isBuiltin(x)).sort()).toEqual(['bufferutil', 'supports-color', 'utf-8-validate']);
    // Loaded on first use only: the full Kubernetes client (OIDC and cloud auth providers), Octokit,
    // and the plugin's dashboard server (`kubectl cutover dashboard`, the chart's in-cluster dashboard).
    expect(Object.values(info.lazy).sort()).toEqual([
      'node_modules/@kubernetes/client-node/dist/index.js', 'node_modules/@octokit/plugin-retry/dist-bundle/index.js', 'node_modules/@octokit/rest/dist-src/index.js',
      'operator/src/cli/dashboard/server.ts',
    ]);
    // The dashboard server reads its web assets beside its own output file.
    const server = Object.entries(info.lazy).find(([, src]) => src === 'operator/src/cli/dashboard/server.ts')![0];
    for (const f of ['index.html', 'app.js', 'app.css']) expect(existsSync(join(dist, dirname(server), 'assets', f)), f).toBe(true);
  });

  it('is stale (npm start rebuilds it) once a source it was built from changes', () => {
    expect(staleReason(dist)).toBeUndefined();
    const src = join(ROOT, 'operator', 'src', 'config.ts');
    expect(info.inputs).toContain('operator/src/config.ts');
    const { atime, mtime } = statSync(src);
    try {
      utimesSync(src, atime, new Date(info.builtAt + 1000));
      expect(staleReason(dist)).toBe('operator/src/config.ts changed');
    } finally {
      utimesSync(src, atime, mtime);
    }
    expect(staleReason(join(dir, 'nothing'))).toBe('no build in dist/');
  });

  it('the operator runs from it alone (--help), without loading what it does not use', async () => {
    // Node's module list once everything the operator imports is loaded (--help exits after that).
    const probe = join(dir, 'modules.cjs');
    // And how many Intl.ListFormats were built: each reads ICU locale data out of the node binary (~6 MB RSS).
    writeFileSync(probe, [
      'let listFormats = 0; const LF = Intl.ListFormat;',
      'Intl.ListFormat = class extends LF { constructor(...a) { super(...a); listFormats++; } };',
      `process.on('exit', () => process.stderr.write(JSON.stringify({ modules: process.moduleLoadList, listFormats })));`,
    ].join('\n'));
    const { stdout, stderr } = await execFileP(process.execPath, ['--require', probe, join(dist, 'main.mjs'), '--help'], { cwd: dir });
    expect(stdout).toMatch(/^usage: cutover/);
    const { modules, listFormats } = JSON.parse(stderr) as { modules: string[]; listFormats: number };
    // Node's internal fetch (undici, ~3 MB): loaded by an ES import of node:http, not needed (build.ts builtinsViaRequire).
    expect(modules.filter((m) => m.includes('undici'))).toEqual([]);
    // got's @sindresorhus/is builds two at load for its error messages; the bundle builds them on first use (build.ts lazyListFormat).
    expect(listFormats).toBe(0);
  });

  it('the chunks loaded on first use load from it alone', async () => {
    for (const chunk of Object.keys(info.lazy)) {
      const { stdout } = await execFileP(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(join(dist, chunk))}); console.log(Object.keys(m).length);`], { cwd: dir });
      expect(Number(stdout), chunk).toBeGreaterThan(0);
    }
  }, 30_000);

  it('the comparator runs from it as its Deployment starts it, and stops cleanly on SIGTERM', async () => {
    const parity = ParitySchema.parse({ minCompared: 1, endpoints: ['GET /listings/:id'] });
    const deployment = comparatorDeployment({ namespace: 'shop', name: 'listings', uid: 'u', apiVersion: 'cutover.dev/v1alpha1', kind: 'ShadowRun' }, { namespace: 'shop', name: 'listings', owner: 'team', legacy: 'http://legacy', candidate: 'http://new', parity }, { image: 'img' });
    const command = (deployment as unknown as { spec: { template: { spec: { containers: Array<{ command: string[] }> } } } }).spec.template.spec.containers[0]!.command;
    expect(command[0]).toBe('node');
    const script = command.at(-1)!;
    expect(script).toBe('dist/comparator-main.mjs');
    server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"price":1}'));
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const backend = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const cfg = join(dir, 'config.json');
    writeFileSync(cfg, JSON.stringify({ namespace: 'shop', name: 'listings', owner: 'team', legacy: backend, candidate: backend, parity }));
    child = spawn(process.execPath, [...command.slice(1, -1), join(dir, script), '--config', cfg, '--host', '127.0.0.1', '--port', '0', '--admin-port', '0', '--summary-file', join(dir, 'summary.json')], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
    const urls = await new Promise<{ mirrorUrl: string; adminUrl: string }>((resolve, reject) => {
      let out = '';
      child!.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const line = out.split('\n').find((l) => l.includes('parity comparator listening'));
        if (line) resolve(JSON.parse(line) as { mirrorUrl: string; adminUrl: string });
      });
      child!.once('exit', (code) => reject(new Error(`comparator exited with ${code}: ${out}`)));
    });
    expect((await fetch(`${urls.adminUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${urls.mirrorUrl}/listings/7`)).status).toBe(204);
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    child = undefined;
  }, 30_000);
});
