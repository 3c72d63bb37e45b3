import { beforeEach, describe, expect, it } from 'vitest';
import { KubeApiError } from '../../../operator/src/kube/errors.ts';
import type { ApplyOptions } from '../../../operator/src/kube/index.ts';
import { HTTP_ROUTE, SERVICE, type KubeObject, type ResourceType } from '../../../operator/src/kube/resources.ts';
import { ASSUME_MIRROR_SUPPORT, GATEWAY, GATEWAY_CLASS, GatewayApiRouter, rulesManagers, supportedFeatures } from '../../../operator/src/traffic/gateway-api.ts';
import {
  RouteVerificationError,
  type JsonObject,
  type RouteClient,
  type TrafficRef,
} from '../../../operator/src/traffic/router.ts';

// A fake API server for the two calls a router makes. `apply` behaves like SSA on an atomic
// `spec.rules`: the applied list replaces the live one; metadata.resourceVersion is a precondition.
// It fails the way the kube layer does: a KubeApiError with the API server's code and reason.
class FakeCluster implements RouteClient {
  objects = new Map<string, KubeObject>();
  applies: { obj: KubeObject; options: ApplyOptions }[] = [];
  gets = 0;
  /** Runs before an apply is handled (to simulate a concurrent writer). */
  beforeApply: (() => void) | null = null;
  /** When set, applies are accepted but not stored (e.g. a webhook reverting them). */
  dropWrites = false;

  key(resource: ResourceType, namespace: string, name: string): string {
    return `${resource.plural}/${namespace}/${name}`;
  }

  put(resource: ResourceType, obj: KubeObject): void {
    this.objects.set(this.key(resource, obj.metadata.namespace ?? '', obj.metadata.name ?? ''), structuredClone(obj));
  }

  async get(resource: ResourceType, namespace: string, name: string): Promise<KubeObject | undefined> {
    this.gets++;
    const obj = this.objects.get(this.key(resource, namespace, name));
    return obj ? structuredClone(obj) : undefined;
  }

  async apply(resource: ResourceType, obj: KubeObject, options: ApplyOptions): Promise<KubeObject> {
    expect(resource).toEqual(HTTP_ROUTE);
    this.applies.push({ obj: structuredClone(obj), options });
    this.beforeApply?.();
    this.beforeApply = null;
    const key = this.key(HTTP_ROUTE, obj.metadata.namespace ?? '', obj.metadata.name ?? '');
    const live = this.objects.get(key);
    if (!live) throw new KubeApiError({ code: 404, reason: 'NotFound', message: `httproutes "${obj.metadata.name ?? ''}" not found` });
    if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== live.metadata.resourceVersion) {
      throw conflict();
    }
    if (this.dropWrites) return structuredClone(live);
    const spec = { ...(live.spec as JsonObject), rules: (obj.spec as JsonObject).rules ?? [] };
    const next: KubeObject = { ...live, spec, metadata: { ...live.metadata, resourceVersion: String(Number(live.metadata.resourceVersion) + 1) } };
    this.objects.set(key, next);
    return structuredClone(next);
  }

  route(): KubeObject {
    return structuredClone(this.objects.get(this.key(HTTP_ROUTE, 'shop', 'listings'))!);
  }

  rules(): JsonObject[] {
    return (this.route().spec as { rules: JsonObject[] }).rules;
  }
}

function conflict(): KubeApiError {
  return new KubeApiError({ code: 409, reason: 'Conflict', message: 'the object has been modified; please apply your changes to the latest version and try again' });
}

const service = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop' } });

const stableRef = (weight?: number) => ({ group: '', kind: 'Service', name: 'monolith', port: 8080, ...(weight === undefined ? {} : { weight }) });
const canaryRef = (weight: number) => ({ group: '', kind: 'Service', name: 'listings-api', port: 8080, weight });
const userRule0 = {
  matches: [{ path: { type: 'PathPrefix', value: '/listings' } }],
  filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-via', value: 'gw' }] } }],
  backendRefs: [stableRef()],
};
const userRule1 = { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ group: '', kind: 'Service', name: 'monolith', port: 8080, weight: 1 }] };

function route(rules: JsonObject[]): KubeObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'listings', namespace: 'shop', resourceVersion: '7', labels: { app: 'shop' } },
    spec: { parentRefs: [{ name: 'public' }], hostnames: ['shop.example.com'], rules },
  };
}

const ref: TrafficRef = {
  namespace: 'shop',
  route: { httpRoute: { name: 'listings', ruleIndex: 0 } },
  stable: { service: 'monolith', port: 8080 },
  canary: { service: 'listings-api', port: 8080 },
};

let cluster: FakeCluster;
let router: GatewayApiRouter;

beforeEach(() => {
  cluster = new FakeCluster();
  cluster.put(HTTP_ROUTE, route([userRule0, userRule1]));
  cluster.put(SERVICE, service('monolith'));
  cluster.put(SERVICE, service('listings-api'));
  router = new GatewayApiRouter(cluster);
});

describe('GatewayApiRouter.verify', () => {
  it('accepts a route whose rule lists only the stable backend', async () => {
    expect(await router.verify(ref)).toBeNull();
  });

  it.each<[string, (c: FakeCluster) => void, TrafficRef, { field: string; message: string }]>([
    ['route missing', (c) => c.objects.clear(), ref,
      { field: 'spec.route.httpRoute.name', message: 'HTTPRoute shop/listings not found' }],
    ['rule index out of range', () => {}, { ...ref, route: { httpRoute: { name: 'listings', ruleIndex: 2 } } },
      { field: 'spec.route.httpRoute.ruleIndex', message: 'HTTPRoute shop/listings has 2 rules; index 2 does not exist' }],
    ['rule does not route to stable', () => {}, { ...ref, stable: { service: 'legacy', port: 8080 } },
      { field: 'spec.stable.service', message: 'HTTPRoute shop/listings rule 0 has no backendRef to Service legacy (it routes to monolith)' }],
    ['field names follow the resource (ShadowRun primary)', () => {}, { ...ref, stable: { service: 'legacy', port: 8080, field: 'spec.primary' } },
      { field: 'spec.primary.service', message: 'HTTPRoute shop/listings rule 0 has no backendRef to Service legacy (it routes to monolith)' }],
    ['stable port differs', () => {}, { ...ref, stable: { service: 'monolith', port: 9090 } },
      { field: 'spec.stable.port', message: 'HTTPRoute shop/listings rule 0 sends Service monolith to port 8080, not 9090' }],
    ['canary Service missing', (c) => c.objects.delete('services/shop/listings-api'), ref,
      { field: 'spec.canary.service', message: 'Service shop/listings-api not found' }],
    ['stable Service missing', (c) => c.objects.delete('services/shop/monolith'), ref,
      { field: 'spec.stable.service', message: 'Service shop/monolith not found' }],
  ])('%s', async (_case, arrange, target, problem) => {
    arrange(cluster);
    expect(await router.verify(target)).toEqual(problem);
    expect(cluster.applies).toEqual([]); // verify never writes
  });
});

describe('GatewayApiRouter.setWeights', () => {
  it('applies the full rules list with only the weights changed, as field manager cutover, and verifies the answer of the write', async () => {
    await router.setWeights(ref, { stable: 90, canary: 10 });
    expect(cluster.applies).toEqual([{
      obj: {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'listings', namespace: 'shop', resourceVersion: '7' },
        spec: { rules: [{ ...userRule0, backendRefs: [stableRef(90), canaryRef(10)] }, userRule1] },
      },
      options: { fieldManager: 'cutover', force: true },
    }]);
    expect(cluster.gets).toBe(1); // one read; the write's own answer is verified, no second GET
    expect(await router.getWeights(ref)).toEqual({ stable: 90, canary: 10 });
    const live = cluster.route();
    expect((live.spec as JsonObject).parentRefs).toEqual([{ name: 'public' }]);
    expect(live.metadata.labels).toEqual({ app: 'shop' });
  });

  it('does not write when the route already has the weights', async () => {
    cluster.put(HTTP_ROUTE, route([{ ...userRule0, backendRefs: [stableRef(50), canaryRef(50)] }, userRule1]));
    await router.setWeights(ref, { stable: 50, canary: 50 });
    expect(cluster.applies).toEqual([]);
    expect(cluster.gets).toBe(1);
  });

  it('re-reads and keeps a concurrent edit when the route changed between read and apply', async () => {
    cluster.beforeApply = () => {
      const changed = route([userRule0, { ...userRule1, matches: [{ path: { type: 'PathPrefix', value: '/v2' } }] }]);
      changed.metadata.resourceVersion = '8';
      cluster.put(HTTP_ROUTE, changed);
    };
    await router.setWeights(ref, { stable: 50, canary: 50 });
    expect(cluster.applies.map((a) => a.obj.metadata.resourceVersion)).toEqual(['7', '8']);
    expect(cluster.rules()[1]!.matches).toEqual([{ path: { type: 'PathPrefix', value: '/v2' } }]);
    expect(cluster.rules()[0]!.backendRefs).toEqual([stableRef(50), canaryRef(50)]);
  });

  it('gives up after the configured attempts on repeated conflicts', async () => {
    let applies = 0;
    const flaky: RouteClient = {
      get: (r, ns, n) => cluster.get(r, ns, n),
      apply: async () => { applies++; throw conflict(); },
    };
    await expect(new GatewayApiRouter(flaky, { attempts: 2 }).setWeights(ref, { stable: 50, canary: 50 })).rejects.toThrow(KubeApiError);
    expect(applies).toBe(2);
  });

  it('does not retry an error other than a conflict', async () => {
    let applies = 0;
    const forbidden: RouteClient = {
      get: (r, ns, n) => cluster.get(r, ns, n),
      apply: async () => { applies++; throw new KubeApiError({ code: 403, reason: 'Forbidden', message: 'httproutes is forbidden' }); },
    };
    await expect(new GatewayApiRouter(forbidden, { attempts: 3 }).setWeights(ref, { stable: 50, canary: 50 })).rejects.toThrow('httproutes is forbidden');
    expect(applies).toBe(1);
  });

  it('reports a write that did not stick', async () => {
    cluster.dropWrites = true;
    await expect(router.setWeights(ref, { stable: 50, canary: 50 })).rejects.toThrow(RouteVerificationError);
    await expect(router.setWeights(ref, { stable: 50, canary: 50 })).rejects.toThrow(
      'HTTPRoute shop/listings rule 0 after apply: weights are stable 1 / canary 0, expected 50 / 50',
    );
  });

  it('rolls back to stable on the rule index given', async () => {
    cluster.put(HTTP_ROUTE, route([userRule1, { ...userRule0, backendRefs: [stableRef(10), canaryRef(90)] }]));
    const second = { ...ref, route: { httpRoute: { name: 'listings', ruleIndex: 1 } } };
    await router.setWeights(second, { stable: 100, canary: 0 });
    expect(cluster.rules()).toEqual([userRule1, { ...userRule0, backendRefs: [stableRef(100), canaryRef(0)] }]);
  });

  it('throws the route problem when the route is gone', async () => {
    cluster.objects.clear();
    await expect(router.setWeights(ref, { stable: 100, canary: 0 })).rejects.toThrow('spec.route.httpRoute.name: HTTPRoute shop/listings not found');
  });
});

describe('GatewayApiRouter mirror', () => {
  const mirror = { service: 'listings-api', port: 8080, percent: 20 };

  it('adds the mirror after the user filters and removes only it', async () => {
    await router.setMirror(ref, mirror);
    expect(cluster.rules()[0]!.filters).toEqual([
      userRule0.filters[0],
      { type: 'RequestMirror', requestMirror: { backendRef: { group: '', kind: 'Service', name: 'listings-api', port: 8080 }, percent: 20 } },
    ]);
    expect(await router.getMirror(ref)).toEqual(mirror);
    expect(cluster.rules()[1]).toEqual(userRule1);

    await router.removeManaged(ref);
    expect(cluster.rules()).toEqual([userRule0, userRule1]);
    expect(await router.getMirror(ref)).toBeNull();
    expect(cluster.applies).toHaveLength(2);
  });

  it('is idempotent', async () => {
    await router.setMirror(ref, mirror);
    await router.setMirror(ref, mirror);
    await router.removeManaged(ref);
    await router.removeManaged(ref);
    expect(cluster.applies).toHaveLength(2);
  });
});

describe('GatewayApiRouter.mirrorSupport (GatewayClass status.supportedFeatures)', () => {
  const CORE = ['Gateway', 'HTTPRoute'];
  function gateway(features: unknown, annotations?: Record<string, string>, name = 'public', namespace = 'shop', className = 'eg'): void {
    cluster.put(GATEWAY, { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name, namespace }, spec: { gatewayClassName: className } });
    cluster.put(GATEWAY_CLASS, {
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: className, namespace: '', ...(annotations ? { annotations } : {}) },
      spec: { controllerName: 'example.com/gw' }, ...(features === undefined ? {} : { status: { supportedFeatures: features } }),
    });
  }
  const names = (list: string[]) => list.map((name) => ({ name }));

  it('passes when the class lists RequestMirror (and PercentageMirror for percent < 100), v1.4 objects or older strings', async () => {
    gateway(names([...CORE, 'HTTPRouteRequestMirror', 'HTTPRouteRequestPercentageMirror']));
    expect(await router.mirrorSupport(ref, 20)).toBeNull();
    gateway([...CORE, 'HTTPRouteRequestMirror', 'HTTPRouteRequestPercentageMirror']);
    expect(await router.mirrorSupport(ref, 20)).toBeNull();
    gateway(names([...CORE, 'HTTPRouteRequestMirror']));
    expect(await router.mirrorSupport(ref, 100)).toBeNull();
    expect(cluster.applies).toEqual([]);
  });

  it.each<[string, () => void, number, { field: string; message: string }]>([
    ['no RequestMirror', () => gateway(names(CORE)), 100,
      { field: 'spec.route.httpRoute.name', message: 'GatewayClass eg (of Gateway shop/public) does not list HTTPRouteRequestMirror in status.supportedFeatures: no mirror is added' }],
    ['RequestMirror without PercentageMirror, percent < 100', () => gateway(names([...CORE, 'HTTPRouteRequestMirror'])), 20,
      { field: 'spec.percent', message: 'GatewayClass eg (of Gateway shop/public) does not list HTTPRouteRequestPercentageMirror in status.supportedFeatures (it can mirror all requests: percent 100 needs only RequestMirror): no mirror is added' }],
    ['neither, percent < 100', () => gateway([]), 5,
      { field: 'spec.route.httpRoute.name', message: 'GatewayClass eg (of Gateway shop/public) does not list HTTPRouteRequestMirror and HTTPRouteRequestPercentageMirror in status.supportedFeatures: no mirror is added' }],
    ['no list published', () => gateway(undefined), 100,
      { field: 'spec.route.httpRoute.name', message: `GatewayClass eg (of Gateway shop/public) publishes no status.supportedFeatures, so whether it supports HTTPRouteRequestMirror is unknown and no mirror is added; if it does, annotate the GatewayClass ${ASSUME_MIRROR_SUPPORT}=true` }],
    ['the opt-in does not override a published list', () => gateway(names(CORE), { [ASSUME_MIRROR_SUPPORT]: 'true' }), 100,
      { field: 'spec.route.httpRoute.name', message: 'GatewayClass eg (of Gateway shop/public) does not list HTTPRouteRequestMirror in status.supportedFeatures: no mirror is added' }],
    ['Gateway missing', () => {}, 100,
      { field: 'spec.route.httpRoute.name', message: "HTTPRoute shop/listings's parent Gateway shop/public not found: cannot check that it supports RequestMirror, so no mirror is added" }],
    ['GatewayClass missing', () => { gateway(names(CORE)); cluster.objects.delete('gatewayclasses//eg'); }, 100,
      { field: 'spec.route.httpRoute.name', message: 'GatewayClass eg of Gateway shop/public not found: cannot check that it supports RequestMirror, so no mirror is added' }],
    ['no parentRefs', () => cluster.put(HTTP_ROUTE, { ...route([userRule0]), spec: { rules: [userRule0] } }), 100,
      { field: 'spec.route.httpRoute.name', message: 'HTTPRoute shop/listings has no parentRefs: no Gateway to ask whether it supports RequestMirror, so no mirror is added' }],
    ['a parent that is not a Gateway (GAMMA mesh)', () => cluster.put(HTTP_ROUTE, { ...route([userRule0]), spec: { parentRefs: [{ group: '', kind: 'Service', name: 'listings' }], rules: [userRule0] } }), 100,
      { field: 'spec.route.httpRoute.name', message: 'HTTPRoute shop/listings has a parent Service listings (group core), not a Gateway: its supported features cannot be read, so no mirror is added' }],
  ])('%s → the problem, nothing written', async (_case, arrange, percent, problem) => {
    arrange();
    expect(await router.mirrorSupport(ref, percent)).toEqual(problem);
    expect(cluster.applies).toEqual([]);
  });

  it('the opt-in annotation covers a class that publishes no list', async () => {
    gateway(undefined, { [ASSUME_MIRROR_SUPPORT]: 'true' });
    expect(await router.mirrorSupport(ref, 20)).toBeNull();
    gateway(undefined, { [ASSUME_MIRROR_SUPPORT]: 'false' });
    expect(await router.mirrorSupport(ref, 20)).not.toBeNull();
  });

  it('checks every parent: a second Gateway in another namespace whose class cannot mirror stops it', async () => {
    gateway(names([...CORE, 'HTTPRouteRequestMirror']));
    gateway(names(CORE), undefined, 'internal', 'infra', 'traefik');
    cluster.put(HTTP_ROUTE, { ...route([userRule0]), spec: { parentRefs: [{ name: 'public' }, { name: 'internal', namespace: 'infra' }], rules: [userRule0] } });
    expect(await router.mirrorSupport(ref, 100)).toEqual({
      field: 'spec.route.httpRoute.name',
      message: 'GatewayClass traefik (of Gateway infra/internal) does not list HTTPRouteRequestMirror in status.supportedFeatures: no mirror is added',
    });
  });

  it('supportedFeatures reads both shapes and tells "no list" from an empty one', () => {
    const cls = (status: unknown) => ({ metadata: { name: 'x' }, ...(status === undefined ? {} : { status }) });
    expect(supportedFeatures(cls(undefined))).toBeUndefined();
    expect(supportedFeatures(cls({ conditions: [] }))).toBeUndefined();
    expect(supportedFeatures(cls({ supportedFeatures: [] }))).toEqual([]);
    expect(supportedFeatures(cls({ supportedFeatures: [{ name: 'A' }, 'B'] }))).toEqual(['A', 'B']);
  });
});

describe('rulesManagers', () => {
  it('lists the managers that own spec.rules', () => {
    const r = route([userRule0]);
    r.metadata.managedFields = [
      { manager: 'argocd-controller', operation: 'Apply', fieldsV1: { 'f:spec': { 'f:parentRefs': {}, 'f:hostnames': {} } } },
      { manager: 'cutover', operation: 'Apply', fieldsV1: { 'f:spec': { 'f:rules': {} } } },
      { manager: 'kubectl-edit', operation: 'Update', fieldsV1: { 'f:metadata': {} } },
    ];
    expect(rulesManagers(r)).toEqual(['cutover']);
  });
});
