// TrafficShift end to end: the operator as a separate process, the real API server, the gateway
// splitting real requests, the real Prometheus scraping it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRAFFIC_SHIFT } from '../../operator/src/kube/resources.ts';
import { eventually, eventuallyEqual, getJson, kubectl, kubectlOk, promQuery, sleep, testbed, uniqueName } from '../helpers/cluster.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { createScenario, ERROR_RATE_QUERY, P95_QUERY, recordWeights, render, shiftYaml, waitPhase, type Scenario, type ShiftObject } from '../helpers/scenario.ts';
import { runLoad } from '../testbed/dataplane/load.ts';
import { reconcileOnceMore } from '../helpers/watch.ts';
import { metricSum } from '../helpers/metrics.ts';
import { applyWorkers, workerReplicas, workersYaml } from '../helpers/workers.ts';
import { startComponent, stopComponent } from '../testbed/testbed.ts';

let operator: OperatorProcess;
const scenarios: Scenario[] = [];
// The operator under test watches only this file's namespaces, so other operators running against
// the same testbed (a developer's, another suite's) never act on them.
const NS: Record<string, string> = Object.fromEntries(['ts-healthy', 'ts-faulty', 'ts-slow', 'ts-noprom', 'ts-crash', 'ts-filters', 'ts-workers', 'ts-workers-rb', 'ts-stalled', 'ts-restart'].map((p) => [p, uniqueName(p)]));

beforeAll(async () => {
  operator = await startOperator(testbed(), { name: 'trafficshift', namespaces: Object.values(NS) });
});

afterAll(async () => {
  await operator?.stop();
  for (const s of scenarios) await s.cleanup();
});

async function scenario(opts: Parameters<typeof createScenario>[0]): Promise<Scenario> {
  const s = await createScenario({ ...opts, ns: NS[opts.prefix] });
  scenarios.push(s);
  return s;
}

interface EventList { items: Array<{ reason: string; note?: string; type: string; reportingInstance?: string; regarding: { name: string } }> }
async function eventsFor(ns: string, name: string): Promise<EventList['items']> {
  const list = await getJson<EventList>(['get', 'events.events.k8s.io', '-n', ns]);
  return list.items.filter((e) => e.regarding.name === name);
}

describe('TrafficShift end to end', () => {
  it('healthy new service: 10 → 50 → 100, Completed; each weight seen in the API server and in the gateway split', async () => {
    const s = await scenario({ prefix: 'ts-healthy' });
    const load = s.startLoad(40);
    const splits: Array<{ weight: number; share: number }> = [];
    const rec = recordWeights(s, async (weight) => {
      if (weight === 0) return;
      const sum = await runLoad({ url: testbed().gatewayUrl, host: s.host, path: '/', rps: 400, maxRequests: 200 });
      splits.push({ weight, share: (100 * (sum.byService[s.canary] ?? 0)) / Math.max(1, sum.completed) });
    });
    await rec.ready;
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'listings-read'));
    const done = await waitPhase(s, 'listings-read', ['Completed', 'RolledBack', 'Failed']);
    await rec.stop();
    await load.stop();
    expect(done.status?.phase).toBe('Completed');
    expect(done.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(rec.changes.map((c) => c.weight).filter((w) => w > 0)).toEqual([10, 50, 100]);
    expect(splits.map((x) => x.weight)).toEqual([10, 50, 100]);
    for (const x of splits) expect(Math.abs(x.share - x.weight), `gateway split at weight ${x.weight}: ${x.share}%`).toBeLessThanOrEqual(12);
    const w = await s.routeWeights();
    expect(w).toEqual({ [s.stable]: 0, [s.canary]: 100 });
    const wait = await kubectl(['wait', '--for=condition=Ready', `trafficshift/listings-read`, '-n', s.ns, '--timeout=5s']);
    expect(wait.code).toBe(0);
  });

  it('new service failing 20% of requests: RolledBack by Metric, weights back to stable; records breach → rollback time', async () => {
    const s = await scenario({ prefix: 'ts-faulty', canary: { errorRate: 0.2 } });
    const load = s.startLoad(50);
    const rec = recordWeights(s);
    await rec.ready;
    // Watch the breach become visible in Prometheus, with the same query the shift uses.
    const q = render(ERROR_RATE_QUERY, { namespace: s.ns, 'canary.service': s.canary });
    let breachAt: number | undefined;
    let watching = true;
    const watcher = (async () => {
      while (watching && breachAt === undefined) {
        const r = await promQuery(q).catch(() => []);
        if (r[0] && r[0].value > 0.05) breachAt = Date.now();
        await sleep(100);
      }
    })();
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'listings-read', { steps: [[10, '60s'], [50, '60s'], [100, '60s']] }));
    const done = await waitPhase(s, 'listings-read', ['RolledBack', 'Completed', 'Failed']);
    watching = false;
    await watcher;
    await rec.stop();
    await load.stop();
    expect(done.status?.phase).toBe('RolledBack');
    expect(done.status?.rollback?.trigger).toBe('Metric');
    expect(done.status?.rollback?.reason).toMatch(/error-rate 0\.\d+ > 0\.05/);
    expect(await s.routeWeights()).toEqual({ [s.stable]: 100, [s.canary]: 0 });
    const rolledBackAt = rec.changes.filter((c) => c.weight === 0).at(-1)?.at;
    expect(breachAt).toBeDefined();
    expect(rolledBackAt).toBeDefined();
    const record = { test: 'breach-to-rollback', analysisInterval: '2s', failureLimit: 2, breachVisibleAt: new Date(breachAt!).toISOString(), weightsAtStableAt: new Date(rolledBackAt!).toISOString(), breachToRollbackMs: rolledBackAt! - breachAt! };
    mkdirSync('test/results', { recursive: true });
    writeFileSync('test/results/breach-to-rollback.json', `${JSON.stringify(record, null, 2)}\n`);
    console.log(`breach → rollback: ${record.breachToRollbackMs} ms (interval 2s, failureLimit 2)`);
    const events = await eventsFor(s.ns, 'listings-read');
    expect(events.some((e) => e.reason === 'RolledBack' && e.type === 'Warning')).toBe(true);
  });

  it('latency above the p95 threshold: rollback', async () => {
    const s = await scenario({ prefix: 'ts-slow', canary: { latencyMs: 250 } });
    const load = s.startLoad(40);
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'listings-read', {
      steps: [[10, '60s'], [100, '60s']],
      metrics: `      - name: p95-latency
        prometheus:
          query: '${P95_QUERY}'
        max: 0.1`,
    }));
    const done = await waitPhase(s, 'listings-read', ['RolledBack', 'Completed', 'Failed']);
    await load.stop();
    expect(done.status?.phase).toBe('RolledBack');
    expect(done.status?.rollback?.reason).toMatch(/p95-latency 0\.\d+ > 0\.1/);
    expect(await s.routeWeights()).toEqual({ [s.stable]: 100, [s.canary]: 0 });
  });

  it('Prometheus stopped mid-shift: no promotion, Paused after inconclusiveLimit, continues when it is back', async () => {
    const info = testbed();
    const s = await scenario({ prefix: 'ts-noprom' });
    const load = s.startLoad(40);
    const rec = recordWeights(s);
    await rec.ready;
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'listings-read', { steps: [[10, '4s'], [50, '4s'], [100, '4s']], interval: '1s', inconclusiveLimit: 3 }));
    await eventually('first step', async () => (await s.shift<ShiftObject>('listings-read')).status?.currentWeight === 10, 60_000);
    await stopComponent(info, 'prometheus');
    let paused: ShiftObject;
    try {
      paused = await waitPhase(s, 'listings-read', ['Paused'], 60_000);
      expect(paused.status?.pauseReason).toBe('Inconclusive');
      const weightWhenPaused = paused.status?.currentWeight;
      // Held past the end of the step's pause (4 s from its start; the timer stops while paused) and
      // one more reconcile after it: no promotion without data.
      await sleep(Date.parse(paused.status!.stepStartedAt!) + 4000 - Date.now());
      await reconcileOnceMore(operator, 'trafficshift', TRAFFIC_SHIFT, s.ns, 'listings-read');
      const still = await s.shift<ShiftObject>('listings-read');
      expect(still.status?.phase).toBe('Paused');
      expect(still.status?.currentWeight).toBe(weightWhenPaused);
      expect((await s.routeWeights())[s.canary]).toBe(weightWhenPaused);
    } finally {
      await startComponent(info, 'prometheus', `${info.prometheusUrl}/-/ready`);
    }
    const done = await waitPhase(s, 'listings-read', ['Completed', 'RolledBack', 'Failed'], 120_000);
    await rec.stop();
    await load.stop();
    expect(done.status?.phase).toBe('Completed');
    expect(rec.changes.map((c) => c.weight).filter((w) => w > 0)).toEqual([10, 50, 100]);
  });

  it('operator killed with SIGKILL mid-step and restarted: resumes the same step and completes, no step repeated or skipped', async () => {
    const s = await scenario({ prefix: 'ts-crash' });
    const load = s.startLoad(40);
    const rec = recordWeights(s);
    await rec.ready;
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'listings-read', { steps: [[10, '5s'], [50, '8s'], [100, '5s']] }));
    await eventually('step 2 (weight 50)', async () => (await s.shift<ShiftObject>('listings-read')).status?.currentWeight === 50, 90_000);
    await sleep(1500);
    await operator.kill9();
    const stepWhenKilled = (await s.shift<ShiftObject>('listings-read')).status?.currentStep;
    await sleep(2000);
    await operator.restart();
    const done = await waitPhase(s, 'listings-read', ['Completed', 'RolledBack', 'Failed']);
    await rec.stop();
    await load.stop();
    expect(stepWhenKilled).toBe(1);
    expect(done.status?.phase).toBe('Completed');
    expect(rec.changes.map((c) => c.weight).filter((w) => w > 0)).toEqual([10, 50, 100]);
    const startedEvents = (await eventsFor(s.ns, 'listings-read')).filter((e) => e.reason === 'StepStarted');
    const started = startedEvents.map((e) => e.note?.match(/step (\d)\/3/)?.[1]);
    if (started.length !== 3) console.log(JSON.stringify(startedEvents, null, 1));
    expect(started.sort()).toEqual(['1', '2', '3']);
  });

  it('restart: a StepStarted Event that exists is not written again; one that is missing is written at once, one per step', async () => {
    const s = await scenario({ prefix: 'ts-restart' });
    // Two live shifts paused at step 1 (the second on a copy of the route): "kept" keeps its Event,
    // "lost"'s is deleted while the operator is down (as if it died between status and Event).
    const route = await getJson<{ metadata: Record<string, unknown>; spec: unknown }>(['get', 'httproute', 'listings', '-n', s.ns]);
    await kubectlOk(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], JSON.stringify({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'listings-b', namespace: s.ns }, spec: route.spec }));
    const opts = { steps: [[10, '600s'], [100, '2s']] as Array<[number, string]>, metrics: `      - name: ok\n        prometheus: {query: 'vector(0)'}\n        max: 0.5` };
    await kubectlOk(['apply', '--server-side', '-f', '-'], `${shiftYaml(s, 'kept', opts)}\n---\n${shiftYaml(s, 'lost', opts).replace('httpRoute: {name: listings}', 'httpRoute: {name: listings-b}')}`);
    interface Ev { metadata: { name: string; uid: string; resourceVersion: string; creationTimestamp: string }; reason: string; note?: string; regarding: { name: string } }
    const started = async (name: string) => (await getJson<{ items: Ev[] }>(['get', 'events.events.k8s.io', '-n', s.ns])).items.filter((e) => e.regarding.name === name && e.reason === 'StepStarted');
    const [kept] = await Promise.all(['kept', 'lost'].map((name) => eventually(`StepStarted of ${name}`, async () => (await started(name)).find((e) => e.note?.startsWith('step 1/2')), 60_000, 250)));
    await operator.kill9();
    const lost = (await started('lost'))[0]!;
    await kubectlOk(['delete', 'events.events.k8s.io', lost.metadata.name, '-n', s.ns]);
    const t0 = Date.now();
    await operator.restart();
    const again = await eventually('the missing StepStarted written again', async () => (await started('lost'))[0], 30_000, 100);
    const recoveredMs = Date.now() - t0;
    await reconcileOnceMore(operator, 'trafficshift', TRAFFIC_SHIFT, s.ns, ['kept', 'lost']);
    const text = await (await fetch(`${operator.url}/metrics`)).text();
    console.log(`restart: missing StepStarted written again ${recoveredMs} ms after the restart began`);
    // The restarted process wrote exactly one Event (the missing one) and asked for no existing one
    // (a second write of a named Event is answered 409 AlreadyExists).
    expect({ posts: metricSum(text, 'rest_client_requests_total', { method: 'POST' }), conflicts: metricSum(text, 'rest_client_requests_total', { method: 'POST', code: '409' }) }).toEqual({ posts: 1, conflicts: 0 });
    expect(again.metadata.name).toBe(lost.metadata.name);
    expect(again.note).toMatch(/^step 1\/2: .*recorded after an operator restart/);
    const keptNow = await started('kept');
    expect(keptNow.map((e) => e.metadata)).toEqual([kept!.metadata]);
    expect((await started('lost')).map((e) => e.metadata.name)).toEqual([lost.metadata.name]);
    await kubectlOk(['delete', 'trafficshift', 'kept', 'lost', '-n', s.ns, '--wait=false']);
  });

  it("keeps the user's own filters and extra rule intact", async () => {
    const rules = `    - matches:
        - path: {type: PathPrefix, value: /}
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier:
            add: [{name: x-team, value: listings}]
      backendRefs:
        - {name: monolith, port: 8080, weight: 100}
        - {name: listings-api, port: 8080, weight: 0}
    - matches:
        - path: {type: PathPrefix, value: /admin}
      backendRefs:
        - {name: monolith, port: 8080}`;
    const s = await scenario({ prefix: 'ts-filters', rulesYaml: rules });
    const before = await getJson<{ spec: { rules: Array<Record<string, unknown>> } }>(['get', 'httproute', 'listings', '-n', s.ns]);
    const load = s.startLoad(40);
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'listings-read', { steps: [[50, '3s'], [100, '3s']] }));
    const done = await waitPhase(s, 'listings-read', ['Completed', 'RolledBack', 'Failed']);
    await load.stop();
    expect(done.status?.phase).toBe('Completed');
    const after = await getJson<{ spec: { rules: Array<Record<string, unknown>> } }>(['get', 'httproute', 'listings', '-n', s.ns]);
    expect(after.spec.rules).toHaveLength(2);
    expect(after.spec.rules[0]!.filters).toEqual(before.spec.rules[0]!.filters);
    expect(after.spec.rules[0]!.matches).toEqual(before.spec.rules[0]!.matches);
    expect(after.spec.rules[1]).toEqual(before.spec.rules[1]);
  });

  it('workers: the extracted worker is Ready before the first weight change; legacy scaled down after completion', async () => {
    const s = await scenario({ prefix: 'ts-workers' });
    await applyWorkers(s.ns);
    const load = s.startLoad(40);
    let workerReadyAtFirstWeight: number | undefined;
    const rec = recordWeights(s, async (w) => {
      if (w > 0 && workerReadyAtFirstWeight === undefined) {
        const d = await getJson<{ status?: { readyReplicas?: number } }>(['get', 'deployment', 'score-worker', '-n', s.ns]);
        workerReadyAtFirstWeight = d.status?.readyReplicas ?? 0;
      }
    });
    await rec.ready;
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'score', { steps: [[10, '3s'], [100, '3s']], extra: workersYaml }));
    const done = await waitPhase(s, 'score', ['Completed', 'RolledBack', 'Failed']);
    await rec.stop();
    await load.stop();
    expect(done.status?.phase).toBe('Completed');
    expect(workerReadyAtFirstWeight).toBe(3);
    // The wait is the check: it fails naming the replicas last seen.
    await eventuallyEqual('legacy worker scaled to 0, the extracted one kept at 3', () => workerReplicas(s.ns), { 'monolith-worker': 0, 'score-worker': 3 }, 30_000);
  });

  it('workers: both restored on rollback', async () => {
    const s = await scenario({ prefix: 'ts-workers-rb', canary: { errorRate: 0.5 } });
    await applyWorkers(s.ns);
    const load = s.startLoad(40);
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'score', { steps: [[10, '60s'], [100, '60s']], extra: workersYaml }));
    const done = await waitPhase(s, 'score', ['Completed', 'RolledBack', 'Failed']);
    await load.stop();
    expect(done.status?.phase).toBe('RolledBack');
    // The wait is the check: both restored (extracted worker to 0, legacy to its 2), or it fails naming the replicas last seen.
    await eventuallyEqual('workers restored', () => workerReplicas(s.ns), { 'monolith-worker': 2, 'score-worker': 0 }, 30_000);
  });

  it('a TrafficShift naming a missing HTTPRoute: Stalled naming spec.route.httpRoute.name, nothing changed', async () => {
    const s = await scenario({ prefix: 'ts-stalled' });
    await applyWorkers(s.ns);
    const yaml = shiftYaml(s, 'orphan', { extra: workersYaml }).replace('httpRoute: {name: listings}', 'httpRoute: {name: does-not-exist}');
    await kubectlOk(['apply', '--server-side', '-f', '-'], yaml);
    const ts = await eventually('Stalled condition', async () => {
      const t = await s.shift<ShiftObject>('orphan');
      return t.status?.conditions?.find((c) => c.type === 'Stalled' && c.status === 'True') ? t : undefined;
    }, 30_000);
    const stalled = ts.status!.conditions!.find((c) => c.type === 'Stalled')!;
    expect(stalled.reason).toBe('RouteNotFound');
    expect(stalled.message).toContain('spec.route.httpRoute.name');
    expect(ts.status?.phase).toBe('Pending');
    // One more reconcile of it: still nothing created, moved or scaled.
    await reconcileOnceMore(operator, 'trafficshift', TRAFFIC_SHIFT, s.ns, 'orphan');
    expect((await kubectl(['get', 'httproute', 'does-not-exist', '-n', s.ns])).code).not.toBe(0);
    expect(await s.routeWeights()).toEqual({ [s.stable]: 100, [s.canary]: 0 });
    const worker = await getJson<{ spec: { replicas: number } }>(['get', 'deployment', 'score-worker', '-n', s.ns]);
    expect(worker.spec.replicas).toBe(0);
  });
});
