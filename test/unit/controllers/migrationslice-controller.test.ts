// One MigrationSlice reconcile against recorded API calls (cert-manager's ExpectedActions style):
// the planner's effects become exactly these calls, in this order.
import { describe, expect, it } from 'vitest';
import { MigrationSliceController, type MigrationSliceObject } from '../../../operator/src/controllers/migrationslice/controller.ts';
import { SliceMetrics } from '../../../operator/src/controllers/migrationslice/metrics.ts';
import type { ShadowRunObject } from '../../../operator/src/controllers/shadowrun/controller.ts';
import type { TrafficShiftObject } from '../../../operator/src/controllers/trafficshift/controller.ts';
import { CONFIG_MAP, HTTP_ROUTE, MIGRATION_SLICE, SERVICE, SHADOW_RUN } from '../../../operator/src/kube/index.ts';
import { Registry } from '../../../operator/src/runtime/metrics.ts';
import { FixedStore, RecordingClient, reconcileContext, recordedDeps } from './recording.ts';

const NS = 'shop';
const T0 = Date.parse('2026-11-22T10:00:00Z');

describe('MigrationSlice reconcile → API calls', () => {
  it('a new slice with a shadow stage: flag, route and Services read; finalizer, status, then the ShadowRun child', async () => {
    const api = new RecordingClient();
    api.seed(HTTP_ROUTE, { metadata: { name: 'listings', namespace: NS }, spec: { parentRefs: [{ name: 'gw' }], rules: [{ backendRefs: [{ name: 'monolith', port: 8080, weight: 100 }] }] } });
    for (const name of ['monolith', 'listings-api']) api.seed(SERVICE, { metadata: { name, namespace: NS }, spec: { ports: [{ port: 8080 }] } });
    api.seed(CONFIG_MAP, { metadata: { name: 'feature-flags', namespace: NS }, data: { 'listings-api-reads': 'false' } });
    const obj = api.seed(MIGRATION_SLICE, {
      metadata: { name: 'listings', namespace: NS },
      spec: {
        owner: 'team-listings', rollbackPlan: 'Route back to the monolith; the flag goes back to false.',
        legacy: { service: 'monolith', port: 8080 }, target: { service: 'listings-api', port: 8080 },
        route: { httpRoute: { name: 'listings' } },
        featureFlag: { configMap: 'feature-flags', key: 'listings-api-reads' },
        shadow: { percent: 100, duration: '1h' },
        shift: { steps: [{ weight: 10, pause: '1m' }, { weight: 100, pause: '1m' }] },
      },
    }) as unknown as MigrationSliceObject;
    const c = new MigrationSliceController({
      ...recordedDeps(api, [obj], T0),
      shadowRuns: new FixedStore<ShadowRunObject>(),
      trafficShifts: new FixedStore<TrafficShiftObject>(),
      metrics: new SliceMetrics(new Registry()),
    });
    await c.reconcile(`${NS}/listings`, reconcileContext(`${NS}/listings`));
    expect(api.log.lines).toEqual([
      // observe: the flag's ConfigMap, then verify (the route's rule, both Services); no child yet
      'get configmaps shop/feature-flags',
      'get httproutes shop/listings',
      'get services shop/monolith',
      'get services shop/listings-api',
      // apply, in the plan's order: the cleanup finalizer first, the status naming the child, the child
      'patch migrationslices shop/listings',
      'apply migrationslices/status shop/listings',
      'create shadowruns shop/listings-shadow',
      'event Normal Pending shop/listings',
      'event Normal Shadowing shop/listings',
    ]);
    expect(api.log.body('patch migrationslices shop/listings')).toMatchObject({ metadata: { finalizers: ['cutover.dev/cleanup'] } });
    expect(api.log.body('apply migrationslices/status shop/listings')).toMatchObject({ status: { phase: 'Shadowing', children: { shadowRun: { name: 'listings-shadow' } } } });
    // The child carries the slice's route and services and is owned by the slice.
    expect(api.object(SHADOW_RUN, NS, 'listings-shadow')).toMatchObject({
      metadata: { ownerReferences: [{ kind: 'MigrationSlice', name: 'listings', uid: 'uid-listings', controller: true }] },
      spec: { route: { httpRoute: { name: 'listings' } }, primary: { service: 'monolith' }, shadow: { service: 'listings-api' }, percent: 100, duration: '1h' },
    });
    // Nothing in traffic moved yet: the flag and the route are as they were.
    expect(api.object<{ data: Record<string, string> }>(CONFIG_MAP, NS, 'feature-flags')?.data['listings-api-reads']).toBe('false');
  });
});
