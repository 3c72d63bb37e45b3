// A rollback that was answered 2xx is never lost, and no controller waits on another in memory:
//   - the Alertmanager hook answers 202 (the rollback could not finish within its deadline) and the
//     operator is SIGKILLed: the restarted operator completes the rollback;
//   - the same with leader election: the leader answers 202 and is SIGKILLed; the standby completes it;
//   - a MigrationSlice being rolled back while its TrafficShift cannot write the route: SIGTERM on the
//     leader exits well within the chart's terminationGracePeriodSeconds (30 s), and the standby
//     finishes the rollback.
// The rollback is held up for real: a ValidatingAdmissionPolicy (the API server's own admission)
// refuses every update of the namespace's HTTPRoutes until the test lifts it.
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, getJson, kubectl, kubectlOk, testbed, uniqueName } from '../helpers/cluster.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { createScenario, type Scenario, type ShiftObject } from '../helpers/scenario.ts';
import { freezeRoutes, type RouteFreeze } from '../helpers/admission.ts';
import { reconcileCount } from '../helpers/watch.ts';
import { isAlive } from '../testbed/procs.ts';

const TOKEN = 'durable-rollback-token-0123456789';
const GRACE_MS = 30_000; // charts/cutover values: terminationGracePeriodSeconds
const scenarios: Scenario[] = [];
const operators: OperatorProcess[] = [];
const freezes: RouteFreeze[] = [];

afterAll(async () => {
  for (const op of operators) await op.stop();
  for (const f of freezes) await f.remove();
  for (const s of scenarios) await s.cleanup();
});

function operator(name: string, namespaces: string[], extraArgs: string[] = []): Promise<OperatorProcess> {
  return startOperator(testbed(), { name, namespaces, extraArgs, env: { CUTOVER_ALERTMANAGER_TOKEN: TOKEN, POD_NAME: name } }).then((op) => { operators.push(op); return op; });
}

function leaderArgs(leaseNs: string, id: string): string[] {
  return ['--leader-elect=true', `--leader-election-namespace=${leaseNs}`, `--leader-election-id=${id}`,
    '--leader-election-lease-duration=6s', '--leader-election-renew-deadline=4s', '--leader-election-retry-period=500ms'];
}

async function leaseHolder(ns: string, id: string): Promise<string | undefined> {
  const r = await kubectl(['get', 'lease', id, '-n', ns, '-o', 'jsonpath={.spec.holderIdentity}']);
  return r.code === 0 && r.stdout ? r.stdout : undefined;
}

function alert(op: OperatorProcess, service: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const payload = {
    version: '4', status: 'firing', receiver: 'cutover', groupKey: '{}', groupLabels: {}, commonLabels: {}, commonAnnotations: {}, externalURL: '',
    alerts: [{ status: 'firing', labels: { alertname: 'NewBackendErrors', service }, annotations: {}, startsAt: new Date().toISOString(), endsAt: '0001-01-01T00:00:00Z', fingerprint: uniqueName('fp') }],
  };
  return fetch(`${op.url}/hooks/alertmanager`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(payload) })
    .then(async (r) => ({ status: r.status, body: await r.json() as Record<string, unknown> }));
}

function shiftYaml(s: Scenario, name: string): string {
  return `apiVersion: cutover.dev/v1alpha1
kind: TrafficShift
metadata: {name: ${name}, namespace: ${s.ns}}
spec:
  route: {httpRoute: {name: listings}}
  stable: {service: ${s.stable}, port: 8080}
  canary: {service: ${s.canary}, port: 8080}
  steps:
    - {weight: 50, pause: 10m}
    - {weight: 100, pause: 10m}
  rollback:
    alerts:
      - matchLabels: {service: ${s.canary}}
`;
}

async function progressingAt50(s: Scenario, name: string): Promise<void> {
  await eventually(`${name} Progressing at 50%`, async () => (await s.shift(name)).status?.currentWeight === 50 && (await s.routeWeights())[s.canary] === 50, 60_000);
}

async function rolledBack(s: Scenario, name: string, trigger: string): Promise<ShiftObject> {
  const ts = await eventually(`${name} RolledBack`, async () => { const t = await s.shift(name); return t.status?.phase === 'RolledBack' ? t : undefined; }, 60_000);
  expect(ts.status?.rollback?.trigger).toBe(trigger);
  expect(await s.routeWeights()).toEqual({ [s.stable]: 100, [s.canary]: 0 });
  return ts;
}

/** The request the hook recorded on the object before its 202. */
async function recordedRequest(kind: string, ns: string, name: string): Promise<{ id: string; trigger: string; reason: string } | undefined> {
  const o = await getJson<{ metadata: { annotations?: Record<string, string> } }>(['get', kind, name, '-n', ns]);
  const raw = o.metadata.annotations?.['cutover.dev/rollback-request'];
  return raw ? JSON.parse(raw) as { id: string; trigger: string; reason: string } : undefined;
}

describe('an acknowledged rollback survives the operator', () => {
  it('202 from the Alertmanager hook, then SIGKILL: the restarted operator completes the rollback', async () => {
    const s = await createScenario({ prefix: 'durable-kill' });
    scenarios.push(s);
    const op = await operator('durable-kill', [s.ns]);
    await kubectlOk(['apply', '-f', '-'], shiftYaml(s, 'listings'));
    await progressingAt50(s, 'listings');

    const freeze = await freezeRoutes(s.ns);
    freezes.push(freeze);
    const answer = await alert(op, s.canary);
    expect(answer).toEqual({ status: 202, body: { rolledBack: [], pending: [`${s.ns}/listings`] } });
    // 202 means recorded on the object, where every operator process can read it.
    expect(await recordedRequest('trafficshift', s.ns, 'listings')).toMatchObject({ trigger: 'Alert', reason: 'alert NewBackendErrors firing' });
    await op.kill9();
    expect((await s.shift('listings')).status?.phase).toBe('Progressing');
    expect((await s.routeWeights())[s.canary]).toBe(50);

    await freeze.lift();
    await op.restart();
    const ts = await rolledBack(s, 'listings', 'Alert');
    expect(ts.status?.rollback?.reason).toBe('alert NewBackendErrors firing');
  });

  it('202 from the leader, then SIGKILL on it: the standby completes the rollback', async () => {
    const s = await createScenario({ prefix: 'durable-failover' });
    scenarios.push(s);
    const lease = uniqueName('durable-leader');
    const a = await operator('durable-a', [s.ns], leaderArgs(s.ns, lease));
    await eventually('durable-a holds the Lease', async () => (await leaseHolder(s.ns, lease)) === 'durable-a', 30_000);
    const b = await operator('durable-b', [s.ns], leaderArgs(s.ns, lease));
    await kubectlOk(['apply', '-f', '-'], shiftYaml(s, 'listings'));
    await progressingAt50(s, 'listings');

    const freeze = await freezeRoutes(s.ns);
    freezes.push(freeze);
    expect((await alert(b, s.canary)).status).toBe(503); // the standby: Alertmanager retries elsewhere
    const answer = await alert(a, s.canary);
    expect(answer.status).toBe(202);
    await a.kill9();
    await freeze.lift();
    await eventually('durable-b holds the Lease', async () => (await leaseHolder(s.ns, lease)) === 'durable-b', 30_000);
    await rolledBack(s, 'listings', 'Alert');
  });
});

describe('a MigrationSlice never awaits its TrafficShift in memory', () => {
  it('SIGTERM during a slice rollback: the leader exits within the grace period; the standby finishes the rollback', async () => {
    const s = await createScenario({ prefix: 'durable-slice' });
    scenarios.push(s);
    const lease = uniqueName('durable-slice-leader');
    const a = await operator('durable-slice-a', [s.ns], leaderArgs(s.ns, lease));
    await eventually('durable-slice-a holds the Lease', async () => (await leaseHolder(s.ns, lease)) === 'durable-slice-a', 30_000);
    await operator('durable-slice-b', [s.ns], leaderArgs(s.ns, lease));
    await kubectlOk(['apply', '-f', '-'], `apiVersion: cutover.dev/v1alpha1
kind: MigrationSlice
metadata: {name: listings, namespace: ${s.ns}}
spec:
  owner: team-listings
  rollbackPlan: the route goes back to the monolith at 100%
  legacy: {service: ${s.stable}, port: 8080}
  target: {service: ${s.canary}, port: 8080}
  route: {httpRoute: {name: listings}}
  shift:
    steps:
      - {weight: 50, pause: 10m}
      - {weight: 100, pause: 10m}
`);
    await progressingAt50(s, 'listings-shift');

    const freeze = await freezeRoutes(s.ns);
    freezes.push(freeze);
    await kubectlOk(['annotate', 'migrationslice', 'listings', '-n', s.ns, 'cutover.dev/abort=abort-1', '--overwrite']);
    // The slice asks its TrafficShift through the API; the shift cannot write the route yet.
    await eventually('the slice asked its TrafficShift to roll back', async () => (await recordedRequest('trafficshift', s.ns, 'listings-shift'))?.trigger === 'Manual', 30_000);
    // A few reconciles of both kinds on the leader while the route refuses them.
    const before = { shift: await reconcileCount(a, 'trafficshift'), slice: await reconcileCount(a, 'migrationslice') };
    await eventually('two more reconciles of each kind on durable-slice-a', async () => (await reconcileCount(a, 'trafficshift')) >= before.shift + 2 && (await reconcileCount(a, 'migrationslice')) >= before.slice + 2, 30_000, 50);

    const termAt = Date.now();
    process.kill(a.pid, 'SIGTERM');
    await eventually(`durable-slice-a exits on SIGTERM within ${GRACE_MS / 1000} s`, async () => !isAlive(a.pid), GRACE_MS, 100);
    const exitedAfterMs = Date.now() - termAt;
    console.log(`leader exited ${exitedAfterMs} ms after SIGTERM during a slice rollback`);

    await freeze.lift();
    await eventually('durable-slice-b holds the Lease', async () => (await leaseHolder(s.ns, lease)) === 'durable-slice-b', 30_000);
    const slice = await eventually('the slice RolledBack', async () => {
      const o = await getJson<{ status?: { phase?: string; rollback?: { trigger?: string; routeRestoredAt?: string } } }>(['get', 'migrationslice', 'listings', '-n', s.ns]);
      return o.status?.phase === 'RolledBack' ? o : undefined;
    }, 60_000);
    expect(slice.status?.rollback).toMatchObject({ trigger: 'Manual', routeRestoredAt: expect.any(String) });
    expect((await s.shift('listings-shift')).status?.phase).toBe('RolledBack');
    expect(await s.routeWeights()).toEqual({ [s.stable]: 100, [s.canary]: 0 });
  });
});
