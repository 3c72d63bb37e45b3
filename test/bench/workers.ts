// Idle API traffic of shifts that move workers (issue 18): N TrafficShifts (100 per namespace), each
// with a worker Deployment (scaled to 1 before the first step) and a legacy one (scaled to 0 at
// the end), all in a long first step with analysis every 30 s, on ONE operator process. KWOK runs
// the Deployments' pods. Measured over 60 s of that steady state: the operator's API requests/s by
// verb (its rest_client_requests_total). Before the operator observed only the Deployments its plan
// reads, every live reconcile GOT both Deployments of every shift.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { TestbedInfo } from '../testbed/testbed.ts';
import { applyAll, deleteNamespaces, fetchText, httpRoute, kube, log, now, rssMb, serviceObjects, sleep, startOperator, trafficShift, uid, watch } from './lib.ts';

export interface WorkersIdleResult {
  shifts: number;
  deploymentsPerShift: number;
  idleSeconds: number;
  apiRequestsPerSecond: number;
  byVerb: Record<string, number>;
  perShiftPerMinute: number;
  rssMb: number;
  errors: string[];
}

function restByVerb(text: string): Record<string, number> {
  const byVerb: Record<string, number> = {};
  for (const m of text.matchAll(/^rest_client_requests_total\{([^}]*)\}\s+(\S+)/gm)) {
    const method = m[1]!.match(/method="([^"]*)"/)?.[1] ?? '?';
    byVerb[method] = (byVerb[method] ?? 0) + Number(m[2]);
  }
  return byVerb;
}

const deployment = (ns: string, name: string, replicas: number): KubernetesObject => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns },
  spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'worker', image: 'example.invalid/worker:1' }] } } },
} as KubernetesObject);

export async function workersIdleBench(info: TestbedInfo, opts: { shifts?: number } = {}): Promise<WorkersIdleResult> {
  const k = kube(info);
  const total = opts.shifts ?? 200;
  const perNs = 100;
  const nss = Array.from({ length: Math.ceil(total / perNs) }, (_, i) => uid(`bench-workers${i}`));
  const names = Array.from({ length: total }, (_, i) => ({ ns: nss[Math.floor(i / perNs)]!, name: `s-${i % perNs}` }));
  const errors: string[] = [];
  log(`workers: ${total} shifts with workers in ${nss.length} namespaces`);
  await applyAll(k, nss.map((n) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } })));
  await applyAll(k, nss.flatMap((n) => serviceObjects(n, ['monolith', 'listings-api'])));
  await applyAll(k, names.map((x) => httpRoute(x.ns, `r-${x.name}`, 'monolith', 'listings-api')), 16);
  await applyAll(k, names.flatMap((x) => [deployment(x.ns, `w-${x.name}`, 0), deployment(x.ns, `l-${x.name}`, 1)]), 16);

  const phase = new Map<string, string>();
  const watches = nss.map((ns) => watch<KubernetesObject & { status?: { phase?: string } }>(k, `/apis/cutover.dev/v1alpha1/namespaces/${ns}/trafficshifts`, (e) => {
    phase.set(`${ns}/${e.obj.metadata?.name}`, e.obj.status?.phase ?? '');
  }));
  await Promise.all(watches.map((w) => w.ready));
  const op = await startOperator(info, { name: 'bench-workers', namespaces: nss, extraArgs: ['--log-level', 'info'] });
  try {
    await applyAll(k, names.map((x) => {
      const s = trafficShift(x.ns, x.name, `r-${x.name}`, { steps: [[10, '30m'], [100, '1m']], interval: '30s', query: undefined }) as KubernetesObject & { spec: Record<string, unknown> };
      s.spec.workers = [{ deployment: `w-${x.name}`, replicas: 1, legacy: { deployment: `l-${x.name}`, replicas: 0 } }];
      return s;
    }), 16);
    const deadline = Date.now() + 300_000;
    const progressing = () => [...phase.values()].filter((p) => p === 'Progressing').length;
    while (progressing() < total && Date.now() < deadline) await sleep(500);
    if (progressing() < total) errors.push(`only ${progressing()}/${total} Progressing after 300 s (workers Ready first)`);
    log(`workers: ${progressing()} Progressing; idle window`);
    await sleep(35_000); // one full analysis round past the start
    const t0 = now();
    const a = restByVerb(await fetchText(`${op.url}/metrics`));
    await sleep(60_000);
    const b = restByVerb(await fetchText(`${op.url}/metrics`));
    const secs = (now() - t0) / 1000;
    const byVerb: Record<string, number> = {};
    for (const v of Object.keys(b)) byVerb[v] = Math.round((((b[v] ?? 0) - (a[v] ?? 0)) / secs) * 100) / 100;
    const rate = Object.values(byVerb).reduce((x, y) => x + y, 0);
    const result: WorkersIdleResult = {
      shifts: total, deploymentsPerShift: 2, idleSeconds: Math.round(secs), apiRequestsPerSecond: Math.round(rate * 100) / 100, byVerb,
      perShiftPerMinute: Math.round(((rate * 60) / total) * 1000) / 1000, rssMb: Math.round(rssMb(op.pid)), errors,
    };
    log(`workers: idle ${result.apiRequestsPerSecond} req/s ${JSON.stringify(byVerb)} (${result.perShiftPerMinute} per shift per minute)`);
    return result;
  } finally {
    for (const w of watches) w.stop();
    await op.stop();
    await deleteNamespaces(k, nss);
  }
}
