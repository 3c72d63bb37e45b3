// Resilience: dependencies failing. Prometheus killed and restarted mid-shift (no promotion while it
// is gone); the API server restarted with etcd kept (watches recover, no duplicate actions); a
// metrics endpoint answering garbage (non-JSON, 500s, hangs: inconclusive, never a promotion); a new
// backend answering garbage behind the gateway (5xx and non-JSON: rolled back).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTP_ROUTE, TRAFFIC_SHIFT, type KubeObject } from '../../operator/src/kube/resources.ts';
import { eventually, getJson, kubectl, kubectlOk, sleep, testbed, uniqueName } from '../helpers/cluster.ts';
import { processIdentity, startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { createScenario, shiftYaml, waitPhase, type Scenario, type ShiftObject } from '../helpers/scenario.ts';
import { reconcileOnceMore, waitObject, watchObject } from '../helpers/watch.ts';
import { startComponent, stopComponent } from '../testbed/testbed.ts';

const NS = uniqueName('rs-deps');
let operator: OperatorProcess;
/** The operator process as it started: a crash or restart changes it (see processIdentity). */
let started: Awaited<ReturnType<typeof processIdentity>>;
let garbage: Server;
let garbageUrl = '';
const scenarios: Scenario[] = [];

const CONSTANT = `      - name: constant
        prometheus: {query: 'vector(0)'}
        max: 0.5`;

beforeAll(async () => {
  await kubectlOk(['create', 'namespace', NS]);
  operator = await startOperator(testbed(), { name: 'resilience-deps', namespaces: [NS, `${NS}-gb`] });
  started = await processIdentity(operator);
  // A "Prometheus" that answers garbage in turn: non-JSON 200, 500 with HTML, a hang.
  let n = 0;
  garbage = createServer((req, res) => {
    req.resume();
    const mode = n++ % 3;
    if (mode === 0) { res.writeHead(200, { 'content-type': 'application/json' }); res.end('<html>not json'); } else if (mode === 1) { res.writeHead(500); res.end('<h1>oops</h1>'); } else { /* hang: never answer */ }
  });
  await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', () => r()));
  garbageUrl = `http://127.0.0.1:${(garbage.address() as AddressInfo).port}`;
});

afterAll(async () => {
  garbage?.closeAllConnections();
  garbage?.close();
  await operator?.stop();
  for (const s of scenarios) await s.cleanup();
  await kubectl(['delete', 'namespace', NS, '--wait=false']);
});

/** A route and two selector-less Services, no backends: for shifts whose metrics do not need traffic. */
async function bareRoute(name: string): Promise<void> {
  await kubectlOk(['apply', '--server-side', '-f', '-'], `apiVersion: v1
kind: Service
metadata: {name: monolith, namespace: ${NS}}
spec: {ports: [{name: http, port: 8080, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: listings-api, namespace: ${NS}}
spec: {ports: [{name: http, port: 8080, targetPort: 8080}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: ${NS}}
spec:
  rules:
    - backendRefs:
        - {name: monolith, port: 8080, weight: 100}
        - {name: listings-api, port: 8080, weight: 0}`);
}

const bare = { ns: NS, stable: 'monolith', canary: 'listings-api' } as Scenario;
function shift(name: string): Promise<ShiftObject> { return getJson<ShiftObject>(['get', 'trafficshift', name, '-n', NS]); }
interface RouteObj extends KubeObject { spec: { rules: Array<{ backendRefs: Array<{ name: string; weight?: number }> }> } }
async function canaryWeight(route: string): Promise<number | undefined> {
  const r = await getJson<RouteObj>(['get', 'httproute', route, '-n', NS]);
  return r.spec.rules[0]!.backendRefs.find((b) => b.name === 'listings-api')?.weight;
}
async function stepStarts(name: string): Promise<string[]> {
  const l = await getJson<{ items: Array<{ metadata: { uid: string }; reason: string; note?: string; regarding: { name: string; kind?: string }; series?: { count: number } }> }>(['get', 'events.events.k8s.io', '-n', NS]);
  const seen = new Set<string>();
  const mine = l.items.filter((e) => e.regarding.name === name && e.regarding.kind === 'TrafficShift' && e.reason === 'StepStarted' && !seen.has(e.metadata.uid) && seen.add(e.metadata.uid));
  const steps = mine.flatMap((e) => Array.from({ length: e.series?.count ?? 1 }, () => e.note?.match(/^step (\d+)/)?.[1] ?? '?')).sort();
  if (steps.length !== new Set(steps).size) console.log(`StepStarted Events of ${name}: ${JSON.stringify(mine, null, 1)}`);
  return steps;
}

describe('dependencies failing', () => {
  it('Prometheus killed mid-shift: no promotion while it is gone; completes once it is back', { timeout: 120_000 }, async () => {
    const info = testbed();
    await bareRoute('r-prom');
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(bare, 'prom', { steps: [[10, '2s'], [50, '2s'], [100, '2s']], interval: '1s', inconclusiveLimit: 2, metrics: CONSTANT }).replace('httpRoute: {name: listings}', 'httpRoute: {name: r-prom}'));
    await eventually('first step', async () => (await shift('prom')).status?.currentWeight === 10, 60_000);
    // Every version of the route while Prometheus is gone, on a watch.
    const weights: Array<number | undefined> = [];
    const routeWatch = watchObject<RouteObj>(HTTP_ROUTE, NS, 'r-prom', (r) => { weights.push(r?.spec.rules[0]?.backendRefs.find((b) => b.name === 'listings-api')?.weight); });
    await routeWatch.ready;
    await stopComponent(info, 'prometheus');
    try {
      // Paused; past the end of the step's pause (2 s from its start; the timer stops while paused)
      // and one more reconcile after it: still at 10, never promoted without data.
      const paused = await waitObject<ShiftObject & KubeObject>(TRAFFIC_SHIFT, NS, 'prom', (t) => t.status?.phase === 'Paused', 30_000);
      await sleep(Date.parse(paused.status!.stepStartedAt!) + 2000 - Date.now());
      await reconcileOnceMore(operator, 'trafficshift', TRAFFIC_SHIFT, NS, 'prom');
      const held = await shift('prom');
      expect(held.status?.phase).toBe('Paused');
      expect(held.status?.currentWeight).toBe(10);
      expect(await canaryWeight('r-prom')).toBe(10);
    } finally {
      await routeWatch.stop();
      await startComponent(info, 'prometheus', `${info.prometheusUrl}/-/ready`);
    }
    expect(weights.every((w) => w === 10), `canary weights of the route while Prometheus was gone: ${JSON.stringify(weights)}`).toBe(true);
    const done = await eventually('Completed', async () => { const t = await shift('prom'); return t.status?.phase === 'Completed' ? t : undefined; }, 90_000, 500);
    expect(done.status?.currentWeight).toBe(100);
    expect(await stepStarts('prom')).toEqual(['1', '2', '3']);
  });

  it('API server restarted (etcd kept): watches recover, the shift completes, no duplicate actions', { timeout: 150_000 }, async () => {
    const info = testbed();
    await bareRoute('r-api');
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(bare, 'api', { steps: [[10, '3s'], [50, '3s'], [100, '3s']], interval: '1s', inconclusiveLimit: 10, metrics: CONSTANT }).replace('httpRoute: {name: listings}', 'httpRoute: {name: r-api}'));
    await eventually('first step', async () => (await shift('api')).status?.currentWeight === 10, 60_000);
    await stopComponent(info, 'kube-apiserver');
    await sleep(2000);
    await startComponent(info, 'kube-apiserver');
    await eventually('API server back', async () => (await kubectl(['get', '--raw', '/readyz'])).code === 0, 90_000, 500);
    const done = await eventually('Completed', async () => { const t = await shift('api'); return t.status?.phase === 'Completed' ? t : undefined; }, 90_000, 500);
    expect(done.status?.currentWeight).toBe(100);
    expect(await canaryWeight('r-api')).toBe(100);
    expect(await stepStarts('api')).toEqual(['1', '2', '3']);
    // The operator kept running through it: the same process, still ready.
    expect(await processIdentity(operator)).toEqual(started);
    expect(operator.exitStatus()).toBeUndefined();
    expect((await fetch(`${operator.url}/readyz`)).status).toBe(200);
  });

  it('a metrics endpoint answering garbage (non-JSON, 500s, hangs): inconclusive, Paused, never promoted', { timeout: 90_000 }, async () => {
    await bareRoute('r-garbage');
    const metrics = `      - name: error-rate
        prometheus: {address: '${garbageUrl}', query: 'vector(0)'}
        max: 0.5`;
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(bare, 'garbage', { steps: [[10, '1s'], [100, '1s']], interval: '1s', inconclusiveLimit: 3, metrics }).replace('httpRoute: {name: listings}', 'httpRoute: {name: r-garbage}'));
    const paused = await eventually('Paused', async () => { const t = await shift('garbage'); return t.status?.phase === 'Paused' ? t : undefined; }, 60_000, 500);
    expect(paused.status?.pauseReason).toBe('Inconclusive');
    expect(paused.status?.currentWeight).toBe(10);
    // Past the end of the step's pause (1 s from its start; the timer stops while paused) and one
    // more reconcile after it: never promoted.
    await sleep(Date.parse(paused.status!.stepStartedAt!) + 1000 - Date.now());
    await reconcileOnceMore(operator, 'trafficshift', TRAFFIC_SHIFT, NS, 'garbage');
    expect((await shift('garbage')).status?.phase).toBe('Paused');
    expect(await canaryWeight('r-garbage')).toBe(10);
  });

  it('a new backend answering garbage behind the gateway (all 5xx, non-JSON): rolled back, the operator unharmed', { timeout: 120_000 }, async () => {
    const s = await createScenario({ prefix: 'rs-deps-gb', ns: `${NS}-gb`, canary: { errorRate: 1 } });
    scenarios.push(s);
    const load = s.startLoad(30);
    try {
      await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'gb', { steps: [[20, '30s'], [100, '30s']], interval: '1s', failureLimit: 2 }));
      const done = await waitPhase(s, 'gb', ['RolledBack', 'Completed', 'Failed'], 90_000);
      expect(done.status?.phase).toBe('RolledBack');
      expect(await s.routeWeights()).toEqual({ [s.stable]: 100, [s.canary]: 0 });
    } finally {
      await load.stop();
    }
    // Unharmed: the same process, never exited.
    expect(await processIdentity(operator)).toEqual(started);
    expect(operator.exitStatus()).toBeUndefined();
  });
});
