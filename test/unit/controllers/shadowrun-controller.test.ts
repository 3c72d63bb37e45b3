// One ShadowRun reconcile against recorded API calls (cert-manager's ExpectedActions style): the
// planner's effects become exactly these calls, in this order.
import { describe, expect, it } from 'vitest';
import { ShadowRunController, type ShadowRunObject } from '../../../operator/src/controllers/shadowrun/controller.ts';
import { ShadowMetrics } from '../../../operator/src/controllers/shadowrun/metrics.ts';
import { HTTP_ROUTE, SERVICE, SHADOW_RUN } from '../../../operator/src/kube/index.ts';
import { GATEWAY, GATEWAY_CLASS } from '../../../operator/src/traffic/gateway-api.ts';
import { Registry } from '../../../operator/src/runtime/metrics.ts';
import { RecordingClient, reconcileContext, recordedDeps } from './recording.ts';

const NS = 'shop';
const T0 = Date.parse('2026-11-22T10:00:00Z');

/** The route (its parent Gateway and GatewayClass able to mirror a percentage) and both Services. */
function cluster(): RecordingClient {
  const api = new RecordingClient();
  api.seed(HTTP_ROUTE, {
    metadata: { name: 'search', namespace: NS },
    spec: { parentRefs: [{ name: 'gw' }], rules: [{ backendRefs: [{ name: 'monolith', port: 8080, weight: 100 }] }] },
  });
  api.seed(GATEWAY, { metadata: { name: 'gw', namespace: NS }, spec: { gatewayClassName: 'testbed' } });
  api.seed(GATEWAY_CLASS, { metadata: { name: 'testbed' }, status: { supportedFeatures: [{ name: 'HTTPRouteRequestMirror' }, { name: 'HTTPRouteRequestPercentageMirror' }] } });
  for (const name of ['monolith', 'search-api']) api.seed(SERVICE, { metadata: { name, namespace: NS }, spec: { ports: [{ port: 8080 }] } });
  return api;
}

describe('ShadowRun reconcile → API calls', () => {
  it('a new run: route, Services and mirror support checked; finalizer first, then status, then the mirror', async () => {
    const api = cluster();
    const obj = api.seed(SHADOW_RUN, {
      metadata: { name: 'search-shadow', namespace: NS },
      spec: { route: { httpRoute: { name: 'search' } }, primary: { service: 'monolith', port: 8080 }, shadow: { service: 'search-api', port: 8080 }, percent: 50, duration: '1h' },
    }) as unknown as ShadowRunObject;
    const c = new ShadowRunController({ ...recordedDeps(api, [obj], T0), metrics: new ShadowMetrics(new Registry()) });
    await c.reconcile(`${NS}/search-shadow`, reconcileContext(`${NS}/search-shadow`));
    expect(api.log.lines).toEqual([
      // observe: verify (the route's rule, both Services), the mirror it has now, and whether the
      // route's Gateway can mirror 50% (its GatewayClass's supported features)
      'get httproutes shop/search',
      'get services shop/monolith',
      'get services shop/search-api',
      'get httproutes shop/search',
      'get httproutes shop/search',
      'get gateways shop/gw',
      'get gatewayclasses testbed',
      // apply, in the plan's order: the cleanup finalizer before anything it would clean up
      'patch shadowruns shop/search-shadow',
      'apply shadowruns/status shop/search-shadow',
      'get httproutes shop/search',
      'apply httproutes shop/search',
      'event Normal MirrorStarted shop/search-shadow',
    ]);
    expect(api.log.body('patch shadowruns shop/search-shadow')).toMatchObject({ metadata: { finalizers: ['cutover.dev/cleanup'] } });
    expect(api.log.body('apply shadowruns/status shop/search-shadow')).toMatchObject({ status: { phase: 'Running' } });
    expect(api.object<{ spec: { rules: Array<{ filters?: unknown[] }> } }>(HTTP_ROUTE, NS, 'search')?.spec.rules[0]?.filters)
      .toEqual([{ type: 'RequestMirror', requestMirror: { backendRef: { group: '', kind: 'Service', name: 'search-api', port: 8080 }, percent: 50 } }]);
  });
});
