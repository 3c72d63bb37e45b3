// What a user sees when a reconcile fails (README "Troubleshooting"): the operator as a separate
// process against the real API server, whose RBAC authoriser refuses a worker scale and whose
// ValidatingAdmissionPolicy refuses a route write. Each failure shows as Ready=False with a reason
// naming it, Stalled=True (only the user can fix these), and ONE Warning Event however often the
// key is retried; once the user fixes it, the retry (with backoff) proceeds on its own. kstatus is
// computed by the real sigs.k8s.io/cli-utils code (test/helpers/kstatus.ts).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, getJson, kubectl, kubectlOk, testbed, uniqueName } from '../helpers/cluster.ts';
import { ensureKstatus, kstatus } from '../helpers/kstatus.ts';
import { impersonatingKubeconfig, startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { createScenario, shiftYaml, waitPhase, type Scenario, type ShiftObject } from '../helpers/scenario.ts';
import { applyWorkers, deploymentReplicas, workersYaml } from '../helpers/workers.ts';
import { freezeRoutes } from '../helpers/admission.ts';

const NS: Record<string, string> = Object.fromEntries(['fail-rbac', 'fail-vap', 'fail-kstatus'].map((p) => [p, uniqueName(p)]));
const operators: OperatorProcess[] = [];
const scenarios: Scenario[] = [];
/** kubectl delete commands for the cluster-scoped objects a test created. */
const cleanups: string[][] = [];

beforeAll(async () => {
  // Built once into the cache (minutes the first time), before any operator runs.
  await ensureKstatus();
}, 1_200_000);

afterAll(async () => {
  for (const o of operators) await o.stop();
  for (const s of scenarios) await s.cleanup();
  for (const c of cleanups) await kubectl(c);
});

async function scenario(prefix: string): Promise<Scenario> {
  const s = await createScenario({ prefix, ns: NS[prefix] });
  scenarios.push(s);
  return s;
}

async function operator(name: string, ns: string, kubeconfig?: string): Promise<OperatorProcess> {
  const op = await startOperator(testbed(), { name, namespaces: [ns], ...(kubeconfig ? { kubeconfig } : {}) });
  operators.push(op);
  return op;
}

const cond = (o: ShiftObject, type: string) => o.status?.conditions?.find((c) => c.type === type);

interface EventItem { type: string; reason: string; note?: string; regarding: { name: string }; series?: { count: number } }
async function warnings(ns: string, name: string, reason: string): Promise<EventItem[]> {
  const list = await getJson<{ items: EventItem[] }>(['get', 'events.events.k8s.io', '-n', ns]);
  return list.items.filter((e) => e.regarding.name === name && e.type === 'Warning' && e.reason === reason);
}

/** Failed TrafficShift reconciles so far (the operator's controller-runtime metric). */
async function reconcileErrors(op: OperatorProcess): Promise<number> {
  const text = await (await fetch(`${op.url}/metrics`)).text();
  const m = /^controller_runtime_reconcile_errors_total\{controller="trafficshift"\} (\S+)$/m.exec(text);
  return Number(m?.[1] ?? 0);
}

/** The shift once its Ready condition carries `reason`. */
function readyReason(s: Scenario, name: string, reason: string): Promise<ShiftObject> {
  return eventually(`TrafficShift ${s.ns}/${name} Ready reason ${reason}`, async () => {
    const ts = await s.shift<ShiftObject>(name);
    return cond(ts, 'Ready')?.reason === reason ? ts : undefined;
  }, 60_000);
}

describe('a failure while applying is visible on the object', () => {
  it('a worker scale RBAC refuses: Ready=False Forbidden, Stalled=True, kstatus Failed, one Warning Event over many retries; once granted, the shift proceeds', async () => {
    const s = await scenario('fail-rbac');
    await applyWorkers(s.ns);
    // An identity with everything the operator needs except deployments/scale.
    const name = `${s.ns}-noscale`;
    const user = `system:serviceaccount:${s.ns}:cutover-noscale`;
    await kubectlOk(['apply', '--server-side', '--field-manager=failures-test', '-f', '-'], `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ${name}}
rules:
  - apiGroups: ["", events.k8s.io, coordination.k8s.io, cutover.dev, gateway.networking.k8s.io, apiextensions.k8s.io]
    resources: ["*"]
    verbs: ["*"]
  - apiGroups: [apps]
    resources: [deployments]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ${name}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ${name}}
subjects: [{kind: ServiceAccount, name: cutover-noscale, namespace: ${s.ns}}]
`);
    cleanups.push(['delete', 'clusterrole,clusterrolebinding', name, '--ignore-not-found']);
    const kubeconfig = impersonatingKubeconfig(testbed(), user, join(testbed().dir, 'kubeconfigs', `${name}.yaml`));
    const refused = await kubectl(['--kubeconfig', kubeconfig, 'scale', 'deployment/score-worker', '--replicas=1', '-n', s.ns]);
    expect(refused.stderr).toContain(`cannot patch resource "deployments/scale"`);

    const op = await operator('fail-rbac', s.ns, kubeconfig);
    const load = s.startLoad(40);
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'score', { steps: [[10, '2s'], [100, '2s']], extra: workersYaml }));

    const failed = await readyReason(s, 'score', 'Forbidden');
    const ready = cond(failed, 'Ready')!;
    expect(ready.status).toBe('False');
    expect(ready.message).toContain(`scale deployments/score-worker in ${s.ns}: `);
    expect(ready.message).toContain(`cannot patch resource "deployments/scale"`);
    expect(cond(failed, 'Stalled')).toMatchObject({ status: 'True', reason: 'Forbidden', message: ready.message });
    expect(cond(failed, 'Reconciling')).toBeUndefined();
    expect((await kstatus(failed)).status).toBe('Failed');

    // Retried with backoff, several times more: still one Event, no status write (the retries do
    // not flip the conditions back and forth), and nothing scaled or shifted.
    const errors = await reconcileErrors(op);
    await eventually('four more failed reconciles', async () => (await reconcileErrors(op)) >= errors + 4, 120_000, 100);
    const later = await s.shift<ShiftObject & { metadata: { resourceVersion: string } }>('score');
    expect(later.metadata.resourceVersion).toBe((failed as ShiftObject & { metadata: { resourceVersion: string } }).metadata.resourceVersion);
    expect(cond(later, 'Ready')).toMatchObject({ reason: 'Forbidden', message: ready.message });
    const events = await warnings(s.ns, 'score', 'Forbidden');
    expect(events).toHaveLength(1);
    expect(events[0]!.note).toBe(ready.message);
    expect(events[0]!.series).toBeUndefined();
    expect((await deploymentReplicas(s.ns, 'score-worker')).spec).toBe(0);
    expect(await s.routeWeights()).toEqual({ [s.stable]: 100, [s.canary]: 0 });

    // The user grants the scale subresource; the retry proceeds without anyone touching the shift.
    await kubectlOk(['apply', '--server-side', '--field-manager=failures-test', '-f', '-'], `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: scale, namespace: ${s.ns}}
rules: [{apiGroups: [apps], resources: [deployments/scale], verbs: [get, patch, update]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: scale, namespace: ${s.ns}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: scale}
subjects: [{kind: ServiceAccount, name: cutover-noscale, namespace: ${s.ns}}]
`);
    const done = await waitPhase(s, 'score', ['Completed', 'RolledBack', 'Failed'], 240_000);
    await load.stop();
    expect(done.status?.phase).toBe('Completed');
    expect(cond(done, 'Ready')).toMatchObject({ status: 'True', reason: 'Completed' });
    expect(cond(done, 'Stalled')).toBeUndefined();
    expect((await kstatus(done)).status).toBe('Current');
    expect(await deploymentReplicas(s.ns, 'score-worker')).toEqual({ spec: 3, ready: 3 });
    expect(await s.routeWeights()).toEqual({ [s.stable]: 0, [s.canary]: 100 });
    expect(await warnings(s.ns, 'score', 'Forbidden')).toHaveLength(1);
  });

  it('a route write an admission policy rejects: Ready=False RouteWriteRejected, Stalled=True, one Warning Event; once lifted, the shift proceeds', async () => {
    const s = await scenario('fail-vap');
    // A change freeze on the namespace's routes (a real API-server ValidatingAdmissionPolicy; its
    // default reason, Invalid, answers 422).
    const freeze = await freezeRoutes(s.ns, 'HTTPRoute is frozen (change freeze)');
    cleanups.push(['delete', 'validatingadmissionpolicy,validatingadmissionpolicybinding', freeze.name, '--ignore-not-found']);

    const op = await operator('fail-vap', s.ns);
    const load = s.startLoad(40);
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'web', { steps: [[10, '2s'], [100, '2s']] }));

    const failed = await readyReason(s, 'web', 'RouteWriteRejected');
    const ready = cond(failed, 'Ready')!;
    expect(ready.status).toBe('False');
    expect(ready.message).toContain(`apply httproutes/listings in ${s.ns}: `);
    expect(ready.message).toContain('HTTPRoute is frozen (change freeze)');
    expect(cond(failed, 'Stalled')).toMatchObject({ status: 'True', reason: 'RouteWriteRejected', message: ready.message });
    expect((await kstatus(failed)).status).toBe('Failed');

    const errors = await reconcileErrors(op);
    await eventually('four more failed reconciles', async () => (await reconcileErrors(op)) >= errors + 4, 120_000, 100);
    const events = await warnings(s.ns, 'web', 'RouteWriteRejected');
    expect(events).toHaveLength(1);
    expect(events[0]!.note).toBe(ready.message);
    expect(events[0]!.series).toBeUndefined();
    expect(await s.routeWeights()).toEqual({ [s.stable]: 100, [s.canary]: 0 });

    // The freeze is lifted: the retry writes the route and the shift completes.
    await freeze.lift();
    const done = await waitPhase(s, 'web', ['Completed', 'RolledBack', 'Failed'], 240_000);
    await load.stop();
    expect(done.status?.phase).toBe('Completed');
    expect(cond(done, 'Ready')).toMatchObject({ status: 'True', reason: 'Completed' });
    expect(cond(done, 'Stalled')).toBeUndefined();
    expect(await s.routeWeights()).toEqual({ [s.stable]: 0, [s.canary]: 100 });
    expect(await warnings(s.ns, 'web', 'RouteWriteRejected')).toHaveLength(1);
  });
});

describe('kstatus (sigs.k8s.io/cli-utils status.Compute)', () => {
  it('a shift at 10% is InProgress by kstatus standard conditions too (Reconciling=True); Completed is Current', async () => {
    const s = await scenario('fail-kstatus');
    await operator('fail-kstatus', s.ns);
    const load = s.startLoad(40);
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'web', { steps: [[10, '8s'], [100, '2s']] }));
    const at10 = await eventually('the shift at 10%', async () => {
      const ts = await s.shift<ShiftObject>('web');
      return ts.status?.phase === 'Progressing' && ts.status.currentWeight === 10 ? ts : undefined;
    }, 60_000);
    // `standard`: kstatus' generic rules alone (Reconciling, Stalled, observedGeneration), without
    // the Ready fallback; before Reconciling was set they called a shift at 10% Current.
    expect(await kstatus(at10)).toMatchObject({ status: 'InProgress', standard: 'InProgress' });
    expect(cond(at10, 'Reconciling')).toMatchObject({ status: 'True', reason: 'StepInProgress' });
    const done = await waitPhase(s, 'web', ['Completed', 'RolledBack', 'Failed'], 120_000);
    await load.stop();
    expect(done.status?.phase).toBe('Completed');
    expect(cond(done, 'Reconciling')).toBeUndefined();
    expect(await kstatus(done)).toMatchObject({ status: 'Current', standard: 'Current' });
  });
});
