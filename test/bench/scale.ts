// Scale and restart: 1,000 concurrent TrafficShifts (10 namespaces × 100, each with its own HTTPRoute
// over the namespace's two Services) on ONE operator process.
//   idle      all shifts in a long first step, analysis every 30 s: RSS, API requests/s, Prometheus queries/s
//   stepping  the first pause is cut to 1 s and the interval to 10 s (a spec change, as GitOps would):
//             steps 2..5 of 20 s each; API requests/s; step timing drift
//   restart   SIGKILL with all 1,000 in flight, restart at once: time until every shift was reconciled
//             again; repeated or skipped steps counted from the Events and from a WATCH on the shifts
import type { KubernetesObject } from '@kubernetes/client-node';
import type { TestbedInfo } from '../testbed/testbed.ts';
import {
  apiserverMetrics, applyAll, deleteNamespaces, dist, fetchText, httpRoute, kube, list, log, metricSum, now, rssMb, serviceObjects, sleep,
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
    /** apiserver_request_total deltas (non-WATCH) for cutover.dev, httproutes and events: every client, not only the operator. */
    apiserverCrossCheck: { idle: number; stepping: number; note: string };
  };
  prometheus: { idleQueriesPerSecond: number; idleDeduplicatedPerSecond: number; steppingQueriesPerSecond: number; steppingDeduplicatedPerSecond: number; deduplicatedShare: number };
  stepDriftMs: { observed: Dist; status: Dist; acrossRestart: Dist; note: string };
  restart: { killedAt: string; inFlight: number; readyAfterMs: number; allReconciledAfterMs: number; repeatedSteps: number; skippedSteps: number; repeatedFromWatch: number; skippedFromWatch: number; completed: number; otherPhases: Record<string, number> };
  windows: { idleSeconds: number; steppingSeconds: number };
  errors: string[];
}

const STEPS: Array<[number, string]> = [[10, '10m'], [20, '20s'], [30, '20s'], [50, '20s'], [100, '20s']];
const FAST_STEPS: Array<[number, string]> = [[10, '1s'], [20, '20s'], [30, '20s'], [50, '20s'], [100, '20s']];
const PAUSE_MS = 20_000;

interface ShiftView extends KubernetesObject { status?: { phase?: string; currentStep?: number; stepStartedAt?: string; completedAt?: string } }
interface Transition { step: number; stepStartedAt?: string | undefined; completedAt?: string | undefined; seenAt: number; phase?: string | undefined }

async function opMetrics(url: string): Promise<string> { return fetchText(`${url}/metrics`); }

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

async function snapshot(info: TestbedInfo, url: string) {
  const [op, api] = await Promise.all([opMetrics(url), apiserverMetrics(info).catch(() => '')]);
  return { at: now(), rest: restCounts(op), prom: promCounts(op), api: apiserverOurs(api) };
}
type Snap = Awaited<ReturnType<typeof snapshot>>;

function rate(a: Snap, b: Snap) {
  const secs = (b.at - a.at) / 1000;
  const r = (x: number) => Math.round((x / secs) * 100) / 100;
  const byVerb: Record<string, number> = {};
  for (const v of Object.keys(b.rest.byVerb)) byVerb[v] = r((b.rest.byVerb[v] ?? 0) - (a.rest.byVerb[v] ?? 0));
  return { secs, rest: r(b.rest.total - a.rest.total), byVerb, promSent: r(b.prom.sent - a.prom.sent), promDedup: r(b.prom.dedup - a.prom.dedup), api: r(b.api - a.api) };
}

export async function scaleBench(info: TestbedInfo, opts: { shifts?: number } = {}): Promise<ScaleResult> {
  const k = kube(info);
  const total = opts.shifts ?? 1000;
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
  const watches = nss.map((ns) => watch<ShiftView>(k, `/apis/cutover.dev/v1alpha1/namespaces/${ns}/trafficshifts`, (e) => {
    const key = `${ns}/${e.obj.metadata?.name}`;
    latest.set(key, e.obj);
    const st = e.obj.status;
    if (st?.currentStep === undefined) return;
    const h = history.get(key) ?? [];
    history.set(key, h);
    const last = h.at(-1);
    if (!last || last.step !== st.currentStep || (st.phase === 'Completed' && last.phase !== 'Completed')) h.push({ step: st.currentStep, stepStartedAt: st.stepStartedAt, completedAt: st.completedAt, seenAt: e.at, phase: st.phase });
  }));
  await Promise.all(watches.map((w) => w.ready));

  // BENCH_OPERATOR_NODE_OPTIONS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`) profiles the operator.
  const nodeOptions = process.env.BENCH_OPERATOR_NODE_OPTIONS;
  const op = await startOperator(info, { name: 'bench-scale', namespaces: nss, extraArgs: ['--log-level', 'info'], ...(nodeOptions ? { env: { NODE_OPTIONS: nodeOptions } } : {}) });
  const rssSamples: Array<{ at: number; mb: number; phase: string }> = [];
  let phase = 'create';
  const rssTimer = setInterval(() => rssSamples.push({ at: now(), mb: rssMb(op.pid), phase }), 2000);
  try {
    const t0 = now();
    const shifts = (steps: Array<[number, string]>, interval: string) => names.map((x) => trafficShift(x.ns, x.name, `r-${x.name}`, { steps, interval, query: undefined }));
    await applyAll(k, shifts(STEPS, '30s'), 16);
    const createSeconds = (now() - t0) / 1000;
    log(`scale: created in ${createSeconds.toFixed(1)} s; waiting for all to be Progressing`);
    const deadline = Date.now() + 300_000;
    const progressing = () => [...latest.values()].filter((o) => o.status?.phase === 'Progressing').length;
    while (progressing() < total && Date.now() < deadline) await sleep(500);
    const allProgressingSeconds = (now() - t0) / 1000;
    if (progressing() < total) errors.push(`only ${progressing()}/${total} Progressing after 300 s`);
    log(`scale: ${progressing()} Progressing after ${allProgressingSeconds.toFixed(1)} s; idle window`);

    // ---- idle ----
    await sleep(35_000); // one full analysis round past creation
    phase = 'idle';
    const i0 = await snapshot(info, op.url);
    await sleep(60_000);
    const i1 = await snapshot(info, op.url);
    const idle = rate(i0, i1);
    log(`scale: idle ${idle.rest} req/s (${JSON.stringify(idle.byVerb)}), prometheus ${idle.promSent} q/s + ${idle.promDedup} dedup/s, RSS ${rssMb(op.pid).toFixed(0)} MB`);

    // ---- stepping ----
    phase = 'stepping';
    const s0 = await snapshot(info, op.url);
    await applyAll(k, shifts(FAST_STEPS, '10s'), 16);
    log('scale: spec changed on all shifts (first pause 1s, interval 10s); stepping');
    // Kill when most shifts have started step index 3 (the 4th step) and it is mid-pause.
    const atStep = (n: number) => [...latest.values()].filter((o) => (o.status?.currentStep ?? 0) >= n).length;
    const d2 = Date.now() + 240_000;
    while (atStep(3) < total * 0.95 && Date.now() < d2) await sleep(250);
    await sleep(8000);
    const s1 = await snapshot(info, op.url);
    const stepping = rate(s0, s1);
    log(`scale: stepping ${stepping.rest} req/s (${JSON.stringify(stepping.byVerb)}), prometheus ${stepping.promSent} q/s + ${stepping.promDedup} dedup/s`);

    // ---- restart ----
    phase = 'restart';
    const live = [...latest.values()].filter((o) => !['Completed', 'RolledBack', 'Failed'].includes(o.status?.phase ?? '')).length;
    const killedAt = now();
    await op.kill9();
    await op.restart();
    const readyAt = now();
    let reconciledAt = NaN;
    const d3 = Date.now() + 120_000;
    while (Date.now() < d3) {
      const text = await opMetrics(op.url).catch(() => '');
      const reconciles = metricSum(text, 'controller_runtime_reconcile_total', { controller: 'trafficshift' });
      const depth = metricSum(text, 'workqueue_depth', { name: 'trafficshift' });
      if (reconciles >= total && depth === 0) { reconciledAt = now(); break; }
      // Not faster: rendering /metrics with 1,000 shifts' series costs the operator ~15 ms of CPU,
      // and polling at 10/s measurably slowed the very restart it measures.
      await sleep(250);
    }
    log(`scale: restart: ready after ${Math.round(readyAt - killedAt)} ms, all reconciled after ${Math.round(reconciledAt - killedAt)} ms`);
    phase = 'after-restart';
    const d4 = Date.now() + 240_000;
    const done = () => [...latest.values()].filter((o) => o.status?.phase === 'Completed').length;
    while (done() < total && Date.now() < d4) await sleep(500);
    await sleep(3000);

    // ---- drift ----
    const observed: number[] = [];
    const statusDrift: number[] = [];
    const across: number[] = [];
    let repeatedFromWatch = 0;
    let skippedFromWatch = 0;
    for (const [, h] of history) {
      for (let j = 1; j < h.length; j++) {
        const prev = h[j - 1]!;
        const cur = h[j]!;
        if (cur.step < prev.step || (cur.step === prev.step && cur.phase !== 'Completed')) repeatedFromWatch++;
        if (cur.step > prev.step + 1) skippedFromWatch++;
        if (prev.step < 1 || !prev.stepStartedAt) continue; // the first step's pause was changed mid-step
        const scheduled = Date.parse(prev.stepStartedAt) + PAUSE_MS;
        const actual = cur.phase === 'Completed' && cur.step === prev.step
          ? Date.parse(cur.completedAt ?? '')
          : Date.parse(cur.stepStartedAt ?? '');
        const obs = cur.seenAt - scheduled;
        if (killedAt > scheduled - PAUSE_MS && killedAt < cur.seenAt) { across.push(obs); continue; }
        observed.push(obs);
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
        for (let s = 1; s <= STEPS.length; s++) {
          const c = steps.filter((x) => x === s).length;
          if (c === 0) skippedSteps++;
          if (c > 1) repeatedSteps += c - 1;
        }
      }
    }
    const phases: Record<string, number> = {};
    for (const o of latest.values()) phases[o.status?.phase ?? 'none'] = (phases[o.status?.phase ?? 'none'] ?? 0) + 1;
    const rssOf = (p: string) => rssSamples.filter((x) => x.phase === p).map((x) => x.mb);
    const med = (xs: number[]) => Math.round(dist(xs).p50);
    const result: ScaleResult = {
      shifts: total, namespaces: nss.length, createSeconds: Math.round(createSeconds * 10) / 10, allProgressingSeconds: Math.round(allProgressingSeconds * 10) / 10,
      rssMb: { idle: med(rssOf('idle')), idleMax: Math.round(Math.max(...rssOf('idle'))), stepping: med(rssOf('stepping')), steppingMax: Math.round(Math.max(...rssOf('stepping'))) },
      apiRequestsPerSecond: {
        source: "operator's rest_client_requests_total (apiserver_request_total has no user-agent label in Kubernetes v1.36)",
        idle: idle.rest, stepping: stepping.rest, idleByVerb: idle.byVerb, steppingByVerb: stepping.byVerb,
        apiserverCrossCheck: { idle: idle.api, stepping: stepping.api, note: 'apiserver_request_total, non-WATCH, group cutover.dev + httproutes + events, all clients (the bench itself writes during stepping)' },
      },
      prometheus: {
        idleQueriesPerSecond: idle.promSent, idleDeduplicatedPerSecond: idle.promDedup, steppingQueriesPerSecond: stepping.promSent, steppingDeduplicatedPerSecond: stepping.promDedup,
        deduplicatedShare: Math.round(((idle.promDedup + stepping.promDedup) / Math.max(1e-9, idle.promDedup + stepping.promDedup + idle.promSent + stepping.promSent)) * 1000) / 1000,
      },
      stepDriftMs: { observed: dist(observed), status: dist(statusDrift), acrossRestart: dist(across), note: 'observed = status with the next step seen by a WATCH − (previous stepStartedAt + pause); status = next stepStartedAt − (previous stepStartedAt + pause), both from status (millisecond precision)' },
      restart: {
        killedAt: new Date(killedAt).toISOString(), inFlight: live, readyAfterMs: Math.round(readyAt - killedAt), allReconciledAfterMs: Math.round(reconciledAt - killedAt),
        repeatedSteps, skippedSteps, repeatedFromWatch, skippedFromWatch, completed: phases.Completed ?? 0, otherPhases: phases,
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
