// Every example in examples/ applied as its README says (`kubectl apply -k examples/NAME/overlays/testbed`)
// on the testbed, with the backends it names, reaches the outcome its README promises.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, eventuallyEqual, getJson, kubectl, kubectlOk, testbed, uniqueName } from '../helpers/cluster.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { runLoad } from '../testbed/dataplane/load.ts';
import { backendRecord, startBackend, stopBackend } from '../testbed/backends.ts';
import { json, startCheckServer } from '../helpers/check-server.ts';
import { OPERATOR_IMAGE, REAL_NODE_LABEL, REAL_NODE_TAINT } from '../testbed/realnode.ts';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../testbed/paths.ts';
import { startPodScrape, type PodScrape } from '../testbed/pod-scrape.ts';
import type { Queue } from 'bullmq';
import { deployQueue, openQueue, produceJobs, waitForJobs, type JobTally } from '../helpers/queue.ts';
import { kube, watch, type WatchEvent } from '../bench/lib.ts';

let operator: OperatorProcess;
let podScrape: PodScrape | undefined;
const cleanups: Array<() => Promise<void>> = [];

// Namespaces chosen up front: the operator under test watches only these, so operators of other
// suites or developers on the same testbed never act on this file's resources (and vice versa).
const EXAMPLES = ['listings-read-slice', 'cohortlens-v2', 'zemo-api-and-workers', 'score-worker-extraction', 'flask-to-postgres'];
const NS: Record<string, string[]> = Object.fromEntries(EXAMPLES.map((e) => [e, Array.from({ length: 3 }, () => uniqueName(e.slice(0, 16)))]));

beforeAll(async () => {
  // The comparator pods' metrics (prometheus.io/scrape annotations) in Prometheus, as in a cluster.
  podScrape = startPodScrape(testbed(), { namespaces: Object.values(NS).flat() });
  operator = await startOperator(testbed(), {
    name: 'examples', namespaces: Object.values(NS).flat(),
    // Parity comparators as the chart runs them: the operator's image, on the real node.
    extraArgs: ['--parity-image', OPERATOR_IMAGE, '--parity-image-pull-policy', 'Never', '--parity-pod-template', JSON.stringify({
      nodeSelector: { [REAL_NODE_LABEL.key]: REAL_NODE_LABEL.value },
      tolerations: [{ key: REAL_NODE_TAINT.key, operator: 'Equal', value: REAL_NODE_TAINT.value, effect: REAL_NODE_TAINT.effect }],
    })],
  });
});

afterAll(async () => {
  // Cleanup while the operator runs: it removes its finalizers as the namespaces go.
  for (const c of cleanups) await c().catch(() => {});
  await operator?.stop();
  podScrape?.stop();
});

/**
 * Both sides of a latency ratio answer in 150 ms: the gateway's histogram bucket (0.1, 0.25] holds
 * them with room for scheduling noise on a busy machine, so p95 ratios compare like with like
 * (at 0–30 ms, a few ms of noise crosses a bucket boundary and doubles a p95).
 */
const LATENCY_MS = 150;

interface Backend { service: string; port?: number; errorRate?: number; latencyMs?: number; listing?: boolean }
interface Example { ns: string; load: { stop: () => Promise<void> } }

interface SliceObject {
  status?: {
    phase?: string; legacyRetiredAt?: string;
    history?: Array<{ phase: string; reason: string }>;
    conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
    triggers?: Array<{ name: string; value?: number; met: boolean }>;
  };
}

/** Namespace + backends + `kubectl apply -k overlays/testbed -n ns` + load through the gateway. */
async function runExample(name: string, o: { backends: Backend[]; host: string; path?: string; method?: string; rps?: number; before?: (ns: string) => Promise<void>; addresses?: Record<string, string> }): Promise<Example> {
  const info = testbed();
  const ns = NS[name]?.shift();
  if (!ns) throw new Error(`no namespace left for example ${name}: add it to EXAMPLES`);
  await kubectlOk(['create', 'namespace', ns]);
  await Promise.all(o.backends.map((b) => startBackend(info, { namespace: ns, service: b.service, servicePort: b.port ?? 8080, errorRate: b.errorRate, latencyMs: b.latencyMs, ...(b.listing ? { listing: true } : {}) })));
  const ac = new AbortController();
  cleanups.push(async () => {
    ac.abort();
    await Promise.all(o.backends.map((b) => stopBackend(info, ns, b.service, false)));
    await kubectl(['delete', 'migrationslices,shadowruns', '--all', '-n', ns, '--wait=true', '--timeout=30s']);
    await kubectl(['delete', 'namespace', ns, '--wait=false']);
  });
  if (o.before) await o.before(ns);
  if (o.addresses) {
    // The example as rendered, with in-cluster addresses the operator (a process on this host) cannot
    // resolve replaced by where the same service listens here — as --prometheus-url does for Prometheus.
    let rendered = await kubectlOk(['kustomize', `examples/${name}/overlays/testbed`]);
    for (const [from, to] of Object.entries(o.addresses)) {
      if (!rendered.includes(from)) throw new Error(`examples/${name} no longer calls ${from}`);
      rendered = rendered.replaceAll(from, to);
    }
    await kubectlOk(['apply', '--server-side', '-n', ns, '-f', '-'], rendered);
  } else {
    await kubectlOk(['apply', '--server-side', '-k', `examples/${name}/overlays/testbed`, '-n', ns]);
  }
  await eventually(`gateway routes ${o.host}`, async () => {
    // fetch() does not send a custom Host header; the load generator (node:http) does.
    const r = await runLoad({ url: info.gatewayUrl, host: o.host, path: o.path ?? '/', method: o.method ?? 'GET', rps: 10, maxRequests: 1, timeoutMs: 2000 });
    return r.byStatus['200'] === 1;
  }, 30_000, 200);
  const p = runLoad({ url: info.gatewayUrl, host: o.host, path: o.path ?? '/', method: o.method ?? 'GET', rps: o.rps ?? 40, durationMs: 240_000, signal: ac.signal, timeoutMs: 5000 });
  return { ns, load: { stop: async () => { ac.abort(); await p; } } };
}

/**
 * A worker example: Redis in the namespace, the monolith (whose batch-duration gauge the trigger reads)
 * as a backend, the overlay applied, and score jobs enqueued at 20/s until `stop`, which waits for
 * every job to finish and returns the count from Redis.
 */
async function runWorkerExample(name: string, o: { gauge: number; newFailRatio?: number; legacy: { name: string; replicas: number } }): Promise<{ ns: string; monolithUrl: string; stop: () => Promise<JobTally> }> {
  const info = testbed();
  const ns = NS[name]?.shift();
  if (!ns) throw new Error(`no namespace left for example ${name}: add it to EXAMPLES`);
  const queue = openQueue(await deployQueue(ns), 'scores');
  await startBackend(info, { namespace: ns, service: 'monolith', servicePort: 8080, latencyMs: LATENCY_MS });
  const monolithUrl = backendRecord(info, ns, 'monolith').url;
  await setGauge(monolithUrl, o.gauge);
  const ac = new AbortController();
  cleanups.push(async () => {
    ac.abort();
    await queue.close().catch(() => {});
    await stopBackend(info, ns, 'monolith', false);
    await kubectl(['delete', 'migrationslices', '--all', '-n', ns, '--wait=true', '--timeout=30s']);
    await kubectl(['delete', 'namespace', ns, '--wait=false']);
  });
  let rendered = await kubectlOk(['kustomize', `examples/${name}/overlays/testbed`]);
  if (o.newFailRatio !== undefined && !rendered.includes('- name: WORKER_VERSION\n          value: new')) throw new Error(`examples/${name}: no new worker's WORKER_VERSION to add FAIL_RATIO after`);
  if (o.newFailRatio !== undefined) rendered = rendered.replace('- name: WORKER_VERSION\n          value: new', `- name: WORKER_VERSION\n          value: new\n        - name: FAIL_RATIO\n          value: "${o.newFailRatio}"`);
  // As in production, the legacy consumers run and take the jobs before the cutover exists: the
  // example's Deployments first, Ready, the producer, then the whole overlay (the same objects).
  const deployments = rendered.split(/^---$/m).filter((d) => /^kind: Deployment$/m.test(d));
  await kubectlOk(['apply', '--server-side', '-n', ns, '-f', '-'], deployments.join('\n---\n'));
  await eventually(`${o.legacy.name} Ready`, async () => (await replicas(ns, o.legacy.name)).ready === o.legacy.replicas, 180_000, 500);
  const produced = produceJobs(queue, { count: 20 * 600, ratePerSecond: 20, signal: ac.signal });
  await kubectlOk(['apply', '--server-side', '-n', ns, '-f', '-'], rendered);
  return {
    ns, monolithUrl,
    stop: async () => { ac.abort(); const p = await produced; return waitForJobs(queue, p.ids, 180_000); },
  };
}

const slice = (ns: string, name: string) => getJson<SliceObject>(['get', 'migrationslice', name, '-n', ns]);
async function waitSlice(ns: string, name: string, phases: string[], timeoutMs = 120_000): Promise<SliceObject> {
  return eventually(`MigrationSlice ${ns}/${name} phase in ${phases.join('|')}`, async () => {
    const o = await slice(ns, name);
    return phases.includes(o.status?.phase ?? '') ? o : undefined;
  }, timeoutMs, 250);
}
async function weights(ns: string, route: string, rule = 0): Promise<Record<string, number>> {
  const r = await getJson<{ spec: { rules: Array<{ backendRefs?: Array<{ name: string; weight?: number }>; filters?: Array<{ type: string }> }> } }>(['get', 'httproute', route, '-n', ns]);
  const out: Record<string, number> = {};
  for (const b of r.spec.rules[rule]?.backendRefs ?? []) out[b.name] = b.weight ?? 1;
  if ((r.spec.rules[rule]?.filters ?? []).some((f) => f.type === 'RequestMirror')) out.mirror = 1;
  return out;
}
const flag = async (ns: string, cm: string, key: string) => (await getJson<{ data?: Record<string, string> }>(['get', 'configmap', cm, '-n', ns])).data?.[key];
const replicas = async (ns: string, d: string) => {
  const dep = await getJson<{ spec: { replicas: number }; status?: { readyReplicas?: number } }>(['get', 'deployment', d, '-n', ns]);
  return { replicas: dep.spec.replicas, ready: dep.status?.readyReplicas ?? 0 };
};
const report = (ns: string, name: string) => new Promise<string>((resolve) => execFile(process.execPath, [join(REPO_ROOT, 'operator', 'bin', 'kubectl-cutover.js'), 'report', name, '-n', ns, '-o', 'md'], { env: { ...process.env, KUBECONFIG: testbed().kubeconfig } }, (_e, out, err) => resolve(out + err)));
const phases = (s: SliceObject) => (s.status?.history ?? []).map((h) => h.phase);

describe('examples reach the outcome their README promises', () => {
  it('listings-read-slice (the backend migration playbook): shadow parity, then 10 → 50 → 100 on the read rule, flag on, Completed', async () => {
    // Both answer the same listings (--listing): the parity the playbook asks for holds.
    const ex = await runExample('listings-read-slice', {
      backends: [{ service: 'monolith', latencyMs: LATENCY_MS, listing: true }, { service: 'listings-api', latencyMs: LATENCY_MS, listing: true }],
      host: 'listings.example.com', path: '/v1/listings',
    });
    const done = await waitSlice(ex.ns, 'listings-read', ['Completed', 'RolledBack', 'Failed']);
    await ex.load.stop();
    expect(done.status?.phase, JSON.stringify(done.status?.history)).toBe('Completed');
    expect(phases(done)).toEqual(['Pending', 'Shadowing', 'Shifting', 'Stabilizing', 'Completed']);
    expect(await weights(ex.ns, 'listings', 0)).toEqual({ monolith: 0, 'listings-api': 100 });
    expect(await weights(ex.ns, 'listings', 1)).toEqual({ monolith: 1 });
    expect(await flag(ex.ns, 'feature-flags', 'listings-api-reads')).toBe('true');
    const sr = await getJson<{ status: { verdict: string; results: Array<{ name: string; result: string }>; parity?: { compared: number; mismatched: number; result?: string; endpoints?: Array<{ endpoint: string }> } } }>(['get', 'shadowrun', 'listings-read-shadow', '-n', ex.ns]);
    expect(sr.status.verdict).toBe('Pass');
    expect(sr.status.results.map((r) => [r.name, r.result])).toEqual([['parity', 'Pass']]);
    expect(sr.status.parity).toMatchObject({ result: 'Pass', mismatched: 0 });
    expect(sr.status.parity?.compared).toBeGreaterThanOrEqual(20);
    expect(sr.status.parity?.endpoints?.map((e) => e.endpoint)).toEqual(['GET /v1/listings']);
    // The README's parity report, as `kubectl cutover report` prints it.
    const md = await report(ex.ns, 'listings-read');
    console.log(md);
    expect(md).toContain('**Owner:** Domain owner (Listings) — Christian');
    expect(md).toContain('**Decision:** **Go**');
  });

  it('cohortlens-v2 (the CohortLens v2 migration): shadow mode with parity (v2\'s 5xx < 0.1% and consistent p95 from the comparator\'s series, responses vs v1, no-regression web check < 5% delta), then cutover to v2, Completed', async () => {
    // The playbook's no-regression script behind a QA service on 127.0.0.1 (see flask-to-postgres).
    const qa = await startCheckServer((req) => (req.headers.authorization === 'Bearer testbed-cohortlens-qa-token'
      ? json({ cohorts: 12, v1: 100, v2: 101.8, delta: 0.018 })
      : json({ error: 'unauthorised' }, 401)));
    cleanups.push(() => qa.close());
    const ex = await runExample('cohortlens-v2', {
      backends: [{ service: 'cohortlens-v1', port: 8000, latencyMs: LATENCY_MS }, { service: 'cohortlens-v2', port: 8001, latencyMs: LATENCY_MS }],
      host: 'api.cohortlens.example.com',
      addresses: { 'http://cohortlens-qa.{{namespace}}:8080': qa.url },
    });
    const done = await waitSlice(ex.ns, 'cohortlens-v2', ['Completed', 'RolledBack', 'Failed']);
    await ex.load.stop();
    expect(done.status?.phase, JSON.stringify(done.status?.history)).toBe('Completed');
    expect(phases(done)).toEqual(['Pending', 'Shadowing', 'Shifting', 'Stabilizing', 'Completed']);
    expect(await weights(ex.ns, 'cohortlens-api')).toEqual({ 'cohortlens-v1': 0, 'cohortlens-v2': 100 });
    expect(await flag(ex.ns, 'cohortlens-flags', 'v2_enabled')).toBe('true');
    // The shadow stage asked the no-regression script, for this pair of services, and judged its delta.
    expect(qa.requests.length).toBeGreaterThanOrEqual(1);
    expect(qa.requests[0]?.url).toBe('/no-regression?v1=cohortlens-v1&v2=cohortlens-v2');
    const runs = await getJson<{ items: Array<{ status?: { verdict?: string; results?: Array<{ name: string; shadow?: number; result: string }>; parity?: { compared: number; mismatched: number; result?: string } } }> }>(['get', 'shadowruns', '-n', ex.ns]);
    const run = runs.items[0]?.status;
    expect(run?.verdict).toBe('Pass');
    expect(run?.results).toContainEqual(expect.objectContaining({ name: 'no-regression', shadow: 0.018, result: 'Pass' }));
    // v2's error rate and p95 were read from the comparator's series of its calls to v2 (the gateway
    // sent v2 nothing): a ratio with a denominator, so the comparator pod was scraped.
    expect(run?.results).toContainEqual(expect.objectContaining({ name: 'error-rate', shadow: 0, result: 'Pass' }));
    expect(run?.results).toContainEqual(expect.objectContaining({ name: 'p95-consistent-with-v1', result: 'Pass' }));
    // "Review the shadow responses vs v1": parity passed, the declared deviation absorbed `service`.
    expect(run?.results).toContainEqual(expect.objectContaining({ name: 'parity', result: 'Pass' }));
    expect(run?.parity).toMatchObject({ result: 'Pass', mismatched: 0 });
    expect(run?.parity?.compared).toBeGreaterThanOrEqual(20);
    const md = await report(ex.ns, 'cohortlens-v2');
    console.log(md);
    expect(md).toContain('**Owner:** Tech Lead (CohortLens)');
    expect(md).toContain('**Decision:** **Go**');
    expect(md).toContain('$.service');
  });

  it('zemo-api-and-workers (Zemo\'s migration and rollback plan): the API\'s route and its BullMQ workers move together (25% → 1 of 4 consumers, 100% → 4), p95 ≤ 110% of the monolith, no job lost, Completed', async () => {
    let queue: Queue | undefined;
    const ex = await runExample('zemo-api-and-workers', {
      backends: [{ service: 'zemo-monolith', latencyMs: LATENCY_MS }, { service: 'zemo-api', port: 3000, latencyMs: LATENCY_MS }],
      host: 'zemo.example.com',
      before: async (ns) => {
        queue = openQueue(await deployQueue(ns), 'pipeline');
        // As in production, the monolith's job runner is running before the cutover starts: the
        // example's Deployments first, Ready, then the whole overlay (the same objects, unchanged).
        const rendered = await kubectlOk(['kustomize', 'examples/zemo-api-and-workers/overlays/testbed']);
        const deployments = rendered.split(/^---$/m).filter((d) => /^kind: Deployment$/m.test(d));
        await kubectlOk(['apply', '--server-side', '-n', ns, '-f', '-'], deployments.join('\n---\n'));
        await eventually('the monolith\'s job runner Ready', async () => (await replicas(ns, 'zemo-monolith-jobs')).ready === 4, 120_000, 500);
      },
    });
    const q = queue!;
    cleanups.push(() => q.close());
    const ac = new AbortController();
    const produced = produceJobs(q, { count: 20 * 600, ratePerSecond: 20, signal: ac.signal });
    // Every status of the shift and every Deployment change, as WATCH events (no step can slip between two polls).
    const k = kube(testbed());
    const shifts: Array<WatchEvent<{ metadata: { name: string }; status?: { currentWeight?: number; workersReady?: boolean; phase?: string } }>> = [];
    const deps: Array<WatchEvent<{ metadata: { name: string }; spec?: { replicas?: number }; status?: { readyReplicas?: number } }>> = [];
    const w1 = watch(k, `/apis/cutover.dev/v1alpha1/namespaces/${ex.ns}/trafficshifts`, (e) => shifts.push(e as typeof shifts[number]));
    const w2 = watch(k, `/apis/apps/v1/namespaces/${ex.ns}/deployments`, (e) => deps.push(e as typeof deps[number]));
    cleanups.push(async () => { w1.stop(); w2.stop(); });
    const done = await waitSlice(ex.ns, 'zemo-api-and-workers', ['Completed', 'RolledBack', 'Failed'], 180_000);
    await ex.load.stop();
    ac.abort();
    const tally = await waitForJobs(q, (await produced).ids, 180_000);
    w1.stop(); w2.stop();
    expect(done.status?.phase, JSON.stringify(done.status?.history)).toBe('Completed');
    // At the first step the route and the consumers showed the same 25%: 1 of 4 consumers new, Ready.
    const step1 = shifts.find((e) => e.obj.status?.currentWeight === 25 && e.obj.status.workersReady === true);
    expect(step1, 'a status at weight 25 with its split Ready').toBeDefined();
    const before = (name: string) => deps.filter((e) => e.obj.metadata.name === name && e.at <= step1!.at).at(-1)?.obj;
    expect(before('zemo-worker')).toMatchObject({ spec: { replicas: 1 }, status: { readyReplicas: 1 } });
    expect(before('zemo-monolith-jobs')?.spec?.replicas).toBe(3);
    // Ready as `kubectl rollout status` sees it (a readiness probe may miss a beat on a loaded node).
    expect(await eventuallyEqual('zemo-worker Ready', () => replicas(ex.ns, 'zemo-worker'), { replicas: 4, ready: 4 }, 30_000, 500)).toEqual({ replicas: 4, ready: 4 });
    expect((await replicas(ex.ns, 'zemo-monolith-jobs')).replicas).toBe(0);
    expect(await weights(ex.ns, 'zemo')).toEqual({ 'zemo-monolith': 0, 'zemo-api': 100 });
    expect(await flag(ex.ns, 'zemo-flags', 'clients-use-new-api')).toBe('true');
    expect(tally.missing).toEqual([]);
    expect(tally.completed).toBe(tally.total);
  });

  it('score-worker-extraction (the monolith → distributed migration guide): Pending until the batch-duration trigger holds, then the work moves 10 → 50 → 100% by consumers, no route, no job lost, Completed', async () => {
    const ex = await runWorkerExample('score-worker-extraction', { gauge: 1200, legacy: { name: 'monolith-score', replicas: 10 } }); // 20 min: below the 30 min trigger
    const waiting = await eventually('slice waiting on its trigger with a value', async () => {
      const s = await slice(ex.ns, 'score-worker-extraction');
      return s.status?.triggers?.[0]?.value === 1200 ? s : undefined;
    }, 30_000);
    expect(waiting.status?.phase).toBe('Pending');
    expect(waiting.status?.conditions?.find((c) => c.type === 'Progressing')).toMatchObject({ reason: 'WaitingForTrigger' });
    expect(waiting.status?.conditions?.find((c) => c.type === 'Progressing')?.message).toContain('score-batch-duration is 1200 (needs > 1800 for 2s)');
    expect(await replicas(ex.ns, 'score-worker')).toEqual({ replicas: 0, ready: 0 });
    await setGauge(ex.monolithUrl, 2400); // 40 min
    const done = await waitSlice(ex.ns, 'score-worker-extraction', ['Completed', 'RolledBack', 'Failed'], 240_000);
    const tally = await ex.stop();
    expect(done.status?.phase, JSON.stringify(done.status?.history)).toBe('Completed');
    expect(phases(done)).toEqual(['Pending', 'Shifting', 'Stabilizing', 'Completed']);
    // Ready as `kubectl rollout status` sees it (a readiness probe may miss a beat on a loaded node).
    expect(await eventuallyEqual('score-worker Ready', () => replicas(ex.ns, 'score-worker'), { replicas: 10, ready: 10 }, 30_000, 500)).toEqual({ replicas: 10, ready: 10 });
    expect((await replicas(ex.ns, 'monolith-score')).replicas).toBe(0);
    expect(await flag(ex.ns, 'feature-flags', 'score-events-to-worker')).toBe('true');
    // Every score job enqueued was done, by the monolith first and then by the worker.
    expect(tally.missing).toEqual([]);
    expect(tally.completed).toBe(tally.total);
    expect(tally.byVersion.new?.completed ?? 0).toBeGreaterThan(0);
    expect(tally.byVersion.legacy?.completed ?? 0).toBeGreaterThan(0);
  });

  it('score-worker-extraction, rollback: a worker failing 20% of score jobs is rolled back in the playbook\'s order (monolith consumers back and Ready, worker idle, flag flipped) within its "< 5 minutes"; no job lost', async () => {
    const ex = await runWorkerExample('score-worker-extraction', { gauge: 2400, newFailRatio: 0.2, legacy: { name: 'monolith-score', replicas: 10 } });
    const done = await waitSlice(ex.ns, 'score-worker-extraction', ['Completed', 'RolledBack', 'Failed'], 240_000);
    const rb = await eventually('slice rollback complete', async () => {
      const s = await getJson<{ status?: { rollback?: { at?: string; featureFlagRestoredAt?: string; completedAt?: string } } }>(['get', 'migrationslice', 'score-worker-extraction', '-n', ex.ns]);
      return s.status?.rollback?.completedAt ? s.status.rollback : undefined;
    }, 60_000);
    const ts = await getJson<{ status?: { rollback?: { trigger?: string; reason?: string; at?: string; legacyWorkersReadyAt?: string; workersRestoredAt?: string } } }>(['get', 'trafficshift', 'score-worker-extraction-shift', '-n', ex.ns]);
    const tally = await ex.stop();
    expect(done.status?.phase, JSON.stringify(done.status?.history)).toBe('RolledBack');
    expect(ts.status?.rollback?.trigger).toBe('Metric');
    expect(ts.status?.rollback?.reason).toMatch(/job-failures-vs-monolith/);
    // The order: monolith consumers Ready, then the worker scaled down, then the flag.
    const at = (t?: string) => Date.parse(t ?? '');
    expect(at(ts.status?.rollback?.legacyWorkersReadyAt)).toBeLessThanOrEqual(at(ts.status?.rollback?.workersRestoredAt));
    // The slice's stamps have second precision (the shift's, milliseconds).
    expect(Math.floor(at(ts.status?.rollback?.workersRestoredAt) / 1000) * 1000).toBeLessThanOrEqual(at(rb.featureFlagRestoredAt));
    const seconds = (at(rb.completedAt) - at(ts.status?.rollback?.at)) / 1000;
    console.log(`[examples] score-worker-extraction rollback: breach decided → flag flipped in ${seconds.toFixed(1)} s (playbook: < 5 minutes); jobs ${JSON.stringify({ enqueued: tally.total, completed: tally.completed, failed: tally.failed, byVersion: tally.byVersion })}`);
    expect(seconds).toBeLessThan(300);
    // Ready as `kubectl rollout status` sees it (a readiness probe may miss a beat on a loaded node).
    expect(await eventuallyEqual('monolith-score Ready', () => replicas(ex.ns, 'monolith-score'), { replicas: 10, ready: 10 }, 30_000, 500)).toEqual({ replicas: 10, ready: 10 });
    expect((await replicas(ex.ns, 'score-worker')).replicas).toBe(0);
    expect(await flag(ex.ns, 'feature-flags', 'score-events-to-worker')).toBe('false');
    expect(tally.missing).toEqual([]);
    expect(tally.completed + tally.failed).toBe(tally.total);
    expect(tally.byVersion.legacy?.failed ?? 0).toBe(0);
  });

  it('flask-to-postgres (the Flask marketplace\'s migration plan): healthy → Completed; new service at 10% 5xx → RolledBack, flag back to "false"; rows lost (data QA web check) → RolledBack', async () => {
    // The plan's data QA ("comparar conteos"): a real service on 127.0.0.1 answering the slice's
    // web check, per namespace; it insists on the token of the example's Secret.
    const lost: Record<string, number> = {};
    const qa = await startCheckServer((req) => {
      if (req.headers.authorization !== 'Bearer testbed-data-qa-token') return json({ error: 'unauthorised' }, 401);
      const ns = /^\/([^/]+)\/compare-counts$/.exec(req.url)?.[1] ?? '';
      const body = JSON.parse(req.body) as { tables?: string[] };
      const missing = lost[ns] ?? 0;
      return json({ tables: Object.fromEntries((body.tables ?? []).map((t) => [t, { sqlite: 1000, postgresql: t === 'orders' ? 1000 - missing : 1000 }])), missingRows: missing });
    });
    cleanups.push(() => qa.close());
    const addresses = { 'http://marketplace-data-qa.{{namespace}}:8080': `${qa.url}/{{namespace}}` };
    // One after the other: all use the same hostname.
    const ok = await runExample('flask-to-postgres', {
      backends: [{ service: 'flask-sqlite', port: 8000 }, { service: 'flask-postgres', port: 8000 }],
      host: 'marketplace.example.com', addresses,
    });
    const good = await waitSlice(ok.ns, 'flask-to-postgres', ['Completed', 'RolledBack', 'Failed']);
    await ok.load.stop();
    expect(good.status?.phase, JSON.stringify(good.status?.history)).toBe('Completed');
    expect(await weights(ok.ns, 'marketplace')).toEqual({ 'flask-sqlite': 0, 'flask-postgres': 100 });
    expect(await flag(ok.ns, 'marketplace-flags', 'postgres-primary')).toBe('true');
    expect(qa.requests.filter((r) => r.url === `/${ok.ns}/compare-counts`).length).toBeGreaterThanOrEqual(3);
    await kubectlOk(['delete', 'httproute', 'marketplace', '-n', ok.ns]);

    const bad = await runExample('flask-to-postgres', {
      backends: [{ service: 'flask-sqlite', port: 8000 }, { service: 'flask-postgres', port: 8000, errorRate: 0.1 }],
      host: 'marketplace.example.com', rps: 60, addresses,
    });
    const failed = await waitSlice(bad.ns, 'flask-to-postgres', ['Completed', 'RolledBack', 'Failed']);
    await bad.load.stop();
    expect(failed.status?.phase, JSON.stringify(failed.status?.history)).toBe('RolledBack');
    expect(failed.status?.history?.at(-1)?.reason).toBe('RolledBack');
    expect(await weights(bad.ns, 'marketplace')).toEqual({ 'flask-sqlite': 100, 'flask-postgres': 0 });
    expect(await flag(bad.ns, 'marketplace-flags', 'postgres-primary')).toBe('false');
    await kubectlOk(['delete', 'httproute', 'marketplace', '-n', bad.ns]);

    // Healthy backends, but the data QA finds 42 orders of SQLite missing in PostgreSQL.
    const lossNs = NS['flask-to-postgres']![0]!;
    lost[lossNs] = 42;
    const loss = await runExample('flask-to-postgres', {
      backends: [{ service: 'flask-sqlite', port: 8000 }, { service: 'flask-postgres', port: 8000 }],
      host: 'marketplace.example.com', addresses,
    });
    expect(loss.ns).toBe(lossNs);
    await waitSlice(loss.ns, 'flask-to-postgres', ['Completed', 'RolledBack', 'Failed']);
    await loss.load.stop();
    const rolledBack = await getJson<SliceObject & { status?: { rollback?: { trigger: string; reason: string } } }>(['get', 'migrationslice', 'flask-to-postgres', '-n', loss.ns]);
    expect(rolledBack.status?.phase, JSON.stringify(rolledBack.status?.history)).toBe('RolledBack');
    expect(rolledBack.status?.rollback).toMatchObject({ trigger: 'Metric', reason: expect.stringContaining('no-rows-lost 42 > 0') as unknown });
    expect(await weights(loss.ns, 'marketplace')).toEqual({ 'flask-sqlite': 100, 'flask-postgres': 0 });
    expect(await flag(loss.ns, 'marketplace-flags', 'postgres-primary')).toBe('false');
  });
});

async function setGauge(backendUrl: string, value: number): Promise<void> {
  const r = await fetch(`${backendUrl}/__admin/gauge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'score_batch_duration_seconds', value }) });
  if (!r.ok) throw new Error(`gauge: ${r.status} ${await r.text()}`);
}
