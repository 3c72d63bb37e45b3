// node test/bench/parity.ts [--seconds 8]
// The parity comparator on this machine (DESIGN §6 "parity comparator: throughput and memory
// reported"): the comparator process (the bundle, dist/comparator-main.mjs, as in its pod) with two
// testbed backends answering listings on 127.0.0.1, fed mirrored requests as a gateway would.
//   - throughput: mirrored requests/s it compares (legacy + new + the noise sample), maxLegacyRps
//     out of the way, at increasing offered rates;
//   - memory (RSS of the comparator process) at 100 and 1,000 mirrored requests/s with the defaults
//     (maxLegacyRps 10: the rest is shed and passed on to the new service only).
// Measures and prints; never fails on a number. No testbed needed.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBackend } from '../testbed/dataplane/backend.ts';
import { runLoad } from '../testbed/dataplane/load.ts';
import { freePort, killPid, waitReady } from '../testbed/procs.ts';
import { DIST, ensureBuilt } from '../../operator/build.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' } } });
const SECONDS = Number(values.seconds);

interface Summary { endpoints: Record<string, { compared: number; noiseCompared: number }>; skipped: Record<string, number>; forwardedOnly: number }

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

async function comparator(legacy: string, candidate: string, parity: Record<string, unknown>): Promise<{ pid: number; mirror: string; admin: string; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'parity-bench-'));
  const cfg = join(dir, 'config.json');
  writeFileSync(cfg, JSON.stringify({ namespace: 'bench', name: 'run', legacy, candidate, parity }));
  const [port, adminPort] = [await freePort(), await freePort()];
  const log = join(dir, 'comparator.log');
  // The comparator as it ships: the bundle (operator/build.ts), as the image runs it.
  await ensureBuilt();
  const child = spawn(process.execPath, ['--max-semi-space-size=2', join(DIST, 'comparator-main.mjs'), '--config', cfg, '--host', '127.0.0.1', '--port', String(port), '--admin-port', String(adminPort), '--log-level', 'warn'], { stdio: 'ignore' });
  await waitReady('comparator', `http://127.0.0.1:${adminPort}/healthz`, child.pid!, log, 30_000);
  return { pid: child.pid!, mirror: `http://127.0.0.1:${port}`, admin: `http://127.0.0.1:${adminPort}`, stop: () => killPid(child.pid!, 10_000) };
}

async function summary(admin: string): Promise<{ compared: number; skipped: number; forwarded: number }> {
  const s = (await (await fetch(`${admin}/summary`)).json()) as Summary;
  return {
    compared: Object.values(s.endpoints).reduce((n, e) => n + e.compared, 0),
    skipped: Object.values(s.skipped).reduce((n, x) => n + x, 0),
    forwarded: s.forwardedOnly,
  };
}

async function offer(mirror: string, rps: number, seconds: number, pid: number): Promise<{ sent: number; answered: number; rssMaxMb: number }> {
  let rssMaxMb = 0;
  const timer = setInterval(() => { rssMaxMb = Math.max(rssMaxMb, rssMb(pid)); }, 250);
  const r = await runLoad({ url: mirror, pathFor: (n) => `/listings/${(n % 200) + 1}`, headers: { authorization: 'Bearer bench' }, rps, durationMs: seconds * 1000, timeoutMs: 5000, concurrency: 512 });
  clearInterval(timer);
  return { sent: r.sent, answered: r.completed, rssMaxMb };
}

const legacy = await startBackend({ name: 'legacy', listing: true, noiseFields: ['requestId'] });
const next = await startBackend({ name: 'new', listing: true, noiseFields: ['requestId'] });
const rows: string[] = [];
try {
  // Throughput: the legacy protection out of the way, so every request is compared if it can be.
  const c = await comparator(legacy.url, next.url, { maxLegacyRps: 10_000, maxInFlight: 256 });
  for (const rps of [250, 500, 1000, 2000]) {
    const before = await summary(c.admin);
    const t0 = performance.now();
    const o = await offer(c.mirror, rps, SECONDS, c.pid);
    await new Promise((r) => setTimeout(r, 1000));
    const after = await summary(c.admin);
    const secs = (performance.now() - t0) / 1000 - 1;
    rows.push(`| throughput | offered ${rps}/s | compared ${Math.round((after.compared - before.compared) / secs)}/s, skipped ${Math.round((after.skipped - before.skipped) / secs)}/s (in flight), answered ${o.answered}/${o.sent} | RSS max ${o.rssMaxMb} MB |`);
  }
  await c.stop();
  // Memory with the defaults (maxLegacyRps 10).
  const d = await comparator(legacy.url, next.url, {});
  for (const rps of [100, 1000]) {
    const o = await offer(d.mirror, rps, SECONDS, d.pid);
    const s = await summary(d.admin);
    rows.push(`| defaults | ${rps}/s mirrored | compared ${s.compared} total, shed ${s.skipped}, passed on to the new service only ${s.forwarded} | RSS max ${o.rssMaxMb} MB |`);
  }
  await d.stop();
} finally {
  await legacy.close();
  await next.close();
}
console.log(`parity comparator, ${SECONDS} s per rate, node ${process.version}\n\n| run | load | result | memory |\n|---|---|---|---|\n${rows.join('\n')}`);
