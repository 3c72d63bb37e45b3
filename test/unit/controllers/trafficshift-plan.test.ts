// The TrafficShift decision, table-tested: each case gives what was observed and checks the next
// status and the exact effects, in order (status before weights on the way forward; route first on
// the way back).
import { describe, expect, it } from 'vitest';
import { TrafficShiftSpecSchema, type TrafficShiftStatus } from '../../../operator/src/api/trafficshift.ts';
import { planTrafficShift, analysisDue, type ShiftObservation, type Effect } from '../../../operator/src/controllers/trafficshift/plan.ts';
import { memoOf, statusPersistence, withMemo } from '../../../operator/src/controllers/trafficshift/persistence.ts';
import type { MetricResult } from '../../../operator/src/analysis/evaluate.ts';

const T0 = Date.parse('2026-11-22T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

const spec = (over: Record<string, unknown> = {}) => TrafficShiftSpecSchema.parse({
  route: { httpRoute: { name: 'listings' } },
  stable: { service: 'monolith', port: 8080 },
  canary: { service: 'listings-api', port: 8080 },
  steps: [{ weight: 10, pause: '1m' }, { weight: 50, pause: '1m' }, { weight: 100, pause: '1m' }],
  analysis: { interval: '10s', failureLimit: 2, inconclusiveLimit: 2, metrics: [{ name: 'error-rate', prometheus: { query: 'x' }, max: 0.01 }] },
  ...over,
});

function obs(over: Partial<ShiftObservation> = {}): ShiftObservation {
  return { now: T0, generation: 1, spec: spec(), status: {}, annotations: {}, problems: [], deployments: {}, ...over };
}

const pass: MetricResult[] = [{ name: 'error-rate', result: 'Pass', value: 0.001, message: 'error-rate 0.001 <= 0.01' }];
const fail: MetricResult[] = [{ name: 'error-rate', result: 'Fail', value: 0.2, message: 'error-rate 0.2 > 0.01' }];
const noData: MetricResult[] = [{ name: 'error-rate', result: 'Inconclusive', message: 'error-rate: empty result' }];

const progressing = (step: number, weight: number, startedAgoMs: number, extra: Partial<TrafficShiftStatus> = {}): TrafficShiftStatus => ({
  observedGeneration: 1, phase: 'Progressing', currentStep: step, currentWeight: weight,
  startedAt: iso(T0 - 600_000), stepStartedAt: iso(T0 - startedAgoMs), lastProgressAt: iso(T0 - startedAgoMs),
  analysis: { consecutiveFailures: 0, consecutiveInconclusive: 0 }, ...extra,
});

const types = (effects: Effect[]) => effects.map((e) => (e.type === 'setWeights' ? `weights:${e.canary}` : e.type === 'scale' ? `scale:${e.deployment}=${e.replicas}` : e.type === 'event' ? `event:${e.reason}` : 'status'));
const cond = (s: TrafficShiftStatus, type: string) => s.conditions?.find((c) => c.type === type);

describe('planTrafficShift', () => {
  it('a new shift without workers starts step 1: status first, then the weight', () => {
    const p = planTrafficShift(obs({ routeCanaryWeight: 0 }));
    expect(p.status.phase).toBe('Progressing');
    expect(p.status.currentStep).toBe(0);
    expect(p.status.currentWeight).toBe(10);
    expect(types(p.effects)).toEqual(['status', 'weights:10', 'event:StepStarted']);
    expect(cond(p.status, 'Ready')?.status).toBe('False');
    expect(cond(p.status, 'Progressing')?.status).toBe('True');
    // kstatus: Reconciling=True with Progressing, so a kstatus reader does not call 10% Current.
    expect(cond(p.status, 'Reconciling')).toMatchObject({ status: 'True', reason: 'StepInProgress' });
  });

  it('scales workers and waits for them Ready before the first weight change', () => {
    const s = spec({ workers: [{ deployment: 'score-worker', replicas: 3 }] });
    const p = planTrafficShift(obs({ spec: s, deployments: { 'score-worker': { name: 'score-worker', exists: true, replicas: 0, readyReplicas: 0 } } }));
    expect(p.status.phase).toBe('Pending');
    expect(types(p.effects)).toEqual(['status', 'scale:score-worker=3', 'event:PhaseChanged']);
    expect(p.status.workers?.[0]?.previousReplicas).toBe(0);
    expect(p.requeueAfterMs).toBe(1000);
    const p2 = planTrafficShift(obs({ spec: s, status: p.status, deployments: { 'score-worker': { name: 'score-worker', exists: true, replicas: 3, readyReplicas: 2 } } }));
    expect(types(p2.effects).filter((t) => t.startsWith('weights'))).toEqual([]);
    const p3 = planTrafficShift(obs({ spec: s, status: p2.status, deployments: { 'score-worker': { name: 'score-worker', exists: true, replicas: 3, readyReplicas: 3 } } }));
    expect(p3.status.phase).toBe('Progressing');
    expect(types(p3.effects)).toEqual(['status', 'weights:10', 'event:StepStarted']);
  });

  it('holds the step until its pause ends, and wakes at the earlier of step end and next analysis', () => {
    const p = planTrafficShift(obs({ status: progressing(0, 10, 20_000, { lastAnalysisAt: iso(T0 - 4000) }), routeCanaryWeight: 10 }));
    expect(p.status.currentStep).toBe(0);
    expect(types(p.effects)).toEqual(['status']);
    expect(p.requeueAfterMs).toBe(6000);
  });

  it('advances when the pause ended and the last analysis in this step passed', () => {
    const st = progressing(0, 10, 61_000, { lastAnalysisAt: iso(T0 - 1000) });
    const p = planTrafficShift(obs({ status: st, routeCanaryWeight: 10, analysis: pass }));
    expect(p.status.currentStep).toBe(1);
    expect(p.status.currentWeight).toBe(50);
    expect(p.status.stepStartedAt).toBe(iso(T0));
    expect(types(p.effects)).toEqual(['status', 'weights:50', 'event:StepStarted']);
  });

  it('never promotes on missing data: an inconclusive run at the end of the pause keeps the step', () => {
    const st = progressing(0, 10, 61_000, { lastAnalysisAt: iso(T0 - 10_000) });
    const p = planTrafficShift(obs({ status: st, routeCanaryWeight: 10, analysis: noData }));
    expect(p.status.currentStep).toBe(0);
    expect(p.status.analysis?.consecutiveInconclusive).toBe(1);
    expect(types(p.effects)).not.toContain('weights:50');
  });

  it('rolls back after failureLimit CONSECUTIVE failures: route first, then status, then the Event', () => {
    const first = planTrafficShift(obs({ status: progressing(1, 50, 5000), routeCanaryWeight: 50, analysis: fail }));
    expect(first.status.phase).toBe('Progressing');
    expect(first.status.analysis?.consecutiveFailures).toBe(1);
    const passed = planTrafficShift(obs({ status: first.status, routeCanaryWeight: 50, analysis: pass, now: T0 + 10_000 }));
    expect(passed.status.analysis?.consecutiveFailures).toBe(0);
    const f1 = planTrafficShift(obs({ status: passed.status, routeCanaryWeight: 50, analysis: fail, now: T0 + 20_000 }));
    const f2 = planTrafficShift(obs({ status: f1.status, routeCanaryWeight: 50, analysis: fail, now: T0 + 30_000 }));
    expect(f2.status.phase).toBe('RolledBack');
    expect(f2.status.rollback).toMatchObject({ trigger: 'Metric', reason: 'error-rate 0.2 > 0.01', fromStep: 1, fromWeight: 50 });
    expect(f2.status.currentWeight).toBe(0);
    expect(types(f2.effects)).toEqual(['weights:0', 'status', 'event:RolledBack']);
    expect(cond(f2.status, 'Degraded')).toMatchObject({ status: 'True', reason: 'MetricThresholdBreached' });
    expect(cond(f2.status, 'Ready')?.status).toBe('False');
  });

  it('restores the workers on rollback, after the route', () => {
    const s = spec({ workers: [{ deployment: 'score-worker', replicas: 3, legacy: { deployment: 'monolith-worker', replicas: 0 } }] });
    const st = progressing(0, 10, 5000, { workers: [{ deployment: 'score-worker', previousReplicas: 1 }], analysis: { consecutiveFailures: 1, consecutiveInconclusive: 0 } });
    const p = planTrafficShift(obs({ spec: s, status: st, routeCanaryWeight: 10, analysis: fail, deployments: {
      'score-worker': { name: 'score-worker', exists: true, replicas: 3, readyReplicas: 3 },
      'monolith-worker': { name: 'monolith-worker', exists: true, replicas: 2, readyReplicas: 2 },
    } }));
    expect(types(p.effects)).toEqual(['weights:0', 'scale:score-worker=1', 'status', 'event:RolledBack']);
  });

  describe('rollback of a shift owned by a MigrationSlice (route → flag → workers, DESIGN §2)', () => {
    const s = spec({ workers: [{ deployment: 'score-worker', replicas: 3 }] });
    const st = progressing(0, 10, 5000, { workers: [{ deployment: 'score-worker', previousReplicas: 1 }], analysis: { consecutiveFailures: 1, consecutiveInconclusive: 0 } });
    const deployments = { 'score-worker': { name: 'score-worker', exists: true, replicas: 3, readyReplicas: 3 } };

    it('restores only the route: the slice turns its flag off and then restores the workers', () => {
      for (const o of [
        { analysis: fail },
        { rollbackRequest: { trigger: 'Alert' as const, reason: 'alert ListingsErrors firing', alert: 'ListingsErrors' } },
        { annotations: { 'cutover.dev/abort': 'a1' } },
      ]) {
        const p = planTrafficShift(obs({ spec: s, status: st, routeCanaryWeight: 10, deployments, ownerSlice: 'listings', ...o }));
        expect(types(p.effects)).toEqual(['weights:0', 'status', 'event:RolledBack']);
        expect(p.status.rollback?.routeRestoredAt).toBeDefined();
        expect(p.status.rollback?.workersRestoredAt).toBeUndefined();
        expect(p.status.rollback?.completedAt).toBeDefined();
        // The records the slice restores from stay in status.
        expect(p.status.workers).toEqual([{ deployment: 'score-worker', previousReplicas: 1 }]);
        const ev = p.effects.find((e) => e.type === 'event');
        expect(ev?.type === 'event' && ev.note).toMatch(/MigrationSlice listings restores the workers after its feature flag$/);
      }
    });

    it('deadline: the same, and a finished rollback is not repeated', () => {
      const stuck: TrafficShiftStatus = { observedGeneration: 1, phase: 'Pending', workers: [{ deployment: 'score-worker', previousReplicas: 1 }], workersReady: false, lastProgressAt: iso(T0 - 120_000) };
      const p = planTrafficShift(obs({ spec: spec({ workers: [{ deployment: 'score-worker', replicas: 3 }], progressDeadline: '1m' }), status: stuck, deployments: { 'score-worker': { name: 'score-worker', exists: true, replicas: 3, readyReplicas: 0 } }, ownerSlice: 'listings' }));
      expect(p.status.rollback?.trigger).toBe('Deadline');
      expect(types(p.effects)).toEqual(['weights:0', 'status', 'event:RolledBack']);
      const again = planTrafficShift(obs({ spec: s, status: p.status, deployments, ownerSlice: 'listings', now: T0 + 1000 }));
      expect(types(again.effects)).toEqual(['status']);
    });

    it('a standalone shift keeps route → workers → status → Event', () => {
      const p = planTrafficShift(obs({ spec: s, status: st, routeCanaryWeight: 10, analysis: fail, deployments }));
      expect(types(p.effects)).toEqual(['weights:0', 'scale:score-worker=1', 'status', 'event:RolledBack']);
      expect(p.status.rollback?.workersRestoredAt).toBeDefined();
    });
  });

  it('pauses after inconclusiveLimit inconclusive runs and resumes on conclusive data', () => {
    const a = planTrafficShift(obs({ status: progressing(0, 10, 5000), routeCanaryWeight: 10, analysis: noData }));
    const b = planTrafficShift(obs({ status: a.status, routeCanaryWeight: 10, analysis: noData, now: T0 + 10_000 }));
    expect(b.status.phase).toBe('Paused');
    expect(b.status.pauseReason).toBe('Inconclusive');
    expect(cond(b.status, 'Degraded')?.reason).toBe('AnalysisInconclusive');
    expect(analysisDue(spec(), b.status, T0 + 20_000)).toBe(true);
    const c = planTrafficShift(obs({ status: b.status, routeCanaryWeight: 10, analysis: pass, now: T0 + 20_000 }));
    expect(c.status.phase).toBe('Progressing');
    expect(c.status.currentStep).toBe(0);
    // The resuming run is counted once, not twice.
    expect(c.status.analysis).toMatchObject({ consecutiveFailures: 0, consecutiveInconclusive: 0 });
    expect(c.status.lastAnalysisAt).toBe(new Date(T0 + 20_000).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    // The 10 s spent paused do not count towards the step's pause.
    expect(Date.parse(c.status.stepStartedAt!)).toBe(T0 - 5000 + 10_000);
  });

  it('completes after the last step and only then scales the legacy worker', () => {
    const s = spec({ workers: [{ deployment: 'score-worker', replicas: 3, legacy: { deployment: 'monolith-worker', replicas: 0 } }] });
    const st = progressing(2, 100, 61_000, { lastAnalysisAt: iso(T0 - 1000), workers: [{ deployment: 'score-worker', previousReplicas: 0 }] });
    const p = planTrafficShift(obs({ spec: s, status: st, routeCanaryWeight: 100, analysis: pass, deployments: {
      'score-worker': { name: 'score-worker', exists: true, replicas: 3, readyReplicas: 3 },
      'monolith-worker': { name: 'monolith-worker', exists: true, replicas: 2, readyReplicas: 2 },
    } }));
    expect(p.status.phase).toBe('Completed');
    expect(types(p.effects)).toEqual(['status', 'event:Completed', 'scale:monolith-worker=0']);
    expect(p.status.workers?.[0]).toMatchObject({ legacyDeployment: 'monolith-worker', legacyPreviousReplicas: 2 });
    expect(cond(p.status, 'Ready')).toMatchObject({ status: 'True', reason: 'Completed' });
  });

  it('after a restart re-applies the weight the status names, without moving the step', () => {
    const p = planTrafficShift(obs({ status: progressing(1, 50, 5000), routeCanaryWeight: 10 }));
    expect(p.status.currentStep).toBe(1);
    expect(types(p.effects)).toEqual(['weights:50', 'status']);
  });

  it('stays RolledBack for the same generation and starts fresh on a new one', () => {
    const rolled: TrafficShiftStatus = { observedGeneration: 1, phase: 'RolledBack', currentWeight: 0, rollback: { trigger: 'Metric', reason: 'x', at: iso(T0), routeRestoredAt: iso(T0), workersRestoredAt: iso(T0), completedAt: iso(T0) } };
    const same = planTrafficShift(obs({ status: rolled, routeCanaryWeight: 0 }));
    expect(same.status.phase).toBe('RolledBack');
    expect(types(same.effects)).toEqual(['status']);
    const next = planTrafficShift(obs({ status: rolled, generation: 2, routeCanaryWeight: 0 }));
    expect(next.status.phase).toBe('Progressing');
    expect(next.status.rollback).toBeUndefined();
    expect(types(next.effects)).toEqual(['status', 'weights:10', 'event:StepStarted']);
  });

  it('abort rolls back with trigger Manual once; the acknowledged annotation does nothing more', () => {
    const p = planTrafficShift(obs({ status: progressing(2, 100, 5000), routeCanaryWeight: 100, annotations: { 'cutover.dev/abort': 'req-1' } }));
    expect(p.status.phase).toBe('RolledBack');
    expect(p.status.rollback?.trigger).toBe('Manual');
    expect(types(p.effects)).toEqual(['weights:0', 'status', 'event:RolledBack']);
    const again = planTrafficShift(obs({ status: p.status, routeCanaryWeight: 0, annotations: { 'cutover.dev/abort': 'req-1' } }));
    expect(types(again.effects)).toEqual(['status']);
    const retry = planTrafficShift(obs({ status: p.status, routeCanaryWeight: 0, annotations: { 'cutover.dev/abort': 'req-1', 'cutover.dev/retry': 'r1' } }));
    expect(retry.status.phase).toBe('Progressing');
  });

  it('an alert rolls back even at 100% during the last pause', () => {
    const p = planTrafficShift(obs({ status: progressing(2, 100, 5000), routeCanaryWeight: 100, rollbackRequest: { trigger: 'Alert', reason: 'alert HighErrorRate firing', alert: 'HighErrorRate' } }));
    expect(p.status.phase).toBe('RolledBack');
    expect(p.status.rollback).toMatchObject({ trigger: 'Alert', alert: 'HighErrorRate', fromWeight: 100 });
    expect(types(p.effects)[0]).toBe('weights:0');
  });

  describe('a rollback recorded on the object (cutover.dev/rollback-request: a hook before its answer, or the owner slice)', () => {
    const recorded = (id: string, trigger = 'Alert') => ({ 'cutover.dev/rollback-request': JSON.stringify({ id, trigger, reason: 'alert HighErrorRate firing', alert: 'HighErrorRate' }) });

    it('rolls back like a request in hand, route first, and acknowledges its id', () => {
      const p = planTrafficShift(obs({ status: progressing(1, 50, 5000), routeCanaryWeight: 50, annotations: recorded('alert-1') }));
      expect(p.status.phase).toBe('RolledBack');
      expect(p.status.rollback).toMatchObject({ trigger: 'Alert', alert: 'HighErrorRate', fromWeight: 50 });
      expect(types(p.effects)[0]).toBe('weights:0');
      expect(p.status.acknowledgedActions).toContainEqual({ action: 'Rollback', id: 'alert-1', at: iso(T0) });
      // Acknowledged: the next reconcile (a restart too) does nothing more.
      const again = planTrafficShift(obs({ status: p.status, annotations: recorded('alert-1'), now: T0 + 1000 }));
      expect(types(again.effects)).toEqual(['status']);
      expect(again.status.rollback).toEqual(p.status.rollback);
    });

    it('a request in hand carries the id of its record: the record arriving later is already acknowledged', () => {
      const p = planTrafficShift(obs({ status: progressing(1, 50, 5000), rollbackRequest: { trigger: 'Webhook', reason: 'pager', id: 'webhook-9' } }));
      expect(p.status.acknowledgedActions).toContainEqual({ action: 'Rollback', id: 'webhook-9', at: iso(T0) });
      const later = planTrafficShift(obs({ status: p.status, annotations: recorded('webhook-9', 'Webhook'), now: T0 + 500 }));
      expect(types(later.effects)).toEqual(['status']);
    });

    it('a request recorded after the run ended is acknowledged and does not roll back the retried run', () => {
      const done = planTrafficShift(obs({ status: progressing(2, 100, 59_000), routeCanaryWeight: 100, analysis: pass, now: T0 + 2000 })).status;
      expect(done.phase).toBe('Completed');
      const late = planTrafficShift(obs({ status: done, annotations: recorded('alert-late'), now: T0 + 3000 }));
      expect(late.status.phase).toBe('Completed');
      expect(types(late.effects).some((t) => t.startsWith('weights'))).toBe(false);
      const retried = planTrafficShift(obs({ status: { ...late.status, phase: 'RolledBack' }, routeCanaryWeight: 0, annotations: { ...recorded('alert-late'), 'cutover.dev/retry': 'r1' }, now: T0 + 4000 }));
      expect(retried.status.phase).toBe('Progressing');
    });

    it('a value that is not a request: a Warning Event, acknowledged, nothing rolled back', () => {
      const p = planTrafficShift(obs({ status: progressing(1, 50, 5000), routeCanaryWeight: 50, annotations: { 'cutover.dev/rollback-request': '{"trigger":"Sometime"}' } }));
      expect(p.status.phase).toBe('Progressing');
      expect(types(p.effects)).toContain('event:InvalidRollbackRequest');
      expect(p.effects.find((e) => e.type === 'event' && e.reason === 'InvalidRollbackRequest')).toMatchObject({ eventType: 'Warning', note: expect.stringMatching(/cutover.dev\/rollback-request ignored: id: .*trigger/) });
      const again = planTrafficShift(obs({ status: p.status, routeCanaryWeight: 50, annotations: { 'cutover.dev/rollback-request': '{"trigger":"Sometime"}' }, now: T0 + 100 }));
      expect(types(again.effects)).not.toContain('event:InvalidRollbackRequest');
    });
  });

  it('a missing route sets Stalled naming the field and changes nothing', () => {
    const p = planTrafficShift(obs({ problems: [{ field: 'spec.route.httpRoute.name', message: 'HTTPRoute shop/listings not found', reason: 'RouteNotFound' }] }));
    expect(types(p.effects)).toEqual(['status', 'event:RouteNotFound']);
    expect(cond(p.status, 'Stalled')).toMatchObject({ status: 'True', reason: 'RouteNotFound', message: 'spec.route.httpRoute.name: HTTPRoute shop/listings not found' });
    expect(cond(p.status, 'Ready')?.status).toBe('False');
    expect(cond(p.status, 'Reconciling')).toBeUndefined();
    const fixed = planTrafficShift(obs({ status: p.status, routeCanaryWeight: 0 }));
    expect(cond(fixed.status, 'Stalled')).toBeUndefined();
    expect(fixed.status.phase).toBe('Progressing');
    expect(cond(fixed.status, 'Reconciling')?.status).toBe('True');
  });

  it('promote skips the remaining steps; pause and resume stop the step timer', () => {
    const promoted = planTrafficShift(obs({ status: progressing(0, 10, 5000), routeCanaryWeight: 10, annotations: { 'cutover.dev/promote': '1' } }));
    expect(promoted.status.phase).toBe('Completed');
    expect(cond(promoted.status, 'Reconciling')).toBeUndefined();
    expect(types(promoted.effects)).toEqual(['status', 'weights:100', 'event:Completed']);
    const paused = planTrafficShift(obs({ status: progressing(0, 10, 5000), routeCanaryWeight: 10, annotations: { 'cutover.dev/pause': 'a' } }));
    expect(paused.status.phase).toBe('Paused');
    expect(paused.status.pauseReason).toBe('Manual');
    const resumed = planTrafficShift(obs({ status: paused.status, routeCanaryWeight: 10, now: T0 + 30_000, annotations: { 'cutover.dev/pause': 'a', 'cutover.dev/resume': 'b' } }));
    expect(resumed.status.phase).toBe('Progressing');
    expect(Date.parse(resumed.status.stepStartedAt!)).toBe(T0 - 5000 + 30_000);
  });

  it('with automatic rollback off, a failing analysis pauses instead', () => {
    const s = spec({ rollback: { automatic: false } });
    const p = planTrafficShift(obs({ spec: s, status: progressing(0, 10, 5000, { analysis: { consecutiveFailures: 1, consecutiveInconclusive: 0 } }), routeCanaryWeight: 10, analysis: fail }));
    expect(p.status.phase).toBe('Paused');
    expect(p.status.pauseReason).toBe('AnalysisFailed');
    expect(types(p.effects)).not.toContain('weights:0');
  });
});

describe('analysis bookkeeping kept in memory (idle API traffic)', () => {
  const pass2: MetricResult[] = [{ name: 'error-rate', result: 'Pass', value: 0.002, message: 'error-rate 0.002 <= 0.01' }];

  it('a passing run with the same verdicts is not worth a status write; the memo carries it', () => {
    const first = planTrafficShift(obs({ status: progressing(0, 10, 5000), routeCanaryWeight: 10, analysis: pass }));
    // The first run of a step changes the persisted results (there were none): written.
    expect(statusPersistence(progressing(0, 10, 5000), first.status)).toBe('write');
    const second = planTrafficShift(obs({ status: first.status, routeCanaryWeight: 10, analysis: pass2, now: T0 + 10_000 }));
    expect(second.status.analysis?.lastResults?.[0]?.value).toBe(0.002);
    expect(statusPersistence(first.status, second.status)).toBe('memo');
    // The memo, laid over the older persisted status, gives the planner the newest run.
    const memo = memoOf(second.status);
    const seen = withMemo(first.status, memo);
    expect(seen.lastAnalysisAt).toBe(second.status.lastAnalysisAt);
    expect(seen.analysis?.lastResults?.[0]?.value).toBe(0.002);
    expect(analysisDue(spec(), seen, T0 + 15_000)).toBe(false);
    expect(analysisDue(spec(), first.status, T0 + 15_000)).toBe(true);
  });

  it('a verdict or counter change is written', () => {
    const first = planTrafficShift(obs({ status: progressing(0, 10, 5000), routeCanaryWeight: 10, analysis: pass }));
    const failing = planTrafficShift(obs({ status: first.status, routeCanaryWeight: 10, analysis: fail, now: T0 + 10_000 }));
    expect(failing.status.analysis?.consecutiveFailures).toBe(1);
    expect(statusPersistence(first.status, failing.status)).toBe('write');
    const inconclusive = planTrafficShift(obs({ status: first.status, routeCanaryWeight: 10, analysis: noData, now: T0 + 10_000 }));
    expect(statusPersistence(first.status, inconclusive.status)).toBe('write');
    expect(statusPersistence(first.status, structuredClone(first.status))).toBe('unchanged');
  });

  it('a memo from another step or generation is ignored, so a step still needs its own passing run', () => {
    const first = planTrafficShift(obs({ status: progressing(0, 10, 5000), routeCanaryWeight: 10, analysis: pass }));
    const memo = memoOf(planTrafficShift(obs({ status: first.status, routeCanaryWeight: 10, analysis: pass2, now: T0 + 10_000 })).status);
    const nextStep = { ...first.status, currentStep: 1, stepStartedAt: iso(T0 + 12_000) };
    expect(withMemo(nextStep, memo)).toBe(nextStep);
    const newGen = { ...first.status, observedGeneration: 2 };
    expect(withMemo(newGen, memo)).toBe(newGen);
    // Without the memo (a restart), the end of the step waits for a fresh passing run.
    const atEnd = planTrafficShift(obs({ status: { ...progressing(0, 10, 61_000), lastAnalysisAt: iso(T0 - 62_000), analysis: { consecutiveFailures: 0, consecutiveInconclusive: 0, lastResults: first.status.analysis!.lastResults! } }, routeCanaryWeight: 10 }));
    expect(atEnd.status.currentStep).toBe(0);
    expect(types(atEnd.effects)).not.toContain('weights:50');
  });

  it('step starts and analysis runs keep millisecond precision', () => {
    const p = planTrafficShift(obs({ routeCanaryWeight: 0, now: T0 + 1234 }));
    expect(p.status.stepStartedAt).toBe('2026-11-22T10:00:01.234Z');
    expect(Date.parse(p.status.stepStartedAt!)).toBe(T0 + 1234);
  });
});

