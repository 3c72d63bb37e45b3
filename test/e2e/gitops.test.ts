// GitOps and Cutover side by side: what the operator owns (managedFields), what happens when a
// GitOps tool re-applies the route or the TrafficShift, and kubectl wait on every kind.
//
// The finding these tests pin down: in the Gateway API CRD `HTTPRoute.spec.rules` is an ATOMIC
// list, so server-side apply tracks it as one field. The operator cannot own "the weights" alone;
// it owns `spec.rules` (which holds the weights and the mirror filter) and nothing else of the
// route. A GitOps apply WITHOUT force then conflicts with manager `cutover` and changes nothing; an
// apply WITH force (what Argo CD and Flux do) replaces the rules with Git's, and the operator —
// which watches routes — puts its weights back within one reconcile, keeping Git's other changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, eventuallyEqual, getJson, kubectl, kubectlOk, testbed, uniqueName } from '../helpers/cluster.ts';
import { TRAFFIC_SHIFT } from '../../operator/src/kube/resources.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { createScenario, ERROR_RATE_QUERY, shiftYaml, waitPhase, type Scenario, type ShiftObject } from '../helpers/scenario.ts';
import { reconcileOnceMore } from '../helpers/watch.ts';
import { TESTBED_PARENT_REFS } from '../testbed/dataplane/gateway-class.ts';

const NS: Record<string, string> = Object.fromEntries(['go-full', 'go-mirror', 'go-noforce', 'go-force', 'go-reapply', 'go-rb', 'go-slice'].map((p) => [p, uniqueName(p)]));
let operator: OperatorProcess;
const scenarios: Scenario[] = [];
const LENIENT = `      - name: error-rate
        prometheus:
          query: '${ERROR_RATE_QUERY}'
        max: 0.5`;

interface ManagedFields { manager: string; operation: string; subresource?: string; fieldsV1?: Record<string, Record<string, unknown>> }
interface Obj { metadata: { generation: number; resourceVersion: string; managedFields: ManagedFields[] }; spec: Record<string, unknown>; status?: Record<string, unknown> }

beforeAll(async () => {
  operator = await startOperator(testbed(), { name: 'gitops', namespaces: Object.values(NS) });
});

afterAll(async () => {
  await operator?.stop();
  for (const s of scenarios) await s.cleanup();
});

async function scenario(prefix: string, rulesYaml?: string): Promise<Scenario> {
  const s = await createScenario({ prefix, ns: NS[prefix], ...(rulesYaml ? { rulesYaml } : {}) });
  scenarios.push(s);
  s.startLoad(20, 300);
  return s;
}

async function withManagedFields(kind: string, name: string, ns: string): Promise<Obj> {
  return getJson<Obj>(['get', kind, name, '-n', ns, '--show-managed-fields']);
}

/** Top-level field names (`f:spec`, `f:status`…) and spec field names a manager owns. */
function owned(o: Obj, manager: string): { entries: ManagedFields[]; top: string[]; spec: string[] } {
  const entries = o.metadata.managedFields.filter((m) => m.manager === manager);
  const top = [...new Set(entries.flatMap((e) => Object.keys(e.fieldsV1 ?? {})))].sort();
  const spec = [...new Set(entries.flatMap((e) => Object.keys(e.fieldsV1?.['f:spec'] ?? {})))].sort();
  return { entries, top, spec };
}

/** The route as the user keeps it in Git: weights left out, only the stable backend listed. */
function gitRoute(s: Scenario, extraFilter = ''): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: listings, namespace: ${s.ns}}
spec:
  parentRefs: ${TESTBED_PARENT_REFS}
  hostnames: [${s.host}]
  rules:
    - matches: [{path: {type: PathPrefix, value: /}}]
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: {set: [{name: x-team, value: listings}${extraFilter}]}
      backendRefs:
        - {name: ${s.stable}, port: 8080}
`;
}

const userRule = (stable: string, canary: string) => `    - matches: [{path: {type: PathPrefix, value: /}}]
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: {set: [{name: x-team, value: listings}]}
      backendRefs:
        - {name: ${stable}, port: 8080, weight: 100}
        - {name: ${canary}, port: 8080, weight: 0}`;

describe('what the operator owns', () => {
  it('after a full shift: cutover owns only status of the TrafficShift, and only spec.rules (weights, mirror) of the HTTPRoute', async () => {
    const s = await scenario('go-full', userRule('monolith', 'listings-api'));
    await kubectlOk(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], shiftYaml(s, 'listings-read', { steps: [[10, '2s'], [50, '2s'], [100, '2s']], metrics: LENIENT }));
    const done = await waitPhase(s, 'listings-read', ['Completed', 'RolledBack', 'Failed']);
    expect(done.status?.phase).toBe('Completed');

    const ts = await withManagedFields('trafficshift', 'listings-read', s.ns);
    const cutover = owned(ts, 'cutover');
    expect(cutover.entries.length).toBeGreaterThan(0);
    for (const e of cutover.entries) expect(e.subresource, `cutover wrote ${JSON.stringify(e.fieldsV1)} outside status`).toBe('status');
    expect(cutover.top).toEqual(['f:status']);
    expect(owned(ts, 'gitops').top).toEqual(['f:spec']); // the user's manager keeps spec (metadata name/namespace are not tracked)
    expect(ts.metadata.generation).toBe(1);

    const route = await withManagedFields('httproute', 'listings', s.ns);
    const r = owned(route, 'cutover');
    expect(r.top).toEqual(['f:spec']);
    expect(r.spec).toEqual(['f:rules']); // the atomic list: weights live in it, nothing else of the route
    expect(owned(route, 'gitops').spec).toEqual(['f:hostnames', 'f:parentRefs']);
    // The user's match and filter went through every write.
    const rule = (route.spec.rules as Array<{ filters?: unknown[]; matches?: unknown[] }>)[0]!;
    expect(rule.filters).toEqual([{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-team', value: 'listings' }] } }]);
    expect(rule.matches).toEqual([{ path: { type: 'PathPrefix', value: '/' } }]);
    expect(await s.routeWeights()).toEqual({ [s.stable]: 0, [s.canary]: 100 });

    const wait = await kubectl(['wait', '--for=condition=Ready', 'trafficshift/listings-read', '-n', s.ns, '--timeout=10s']);
    expect(wait.code, wait.stderr).toBe(0);
  });

  it('a ShadowRun\'s mirror filter is in spec.rules too; removed at the end; kubectl wait works on ShadowRun', async () => {
    const s = await scenario('go-mirror');
    await kubectlOk(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], `apiVersion: cutover.dev/v1alpha1
kind: ShadowRun
metadata: {name: listings-shadow, namespace: ${s.ns}}
spec:
  route: {httpRoute: {name: listings}}
  primary: {service: ${s.stable}, port: 8080}
  shadow: {service: ${s.canary}, port: 8080}
  percent: 50
  duration: 4s
`);
    const mirrored = await eventually('the mirror filter on the route', async () => {
      const route = await withManagedFields('httproute', 'listings', s.ns);
      const filters = (route.spec.rules as Array<{ filters?: Array<{ type: string }> }>)[0]!.filters ?? [];
      return filters.some((f) => f.type === 'RequestMirror') ? route : undefined;
    }, 60_000, 200);
    expect(owned(mirrored, 'cutover').spec).toEqual(['f:rules']);
    expect(owned(mirrored, 'gitops').spec).toEqual(['f:hostnames', 'f:parentRefs']);
    const wait = await kubectl(['wait', '--for=condition=Ready', 'shadowrun/listings-shadow', '-n', s.ns, '--timeout=90s']);
    expect(wait.code, wait.stderr).toBe(0);
    const sr = await getJson<{ status: { phase: string } }>(['get', 'shadowrun', 'listings-shadow', '-n', s.ns]);
    expect(sr.status.phase).toBe('Passed');
    await eventually('mirror removed', async () => {
      const route = await getJson<{ spec: { rules: Array<{ filters?: Array<{ type: string }> }> } }>(['get', 'httproute', 'listings', '-n', s.ns]);
      return !(route.spec.rules[0]!.filters ?? []).some((f) => f.type === 'RequestMirror');
    }, 30_000, 200);
  });
});

describe('re-applying from Git during a shift', () => {
  type Started = ShiftObject & { status: { stepStartedAt?: string } };
  const manifest = (s: Scenario) => shiftYaml(s, 'listings-read', { steps: [[10, '10m'], [50, '10m']], metrics: LENIENT });

  /** Each case on a shift of its own (its namespace, route and backends), applied from "Git" and at its first step. */
  async function shiftAtFirstStep(prefix: string): Promise<{ s: Scenario; started: Started }> {
    const s = await scenario(prefix, userRule('monolith', 'listings-api'));
    await kubectlOk(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], manifest(s));
    const started = await eventually('first step', async () => {
      const ts = await s.shift<Started>('listings-read');
      return ts.status?.currentWeight === 10 ? ts : undefined;
    }, 60_000);
    expect(await s.routeWeights()).toEqual({ [s.stable]: 90, [s.canary]: 10 });
    return { s, started };
  }

  it('the route without force: SSA refuses with a conflict on .spec.rules owned by "cutover"; the weights stay', async () => {
    const { s } = await shiftAtFirstStep('go-noforce');
    const r = await kubectl(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], gitRoute(s));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/conflict with "cutover"/);
    expect(r.stderr).toContain('.spec.rules');
    expect(await s.routeWeights()).toEqual({ [s.stable]: 90, [s.canary]: 10 });
  });

  it('the route with force (Argo CD / Flux server-side sync): Git\'s rules land, the operator re-asserts its weights and keeps Git\'s change', async () => {
    const { s, started } = await shiftAtFirstStep('go-force');
    const t0 = Date.now();
    // Git changed the rule's filter too: that change must survive the re-assertion.
    const applied = JSON.parse(await kubectlOk(['apply', '--server-side', '--field-manager=gitops', '--force-conflicts', '--show-managed-fields', '-o', 'json', '-f', '-'], gitRoute(s, ', {name: x-release, value: "2"}'))) as Obj;
    const appliedAt = Date.now();
    // Git's apply took the rules: gitops owns them, cutover no longer does.
    expect(owned(applied, 'gitops').spec).toContain('f:rules');
    expect(owned(applied, 'cutover').spec).not.toContain('f:rules');
    await eventuallyEqual('weights re-asserted', () => s.routeWeights(), { [s.stable]: 90, [s.canary]: 10 }, 15_000, 50);
    console.log(`GitOps forced re-apply (kubectl took ${appliedAt - t0} ms) → weights re-asserted, seen by polling ${Date.now() - appliedAt} ms after kubectl returned`);

    // The operator's write put them back (a later version, rules owned by cutover again).
    const route = await withManagedFields('httproute', 'listings', s.ns);
    expect(Number(route.metadata.resourceVersion)).toBeGreaterThan(Number(applied.metadata.resourceVersion));
    expect(owned(route, 'cutover').spec).toEqual(['f:rules']);
    expect(owned(route, 'gitops').spec).not.toContain('f:rules');
    const rule = (route.spec.rules as Array<{ filters?: Array<{ requestHeaderModifier?: { set: unknown[] } }> }>)[0]!;
    expect(rule.filters?.[0]?.requestHeaderModifier?.set).toEqual([{ name: 'x-team', value: 'listings' }, { name: 'x-release', value: '2' }]);
    // Not restarted: same step, same step start.
    const ts = await s.shift<Started>('listings-read');
    expect(ts.status?.phase).toBe('Progressing');
    expect(ts.status?.currentStep).toBe(0);
    expect(ts.status.stepStartedAt).toBe(started.status.stepStartedAt);
  });

  it('re-applying the unchanged TrafficShift (same or another field manager) does not restart it', async () => {
    const { s, started } = await shiftAtFirstStep('go-reapply');
    for (const manager of ['gitops', 'argocd-controller']) {
      await kubectlOk(['apply', '--server-side', `--field-manager=${manager}`, '--force-conflicts', '-f', '-'], manifest(s));
    }
    // Every event of those applies handled, and one reconcile more.
    await reconcileOnceMore(operator, 'trafficshift', TRAFFIC_SHIFT, s.ns, 'listings-read');
    const ts = await s.shift<Started>('listings-read');
    expect(ts.metadata.generation).toBe(1);
    expect(ts.status?.phase).toBe('Progressing');
    expect(ts.status?.currentStep).toBe(0);
    expect(ts.status.stepStartedAt).toBe(started.status.stepStartedAt);
    expect(await s.routeWeights()).toEqual({ [s.stable]: 90, [s.canary]: 10 });
  });
});

describe('a RolledBack shift and Git', () => {
  it('stays RolledBack across re-applies of the same spec; a new generation starts fresh', async () => {
    const s = await scenario('go-rb');
    const manifest = (pause: string) => shiftYaml(s, 'listings-read', { steps: [[10, pause], [50, pause]], metrics: LENIENT });
    await kubectlOk(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], manifest('10m'));
    await eventually('first step', async () => (await s.shift<ShiftObject>('listings-read')).status?.currentWeight === 10, 60_000);
    await kubectlOk(['annotate', 'trafficshift', 'listings-read', '-n', s.ns, 'cutover.dev/abort=git-test-1', '--overwrite']);
    const rolled = await waitPhase(s, 'listings-read', ['RolledBack'], 30_000);
    const at = rolled.status?.rollback?.at;

    for (let i = 0; i < 3; i++) {
      await kubectlOk(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], manifest('10m'));
      await reconcileOnceMore(operator, 'trafficshift', TRAFFIC_SHIFT, s.ns, 'listings-read');
    }
    const still = await s.shift<ShiftObject>('listings-read');
    expect(still.metadata.generation).toBe(1);
    expect(still.status?.phase).toBe('RolledBack');
    expect(still.status?.rollback?.at).toBe(at);
    expect(await s.routeWeights()).toEqual({ [s.stable]: 100, [s.canary]: 0 });
    const notReady = await kubectl(['wait', '--for=condition=Ready', 'trafficshift/listings-read', '-n', s.ns, '--timeout=2s']);
    expect(notReady.code).not.toBe(0);

    await kubectlOk(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], manifest('9m'));
    const fresh = await eventually('generation 2 running', async () => {
      const ts = await s.shift<ShiftObject>('listings-read');
      return ts.metadata.generation === 2 && ts.status?.phase === 'Progressing' && ts.status.currentWeight === 10 ? ts : undefined;
    }, 60_000);
    expect(fresh.status?.observedGeneration).toBe(2);
    expect(fresh.status?.rollback).toBeUndefined();
    expect(await s.routeWeights()).toEqual({ [s.stable]: 90, [s.canary]: 10 });
  });
});

describe('kubectl wait and kstatus conditions', () => {
  it('kubectl wait --for=condition=Ready works on a MigrationSlice; every condition carries the kstatus fields', async () => {
    const s = await scenario('go-slice');
    await kubectlOk(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], `apiVersion: cutover.dev/v1alpha1
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
      - {weight: 50, pause: 2s}
      - {weight: 100, pause: 2s}
`);
    const wait = await kubectl(['wait', '--for=condition=Ready', 'migrationslice/listings', '-n', s.ns, '--timeout=120s']);
    expect(wait.code, wait.stderr).toBe(0);
    for (const kind of ['migrationslice/listings', 'trafficshift']) {
      const list = await getJson<{ items?: Obj[] } & Obj>(['get', kind, '-n', s.ns]);
      for (const o of list.items ?? [list]) {
        const conditions = (o.status?.conditions ?? []) as Array<Record<string, unknown>>;
        expect(conditions.length).toBeGreaterThan(0);
        for (const c of conditions) {
          expect(Object.keys(c).sort()).toEqual(['lastTransitionTime', 'message', 'observedGeneration', 'reason', 'status', 'type']);
          expect(c.observedGeneration).toBe(o.metadata.generation);
          expect(c.reason).toMatch(/^[A-Z][A-Za-z0-9]*$/);
        }
        expect(conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
      }
    }
  });
});
