// Part `parity` of `npm run bench` (DESIGN §6 "parity comparator: throughput and memory reported";
// issue 14 "the latency it adds for users: measured at the gateway with parity on vs off"). Two
// measurements:
//   - comparator: the comparator process (the bundle, dist/comparator-main.mjs, as in its pod) with two
//     testbed backends answering listings on 127.0.0.1, fed mirrored requests as a gateway would:
//     compared requests/s at increasing offered rates (maxLegacyRps out of the way; the best rate is
//     the saturation figure) and its RSS at 100 and 1,000 mirrored requests/s with the defaults
//     (maxLegacyRps 10: the rest is shed and passed on to the new service only). No cluster needed:
//     `node test/bench/parity.ts [--seconds 8]` runs this half alone.
//   - gateway: user-facing latency through the testbed's gateway, the same bounded load (GETs of
//     listings from 127.0.0.1 at a fixed rate) with no mirror, with a plain shadow (ShadowRun without
//     parity: the gateway mirrors to the new service) and with parity on (the mirror goes to the
//     run's comparator pod, which replays every read to both backends: maxLegacyRps above the load
//     rate, so every request is compared — parity at its heaviest). Real backend pods on the real
//     node, the operator as a process, in two rounds in mirrored order (none, shadow, parity, parity,
//     shadow, none) so that a drift of the shared machine shows instead of favouring one mode.
// Measures and reports; never fails on a number.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { KubernetesObject } from '@kubernetes/client-node';
import { startBackend as startLocalBackend } from '../testbed/dataplane/backend.ts';
import { GATEWAY_NAME, GATEWAY_NAMESPACE } from '../testbed/dataplane/gateway-class.ts';
import { runLoad, type LoadSummary } from '../testbed/dataplane/load.ts';
import { startBackend, stopBackend } from '../testbed/backends.ts';
import { freePort, killPid, waitReady } from '../testbed/procs.ts';
import { OPERATOR_IMAGE, REAL_NODE_LABEL, REAL_NODE_TAINT } from '../testbed/realnode.ts';
import type { TestbedInfo } from '../testbed/testbed.ts';
import { apply, deleteNamespaces, kube, log, rssMb, sleep, startOperator, uid, type Kube } from './lib.ts';
import { DIST, ensureBuilt } from '../../operator/build.ts';

export interface ParityThroughputRow { offeredRps: number; comparedPerSecond: number; shedPerSecond: number; sent: number; answered: number; rssMaxMb: number }
export interface ParityMemoryRow { mirroredRps: number; compared: number; shed: number; forwardedOnly: number; rssMaxMb: number }
export interface GatewayLatency { mode: 'none' | 'shadow' | 'parity'; round: number; n: number; errors: number; non200: number; p50: number; p95: number; p99: number; max: number; achievedRps: number; comparedDuring?: number }
export interface ParityGatewayResult { rps: number; seconds: number; backendLatencyMs: number; runs: GatewayLatency[]; byMode: Record<string, { p50: number; p95: number; p99: number }> }
export interface ParityBenchResult {
  seconds: number;
  throughput: ParityThroughputRow[];
  /** The highest compared requests/s over the offered rates. */
  saturationComparedPerSecond: number;
  memory: ParityMemoryRow[];
  gateway?: ParityGatewayResult | { error: string };
}

interface Summary { endpoints: Record<string, { compared: number; noiseCompared: number }>; skipped: Record<string, number>; forwardedOnly: number }

async function comparator(legacy: string, candidate: string, parity: Record<string, unknown>): Promise<{ pid: number; mirror: string; admin: string; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'parity-bench-'));
  const cfg = join(dir, 'config.json');
  writeFileSync(cfg, JSON.stringify({ namespace: 'bench', name: 'run', legacy, candidate, parity }));
  const [port, adminPort] = [await freePort(), await freePort()];
  const logFile = join(dir, 'comparator.log');
  // The comparator as it ships: the bundle (operator/build.ts), as the image runs it.
  await ensureBuilt();
  const child = spawn(process.execPath, ['--max-semi-space-size=2', join(DIST, 'comparator-main.mjs'), '--config', cfg, '--host', '127.0.0.1', '--port', String(port), '--admin-port', String(adminPort), '--log-level', 'warn'], { stdio: 'ignore' });
  await waitReady('comparator', `http://127.0.0.1:${adminPort}/healthz`, child.pid!, logFile, 30_000);
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
  const timer = setInterval(() => { rssMaxMb = Math.max(rssMaxMb, Math.round(rssMb(pid))); }, 250);
  const r = await runLoad({ url: mirror, pathFor: (n) => `/listings/${(n % 200) + 1}`, headers: { authorization: 'Bearer bench' }, rps, durationMs: seconds * 1000, timeoutMs: 5000, concurrency: 512 });
  clearInterval(timer);
  return { sent: r.sent, answered: r.completed, rssMaxMb };
}

/** The comparator process alone, on 127.0.0.1 (no cluster). */
export async function parityComparatorBench(opts: { seconds?: number } = {}): Promise<Omit<ParityBenchResult, 'gateway'>> {
  const seconds = opts.seconds ?? 8;
  const legacy = await startLocalBackend({ name: 'legacy', listing: true, noiseFields: ['requestId'] });
  const next = await startLocalBackend({ name: 'new', listing: true, noiseFields: ['requestId'] });
  const throughput: ParityThroughputRow[] = [];
  const memory: ParityMemoryRow[] = [];
  try {
    // Throughput: the legacy protection out of the way, so every request is compared if it can be.
    const c = await comparator(legacy.url, next.url, { maxLegacyRps: 10_000, maxInFlight: 256 });
    try {
      for (const rps of [250, 500, 1000, 2000]) {
        const before = await summary(c.admin);
        const t0 = performance.now();
        const o = await offer(c.mirror, rps, seconds, c.pid);
        await sleep(1000);
        const after = await summary(c.admin);
        const secs = (performance.now() - t0) / 1000 - 1;
        throughput.push({ offeredRps: rps, comparedPerSecond: Math.round((after.compared - before.compared) / secs), shedPerSecond: Math.round((after.skipped - before.skipped) / secs), sent: o.sent, answered: o.answered, rssMaxMb: o.rssMaxMb });
        log(`parity: offered ${rps}/s → compared ${throughput.at(-1)!.comparedPerSecond}/s, RSS max ${o.rssMaxMb} MB`);
      }
    } finally { await c.stop(); }
    // Memory with the defaults (maxLegacyRps 10).
    const d = await comparator(legacy.url, next.url, {});
    try {
      for (const rps of [100, 1000]) {
        const o = await offer(d.mirror, rps, seconds, d.pid);
        const s = await summary(d.admin);
        memory.push({ mirroredRps: rps, compared: s.compared, shed: s.skipped, forwardedOnly: s.forwarded, rssMaxMb: o.rssMaxMb });
      }
    } finally { await d.stop(); }
  } finally {
    await legacy.close();
    await next.close();
  }
  return { seconds, throughput, saturationComparedPerSecond: Math.max(...throughput.map((t) => t.comparedPerSecond)), memory };
}

interface Route { spec?: { rules?: Array<{ filters?: Array<{ type: string; requestMirror?: { backendRef?: { name?: string } } }> }> } }
interface Run { status?: { phase?: string; parity?: { compared?: number } } }

async function getObj<T>(k: Kube, apiVersion: string, kind: string, ns: string, name: string): Promise<T | undefined> {
  try { return (await k.api.read({ apiVersion, kind, metadata: { name, namespace: ns } })) as T; } catch { return undefined; }
}

/** Waits until the route's mirror goes to `target` (undefined: no mirror). */
async function waitMirror(k: Kube, ns: string, target: (name: string | undefined) => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const r = await getObj<Route>(k, 'gateway.networking.k8s.io/v1', 'HTTPRoute', ns, 'listings');
    const m = r?.spec?.rules?.[0]?.filters?.find((f) => f.type === 'RequestMirror');
    if (target(m?.requestMirror?.backendRef?.name)) return;
    if (Date.now() > deadline) throw new Error(`route mirror not ${what} after 90 s`);
    await sleep(250);
  }
}

function shadowRun(ns: string, name: string, parity: boolean): KubernetesObject {
  return {
    apiVersion: 'cutover.dev/v1alpha1', kind: 'ShadowRun', metadata: { name, namespace: ns },
    spec: {
      route: { httpRoute: { name: 'listings' } },
      primary: { service: 'monolith', port: 8080 }, shadow: { service: 'listings-api', port: 8080 },
      percent: 100, duration: '30m',
      ...(parity ? { parity: { minCompared: 1, maxLegacyRps: 1000, endpoints: ['GET /listings/:id'] } } : {}),
    },
  } as KubernetesObject;
}

/** User latency through the testbed's gateway: no mirror, a plain shadow, and parity on. */
export async function parityGatewayBench(info: TestbedInfo, opts: { rps?: number; seconds?: number; backendLatencyMs?: number } = {}): Promise<ParityGatewayResult> {
  const k = kube(info);
  const rps = opts.rps ?? 50;
  const seconds = opts.seconds ?? 20;
  const backendLatencyMs = opts.backendLatencyMs ?? 10;
  const ns = uid('bench-parity');
  const host = `listings.${ns}.test`;
  log(`parity at the gateway: ${rps} req/s for ${seconds} s per mode, backends answering in ${backendLatencyMs} ms`);
  const op = await startOperator(info, {
    name: 'bench-parity', namespaces: [ns],
    extraArgs: ['--log-level', 'info', '--parity-image', OPERATOR_IMAGE, '--parity-image-pull-policy', 'Never', '--parity-pod-template', JSON.stringify({
      nodeSelector: { [REAL_NODE_LABEL.key]: REAL_NODE_LABEL.value },
      tolerations: [{ key: REAL_NODE_TAINT.key, operator: 'Equal', value: REAL_NODE_TAINT.value, effect: REAL_NODE_TAINT.effect }],
    })],
  });
  const runs: GatewayLatency[] = [];
  try {
    await apply(k, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await Promise.all([
      startBackend(info, { namespace: ns, service: 'monolith', listing: true, latencyMs: backendLatencyMs }),
      startBackend(info, { namespace: ns, service: 'listings-api', listing: true, latencyMs: backendLatencyMs }),
    ]);
    await apply(k, {
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'listings', namespace: ns },
      spec: { parentRefs: [{ name: GATEWAY_NAME, namespace: GATEWAY_NAMESPACE }], hostnames: [host], rules: [{ backendRefs: [{ name: 'monolith', port: 8080, weight: 100 }, { name: 'listings-api', port: 8080, weight: 0 }] }] },
    } as KubernetesObject);
    const load = (durationMs: number): Promise<LoadSummary> => runLoad({ url: info.gatewayUrl, host, pathFor: (n) => `/listings/${(n % 40) + 1}`, rps, durationMs, timeoutMs: 5000 });
    // The gateway routes the new route once it has seen it.
    const deadline = Date.now() + 30_000;
    while ((await runLoad({ url: info.gatewayUrl, host, path: '/listings/1', rps: 10, maxRequests: 1, timeoutMs: 2000 })).byStatus['200'] !== 1) {
      if (Date.now() > deadline) throw new Error('the gateway does not route the bench route');
      await sleep(200);
    }
    let current: string | undefined;
    const order: Array<GatewayLatency['mode']> = ['none', 'shadow', 'parity', 'parity', 'shadow', 'none'];
    for (const [i, mode] of order.entries()) {
      const round = i < 3 ? 1 : 2;
      if (current) {
        await k.api.delete({ apiVersion: 'cutover.dev/v1alpha1', kind: 'ShadowRun', metadata: { name: current, namespace: ns } }).catch(() => {});
        await waitMirror(k, ns, (n) => n === undefined, 'removed');
        current = undefined;
      }
      if (mode !== 'none') {
        current = `${mode}-${round}`;
        await apply(k, shadowRun(ns, current, mode === 'parity'));
        await waitMirror(k, ns, (n) => (mode === 'parity' ? n?.startsWith('cutover-parity-') === true : n === 'listings-api'), `to the ${mode === 'parity' ? 'comparator' : 'new service'}`);
      }
      await load(3000); // warm-up: connections, the comparator's first replays
      const compared = async () => (current ? (await getObj<Run>(k, 'cutover.dev/v1alpha1', 'ShadowRun', ns, current))?.status?.parity?.compared ?? 0 : 0);
      const before = await compared();
      const r = await load(seconds * 1000);
      let comparedDuring: number | undefined;
      if (mode === 'parity') {
        await sleep(4000); // the comparator writes its summary every 3 s
        comparedDuring = (await compared()) - before;
      }
      const non200 = Object.entries(r.byStatus).filter(([c]) => c !== '200').reduce((n, [, v]) => n + v, 0);
      runs.push({ mode, round, n: r.completed, errors: r.errors, non200, p50: r.latencyMs.p50, p95: r.latencyMs.p95, p99: r.latencyMs.p99, max: r.latencyMs.max, achievedRps: Math.round(r.achievedRps * 10) / 10, ...(comparedDuring !== undefined ? { comparedDuring } : {}) });
      log(`parity at the gateway: ${mode} (round ${round}): p50 ${r.latencyMs.p50} · p95 ${r.latencyMs.p95} · p99 ${r.latencyMs.p99} ms, ${r.completed} answered${comparedDuring !== undefined ? `, ${comparedDuring} compared` : ''}`);
    }
  } finally {
    await op.stop();
    await Promise.all([stopBackend(info, ns, 'monolith', false), stopBackend(info, ns, 'listings-api', false)]);
    await deleteNamespaces(k, [ns]);
  }
  const mean = (xs: number[]) => Math.round((xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)) * 10) / 10;
  const byMode: ParityGatewayResult['byMode'] = {};
  for (const m of ['none', 'shadow', 'parity'] as const) {
    const rs = runs.filter((r) => r.mode === m);
    byMode[m] = { p50: mean(rs.map((r) => r.p50)), p95: mean(rs.map((r) => r.p95)), p99: mean(rs.map((r) => r.p99)) };
  }
  return { rps, seconds, backendLatencyMs, runs, byMode };
}

export async function parityBench(info: TestbedInfo, opts: { seconds?: number } = {}): Promise<ParityBenchResult> {
  const c = await parityComparatorBench(opts);
  let gateway: ParityBenchResult['gateway'];
  try { gateway = await parityGatewayBench(info); } catch (err) {
    log(`parity at the gateway failed: ${(err as Error).stack ?? String(err)}`);
    gateway = { error: (err as Error).message };
  }
  return { ...c, gateway };
}

/** The comparator half as a markdown table (also what `node test/bench/parity.ts` prints). */
export function comparatorRows(r: Omit<ParityBenchResult, 'gateway'>): string[][] {
  return [
    ...r.throughput.map((t) => [`parity comparator, ${t.offeredRps} mirrored req/s offered (maxLegacyRps out of the way)`, `${t.comparedPerSecond} compared/s, ${t.shedPerSecond}/s shed; RSS max ${t.rssMaxMb} MB`, '', '']),
    ...r.memory.map((m) => [`parity comparator, ${m.mirroredRps} mirrored req/s, defaults (maxLegacyRps 10), ${r.seconds} s`, `${m.compared} compared, ${m.shed} shed (${m.forwardedOnly} passed on to the new service only); RSS max ${m.rssMaxMb} MB`, '', '']),
  ];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' } } });
  const r = await parityComparatorBench({ seconds: Number(values.seconds) });
  console.log(`parity comparator, ${r.seconds} s per rate, node ${process.version}; saturation ${r.saturationComparedPerSecond} compared/s\n\n| run | measured | | |\n|---|---|---|---|\n${comparatorRows(r).map((x) => `| ${x.join(' | ')} |`).join('\n')}`);
}
