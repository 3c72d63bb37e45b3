// Alert → stable: 100 active TrafficShifts in one namespace, each with its own HTTPRoute. For each
// rollback the bench POSTs an Alertmanager v4 payload to the operator's hook and takes the time from
// its own POST to the moment a WATCH on the HTTPRoutes delivers the route with the canary at 0.
import type { TestbedInfo } from '../testbed/testbed.ts';
import {
  applyAll, canaryWeight, deleteNamespaces, dist, httpRoute, kube, log, mergePatch, now, pool, serviceObjects, sleep, startOperator,
  trafficShift, uid, watch, type Dist,
} from './lib.ts';

export interface AlertResult {
  shifts: number;
  rollbacks: number;
  /** POST sent → route at stable seen by the watch, one alert per shift, sequential. */
  hookToStableMs: Dist;
  /** POST sent → HTTP response (the hook answers after the route write returned). */
  hookResponseMs: Dist;
  /** One alert matching all 100 shifts at once: per-shift POST → stable. */
  burstHookToStableMs: Dist;
  analysisInterval: string;
  errors: string[];
}

const TOKEN = 'bench-alertmanager-token';
const SHIFTS = 100;

export async function alertBench(info: TestbedInfo, opts: { rounds?: number } = {}): Promise<AlertResult> {
  const k = kube(info);
  const ns = uid('bench-alert');
  const errors: string[] = [];
  const rounds = opts.rounds ?? 2;
  log(`alert → stable: ${SHIFTS} shifts in ${ns}, ${rounds} rounds`);
  await applyAll(k, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }]);
  await applyAll(k, serviceObjects(ns, ['monolith', 'listings-api']));
  const names = Array.from({ length: SHIFTS }, (_, i) => `s-${i}`);
  await applyAll(k, names.map((n) => httpRoute(ns, `r-${n}`, 'monolith', 'listings-api')));

  // Route weights as the watch delivers them, and who waits for which weight.
  const weights = new Map<string, number>();
  const waiters = new Map<string, Array<{ want: number; after: number; resolve: (at: number) => void }>>();
  const w = watch(k, `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/httproutes`, (e) => {
    const name = e.obj.metadata?.name ?? '';
    const cw = canaryWeight(e.obj, 'listings-api');
    if (cw === undefined) return;
    weights.set(name, cw);
    const ws = waiters.get(name) ?? [];
    for (const x of [...ws]) if (x.want === cw && e.at >= x.after) { ws.splice(ws.indexOf(x), 1); x.resolve(e.at); }
  });
  await w.ready;
  const waitWeight = (route: string, want: number, after: number, timeoutMs = 30_000) => new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`route ${route}: canary ${want} not seen in ${timeoutMs} ms`)), timeoutMs);
    const list = waiters.get(route) ?? [];
    waiters.set(route, list);
    list.push({ want, after, resolve: (at) => { clearTimeout(t); resolve(at); } });
  });

  const op = await startOperator(info, { name: 'bench-alert', namespaces: [ns], env: { CUTOVER_ALERTMANAGER_TOKEN: TOKEN }, extraArgs: ['--log-level', 'info'] });
  try {
    const firstStep = names.map((n) => waitWeight(`r-${n}`, 10, 0, 120_000));
    await applyAll(k, names.map((n) => trafficShift(ns, n, `r-${n}`, {
      steps: [[10, '1h'], [100, '1h']], interval: '5s',
      alerts: [{ bench_ns: ns, shift: n }, { bench_ns: ns, scope: 'all' }],
    })));
    await Promise.all(firstStep);
    log('alert → stable: all 100 shifts at 10%; sending alerts one by one');
    const toStable: number[] = [];
    const response: number[] = [];
    const post = async (labels: Record<string, string>, fp: string): Promise<{ t0: number; status: number; tookMs: number }> => {
      for (;;) {
        const body = JSON.stringify({
          version: '4', status: 'firing', receiver: 'cutover', groupKey: `{}:{alertname="BenchAlert"}`, truncatedAlerts: 0,
          groupLabels: { alertname: 'BenchAlert' }, commonLabels: {}, commonAnnotations: {}, externalURL: info.alertmanagerUrl,
          alerts: [{ status: 'firing', labels: { alertname: 'BenchAlert', ...labels }, annotations: {}, startsAt: new Date().toISOString(), endsAt: '0001-01-01T00:00:00Z', generatorURL: '', fingerprint: fp }],
        });
        const t0 = now();
        const r = await fetch(`${op.url}/hooks/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body });
        await r.arrayBuffer();
        if (r.status === 429) { await sleep(300); continue; }
        return { t0, status: r.status, tookMs: now() - t0 };
      }
    };
    for (let round = 0; round < rounds; round++) {
      for (const n of names) {
        const started = now();
        const t0Ref = { t0: 0 };
        const seen = waitWeight(`r-${n}`, 0, started);
        const r = await post({ bench_ns: ns, shift: n }, `${ns}-${round}-${n}`);
        t0Ref.t0 = r.t0;
        if (r.status !== 200) errors.push(`${n}: hook answered ${r.status}`);
        const at = await seen.catch((err: Error) => { errors.push(err.message); return NaN; });
        if (Number.isFinite(at)) toStable.push(at - r.t0);
        response.push(r.tookMs);
        // Stay under the hook's per-caller rate limit (20/s).
        const spent = now() - started;
        if (spent < 60) await sleep(60 - spent);
      }
      log(`alert → stable: round ${round + 1}: ${toStable.length} rollbacks so far; retrying all`);
      const back = names.map((n) => waitWeight(`r-${n}`, 10, now(), 120_000));
      await pool(names, 8, (n) => mergePatch(k, { apiVersion: 'cutover.dev/v1alpha1', kind: 'TrafficShift', metadata: { name: n, namespace: ns, annotations: { 'cutover.dev/retry': `bench-${round}` } } }));
      await Promise.all(back);
    }
    // Burst: one alert that matches every shift.
    await sleep(1000);
    const seenAll = names.map((n) => waitWeight(`r-${n}`, 0, now()));
    const r = await post({ bench_ns: ns, scope: 'all' }, `${ns}-burst`);
    if (r.status !== 200) errors.push(`burst: hook answered ${r.status}`);
    const burst = (await Promise.all(seenAll.map((p) => p.catch(() => NaN)))).filter(Number.isFinite).map((at) => at - r.t0);
    log(`alert → stable: p50 ${dist(toStable).p50} ms, p99 ${dist(toStable).p99} ms over ${toStable.length}; burst of 100 max ${dist(burst).max} ms`);
    return { shifts: SHIFTS, rollbacks: toStable.length, hookToStableMs: dist(toStable), hookResponseMs: dist(response), burstHookToStableMs: dist(burst), analysisInterval: '5s', errors };
  } finally {
    w.stop();
    await op.stop();
    await deleteNamespaces(k, [ns]);
  }
}
