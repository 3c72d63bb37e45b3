// Side by side with Flagger v1.44 (DESIGN §6): the same testbed, the same Prometheus, the same fault.
//
// Flagger is built from the Go module proxy (test/testbed/build/build.sh flagger, cached) and runs as a
// local process against the testbed's admin kubeconfig with its Gateway API provider
// (-mesh-provider=gatewayapi:v1), watching one bench namespace. Per Flagger cutover: a Deployment (its
// pods land on KWOK nodes, which report them Ready), a Canary whose HTTPRoute the testbed gateway
// serves, and a MetricTemplate with the same error-ratio query that Cutover's shifts use. Flagger's
// `<name>-primary` / `<name>-canary` Services select KWOK pods with fake IPs, which the gateway ignores
// (it only dials loopback endpoints); the bench gives each of them a second EndpointSlice (FQDN
// 127.0.0.1.localhost, managed-by bench.cutover.dev, so the EndpointSlice controller leaves it alone)
// pointing at a real backend process. So requests really flow gateway → backend and Prometheus sees
// the failures.
//
//   timing  fault → traffic back on stable: once the tool has moved the first weight step (canary weight
//           > 0 seen by a WATCH on the HTTPRoute), the canary backend starts failing 20% of requests;
//           the time is measured from that moment to the WATCH event with the canary at weight 0. Each
//           tool at its fastest documented settings and at its defaults (and Flagger at the values of
//           its Gateway API tutorial), several runs in parallel.
//   memory  RSS of each process with 100 cutovers in steady state: 100 Canaries (each with its
//           Deployment) Initialized and then Progressing vs 100 TrafficShifts Progressing.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { setBackend, startBackend, stopBackend } from '../testbed/backends.ts';
import { runLoad, type LoadSummary } from '../testbed/dataplane/load.ts';
import { loopbackFqdn } from '../testbed/dataplane/routing.ts';
import { binaries, CACHE_DIR, REPO_ROOT } from '../testbed/paths.ts';
import { freePort, isAlive, killPid, startDetached, waitReady } from '../testbed/procs.ts';
import type { TestbedInfo } from '../testbed/testbed.ts';
import { BENCH_ERROR_QUERY } from './breach.ts';
import {
  apply, applyAll, canaryWeight, CONSTANT_QUERY, deleteNamespaces, dist, fetchText, httpRoute, kube, log, memoryMap, mergePatch, metricSum, now, pool, rssMb, serviceObjects, sleep,
  startOperator, trafficShift, uid, watch, type Dist, type Kube,
} from './lib.ts';

export const FLAGGER_VERSION = process.env.FLAGGER_VERSION ?? 'v1.44.0';
export const FLAGGER_DIR = join(CACHE_DIR, 'bin', `flagger-${FLAGGER_VERSION}`);
const FLAGGER_SRC = `github.com/fluxcd/flagger@${FLAGGER_VERSION}`;

/** One tool at one setting: fault → stable over several runs. */
export interface TimingResult {
  tool: 'flagger' | 'cutover';
  setting: string;
  /** What the spec says (unset fields are listed as "(unset)") and what the tool then uses. */
  spec: string;
  effective: { intervalSeconds: number; failureLimit: number };
  source: string;
  runs: number;
  faultToStableMs: Dist;
  samples: number[];
  /** The canary weight when the fault started, per successful run. */
  weightAtFault: number[];
  /** Final phase and failed-check counter per run, as the tool wrote them. */
  outcomes: string[];
  errors: string[];
}

/**
 * Where the memory is, at the end of a window: /proc/PID/smaps_rollup (allocated vs pages of mapped
 * files: the binary and its libraries) and the runtime's own heap figures from its /metrics, MB.
 */
export interface MemoryDetail { anonMb?: number; fileMb?: number; runtime: Record<string, number> }

export interface MemoryResult {
  cutovers: number;
  flagger: { baselineMb: number; initializedMb: number; initializedMaxMb: number; progressingMb: number; progressingMaxMb: number; initializedAfterS: number; progressingAfterS: number; phases: Record<string, number>; empty?: MemoryDetail; detail?: MemoryDetail };
  cutover: { baselineMb: number; progressingMb: number; progressingMaxMb: number; progressingAfterS: number; phases: Record<string, number>; empty?: MemoryDetail; detail?: MemoryDetail };
  /** Flagger / Cutover, both Progressing, medians. */
  ratio: number;
  errors: string[];
}

export interface FlaggerResult {
  rows: Array<{ what: string; value: string; target?: string }>;
  notes: string[];
  flaggerVersion: string;
  flaggerArgs: string[];
  timing: TimingResult[];
  /** Flagger p50 / Cutover p50 for each pairing. */
  ratios: Record<string, number>;
  memory?: MemoryResult | { error: string };
  durationSeconds: number;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20, env: { ...process.env, FLAGGER_VERSION } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
    });
  });
}

/** Builds Flagger once (cached); bounded so that the bench stays bounded. */
export async function ensureFlagger(timeoutMs = 20 * 60_000): Promise<string> {
  if (existsSync(join(FLAGGER_DIR, '.complete-loopback'))) return join(FLAGGER_DIR, 'flagger');
  log(`flagger: building ${FLAGGER_VERSION} with go install (cached in ${FLAGGER_DIR}; at most ${Math.round(timeoutMs / 60_000)} min)`);
  const t0 = Date.now();
  const r = await run('bash', [join(REPO_ROOT, 'test', 'testbed', 'build', 'build.sh'), 'flagger'], timeoutMs);
  if (r.code !== 0 || !existsSync(join(FLAGGER_DIR, '.complete-loopback'))) {
    const tail = r.stderr.trim().split('\n').slice(-3).join(' | ');
    throw new Error(`go install github.com/fluxcd/flagger/cmd/flagger@${FLAGGER_VERSION} did not finish (exit ${r.code} after ${Math.round((Date.now() - t0) / 1000)} s): ${tail}`);
  }
  return join(FLAGGER_DIR, 'flagger');
}

// ---- settings --------------------------------------------------------------------------------

interface FlaggerSetting { id: string; interval?: string; threshold?: number; intervalS: number; thresholdEff: number; source: string }
interface CutoverSetting { id: string; interval?: string; failureLimit?: number; intervalS: number; failureLimitEff: number; source: string }

/** Flagger's values, with where they are documented (paths in the v1.44.0 module). */
export const FLAGGER_SETTINGS: FlaggerSetting[] = [
  {
    id: 'fastest', interval: '10s', threshold: 1, intervalS: 10, thresholdEff: 1,
    source: `${FLAGGER_SRC}: interval 10s is the smallest Flagger runs (pkg/apis/flagger/v1beta1/canary.go GetAnalysisInterval raises anything below to 10s) and the value of its NGINX and APISIX tutorials (docs/gitbook/tutorials/nginx-progressive-delivery.md); threshold 1 is the smallest (GetAnalysisThreshold turns < 1 into 1)`,
  },
  {
    id: 'defaults', interval: '1m', threshold: 10, intervalS: 60, thresholdEff: 10,
    source: "the Canary CRD requires analysis.interval and analysis.threshold (artifacts/flagger/crd.yaml, analysis oneOf), so they cannot be left unset; these are the values of README.md, docs/gitbook/usage/how-it-works.md and deployment-strategies.md (interval 1m, commented 'schedule interval (default 60s)'; threshold 10)",
  },
  {
    id: 'tutorial', interval: '1m', threshold: 5, intervalS: 60, thresholdEff: 5,
    source: 'docs/gitbook/tutorials/gatewayapi-progressive-delivery.md (the Gateway API tutorial: interval 1m, threshold 5); README.md and docs/gitbook/usage/deployment-strategies.md show interval 1m, threshold 10',
  },
];

/** Cutover's values (operator/src/api/common.ts, analysisSchema). */
export const CUTOVER_SETTINGS: CutoverSetting[] = [
  {
    id: 'fastest', interval: '1s', failureLimit: 1, intervalS: 1, failureLimitEff: 1,
    source: 'operator/src/api/common.ts: failureLimit min 1; interval any positive duration, 1s = the testbed Prometheus scrape interval (examples/quickstart/trafficshift.yaml uses 2s)',
  },
  {
    id: 'defaults', intervalS: 30, failureLimitEff: 2,
    source: 'analysis.interval and analysis.failureLimit unset: operator/src/api/common.ts defaults interval 30s, failureLimit 2',
  },
];

/** Flagger vs Cutover pairings reported as ratios. */
const PAIRS: Array<{ key: string; flagger: string; cutover: string; label: string }> = [
  { key: 'fastest', flagger: 'fastest', cutover: 'fastest', label: 'fastest settings' },
  { key: 'defaults', flagger: 'defaults', cutover: 'defaults', label: "defaults (Flagger: its README's values, the CRD requires both fields; Cutover: fields unset)" },
  { key: 'tutorial-vs-defaults', flagger: 'tutorial', cutover: 'defaults', label: "Flagger's Gateway API tutorial vs Cutover defaults" },
];

/** Both tools move the first weight step to 20% (Flagger stepWeight 20, maxWeight 60; Cutover steps 20/60/100). */
const FIRST_WEIGHT = 20;
const RPS = 25;
const ERROR_RATE = 0.2;
const MAX_ERROR_RATIO = 0.05;

/** The error-ratio query of breach.ts, in Flagger's MetricTemplate syntax (Go templates; canary Service `<target>-canary`). */
export const FLAGGER_ERROR_QUERY = BENCH_ERROR_QUERY.replaceAll('{{namespace}}', '{{ namespace }}').replaceAll('{{canary.service}}', '{{ target }}-canary');

// ---- objects ---------------------------------------------------------------------------------

const BENCH_MANAGED_BY = 'bench.cutover.dev';

/** A second EndpointSlice for a Service another controller owns: the backend process on loopback. */
function loopbackSlice(ns: string, service: string, port: number): KubernetesObject {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: `${service}-loopback`, namespace: ns, labels: { 'kubernetes.io/service-name': service, 'endpointslice.kubernetes.io/managed-by': BENCH_MANAGED_BY } },
    addressType: 'FQDN',
    endpoints: [{ addresses: [loopbackFqdn('127.0.0.1')], conditions: { ready: true } }],
    ports: [{ name: 'http', port, protocol: 'TCP' }],
  } as KubernetesObject;
}

/** No `replicas`: Flagger scales the target (to 0 after initialisation, back up for the analysis). */
function deployment(ns: string, name: string): KubernetesObject {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns, labels: { app: name } },
    spec: {
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: `example.invalid/${name}:1`, ports: [{ name: 'http', containerPort: 8080 }] }] } },
    },
  } as KubernetesObject;
}

function metricTemplate(info: TestbedInfo, ns: string, name: string, query: string): KubernetesObject {
  return { apiVersion: 'flagger.app/v1beta1', kind: 'MetricTemplate', metadata: { name, namespace: ns }, spec: { provider: { type: 'prometheus', address: info.prometheusUrl }, query } } as KubernetesObject;
}

function canary(ns: string, name: string, host: string, a: { interval?: string | undefined; threshold?: number | undefined; stepWeight: number; maxWeight: number; template: string; max: number }): KubernetesObject {
  return {
    apiVersion: 'flagger.app/v1beta1', kind: 'Canary', metadata: { name, namespace: ns },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      service: { port: 8080, hosts: [host], gatewayRefs: [{ name: 'testbed', namespace: ns }] },
      analysis: {
        ...(a.interval ? { interval: a.interval } : {}),
        ...(a.threshold ? { threshold: a.threshold } : {}),
        maxWeight: a.maxWeight, stepWeight: a.stepWeight,
        metrics: [{ name: 'error-rate', templateRef: { name: a.template, namespace: ns }, thresholdRange: { max: a.max } }],
      },
    },
  } as KubernetesObject;
}

interface CanaryView extends KubernetesObject { status?: { phase?: string; canaryWeight?: number; failedChecks?: number } }
interface ShiftView extends KubernetesObject { status?: { phase?: string; rollback?: { trigger?: string; reason?: string } } }

// ---- processes -------------------------------------------------------------------------------

interface FlaggerProcess { pid: number; port: number; log: string; args: string[]; stop(): Promise<void> }

async function startFlagger(info: TestbedInfo, bin: string, ns: string, name: string): Promise<FlaggerProcess> {
  const port = await freePort();
  const logDir = join(REPO_ROOT, 'test', 'results', 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `flagger-${name}-${Date.now()}.log`);
  // -port is all Flagger offers; build.sh patches pkg/server/server.go to listen on 127.0.0.1.
  const args = [
    `-kubeconfig=${info.kubeconfig}`, '-mesh-provider=gatewayapi:v1', `-metrics-server=${info.prometheusUrl}`, `-namespace=${ns}`,
    `-port=${port}`, '-log-level=info', '-control-loop-interval=10s', '-enable-leader-election=false',
  ];
  const p = startDetached(`flagger ${name}`, bin, args, logFile, process.env, REPO_ROOT);
  const kill = () => { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } };
  process.once('exit', kill);
  await waitReady('flagger', `http://127.0.0.1:${port}/healthz`, p.pid, logFile, 60_000).catch(async (err: unknown) => { await killPid(p.pid); throw err; });
  return {
    pid: p.pid, port, log: logFile, args: args.map((a) => a.replace(info.kubeconfig, '<testbed kubeconfig>')),
    async stop() { await killPid(p.pid, 5000); process.removeListener('exit', kill); },
  };
}

/**
 * kubectl apply --server-side: the module's crd.yaml has multi-line quoted descriptions that js-yaml
 * refuses (continuation lines at the key's indentation) and Go's YAML accepts.
 */
async function applyFlaggerCrds(info: TestbedInfo): Promise<void> {
  const file = join(FLAGGER_DIR, 'crd.yaml');
  const kubectl = (args: string[]) => run(binaries.kubectl, [`--kubeconfig=${info.kubeconfig}`, ...args], 60_000);
  const r = await kubectl(['apply', '--server-side', '--field-manager=cutover-bench', '--force-conflicts', '-f', file]);
  if (r.code !== 0) throw new Error(`kubectl apply --server-side -f ${file}: ${r.stderr.trim()}`);
  const w = await kubectl(['wait', '--for=condition=Established', '--timeout=30s', '-f', file]);
  if (w.code !== 0) throw new Error(`Flagger CRDs not Established: ${w.stderr.trim()}`);
}

async function waitFor(what: string, pred: () => boolean, timeoutMs: number, alive?: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (alive && !alive()) throw new Error(`${what}: the controller process exited`);
    if (Date.now() > deadline) throw new Error(`${what}: not after ${Math.round(timeoutMs / 1000)} s`);
    await sleep(50);
  }
}

// ---- timing ------------------------------------------------------------------------------------

/** Canary weights of one HTTPRoute as a WATCH delivered them. */
class RouteLog {
  readonly entries: Array<{ at: number; canary: number }> = [];
  add(at: number, w: number | undefined): void { if (w !== undefined) this.entries.push({ at, canary: w }); }
  get current(): number | undefined { return this.entries.at(-1)?.canary; }
  firstZeroAfter(t: number): number | undefined { return this.entries.find((e) => e.at > t && e.canary === 0)?.at; }
}

/** Answers by status and by backend (the backends name themselves in their JSON answers). */
function loadText(l: LoadSummary | undefined): string {
  if (!l) return 'n/a';
  const kv = (o: Record<string, number>) => Object.entries(o).map(([a, b]) => `${a} ${b}`).join(', ');
  return `${l.sent} sent; by status ${kv(l.byStatus)}; by backend ${kv(l.byService)}`;
}

interface RunOutcome { sample?: number; weightAtFault?: number; outcome: string; error?: string }

interface FlaggerCtx { info: TestbedInfo; k: Kube; ns: string; routes: Map<string, RouteLog>; canaries: Map<string, CanaryView>; maxFailedChecks: Map<string, number>; alive: () => boolean }

async function flaggerRun(ctx: FlaggerCtx, s: FlaggerSetting, i: number): Promise<RunOutcome> {
  const { info, k, ns } = ctx;
  const name = `f-${s.id}-${i}`;
  const host = `${name}.${ns}.test`;
  const routeLog = new RouteLog();
  ctx.routes.set(name, routeLog);
  const intervalMs = s.intervalS * 1000;
  const ac = new AbortController();
  let load: Promise<LoadSummary | undefined> | undefined;
  const backends = [`${name}-primary-be`, `${name}-canary-be`];
  try {
    const [pb, cb] = await Promise.all(backends.map((b) => startBackend(info, { namespace: ns, service: b })));
    await applyAll(k, [loopbackSlice(ns, `${name}-primary`, pb!.port), loopbackSlice(ns, `${name}-canary`, cb!.port), deployment(ns, name)]);
    await apply(k, canary(ns, name, host, { interval: s.interval, threshold: s.threshold, stepWeight: FIRST_WEIGHT, maxWeight: 3 * FIRST_WEIGHT, template: 'error-rate', max: MAX_ERROR_RATIO }));
    const phase = () => ctx.canaries.get(name)?.status?.phase;
    await waitFor(`${name} Initialized`, () => phase() === 'Initialized', 3 * intervalMs + 90_000, ctx.alive);
    load = runLoad({ url: info.gatewayUrl, host, path: '/', rps: RPS, durationMs: 30 * 60_000, signal: ac.signal, timeoutMs: 5000 }).catch(() => undefined);
    // A new revision: Flagger detects it on its next tick, scales the canary up, and moves the first step on the one after.
    await mergePatch(k, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns }, spec: { template: { metadata: { annotations: { 'bench.cutover.dev/revision': '2' } } } } } as KubernetesObject);
    await waitFor(`${name} first weight step`, () => (routeLog.current ?? 0) > 0, 4 * intervalMs + 90_000, ctx.alive);
    const weightAtFault = routeLog.current!;
    await setBackend(info, ns, `${name}-canary-be`, { errorRate: ERROR_RATE });
    const faultAt = now();
    await waitFor(`${name} back on stable`, () => routeLog.firstZeroAfter(faultAt) !== undefined, (s.thresholdEff + 3) * intervalMs + 60_000, ctx.alive);
    const sample = routeLog.firstZeroAfter(faultAt)! - faultAt;
    await sleep(1000);
    ac.abort();
    const st = ctx.canaries.get(name)?.status;
    return { sample, weightAtFault, outcome: `${name}: ${st?.phase ?? '?'} (failedChecks up to ${ctx.maxFailedChecks.get(name) ?? 0}); load ${loadText(await load)}` };
  } catch (err) {
    const st = ctx.canaries.get(name)?.status;
    return { outcome: `${st?.phase ?? 'no status'} (weight ${routeLog.current ?? 'no route'})`, error: `${name}: ${(err as Error).message}` };
  } finally {
    ac.abort();
    await load;
    await Promise.all(backends.map((b) => stopBackend(info, ns, b, false)));
  }
}

async function cutoverRun(info: TestbedInfo, k: Kube, ns: string, s: CutoverSetting): Promise<RunOutcome> {
  const host = `listings.${ns}.test`;
  const routeLog = new RouteLog();
  let shift: ShiftView | undefined;
  const ac = new AbortController();
  let load: Promise<LoadSummary | undefined> | undefined;
  const w = watch(k, `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/httproutes`, (e) => routeLog.add(e.at, canaryWeight(e.obj, 'listings-api')));
  const ws = watch<ShiftView>(k, `/apis/cutover.dev/v1alpha1/namespaces/${ns}/trafficshifts`, (e) => { shift = e.obj; });
  try {
    await Promise.all([w.ready, ws.ready]);
    await Promise.all([
      startBackend(info, { namespace: ns, service: 'monolith' }),
      startBackend(info, { namespace: ns, service: 'listings-api' }),
    ]);
    await apply(k, httpRoute(ns, 'listings', 'monolith', 'listings-api', host));
    load = runLoad({ url: info.gatewayUrl, host, path: '/', rps: RPS, durationMs: 30 * 60_000, signal: ac.signal, timeoutMs: 5000 }).catch(() => undefined);
    await sleep(2000);
    const ts = trafficShift(ns, 'listings-read', 'listings', { steps: [[FIRST_WEIGHT, '30m'], [3 * FIRST_WEIGHT, '30m'], [100, '30m']], query: BENCH_ERROR_QUERY, max: MAX_ERROR_RATIO }) as KubernetesObject & { spec: { analysis: Record<string, unknown> } };
    // Unset fields take the CRD's defaults; trafficShift() fills them in, so drop what the setting leaves unset.
    delete ts.spec.analysis.interval;
    delete ts.spec.analysis.failureLimit;
    delete ts.spec.analysis.inconclusiveLimit;
    if (s.interval) ts.spec.analysis.interval = s.interval;
    if (s.failureLimit) ts.spec.analysis.failureLimit = s.failureLimit;
    await apply(k, ts);
    await waitFor(`${ns} first weight step`, () => (routeLog.current ?? 0) > 0, 60_000);
    const weightAtFault = routeLog.current!;
    await setBackend(info, ns, 'listings-api', { errorRate: ERROR_RATE });
    const faultAt = now();
    await waitFor(`${ns} back on stable`, () => routeLog.firstZeroAfter(faultAt) !== undefined, (s.failureLimitEff + 3) * s.intervalS * 1000 + 60_000);
    const sample = routeLog.firstZeroAfter(faultAt)! - faultAt;
    await sleep(1000);
    ac.abort();
    return { sample, weightAtFault, outcome: `${ns}: ${shift?.status?.phase ?? '?'} (${shift?.status?.rollback?.trigger ?? 'no rollback'}); load ${loadText(await load)}` };
  } catch (err) {
    return { outcome: `${shift?.status?.phase ?? 'no status'} (weight ${routeLog.current ?? 'no route'})`, error: `${ns}: ${(err as Error).message}` };
  } finally {
    ac.abort();
    await load;
    w.stop();
    ws.stop();
    await Promise.all([stopBackend(info, ns, 'monolith', false), stopBackend(info, ns, 'listings-api', false)]);
  }
}

function timingResult(tool: 'flagger' | 'cutover', setting: string, spec: string, effective: TimingResult['effective'], source: string, outs: RunOutcome[]): TimingResult {
  const ok = outs.filter((o) => o.sample !== undefined);
  return {
    tool, setting, spec, effective, source, runs: outs.length,
    faultToStableMs: dist(ok.map((o) => o.sample!)),
    samples: ok.map((o) => Math.round(o.sample!)),
    weightAtFault: ok.map((o) => o.weightAtFault!),
    outcomes: outs.map((o) => o.outcome),
    errors: outs.flatMap((o) => (o.error ? [o.error] : [])),
  };
}

// ---- memory ------------------------------------------------------------------------------------

async function sampleRss(pid: number, ms: number): Promise<number[]> {
  const out: number[] = [];
  const end = Date.now() + ms;
  while (Date.now() < end) { out.push(rssMb(pid)); await sleep(2000); }
  return out.filter(Number.isFinite);
}
/** Node's (prom-client defaults) and Go's (client_golang defaults) heap figures. */
const RUNTIME_METRICS = {
  cutover: ['nodejs_heap_size_used_bytes', 'nodejs_heap_size_total_bytes', 'nodejs_external_memory_bytes'],
  flagger: ['go_memstats_heap_alloc_bytes', 'go_memstats_heap_inuse_bytes', 'go_memstats_stack_inuse_bytes', 'go_memstats_sys_bytes'],
};
async function memoryDetail(pid: number, tool: 'cutover' | 'flagger', metricsUrl: string): Promise<MemoryDetail> {
  const m = memoryMap(pid);
  const runtime: Record<string, number> = {};
  try {
    const text = await fetchText(metricsUrl);
    for (const name of RUNTIME_METRICS[tool]) runtime[name.replace(/_bytes$/, '_mb')] = Math.round((metricSum(text, name) / 2 ** 20) * 10) / 10;
  } catch (err) { log(`flagger/memory: ${metricsUrl}: ${(err as Error).message}`); }
  return { ...(m ? { anonMb: m.anonMb, fileMb: m.fileMb } : {}), runtime };
}
const med = (xs: number[]) => Math.round(dist(xs).p50);
const mx = (xs: number[]) => Math.round(Math.max(...xs));
function countPhases(xs: Iterable<{ status?: { phase?: string } }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x.status?.phase ?? 'none'] = (out[x.status?.phase ?? 'none'] ?? 0) + 1;
  return out;
}

async function memoryBench(info: TestbedInfo, k: Kube, bin: string, n: number): Promise<MemoryResult> {
  const errors: string[] = [];
  const window = 30_000;
  // ---- Cutover: n TrafficShifts (each its own HTTPRoute over two Services), analysis every 10 s ----
  const cns = uid('bench-flmem-cutover');
  await apply(k, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: cns } });
  await applyAll(k, serviceObjects(cns, ['monolith', 'listings-api']));
  await applyAll(k, Array.from({ length: n }, (_, i) => httpRoute(cns, `r-${i}`, 'monolith', 'listings-api', `m-${i}.${cns}.test`)), 16);
  const shifts = new Map<string, ShiftView>();
  const sw = watch<ShiftView>(k, `/apis/cutover.dev/v1alpha1/namespaces/${cns}/trafficshifts`, (e) => { shifts.set(e.obj.metadata!.name!, e.obj); });
  await sw.ready;
  const op = await startOperator(info, { name: 'bench-flagger-mem', namespaces: [cns], extraArgs: ['--log-level', 'info'] });
  let cutover!: MemoryResult['cutover'];
  try {
    await sleep(5000);
    const baseline = med(await sampleRss(op.pid, 6000));
    const emptyDetail = await memoryDetail(op.pid, 'cutover', `${op.url}/metrics`);
    const t0 = Date.now();
    await applyAll(k, Array.from({ length: n }, (_, i) => trafficShift(cns, `s-${i}`, `r-${i}`, { steps: [[10, '30m'], [100, '30m']], interval: '10s', failureLimit: 1 })), 16);
    const progressing = () => [...shifts.values()].filter((s) => s.status?.phase === 'Progressing').length;
    await waitFor(`${n} TrafficShifts Progressing`, () => progressing() >= n, 180_000).catch((e: Error) => errors.push(e.message));
    const after = (Date.now() - t0) / 1000;
    await sleep(12_000); // one analysis round past the last start
    const rss = await sampleRss(op.pid, window);
    const detail = await memoryDetail(op.pid, 'cutover', `${op.url}/metrics`);
    cutover = { baselineMb: baseline, progressingMb: med(rss), progressingMaxMb: mx(rss), progressingAfterS: Math.round(after * 10) / 10, phases: countPhases(shifts.values()), empty: emptyDetail, detail };
    log(`flagger/memory: Cutover with ${n} shifts Progressing: RSS ${cutover.progressingMb} MB (max ${cutover.progressingMaxMb}; ${baseline} MB before any); ${JSON.stringify(detail)}`);
  } finally {
    sw.stop();
    await op.stop();
    await deleteNamespaces(k, [cns]);
  }

  // ---- Flagger: n Canaries, each with its Deployment; analysis every 10 s on a query that passes ----
  const fns = uid('bench-flmem-flagger');
  await apply(k, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: fns } });
  await apply(k, metricTemplate(info, fns, 'constant', CONSTANT_QUERY.replaceAll('{{namespace}}', '{{ namespace }}')));
  const canaries = new Map<string, CanaryView>();
  const cw = watch<CanaryView>(k, `/apis/flagger.app/v1beta1/namespaces/${fns}/canaries`, (e) => { canaries.set(e.obj.metadata!.name!, e.obj); });
  await cw.ready;
  const fl = await startFlagger(info, bin, fns, 'mem');
  try {
    await sleep(5000);
    const baseline = med(await sampleRss(fl.pid, 6000));
    const flMetrics = `http://127.0.0.1:${fl.port}/metrics`;
    const emptyDetail = await memoryDetail(fl.pid, 'flagger', flMetrics);
    const t0 = Date.now();
    const names = Array.from({ length: n }, (_, i) => `m-${i}`);
    await applyAll(k, names.map((x) => deployment(fns, x)), 16);
    await applyAll(k, names.map((x) => canary(fns, x, `${x}.${fns}.test`, { interval: '10s', threshold: 1, stepWeight: 1, maxWeight: 50, template: 'constant', max: MAX_ERROR_RATIO })), 16);
    const inPhase = (p: string) => [...canaries.values()].filter((c) => c.status?.phase === p).length;
    await waitFor(`${n} Canaries Initialized`, () => inPhase('Initialized') >= n, 240_000, () => isAlive(fl.pid)).catch((e: Error) => errors.push(e.message));
    const initAfter = (Date.now() - t0) / 1000;
    await sleep(12_000);
    const rssInit = await sampleRss(fl.pid, window);
    const phasesInit = countPhases(canaries.values());
    log(`flagger/memory: Flagger with ${n} Canaries Initialized: RSS ${med(rssInit)} MB (max ${mx(rssInit)}; ${baseline} MB before any)`);
    const t1 = Date.now();
    await pool(names, 16, (x) => mergePatch(k, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: x, namespace: fns }, spec: { template: { metadata: { annotations: { 'bench.cutover.dev/revision': '2' } } } } } as KubernetesObject));
    const weighted = () => [...canaries.values()].filter((c) => c.status?.phase === 'Progressing' && (c.status.canaryWeight ?? 0) > 0).length;
    await waitFor(`${n} Canaries Progressing with weight > 0`, () => weighted() >= n, 180_000, () => isAlive(fl.pid)).catch((e: Error) => errors.push(e.message));
    const progAfter = (Date.now() - t1) / 1000;
    await sleep(12_000);
    const rssProg = await sampleRss(fl.pid, window);
    const detail = await memoryDetail(fl.pid, 'flagger', flMetrics);
    const flagger: MemoryResult['flagger'] = {
      baselineMb: baseline, initializedMb: med(rssInit), initializedMaxMb: mx(rssInit), progressingMb: med(rssProg), progressingMaxMb: mx(rssProg),
      initializedAfterS: Math.round(initAfter * 10) / 10, progressingAfterS: Math.round(progAfter * 10) / 10, phases: { ...countPhases(canaries.values()), ...Object.fromEntries(Object.entries(phasesInit).map(([p, c]) => [`init:${p}`, c])) },
      empty: emptyDetail, detail,
    };
    log(`flagger/memory: Flagger with ${n} Canaries Progressing: RSS ${flagger.progressingMb} MB (max ${flagger.progressingMaxMb}); ${JSON.stringify(detail)}`);
    return { cutovers: n, flagger, cutover, ratio: Math.round((flagger.progressingMb / cutover.progressingMb) * 100) / 100, errors };
  } finally {
    cw.stop();
    await fl.stop();
    await deleteNamespaces(k, [fns]);
  }
}

// ---- the part ----------------------------------------------------------------------------------

const sec = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : 'n/a');
const fmt = (t: TimingResult | undefined) => (t && t.faultToStableMs.n > 0 ? `p50 ${sec(t.faultToStableMs.p50)} · max ${sec(t.faultToStableMs.max)} (n=${t.faultToStableMs.n})` : 'n/a');

/**
 * `runs` per setting (default 3); `settings` restricts the timing to those setting ids (e.g. ['fastest']);
 * `memoryCutovers` 0 skips the memory part.
 */
export async function flaggerBench(info: TestbedInfo, opts: { runs?: number; settings?: string[]; memoryCutovers?: number } = {}): Promise<FlaggerResult> {
  const bin = await ensureFlagger();
  const started = Date.now();
  const v = await run(bin, ['-version'], 10_000);
  const version = (v.stdout || v.stderr).trim() || FLAGGER_VERSION;
  const runs = opts.runs ?? 3;
  const k = kube(info);
  log(`flagger: ${version}; CRDs from ${join(FLAGGER_DIR, 'crd.yaml')}`);
  await applyFlaggerCrds(info);

  // ---- timing: every Flagger run in one namespace (Flagger's -namespace takes one), Cutover one namespace per run ----
  const fns = uid('bench-flagger');
  const pick = <T extends { id: string }>(xs: T[]) => xs.filter((x) => !opts.settings || opts.settings.includes(x.id));
  const flaggerSettings = pick(FLAGGER_SETTINGS);
  const cutoverSettings = pick(CUTOVER_SETTINGS);
  const cutoverNs = cutoverSettings.map((s) => Array.from({ length: runs }, (_, i) => uid(`bench-flcut-${s.id}${i}`)));
  const nss = [fns, ...cutoverNs.flat()];
  await applyAll(k, nss.map((n) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } })));
  await apply(k, metricTemplate(info, fns, 'error-rate', FLAGGER_ERROR_QUERY));
  const ctx: FlaggerCtx = { info, k, ns: fns, routes: new Map(), canaries: new Map(), maxFailedChecks: new Map(), alive: () => true };
  const rw = watch(k, `/apis/gateway.networking.k8s.io/v1/namespaces/${fns}/httproutes`, (e) => {
    const name = e.obj.metadata?.name ?? '';
    ctx.routes.get(name)?.add(e.at, canaryWeight(e.obj, `${name}-canary`));
  });
  const cw = watch<CanaryView>(k, `/apis/flagger.app/v1beta1/namespaces/${fns}/canaries`, (e) => {
    const name = e.obj.metadata!.name!;
    ctx.canaries.set(name, e.obj);
    ctx.maxFailedChecks.set(name, Math.max(ctx.maxFailedChecks.get(name) ?? 0, e.obj.status?.failedChecks ?? 0));
  });
  await Promise.all([rw.ready, cw.ready]);
  let fl: FlaggerProcess | undefined;
  let op: Awaited<ReturnType<typeof startOperator>> | undefined;
  const timing: TimingResult[] = [];
  let flaggerArgs: string[] = [];
  try {
    fl = await startFlagger(info, bin, fns, 'timing');
    flaggerArgs = fl.args;
    const pid = fl.pid;
    ctx.alive = () => isAlive(pid);
    op = await startOperator(info, { name: 'bench-flagger-cutover', namespaces: cutoverNs.flat(), extraArgs: ['--log-level', 'info'] });
    log(`flagger: timing, ${runs} runs per setting in parallel; Flagger ${flaggerSettings.map((s) => `${s.id} ${s.intervalS}s×${s.thresholdEff}`).join(', ')}; Cutover ${cutoverSettings.map((s) => `${s.id} ${s.intervalS}s×${s.failureLimitEff}`).join(', ')}`);
    const flaggerRuns = flaggerSettings.map(async (s) => {
      const outs = await Promise.all(Array.from({ length: runs }, (_, i) => flaggerRun(ctx, s, i)));
      const spec = `interval ${s.interval ?? '(unset)'}, threshold ${s.threshold ?? '(unset)'}, stepWeight ${FIRST_WEIGHT}, maxWeight ${3 * FIRST_WEIGHT}`;
      const r = timingResult('flagger', s.id, spec, { intervalSeconds: s.intervalS, failureLimit: s.thresholdEff }, s.source, outs);
      log(`flagger: Flagger ${s.id}: ${r.samples.join(', ')} ms${r.errors.length ? `; errors: ${r.errors.join('; ')}` : ''}`);
      return r;
    });
    const cutoverRuns = cutoverSettings.map(async (s, si) => {
      const outs = await Promise.all(cutoverNs[si]!.map((ns) => cutoverRun(info, k, ns, s)));
      const spec = `interval ${s.interval ?? '(unset)'}, failureLimit ${s.failureLimit ?? '(unset)'}, steps ${FIRST_WEIGHT}/${3 * FIRST_WEIGHT}/100`;
      const r = timingResult('cutover', s.id, spec, { intervalSeconds: s.intervalS, failureLimit: s.failureLimitEff }, s.source, outs);
      log(`flagger: Cutover ${s.id}: ${r.samples.join(', ')} ms${r.errors.length ? `; errors: ${r.errors.join('; ')}` : ''}`);
      return r;
    });
    timing.push(...await Promise.all(flaggerRuns), ...await Promise.all(cutoverRuns));
  } finally {
    rw.stop();
    cw.stop();
    await fl?.stop();
    await op?.stop();
    await deleteNamespaces(k, nss);
  }

  // ---- memory ----
  let memory: MemoryResult | { error: string };
  try {
    if (opts.memoryCutovers === 0) throw new Error('skipped (memoryCutovers 0)');
    memory = await memoryBench(info, k, bin, opts.memoryCutovers ?? 100);
  } catch (err) {
    log(`flagger/memory failed: ${(err as Error).stack ?? String(err)}`);
    memory = { error: (err as Error).message };
  }

  // ---- rows ----
  const find = (tool: string, id: string) => timing.find((t) => t.tool === tool && t.setting === id);
  const ratios: Record<string, number> = {};
  const rows: FlaggerResult['rows'] = [];
  for (const p of PAIRS) {
    const f = find('flagger', p.flagger);
    const c = find('cutover', p.cutover);
    const ratio = f && c && f.faultToStableMs.n > 0 && c.faultToStableMs.n > 0 ? Math.round((f.faultToStableMs.p50 / c.faultToStableMs.p50) * 10) / 10 : NaN;
    ratios[p.key] = ratio;
    const fe = f ? `interval ${f.effective.intervalSeconds}s, threshold ${f.effective.failureLimit}` : '?';
    const ce = c ? `interval ${c.effective.intervalSeconds}s, failureLimit ${c.effective.failureLimit}` : '?';
    rows.push({
      what: `Flagger ${FLAGGER_VERSION} side by side, 20% fault → stable, ${p.label}: Flagger ${fe} / Cutover ${ce}`,
      value: `Flagger ${fmt(f)} / Cutover ${fmt(c)}`,
      target: Number.isFinite(ratio) ? `Flagger/Cutover ×${ratio} (p50)` : 'ratio n/a',
    });
  }
  if ('error' in memory) rows.push({ what: 'memory at 100 cutovers, Flagger vs Cutover', value: `failed: ${memory.error}`, target: 'ratio n/a' });
  else rows.push({
    what: `Flagger ${FLAGGER_VERSION} side by side, memory at ${memory.cutovers} cutovers (RSS, median over 30 s): ${memory.cutovers} Canaries vs ${memory.cutovers} TrafficShifts`,
    value: `Flagger ${memory.flagger.progressingMb} MB Progressing (${memory.flagger.initializedMb} MB Initialized, ${memory.flagger.baselineMb} MB empty) / Cutover ${memory.cutover.progressingMb} MB Progressing (${memory.cutover.baselineMb} MB empty)`,
    target: `Flagger/Cutover ×${memory.ratio}`,
  });

  const allErrors = [...timing.flatMap((t) => t.errors), ...('error' in memory ? [] : memory.errors)];
  const notes = [
    `**Flagger side by side** (${version}, built like \`go install github.com/fluxcd/flagger/cmd/flagger@${FLAGGER_VERSION}\` from the module source, with its metrics server's listen address changed to 127.0.0.1): Flagger runs as a local process with the testbed's admin kubeconfig, \`${flaggerArgs.join(' ')}\` (Flagger has no listen-address flag; the build patches pkg/server/server.go's \`":" + port\` to \`"127.0.0.1:" + port\`), CRDs from the module's artifacts/flagger/crd.yaml (server-side apply).`,
    `*Fault → stable*: per run, a Deployment (KWOK pods) and a Canary (Gateway API provider; HTTPRoute hostname per run) for Flagger, a TrafficShift over a bench HTTPRoute for Cutover; a real backend process for stable and canary behind the testbed gateway (Flagger's \`-primary\`/\`-canary\` Services get a bench EndpointSlice to the backend, FQDN 127.0.0.1.localhost; the controller's slices carry KWOK pod IPs, which the gateway never dials), ${RPS} requests/s of load through the gateway. Both tools check the same query on the gateway's \`http_requests_total\` (error ratio of the canary Service over [10s], max ${MAX_ERROR_RATIO}; a Flagger MetricTemplate on the same Prometheus). When the tool has moved the first step (canary weight ${FIRST_WEIGHT}% seen by a WATCH on the HTTPRoute) the canary backend starts failing ${ERROR_RATE * 100}% of requests; measured from the moment the backend confirmed the new error rate to the WATCH event with the canary back at weight 0. ${runs} runs per setting, all in parallel (one Flagger process, one Cutover process).`,
    `*Settings*: ${timing.map((t) => `${t.tool === 'flagger' ? 'Flagger' : 'Cutover'} ${t.setting}: ${t.spec} → effective ${t.effective.intervalSeconds}s × ${t.effective.failureLimit} (${t.source})`).join('; ')}. Flagger's \`-control-loop-interval\` stays at its default 10s: it only sets how often Canaries are (un)scheduled (pkg/controller/controller.go, scheduleCanaries); the analysis ticks at analysis.interval. Flagger counts a failed check on one tick and rolls back on the next tick that finds failedChecks ≥ threshold (pkg/controller/scheduler.go, advanceCanary), so with the fault right after a step its time is ≈ (threshold + 1) × interval.`,
    'error' in memory ? '' : `*Memory*: a fresh process per tool, ${memory.cutovers} objects in one namespace, analysis every 10 s on a query that always passes. Cutover: ${memory.cutovers} TrafficShifts (own HTTPRoutes, steps 10%/100% with 30 min pauses), Progressing after ${memory.cutover.progressingAfterS} s. Flagger: ${memory.cutovers} Deployments + Canaries (stepWeight 1, maxWeight 50), Initialized after ${memory.flagger.initializedAfterS} s, then a new revision on every Deployment, Progressing with weight > 0 after ${memory.flagger.progressingAfterS} s. RSS from /proc/<pid>/status every 2 s over 30 s, 12 s after the state was reached; ratio = Flagger Progressing / Cutover Progressing (medians).`,
    allErrors.length ? `*Errors*: ${allErrors.join('; ')}` : '',
  ].filter(Boolean);
  return { rows, notes, flaggerVersion: version, flaggerArgs, timing, ratios, memory, durationSeconds: Math.round((Date.now() - started) / 1000) };
}
