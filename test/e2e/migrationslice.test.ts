// MigrationSlice end to end: the operator as a separate process, real API server, the gateway
// splitting and mirroring real requests, Prometheus scraping it. Each test is one thing a platform
// engineer relies on: a shadow failure never moves user traffic; a shift breach rolls everything
// back in DESIGN §2's order (route, then flag, then workers, watched in the API server); startWhen
// holds a slice until its metric crosses; deleting a slice early leaves the route at stable 100% and
// no mirror; an alert rolls a slice back at once, in the same order.
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATION_SLICE, type KubeObject } from '../../operator/src/kube/resources.ts';
import { eventually, getJson, kubectl, kubectlOk, sleep, testbed, uniqueName } from '../helpers/cluster.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { createScenario, ERROR_RATE_QUERY, recordWeights, type Scenario } from '../helpers/scenario.ts';
import { reconcileOnceMore, waitObject } from '../helpers/watch.ts';
import { readState } from '../testbed/testbed.ts';

const TOKEN = 'e2e-alert-token';
let operator: OperatorProcess;
const scenarios: Scenario[] = [];
// The operator under test watches only this file's namespaces, so other operators running against
// the same testbed (a developer's, another suite's, a benchmark's) never act on them.
const NS: Record<string, string> = Object.fromEntries(['ms-shadowfail', 'ms-breach', 'ms-trigger', 'ms-delshadow', 'ms-alert', 'ms-childdel'].map((p) => [p, uniqueName(p)]));

beforeAll(async () => {
  operator = await startOperator(testbed(), { name: 'migrationslice', namespaces: Object.values(NS), env: { CUTOVER_ALERTMANAGER_TOKEN: TOKEN } });
});

afterAll(async () => {
  // Cleanup while the operator runs: it removes its finalizers (cutover.dev/cleanup) as the slices go.
  for (const s of scenarios) await kubectl(['delete', 'migrationslices,shadowruns', '--all', '-n', s.ns, '--wait=true', '--timeout=30s']);
  await operator?.stop();
  for (const s of scenarios) await s.cleanup();
});

async function scenario(opts: Parameters<typeof createScenario>[0]): Promise<Scenario> {
  const s = await createScenario({ ...opts, ns: NS[opts.prefix] });
  scenarios.push(s);
  return s;
}

interface SliceObject {
  metadata: { name: string; finalizers?: string[] };
  status?: {
    phase?: string; message?: string; currentWeight?: number;
    featureFlag?: { enabled: boolean; previousValue?: string };
    rollback?: { trigger: string; reason: string; routeRestoredAt?: string; featureFlagRestoredAt?: string; workersRestoredAt?: string; completedAt?: string };
    children?: { shadowRun?: { name: string; phase?: string; verdict?: string }; trafficShift?: { name: string; phase?: string; currentWeight?: number; workers?: Array<{ deployment: string; previousReplicas?: number }> } };
    history?: Array<{ phase: string; at: string; reason: string; message?: string }>;
    triggers?: Array<{ name: string; value?: number; met: boolean }>;
    conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
  };
}

const slice = (s: Scenario, name: string) => getJson<SliceObject>(['get', 'migrationslice', name, '-n', s.ns]);

/** Waits (on a watch) until the slice's phase is one of `phases`; returns that version. */
function waitSlice(s: Scenario, name: string, phases: string[], timeoutMs = 120_000): Promise<SliceObject> {
  return waitObject<SliceObject & KubeObject>(MIGRATION_SLICE, s.ns, name, (o) => phases.includes(o.status?.phase ?? ''), timeoutMs, `MigrationSlice ${s.ns}/${name} phase in ${phases.join('|')}`);
}

async function flagValue(s: Scenario): Promise<string | undefined> {
  const cm = await getJson<{ data?: Record<string, string> }>(['get', 'configmap', 'flags', '-n', s.ns]);
  return cm.data?.['listings-v2'];
}

async function mirrorFilters(s: Scenario): Promise<unknown[]> {
  const r = await getJson<{ spec: { rules: Array<{ filters?: Array<{ type: string }> }> } }>(['get', 'httproute', 'listings', '-n', s.ns]);
  return (r.spec.rules[0]?.filters ?? []).filter((f) => f.type === 'RequestMirror');
}

async function exists(kind: string, ns: string, name: string): Promise<boolean> {
  return (await kubectl(['get', kind, name, '-n', ns])).code === 0;
}

function sliceYaml(s: Scenario, name: string, o: { shadow?: string; steps?: Array<[number, string]>; extra?: string; shiftExtra?: string; interval?: string } = {}): string {
  const steps = o.steps ?? [[10, '6s'], [50, '6s'], [100, '6s']];
  return `apiVersion: cutover.dev/v1alpha1
kind: MigrationSlice
metadata: {name: ${name}, namespace: ${s.ns}}
spec:
  owner: team-listings
  rollbackPlan: flip listings-v2 off; the route goes back to the monolith at 100%
  legacy: {service: ${s.stable}, port: 8080}
  target: {service: ${s.canary}, port: 8080}
  route:
    httpRoute: {name: listings}
  featureFlag: {configMap: flags, key: listings-v2}
${o.shadow ?? ''}
  shift:
${o.shiftExtra ?? ''}
    steps:
${steps.map(([w, p]) => `      - {weight: ${w}, pause: ${p}}`).join('\n')}
    analysis:
      interval: ${o.interval ?? '1s'}
      failureLimit: 2
      inconclusiveLimit: 8
      metrics:
        - name: error-rate
          prometheus:
            query: '${ERROR_RATE_QUERY}'
          max: 0.05
${o.extra ?? ''}`;
}

const shadowStage = (duration: string, percent = 100) => `  shadow:
    percent: ${percent}
    duration: ${duration}
    analysis:
      interval: 1s
      failureLimit: 2
      inconclusiveLimit: 8
      metrics:
        - name: error-rate
          prometheus:
            query: '${ERROR_RATE_QUERY}'
          max: 0.05`;

async function flagsConfigMap(s: Scenario): Promise<void> {
  await kubectlOk(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], `apiVersion: v1
kind: ConfigMap
metadata: {name: flags, namespace: ${s.ns}}
data: {listings-v2: "false", unrelated: "kept"}
`);
}

interface Change<T> { at: number; rv: bigint; value: T }

/**
 * WATCHes one object in the API server (as a client would, not by polling) and records each change
 * of `field` with the time it arrived and the object's resourceVersion (an etcd revision: the order
 * in which the writes were committed, across kinds).
 */
function watchField<T>(path: string, name: string, field: (o: Record<string, unknown>) => T): { changes: Array<Change<T>>; stop: () => void } {
  const info = testbed();
  const changes: Array<Change<T>> = [];
  const url = new URL(`${info.apiServerUrl}${path}?watch=1&fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`);
  const req = httpsRequest(url, { ca: readFileSync(info.caCert), headers: { authorization: `Bearer ${info.adminToken}` } }, (res) => {
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      const at = Date.now();
      buf += chunk;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line.trim()) continue;
        const ev = JSON.parse(line) as { type: string; object: Record<string, unknown> & { metadata: { resourceVersion: string } } };
        if (ev.type !== 'ADDED' && ev.type !== 'MODIFIED') continue;
        const value = field(ev.object);
        if (changes.length > 0 && JSON.stringify(changes.at(-1)!.value) === JSON.stringify(value)) continue;
        changes.push({ at, rv: BigInt(ev.object.metadata.resourceVersion), value });
      }
    });
    res.on('error', () => {});
  });
  req.on('error', () => {});
  req.end();
  return { changes, stop: () => req.destroy() };
}

/** Watches what a slice's rollback changes: the route's canary weight, the flag, a worker's spec.replicas. */
function watchRollback(s: Scenario, worker: string) {
  const route = watchField(`/apis/gateway.networking.k8s.io/v1/namespaces/${s.ns}/httproutes`, 'listings', (o) => {
    const refs = ((o.spec as { rules: Array<{ backendRefs?: Array<{ name: string; weight?: number }> }> }).rules[0]?.backendRefs ?? []);
    return refs.find((b) => b.name === s.canary)?.weight ?? 1;
  });
  const flag = watchField(`/api/v1/namespaces/${s.ns}/configmaps`, 'flags', (o) => (o.data as Record<string, string> | undefined)?.['listings-v2']);
  const workers = watchField(`/apis/apps/v1/namespaces/${s.ns}/deployments`, worker, (o) => (o.spec as { replicas?: number }).replicas);
  return {
    route, flag, workers,
    stop() { route.stop(); flag.stop(); workers.stop(); },
    /** The rollback's three writes: the last change of each watch to its rolled-back value. */
    rolledBack(workerReplicas: number) {
      const last = <T>(w: { changes: Array<Change<T>> }, v: T) => w.changes.findLast((c) => c.value === v);
      return { route: last(route, 0), flag: last(flag, 'false'), workers: last(workers, workerReplicas) };
    },
  };
}

/**
 * Route ≤ flag ≤ workers, by commit order (resourceVersion). Arrival times are only reported:
 * watches of different kinds deliver independently, and wall-clock gaps belong in the bench.
 */
function expectRollbackOrder(o: { route?: Change<unknown>; flag?: Change<unknown>; workers?: Change<unknown> }): string {
  const { route, flag, workers } = o;
  expect(route, 'route back at stable (watch)').toBeDefined();
  expect(flag, 'flag back to "false" (watch)').toBeDefined();
  expect(workers, 'workers restored (watch)').toBeDefined();
  const t0 = route!.at;
  const shown = `route +0 ms (rv ${route!.rv}), flag +${flag!.at - t0} ms (rv ${flag!.rv}), workers +${workers!.at - t0} ms (rv ${workers!.rv})`;
  expect(route!.rv < flag!.rv && flag!.rv < workers!.rv, `commit order: ${shown}`).toBe(true);
  return shown;
}

describe('MigrationSlice end to end', () => {
  it('new service failing on mirrored traffic: the slice ends Failed in the shadow stage and user traffic never moved', async () => {
    const s = await scenario({ prefix: 'ms-shadowfail', canary: { errorRate: 0.3 } });
    await flagsConfigMap(s);
    const load = s.startLoad(40);
    const rec = recordWeights(s);
    await rec.ready;
    await kubectlOk(['apply', '--server-side', '-f', '-'], sliceYaml(s, 'listings', { shadow: shadowStage('30s') }));
    await eventually('mirror filter on the route', async () => (await mirrorFilters(s)).length === 1, 30_000);
    const done = await waitSlice(s, 'listings', ['Failed', 'Completed', 'RolledBack']);
    await rec.stop();
    await load.stop();
    expect(done.status?.phase).toBe('Failed');
    expect(done.status?.children?.shadowRun).toMatchObject({ name: 'listings-shadow', phase: 'Failed', verdict: 'Fail' });
    expect(done.status?.children?.trafficShift).toBeUndefined();
    expect(done.status?.history?.map((h) => h.phase)).toEqual(['Pending', 'Shadowing', 'Failed']);
    expect(done.status?.history?.at(-1)?.reason).toBe('ShadowFailed');
    // User traffic never moved: the canary weight stayed 0 the whole time, no TrafficShift exists.
    expect(rec.changes.map((c) => c.weight)).toEqual([0]);
    expect(await exists('trafficshift', s.ns, 'listings-shift')).toBe(false);
    expect(await flagValue(s)).toBe('false');
    const sr = await getJson<{ status?: { results?: Array<{ name: string; primary?: number; shadow?: number; result: string }> } }>(['get', 'shadowrun', 'listings-shadow', '-n', s.ns]);
    const r = sr.status?.results?.[0];
    expect(r?.result).toBe('Fail');
    expect(r?.shadow).toBeGreaterThan(0.05);
    expect(r?.primary).toBeLessThan(0.05);
    await eventually('mirror removed', async () => (await mirrorFilters(s)).length === 0, 10_000);
  });

  it('healthy shadow, then a breach during the shift: RolledBack, flag back to "false", workers restored', async () => {
    const s = await scenario({ prefix: 'ms-breach' });
    await flagsConfigMap(s);
    await applyWorkers(s.ns);
    const load = s.startLoad(40);
    const watch = watchRollback(s, 'score-worker');
    const flags: string[] = [];
    let watching = true;
    const flagWatch = (async () => {
      while (watching) {
        const v = await flagValue(s).catch(() => undefined);
        if (v !== undefined && flags.at(-1) !== v) flags.push(v);
        await sleep(100);
      }
    })();
    await kubectlOk(['apply', '--server-side', '-f', '-'], sliceYaml(s, 'listings', {
      shadow: shadowStage('3s'),
      steps: [[10, '60s'], [50, '60s'], [100, '60s']],
      extra: `  workers:
    - deployment: score-worker
      replicas: 2
      legacy: {deployment: monolith-worker, replicas: 0}`,
    }));
    const shifting = await waitSlice(s, 'listings', ['Shifting', 'Failed', 'RolledBack']);
    expect(shifting.status?.phase).toBe('Shifting');
    await eventually('canary at 10%', async () => (await s.routeWeights())[s.canary] === 10, 60_000);
    expect((await getJson<{ spec: { replicas: number } }>(['get', 'deployment', 'score-worker', '-n', s.ns])).spec.replicas).toBe(2);
    await s.setCanary({ errorRate: 0.3 });
    const done = await waitSlice(s, 'listings', ['RolledBack', 'Completed', 'Failed']);
    await sleep(300);
    watching = false;
    await flagWatch;
    watch.stop();
    await load.stop();
    expect(done.status?.phase).toBe('RolledBack');
    // DESIGN §2: route back at stable first, then the flag off, then the workers restored.
    const order = expectRollbackOrder(watch.rolledBack(0));
    console.log(`ms-breach rollback (metric breach of the child shift): ${order}`);
    expect(done.status?.rollback).toMatchObject({ trigger: 'Metric', routeRestoredAt: expect.any(String), featureFlagRestoredAt: expect.any(String), workersRestoredAt: expect.any(String), completedAt: expect.any(String) });
    expect(done.status?.history?.map((h) => h.phase)).toEqual(['Pending', 'Shadowing', 'Shifting', 'RolledBack']);
    expect(done.status?.history?.at(-1)?.message).toMatch(/error-rate 0\.\d+ > 0\.05/);
    expect(await s.routeWeights()).toEqual({ [s.stable]: 100, [s.canary]: 0 });
    expect(flags).toEqual(['false', 'true', 'false']);
    const cm = await getJson<{ data: Record<string, string> }>(['get', 'configmap', 'flags', '-n', s.ns]);
    expect(cm.data.unrelated).toBe('kept');
    expect((await getJson<{ spec: { replicas: number } }>(['get', 'deployment', 'score-worker', '-n', s.ns])).spec.replicas).toBe(0);
    expect((await getJson<{ spec: { replicas: number } }>(['get', 'deployment', 'monolith-worker', '-n', s.ns])).spec.replicas).toBe(2);
    const ts = await getJson<{ metadata: { ownerReferences: Array<{ kind: string; name: string; controller: boolean }> } }>(['get', 'trafficshift', 'listings-shift', '-n', s.ns]);
    expect(ts.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'MigrationSlice', name: 'listings', controller: true })]);
    const events = await getJson<{ items: Array<{ reason: string; regarding: { name: string } }> }>(['get', 'events.events.k8s.io', '-n', s.ns]);
    const reasons = events.items.filter((e) => e.regarding.name === 'listings').map((e) => e.reason);
    for (const r of ['Shadowing', 'Shifting', 'RolledBack']) expect(reasons).toContain(r);
  });

  it('startWhen holds the slice in Pending until the trigger metric crosses; deleting it mid-shift leaves stable at 100%', async () => {
    const s = await scenario({ prefix: 'ms-trigger' });
    await flagsConfigMap(s);
    const backend = readState(testbed().dir)?.backends.find((b) => b.namespace === s.ns && b.service === s.stable);
    const setGauge = async (value: number) => {
      const r = await fetch(`${backend!.url}/__admin/gauge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'score_batch_duration_seconds', value }) });
      expect(r.ok).toBe(true);
    };
    await setGauge(1200);
    const load = s.startLoad(30);
    await kubectlOk(['apply', '--server-side', '-f', '-'], sliceYaml(s, 'listings', {
      steps: [[10, '120s'], [100, '120s']],
      extra: `  startWhen:
    - name: score-batch-duration
      prometheus:
        query: 'max(score_batch_duration_seconds{namespace="{{namespace}}"})'
      above: 1800`,
    }));
    const waiting = await eventually('slice waiting on its trigger with a value', async () => {
      const o = await slice(s, 'listings');
      return o.status?.triggers?.[0]?.value === 1200 ? o : undefined;
    }, 30_000);
    expect(waiting.status?.phase).toBe('Pending');
    const progressing = waiting.status?.conditions?.find((c) => c.type === 'Progressing');
    expect(progressing?.reason).toBe('WaitingForTrigger');
    expect(progressing?.message).toContain('score-batch-duration is 1200 (needs > 1800)');
    // One more reconcile (the trigger read again): still waiting.
    await reconcileOnceMore(operator, 'migrationslice', MIGRATION_SLICE, s.ns, 'listings');
    expect((await slice(s, 'listings')).status?.phase).toBe('Pending');
    expect((await s.routeWeights())[s.canary]).toBe(0);

    await setGauge(2400);
    const started = await waitSlice(s, 'listings', ['Shifting', 'Stabilizing', 'RolledBack', 'Failed'], 30_000);
    expect(started.status?.phase).toBe('Shifting');
    await eventually('canary at 10%', async () => (await s.routeWeights())[s.canary] === 10, 30_000);
    expect(await flagValue(s)).toBe('true');

    await kubectlOk(['delete', 'migrationslice', 'listings', '-n', s.ns, '--wait=true', '--timeout=30s']);
    await load.stop();
    expect(await s.routeWeights()).toEqual({ [s.stable]: 100, [s.canary]: 0 });
    expect(await flagValue(s)).toBe('false');
    await eventually('children garbage-collected', async () => !(await exists('trafficshift', s.ns, 'listings-shift')), 30_000);
  });

  it('its TrafficShift deleted mid-shift: the slice sets the route back, the flag off and the workers back from its own copy of their records', async () => {
    const s = await scenario({ prefix: 'ms-childdel' });
    await flagsConfigMap(s);
    await applyWorkers(s.ns);
    const replicas = async (d: string) => (await getJson<{ spec: { replicas: number } }>(['get', 'deployment', d, '-n', s.ns])).spec.replicas;
    await kubectlOk(['apply', '--server-side', '-f', '-'], sliceYaml(s, 'listings', {
      steps: [[10, '120s'], [100, '120s']],
      extra: `  workers:
    - deployment: score-worker
      replicas: 2`,
    }));
    await eventually('canary at 10%, worker scaled', async () => (await s.routeWeights())[s.canary] === 10 && await replicas('score-worker') === 2, 60_000);
    const copied = await eventually('worker records copied into the slice', async () => (await slice(s, 'listings')).status?.children?.trafficShift?.workers, 10_000);
    expect(copied).toEqual([{ deployment: 'score-worker', previousReplicas: 0 }]);
    const watch = watchRollback(s, 'score-worker');
    await kubectlOk(['delete', 'trafficshift', 'listings-shift', '-n', s.ns, '--wait=true', '--timeout=30s']);
    const done = await waitSlice(s, 'listings', ['RolledBack', 'Failed', 'Completed'], 30_000);
    await eventually('worker back to 0', async () => await replicas('score-worker') === 0, 10_000);
    await sleep(300);
    watch.stop();
    expect(done.status?.phase).toBe('RolledBack');
    expect(done.status?.history?.at(-1)?.reason).toBe('ChildDeleted');
    expect(done.status?.rollback).toMatchObject({ routeRestoredAt: expect.any(String), featureFlagRestoredAt: expect.any(String), workersRestoredAt: expect.any(String), completedAt: expect.any(String) });
    expect(await s.routeWeights()).toEqual({ [s.stable]: 100, [s.canary]: 0 });
    expect(await flagValue(s)).toBe('false');
    console.log(`ms-childdel rollback (TrafficShift deleted): ${expectRollbackOrder(watch.rolledBack(0))}`);
  });

  it('deleting a slice while it shadows removes the mirror filter', async () => {
    const s = await scenario({ prefix: 'ms-delshadow' });
    await flagsConfigMap(s);
    await kubectlOk(['apply', '--server-side', '-f', '-'], sliceYaml(s, 'listings', { shadow: shadowStage('120s', 50) }));
    await waitSlice(s, 'listings', ['Shadowing']);
    await eventually('mirror filter on the route', async () => (await mirrorFilters(s)).length === 1, 30_000);
    await kubectlOk(['delete', 'migrationslice', 'listings', '-n', s.ns, '--wait=true', '--timeout=30s']);
    expect(await mirrorFilters(s)).toEqual([]);
    expect(await s.routeWeights()).toEqual({ [s.stable]: 100, [s.canary]: 0 });
    await eventually('ShadowRun gone', async () => !(await exists('shadowrun', s.ns, 'listings-shadow')), 30_000);
  });

  it('an Alertmanager alert matching spec.shift.rollback.alerts rolls the slice back at once', async () => {
    const s = await scenario({ prefix: 'ms-alert' });
    await flagsConfigMap(s);
    await applyWorkers(s.ns);
    const load = s.startLoad(30);
    const watch = watchRollback(s, 'score-worker');
    await kubectlOk(['apply', '--server-side', '-f', '-'], sliceYaml(s, 'listings', {
      steps: [[10, '120s'], [100, '120s']],
      shiftExtra: `    rollback:
      alerts:
        - matchLabels: {service: ${s.canary}, namespace: ${s.ns}}`,
      extra: `  workers:
    - deployment: score-worker
      replicas: 2`,
    }));
    await eventually('canary at 10%', async () => (await s.routeWeights())[s.canary] === 10, 60_000);
    const res = await fetch(`${operator.url}/hooks/alertmanager`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ version: '4', status: 'firing', alerts: [{ status: 'firing', labels: { alertname: 'ListingsErrors', service: s.canary, namespace: s.ns }, fingerprint: `fp-${s.ns}`, startsAt: new Date().toISOString() }] }),
    });
    expect(res.status).toBe(200);
    const body = await res.json() as { rolledBack: string[] };
    expect(body.rolledBack).toContain(`${s.ns}/listings`);
    // The route is back at stable when the hook answers.
    expect(await s.routeWeights()).toEqual({ [s.stable]: 100, [s.canary]: 0 });
    const done = await waitSlice(s, 'listings', ['RolledBack']);
    await sleep(300);
    watch.stop();
    await load.stop();
    expect(done.status?.history?.at(-1)?.reason).toBe('AlertFired');
    expect(await flagValue(s)).toBe('false');
    // The same order when the alert (matching both the slice and its shift) triggers it.
    const order = expectRollbackOrder(watch.rolledBack(0));
    console.log(`ms-alert rollback (alert through the hook): ${order}`);
    expect(done.status?.rollback).toMatchObject({ trigger: 'Alert', featureFlagRestoredAt: expect.any(String), workersRestoredAt: expect.any(String) });
    expect((await getJson<{ spec: { replicas: number } }>(['get', 'deployment', 'score-worker', '-n', s.ns])).spec.replicas).toBe(0);
  });
});

async function applyWorkers(ns: string): Promise<void> {
  const dep = (name: string, replicas: number) => `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${ns}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers: [{name: worker, image: example.invalid/${name}:1}]
`;
  await kubectlOk(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], dep('score-worker', 0) + dep('monolith-worker', 2));
  await eventually('monolith-worker Ready', async () => {
    const d = await getJson<{ status?: { readyReplicas?: number } }>(['get', 'deployment', 'monolith-worker', '-n', ns]);
    return d.status?.readyReplicas === 2;
  }, 60_000);
}
