// The comparator process: its admin endpoints, its summary file across a restart, and the real
// entrypoint (comparator-main.ts) started as a child process, against local servers on 127.0.0.1.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ParitySchema } from '../../../operator/src/api/shadowrun.ts';
import { startComparatorServer, type ComparatorConfig, type ComparatorServer } from '../../../operator/src/parity/server.ts';
import { FakeClock } from '../../../operator/src/runtime/clock.ts';
import { Registry } from '../../../operator/src/runtime/metrics.ts';

const servers: Server[] = [];
const running: ComparatorServer[] = [];
let dir = '';
let child: ChildProcess | undefined;

/** A listings service whose price is `price`. */
async function service(price: number): Promise<string> {
  const s = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ url: req.url, price }));
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

async function config(): Promise<ComparatorConfig> {
  return { namespace: 'shop', name: 'listings', owner: 'team-listings', legacy: await service(10), candidate: await service(11), parity: ParitySchema.parse({ minCompared: 1, endpoints: ['GET /listings/:id'] }) };
}

async function start(cfg: ComparatorConfig, summaryFile: string): Promise<ComparatorServer> {
  const s = await startComparatorServer(cfg, { host: '127.0.0.1', port: 0, adminPort: 0, summaryFile, registry: new Registry(), comparator: { clock: new FakeClock(0) } });
  running.push(s);
  return s;
}

afterEach(async () => {
  child?.kill('SIGKILL');
  child = undefined;
  for (const s of running.splice(0)) await s.close();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('comparator server', () => {
  it('serves the report and metrics on the admin port; counts survive a restart through the summary file', async () => {
    dir = await mkdtemp(join(tmpdir(), 'cutover-parity-'));
    const file = join(dir, 'summary.json');
    const cfg = await config();
    const first = await start(cfg, file);
    for (const id of [1, 2]) expect((await fetch(`${first.mirrorUrl}/listings/${id}`)).status).toBe(204);
    await first.comparator.idle();
    const md = await (await fetch(`${first.adminUrl}/report?format=md`)).text();
    expect(md).toContain('- **Owner:** team-listings');
    expect(md).toContain('| `GET /listings/:id` | 2 | 2 | 0.00% | Fail |');
    expect(await (await fetch(`${first.adminUrl}/metrics`)).text()).toContain('cutover_parity_compared_total{namespace="shop",shadowrun="listings",endpoint="GET /listings/:id",outcome="differ"} 2');
    await first.close();
    running.splice(running.indexOf(first), 1);
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ endpoints: { 'GET /listings/:id': { compared: 2 } } });

    const second = await start(cfg, file);
    await fetch(`${second.mirrorUrl}/listings/3`);
    await second.comparator.idle();
    const report = JSON.parse(await (await fetch(`${second.adminUrl}/report?format=json`)).text()) as { compared: number; decision: string };
    expect(report).toMatchObject({ compared: 3, decision: 'No-Go' });
  });

  it('comparator-main.ts: the entrypoint reads its config, compares, and writes its summary on SIGTERM', async () => {
    dir = await mkdtemp(join(tmpdir(), 'cutover-parity-'));
    const cfgFile = join(dir, 'config.json');
    const summaryFile = join(dir, 'summary.json');
    await writeFile(cfgFile, JSON.stringify(await config()));
    const main = fileURLToPath(new URL('../../../operator/src/comparator-main.ts', import.meta.url));
    child = spawn(process.execPath, [main, '--config', cfgFile, '--host', '127.0.0.1', '--port', '0', '--admin-port', '0', '--summary-file', summaryFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    const urls = await new Promise<{ mirrorUrl: string; adminUrl: string }>((resolve, reject) => {
      let out = '';
      child?.stdout?.on('data', (c: Buffer) => {
        out += c.toString();
        const line = out.split('\n').find((l) => l.includes('parity comparator listening'));
        if (line) resolve(JSON.parse(line) as { mirrorUrl: string; adminUrl: string });
      });
      child?.once('exit', (code) => reject(new Error(`comparator exited with ${code}: ${out}`)));
    });
    expect((await fetch(`${urls.adminUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${urls.mirrorUrl}/listings/7`, { headers: { authorization: 'Bearer MAIN-SECRET' } })).status).toBe(204);
    expect((await fetch(`${urls.mirrorUrl}/listings/7`, { method: 'DELETE' })).status).toBe(204);
    const exited = new Promise<number | null>((r) => child?.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    child = undefined;
    const summary = await readFile(summaryFile, 'utf8');
    expect(JSON.parse(summary)).toMatchObject({ skipped: { method: 1 }, endpoints: { 'GET /listings/:id': { compared: 1, fields: { '$.price': { raw: 1 } } } } });
    expect(summary).not.toContain('MAIN-SECRET');
  });
});
