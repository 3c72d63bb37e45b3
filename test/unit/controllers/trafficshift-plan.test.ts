// The TrafficShift decision, table-tested: each row is one reconcile — what was observed — and checks
// the exact effects, in order (status before weights on the way forward; route first on the way
// back), and the part of the next status it is about. Sequences of reconciles (a counter that must
// be consecutive, an action acknowledged once) follow the table, one story each.
import { describe, expect, it } from 'vitest';
import { TrafficShiftSpecSchema, type TrafficShiftStatus } from '../../../operator/src/api/trafficshift.ts';
import { planTrafficShift, analysisDue, deploymentsToObserve, type ShiftObservation, type Effect } from '../../../operator/src/controllers/trafficshift/plan.ts';
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

const workerSpec = spec({ workers: [{ deployment: 'score-worker', replicas: 3 }] });
const withLegacy = spec({ workers: [{ deployment: 'score-worker', replicas: 3, legacy: { deployment: 'monolith-worker', replicas: 0 } }] });
const scoreWorker = (replicas: number, readyReplicas: number) => ({ 'score-worker': { name: 'score-worker', exists: true, replicas, readyReplicas } });
const monolithWorker = { 'monolith-worker': { name: 'monolith-worker', exists: true, replicas: 2, readyReplicas: 2 } };
/** A step-1 shift with a worker scaled up from 1, one failure already counted. */
const oneFailureWithWorker = progressing(0, 10, 5000, { workers: [{ deployment: 'score-worker', previousReplicas: 1 }], analysis: { consecutiveFailures: 1, consecutiveInconclusive: 0 } });
const recorded = (id: string, trigger = 'Alert') => ({ 'cutover.dev/rollback-request': JSON.stringify({ id, trigger, reason: 'alert HighErrorRate firing', alert: 'HighErrorRate' }) });
const rolledBack: TrafficShiftStatus = { observedGeneration: 1, phase: 'RolledBack', currentWeight: 0, rollback: { trigger: 'Metric', reason: 'x', at: iso(T0), routeRestoredAt: iso(T0), workersRestoredAt: iso(T0), completedAt: iso(T0) } };
const sliceRestoresWorkers = {
  effects: ['weights:0', 'status', 'event:RolledBack'],
  // The slice restores the workers after its flag: the route only here, and the records stay in status.
  status: { rollback: { routeRestoredAt: expect.any(String), completedAt: expect.any(String) }, workers: [{ deployment: 'score-worker', previousReplicas: 1 }] },
  absent: ['rollback.workersRestoredAt'],
  event: { note: expect.stringMatching(/MigrationSlice listings restores the workers after its feature flag$/) },
};

interface Row {
  name: string;
  /** What the reconcile observed (over `obs()`'s defaults). */
  o: Partial<ShiftObservation>;
  /** The effects, exactly and in order. */
  effects: string[];
  /** Part of the next status (toMatchObject). */
  status?: Record<string, unknown>;
  /** Paths (a.b) that the next status must not have. */
  absent?: string[];
  /** Conditions by type (toMatchObject); undefined: the condition is absent. */
  conditions?: Record<string, Record<string, unknown> | undefined>;
  requeueAfterMs?: number;
  /** The first Event effect (toMatchObject). */
  event?: Record<string, unknown>;
}

const rows: Row[] = [
  {
    name: 'a new shift without workers starts step 1: status first, then the weight',
    o: { routeCanaryWeight: 0 },
    effects: ['status', 'weights:10', 'event:StepStarted'],
    status: { phase: 'Progressing', currentStep: 0, currentWeight: 10 },
    // kstatus: Reconciling=True with Progressing, so a kstatus reader does not call 10% Current.
    conditions: { Ready: { status: 'False' }, Progressing: { status: 'True' }, Reconciling: { status: 'True', reason: 'StepInProgress' } },
  },
  {
    name: 'a new shift with workers scales them first (recording when) and waits (requeue 1 s), no weight yet',
    o: { spec: workerSpec, deployments: scoreWorker(0, 0) },
    effects: ['status', 'scale:score-worker=3', 'event:PhaseChanged'],
    status: { phase: 'Pending', workers: [{ deployment: 'score-worker', previousReplicas: 0, scaledAt: iso(T0) }] },
    requeueAfterMs: 1000,
  },
  {
    name: 'holds the step until its pause ends, and wakes at the earlier of step end and next analysis',
    o: { status: progressing(0, 10, 20_000, { lastAnalysisAt: iso(T0 - 4000) }), routeCanaryWeight: 10 },
    effects: ['status'],
    status: { currentStep: 0 },
    requeueAfterMs: 6000,
  },
  {
    name: 'advances when the pause ended and the last analysis in this step passed',
    o: { status: progressing(0, 10, 61_000, { lastAnalysisAt: iso(T0 - 1000) }), routeCanaryWeight: 10, analysis: pass },
    effects: ['status', 'weights:50', 'event:StepStarted'],
    status: { currentStep: 1, currentWeight: 50, stepStartedAt: iso(T0) },
  },
  {
    name: 'never promotes on missing data: an inconclusive run at the end of the pause keeps the step',
    o: { status: progressing(0, 10, 61_000, { lastAnalysisAt: iso(T0 - 10_000) }), routeCanaryWeight: 10, analysis: noData },
    effects: ['status'],
    status: { currentStep: 0, currentWeight: 10, analysis: { consecutiveInconclusive: 1 } },
  },
  {
    name: 'a standalone shift rolls back route → workers → status → Event',
    o: { spec: workerSpec, status: oneFailureWithWorker, routeCanaryWeight: 10, analysis: fail, deployments: scoreWorker(3, 3) },
    effects: ['weights:0', 'scale:score-worker=1', 'status', 'event:RolledBack'],
    status: { phase: 'RolledBack', rollback: { workersRestoredAt: expect.any(String) } },
  },
  {
    name: 'a rollback leaves the legacy worker as it is (it is scaled only after completion)',
    o: { spec: withLegacy, status: oneFailureWithWorker, routeCanaryWeight: 10, analysis: fail, deployments: { ...scoreWorker(3, 3), ...monolithWorker } },
    effects: ['weights:0', 'scale:score-worker=1', 'status', 'event:RolledBack'],
  },
  { name: 'owned by a MigrationSlice, a failing analysis restores only the route', o: { spec: workerSpec, status: oneFailureWithWorker, routeCanaryWeight: 10, deployments: scoreWorker(3, 3), ownerSlice: 'listings', analysis: fail }, ...sliceRestoresWorkers },
  { name: 'owned by a MigrationSlice, an alert restores only the route', o: { spec: workerSpec, status: oneFailureWithWorker, routeCanaryWeight: 10, deployments: scoreWorker(3, 3), ownerSlice: 'listings', rollbackRequest: { trigger: 'Alert', reason: 'alert ListingsErrors firing', alert: 'ListingsErrors' } }, ...sliceRestoresWorkers },
  { name: 'owned by a MigrationSlice, an abort restores only the route', o: { spec: workerSpec, status: oneFailureWithWorker, routeCanaryWeight: 10, deployments: scoreWorker(3, 3), ownerSlice: 'listings', annotations: { 'cutover.dev/abort': 'a1' } }, ...sliceRestoresWorkers },
  {
    name: 'owned by a MigrationSlice, the progress deadline restores only the route',
    o: {
      spec: spec({ workers: [{ deployment: 'score-worker', replicas: 3 }], progressDeadline: '1m' }),
      status: { observedGeneration: 1, phase: 'Pending', workers: [{ deployment: 'score-worker', previousReplicas: 1 }], workersReady: false, lastProgressAt: iso(T0 - 120_000) },
      deployments: scoreWorker(3, 0), ownerSlice: 'listings',
    },
    effects: ['weights:0', 'status', 'event:RolledBack'],
    status: { phase: 'RolledBack', rollback: { trigger: 'Deadline' } },
  },
  {
    name: 'completes after the last step and only then scales the legacy worker',
    o: { spec: withLegacy, status: progressing(2, 100, 61_000, { lastAnalysisAt: iso(T0 - 1000), workers: [{ deployment: 'score-worker', previousReplicas: 0 }] }), routeCanaryWeight: 100, analysis: pass, deployments: { ...scoreWorker(3, 3), ...monolithWorker } },
    effects: ['status', 'event:Completed', 'scale:monolith-worker=0'],
    status: { phase: 'Completed', workers: [{ legacyDeployment: 'monolith-worker', legacyPreviousReplicas: 2 }] },
    conditions: { Ready: { status: 'True', reason: 'Completed' } },
  },
  {
    name: 'after a restart re-applies the weight the status names, without moving the step',
    o: { status: progressing(1, 50, 5000), routeCanaryWeight: 10 },
    effects: ['weights:50', 'status'],
    status: { currentStep: 1, currentWeight: 50 },
  },
  {
    name: 'stays RolledBack for the same generation',
    o: { status: rolledBack, routeCanaryWeight: 0 },
    effects: ['status'],
    status: { phase: 'RolledBack' },
  },
  {
    name: 'a new generation of a RolledBack shift starts fresh',
    o: { status: rolledBack, generation: 2, routeCanaryWeight: 0 },
    effects: ['status', 'weights:10', 'event:StepStarted'],
    status: { phase: 'Progressing' },
    absent: ['rollback'],
  },
  {
    name: 'abort rolls back with trigger Manual',
    o: { status: progressing(2, 100, 5000), routeCanaryWeight: 100, annotations: { 'cutover.dev/abort': 'req-1' } },
    effects: ['weights:0', 'status', 'event:RolledBack'],
    status: { phase: 'RolledBack', rollback: { trigger: 'Manual' } },
  },
  {
    name: 'an alert rolls back even at 100% during the last pause',
    o: { status: progressing(2, 100, 5000), routeCanaryWeight: 100, rollbackRequest: { trigger: 'Alert', reason: 'alert HighErrorRate firing', alert: 'HighErrorRate' } },
    effects: ['weights:0', 'status', 'event:RolledBack'],
    status: { phase: 'RolledBack', rollback: { trigger: 'Alert', alert: 'HighErrorRate', fromWeight: 100 } },
  },
  {
    name: 'a rollback recorded on the object rolls back like a request in hand, route first, and acknowledges its id',
    o: { status: progressing(1, 50, 5000), routeCanaryWeight: 50, annotations: recorded('alert-1') },
    effects: ['weights:0', 'status', 'event:RolledBack'],
    status: { phase: 'RolledBack', rollback: { trigger: 'Alert', alert: 'HighErrorRate', fromWeight: 50 }, acknowledgedActions: [{ action: 'Rollback', id: 'alert-1', at: iso(T0) }] },
  },
  {
    name: 'a recorded value that is not a request: a Warning Event, acknowledged, nothing rolled back',
    o: { status: progressing(1, 50, 5000), routeCanaryWeight: 50, annotations: { 'cutover.dev/rollback-request': '{"trigger":"Sometime"}' } },
    effects: ['event:InvalidRollbackRequest', 'status'],
    status: { phase: 'Progressing' },
    event: { eventType: 'Warning', reason: 'InvalidRollbackRequest', note: expect.stringMatching(/cutover.dev\/rollback-request ignored: id: .*trigger/) },
  },
  {
    name: 'a missing route sets Stalled naming the field and changes nothing',
    o: { problems: [{ field: 'spec.route.httpRoute.name', message: 'HTTPRoute shop/listings not found', reason: 'RouteNotFound' }] },
    effects: ['status', 'event:RouteNotFound'],
    conditions: {
      Stalled: { status: 'True', reason: 'RouteNotFound', message: 'spec.route.httpRoute.name: HTTPRoute shop/listings not found' },
      Ready: { status: 'False' },
      Reconciling: undefined,
    },
  },
  {
    name: 'promote skips the remaining steps: the last weight, Completed',
    o: { status: progressing(0, 10, 5000), routeCanaryWeight: 10, annotations: { 'cutover.dev/promote': '1' } },
    effects: ['status', 'weights:100', 'event:Completed'],
    status: { phase: 'Completed' },
    conditions: { Reconciling: undefined },
  },
  {
    name: 'pause holds the step at its weight',
    o: { status: progressing(0, 10, 5000), routeCanaryWeight: 10, annotations: { 'cutover.dev/pause': 'a' } },
    effects: ['event:Paused', 'status'],
    status: { phase: 'Paused', pauseReason: 'Manual', currentWeight: 10 },
  },
  {
    name: 'with automatic rollback off, a failing analysis pauses instead',
    o: { spec: spec({ rollback: { automatic: false } }), status: progressing(0, 10, 5000, { analysis: { consecutiveFailures: 1, consecutiveInconclusive: 0 } }), routeCanaryWeight: 10, analysis: fail },
    effects: ['event:Paused', 'status'],
    status: { phase: 'Paused', pauseReason: 'AnalysisFailed', currentWeight: 10 },
  },
];

describe('planTrafficShift: one reconcile', () => {
  it.each(rows)('$name', (row) => {
    const p = planTrafficShift(obs(row.o));
    expect(types(p.effects)).toEqual(row.effects);
    if (row.status) expect(p.status).toMatchObject(row.status);
    for (const path of row.absent ?? []) expect(path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], p.status), path).toBeUndefined();
    for (const [type, want] of Object.entries(row.conditions ?? {})) {
      if (want === undefined) expect(cond(p.status, type)).toBeUndefined();
      else expect(cond(p.status, type)).toMatchObject(want);
    }
    if ('requeueAfterMs' in row) expect(p.requeueAfterMs).toBe(row.requeueAfterMs);
    if (row.event) expect(p.effects.find((e) => e.type === 'event')).toMatchObject(row.event);
  });
});

describe('planTrafficShift: sequences of reconciles', () => {
  it('workers: 2/3 Ready holds the weight at 0; 3/3 Ready starts step 1', () => {
    const p = planTrafficShift(obs({ spec: workerSpec, deployments: scoreWorker(0, 0) }));
    const p2 = planTrafficShift(obs({ spec: workerSpec, status: p.status, deployments: scoreWorker(3, 2) }));
    expect(types(p2.effects).filter((t) => t.startsWith('weights'))).toEqual([]);
    const p3 = planTrafficShift(obs({ spec: workerSpec, status: p2.status, deployments: scoreWorker(3, 3) }));
    expect(p3.status.phase).toBe('Progressing');
    expect(types(p3.effects)).toEqual(['status', 'weights:10', 'event:StepStarted']);
  });

  it('rolls back after failureLimit CONSECUTIVE failures: a pass in between starts the count again', () => {
    const first = planTrafficShift(obs({ status: progressing(1, 50, 5000), routeCanaryWeight: 50, analysis: fail }));
    expect(first.status).toMatchObject({ phase: 'Progressing', analysis: { consecutiveFailures: 1 } });
    const passed = planTrafficShift(obs({ status: first.status, routeCanaryWeight: 50, analysis: pass, now: T0 + 10_000 }));
    expect(passed.status.analysis?.consecutiveFailures).toBe(0);
    const f1 = planTrafficShift(obs({ status: passed.status, routeCanaryWeight: 50, analysis: fail, now: T0 + 20_000 }));
    expect(f1.status.phase).toBe('Progressing');
    const f2 = planTrafficShift(obs({ status: f1.status, routeCanaryWeight: 50, analysis: fail, now: T0 + 30_000 }));
    expect(types(f2.effects)).toEqual(['weights:0', 'status', 'event:RolledBack']);
    expect(f2.status).toMatchObject({ phase: 'RolledBack', currentWeight: 0, rollback: { trigger: 'Metric', reason: 'error-rate 0.2 > 0.01', fromStep: 1, fromWeight: 50 } });
    expect(cond(f2.status, 'Degraded')).toMatchObject({ status: 'True', reason: 'MetricThresholdBreached' });
    expect(cond(f2.status, 'Ready')?.status).toBe('False');
  });

  it('a finished rollback (the deadline of a slice-owned shift) is not repeated', () => {
    const stuck: TrafficShiftStatus = { observedGeneration: 1, phase: 'Pending', workers: [{ deployment: 'score-worker', previousReplicas: 1 }], workersReady: false, lastProgressAt: iso(T0 - 120_000) };
    const p = planTrafficShift(obs({ spec: spec({ workers: [{ deployment: 'score-worker', replicas: 3 }], progressDeadline: '1m' }), status: stuck, deployments: scoreWorker(3, 0), ownerSlice: 'listings' }));
    const again = planTrafficShift(obs({ spec: workerSpec, status: p.status, deployments: scoreWorker(3, 3), ownerSlice: 'listings', now: T0 + 1000 }));
    expect(types(again.effects)).toEqual(['status']);
  });

  it('pauses after inconclusiveLimit inconclusive runs and resumes on conclusive data, counting the paused time out', () => {
    const a = planTrafficShift(obs({ status: progressing(0, 10, 5000), routeCanaryWeight: 10, analysis: noData }));
    const b = planTrafficShift(obs({ status: a.status, routeCanaryWeight: 10, analysis: noData, now: T0 + 10_000 }));
    expect(b.status).toMatchObject({ phase: 'Paused', pauseReason: 'Inconclusive' });
    expect(cond(b.status, 'Degraded')?.reason).toBe('AnalysisInconclusive');
    expect(analysisDue(spec(), b.status, T0 + 20_000)).toBe(true);
    const c = planTrafficShift(obs({ status: b.status, routeCanaryWeight: 10, analysis: pass, now: T0 + 20_000 }));
    expect(c.status).toMatchObject({ phase: 'Progressing', currentStep: 0 });
    // The resuming run is counted once, not twice.
    expect(c.status.analysis).toMatchObject({ consecutiveFailures: 0, consecutiveInconclusive: 0 });
    expect(c.status.lastAnalysisAt).toBe(new Date(T0 + 20_000).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    // The 10 s spent paused do not count towards the step's pause.
    expect(Date.parse(c.status.stepStartedAt!)).toBe(T0 - 5000 + 10_000);
  });

  it('abort is acted on once: the acknowledged annotation does nothing more, and retry starts a new run', () => {
    const p = planTrafficShift(obs({ status: progressing(2, 100, 5000), routeCanaryWeight: 100, annotations: { 'cutover.dev/abort': 'req-1' } }));
    const again = planTrafficShift(obs({ status: p.status, routeCanaryWeight: 0, annotations: { 'cutover.dev/abort': 'req-1' } }));
    expect(types(again.effects)).toEqual(['status']);
    const retry = planTrafficShift(obs({ status: p.status, routeCanaryWeight: 0, annotations: { 'cutover.dev/abort': 'req-1', 'cutover.dev/retry': 'r1' } }));
    expect(retry.status.phase).toBe('Progressing');
  });

  it('a recorded rollback, once acknowledged, does nothing more (after a restart too)', () => {
    const p = planTrafficShift(obs({ status: progressing(1, 50, 5000), routeCanaryWeight: 50, annotations: recorded('alert-1') }));
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

  it('an invalid recorded value is warned about once', () => {
    const annotations = { 'cutover.dev/rollback-request': '{"trigger":"Sometime"}' };
    const p = planTrafficShift(obs({ status: progressing(1, 50, 5000), routeCanaryWeight: 50, annotations }));
    const again = planTrafficShift(obs({ status: p.status, routeCanaryWeight: 50, annotations, now: T0 + 100 }));
    expect(types(again.effects)).not.toContain('event:InvalidRollbackRequest');
  });

  it('a Stalled shift whose route appears starts: Stalled cleared, Progressing, Reconciling', () => {
    const p = planTrafficShift(obs({ problems: [{ field: 'spec.route.httpRoute.name', message: 'HTTPRoute shop/listings not found', reason: 'RouteNotFound' }] }));
    const fixed = planTrafficShift(obs({ status: p.status, routeCanaryWeight: 0 }));
    expect(cond(fixed.status, 'Stalled')).toBeUndefined();
    expect(fixed.status.phase).toBe('Progressing');
    expect(cond(fixed.status, 'Reconciling')?.status).toBe('True');
  });

  it('resume continues a paused step; the paused time does not count towards its pause', () => {
    const paused = planTrafficShift(obs({ status: progressing(0, 10, 5000), routeCanaryWeight: 10, annotations: { 'cutover.dev/pause': 'a' } }));
    const resumed = planTrafficShift(obs({ status: paused.status, routeCanaryWeight: 10, now: T0 + 30_000, annotations: { 'cutover.dev/pause': 'a', 'cutover.dev/resume': 'b' } }));
    expect(resumed.status.phase).toBe('Progressing');
    expect(Date.parse(resumed.status.stepStartedAt!)).toBe(T0 - 5000 + 30_000);
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

  it('a shift completing in this reconcile without its legacy observed requeues at once; the Completed reconcile scales the legacy', () => {
    const last = progressing(2, 100, 61_000, { lastAnalysisAt: iso(T0 - 1000), workers: [{ deployment: 'score-worker', previousReplicas: 0 }] });
    // What the controller observes for a Progressing shift: no Deployments at all.
    expect(deploymentsToObserve(obs({ spec: withLegacy, status: last }))).toEqual([]);
    const done = planTrafficShift(obs({ spec: withLegacy, status: last, routeCanaryWeight: 100, analysis: pass }));
    expect(done.status.phase).toBe('Completed');
    expect(types(done.effects)).not.toContain('scale:monolith-worker=0');
    expect(done.requeueAfterMs).toBe(10);
    // Next reconcile: Completed with the legacy not yet scaled observes only the legacy, and scales it.
    expect(deploymentsToObserve(obs({ spec: withLegacy, status: done.status }))).toEqual([{ name: 'monolith-worker', field: 'legacy.deployment', worker: 0 }]);
    const scaled = planTrafficShift(obs({ spec: withLegacy, status: done.status, routeCanaryWeight: 100, deployments: monolithWorker, now: T0 + 20 }));
    expect(types(scaled.effects)).toEqual(['status', 'scale:monolith-worker=0']);
    expect(scaled.status.workers?.[0]).toMatchObject({ legacyDeployment: 'monolith-worker', legacyPreviousReplicas: 2 });
    // From then on nothing is read from the cluster for it.
    expect(deploymentsToObserve(obs({ spec: withLegacy, status: scaled.status }))).toEqual([]);
  });
});

describe('deploymentsToObserve: only what the plan reads (issue 18: no GETs per live reconcile)', () => {
  const all = [{ name: 'score-worker', field: 'deployment', worker: 0 }, { name: 'monolith-worker', field: 'legacy.deployment', worker: 0 }];
  it.each<[string, Partial<ShiftObservation>, unknown[]]>([
    ['a new shift: every worker and legacy Deployment', { status: {} }, all],
    ['Pending (waiting for workers): all', { status: { observedGeneration: 1, phase: 'Pending' } }, all],
    ['a new generation: all', { status: { ...progressing(1, 50, 5000), observedGeneration: 0 } }, all],
    ['Progressing: none', { status: progressing(1, 50, 5000) }, []],
    ['Paused: none', { status: { ...progressing(1, 50, 5000), phase: 'Paused' } }, []],
    ['RolledBack: none (the rollback restores from status.workers)', { status: { observedGeneration: 1, phase: 'RolledBack' } }, []],
    ['RolledBack with a Retry asked: all', { status: { observedGeneration: 1, phase: 'RolledBack' }, annotations: { 'cutover.dev/retry': 'r1' } }, all],
  ])('%s', (_name, over, want) => {
    expect(deploymentsToObserve(obs({ spec: withLegacy, ...over }))).toEqual(want);
  });
});
