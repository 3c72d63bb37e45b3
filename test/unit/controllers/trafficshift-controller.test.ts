// One TrafficShift reconcile against recorded API calls (cert-manager's ExpectedActions style): the
// planner's effects become exactly these calls, in this order.
import { describe, expect, it } from 'vitest';
import { TrafficShiftController, type TrafficShiftObject } from '../../../operator/src/controllers/trafficshift/controller.ts';
import { ShiftMetrics } from '../../../operator/src/controllers/trafficshift/metrics.ts';
import { DEPLOYMENT, HTTP_ROUTE, SERVICE, TRAFFIC_SHIFT, type EventRecorder, type KubeClient } from '../../../operator/src/kube/index.ts';
import type { PrometheusProvider } from '../../../operator/src/analysis/prometheus.ts';
import { valueSample } from '../../../operator/src/analysis/provider.ts';
import { GatewayApiRouter } from '../../../operator/src/traffic/gateway-api.ts';
import { FakeClock } from '../../../operator/src/runtime/clock.ts';
import { silentLogger } from '../../../operator/src/runtime/logger.ts';
import { Registry } from '../../../operator/src/runtime/metrics.ts';
import { FixedPrometheus, FixedStore, RecordingClient, RecordingEvents, reconcileContext } from './recording.ts';

const NS = 'shop';
const T0 = Date.parse('2026-11-22T10:00:00Z');

/** The route, its two Services and the workers' Deployment as the API server holds them. */
function cluster(): RecordingClient {
  const api = new RecordingClient();
  api.seed(HTTP_ROUTE, {
    metadata: { name: 'listings', namespace: NS },
    spec: { parentRefs: [{ name: 'gw' }], rules: [{ backendRefs: [{ name: 'monolith', port: 8080, weight: 100 }, { name: 'listings-api', port: 8080, weight: 0 }] }] },
  });
  for (const name of ['monolith', 'listings-api']) api.seed(SERVICE, { metadata: { name, namespace: NS }, spec: { ports: [{ port: 8080 }] } });
  api.seed(DEPLOYMENT, { metadata: { name: 'listings-worker', namespace: NS }, spec: { replicas: 1 }, status: { readyReplicas: 1 } });
  return api;
}

function shift(api: RecordingClient, spec: Record<string, unknown>): TrafficShiftObject {
  return api.seed(TRAFFIC_SHIFT, {
    metadata: { name: 'listings-read', namespace: NS },
    spec: {
      route: { httpRoute: { name: 'listings' } },
      stable: { service: 'monolith', port: 8080 },
      canary: { service: 'listings-api', port: 8080 },
      steps: [{ weight: 10, pause: '1m' }, { weight: 100, pause: '1m' }],
      ...spec,
    },
  }) as unknown as TrafficShiftObject;
}

function controller(api: RecordingClient, obj: TrafficShiftObject): TrafficShiftController {
  return new TrafficShiftController({
    client: api as unknown as KubeClient,
    informer: new FixedStore([obj]),
    logger: silentLogger,
    events: new RecordingEvents(api.log) as unknown as EventRecorder,
    metrics: new ShiftMetrics(new Registry()),
    router: new GatewayApiRouter(api),
    prometheus: new FixedPrometheus(valueSample(0.001)) as unknown as PrometheusProvider,
    defaultPrometheusUrl: 'http://prometheus:9090',
    clock: new FakeClock(T0),
  });
}

describe('TrafficShift reconcile → API calls', () => {
  it('a new shift: route and Services checked, status written, then the weight, then StepStarted', async () => {
    const api = cluster();
    const obj = shift(api, {});
    await controller(api, obj).reconcile(`${NS}/listings-read`, reconcileContext(`${NS}/listings-read`));
    expect(api.log.lines).toEqual([
      // observe: verify (the route's rule, then both Services), then the weights it has now
      'get httproutes shop/listings',
      'get services shop/monolith',
      'get services shop/listings-api',
      'get httproutes shop/listings',
      // apply, in the plan's order: status before the weight on the way forward
      'apply trafficshifts/status shop/listings-read',
      'get httproutes shop/listings',
      'apply httproutes shop/listings',
      'event Normal StepStarted shop/listings-read',
    ]);
    expect(api.log.body('apply trafficshifts/status shop/listings-read')).toMatchObject({ status: { phase: 'Progressing', currentStep: 0, currentWeight: 10 } });
    expect(api.object<{ spec: { rules: Array<{ backendRefs: Array<{ name: string; weight: number }> }> } }>(HTTP_ROUTE, NS, 'listings')?.spec.rules[0]?.backendRefs.map((b) => [b.name, b.weight]))
      .toEqual([['monolith', 90], ['listings-api', 10]]);
  });

  it('a new shift with a worker: the Deployment read, status written, then the worker scaled; no weight yet', async () => {
    const api = cluster();
    const obj = shift(api, { workers: [{ deployment: 'listings-worker', replicas: 3 }] });
    await controller(api, obj).reconcile(`${NS}/listings-read`, reconcileContext(`${NS}/listings-read`));
    expect(api.log.lines).toEqual([
      'get httproutes shop/listings',
      'get services shop/monolith',
      'get services shop/listings-api',
      'get httproutes shop/listings',
      'get deployments shop/listings-worker',
      'apply trafficshifts/status shop/listings-read',
      'patch deployments/scale shop/listings-worker',
      'event Normal PhaseChanged shop/listings-read',
    ]);
    expect(api.log.body('patch deployments/scale shop/listings-worker')).toEqual({ spec: { replicas: 3 } });
    expect(api.log.body('apply trafficshifts/status shop/listings-read')).toMatchObject({ status: { phase: 'Pending', workers: [{ deployment: 'listings-worker', previousReplicas: 1 }] } });
  });
});
