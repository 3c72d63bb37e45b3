// Scale and restart: 1,000 (or --shifts N, e.g. 10,000) concurrent TrafficShifts (100 per namespace,
// each with its own HTTPRoute over the namespace's two Services) on ONE operator process.
//   idle      all shifts in a long first step, analysis every 30 s: RSS, API requests/s, Prometheus queries/s
//   stepping  a spec change (as GitOps would) ends the first step and sets the pauses of the others.
//             Lockstep (staggerSeconds 0, the 1,000 run: the worst burst): the first pause becomes 1 s,
//             steps 2..5 of 20 s each, all shifts at once. Staggered (the 10,000 run): shift i's first
//             step ends at +lead + i/N × stagger, as cutovers started at different times do, so steps
//             come at N / stagger per second; windowSeconds of that. API requests/s; step timing drift
//   restart   SIGKILL with all of them in flight, restart at once: time until every shift was reconciled
//             again; then (lockstep) until all completed or (staggered) afterRestartSeconds more
//             stepping; repeated or skipped steps counted from the Events and from a WATCH on the shifts
import { availableParallelism } from 'node:os';
import type { KubernetesObject } from '@kubernetes/client-node';
import { readState, type TestbedInfo } from '../testbed/testbed.ts';
import {
  apiserverMetrics, applyAll, cpuSeconds, deleteNamespaces, dist, fetchText, httpRoute, kube, list, log, metricSum, now, rssMb, serviceObjects, sleep,
  startOperator, trafficShift, uid, watch, type Dist, type Kube,
} from './lib.ts';

export interface ScaleResult {
  shifts: number;
  namespaces: number;
  createSeconds: number;
  allProgressingSeconds: number;
  rssMb: { idle: number; idleMax: number; stepping: number; steppingMax: number };
  apiRequestsPerSecond: {
    source: string;
    idle: number; stepping: number;
    idleByVerb: Record<string, number>;
    steppingByVerb: Record<string, number>;
    /** Analysis runs in the idle window by result (an Inconclusive one changes a counter in status: a write). */
    idleAnalysisResults: Record<string, number>;
    /** apiserver_request_total deltas (non-WATCH) for cutover.dev, httproutes and events: every client, not only the operator. */
    apiserverCrossCheck: { idle: number; stepping: number; note: string };
  };
  prometheus: { idleQueriesPerSecond: number; idleDeduplicatedPerSecond: number; steppingQueriesPerSecond: number; steppingDeduplicatedPerSecond: number; deduplicatedShare: number };
  stepDriftMs: { observed: Dist; status: Dist; acrossRestart: Dist; beforeKill?: Dist; afterRestart?: Dist; note: string };
  /** What the testbed's API server and etcd cost at this size, apart from the operator (RSS, MB; etcd's database). */
  /** CPU in cores (CPU seconds per second of the window) of the operator, the testbed's API server, etcd and Prometheus, and the bench process itself. */
  cpuCores: { idle: Record<string, number>; stepping: Record<string, number>; afterRestart?: Record<string, number>; machineCores: number; note: string };
  /** The operator's event loop per window: lag p99 / max (ms) and the share of the window in GC pauses. */
  operatorLoop?: { idle: LoopFigures; stepping: LoopFigures; afterRestart?: LoopFigures; note: string };
  controlPlane: { apiserverRssMb: { empty: number; idle: number; stepping: number }; etcdRssMb: { empty: number; idle: number; stepping: number }; etcdDbMb: { empty: number; idle: number }; note: string };
  settings: { pauseSeconds: number; staggerSeconds: number; steppingInterval: string; idleInterval: string; operatorNamespaces: string; stepsPerSecond: number; windowSeconds?: number; afterRestartSeconds?: number };
  restart: { killedAt: string; inFlight: number; readyAfterMs: number; allReconciledAfterMs: number; repeatedSteps: number; skippedSteps: number; repeatedFromWatch: number; skippedFromWatch: number; completed: number; otherPhases: Record<string, number> };
  windows: { idleSeconds: number; steppingSeconds: number };
  errors: string[];
}

const stepsWith = (first: string, pauseS: number): Array<[number, string]> => [[10, first], [20, `${pauseS}s`], [30, `${pauseS}s`], [50, `${pauseS}s`], [100, `${pauseS}s`]];

interface ShiftView extends KubernetesObject { status?: { phase?: string; currentStep?: number; stepStartedAt?: string; completedAt?: string; observedGeneration?: number; analysis?: { lastResults?: unknown[] } } }
interface LoopFigures { lagP99Ms: number; lagMaxMs: number; gcShare: number }
interface Transition { step: number; stepStartedAt?: string | undefined; completedAt?: string | undefined; seenAt: number; phase?: string | undefined }

/** The operator's /metrics, only the named families (the whole page at 10,000 shifts costs it > 1 s of CPU). */
async function opMetrics(url: string, names: string[]): Promise<string> {
  return fetchText(`${url}/metrics?${names.map((n) => `name[]=${n}`).join('&')}`);
}
// The event-loop lag figures are prom-client's, over the time since the previous scrape (it resets
// them). They are set when the family nodejs_eventloop_lag_seconds is collected: it comes first.
const SNAPSHOT_METRICS = ['rest_client_requests_total', 'cutover_prometheus_query_duration_seconds', 'cutover_prometheus_queries_deduplicated_total', 'cutover_analysis_results_total', 'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_eventloop_lag_max_seconds', 'nodejs_gc_duration_seconds'];

function restCounts(text: string): { total: number; byVerb: Record<string, number> } {
  const byVerb: Record<string, number> = {};
  for (const m of text.matchAll(/^rest_client_requests_total\{([^}]*)\}\s+(\S+)/gm)) {
    const method = m[1]!.match(/method="([^"]*)"/)?.[1] ?? '?';
    byVerb[method] = (byVerb[method] ?? 0) + Number(m[2]);
  }
  return { total: Object.values(byVerb).reduce((a, b) => a + b, 0), byVerb };
}

function apiserverOurs(text: string): number {
  let sum = 0;
  for (const m of text.matchAll(/^apiserver_request_total\{([^}]*)\}\s+(\S+)/gm)) {
    const l = m[1]!;
    if (/verb="WATCH"/.test(l)) continue;
    if (/group="cutover\.dev"/.test(l) || /resource="httproutes"/.test(l) || /resource="events"/.test(l)) sum += Number(m[2]);
  }
  return sum;
}

function promCounts(text: string): { sent: number; dedup: number } {
  return { sent: metricSum(text, 'cutover_prometheus_query_duration_seconds_count'), dedup: metricSum(text, 'cutover_prometheus_queries_deduplicated_total') };
}


async function snapshot(info: TestbedInfo, url: string, opPid: number) {
  const [op, api] = await Promise.all([opMetrics(url, SNAPSHOT_METRICS), apiserverMetrics(info).catch(() => '')]);
  const results = Object.fromEntries(['Pass', 'Fail', 'Inconclusive'].map((r) => [r, metricSum(op, 'cutover_analysis_results_total', { result: r })]));
  const procs = readState()?.processes ?? [];
  const cpu: Record<string, number> = { operator: cpuSeconds(opPid) };
  // Every testbed process (API server, etcd, controller-manager, Prometheus, the gateway, KWOK, ...).
  for (const p of procs) cpu[p.name] = cpuSeconds(p.pid);
  const own = process.cpuUsage();
  cpu.bench = (own.user + own.system) / 1e6;
  const loop = { p99: metricSum(op, 'nodejs_eventloop_lag_p99_seconds'), max: metricSum(op, 'nodejs_eventloop_lag_max_seconds'), gc: metricSum(op, 'nodejs_gc_duration_seconds_sum') };
  return { at: now(), rest: restCounts(op), prom: promCounts(op), api: apiserverOurs(api), results, cpu, loop };
}
type Snap = Awaited<ReturnType<typeof snapshot>>;

function rate(a: Snap, b: Snap) {
  const secs = (b.at - a.at) / 1000;
  const r = (x: number) => Math.round((x / secs) * 100) / 100;
  const byVerb: Record<string, number> = {};
  for (const v of Object.keys(b.rest.byVerb)) byVerb[v] = r((b.rest.byVerb[v] ?? 0) - (a.rest.byVerb[v] ?? 0));
  const results: Record<string, number> = {};
  for (const k of Object.keys(b.results)) results[k] = Math.round((b.results[k] ?? 0) - (a.results[k] ?? 0));
  // CPU as cores in use over the window (1 = one core busy all the time).
  const cores: Record<string, number> = {};
  for (const k of Object.keys(b.cpu)) cores[k] = Math.round((((b.cpu[k] ?? NaN) - (a.cpu[k] ?? NaN)) / secs) * 100) / 100;
  // The operator's event loop over the window (b's lag figures cover the time since the scrape before it).
  const loop = { lagP99Ms: Math.round(b.loop.p99 * 1000), lagMaxMs: Math.round(b.loop.max * 1000), gcShare: Math.round(((b.loop.gc - a.loop.gc) / secs) * 1000) / 1000 };
  return { secs, cores, results, rest: r(b.rest.total - a.rest.total), byVerb, promSent: r(b.prom.sent - a.prom.sent), promDedup: r(b.prom.dedup - a.prom.dedup), api: r(b.api - a.api), loop };
}

/** RSS (MB) of the testbed's own process named `name` (kube-apiserver, etcd), NaN if unknown. */
function controlPlaneRss(name: string): number {
  const p = readState()?.processes.find((x) => x.name === name);
  return p ? rssMb(p.pid) : NaN;
}

/** etcd's database size (MB), from etcd's own /metrics on its client URL (the testbed's etcd serves plain HTTP on loopback). */
async function etcdDbMb(): Promise<number> {
  const args = readState()?.processes.find((x) => x.name === 'etcd')?.args ?? [];
  const url = args[args.indexOf('--advertise-client-urls') + 1];
  if (!url?.startsWith('http')) return NaN;
  const text = await fetchText(`${url}/metrics`).catch(() => '');
  const v = metricSum(text, 'etcd_mvcc_db_total_size_in_bytes');
  return v > 0 ? Math.round((v / 2 ** 20) * 10) / 10 : NaN;
}

export interface ScaleOptions {
  shifts?: number;
  /** Pause of steps 2..5 (s). Default 20. */
  pauseSeconds?: number;
  /** Spread the shifts' step boundaries evenly over this many seconds (0: lockstep). Default 0. */
  staggerSeconds?: number;
  /**
   * Staggered runs: seconds of stepping from the first step boundary to the SIGKILL, and of stepping
   * after the restart before the Events are counted (the shifts need not complete: with steps of
   * 10 minutes they would take 40). Defaults 300 and 120.
   */
  windowSeconds?: number;
  afterRestartSeconds?: number;
  /** Analysis interval while stepping. Default 10s. */
  steppingInterval?: string;
  /** Analysis interval in the idle window. Default 30s. */
  idleInterval?: string;
}

export async function scaleBench(info: TestbedInfo, opts: ScaleOptions = {}): Promise<ScaleResult> {
  const k = kube(info);
  const total = opts.shifts ?? 1000;
  const pauseS = opts.pauseSeconds ?? 20;
  const PAUSE_MS = pauseS * 1000;
  const stagger = opts.staggerSeconds ?? 0;
  const steppingInterval = opts.steppingInterval ?? '10s';
  const idleInterval = opts.idleInterval ?? '30s';
  const windowS = opts.windowSeconds ?? 300;
  const afterRestartS = opts.afterRestartSeconds ?? 120;
  const STEPS = stepsWith('60m', pauseS);
  const perNs = 100;
  const nss = Array.from({ length: Math.ceil(total / perNs) }, (_, i) => uid(`bench-scale${i}`));
  const errors: string[] = [];
  const names: Array<{ ns: string; name: string }> = [];
  for (let i = 0; i < total; i++) names.push({ ns: nss[Math.floor(i / perNs)]!, name: `s-${i % perNs}` });
  log(`scale: ${total} shifts in ${nss.length} namespaces`);
  await applyAll(k, nss.map((n) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } })));
  await applyAll(k, nss.flatMap((n) => serviceObjects(n, ['monolith', 'listings-api'])));
  await applyAll(k, names.map((x) => httpRoute(x.ns, `r-${x.name}`, 'monolith', 'listings-api')), 16);

  // Every status change of every shift, as a WATCH delivers it.
  const history = new Map<string, Transition[]>();
  const latest = new Map<string, ShiftView>();
  const nsSet = new Set(nss);
  const cp = { apiserver: { empty: controlPlaneRss('kube-apiserver') }, etcd: { empty: controlPlaneRss('etcd') }, etcdDb: { empty: await etcdDbMb() } };
  // One WATCH across namespaces (not one per namespace: 100 of them at 10,000 shifts), filtered here.
  const watches = [watch<ShiftView>(k, '/apis/cutover.dev/v1alpha1/trafficshifts', (e) => {
    const ns = e.obj.metadata?.namespace ?? '';
    if (!nsSet.has(ns)) return;
    const key = `${ns}/${e.obj.metadata?.name}`;
    latest.set(key, e.obj);
    const st = e.obj.status;
    if (st?.currentStep === undefined) return;
    const h = history.get(key) ?? [];
    history.set(key, h);
    const last = h.at(-1);
    if (!last || last.step !== st.currentStep || (st.phase === 'Completed' && last.phase !== 'Completed')) h.push({ step: st.currentStep, stepStartedAt: st.stepStartedAt, completedAt: st.completedAt, seenAt: e.at, phase: st.phase });
  })];
  await Promise.all(watches.map((w) => w.ready));

  // BENCH_OPERATOR_NODE_OPTIONS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`) profiles the operator.
  const nodeOptions = process.env.BENCH_OPERATOR_NODE_OPTIONS;
  // Beyond 10 namespaces the operator watches all namespaces, as a platform-wide install does (the
  // testbed holds nothing else while the bench runs), not one informer per namespace.
  const clusterWide = nss.length > 10;
  const op = await startOperator(info, { name: 'bench-scale', ...(clusterWide ? {} : { namespaces: nss }), extraArgs: ['--log-level', 'info'], ...(nodeOptions ? { env: { NODE_OPTIONS: nodeOptions } } : {}) });
  const rssSamples: Array<{ at: number; mb: number; phase: string }> = [];
  const cpSamples: Array<{ phase: string; apiserver: number; etcd: number }> = [];
  let phase = 'create';
  const rssTimer = setInterval(() => {
    rssSamples.push({ at: now(), mb: rssMb(op.pid), phase });
    cpSamples.push({ phase, apiserver: controlPlaneRss('kube-apiserver'), etcd: controlPlaneRss('etcd') });
  }, 2000);
  try {
    const t0 = now();
    const shifts = (steps: (i: number) => Array<[number, string]>, interval: string) => names.map((x, i) => trafficShift(x.ns, x.name, `r-${x.name}`, { steps: steps(i), interval, query: undefined }));
    await applyAll(k, shifts(() => STEPS, idleInterval), 16);
    const createSeconds = (now() - t0) / 1000;
    log(`scale: created in ${createSeconds.toFixed(1)} s; waiting for all to be Progressing`);
    const deadline = Date.now() + Math.max(300_000, total * 60);
    const progressing = () => [...latest.values()].filter((o) => o.status?.phase === 'Progressing').length;
    while (progressing() < total && Date.now() < deadline) await sleep(500);
    const allProgressingSeconds = (now() - t0) / 1000;
    if (progressing() < total) errors.push(`only ${progressing()}/${total} Progressing after ${Math.round(allProgressingSeconds)} s`);
    log(`scale: ${progressing()} Progressing after ${allProgressingSeconds.toFixed(1)} s; idle window`);

    // ---- idle ----
    // Idle is after every shift's first analysis (the first result is written to status; later
    // passing runs are not), and one full analysis round more.
    const analysed = () => [...latest.values()].filter((o) => (o.status?.analysis?.lastResults?.length ?? 0) > 0).length;
    const d1 = Date.now() + 300_000;
    while (analysed() < total && Date.now() < d1) await sleep(500);
    if (analysed() < total) errors.push(`only ${analysed()}/${total} had a first analysis result in status 300 s after all were Progressing`);
    log(`scale: ${analysed()} with a first analysis result after ${((now() - t0) / 1000).toFixed(1)} s`);
    await sleep(35_000);
    phase = 'idle';
    const i0 = await snapshot(info, op.url, op.pid);
    await sleep(60_000);
    const i1 = await snapshot(info, op.url, op.pid);
    const idle = rate(i0, i1);
    const etcdIdle = await etcdDbMb();
    log(`scale: idle ${idle.rest} req/s (${JSON.stringify(idle.byVerb)}), analysis results ${JSON.stringify(idle.results)}, prometheus ${idle.promSent} q/s + ${idle.promDedup} dedup/s, RSS ${rssMb(op.pid).toFixed(0)} MB, CPU cores ${JSON.stringify(idle.cores)}`);

    // ---- stepping ----
    phase = 'stepping';
    const s0Before = await snapshot(info, op.url, op.pid);
    // Lockstep: the first pause becomes 1 s (already over: every shift steps at once). Staggered: shift
    // i's second step starts at T + i/N × stagger, T far enough ahead for the spec change to reach all.
    // Staggered, the first boundary leaves the operator time to take in the spec change first (at
    // 10,000 it reads each shift's route and Services again and writes its status: a backlog about
    // as long as the bench's writes); the window starts once it has.
    const lead = stagger > 0 ? Math.ceil(2 * createSeconds) + 30 : Math.ceil(createSeconds) + 15;
    const t1 = Date.now();
    // Staggered: the first pause each shift was given (ms), so that its second step is measured too.
    const firstPauseMs = new Map<string, number>();
    const firstPause = (i: number): string => {
      if (stagger <= 0) return '1s';
      const key = `${names[i]!.ns}/${names[i]!.name}`;
      const o = latest.get(key);
      const started = Date.parse(o?.status?.stepStartedAt ?? '') || t1;
      const secs = Math.max(1, Math.ceil((t1 + (lead + (i / total) * stagger) * 1000 - started) / 1000));
      firstPauseMs.set(key, secs * 1000);
      return `${secs}s`;
    };
    await applyAll(k, shifts((i) => stepsWith(firstPause(i), pauseS), steppingInterval), 16);
    log(`scale: spec changed on all shifts in ${((Date.now() - t1) / 1000).toFixed(1)} s (${stagger > 0 ? `second steps spread over ${stagger} s from +${lead} s, kill at +${lead + windowS} s` : 'first pause 1s'}, interval ${steppingInterval}); stepping`);
    // Staggered, the stepping window starts once the spec change has landed (the bench's 10,000
    // writes and the status writes they cause are not stepping) and before the first boundary.
    if (stagger > 0) {
      const taken = () => [...latest.values()].filter((o) => (o.status?.observedGeneration ?? 0) >= (o.metadata?.generation ?? Infinity)).length;
      while (taken() < total && Date.now() < t1 + lead * 1000) await sleep(250);
      log(`scale: the operator had taken in the spec change of ${taken()}/${total} shifts after ${((Date.now() - t1) / 1000).toFixed(1)} s`);
      if (taken() < total) errors.push(`the operator had taken in the spec change of only ${taken()}/${total} shifts by the first step boundary (+${lead} s)`);
    }
    const s0 = stagger > 0 ? await snapshot(info, op.url, op.pid) : s0Before;
    if (stagger > 0) {
      // Steady stepping at total/stagger steps/s from +lead; the SIGKILL comes windowS later.
      const killAt = t1 + (lead + windowS) * 1000;
      while (Date.now() < killAt) await sleep(Math.min(1000, killAt - Date.now()));
    } else {
      // Lockstep: kill when most shifts have started step index 3 (the 4th step) and it is mid-pause.
      const atStep = (n: number) => [...latest.values()].filter((o) => (o.status?.currentStep ?? 0) >= n).length;
      const d2 = Date.now() + (lead + 4 * pauseS + 120) * 1000;
      while (atStep(3) < total * 0.95 && Date.now() < d2) await sleep(250);
      await sleep(Math.min(8000, PAUSE_MS * 0.4));
    }
    const s1 = await snapshot(info, op.url, op.pid);
    const stepping = rate(s0, s1);
    log(`scale: stepping ${stepping.rest} req/s (${JSON.stringify(stepping.byVerb)}), prometheus ${stepping.promSent} q/s + ${stepping.promDedup} dedup/s, CPU cores ${JSON.stringify(stepping.cores)}`);

    // ---- restart ----
    phase = 'restart';
    const live = [...latest.values()].filter((o) => !['Completed', 'RolledBack', 'Failed'].includes(o.status?.phase ?? '')).length;
    const killedAt = now();
    await op.kill9();
    await op.restart();
    const readyAt = now();
    let reconciledAt = NaN;
    const d3 = Date.now() + 300_000;
    while (Date.now() < d3) {
      const text = await opMetrics(op.url, ['controller_runtime_reconcile_total', 'workqueue_depth']).catch(() => '');
      const reconciles = metricSum(text, 'controller_runtime_reconcile_total', { controller: 'trafficshift' });
      const depth = metricSum(text, 'workqueue_depth', { name: 'trafficshift' });
      if (reconciles >= total && depth === 0) { reconciledAt = now(); break; }
      // Not faster: polling at 10/s measurably slowed the very restart it measures (when it read the
      // whole page, ~15 ms of the operator's CPU at 1,000 shifts; now only the two families).
      await sleep(250);
    }
    log(`scale: restart: ready after ${Math.round(readyAt - killedAt)} ms, all reconciled after ${Math.round(reconciledAt - killedAt)} ms`);
    phase = 'after-restart';
    let afterRestartWindow: ReturnType<typeof rate> | undefined;
    if (stagger > 0) {
      // Stepping goes on for afterRestartS; then the operator stops (SIGTERM: Event writes in flight
      // are flushed) and each shift's Events are counted against the last status the WATCH saw.
      const r0 = await snapshot(info, op.url, op.pid);
      await sleep(Math.max(0, readyAt + afterRestartS * 1000 - now()));
      const r1 = await snapshot(info, op.url, op.pid);
      if (r1.at - r0.at > 10_000) afterRestartWindow = rate(r0, r1);
      await op.stop();
      await sleep(3000);
    } else {
      const d4 = Date.now() + (3 * pauseS + 180) * 1000;
      const done = () => [...latest.values()].filter((o) => o.status?.phase === 'Completed').length;
      while (done() < total && Date.now() < d4) await sleep(500);
      await sleep(3000);
    }
    const restartEnd = Number.isFinite(reconciledAt) ? reconciledAt : now();

    // ---- drift ----
    const observed: number[] = [];
    const beforeKill: number[] = [];
    const afterRestart: number[] = [];
    const statusDrift: number[] = [];
    const across: number[] = [];
    let repeatedFromWatch = 0;
    let skippedFromWatch = 0;
    for (const [key, h] of history) {
      for (let j = 1; j < h.length; j++) {
        const prev = h[j - 1]!;
        const cur = h[j]!;
        if (cur.step < prev.step || (cur.step === prev.step && cur.phase !== 'Completed')) repeatedFromWatch++;
        if (cur.step > prev.step + 1) skippedFromWatch++;
        if (!prev.stepStartedAt) continue;
        // The first step's pause was changed mid-step: in lockstep to 1 s (a burst, not a schedule);
        // staggered to the pause that places its boundary, which is a schedule like any other.
        const pauseMs = prev.step < 1 ? firstPauseMs.get(key) : PAUSE_MS;
        if (pauseMs === undefined) continue;
        const scheduled = Date.parse(prev.stepStartedAt) + pauseMs;
        const actual = cur.phase === 'Completed' && cur.step === prev.step
          ? Date.parse(cur.completedAt ?? '')
          : Date.parse(cur.stepStartedAt ?? '');
        const obs = cur.seenAt - scheduled;
        // Across the restart: seen after the kill and due before every shift was reconciled again
        // (in flight at the kill, or due while no operator ran or while it caught up).
        if (cur.seenAt > killedAt && scheduled < restartEnd) { across.push(obs); continue; }
        observed.push(obs);
        (scheduled < killedAt ? beforeKill : afterRestart).push(obs);
        if (Number.isFinite(actual)) statusDrift.push(actual - scheduled);
      }
    }

    // ---- Events: every step started exactly once ----
    let repeatedSteps = 0;
    let skippedSteps = 0;
    for (const ns of nss) {
      const events = await list<KubernetesObject & { reason?: string; note?: string; regarding?: { name?: string }; series?: { count?: number } }>(k, 'events.k8s.io/v1', 'Event', ns);
      const byShift = new Map<string, number[]>();
      for (const e of events) {
        if (e.reason !== 'StepStarted') continue;
        const m = e.note?.match(/^step (\d+)\/(\d+)/);
        if (!m) continue;
        const list2 = byShift.get(e.regarding?.name ?? '') ?? [];
        for (let c = 0; c < (e.series?.count ?? 1); c++) list2.push(Number(m[1]));
        byShift.set(e.regarding?.name ?? '', list2);
      }
      for (let i = 0; i < perNs; i++) {
        const steps = byShift.get(`s-${i}`) ?? [];
        // Every step the shift has started (its last status, as the WATCH saw it) exactly once, and
        // none it has not started.
        const st = latest.get(`${ns}/s-${i}`)?.status;
        const started = st?.phase === 'Completed' ? STEPS.length : (st?.currentStep ?? -1) + 1;
        for (let s = 1; s <= STEPS.length; s++) {
          const c = steps.filter((x) => x === s).length;
          if (s <= started && c === 0) skippedSteps++;
          if (c > (s <= started ? 1 : 0)) repeatedSteps += c - (s <= started ? 1 : 0);
        }
      }
    }
    const phases: Record<string, number> = {};
    for (const o of latest.values()) phases[o.status?.phase ?? 'none'] = (phases[o.status?.phase ?? 'none'] ?? 0) + 1;
    const rssOf = (p: string) => rssSamples.filter((x) => x.phase === p).map((x) => x.mb);
    const med = (xs: number[]) => Math.round(dist(xs).p50);
    const cpMed = (p: string, key: 'apiserver' | 'etcd') => med(cpSamples.filter((x) => x.phase === p).map((x) => x[key]).filter(Number.isFinite));
    const result: ScaleResult = {
      shifts: total, namespaces: nss.length, createSeconds: Math.round(createSeconds * 10) / 10, allProgressingSeconds: Math.round(allProgressingSeconds * 10) / 10,
      rssMb: { idle: med(rssOf('idle')), idleMax: Math.round(Math.max(...rssOf('idle'))), stepping: med(rssOf('stepping')), steppingMax: Math.round(Math.max(...rssOf('stepping'))) },
      apiRequestsPerSecond: {
        source: "operator's rest_client_requests_total (apiserver_request_total has no user-agent label in Kubernetes v1.36)",
        idle: idle.rest, stepping: stepping.rest, idleByVerb: idle.byVerb, steppingByVerb: stepping.byVerb, idleAnalysisResults: idle.results,
        apiserverCrossCheck: { idle: idle.api, stepping: stepping.api, note: 'apiserver_request_total, non-WATCH, group cutover.dev + httproutes + events, all clients (the bench itself writes during stepping)' },
      },
      prometheus: {
        idleQueriesPerSecond: idle.promSent, idleDeduplicatedPerSecond: idle.promDedup, steppingQueriesPerSecond: stepping.promSent, steppingDeduplicatedPerSecond: stepping.promDedup,
        deduplicatedShare: Math.round(((idle.promDedup + stepping.promDedup) / Math.max(1e-9, idle.promDedup + stepping.promDedup + idle.promSent + stepping.promSent)) * 1000) / 1000,
      },
      stepDriftMs: { observed: dist(observed), status: dist(statusDrift), acrossRestart: dist(across), beforeKill: dist(beforeKill), afterRestart: dist(afterRestart), note: 'beforeKill and afterRestart split observed by when the step was due; observed = status with the next step seen by a WATCH − (previous stepStartedAt + pause); status = next stepStartedAt − (previous stepStartedAt + pause), both from status (millisecond precision); acrossRestart = steps seen after the SIGKILL that were due before every shift had been reconciled again' },
      restart: {
        killedAt: new Date(killedAt).toISOString(), inFlight: live, readyAfterMs: Math.round(readyAt - killedAt), allReconciledAfterMs: Math.round(reconciledAt - killedAt),
        repeatedSteps, skippedSteps, repeatedFromWatch, skippedFromWatch, completed: phases.Completed ?? 0, otherPhases: phases,
      },
      cpuCores: { idle: idle.cores, stepping: stepping.cores, ...(afterRestartWindow ? { afterRestart: afterRestartWindow.cores } : {}), machineCores: availableParallelism(), note: 'CPU seconds per second of each window from /proc/PID/stat (user + system): the operator, the testbed processes, and the bench process itself (its WATCH and bookkeeping); afterRestart: from every shift reconciled again to the final stop' },
      operatorLoop: {
        idle: idle.loop, stepping: stepping.loop, ...(afterRestartWindow ? { afterRestart: afterRestartWindow.loop } : {}),
        note: "the operator's event loop per window, from its own /metrics (prom-client): lag p99 and max (nodejs_eventloop_lag_*, over the window: each scrape resets them) and the share of the window spent in garbage-collection pauses (nodejs_gc_duration_seconds_sum)",
      },
      controlPlane: {
        apiserverRssMb: { empty: Math.round(cp.apiserver.empty), idle: cpMed('idle', 'apiserver'), stepping: cpMed('stepping', 'apiserver') },
        etcdRssMb: { empty: Math.round(cp.etcd.empty), idle: cpMed('idle', 'etcd'), stepping: cpMed('stepping', 'etcd') },
        etcdDbMb: { empty: cp.etcdDb.empty, idle: etcdIdle },
        note: "the testbed's kube-apiserver and etcd processes (RSS medians per window, /proc); empty = before the bench created anything; etcd database from etcd_mvcc_db_total_size_in_bytes.",
      },
      settings: {
        pauseSeconds: pauseS, staggerSeconds: stagger, steppingInterval, idleInterval, operatorNamespaces: clusterWide ? 'all' : nss.join(','),
        stepsPerSecond: Math.round((total / Math.max(stagger, pauseS)) * 10) / 10,
        ...(stagger > 0 ? { windowSeconds: windowS, afterRestartSeconds: afterRestartS } : {}),
      },
      windows: { idleSeconds: Math.round(idle.secs), steppingSeconds: Math.round(stepping.secs) },
      errors,
    };
    return result;
  } finally {
    clearInterval(rssTimer);
    for (const w of watches) w.stop();
    await op.stop();
    await deleteNamespaces(k, nss);
  }
}

export type { Kube };
