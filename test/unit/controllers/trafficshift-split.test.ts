// Worker cutovers without a route (issue 15): the share of the work follows the steps by replicas of
// the legacy and the new consumer Deployments. Each story drives the pure planner against a small
// model of the two Deployments (a scale takes effect at once; pods become Ready one reconcile later)
// and checks what a user checks: the split at each step, that the queue never lacks consumers, and
// the rollback order (legacy back and Ready before the new ones go).
import { describe, expect, it } from 'vitest';
import { splitReplicas } from '../../../operator/src/api/common.ts';
import { TrafficShiftSpecSchema, type TrafficShiftSpec, type TrafficShiftStatus } from '../../../operator/src/api/trafficshift.ts';
import { deploymentsToObserve, planTrafficShift, type Effect, type ObservedDeployment, type ShiftObservation } from '../../../operator/src/controllers/trafficshift/plan.ts';

const T0 = Date.parse('2026-12-02T10:00:00Z');

const splitSpec = (over: Record<string, unknown> = {}): TrafficShiftSpec => TrafficShiftSpecSchema.parse({
  steps: [{ weight: 10, pause: '1m' }, { weight: 50, pause: '1m' }, { weight: 100, pause: '1m' }],
  workers: [{ deployment: 'score-worker', split: { totalReplicas: 10 }, legacy: { deployment: 'monolith-worker' } }],
  ...over,
});

/** Two Deployments: `replicas` is what was asked, `ready` follows one reconcile later. */
class Model {
  deps: Record<string, { replicas: number; ready: number }> = {};
  log: string[] = [];
  constructor(init: Record<string, number>) { for (const [k, v] of Object.entries(init)) this.deps[k] = { replicas: v, ready: v }; }
  observe(names: Array<{ name: string }>): Record<string, ObservedDeployment> {
    const out: Record<string, ObservedDeployment> = {};
    for (const { name } of names) { const d = this.deps[name]; out[name] = { name, exists: Boolean(d), replicas: d?.replicas ?? 0, readyReplicas: d?.ready ?? 0 }; }
    return out;
  }
  apply(effects: Effect[]): void {
    for (const e of effects) {
      if (e.type === 'scale') { this.deps[e.deployment]!.replicas = e.replicas; this.log.push(`scale:${e.deployment}=${e.replicas}`); }
      if (e.type === 'writeStatus') this.log.push('status');
    }
  }
  /** Pods start (or stop): Ready follows the asked replicas. Scale-downs are immediate for readiness. */
  tick(): void { for (const d of Object.values(this.deps)) d.ready = d.replicas; }
  /** Consumers really consuming now. */
  consumers(): number { return Object.values(this.deps).reduce((a, d) => a + Math.min(d.ready, d.replicas), 0); }
}

interface Run { status: TrafficShiftStatus; now: number }

function reconcile(m: Model, spec: TrafficShiftSpec, run: Run, over: Partial<ShiftObservation> = {}): ReturnType<typeof planTrafficShift> {
  const base = { now: run.now, generation: 1, spec, status: run.status, annotations: {}, problems: [], ...over };
  const o: ShiftObservation = { ...base, deployments: m.observe(deploymentsToObserve(base)) };
  const plan = planTrafficShift(o);
  m.apply(plan.effects);
  run.status = plan.status;
  return plan;
}

describe('splitReplicas', () => {
  it.each([
    [10, 0, 0, 10], [10, 10, 1, 9], [10, 50, 5, 5], [10, 100, 10, 0],
    [4, 10, 1, 3], [4, 33, 2, 2], [3, 1, 1, 2], [1, 50, 1, 0], [7, 99, 7, 0],
  ])('total %i at weight %i: new %i, legacy %i', (total, w, n, l) => {
    expect(splitReplicas(total, w)).toEqual({ replicas: n, legacy: l });
  });
});

describe('a worker shift without a route', () => {
  it('is refused without a split worker, and split refuses legacy.replicas and needs legacy', () => {
    const base = { steps: [{ weight: 100, pause: '1m' }] };
    expect(TrafficShiftSpecSchema.safeParse({ ...base, workers: [{ deployment: 'w', replicas: 2 }] }).error?.issues[0]?.message).toMatch(/route is required unless a worker moves the work by split/);
    expect(TrafficShiftSpecSchema.safeParse({ ...base, workers: [{ deployment: 'w', split: { totalReplicas: 2 }, legacy: { deployment: 'l', replicas: 0 } }] }).error?.issues[0]?.message).toMatch(/legacy.replicas is not used with split/);
    expect(TrafficShiftSpecSchema.safeParse({ ...base, workers: [{ deployment: 'w', split: { totalReplicas: 2 } }] }).error?.issues[0]?.message).toMatch(/split needs legacy/);
    expect(TrafficShiftSpecSchema.safeParse({ ...base, workers: [{ deployment: 'w', replicas: 1, split: { totalReplicas: 2 }, legacy: { deployment: 'l' } }] }).error?.issues[0]?.message).toMatch(/exactly one of replicas and split/);
    expect(TrafficShiftSpecSchema.safeParse({ ...base, workers: [{ deployment: 'w', split: { totalReplicas: 2 }, legacy: { deployment: 'l' } }] }).success).toBe(true);
  });

  it('moves 10 → 50 → 100% of the consumers, each split Ready before the step\'s pause starts, never without consumers', () => {
    const m = new Model({ 'score-worker': 0, 'monolith-worker': 10 });
    const spec = splitSpec();
    const run: Run = { status: {}, now: T0 };
    const seen: Array<{ weight: number; n: number; l: number }> = [];
    for (let i = 0; i < 400 && run.status.phase !== 'Completed'; i++) {
      const plan = reconcile(m, spec, run);
      expect(plan.effects.some((e) => e.type === 'setWeights')).toBe(false);
      // Scales always follow the status write that explains them.
      const firstScale = plan.effects.findIndex((e) => e.type === 'scale');
      if (firstScale >= 0) expect(plan.effects.findIndex((e) => e.type === 'writeStatus')).toBeLessThan(firstScale);
      m.tick();
      expect(m.consumers()).toBeGreaterThanOrEqual(1);
      if (run.status.phase === 'Progressing' && run.status.workersReady === true) {
        const w = run.status.currentWeight!;
        if (!seen.some((s) => s.weight === w)) seen.push({ weight: w, n: m.deps['score-worker']!.ready, l: m.deps['monolith-worker']!.ready });
      }
      run.now += Math.min(plan.requeueAfterMs ?? 1000, 30_000);
    }
    expect(run.status.phase).toBe('Completed');
    expect(seen).toEqual([{ weight: 10, n: 1, l: 9 }, { weight: 50, n: 5, l: 5 }, { weight: 100, n: 10, l: 0 }]);
    expect(m.deps).toEqual({ 'score-worker': { replicas: 10, ready: 10 }, 'monolith-worker': { replicas: 0, ready: 0 } });
    // Within each step the new consumers grow first; the legacy shrinks only after they are Ready.
    expect(m.log.filter((x) => x.startsWith('scale'))).toEqual([
      'scale:score-worker=1', 'scale:monolith-worker=9',
      'scale:score-worker=5', 'scale:monolith-worker=5',
      'scale:score-worker=10', 'scale:monolith-worker=0',
    ]);
    expect(run.status.workers?.[0]).toMatchObject({ split: true, previousReplicas: 0, legacyPreviousReplicas: 10, replicas: 10, legacyReplicas: 0 });
  });

  it('starts the step\'s pause (and its analysis) only when the split is Ready', () => {
    const m = new Model({ 'score-worker': 0, 'monolith-worker': 10 });
    const spec = splitSpec({ analysis: { interval: '10s', metrics: [{ name: 'failures', prometheus: { query: 'x' }, max: 0.1 }] } });
    const run: Run = { status: {}, now: T0 };
    reconcile(m, spec, run); // Pending → step 1 recorded, new scaled to 1
    expect(run.status).toMatchObject({ phase: 'Progressing', currentWeight: 10, workersReady: false });
    run.now += 5000; // pods slow to start: nothing Ready yet
    let plan = reconcile(m, spec, run);
    expect(run.status.workersReady).toBe(false);
    expect(plan.requeueAfterMs).toBe(1000);
    expect(plan.status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
    m.tick(); run.now += 1000;
    plan = reconcile(m, spec, run); // new Ready: legacy scaled to 9
    expect(m.deps['monolith-worker']!.replicas).toBe(9);
    m.tick(); run.now += 1000;
    plan = reconcile(m, spec, run); // both in place: the pause starts now
    expect(run.status.workersReady).toBe(true);
    expect(Date.parse(run.status.stepStartedAt!)).toBe(run.now);
  });

  it('rolls back: legacy back and Ready before the new consumers scale down', () => {
    const m = new Model({ 'score-worker': 0, 'monolith-worker': 10 });
    const spec = splitSpec();
    const run: Run = { status: {}, now: T0 };
    while (!(run.status.currentWeight === 50 && run.status.workersReady === true)) { reconcile(m, spec, run); m.tick(); run.now += 1000; }
    m.log = [];
    let plan = reconcile(m, spec, run, { annotations: { 'cutover.dev/abort': 'a1' } });
    expect(run.status.phase).toBe('RolledBack');
    expect(run.status.rollback?.completedAt).toBeUndefined();
    expect(m.log).toEqual(['status', 'scale:monolith-worker=10']);
    expect(plan.effects.some((e) => e.type === 'event' && e.reason === 'RolledBack')).toBe(false);
    run.now += 1000;
    plan = reconcile(m, spec, run, { annotations: { 'cutover.dev/abort': 'a1' } }); // legacy not Ready yet: new untouched
    expect(m.deps['score-worker']!.replicas).toBe(5);
    m.tick(); run.now += 1000;
    plan = reconcile(m, spec, run, { annotations: { 'cutover.dev/abort': 'a1' } });
    expect(m.log.slice(-2)).toEqual(['scale:score-worker=0', 'status']);
    expect(run.status.rollback).toMatchObject({ legacyWorkersReadyAt: expect.any(String), workersRestoredAt: expect.any(String), completedAt: expect.any(String) });
    expect(plan.effects.some((e) => e.type === 'event' && e.reason === 'RolledBack')).toBe(true);
    m.tick();
    expect(m.deps).toEqual({ 'score-worker': { replicas: 0, ready: 0 }, 'monolith-worker': { replicas: 10, ready: 10 } });
  });

  it('under a MigrationSlice the shift still restores its split workers itself, in the same order', () => {
    const m = new Model({ 'score-worker': 0, 'monolith-worker': 10 });
    const spec = splitSpec();
    const run: Run = { status: {}, now: T0 };
    while (!(run.status.currentWeight === 10 && run.status.workersReady === true)) { reconcile(m, spec, run, { ownerSlice: 's' }); m.tick(); run.now += 1000; }
    reconcile(m, spec, run, { ownerSlice: 's', rollbackRequest: { trigger: 'Alert', reason: 'alert' } });
    m.tick(); run.now += 1000;
    reconcile(m, spec, run, { ownerSlice: 's' });
    expect(run.status.rollback).toMatchObject({ workersRestoredAt: expect.any(String), completedAt: expect.any(String) });
    expect(m.deps['score-worker']!.replicas).toBe(0);
    expect(m.deps['monolith-worker']!.replicas).toBe(10);
  });

  it('after a restart mid-step puts back the split the status names, without repeating the step', () => {
    const m = new Model({ 'score-worker': 0, 'monolith-worker': 10 });
    const spec = splitSpec();
    const run: Run = { status: {}, now: T0 };
    while (!(run.status.currentWeight === 50 && run.status.workersReady === true)) { reconcile(m, spec, run); m.tick(); run.now += 1000; }
    const step = run.status.currentStep; const started = run.status.stepStartedAt;
    // Someone (or a crash between two scales) left the Deployments off the split.
    m.deps['score-worker'] = { replicas: 2, ready: 2 };
    m.deps['monolith-worker'] = { replicas: 4, ready: 4 };
    run.now += 1000;
    expect(deploymentsToObserve({ spec, status: run.status, generation: 1, annotations: {} })).toEqual([]);
    reconcile(m, spec, run, { verifyWorkers: true });
    m.tick(); run.now += 1000;
    reconcile(m, spec, run);
    m.tick(); run.now += 1000;
    reconcile(m, spec, run);
    expect(m.deps).toEqual({ 'score-worker': { replicas: 5, ready: 5 }, 'monolith-worker': { replicas: 5, ready: 5 } });
    expect(run.status.currentStep).toBe(step);
    expect(run.status.workersReady).toBe(true);
    expect(started).toBeDefined();
  });

  it('a split that never becomes Ready is rolled back at the progress deadline', () => {
    const m = new Model({ 'score-worker': 0, 'monolith-worker': 10 });
    const spec = splitSpec({ progressDeadline: '1m' });
    const run: Run = { status: {}, now: T0 };
    reconcile(m, spec, run);
    for (let i = 0; i < 70 && run.status.phase === 'Progressing'; i++) { run.now += 1000; reconcile(m, spec, run); }
    expect(run.status.phase).toBe('RolledBack');
    expect(run.status.rollback?.trigger).toBe('Deadline');
  });
});

describe('a MigrationSlice without a route', () => {
  it('is accepted with a split worker, refused without one or with a shadow stage', async () => {
    const { MigrationSliceSpecSchema } = await import('../../../operator/src/api/migrationslice.ts');
    const base = {
      owner: 'score team', rollbackPlan: 'flip the flag back',
      workers: [{ deployment: 'score-worker', split: { totalReplicas: 4 }, legacy: { deployment: 'monolith-score' } }],
      shift: { steps: [{ weight: 10, pause: '1m' }, { weight: 100, pause: '1m' }] },
    };
    expect(MigrationSliceSpecSchema.safeParse(base).success).toBe(true);
    expect(MigrationSliceSpecSchema.safeParse({ ...base, workers: [{ deployment: 'w', replicas: 2 }] }).error?.issues[0]?.message).toMatch(/route is required unless a worker moves the work by split/);
    expect(MigrationSliceSpecSchema.safeParse({ ...base, shadow: { percent: 10, duration: '1h' } }).error?.issues[0]?.message).toMatch(/a shadow stage mirrors a route/);
    expect(MigrationSliceSpecSchema.safeParse({ ...base, route: { httpRoute: { name: 'r' } } }).error?.issues.map((i) => i.path.join('.'))).toEqual(['legacy', 'target']);
  });
});

describe('maxDiffPoints on a TrafficShift metric (a legacy that fails nothing makes any ratio infinite)', () => {
  it('needs a baselineQuery, and is judged in points of new − legacy', async () => {
    const { evaluateMetric } = await import('../../../operator/src/analysis/evaluate.ts');
    const metric = (over: Record<string, unknown>) => ({ steps: [{ weight: 10, pause: '1m' }], workers: [{ deployment: 'w', split: { totalReplicas: 2 }, legacy: { deployment: 'l' } }], analysis: { interval: '10s', metrics: [{ name: 'failures', ...over }] } });
    expect(TrafficShiftSpecSchema.safeParse(metric({ prometheus: { query: 'x' }, maxDiffPoints: 2 })).error?.issues[0]?.message).toMatch(/maxDiffPoints needs prometheus.baselineQuery/);
    const spec = TrafficShiftSpecSchema.parse(metric({ prometheus: { query: 'x', baselineQuery: 'y' }, maxDiffPoints: 2 }));
    const m = spec.analysis!.metrics[0]!;
    const v = (value: number) => ({ kind: 'value' as const, value });
    expect(evaluateMetric(m, { value: v(0.015), baseline: v(0) }).result).toBe('Pass');
    expect(evaluateMetric(m, { value: v(0.2), baseline: v(0) })).toMatchObject({ result: 'Fail', message: expect.stringMatching(/\+20 pp > 2 pp/) });
  });
});
