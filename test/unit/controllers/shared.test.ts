// The plumbing the three controllers share (operator/src/controllers/shared/): manual actions,
// out-of-band rollback requests and alert matching.
import { describe, expect, it } from 'vitest';
import { pendingActions, thresholdParts } from '../../../operator/src/controllers/shared/planner.ts';
import { matchAlert, RollbackRequests } from '../../../operator/src/controllers/shared/rollbacks.ts';
import { invalidSpec } from '../../../operator/src/controllers/shared/kind.ts';
import { TrafficShiftSpecSchema } from '../../../operator/src/api/trafficshift.ts';
import { parseTrafficShift } from '../../../operator/src/api/validate.ts';

describe('pendingActions', () => {
  it('an annotation is pending until its id is acknowledged; empty ids are ignored', () => {
    const annotations = { 'cutover.dev/abort': 'a1', 'cutover.dev/retry': 'r2', 'cutover.dev/pause': '' };
    expect(pendingActions(annotations, {})).toEqual([{ action: 'Abort', id: 'a1' }, { action: 'Retry', id: 'r2' }]);
    expect(pendingActions(annotations, { acknowledgedActions: [{ action: 'Abort', id: 'a1', at: '2026-11-22T10:00:00Z' }, { action: 'Retry', id: 'r1', at: '2026-11-22T10:00:00Z' }] }))
      .toEqual([{ action: 'Retry', id: 'r2' }]);
  });
});

describe('thresholdParts', () => {
  it('names the bounds in a fixed order', () => {
    expect(thresholdParts({ max: 0.01, min: 1, maxRatio: 1.1 })).toEqual(['>= 1', '<= 0.01', 'ratio <= 1.1']);
    expect(thresholdParts(undefined)).toEqual([]);
  });
});

describe('RollbackRequests', () => {
  it('enqueues once; a second request joins the first and both get the outcome of the reconcile that takes it', async () => {
    const enqueued: string[] = [];
    const r = new RollbackRequests((key) => enqueued.push(key));
    const a = r.request('ns/x', 'Alert', 'alert A firing', 'A');
    const b = r.request('ns/x', 'Webhook', 'by hand');
    expect(enqueued).toEqual(['ns/x']);
    const { request, settle } = r.take('ns/x');
    expect(request).toEqual({ trigger: 'Alert', reason: 'alert A firing', alert: 'A' });
    // One made while the reconcile runs joins it too.
    const c = r.request('ns/x', 'Alert', 'again');
    settle(true);
    settle(false);
    expect(await Promise.all([a, b, c])).toEqual([true, true, true]);
    expect(r.take('ns/x').request).toBeUndefined();
  });

  it('a reconcile that started without a request leaves one made meanwhile to the reconcile it enqueued', async () => {
    const enqueued: string[] = [];
    const r = new RollbackRequests((key) => enqueued.push(key));
    const before = r.take('ns/y');
    const p = r.request('ns/y', 'Manual', 'abort');
    before.settle(false);
    const next = r.take('ns/y');
    expect(next.request?.trigger).toBe('Manual');
    next.settle(true);
    expect(await p).toBe(true);
    expect(enqueued).toEqual(['ns/y']);
  });
});

describe('matchAlert', () => {
  const obj = (name: string, alerts?: Array<Record<string, string>>) => ({ metadata: { namespace: 'shop', name }, alerts });
  it('keys of the objects with a matcher whose labels are all in the alert; undefined matchers never match', () => {
    const objects = [obj('a', [{ service: 'listings-api' }]), obj('b', [{ service: 'listings-api', team: 'x' }]), obj('c')];
    const keys = matchAlert(objects, { alertname: 'Errors', service: 'listings-api' }, (o) => o.alerts?.map((matchLabels) => ({ matchLabels })));
    expect(keys).toEqual(['shop/a']);
  });
});

describe('invalidSpec', () => {
  it('names the field as admission does (spec.steps[1].weight), with reason InvalidSpec', () => {
    const spec = {
      stable: { service: 'legacy', port: 80 }, canary: { service: 'next', port: 80 },
      route: { httpRoute: { name: 'r' } }, steps: [{ weight: 10, pause: '1m' }, { weight: 150, pause: '1m' }],
    };
    const parsed = TrafficShiftSpecSchema.safeParse(spec);
    expect(parsed.success).toBe(false);
    const p = invalidSpec(parsed.error!.issues[0]!);
    expect(p).toMatchObject({ field: 'spec.steps[1].weight', reason: 'InvalidSpec' });
    const admitted = parseTrafficShift({ apiVersion: 'cutover.dev/v1alpha1', kind: 'TrafficShift', metadata: { name: 'x', namespace: 'ns' }, spec });
    expect(admitted.ok ? [] : admitted.issues.map((i) => i.path)).toContain(p.field);
  });
});
