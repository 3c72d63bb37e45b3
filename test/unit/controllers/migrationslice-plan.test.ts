// The MigrationSlice decision, table-tested: what was observed (slice, children, triggers, flag) →
// the next status and the exact effects, in order.
import { describe, expect, it } from 'vitest';
import { MigrationSliceSpecSchema, type MigrationSliceStatus } from '../../../operator/src/api/migrationslice.ts';
import {
  planMigrationSlice, triggersDue, childName, desiredFlagValue,
  type Effect, type ObservedShadowRun, type ObservedTrafficShift, type SliceObservation,
} from '../../../operator/src/controllers/migrationslice/plan.ts';

const T0 = Date.parse('2026-11-22T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

const base = {
  owner: 'team-listings',
  rollbackPlan: 'flip the flag off; route back to the monolith',
  legacy: { service: 'monolith', port: 8080 },
  target: { service: 'listings-api', port: 8080 },
  route: { httpRoute: { name: 'listings' } },
  featureFlag: { configMap: 'flags', key: 'listings-v2' },
  shadow: { percent: 100, duration: '1m' },
  shift: { steps: [{ weight: 10, pause: '1m' }, { weight: 100, pause: '1m' }] },
};
const spec = (over: Record<string, unknown> = {}) => MigrationSliceSpecSchema.parse({ ...base, ...over });

function obs(over: Partial<SliceObservation> = {}): SliceObservation {
  return { now: T0, generation: 1, name: 'listings', spec: spec(), status: {}, annotations: {}, deleting: false, hasFinalizer: true, problems: [], flagValue: 'false', ...over };
}

const st = (phase: MigrationSliceStatus['phase'], extra: Partial<MigrationSliceStatus> = {}): MigrationSliceStatus => ({
  observedGeneration: 1, phase, startedAt: iso(T0 - 60_000), history: [{ phase: 'Pending', at: iso(T0 - 61_000), reason: 'Created' }], ...extra,
});
const sr = (phase: ObservedShadowRun['phase'], extra: Partial<ObservedShadowRun> = {}): ObservedShadowRun => ({ name: 'listings-shadow', ownedByUs: true, deleting: false, phase, ...extra });
const ts = (phase: ObservedTrafficShift['phase'], extra: Partial<ObservedTrafficShift> = {}): ObservedTrafficShift => ({ name: 'listings-shift', ownedByUs: true, deleting: false, phase, ...extra });
const shadowing = st('Shadowing', { children: { shadowRun: { name: 'listings-shadow', phase: 'Running' } } });
const shifting = (extra: Partial<MigrationSliceStatus> = {}) => st('Shifting', { children: { shadowRun: { name: 'listings-shadow', phase: 'Passed', verdict: 'Pass' }, trafficShift: { name: 'listings-shift', phase: 'Progressing' } }, featureFlag: { enabled: true, previousValue: 'false', at: iso(T0 - 30_000) }, ...extra });

const types = (effects: Effect[]) => effects.map((e) => {
  switch (e.type) {
    case 'createChild': case 'deleteChild': return `${e.type}:${e.kind}`;
    case 'abortChild': return `abort:${e.kind}`;
    case 'setFlag': return `flag:${e.value}`;
    case 'restoreFlag': return 'flag:restore';
    case 'writeStatusNow': return 'status:flagKept';
    case 'requestChildRollback': return `requestChildRollback:${e.request.trigger}`;
    case 'scale': return `scale:${e.deployment}=${e.replicas}`;
    case 'event': return `event:${e.reason}`;
    case 'writeStatus': return 'status';
    default: return e.type;
  }
});
const cond = (s: MigrationSliceStatus, type: string) => s.conditions?.find((c) => c.type === type);

describe('planMigrationSlice', () => {
  const cases: Array<{ name: string; o: Partial<SliceObservation>; phase: string; effects: string[] }> = [
    { name: 'new slice with a shadow stage: finalizer, status, ShadowRun', o: { hasFinalizer: false }, phase: 'Shadowing', effects: ['addFinalizer', 'status', 'createChild:ShadowRun', 'event:Pending', 'event:Shadowing'] },
    { name: 'new slice without a shadow stage: status, flag on, TrafficShift', o: { spec: spec({ shadow: undefined }) }, phase: 'Shifting', effects: ['status:flagKept', 'flag:true', 'status', 'createChild:TrafficShift', 'event:Pending', 'event:Shifting'] },
    { name: 'shadow running: waits', o: { status: shadowing, shadowRun: sr('Running') }, phase: 'Shadowing', effects: ['status'] },
    { name: 'shadow passed: flag on, then the TrafficShift', o: { status: shadowing, shadowRun: sr('Passed', { verdict: 'Pass' }) }, phase: 'Shifting', effects: ['status:flagKept', 'flag:true', 'status', 'createChild:TrafficShift', 'event:Shifting'] },
    { name: 'shadow failed: Failed before any user traffic moved (no flag, no shift)', o: { status: shadowing, shadowRun: sr('Failed', { verdict: 'Fail', message: 'error-rate 0.2 > 0.01' }) }, phase: 'Failed', effects: ['status', 'event:Failed'] },
    { name: 'shadow child missing after the status named it (crash): created', o: { status: st('Shadowing', { children: { shadowRun: { name: 'listings-shadow' } } }) }, phase: 'Shadowing', effects: ['createChild:ShadowRun', 'status'] },
    { name: 'shadow child deleted after it had started: Failed', o: { status: shadowing }, phase: 'Failed', effects: ['status', 'event:Failed'] },
    { name: 'shift progressing: summarised', o: { status: shifting(), trafficShift: ts('Progressing', { currentStep: 0, currentWeight: 10 }) }, phase: 'Shifting', effects: ['status'] },
    { name: 'shift at its last step: Stabilizing', o: { status: shifting(), trafficShift: ts('Progressing', { currentStep: 1, currentWeight: 100 }) }, phase: 'Stabilizing', effects: ['status', 'event:Stabilizing'] },
    { name: 'shift completed: Completed', o: { status: shifting({ phase: 'Stabilizing' }), trafficShift: ts('Completed', { currentStep: 1, currentWeight: 100 }) }, phase: 'Completed', effects: ['status', 'event:Completed'] },
    { name: 'shift rolled back: RolledBack, flag back to false', o: { status: shifting(), trafficShift: ts('RolledBack', { currentWeight: 0, rollbackReason: 'Metric: error-rate 0.2 > 0.05' }) }, phase: 'RolledBack', effects: ['flag:restore', 'status', 'event:RolledBack'] },
    { name: 'alert: the child shift is asked to roll back first (through the API); the slice waits, status untouched', o: { status: shifting(), trafficShift: ts('Progressing', { currentWeight: 10 }), rollbackRequest: { trigger: 'Alert', reason: 'alert ListingsErrors firing', id: 'alert-1' } }, phase: 'Shifting', effects: ['requestChildRollback:Alert'] },
    { name: 'alert: the child already holds the request: the slice only waits', o: { status: shifting(), trafficShift: ts('Progressing', { currentWeight: 10, rollbackRequestId: 'slice-alert-1' }), rollbackRequest: { trigger: 'Alert', reason: 'alert ListingsErrors firing', id: 'alert-1' } }, phase: 'Shifting', effects: [] },
    { name: 'alert: once the child rolled back, the flag', o: { status: shifting(), trafficShift: ts('RolledBack', { currentWeight: 0, rollbackRequestId: 'slice-alert-1', rollback: { trigger: 'Alert', routeRestoredAt: iso(T0 - 100) } }), rollbackRequest: { trigger: 'Alert', reason: 'alert ListingsErrors firing', id: 'alert-1' } }, phase: 'RolledBack', effects: ['flag:restore', 'status', 'event:RolledBack'] },
    { name: 'a rollback recorded on the slice (another replica answered the hook): same as in memory', o: { status: shifting(), trafficShift: ts('Progressing', { currentWeight: 10 }), annotations: { 'cutover.dev/rollback-request': '{"id":"alert-9","trigger":"Alert","reason":"alert X firing","alert":"X"}' } }, phase: 'Shifting', effects: ['requestChildRollback:Alert'] },
    { name: 'a recorded rollback request that is not JSON: acknowledged with a Warning, nothing rolled back', o: { status: shifting(), trafficShift: ts('Progressing', { currentWeight: 10 }), annotations: { 'cutover.dev/rollback-request': 'now please' } }, phase: 'Shifting', effects: ['status', 'event:InvalidRollbackRequest'] },
    { name: 'alert after the shift completed, before the slice saw it: Completed, nothing rolled back, a Warning', o: { status: shifting({ phase: 'Stabilizing' }), trafficShift: ts('Completed', { currentStep: 1, currentWeight: 100 }), rollbackRequest: { trigger: 'Alert', reason: 'alert ListingsErrors firing' } }, phase: 'Completed', effects: ['status', 'event:RollbackTooLate', 'event:Completed'] },
    { name: 'abort after the shift completed, before the slice saw it: Completed, acknowledged, nothing rolled back', o: { status: shifting(), trafficShift: ts('Completed', { currentStep: 1, currentWeight: 100 }), annotations: { 'cutover.dev/abort': 'a2' } }, phase: 'Completed', effects: ['status', 'event:RollbackTooLate', 'event:Completed'] },
    { name: 'abort while shadowing: ShadowRun aborted, RolledBack', o: { status: shadowing, shadowRun: sr('Running'), annotations: { 'cutover.dev/abort': 'a1' } }, phase: 'RolledBack', effects: ['abort:ShadowRun', 'status', 'event:RolledBack'] },
    { name: 'terminal RolledBack with the flag still on (crash): flag off', o: { status: shifting({ phase: 'RolledBack' }), trafficShift: ts('RolledBack') }, phase: 'RolledBack', effects: ['flag:restore', 'status'] },
    { name: 'leftover child of an earlier run: deleted before anything starts', o: { status: st('Pending'), shadowRun: sr('Failed') }, phase: 'Pending', effects: ['deleteChild:ShadowRun', 'status'] },
    { name: 'child owned by someone else: Stalled ChildConflict', o: { status: st('Pending'), trafficShift: ts('Progressing', { ownedByUs: false }) }, phase: 'Pending', effects: ['status', 'event:ChildConflict'] },
    { name: 'missing ConfigMap: Stalled, nothing created', o: { problems: [{ field: 'spec.featureFlag.configMap', message: 'ConfigMap shop/flags not found', reason: 'ConfigMapNotFound' }] }, phase: 'Pending', effects: ['status', 'event:Pending', 'event:ConfigMapNotFound'] },
    { name: 'deleted while shifting: the shift is asked to roll back first; nothing else yet', o: { status: shifting(), trafficShift: ts('Progressing', { currentWeight: 10 }), shadowRun: sr('Passed'), deleting: true }, phase: 'Shifting', effects: ['requestChildRollback:Manual'] },
    { name: 'deleted while shifting, the shift rolled back: route at stable, mirror removed, flag off, children deleted, finalizer last', o: { status: shifting(), trafficShift: ts('RolledBack', { currentWeight: 0, rollbackRequestId: 'slice-deleted' }), shadowRun: sr('Passed'), deleting: true }, phase: 'Shifting', effects: ['restoreRoute', 'removeMirror', 'flag:restore', 'deleteChild:TrafficShift', 'deleteChild:ShadowRun', 'event:Deleted', 'removeFinalizer'] },
    { name: 'deleted after completion: only the finalizer', o: { status: shifting({ phase: 'Completed' }), trafficShift: ts('Completed'), deleting: true }, phase: 'Completed', effects: ['removeFinalizer'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const p = planMigrationSlice(obs(c.o));
      expect(p.status.phase).toBe(c.phase);
      expect(types(p.effects)).toEqual(c.effects);
    });
  }

  describe('rollback order: route → feature flag → workers → status and Events (DESIGN §2)', () => {
    const withWorkers = spec({ workers: [{ deployment: 'score-worker', replicas: 2, legacy: { deployment: 'monolith-worker', replicas: 0 } }] });
    const records = [{ deployment: 'score-worker', previousReplicas: 0, readyReplicas: 2 }];
    const live = ts('Progressing', { currentStep: 0, currentWeight: 10, workers: records });
    const rolledBack = (trigger: 'Metric' | 'Alert' | 'Deadline') => ts('RolledBack', { currentWeight: 0, rollbackReason: `${trigger}: x`, rollback: { trigger, fromWeight: 10, routeRestoredAt: iso(T0 - 200) }, workers: records });
    const route = new Set(['restoreRoute']);
    /** Route (here, or already done by the child) before the flag, the flag before the workers, then status, then Events. */
    const inOrder = (effects: string[], routeByChild: boolean) => {
      const at = (f: (t: string) => boolean) => effects.findIndex(f);
      const r = at((t) => route.has(t));
      const flag = at((t) => t === 'flag:restore');
      const workers = at((t) => t.startsWith('scale:'));
      const status = at((t) => t === 'status');
      const events = at((t) => t.startsWith('event:'));
      expect(routeByChild ? r : r >= 0 && r < flag, effects.join(' ')).toBe(routeByChild ? -1 : true);
      expect(flag >= 0 && flag < workers && workers < status && status < events, effects.join(' ')).toBe(true);
    };

    it("the child's own metric breach: the child set the route back; the slice turns the flag off, then restores the workers", () => {
      const p = planMigrationSlice(obs({ spec: withWorkers, status: shifting(), trafficShift: rolledBack('Metric') }));
      expect(p.status.phase).toBe('RolledBack');
      expect(types(p.effects)).toEqual(['flag:restore', 'scale:score-worker=0', 'status', 'event:RolledBack']);
      inOrder(types(p.effects), true);
      expect(p.status.rollback).toEqual({ trigger: 'Metric', reason: 'Metric: x', at: iso(T0), fromWeight: 10, routeRestoredAt: iso(T0 - 200), featureFlagRestoredAt: iso(T0), workersRestoredAt: iso(T0), completedAt: iso(T0) });
    });

    it("split workers: the flag waits until the child has brought the legacy consumers back and scaled the new ones down", () => {
      const split = spec({ workers: [{ deployment: 'score-worker', split: { totalReplicas: 4 }, legacy: { deployment: 'monolith-worker' } }] });
      const splitRecords = [{ deployment: 'score-worker', split: true, previousReplicas: 0, legacyDeployment: 'monolith-worker', legacyPreviousReplicas: 4, replicas: 1, legacyReplicas: 3 }];
      const child = (done: boolean) => ts('RolledBack', { currentWeight: 0, rollbackReason: 'Metric: x', workers: splitRecords, rollback: { trigger: 'Metric', fromWeight: 25, routeRestoredAt: iso(T0 - 200), ...(done ? { workersRestoredAt: iso(T0 - 50), completedAt: iso(T0 - 50) } : {}) } });
      const waiting = planMigrationSlice(obs({ spec: split, status: shifting(), trafficShift: child(false) }));
      expect(waiting.status.phase).toBe('RolledBack');
      expect(types(waiting.effects).filter((t) => t.startsWith('flag'))).toEqual([]);
      expect(waiting.status.rollback?.completedAt).toBeUndefined();
      const after = planMigrationSlice(obs({ spec: split, status: waiting.status, trafficShift: child(true), now: T0 + 1000 }));
      // The slice scales nothing itself: the child restored its split workers, legacy first.
      expect(types(after.effects).filter((t) => t.startsWith('flag') || t.startsWith('scale'))).toEqual(['flag:restore']);
      expect(after.status.rollback).toMatchObject({ featureFlagRestoredAt: iso(T0 + 1000), workersRestoredAt: iso(T0 - 50), completedAt: iso(T0 + 1000) });
    });

    it("the child's deadline: same order, trigger Deadline", () => {
      const p = planMigrationSlice(obs({ spec: withWorkers, status: shifting(), trafficShift: rolledBack('Deadline') }));
      expect(types(p.effects)).toEqual(['flag:restore', 'scale:score-worker=0', 'status', 'event:RolledBack']);
      expect(p.status.rollback?.trigger).toBe('Deadline');
    });

    it('an alert through the slice: the child rolls the route back first (asked through the API, not awaited), then flag, then workers', () => {
      const request = { trigger: 'Alert' as const, reason: 'alert ListingsErrors firing', alert: 'ListingsErrors', id: 'alert-7' };
      const ask = planMigrationSlice(obs({ spec: withWorkers, status: shifting(), trafficShift: live, rollbackRequest: request }));
      expect(types(ask.effects)).toEqual(['requestChildRollback:Alert']);
      expect(ask.effects[0]).toEqual({ type: 'requestChildRollback', request: { id: 'slice-alert-7', trigger: 'Alert', reason: 'alert ListingsErrors firing', alert: 'ListingsErrors' } });
      expect(ask.waitingForChild).toBe(true);
      expect(ask.status).toEqual(shifting());
      const child = ts('RolledBack', { currentWeight: 0, rollbackRequestId: 'slice-alert-7', rollback: { trigger: 'Alert', fromWeight: 10, routeRestoredAt: iso(T0 + 50) }, workers: records });
      const p = planMigrationSlice(obs({ spec: withWorkers, status: shifting(), trafficShift: child, rollbackRequest: request, now: T0 + 100 }));
      expect(types(p.effects)).toEqual(['flag:restore', 'scale:score-worker=0', 'status', 'event:RolledBack']);
      inOrder(types(p.effects), true);
      expect(p.status.rollback).toMatchObject({ trigger: 'Alert', alert: 'ListingsErrors', routeRestoredAt: iso(T0 + 50), featureFlagRestoredAt: iso(T0 + 100), workersRestoredAt: iso(T0 + 100), completedAt: iso(T0 + 100) });
      expect(p.status.acknowledgedActions).toContainEqual({ action: 'Rollback', id: 'alert-7', at: iso(T0 + 100) });
    });

    it('an alert that reached the child first: the route is already back; flag, then workers', () => {
      const p = planMigrationSlice(obs({ spec: withWorkers, status: shifting(), trafficShift: rolledBack('Alert'), rollbackRequest: { trigger: 'Alert', reason: 'alert ListingsErrors firing', alert: 'ListingsErrors' } }));
      expect(types(p.effects)).toEqual(['flag:restore', 'scale:score-worker=0', 'status', 'event:RolledBack']);
      expect(p.status.rollback?.routeRestoredAt).toBe(iso(T0 - 200));
    });

    it('kubectl cutover abort on the slice: route, flag, workers', () => {
      const ask = planMigrationSlice(obs({ spec: withWorkers, status: shifting(), trafficShift: live, annotations: { 'cutover.dev/abort': 'a1' } }));
      expect(types(ask.effects)).toEqual(['requestChildRollback:Manual']);
      expect(ask.status.acknowledgedActions).toBeUndefined(); // acknowledged when done, not when asked
      const p = planMigrationSlice(obs({ spec: withWorkers, status: shifting(), trafficShift: rolledBack('Metric'), annotations: { 'cutover.dev/abort': 'a1' } }));
      expect(types(p.effects)).toEqual(['flag:restore', 'scale:score-worker=0', 'status', 'event:RolledBack']);
      inOrder(types(p.effects), true);
      expect(p.status.rollback?.trigger).toBe('Manual');
    });

    it("the slice keeps a copy of the child's worker records in status.children", () => {
      const p = planMigrationSlice(obs({ spec: withWorkers, status: shifting(), trafficShift: live }));
      expect(p.status.children?.trafficShift?.workers).toEqual([{ deployment: 'score-worker', previousReplicas: 0 }]);
    });

    it('a child deleted mid-shift: the slice sets the route back itself, then the flag, then the workers from its copy', () => {
      const seen = planMigrationSlice(obs({ spec: withWorkers, status: shifting(), trafficShift: live })).status;
      const p = planMigrationSlice(obs({ spec: withWorkers, status: { ...seen, currentWeight: 10 } }));
      expect(types(p.effects)).toEqual(['restoreRoute', 'flag:restore', 'scale:score-worker=0', 'status', 'event:RolledBack']);
      inOrder(types(p.effects), false);
      expect(p.status.rollback).toMatchObject({ trigger: 'Manual', fromWeight: 10, routeRestoredAt: iso(T0), featureFlagRestoredAt: iso(T0), workersRestoredAt: iso(T0) });
    });

    it('a child deleted before it recorded any worker: route and flag, nothing to scale', () => {
      const p = planMigrationSlice(obs({ spec: withWorkers, status: shifting({ currentWeight: 10 }) }));
      expect(types(p.effects)).toEqual(['restoreRoute', 'flag:restore', 'status', 'event:RolledBack']);
      expect(p.status.rollback?.workersRestoredAt).toBeUndefined();
    });

    it('crash safety: a restart before the status write does flag and workers again, in order; after it, nothing is repeated', () => {
      const first = planMigrationSlice(obs({ spec: withWorkers, status: shifting(), trafficShift: rolledBack('Metric') }));
      // The process died before its status write: the persisted status is still Shifting.
      const again = planMigrationSlice(obs({ spec: withWorkers, status: shifting(), trafficShift: rolledBack('Metric'), now: T0 + 1000 }));
      expect(types(again.effects)).toEqual(types(first.effects));
      const after = planMigrationSlice(obs({ spec: withWorkers, status: first.status, trafficShift: rolledBack('Metric'), now: T0 + 2000 }));
      expect(types(after.effects)).toEqual(['status']);
      expect(after.status.rollback).toEqual(first.status.rollback);
    });

    it('a child that restored its workers itself (an older operator) is not scaled again', () => {
      const old = ts('RolledBack', { rollback: { trigger: 'Metric', routeRestoredAt: iso(T0 - 300), workersRestoredAt: iso(T0 - 300) }, workers: records });
      const p = planMigrationSlice(obs({ spec: withWorkers, status: shifting(), trafficShift: old }));
      expect(types(p.effects)).toEqual(['flag:restore', 'status', 'event:RolledBack']);
      expect(p.status.rollback?.workersRestoredAt).toBe(iso(T0 - 300));
    });

    it('deleted mid-shift: route, mirror, flag, workers, then the children and the finalizer', () => {
      const ask = planMigrationSlice(obs({ spec: withWorkers, status: shifting(), trafficShift: live, shadowRun: sr('Passed'), deleting: true }));
      expect(types(ask.effects)).toEqual(['requestChildRollback:Manual']);
      const p = planMigrationSlice(obs({ spec: withWorkers, status: shifting(), trafficShift: rolledBack('Metric'), shadowRun: sr('Passed'), deleting: true }));
      expect(types(p.effects)).toEqual(['restoreRoute', 'removeMirror', 'flag:restore', 'scale:score-worker=0', 'deleteChild:TrafficShift', 'deleteChild:ShadowRun', 'event:Deleted', 'removeFinalizer']);
    });

    it('deleting a slice that has rolled back does not scale the workers again', () => {
      const done = planMigrationSlice(obs({ spec: withWorkers, status: shifting(), trafficShift: rolledBack('Metric') })).status;
      const p = planMigrationSlice(obs({ spec: withWorkers, status: done, trafficShift: rolledBack('Metric'), deleting: true }));
      expect(types(p.effects)).toEqual(['restoreRoute', 'removeMirror', 'deleteChild:TrafficShift', 'event:Deleted', 'removeFinalizer']);
    });
  });

  it('records every phase change in history, with time and reason', () => {
    const p1 = planMigrationSlice(obs({ spec: spec({ shadow: undefined }) }));
    expect(p1.status.history?.map((h) => [h.phase, h.reason])).toEqual([['Pending', 'Created'], ['Shifting', 'ShiftStarted']]);
    expect(p1.status.featureFlag).toEqual({ enabled: true, value: 'true', previousValue: 'false', at: iso(T0) });
    const p2 = planMigrationSlice(obs({ now: T0 + 5000, spec: spec({ shadow: undefined }), status: p1.status, trafficShift: ts('RolledBack', { rollbackReason: 'Metric: error-rate 0.2 > 0.05' }) }));
    expect(p2.status.history?.map((h) => h.phase)).toEqual(['Pending', 'Shifting', 'RolledBack']);
    expect(p2.status.history?.at(-1)?.at).toBe(iso(T0 + 5000));
    expect(p2.status.featureFlag?.enabled).toBe(false);
    expect(cond(p2.status, 'Ready')?.status).toBe('False');
    expect(cond(p2.status, 'Degraded')?.status).toBe('True');
  });

  it('summarises the children: phase, weight, verdict', () => {
    const p = planMigrationSlice(obs({ status: shifting(), trafficShift: ts('Progressing', { currentStep: 0, currentWeight: 10 }) }));
    expect(p.status.children).toEqual({ shadowRun: { name: 'listings-shadow', phase: 'Passed', verdict: 'Pass' }, trafficShift: { name: 'listings-shift', phase: 'Progressing', currentStep: 0, currentWeight: 10 } });
    expect(p.status.currentWeight).toBe(10);
  });

  it('surfaces a Stalled child on the slice', () => {
    const p = planMigrationSlice(obs({ status: shifting(), trafficShift: ts('Pending', { stalled: { reason: 'DeploymentNotFound', message: 'spec.workers[0].deployment: Deployment shop/score-worker not found' } }) }));
    expect(cond(p.status, 'Stalled')).toMatchObject({ status: 'True', reason: 'DeploymentNotFound', message: 'TrafficShift listings-shift: spec.workers[0].deployment: Deployment shop/score-worker not found' });
    expect(cond(p.status, 'Ready')?.reason).toBe('DeploymentNotFound');
  });

  describe('startWhen', () => {
    const trig = spec({ shadow: undefined, startWhen: [{ name: 'score-batch-duration', prometheus: { query: 'q' }, above: 1800 }] });
    it('waits in Pending with a condition naming the trigger that is not met', () => {
      const p = planMigrationSlice(obs({ spec: trig, triggers: [{ name: 'score-batch-duration', value: 1200, message: 'score-batch-duration = 1200' }] }));
      expect(p.status.phase).toBe('Pending');
      expect(types(p.effects)).toEqual(['status', 'event:Pending']);
      expect(cond(p.status, 'Progressing')).toMatchObject({ status: 'True', reason: 'WaitingForTrigger' });
      expect(cond(p.status, 'Ready')?.message).toBe('waiting for a startWhen trigger: score-batch-duration is 1200 (needs > 1800)');
      expect(p.status.triggers?.[0]).toMatchObject({ name: 'score-batch-duration', value: 1200, met: false });
      expect(p.requeueAfterMs).toBe(2000);
    });
    it('starts when the metric crosses the threshold', () => {
      const waiting = planMigrationSlice(obs({ spec: trig, triggers: [{ name: 'score-batch-duration', value: 1200, message: '' }] })).status;
      const p = planMigrationSlice(obs({ spec: trig, status: waiting, now: T0 + 2000, triggers: [{ name: 'score-batch-duration', value: 2400, message: '' }] }));
      expect(p.status.phase).toBe('Shifting');
      expect(p.status.triggeredAt).toBe(iso(T0 + 2000));
      expect(types(p.effects)).toEqual(['status:flagKept', 'flag:true', 'status', 'createChild:TrafficShift', 'event:Triggered', 'event:Shifting']);
    });
    it('no data never starts a slice', () => {
      const p = planMigrationSlice(obs({ spec: trig, triggers: [{ name: 'score-batch-duration', message: 'empty result' }] }));
      expect(p.status.phase).toBe('Pending');
      expect(p.status.triggers?.[0]?.met).toBe(false);
    });
    it('`for`: the condition must hold that long', () => {
      const held = spec({ shadow: undefined, startWhen: [{ name: 'b', prometheus: { query: 'q' }, above: 1, for: '10s' }] });
      const p1 = planMigrationSlice(obs({ spec: held, triggers: [{ name: 'b', value: 2, message: '' }] }));
      expect(p1.status.phase).toBe('Pending');
      expect(p1.status.triggers?.[0]?.since).toBe(iso(T0));
      const p2 = planMigrationSlice(obs({ spec: held, status: p1.status, now: T0 + 5000, triggers: [{ name: 'b', value: 2, message: '' }] }));
      expect(p2.status.phase).toBe('Pending');
      const p3 = planMigrationSlice(obs({ spec: held, status: p2.status, now: T0 + 10_000, triggers: [{ name: 'b', value: 2, message: '' }] }));
      expect(p3.status.phase).toBe('Shifting');
    });
    it('unchanged values are not rewritten at every poll', () => {
      const p1 = planMigrationSlice(obs({ spec: trig, triggers: [{ name: 'score-batch-duration', value: 1200, message: 'a' }] }));
      const p2 = planMigrationSlice(obs({ spec: trig, status: p1.status, now: T0 + 2000, triggers: [{ name: 'score-batch-duration', value: 1300, message: 'b' }] }));
      expect(p2.status.triggers).toEqual(p1.status.triggers);
      expect(p2.status.message).toBe(p1.status.message);
    });
    it('is measured only while Pending (and again after a spec change)', () => {
      expect(triggersDue(trig, {}, 1)).toBe(true);
      expect(triggersDue(trig, { observedGeneration: 1, phase: 'Pending' }, 1)).toBe(true);
      expect(triggersDue(trig, { observedGeneration: 1, phase: 'Shifting', triggeredAt: iso(T0) }, 1)).toBe(false);
      expect(triggersDue(trig, { observedGeneration: 1, phase: 'RolledBack', triggeredAt: iso(T0) }, 2)).toBe(true);
      expect(triggersDue(spec(), {}, 1)).toBe(false);
    });
  });

  it('retireLegacyAfter: legacy workers scaled once the delay after completion is over', () => {
    const s = spec({ shadow: undefined, retireLegacyAfter: '1h', workers: [{ deployment: 'score-worker', replicas: 3, legacy: { deployment: 'monolith-worker', replicas: 0 } }] });
    const done = shifting({ phase: 'Completed', completedAt: iso(T0) });
    const early = planMigrationSlice(obs({ spec: s, status: done, now: T0 + 1000 }));
    expect(types(early.effects)).toEqual(['status']);
    expect(early.requeueAfterMs).toBe(3_599_000);
    const due = planMigrationSlice(obs({ spec: s, status: done, now: T0 + 3_600_000 }));
    expect(types(due.effects)).toEqual(['status', 'scale:monolith-worker=0', 'event:LegacyRetired']);
    expect(due.status.legacyRetiredAt).toBe(iso(T0 + 3_600_000));
  });

  describe('feature flag providers and modes (issue 15)', () => {
    const three = { steps: [{ weight: 10, pause: '1m' }, { weight: 50, pause: '1m' }, { weight: 100, pause: '1m' }] };
    const pct = spec({ shadow: undefined, shift: three, featureFlag: { configMap: 'consumers', key: 'share', mode: 'Percentage' } });
    const onAt1 = spec({ shadow: undefined, shift: three, featureFlag: { http: { url: 'http://score-api:8080/admin/flags', body: '{"flag":"v2","enabled":{{value}}}' }, onAtStep: 1 } });
    const started = (s: ReturnType<typeof spec>, o: Partial<SliceObservation> = {}) => planMigrationSlice(obs({ spec: s, flagValue: '5', ...o }));

    it('desired value: OnOff from onAtStep, Percentage the child weight, the last weight once completed', () => {
      const steps = three.steps;
      expect(desiredFlagValue(pct.featureFlag!, steps, undefined)).toBe('0');
      expect(desiredFlagValue(pct.featureFlag!, steps, { phase: 'Progressing', currentStep: 1, currentWeight: 50 })).toBe('50');
      expect(desiredFlagValue(pct.featureFlag!, steps, { phase: 'Completed', currentStep: 2, currentWeight: 0 })).toBe('100');
      expect(desiredFlagValue(onAt1.featureFlag!, steps, undefined)).toBe('false');
      expect(desiredFlagValue(onAt1.featureFlag!, steps, { phase: 'Progressing', currentStep: 0, currentWeight: 10 })).toBe('false');
      expect(desiredFlagValue(onAt1.featureFlag!, steps, { phase: 'Progressing', currentStep: 1, currentWeight: 50 })).toBe('true');
      expect(desiredFlagValue(spec().featureFlag!, steps, undefined)).toBe('true');
    });

    it('before any work moves: the previous value kept (its own write), the flag set to its start value, then the TrafficShift', () => {
      const p = started(pct);
      expect(types(p.effects)).toEqual(['status:flagKept', 'flag:0', 'status', 'createChild:TrafficShift', 'event:Pending', 'event:Shifting']);
      const kept = p.effects.find((e) => e.type === 'writeStatusNow') as Extract<Effect, { type: 'writeStatusNow' }>;
      expect(kept.status.featureFlag).toEqual({ enabled: false, previousValue: '5', at: iso(T0) });
      expect(kept.status.children).toBeUndefined();
      expect(p.status.featureFlag).toEqual({ enabled: true, value: '0', previousValue: '5', at: iso(T0) });
    });

    it('Percentage follows the child weight; the last weight when it completes', () => {
      const p0 = started(pct);
      const at10 = planMigrationSlice(obs({ spec: pct, status: p0.status, now: T0 + 1000, trafficShift: ts('Progressing', { currentStep: 0, currentWeight: 10 }) }));
      expect(types(at10.effects)).toEqual(['flag:10', 'status']);
      const again = planMigrationSlice(obs({ spec: pct, status: at10.status, now: T0 + 2000, trafficShift: ts('Progressing', { currentStep: 0, currentWeight: 10 }) }));
      expect(types(again.effects)).not.toContain('flag:10');
      const done = planMigrationSlice(obs({ spec: pct, status: at10.status, now: T0 + 3000, trafficShift: ts('Completed', { currentStep: 2, currentWeight: 100 }) }));
      expect(types(done.effects)).toEqual(['flag:100', 'status', 'event:Completed']);
      expect(done.status.featureFlag).toMatchObject({ enabled: true, value: '100' });
    });

    it('OnOff with onAtStep: off before the step, on at it', () => {
      const p0 = started(onAt1, { flagValue: undefined });
      expect(types(p0.effects)).toContain('flag:false');
      const s0 = planMigrationSlice(obs({ spec: onAt1, status: p0.status, now: T0 + 1000, trafficShift: ts('Progressing', { currentStep: 0, currentWeight: 10 }) }));
      expect(types(s0.effects)).not.toContain('flag:true');
      const s1 = planMigrationSlice(obs({ spec: onAt1, status: s0.status, now: T0 + 2000, trafficShift: ts('Progressing', { currentStep: 1, currentWeight: 50 }) }));
      expect(types(s1.effects)).toEqual(['flag:true', 'status']);
    });

    it('a flag that cannot be set: Stalled naming the field, nothing created; retried later, then the shift starts', () => {
      const first = started(onAt1);
      const kept = (first.effects[0] as Extract<Effect, { type: 'writeStatusNow' }>).status;
      const flagError = { value: 'false', field: 'spec.featureFlag.http', reason: 'FlagNotSet', message: 'POST http://score-api:8080/admin/flags answered HTTP 500 (5 attempts)', answer: { status: 500, attempts: 5 } };
      const failed = planMigrationSlice(obs({ spec: onAt1, status: kept, flagError }));
      expect(types(failed.effects)).toEqual(['status', 'event:FlagNotSet']);
      expect(failed.status.phase).toBe('Pending');
      expect(failed.status.children).toBeUndefined();
      expect(failed.status.featureFlag).toMatchObject({ enabled: false, error: flagError.message, answer: { status: 500, attempts: 5 } });
      expect(cond(failed.status, 'Stalled')).toMatchObject({ status: 'True', reason: 'FlagNotSet', message: `spec.featureFlag.http: ${flagError.message}; nothing moved` });
      expect(failed.requeueAfterMs).toBe(5000);
      const retry = planMigrationSlice(obs({ spec: onAt1, status: failed.status, now: T0 + 5000 }));
      expect(types(retry.effects)).toEqual(['flag:false', 'status', 'createChild:TrafficShift', 'event:Shifting']);
      expect(retry.status.featureFlag?.error).toBeUndefined();
      expect(cond(retry.status, 'Stalled')).toBeUndefined();
    });

    it('a crash after the previous value was kept: kept once, the flag set again', () => {
      const kept = (started(pct).effects[0] as Extract<Effect, { type: 'writeStatusNow' }>).status;
      const p = planMigrationSlice(obs({ spec: pct, status: kept, flagValue: '0', now: T0 + 100 }));
      expect(types(p.effects)).toEqual(['flag:0', 'status', 'createChild:TrafficShift', 'event:Shifting']);
      expect(p.status.featureFlag?.previousValue).toBe('5');
    });

    it('a flag another slice drives: Stalled naming it, nothing set or created', () => {
      const p = started(pct, { flagConflict: 'score-a' });
      expect(types(p.effects)).toEqual(['status', 'event:Pending', 'event:FlagConflict']);
      expect(p.status.featureFlag).toBeUndefined();
      expect(cond(p.status, 'Stalled')?.message).toBe('spec.featureFlag: ConfigMap consumers key share is driven by MigrationSlice score-a; this slice starts when that one has completed, rolled back or been deleted');
    });

    it('a flag that cannot follow mid-shift: Stalled, the value it has kept in status', () => {
      const p0 = started(pct);
      const flagError = { value: '50', field: 'spec.featureFlag.configMap', reason: 'ConfigMapNotFound', message: 'ConfigMap shop/consumers not found' };
      const p = planMigrationSlice(obs({ spec: pct, status: { ...p0.status, featureFlag: { ...p0.status.featureFlag!, value: '10' } }, trafficShift: ts('Progressing', { currentStep: 1, currentWeight: 50 }), flagError }));
      expect(types(p.effects)).not.toContain('flag:50');
      expect(p.status.featureFlag).toMatchObject({ value: '10', error: flagError.message });
      expect(cond(p.status, 'Stalled')?.message).toBe('spec.featureFlag.configMap: ConfigMap shop/consumers not found; the flag stays at 10 while the shift is at 50%');
    });

    it('rollback restores the value kept before the first write', () => {
      const p0 = started(pct);
      const rolled = planMigrationSlice(obs({ spec: pct, status: { ...p0.status, phase: 'Shifting', children: { trafficShift: { name: 'listings-shift' } } }, trafficShift: ts('RolledBack', { currentWeight: 0, rollback: { trigger: 'Metric', routeRestoredAt: iso(T0) } }) }));
      const restore = rolled.effects.find((e) => e.type === 'restoreFlag');
      expect(restore).toEqual({ type: 'restoreFlag', previous: '5' });
      expect(rolled.status.featureFlag).toMatchObject({ enabled: false, value: '5' });
      expect(rolled.status.rollback?.featureFlagRestoredAt).toBe(iso(T0));
    });
  });

  it('names children after the slice', () => {
    expect(childName('listings', 'ShadowRun')).toBe('listings-shadow');
    expect(childName('listings', 'TrafficShift')).toBe('listings-shift');
  });
});
