// The Gateway API router against the real API server with the experimental HTTPRoute CRD
// (v1.4.1): what server-side apply does with the atomic `spec.rules` list, what a GitOps tool that
// applies the same route sees, and that the experimental mirror `percent` passes Strict validation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../../operator/src/kube/client.ts';
import { isConflict } from '../../../operator/src/kube/errors.ts';
import { HTTP_ROUTE, SERVICE, type KubeObject } from '../../../operator/src/kube/resources.ts';
import { GatewayApiRouter, rulesManagers } from '../../../operator/src/traffic/gateway-api.ts';
import type { TrafficRef } from '../../../operator/src/traffic/router.ts';
import { createTestNamespace, deleteTestNamespace, testClient } from '../kube/helpers.ts';

const GITOPS = 'gitops-tool'; // stands in for argocd-controller / kustomize-controller

let client: KubeClient;
let ns: string;
let router: GatewayApiRouter;
let ref: TrafficRef;

const headerFilter = { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-via', value: 'gw' }] } };

function gitRoute(namespace: string): KubeObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'listings', namespace, labels: { app: 'shop' } },
    spec: {
      parentRefs: [{ name: 'public' }],
      hostnames: ['shop.example.com'],
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/listings' } }],
          filters: [headerFilter],
          backendRefs: [{ name: 'monolith', port: 8080 }],
        },
        { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: 'monolith', port: 8080 }] },
      ],
    },
  };
}

function service(namespace: string, name: string): KubeObject {
  return { metadata: { name, namespace }, spec: { ports: [{ name: 'http', port: 8080 }] } };
}

type Rule = { matches?: unknown; filters?: unknown[]; backendRefs?: Array<{ name: string; port: number; weight?: number }> };
async function liveRoute(): Promise<KubeObject & { spec: { rules: Rule[]; parentRefs: unknown; hostnames: unknown } }> {
  return (await client.get(HTTP_ROUTE, ns, 'listings')) as KubeObject & { spec: { rules: Rule[]; parentRefs: unknown; hostnames: unknown } };
}

function ownedSpecFields(route: KubeObject, manager: string): string[] {
  const entry = (route.metadata.managedFields ?? []).find((m) => m.manager === manager);
  const spec = (entry?.fieldsV1 as Record<string, Record<string, unknown>> | undefined)?.['f:spec'] ?? {};
  return Object.keys(spec).sort();
}

beforeAll(async () => {
  client = testClient();
  ns = await createTestNamespace(client, 'router');
  await client.create(SERVICE, service(ns, 'monolith'));
  await client.create(SERVICE, service(ns, 'listings-api'));
  await client.apply(HTTP_ROUTE, gitRoute(ns), { fieldManager: GITOPS, force: true });
  router = new GatewayApiRouter(client);
  ref = {
    namespace: ns,
    route: { httpRoute: { name: 'listings', ruleIndex: 0 } },
    stable: { service: 'monolith', port: 8080 },
    canary: { service: 'listings-api', port: 8080 },
  };
});

afterAll(async () => {
  await deleteTestNamespace(client, ns);
  client?.close();
});

describe('GatewayApiRouter on a real API server', () => {
  it('verifies the route and names the field of a problem', async () => {
    expect(await router.verify(ref)).toBeNull();
    expect(await router.verify({ ...ref, route: { httpRoute: { name: 'nope' } } })).toEqual({
      field: 'spec.route.httpRoute.name',
      message: `HTTPRoute ${ns}/nope not found`,
    });
    expect(await router.verify({ ...ref, canary: { service: 'missing', port: 8080 } })).toEqual({
      field: 'spec.canary.service',
      message: `Service ${ns}/missing not found`,
    });
  });

  it('sets weights on rule 0 only; SSA makes cutover the owner of the whole atomic rules list', async () => {
    await router.setWeights(ref, { stable: 90, canary: 10 });
    const route = await liveRoute();
    expect(route.spec.rules[0]!.backendRefs).toEqual([
      { group: '', kind: 'Service', name: 'monolith', port: 8080, weight: 90 },
      { group: '', kind: 'Service', name: 'listings-api', port: 8080, weight: 10 },
    ]);
    expect(route.spec.rules[0]!.filters).toEqual([headerFilter]);
    expect(route.spec.rules[1]!.backendRefs).toEqual([{ group: '', kind: 'Service', name: 'monolith', port: 8080, weight: 1 }]);
    expect(route.spec.parentRefs).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'public' }]);
    expect(route.metadata.labels).toEqual({ app: 'shop' });
    // The finding: `rules` is one field for SSA. cutover owns all of it; the GitOps manager lost
    // it (force) but keeps everything else it applied.
    expect(ownedSpecFields(route, 'cutover')).toEqual(['f:rules']);
    expect(ownedSpecFields(route, GITOPS)).toEqual(['f:hostnames', 'f:parentRefs']);
    expect(rulesManagers(route)).toEqual(['cutover']);
    expect(await router.getWeights(ref)).toEqual({ stable: 90, canary: 10 });
  });

  it('does not write when the weights are already set', async () => {
    const before = (await liveRoute()).metadata.resourceVersion;
    await router.setWeights(ref, { stable: 90, canary: 10 });
    expect((await liveRoute()).metadata.resourceVersion).toBe(before);
  });

  it('adds and removes the mirror with the experimental percent', async () => {
    await router.setMirror(ref, { service: 'listings-api', port: 8080, percent: 20 });
    expect(await router.getMirror(ref)).toEqual({ service: 'listings-api', port: 8080, percent: 20 });
    expect((await liveRoute()).spec.rules[0]!.filters).toHaveLength(2);
    await router.removeManaged(ref);
    expect(await router.getMirror(ref)).toBeNull();
    const route = await liveRoute();
    expect(route.spec.rules[0]!.filters).toEqual([headerFilter]);
    expect(await router.getWeights(ref)).toEqual({ stable: 90, canary: 10 }); // weights untouched
  });

  it('a stale resourceVersion in an apply is rejected with 409 (the precondition the router relies on)', async () => {
    const stale = { ...gitRoute(ns), metadata: { name: 'listings', namespace: ns, resourceVersion: '1' } };
    // isConflict is the check the router retries on.
    await expect(client.apply(HTTP_ROUTE, stale, { fieldManager: 'cutover', force: true })).rejects.toSatisfy(isConflict);
  });

  it('a GitOps re-apply of the route from Git resets the weights; the router re-asserts them', async () => {
    await client.apply(HTTP_ROUTE, gitRoute(ns), { fieldManager: GITOPS, force: true });
    expect(await router.getWeights(ref)).toEqual({ stable: 100, canary: 0 });
    expect(rulesManagers(await liveRoute())).toEqual([GITOPS]);
    await router.setWeights(ref, { stable: 90, canary: 10 });
    expect(await router.getWeights(ref)).toEqual({ stable: 90, canary: 10 });
    expect(rulesManagers(await liveRoute())).toEqual(['cutover']);
  });
});
