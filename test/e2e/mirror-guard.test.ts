// The mirror guard on the real testbed: before it adds a RequestMirror filter, the operator reads the
// route's parent Gateway and its GatewayClass's status.supportedFeatures. A class that does not list
// HTTPRouteRequestMirror (or HTTPRouteRequestPercentageMirror for percent < 100), or lists nothing,
// gets Stalled=True reason MirrorNotSupported, one Warning Event, and NOT ONE write to the route; the
// documented opt-in (GatewayClass annotation cutover.dev/assume-mirror-support=true) covers a class
// without a list; the testbed gateway's own class (which publishes its real list) mirrors.
//
// Each case has its own namespace, Gateway and GatewayClass (the status written as a controller
// would, through the status subresource). The route points at Services that exist; no backend
// process is needed: the guard decides before any traffic is mirrored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, getJson, kubectl, kubectlOk, testbed, uniqueName } from '../helpers/cluster.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { reconcileOnceMore } from '../helpers/watch.ts';
import { MIGRATION_SLICE, SHADOW_RUN } from '../../operator/src/kube/resources.ts';
import { TESTBED_PARENT_REFS } from '../testbed/dataplane/gateway-class.ts';

const CASES = ['no-mirror', 'no-percent', 'no-list', 'opt-in', 'testbed', 'slice'] as const;
type CaseName = (typeof CASES)[number];
const NS = Object.fromEntries(CASES.map((c) => [c, uniqueName(`mg-${c}`)])) as Record<CaseName, string>;
const classes: string[] = [];
let operator: OperatorProcess;

beforeAll(async () => {
  operator = await startOperator(testbed(), { name: 'mirror-guard', namespaces: Object.values(NS) });
});

afterAll(async () => {
  for (const ns of Object.values(NS)) await kubectl(['delete', 'shadowruns,migrationslices', '--all', '-n', ns, '--wait=true', '--timeout=30s']);
  await operator?.stop();
  for (const ns of Object.values(NS)) await kubectl(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
  for (const c of classes) await kubectl(['delete', 'gatewayclass', c, '--wait=false', '--ignore-not-found']);
});

interface Condition { type: string; status: string; reason: string; message: string }
interface Route { metadata: { resourceVersion: string }; spec: { rules: Array<{ filters?: Array<{ type: string }> }> } }
interface Run { status?: { phase?: string; conditions?: Condition[] } }

/**
 * Namespace, two Services, a GatewayClass (with `features` in status, or no list when undefined)
 * and a Gateway of that class, and an HTTPRoute attached to it. Returns the route as stored.
 */
async function setup(c: CaseName, o: { features?: Array<string | { name: string }> | undefined; annotations?: Record<string, string>; parentRefs?: string }): Promise<{ ns: string; gatewayClass: string; route: Route }> {
  const ns = NS[c];
  const gatewayClass = `${ns}-class`;
  await kubectlOk(['create', 'namespace', ns]);
  const annotations = Object.entries(o.annotations ?? {}).map(([k, v]) => `\n    ${k}: "${v}"`).join('');
  await kubectlOk(['apply', '--server-side', '--field-manager=platform', '-f', '-'], `apiVersion: v1
kind: Service
metadata: {name: monolith, namespace: ${ns}}
spec: {ports: [{port: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: listings-api, namespace: ${ns}}
spec: {ports: [{port: 8080}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: ${gatewayClass}${annotations ? `\n  annotations:${annotations}` : ''}
spec: {controllerName: example.com/gateway-${c}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: ${ns}}
spec:
  gatewayClassName: ${gatewayClass}
  listeners: [{name: http, protocol: HTTP, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: listings, namespace: ${ns}}
spec:
  parentRefs: ${o.parentRefs ?? '[{name: public}]'}
  hostnames: [listings.${ns}.test]
  rules:
    - backendRefs:
        - {name: monolith, port: 8080, weight: 100}
        - {name: listings-api, port: 8080, weight: 0}
`);
  classes.push(gatewayClass);
  if (o.features !== undefined) {
    await kubectlOk(['patch', 'gatewayclass', gatewayClass, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { supportedFeatures: o.features } })]);
  }
  return { ns, gatewayClass, route: await getJson<Route>(['get', 'httproute', 'listings', '-n', ns]) };
}

function shadowRun(ns: string, percent: number): string {
  return `apiVersion: cutover.dev/v1alpha1
kind: ShadowRun
metadata: {name: shadow, namespace: ${ns}}
spec:
  route: {httpRoute: {name: listings}}
  primary: {service: monolith, port: 8080}
  shadow: {service: listings-api, port: 8080}
  percent: ${percent}
  duration: 1h
`;
}

async function stalled(ns: string, kind = 'shadowrun', name = 'shadow'): Promise<{ run: Run; condition: Condition }> {
  return eventually(`${kind} ${ns}/${name} Stalled`, async () => {
    const run = await getJson<Run>(['get', kind, name, '-n', ns]);
    const condition = run.status?.conditions?.find((x) => x.type === 'Stalled' && x.status === 'True');
    return condition ? { run, condition } : undefined;
  }, 60_000, 250);
}

async function warnings(ns: string, name: string, reason: string): Promise<number> {
  const events = await getJson<{ items: Array<{ type: string; reason: string; regarding: { name: string } }> }>(['get', 'events.events.k8s.io', '-n', ns]);
  return events.items.filter((e) => e.regarding.name === name && e.type === 'Warning' && e.reason === reason).length;
}

/** Stalled with MirrorNotSupported naming `feature` and the class; one Warning; the route as before. */
async function expectRefused(ns: string, gatewayClass: string, before: Route, feature: string): Promise<void> {
  const { run, condition } = await stalled(ns);
  expect(condition.reason).toBe('MirrorNotSupported');
  expect(condition.message).toContain(feature);
  expect(condition.message).toContain(`GatewayClass ${gatewayClass}`);
  expect(run.status?.phase).toBe('Pending');
  expect(run.status?.conditions?.find((x) => x.type === 'Ready')).toMatchObject({ status: 'False', reason: 'MirrorNotSupported' });
  // Two more reconciles (what the retry every 5 s runs) must not write the route nor repeat the Event.
  for (let i = 0; i < 2; i++) await reconcileOnceMore(operator, 'shadowrun', SHADOW_RUN, ns, 'shadow');
  const after = await getJson<Route>(['get', 'httproute', 'listings', '-n', ns]);
  expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  expect(after.spec.rules).toEqual(before.spec.rules);
  expect(await warnings(ns, 'shadow', 'MirrorNotSupported')).toBe(1);
}

async function expectMirrors(ns: string, percent: number): Promise<void> {
  const run = await eventually(`ShadowRun ${ns}/shadow Running`, async () => {
    const r = await getJson<Run>(['get', 'shadowrun', 'shadow', '-n', ns]);
    return r.status?.phase === 'Running' ? r : undefined;
  }, 60_000, 250);
  expect(run.status?.conditions?.find((x) => x.type === 'Stalled' && x.status === 'True')).toBeUndefined();
  const route = await getJson<{ spec: { rules: Array<{ filters?: Array<{ type: string; requestMirror?: { percent?: number; backendRef: { name: string } } }> }> } }>(['get', 'httproute', 'listings', '-n', ns]);
  const mirror = route.spec.rules[0]!.filters?.find((f) => f.type === 'RequestMirror');
  expect(mirror?.requestMirror?.backendRef.name).toBe('listings-api');
  expect(mirror?.requestMirror?.percent).toBe(percent < 100 ? percent : undefined);
}

const CORE = [{ name: 'Gateway' }, { name: 'HTTPRoute' }];

describe('mirror guard: a ShadowRun adds no mirror on a gateway that does not say it can mirror', () => {
  it('a GatewayClass without HTTPRouteRequestMirror: Stalled MirrorNotSupported, route unchanged, one Warning', async () => {
    const { ns, gatewayClass, route } = await setup('no-mirror', { features: CORE });
    await kubectlOk(['apply', '--server-side', '-f', '-'], shadowRun(ns, 100));
    await expectRefused(ns, gatewayClass, route, 'HTTPRouteRequestMirror');
  });

  it('percent < 100 on a class with RequestMirror but not PercentageMirror: Stalled naming HTTPRouteRequestPercentageMirror', async () => {
    const { ns, gatewayClass, route } = await setup('no-percent', { features: [...CORE, { name: 'HTTPRouteRequestMirror' }] });
    await kubectlOk(['apply', '--server-side', '-f', '-'], shadowRun(ns, 20));
    await expectRefused(ns, gatewayClass, route, 'HTTPRouteRequestPercentageMirror');
    const { condition } = await stalled(ns);
    expect(condition.message).not.toContain('does not list HTTPRouteRequestMirror');
  });

  it('a class that publishes no supportedFeatures: Stalled (fail closed), the message names the opt-in', async () => {
    const { ns, gatewayClass, route } = await setup('no-list', {});
    await kubectlOk(['apply', '--server-side', '-f', '-'], shadowRun(ns, 100));
    await expectRefused(ns, gatewayClass, route, 'publishes no status.supportedFeatures');
    const { condition } = await stalled(ns);
    expect(condition.message).toContain('cutover.dev/assume-mirror-support=true');
  });

  it('no list + the opt-in annotation on the GatewayClass: the run mirrors', async () => {
    const { ns } = await setup('opt-in', { annotations: { 'cutover.dev/assume-mirror-support': 'true' } });
    await kubectlOk(['apply', '--server-side', '-f', '-'], shadowRun(ns, 30));
    await expectMirrors(ns, 30);
  });

  it("the testbed gateway's own class (its real feature list): the run mirrors a percentage", async () => {
    const { ns } = await setup('testbed', { parentRefs: TESTBED_PARENT_REFS });
    const cls = await getJson<{ status: { supportedFeatures: Array<{ name: string }> } }>(['get', 'gatewayclass', 'cutover-testbed']);
    expect(cls.status.supportedFeatures.map((f) => f.name)).toEqual(expect.arrayContaining(['HTTPRouteRequestMirror', 'HTTPRouteRequestPercentageMirror']));
    await kubectlOk(['apply', '--server-side', '-f', '-'], shadowRun(ns, 25));
    await expectMirrors(ns, 25);
  });

  it("a MigrationSlice's shadow stage on a class without RequestMirror: the slice shows the stall, the route is unchanged", async () => {
    const { ns, gatewayClass, route } = await setup('slice', { features: CORE });
    await kubectlOk(['apply', '--server-side', '-f', '-'], `apiVersion: cutover.dev/v1alpha1
kind: MigrationSlice
metadata: {name: listings, namespace: ${ns}}
spec:
  owner: team-listings
  rollbackPlan: route back to the monolith
  legacy: {service: monolith, port: 8080}
  target: {service: listings-api, port: 8080}
  route: {httpRoute: {name: listings}}
  shadow: {percent: 100, duration: 1h}
  shift: {steps: [{weight: 100, pause: 1s}]}
`);
    const { condition } = await stalled(ns, 'migrationslice', 'listings');
    expect(condition.message).toContain('HTTPRouteRequestMirror');
    expect(condition.message).toContain(`GatewayClass ${gatewayClass}`);
    const child = await stalled(ns, 'shadowrun', 'listings-shadow');
    expect(child.condition.reason).toBe('MirrorNotSupported');
    // One more reconcile of the slice and of its run: the route is still as it was.
    await reconcileOnceMore(operator, 'migrationslice', MIGRATION_SLICE, ns, 'listings');
    await reconcileOnceMore(operator, 'shadowrun', SHADOW_RUN, ns, 'listings-shadow');
    const after = await getJson<Route>(['get', 'httproute', 'listings', '-n', ns]);
    expect(after.metadata.resourceVersion).toBe(route.metadata.resourceVersion);
    expect(after.spec.rules).toEqual(route.spec.rules);
  });
});
