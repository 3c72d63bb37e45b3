// Breach → rollback at a 5 s analysis interval: a new backend failing 20% of requests behind the
// testbed gateway, real load, the real Prometheus. The breach is the first moment the shift's own
// query (polled against Prometheus every 100 ms) is above the threshold; the rollback is the moment a
// WATCH on the HTTPRoute delivers the canary at 0.
import { startBackend, stopBackend } from '../testbed/backends.ts';
import { runLoad } from '../testbed/dataplane/load.ts';
import type { TestbedInfo } from '../testbed/testbed.ts';
import {
  apply, canaryWeight, deleteNamespaces, dist, httpRoute, kube, list, log, now, sleep, startOperator, trafficShift, uid, watch, type Dist,
} from './lib.ts';

export interface BreachResult {
  runs: number;
  analysisInterval: string;
  failureLimit: number;
  breachToRollbackMs: Dist;
  samples: number[];
  phases: string[];
  errors: string[];
}

export const BENCH_ERROR_QUERY = '(sum(rate(http_requests_total{namespace="{{namespace}}",service="{{canary.service}}",code=~"5.."}[10s])) or vector(0)) / sum(rate(http_requests_total{namespace="{{namespace}}",service="{{canary.service}}"}[10s]))';

export function renderQuery(q: string, vars: Record<string, string>): string {
  return q.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (_, key: string) => vars[key] ?? '');
}

export async function promValue(info: TestbedInfo, q: string): Promise<number | undefined> {
  const r = await fetch(`${info.prometheusUrl}/api/v1/query?query=${encodeURIComponent(q)}`, { signal: AbortSignal.timeout(2000) });
  const body = await r.json() as { data?: { result?: Array<{ value: [number, string] }> } };
  const v = body.data?.result?.[0]?.value[1];
  return v === undefined ? undefined : Number(v);
}

export async function breachBench(info: TestbedInfo, opts: { runs?: number } = {}): Promise<BreachResult> {
  const k = kube(info);
  const runs = opts.runs ?? 5;
  const nss = Array.from({ length: runs }, (_, i) => uid(`bench-breach${i}`));
  const errors: string[] = [];
  log(`breach → rollback: ${runs} runs in parallel, interval 5s, failureLimit 1, new version failing 20%`);
  const op = await startOperator(info, { name: 'bench-breach', namespaces: nss, extraArgs: ['--log-level', 'info'] });
  const samples: number[] = [];
  const phases: string[] = [];
  try {
    await Promise.all(nss.map(async (ns) => {
      const host = `listings.${ns}.test`;
      await apply(k, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
      await Promise.all([
        startBackend(info, { namespace: ns, service: 'monolith' }),
        startBackend(info, { namespace: ns, service: 'listings-api', errorRate: 0.2 }),
      ]);
      await apply(k, httpRoute(ns, 'listings', 'monolith', 'listings-api', host));
      let stableAt: number | undefined;
      let sawCanary = false;
      const w = watch(k, `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/httproutes`, (e) => {
        const cw = canaryWeight(e.obj, 'listings-api');
        if (cw !== undefined && cw > 0) sawCanary = true;
        if (cw === 0 && sawCanary && stableAt === undefined) stableAt = e.at;
      });
      await w.ready;
      const ac = new AbortController();
      const load = runLoad({ url: info.gatewayUrl, host, path: '/v1/listings', rps: 25, durationMs: 180_000, signal: ac.signal, timeoutMs: 5000 });
      const q = renderQuery(BENCH_ERROR_QUERY, { namespace: ns, 'canary.service': 'listings-api' });
      try {
        await sleep(2000);
        await apply(k, trafficShift(ns, 'listings-read', 'listings', { steps: [[50, '3m'], [100, '3m']], interval: '5s', failureLimit: 1, query: BENCH_ERROR_QUERY, max: 0.05 }));
        let breachAt: number | undefined;
        const deadline = Date.now() + 150_000;
        while (stableAt === undefined && Date.now() < deadline) {
          if (breachAt === undefined && sawCanary) {
            const t = now();
            const v = await promValue(info, q).catch(() => undefined);
            if (v !== undefined && v > 0.05) breachAt = t;
          }
          await sleep(100);
        }
        await sleep(500);
        const ts = (await list<{ metadata: { name: string }; status?: { phase?: string } } & Parameters<typeof apply>[1]>(k, 'cutover.dev/v1alpha1', 'TrafficShift', ns))[0];
        phases.push(String(ts?.status?.phase));
        if (breachAt === undefined || stableAt === undefined) errors.push(`${ns}: breach ${breachAt ? 'seen' : 'not seen'}, rollback ${stableAt ? 'seen' : 'not seen'}`);
        else samples.push(stableAt - breachAt);
      } finally {
        ac.abort();
        await load.catch(() => {});
        w.stop();
        await Promise.all([stopBackend(info, ns, 'monolith', false), stopBackend(info, ns, 'listings-api', false)]);
      }
    }));
  } finally {
    await op.stop();
    await deleteNamespaces(k, nss);
  }
  log(`breach → rollback: ${samples.map((s) => Math.round(s)).join(', ')} ms`);
  return { runs, analysisInterval: '5s', failureLimit: 1, breachToRollbackMs: dist(samples), samples: samples.map((s) => Math.round(s)), phases, errors };
}
