// One TrafficShift reconcile against recorded API calls (cert-manager's ExpectedActions style): the
// planner's effects become exactly these calls, in this order.
import { describe, expect, it } from 'vitest';
import { TrafficShiftController, type TrafficShiftObject } from '../../../operator/src/controllers/trafficshift/controller.ts';
import { ShiftMetrics } from '../../../operator/src/controllers/trafficshift/metrics.ts';
import { DEPLOYMENT, HTTP_ROUTE, SERVICE, TRAFFIC_SHIFT } from '../../../operator/src/kube/index.ts';
import { valueSample } from '../../../operator/src/analysis/provider.ts';
import { Registry } from '../../../operator/src/runtime/metrics.ts';
import { analysisSpread } from '../../../operator/src/controllers/trafficshift/plan.ts';
import type { FakeClock } from '../../../operator/src/runtime/clock.ts';
import { RecordingClient, reconcileContext, recordedDeps } from './recording.ts';

const NS = 'shop';
const T0 = Date.parse('2026-11-22T10:00:00Z');
/** A new shift's observation: verify (the route's rule, then both Services), then the weights the route has now. */
const VERIFY_AND_READ = ['get httproutes shop/listings', 'get services shop/monolith', 'get services shop/listings-api', 'get httproutes shop/listings'];

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

/** One reconcile of a new shift with `spec` (over the defaults) in `cluster()`; the client holds its calls. */
async function reconcileNew(spec: Record<string, unknown>): Promise<RecordingClient> {
  const api = cluster();
  const obj = shift(api, spec);
  const c = new TrafficShiftController({ ...recordedDeps(api, [obj], T0, valueSample(0.001)), metrics: new ShiftMetrics(new Registry()) });
  await c.reconcile(`${NS}/listings-read`, reconcileContext(`${NS}/listings-read`));
  return api;
}

describe('TrafficShift reconcile → API calls', () => {
  it('a new shift: route and Services checked, status written, then the weight, then StepStarted', async () => {
    const api = await reconcileNew({});
    expect(api.log.lines).toEqual([
      ...VERIFY_AND_READ,
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
    const api = await reconcileNew({ workers: [{ deployment: 'listings-worker', replicas: 3 }] });
    expect(api.log.lines).toEqual([
      ...VERIFY_AND_READ,
      'get deployments shop/listings-worker',
      'apply trafficshifts/status shop/listings-read',
      'patch deployments/scale shop/listings-worker',
      'event Normal PhaseChanged shop/listings-read',
    ]);
    expect(api.log.body('patch deployments/scale shop/listings-worker')).toEqual({ spec: { replicas: 3 } });
    expect(api.log.body('apply trafficshifts/status shop/listings-read')).toMatchObject({ status: { phase: 'Pending', workers: [{ deployment: 'listings-worker', previousReplicas: 1 }] } });
  });
});

describe('TrafficShift analysis after an operator start', () => {
  /** A shift an earlier process started and analysed: step 1 of 2 (pause `pause`), last analysed a minute ago. */
  function running(pause: string) {
    const api = cluster();
    const obj = shift(api, { steps: [{ weight: 10, pause }, { weight: 100, pause: '1m' }], analysis: { interval: '10s', metrics: [{ name: 'errors', prometheus: { query: 'x' }, max: 0.01 }] } });
    obj.metadata.uid = 'b7f3c1d2-0000-4000-8000-000000000001';
    obj.metadata.generation = 1;
    obj.status = {
      observedGeneration: 1, phase: 'Progressing', currentStep: 0, currentWeight: 10,
      startedAt: new Date(T0 - 120_000).toISOString(), stepStartedAt: new Date(T0 - 60_000).toISOString(), lastAnalysisAt: new Date(T0 - 60_000).toISOString(),
    };
    api.seed(HTTP_ROUTE, {
      metadata: { name: 'listings', namespace: NS },
      spec: { parentRefs: [{ name: 'gw' }], rules: [{ backendRefs: [{ name: 'monolith', port: 8080, weight: 90 }, { name: 'listings-api', port: 8080, weight: 10 }] }] },
    });
    const deps = recordedDeps(api, [obj], T0, valueSample(0.001));
    let queries = 0;
    const prometheus = { query: async () => { queries++; return valueSample(0.001); } };
    const c = new TrafficShiftController({ ...deps, prometheus: prometheus as unknown as typeof deps.prometheus, metrics: new ShiftMetrics(new Registry()) });
    const clock = deps.clock as FakeClock;
    const reconcile = async () => (await c.reconcile(`${NS}/listings-read`, reconcileContext(`${NS}/listings-read`)))?.requeueAfter;
    return { reconcile, clock, queries: () => queries };
  }

  it('the overdue analysis runs at once; the next one waits its interval plus a per-shift spread, not more', async () => {
    const s = running('10m');
    const spread = analysisSpread('b7f3c1d2-0000-4000-8000-000000000001', 10_000);
    expect(spread).toBeGreaterThan(0);
    expect(await s.reconcile()).toBe(10_000 + spread);
    expect(s.queries()).toBe(1);
    s.clock.advance(10_000 + spread - 1);
    await s.reconcile();
    expect(s.queries()).toBe(1);
    s.clock.advance(1);
    expect(await s.reconcile()).toBe(10_000);
    expect(s.queries()).toBe(2);
  });

  it('the spread never holds a step past its end (a step ends only after a passing run in it)', async () => {
    const s = running('65s'); // the step ends at T0 + 5 s: the next run is due at the plain interval
    await s.reconcile();
    expect(s.queries()).toBe(1);
    s.clock.advance(10_000);
    await s.reconcile();
    expect(s.queries()).toBe(2);
  });

  it('spreads shifts evenly over the interval', () => {
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) {
      const offset = analysisSpread(`00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`, 30_000);
      expect(offset).toBeGreaterThanOrEqual(0);
      expect(offset).toBeLessThan(30_000);
      buckets[Math.floor(offset / 3000)]!++;
    }
    for (const b of buckets) expect(b).toBeGreaterThan(800);
  });
});
