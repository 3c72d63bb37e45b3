// MigrationSlice feature flags where teams keep them (issue 15), end to end: the operator as a
// separate process, the real API server, the gateway splitting real requests, Prometheus judging them.
// - a ConfigMap flag that follows the steps (Percentage) and is restored to its earlier value on rollback;
// - an OpenFeature FeatureFlag (the real CRD, generated from the OpenFeature Operator's Go module) whose
//   fractional split follows the steps, evaluated as flagd evaluates it, and restored on rollback;
// - a service's own admin endpoint (a recording HTTP server on 127.0.0.1: the app's endpoint), called
//   with the bearer token from a Secret, retried on 503; and one that always fails: the slice stalls
//   before any work moves (no TrafficShift, the route and the workers untouched);
// - a flag another slice drives: refused, naming that slice.
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, getJson, kubectl, kubectlOk, sleep, testbed, uniqueName } from '../helpers/cluster.ts';
import { ensureFeatureFlagCrd, shareOn } from '../helpers/openfeature.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { createScenario, ERROR_RATE_QUERY, type Scenario } from '../helpers/scenario.ts';

let operator: OperatorProcess;
const scenarios: Scenario[] = [];
const NS: Record<string, string> = Object.fromEntries(['ff-pct', 'ff-of', 'ff-ofonoff', 'ff-http', 'ff-httpfail', 'ff-conflict'].map((p) => [p, uniqueName(p)]));

beforeAll(async () => {
  await ensureFeatureFlagCrd();
  operator = await startOperator(testbed(), { name: 'flags', namespaces: Object.values(NS) });
}, 600_000);

afterAll(async () => {
  for (const s of scenarios) await kubectl(['delete', 'migrationslices', '--all', '-n', s.ns, '--wait=true', '--timeout=30s']);
  await operator?.stop();
  for (const s of scenarios) await s.cleanup();
});

async function scenario(prefix: string): Promise<Scenario> {
  const s = await createScenario({ prefix, ns: NS[prefix] });
  scenarios.push(s);
  return s;
}

interface SliceObject {
  status?: {
    phase?: string; message?: string;
    featureFlag?: { enabled: boolean; value?: string; previousValue?: string; answer?: { status: number; body?: string; attempts: number }; error?: string };
    rollback?: { routeRestoredAt?: string; featureFlagRestoredAt?: string };
    children?: { trafficShift?: { name: string } };
    conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
  };
}

const slice = (s: Scenario, name: string) => getJson<SliceObject>(['get', 'migrationslice', name, '-n', s.ns]);

async function waitSlice(s: Scenario, name: string, phases: string[], timeoutMs = 120_000): Promise<SliceObject> {
  return eventually(`MigrationSlice ${s.ns}/${name} phase in ${phases.join('|')}`, async () => {
    const o = await slice(s, name);
    return phases.includes(o.status?.phase ?? '') ? o : undefined;
  }, timeoutMs, 250);
}

function sliceYaml(s: Scenario, name: string, flag: string, steps: Array<[number, string]>, extra = ''): string {
  return `apiVersion: cutover.dev/v1alpha1
kind: MigrationSlice
metadata: {name: ${name}, namespace: ${s.ns}}
spec:
  owner: team-score
  rollbackPlan: flip the flag back; the route goes back to the monolith at 100%
  legacy: {service: ${s.stable}, port: 8080}
  target: {service: ${s.canary}, port: 8080}
  route:
    httpRoute: {name: listings}
  featureFlag:
${flag}
  shift:
    steps:
${steps.map(([w, p]) => `      - {weight: ${w}, pause: ${p}}`).join('\n')}
    analysis:
      interval: 1s
      failureLimit: 2
      inconclusiveLimit: 8
      metrics:
        - name: error-rate
          prometheus:
            query: '${ERROR_RATE_QUERY}'
          max: 0.05
${extra}`;
}

/** Polls `read` every 100 ms and keeps each distinct value in order, until stop(). */
function recordValues<T>(read: () => Promise<T | undefined>): { values: T[]; stop: () => Promise<void> } {
  const values: T[] = [];
  let on = true;
  const done = (async () => {
    while (on) {
      const v = await read().catch(() => undefined);
      if (v !== undefined && JSON.stringify(values.at(-1)) !== JSON.stringify(v)) values.push(v);
      await sleep(100);
    }
  })();
  return { values, stop: async () => { on = false; await done; } };
}

/**
 * WATCHes one field of one object through kubectl (`get -w`), as a client would: every write the API
 * server commits arrives, however short-lived; consecutive equal values are kept once.
 */
function watchField(kind: string, name: string, ns: string, jsonpath: string): { values: string[]; stop: () => void } {
  const info = testbed();
  const values: string[] = [];
  const child = spawn('kubectl', ['--kubeconfig', info.kubeconfig, 'get', kind, name, '-n', ns, '--watch', '-o', `jsonpath=${jsonpath}{"\\n"}`], {
    env: { ...process.env, PATH: `${info.binDir}:${process.env.PATH ?? ''}` }, stdio: ['ignore', 'pipe', 'ignore'],
  });
  let buf = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (values.at(-1) !== line) values.push(line);
    }
  });
  return { values, stop: () => { child.kill(); } };
}

/** Waits until the slice is Shifting, failing with its Stalled condition if it stalls instead. */
async function startedOrStalled(s: Scenario, name: string): Promise<void> {
  const o = await eventually(`MigrationSlice ${s.ns}/${name} Shifting or Stalled`, async () => {
    const x = await slice(s, name);
    return x.status?.phase === 'Shifting' || x.status?.conditions?.some((c) => c.type === 'Stalled' && c.status === 'True') ? x : undefined;
  }, 60_000);
  expect(o.status?.conditions?.find((c) => c.type === 'Stalled' && c.status === 'True')).toBeUndefined();
}

async function canaryWeight(s: Scenario): Promise<number> {
  return (await s.routeWeights())[s.canary] ?? 0;
}

describe('a ConfigMap flag that follows the steps (mode Percentage)', () => {
  it('takes the weight of each step, then goes back to the value it had before on rollback', async () => {
    const s = await scenario('ff-pct');
    await kubectlOk(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], `apiVersion: v1
kind: ConfigMap
metadata: {name: consumers, namespace: ${s.ns}}
data: {score-worker-share: "5", unrelated: "kept"}
`);
    const load = s.startLoad(40);
    const flag = watchField('configmap', 'consumers', s.ns, '{.data.score-worker-share}');
    await kubectlOk(['apply', '--server-side', '-f', '-'], sliceYaml(s, 'score', '    configMap: consumers\n    key: score-worker-share\n    mode: Percentage', [[10, '4s'], [50, '60s'], [100, '60s']]));
    // At 50% the flag says 50 and the route too; then the new side fails and the slice rolls back.
    await eventually('flag and route at 50', async () => (await canaryWeight(s)) === 50 && flag.values.at(-1) === '50', 90_000);
    await s.setCanary({ errorRate: 0.3 });
    const done = await waitSlice(s, 'score', ['RolledBack', 'Completed', 'Failed']);
    await sleep(300);
    flag.stop();
    await load.stop();
    expect(done.status?.phase).toBe('RolledBack');
    expect(flag.values).toEqual(['5', '0', '10', '50', '5']);
    expect(done.status?.featureFlag).toMatchObject({ enabled: false, value: '5', previousValue: '5' });
    expect(done.status?.rollback).toMatchObject({ routeRestoredAt: expect.any(String), featureFlagRestoredAt: expect.any(String) });
    // Route first, then the flag (the slice's stamps are whole seconds, the shift's have milliseconds).
    expect(Math.floor(Date.parse(done.status!.rollback!.routeRestoredAt!) / 1000) * 1000).toBeLessThanOrEqual(Date.parse(done.status!.rollback!.featureFlagRestoredAt!));
    expect(await s.routeWeights()).toEqual({ [s.stable]: 100, [s.canary]: 0 });
    const cm = await getJson<{ data: Record<string, string> }>(['get', 'configmap', 'consumers', '-n', s.ns]);
    expect(cm.data.unrelated).toBe('kept');
  });
});

interface FeatureFlagObject { spec: { flagSpec: { flags: Record<string, { defaultVariant: string; targeting?: unknown; state: string }> } } }

describe('an OpenFeature FeatureFlag, evaluated as flagd evaluates it', () => {
  it('follows the steps by a fractional split, then the defaultVariant and targeting it had are restored on rollback', async () => {
    const s = await scenario('ff-of');
    await kubectlOk(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], `apiVersion: core.openfeature.dev/v1beta1
kind: FeatureFlag
metadata: {name: score-routing, namespace: ${s.ns}}
spec:
  flagSpec:
    flags:
      score-events-to-worker:
        state: ENABLED
        variants: {"on": true, "off": false}   # quoted: YAML 1.1 reads a bare on/off key as a boolean
        defaultVariant: "off"
      unrelated:
        state: ENABLED
        variants: {a: "a", b: "b"}
        defaultVariant: "a"
`);
    const ff = () => getJson<FeatureFlagObject>(['get', 'featureflag', 'score-routing', '-n', s.ns]);
    // What an application asking flagd would get: the share of users for whom the flag is on.
    const shares = recordValues(async () => Math.round(shareOn((await ff()).spec.flagSpec, 'score-events-to-worker') / 5) * 5);
    const load = s.startLoad(40);
    await kubectlOk(['apply', '--server-side', '-f', '-'], sliceYaml(s, 'score', '    openFeature: {name: score-routing, flag: score-events-to-worker}\n    mode: Percentage', [[10, '4s'], [50, '60s'], [100, '60s']]));
    await startedOrStalled(s, 'score');
    await eventually('route at 50', async () => (await canaryWeight(s)) === 50, 90_000);
    const at50 = await eventually('fractional at 50', async () => {
      const f = await ff();
      return JSON.stringify(f.spec.flagSpec.flags['score-events-to-worker']?.targeting) === JSON.stringify({ fractional: [['on', 50], ['off', 50]] }) ? f : undefined;
    }, 30_000);
    const share50 = shareOn(at50.spec.flagSpec, 'score-events-to-worker');
    expect(Math.abs(share50 - 50)).toBeLessThanOrEqual(5);
    await s.setCanary({ errorRate: 0.3 });
    const done = await waitSlice(s, 'score', ['RolledBack', 'Completed', 'Failed']);
    await sleep(300);
    await shares.stop();
    await load.stop();
    expect(done.status?.phase).toBe('RolledBack');
    expect(shares.values).toEqual([0, 10, 50, 0]);
    const after = await ff();
    expect(after.spec.flagSpec.flags['score-events-to-worker']).toEqual({ state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off' });
    expect(after.spec.flagSpec.flags.unrelated).toMatchObject({ defaultVariant: 'a' });
    expect(JSON.parse(done.status!.featureFlag!.previousValue!)).toEqual({ defaultVariant: 'off' });
  });
});

describe('an OpenFeature FeatureFlag, OnOff', () => {
  it('sets the defaultVariant (its targeting removed) before the shift; a completed slice leaves it on', async () => {
    const s = await scenario('ff-ofonoff');
    await kubectlOk(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], `apiVersion: core.openfeature.dev/v1beta1
kind: FeatureFlag
metadata: {name: score-routing, namespace: ${s.ns}}
spec:
  flagSpec:
    flags:
      v2-enabled:
        state: ENABLED
        variants: {"yes": true, "no": false}
        defaultVariant: "no"
        targeting: {"if": [{"===": [{"var": "targetingKey"}, "user-1"]}, "yes", null]}
`);
    const ff = () => getJson<FeatureFlagObject>(['get', 'featureflag', 'score-routing', '-n', s.ns]);
    expect(shareOn((await ff()).spec.flagSpec, 'v2-enabled', 100)).toBe(1);
    const load = s.startLoad(40);
    await kubectlOk(['apply', '--server-side', '-f', '-'], sliceYaml(s, 'score', '    openFeature: {name: score-routing, flag: v2-enabled, onVariant: "yes", offVariant: "no"}', [[50, '2s'], [100, '2s']]));
    const done = await waitSlice(s, 'score', ['Completed', 'RolledBack', 'Failed']);
    await load.stop();
    expect(done.status?.phase).toBe('Completed');
    const after = await ff();
    expect(after.spec.flagSpec.flags['v2-enabled']).toEqual({ state: 'ENABLED', variants: { yes: true, no: false }, defaultVariant: 'yes' });
    expect(shareOn(after.spec.flagSpec, 'v2-enabled')).toBe(100);
    expect(JSON.parse(done.status!.featureFlag!.previousValue!)).toEqual({ defaultVariant: 'no', targeting: { if: [{ '===': [{ var: 'targetingKey' }, 'user-1'] }, 'yes', null] } });
    expect(done.status?.featureFlag).toMatchObject({ enabled: true, value: 'true' });
  });
});

interface Recorded { method: string; url: string; auth: string | undefined; body: string; answered: number }

/** The application's admin endpoint: records every request; `answer` picks the status code. */
async function flagEndpoint(token: string, answer: (n: number) => number): Promise<{ url: string; requests: Recorded[]; server: Server }> {
  const requests: Recorded[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => { body += c; });
    req.on('end', () => {
      const authorized = req.headers.authorization === `Bearer ${token}`;
      const status = authorized ? answer(requests.length) : 401;
      requests.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization, body, answered: status });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status === 200 ? JSON.stringify({ ok: true, flag: (JSON.parse(body) as { flag?: string }).flag }) : JSON.stringify({ error: status === 401 ? 'unauthorized' : 'flag store unavailable' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/flags`, requests, server };
}

const httpFlag = (url: string) => `    http:
      url: ${url}
      tokenSecretRef: {name: score-admin, key: token}
      body: '{"flag":"v2_enabled","enabled":{{value}}}'
      retries: 3`;

async function tokenSecret(ns: string, token: string): Promise<void> {
  await kubectlOk(['create', 'secret', 'generic', 'score-admin', '-n', ns, `--from-literal=token=${token}`]);
}

describe("a service's own admin endpoint", () => {
  const servers: Server[] = [];
  afterAll(() => { for (const s of servers) s.close(); });

  it('is called with the bearer token from the Secret, retried after a 503, and its answer recorded; on at step 1, back off on rollback', async () => {
    const s = await scenario('ff-http');
    const token = 'admin-token-0123456789';
    await tokenSecret(s.ns, token);
    // The first request gets 503 (the app's flag store is restarting); the retry gets 200.
    const ep = await flagEndpoint(token, (n) => (n === 0 ? 503 : 200));
    servers.push(ep.server);
    const load = s.startLoad(40);
    await kubectlOk(['apply', '--server-side', '-f', '-'], sliceYaml(s, 'score', `${httpFlag(ep.url)}\n    onAtStep: 1`, [[10, '4s'], [50, '60s'], [100, '60s']]));
    await eventually('route at 50 and the flag on', async () => (await canaryWeight(s)) === 50 && ep.requests.some((r) => r.body.includes('"enabled":true')), 90_000);
    const on = await slice(s, 'score');
    expect(on.status?.featureFlag).toMatchObject({ enabled: true, value: 'true', answer: { status: 200, attempts: 1 } });
    await s.setCanary({ errorRate: 0.3 });
    const done = await waitSlice(s, 'score', ['RolledBack', 'Completed', 'Failed']);
    await load.stop();
    expect(done.status?.phase).toBe('RolledBack');
    // Start: off (before any work moved; 503 then 200), on at step 1, off again on rollback.
    expect(ep.requests.map((r) => `${r.answered} ${r.body}`)).toEqual([
      '503 {"flag":"v2_enabled","enabled":false}',
      '200 {"flag":"v2_enabled","enabled":false}',
      '200 {"flag":"v2_enabled","enabled":true}',
      '200 {"flag":"v2_enabled","enabled":false}',
    ]);
    for (const r of ep.requests) expect(r).toMatchObject({ method: 'POST', url: '/admin/flags', auth: `Bearer ${token}` });
    expect(done.status?.featureFlag).toMatchObject({ enabled: false, value: 'false', answer: { status: 200, attempts: 1 } });
    // The token is never shown.
    expect(JSON.stringify(done)).not.toContain(token);
  });

  it('that always fails: the slice stalls before any work moves, naming the field; no TrafficShift, route and workers untouched', async () => {
    const s = await scenario('ff-httpfail');
    const token = 'admin-token-abcdef';
    await tokenSecret(s.ns, token);
    const ep = await flagEndpoint(token, () => 500);
    servers.push(ep.server);
    await kubectlOk(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], `apiVersion: apps/v1
kind: Deployment
metadata: {name: score-worker, namespace: ${s.ns}}
spec:
  replicas: 0
  selector: {matchLabels: {app: score-worker}}
  template:
    metadata: {labels: {app: score-worker}}
    spec:
      containers: [{name: worker, image: example.invalid/score-worker:1}]
`);
    await kubectlOk(['apply', '--server-side', '-f', '-'], sliceYaml(s, 'score', httpFlag(ep.url), [[10, '4s'], [100, '4s']], `  workers:
    - deployment: score-worker
      replicas: 2`));
    const stalled = await eventually('Stalled naming the field', async () => {
      const o = await slice(s, 'score');
      const c = o.status?.conditions?.find((x) => x.type === 'Stalled' && x.status === 'True');
      return c ? { o, c } : undefined;
    }, 60_000);
    expect(stalled.c.reason).toBe('FlagNotSet');
    expect(stalled.c.message).toMatch(/^spec\.featureFlag\.http: POST http:\/\/127\.0\.0\.1:\d+\/admin\/flags answered HTTP 500 \(4 attempts\)/);
    expect(stalled.o.status?.phase).toBe('Pending');
    expect(stalled.o.status?.featureFlag).toMatchObject({ enabled: false, answer: { status: 500, attempts: 4 } });
    expect(stalled.o.status?.children?.trafficShift).toBeUndefined();
    // Retried (every few seconds), and still nothing moved.
    await eventually('a later retry', async () => ep.requests.length >= 8, 30_000);
    expect((await kubectl(['get', 'trafficshift', 'score-shift', '-n', s.ns])).code).not.toBe(0);
    expect(await s.routeWeights()).toEqual({ [s.stable]: 100, [s.canary]: 0 });
    expect((await getJson<{ spec: { replicas: number } }>(['get', 'deployment', 'score-worker', '-n', s.ns])).spec.replicas).toBe(0);
    expect(ep.requests.every((r) => r.body === '{"flag":"v2_enabled","enabled":true}' && r.auth === `Bearer ${token}`)).toBe(true);
    const events = await getJson<{ items: Array<{ reason: string; regarding: { name: string } }> }>(['get', 'events.events.k8s.io', '-n', s.ns]);
    expect(events.items.filter((e) => e.regarding.name === 'score').map((e) => e.reason)).toContain('FlagNotSet');
  });
});

describe('a flag another slice drives', () => {
  it('is refused: Stalled, naming the slice that drives it; nothing created for the second slice', async () => {
    const s = await scenario('ff-conflict');
    await kubectlOk(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], `apiVersion: v1
kind: ConfigMap
metadata: {name: flags, namespace: ${s.ns}}
data: {score-v2: "false"}
`);
    const flag = '    configMap: flags\n    key: score-v2';
    await kubectlOk(['apply', '--server-side', '-f', '-'], sliceYaml(s, 'first', flag, [[10, '300s'], [100, '300s']]));
    await waitSlice(s, 'first', ['Shifting']);
    await kubectlOk(['apply', '--server-side', '-f', '-'], sliceYaml(s, 'second', flag, [[10, '300s'], [100, '300s']]));
    const c = await eventually('second Stalled', async () => (await slice(s, 'second')).status?.conditions?.find((x) => x.type === 'Stalled' && x.status === 'True'), 30_000);
    expect(c.reason).toBe('FlagConflict');
    expect(c.message).toBe('spec.featureFlag: ConfigMap flags key score-v2 is driven by MigrationSlice first; this slice starts when that one has completed, rolled back or been deleted');
    const second = await slice(s, 'second');
    expect(second.status?.phase).toBe('Pending');
    expect(second.status?.featureFlag).toBeUndefined();
    expect((await kubectl(['get', 'trafficshift', 'second-shift', '-n', s.ns])).code).not.toBe(0);
    // The first one keeps it: on, as it set it.
    expect((await getJson<{ data: Record<string, string> }>(['get', 'configmap', 'flags', '-n', s.ns])).data['score-v2']).toBe('true');
    // Once the first one is gone (its flag restored), the second one starts.
    await kubectlOk(['delete', 'migrationslice', 'first', '-n', s.ns, '--wait=true', '--timeout=60s']);
    const started = await waitSlice(s, 'second', ['Shifting'], 60_000);
    expect(started.status?.conditions?.find((x) => x.type === 'Stalled')).toBeUndefined();
    expect(started.status?.featureFlag).toMatchObject({ enabled: true, value: 'true', previousValue: 'false' });
  });
});
