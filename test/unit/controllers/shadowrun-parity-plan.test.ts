// The ShadowRun decision with parity: the comparator exists before the mirror points at it, the
// summary is folded into status.parity with an Event when the verdict turns, the parity check counts
// in the run's verdict like a metric (an Inconclusive only once the duration is over: its data
// gathers over the run), and on the way out the mirror goes first, then the comparator.
import { describe, expect, it } from 'vitest';
import { ShadowRunSpecSchema, type ParityStatus, type ShadowRunStatus } from '../../../operator/src/api/shadowrun.ts';
import { analysisDue, planShadowRun, type Effect, type ShadowObservation } from '../../../operator/src/controllers/shadowrun/plan.ts';
import type { MetricResult } from '../../../operator/src/analysis/evaluate.ts';

const T0 = Date.parse('2026-11-22T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const COMPARATOR = 'cutover-parity-listings';

const spec = (over: Record<string, unknown> = {}) => ShadowRunSpecSchema.parse({
  route: { httpRoute: { name: 'listings' } },
  primary: { service: 'monolith', port: 8080 },
  shadow: { service: 'listings-api', port: 8080 },
  percent: 100,
  duration: '1m',
  parity: { maxMismatchRatio: 0.01, minCompared: 50 },
  ...over,
});

const target = { service: COMPARATOR, port: 8080 };
const mirror = { ...target, percent: 100 };
const running = (startedAgoMs: number, extra: Partial<ShadowRunStatus> = {}): ShadowRunStatus => ({
  observedGeneration: 1, phase: 'Running', startedAt: iso(T0 - startedAgoMs), endsAt: iso(T0 - startedAgoMs + 60_000),
  mirrorAppliedAt: iso(T0 - startedAgoMs), analysis: { consecutiveFailures: 0, consecutiveInconclusive: 0 },
  parity: { compared: 0, mismatched: 0, result: 'Inconclusive', comparator: COMPARATOR }, ...extra,
});
const parity = (result: 'Pass' | 'Fail' | 'Inconclusive', compared = 80, mismatched = 0): ParityStatus => ({ compared, mismatched, result, reason: `GET /listings/:id: ${result}`, comparator: COMPARATOR });
const check = (result: 'Pass' | 'Fail' | 'Inconclusive'): MetricResult[] => [{ name: 'parity', result, message: `parity: ${result}` }];

function obs(over: Partial<ShadowObservation> = {}): ShadowObservation {
  return { now: T0, generation: 1, spec: spec(), status: {}, annotations: {}, deleting: false, hasFinalizer: true, problems: [], routeMirror: null, mirrorTarget: target, ...over };
}
const types = (effects: Effect[]) => effects.map((e) => (e.type === 'setMirror' ? `mirror:${e.percent}` : e.type === 'event' ? `event:${e.reason}` : e.type === 'writeStatus' ? 'status' : e.type === 'ensureComparator' ? `ensureComparator${e.fresh ? ':fresh' : ''}` : e.type));

describe('planShadowRun with parity', () => {
  it('a new run: status, the comparator (fresh counts), then the mirror to it', () => {
    const p = planShadowRun(obs());
    expect(types(p.effects)).toEqual(['status', 'ensureComparator:fresh', 'mirror:100', 'event:MirrorStarted']);
    expect(p.status.parity).toMatchObject({ compared: 0, result: 'Inconclusive', comparator: COMPARATOR });
    expect(p.status.message).toContain(COMPARATOR);
  });

  it('running: the summary is folded into status.parity; an Event when the verdict turns', () => {
    const p = planShadowRun(obs({ status: running(5_000), routeMirror: mirror, parity: { status: parity('Pass'), deploymentPresent: true } }));
    expect(p.status.parity).toEqual(parity('Pass'));
    expect(types(p.effects)).toEqual(['event:ParityVerdictChanged', 'status']);
    const again = planShadowRun(obs({ status: running(5_000, { parity: parity('Pass') }), routeMirror: mirror, parity: { status: parity('Pass', 90), deploymentPresent: true } }));
    expect(types(again.effects)).toEqual(['status']);
  });

  it('the comparator Deployment gone mid-run: created again, counts kept (not fresh)', () => {
    const p = planShadowRun(obs({ status: running(5_000), routeMirror: mirror, parity: { status: parity('Inconclusive', 10), deploymentPresent: false } }));
    expect(types(p.effects)).toEqual(['ensureComparator', 'status']);
  });

  it('the mirror pointing elsewhere (the shadow itself, another port): pointed at the comparator again', () => {
    const p = planShadowRun(obs({ status: running(5_000), routeMirror: { service: COMPARATOR, port: 9999, percent: 100 }, parity: { status: parity('Inconclusive', 10), deploymentPresent: true } }));
    expect(types(p.effects)).toContain('mirror:100');
  });

  it('Inconclusive parity before the end does not count against the run', () => {
    const p = planShadowRun(obs({ status: running(20_000, { analysis: { consecutiveFailures: 0, consecutiveInconclusive: 2 } }), routeMirror: mirror, parity: { status: parity('Inconclusive', 10), deploymentPresent: true }, analysis: check('Inconclusive') }));
    expect(p.status.phase).toBe('Running');
    expect(p.status.analysis).toEqual({ consecutiveFailures: 0, consecutiveInconclusive: 2 });
    expect(p.status.results).toEqual([expect.objectContaining({ name: 'parity', result: 'Inconclusive' })]);
  });

  it('failing parity: Failed at failureLimit (default 2 without analysis); mirror first, then the comparator', () => {
    const first = planShadowRun(obs({ status: running(20_000), routeMirror: mirror, parity: { status: parity('Fail', 80, 8), deploymentPresent: true }, analysis: check('Fail') }));
    expect(first.status.phase).toBe('Running');
    expect(first.status.analysis?.consecutiveFailures).toBe(1);
    const second = planShadowRun(obs({ status: running(25_000, { analysis: { consecutiveFailures: 1, consecutiveInconclusive: 0 }, parity: parity('Fail', 80, 8) }), routeMirror: mirror, parity: { status: parity('Fail', 90, 9), deploymentPresent: true }, analysis: check('Fail') }));
    expect(second.status.phase).toBe('Failed');
    expect(second.status.verdict).toBe('Fail');
    expect(second.status.message).toContain('parity: Fail');
    expect(types(second.effects)).toEqual(['removeMirror', 'removeComparator', 'status', 'event:Failed']);
  });

  it('duration over: Passed only with a passing parity check; never on missing data', () => {
    const passed = planShadowRun(obs({ status: running(61_000, { lastAnalysisAt: iso(T0 - 1000), results: [{ name: 'parity', result: 'Pass' }], parity: parity('Pass') }), routeMirror: mirror, parity: { status: parity('Pass'), deploymentPresent: true } }));
    expect(passed.status.phase).toBe('Passed');
    expect(passed.status.message).toContain('response parity passed');
    expect(types(passed.effects)).toEqual(['removeMirror', 'removeComparator', 'status', 'event:Passed']);
    const waiting = planShadowRun(obs({ status: running(61_000, { lastAnalysisAt: iso(T0 - 1000), results: [{ name: 'parity', result: 'Inconclusive' }] }), routeMirror: mirror, parity: { status: parity('Inconclusive', 10), deploymentPresent: true } }));
    expect(waiting.status.phase).toBe('Running');
  });

  it('after the end an Inconclusive parity counts: onInconclusive Rollback fails the run, verdict Inconclusive', () => {
    const s = spec({ analysis: { interval: '10s', inconclusiveLimit: 1, onInconclusive: 'Rollback', metrics: [{ name: 'error-rate', prometheus: { query: 'x' }, max: 0.01 }] } });
    const p = planShadowRun(obs({ spec: s, status: running(61_000), routeMirror: mirror, parity: { status: parity('Inconclusive', 10), deploymentPresent: true }, analysis: [{ name: 'error-rate', result: 'Pass', value: 0, message: 'ok' }, ...check('Inconclusive')] }));
    expect(p.status.phase).toBe('Failed');
    expect(p.status.verdict).toBe('Inconclusive');
  });

  it('a terminal run whose comparator is still there (crash between the two): removed', () => {
    const p = planShadowRun(obs({ status: { ...running(70_000), phase: 'Passed', verdict: 'Pass', mirrorRemovedAt: iso(T0 - 1000) }, routeMirror: null, parity: { status: parity('Pass'), deploymentPresent: true, comparatorRunning: true } }));
    expect(types(p.effects)).toContain('removeComparator');
    const stopped = planShadowRun(obs({ status: { ...running(70_000), phase: 'Passed', verdict: 'Pass', mirrorRemovedAt: iso(T0 - 1000) }, routeMirror: null, parity: { status: parity('Pass'), deploymentPresent: false, comparatorRunning: false } }));
    expect(types(stopped.effects)).not.toContain('removeComparator');
  });

  it('parity alone is checked every 5s', () => {
    expect(analysisDue(spec(), running(4_000), T0)).toBe(false);
    expect(analysisDue(spec(), running(5_000), T0)).toBe(true);
  });

  it('the comparator\'s breaker open: condition ParityThrottled=True with the reason; gone when it closes', () => {
    const open = planShadowRun(obs({ status: running(5_000), routeMirror: mirror, parity: { status: { ...parity('Inconclusive', 10), breaker: '6 of the last 10 legacy replays failed (more than 5%)' }, deploymentPresent: true } }));
    expect(open.status.conditions?.find((c) => c.type === 'ParityThrottled')).toMatchObject({ status: 'True', reason: 'LegacyProtected', message: expect.stringContaining('6 of the last 10') as unknown as string });
    const closed = planShadowRun(obs({ status: open.status, routeMirror: mirror, parity: { status: parity('Inconclusive', 12), deploymentPresent: true } }));
    expect(closed.status.conditions?.find((c) => c.type === 'ParityThrottled')).toBeUndefined();
  });
});
