// The ShadowRun decision, table-tested: what was observed → the next status and the exact effects,
// in order (finalizer before the mirror, status before the mirror on the way in, mirror first on
// the way out).
import { describe, expect, it } from 'vitest';
import { ShadowRunSpecSchema, type ShadowRunStatus } from '../../../operator/src/api/shadowrun.ts';
import { analysisDue, planShadowRun, type Effect, type ShadowObservation } from '../../../operator/src/controllers/shadowrun/plan.ts';
import type { MetricResult } from '../../../operator/src/analysis/evaluate.ts';

const T0 = Date.parse('2026-11-22T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

const spec = (over: Record<string, unknown> = {}) => ShadowRunSpecSchema.parse({
  route: { httpRoute: { name: 'listings' } },
  primary: { service: 'monolith', port: 8080 },
  shadow: { service: 'listings-api', port: 8080 },
  percent: 50,
  duration: '1m',
  analysis: {
    interval: '10s', failureLimit: 2, inconclusiveLimit: 2,
    metrics: [{ name: 'error-rate', prometheus: { query: 'x', baselineQuery: 'y' }, max: 0.01, maxDiffPoints: 0.5 }],
  },
  ...over,
});

function obs(over: Partial<ShadowObservation> = {}): ShadowObservation {
  return { now: T0, generation: 1, spec: spec(), status: {}, annotations: {}, deleting: false, hasFinalizer: true, problems: [], routeMirror: null, ...over };
}

const running = (startedAgoMs: number, extra: Partial<ShadowRunStatus> = {}): ShadowRunStatus => ({
  observedGeneration: 1, phase: 'Running', startedAt: iso(T0 - startedAgoMs), endsAt: iso(T0 - startedAgoMs + 60_000),
  mirrorAppliedAt: iso(T0 - startedAgoMs), analysis: { consecutiveFailures: 0, consecutiveInconclusive: 0 }, ...extra,
});
const mirror = { service: 'listings-api', port: 8080, percent: 50 };

const pass: MetricResult[] = [{ name: 'error-rate', result: 'Pass', value: 0.002, baseline: 0.001, message: 'error-rate 0.002 +0.1 pp' }];
const fail: MetricResult[] = [{ name: 'error-rate', result: 'Fail', value: 0.2, baseline: 0.001, message: 'error-rate 0.2 > 0.01' }];
const noData: MetricResult[] = [{ name: 'error-rate', result: 'Inconclusive', message: 'error-rate: empty result' }];

const types = (effects: Effect[]) => effects.map((e) => (e.type === 'setMirror' ? `mirror:${e.percent}` : e.type === 'event' ? `event:${e.reason}` : e.type === 'writeStatus' ? 'status' : e.type));
const cond = (s: ShadowRunStatus, type: string) => s.conditions?.find((c) => c.type === type);

describe('planShadowRun', () => {
  const cases: Array<{ name: string; o: Partial<ShadowObservation>; phase: string | undefined; effects: string[]; verdict?: string; ready?: string }> = [
    { name: 'new run: finalizer, status, then the mirror', o: { hasFinalizer: false }, phase: 'Running', effects: ['addFinalizer', 'status', 'mirror:50', 'event:MirrorStarted'], ready: 'False' },
    { name: 'new run with the finalizer already there', o: {}, phase: 'Running', effects: ['status', 'mirror:50', 'event:MirrorStarted'] },
    { name: 'running, mirror in place, nothing due', o: { status: running(5_000), routeMirror: mirror }, phase: 'Running', effects: ['status'] },
    { name: 'running, mirror gone (restart, someone removed it): re-applied', o: { status: running(5_000), routeMirror: null }, phase: 'Running', effects: ['mirror:50', 'status'] },
    { name: 'running, route unreadable: no mirror write', o: { status: running(5_000), routeMirror: undefined }, phase: 'Running', effects: ['status'] },
    { name: 'passing check below the limit keeps running', o: { status: running(20_000), routeMirror: mirror, analysis: pass }, phase: 'Running', effects: ['status'] },
    { name: 'first failed check (limit 2) keeps running, Degraded', o: { status: running(20_000), routeMirror: mirror, analysis: fail }, phase: 'Running', effects: ['status'] },
    { name: 'second consecutive failure: Failed early, mirror removed first', o: { status: running(20_000, { analysis: { consecutiveFailures: 1, consecutiveInconclusive: 0 } }), routeMirror: mirror, analysis: fail }, phase: 'Failed', effects: ['removeMirror', 'status', 'event:Failed'], verdict: 'Fail', ready: 'False' },
    { name: 'duration over with a passing last check: Passed, mirror removed', o: { status: running(61_000, { lastAnalysisAt: iso(T0 - 1000), results: [{ name: 'error-rate', result: 'Pass' }] }), routeMirror: mirror }, phase: 'Passed', effects: ['removeMirror', 'status', 'event:Passed'], verdict: 'Pass', ready: 'True' },
    { name: 'duration over without any check: waits (never passes on missing data)', o: { status: running(61_000), routeMirror: mirror }, phase: 'Running', effects: ['status'] },
    { name: 'duration over, last check inconclusive: waits', o: { status: running(61_000, { lastAnalysisAt: iso(T0 - 1000), results: [{ name: 'error-rate', result: 'Inconclusive' }] }), routeMirror: mirror }, phase: 'Running', effects: ['status'] },
    { name: 'inconclusive limit with onInconclusive Pause: keeps mirroring', o: { status: running(20_000, { analysis: { consecutiveFailures: 0, consecutiveInconclusive: 1 } }), routeMirror: mirror, analysis: noData }, phase: 'Running', effects: ['status'] },
    { name: 'inconclusive limit with onInconclusive Rollback: Failed, verdict Inconclusive', o: { spec: spec({ analysis: { interval: '10s', inconclusiveLimit: 2, onInconclusive: 'Rollback', metrics: [{ name: 'error-rate', prometheus: { query: 'x' }, max: 0.01 }] } }), status: running(20_000, { analysis: { consecutiveFailures: 0, consecutiveInconclusive: 1 } }), routeMirror: mirror, analysis: noData }, phase: 'Failed', effects: ['removeMirror', 'status', 'event:Failed'], verdict: 'Inconclusive' },
    { name: 'no analysis: Passed when the duration is over', o: { spec: spec({ analysis: undefined }), status: running(61_000), routeMirror: mirror }, phase: 'Passed', effects: ['removeMirror', 'status', 'event:Passed'], verdict: 'Pass' },
    { name: 'abort annotation: Cancelled, mirror removed', o: { status: running(5_000), routeMirror: mirror, annotations: { 'cutover.dev/abort': '1' } }, phase: 'Cancelled', effects: ['removeMirror', 'status', 'event:Cancelled'], ready: 'False' },
    { name: 'terminal whose mirror removal was not recorded (crash): removed again', o: { status: { ...running(70_000), phase: 'Passed', verdict: 'Pass' }, routeMirror: mirror }, phase: 'Passed', effects: ['removeMirror', 'status'] },
    { name: 'terminal, removal recorded: nothing', o: { status: { ...running(70_000), phase: 'Failed', verdict: 'Fail', mirrorRemovedAt: iso(T0 - 1000) }, routeMirror: undefined }, phase: 'Failed', effects: ['status'] },
    { name: 'gateway cannot mirror on start: Stalled, nothing written to the route', o: { problems: [{ field: 'spec.route.httpRoute.name', message: 'GatewayClass eg (of Gateway shop/public) does not list HTTPRouteRequestMirror in status.supportedFeatures: no mirror is added', reason: 'MirrorNotSupported' }] }, phase: 'Pending', effects: ['status', 'event:MirrorNotSupported'] },
    { name: 'missing route on start: Stalled, nothing changed', o: { problems: [{ field: 'spec.route.httpRoute.name', message: 'HTTPRoute shop/listings not found', reason: 'RouteNotFound' }] }, phase: 'Pending', effects: ['status', 'event:RouteNotFound'] },
    { name: 'deletion: mirror removed, then the finalizer', o: { status: running(5_000), routeMirror: mirror, deleting: true }, phase: 'Running', effects: ['removeMirror', 'event:MirrorRemoved', 'removeFinalizer'] },
    { name: 'deletion without a mirror: only the finalizer', o: { status: running(5_000), routeMirror: null, deleting: true }, phase: 'Running', effects: ['removeFinalizer'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const p = planShadowRun(obs(c.o));
      expect(p.status.phase).toBe(c.phase);
      expect(types(p.effects)).toEqual(c.effects);
      if (c.verdict) expect(p.status.verdict).toBe(c.verdict);
      if (c.ready) expect(cond(p.status, 'Ready')?.status).toBe(c.ready);
    });
  }

  it('keeps primary and shadow values side by side with the threshold', () => {
    const p = planShadowRun(obs({ status: running(20_000), routeMirror: mirror, analysis: pass }));
    expect(p.status.results).toEqual([{ name: 'error-rate', primary: 0.001, shadow: 0.002, result: 'Pass', threshold: '<= 0.01, diff <= 0.5 pp', message: 'error-rate 0.002 +0.1 pp', at: iso(T0) }]);
    expect(p.status.analysis).toEqual({ consecutiveFailures: 0, consecutiveInconclusive: 0 });
  });

  it('a failed check below the limit marks Degraded; a passing one clears it', () => {
    const p = planShadowRun(obs({ status: running(20_000), routeMirror: mirror, analysis: fail }));
    expect(cond(p.status, 'Degraded')?.status).toBe('True');
    const p2 = planShadowRun(obs({ status: p.status, routeMirror: mirror, analysis: pass, now: T0 + 10_000 }));
    expect(cond(p2.status, 'Degraded')).toBeUndefined();
  });

  it('new run: endsAt is startedAt + duration; Stalled cleared once the problem is fixed', () => {
    const stalled = planShadowRun(obs({ problems: [{ field: 'spec.shadow.service', message: 'Service shop/listings-api not found', reason: 'ServiceNotFound' }] }));
    expect(cond(stalled.status, 'Stalled')?.message).toBe('spec.shadow.service: Service shop/listings-api not found');
    const p = planShadowRun(obs({ status: stalled.status }));
    expect(p.status.endsAt).toBe(iso(T0 + 60_000));
    expect(cond(p.status, 'Stalled')).toBeUndefined();
    expect(p.requeueAfterMs).toBe(10_000);
  });

  it('retry on a failed run starts over; a spec change does too', () => {
    const failed: ShadowRunStatus = { ...running(70_000), phase: 'Failed', verdict: 'Fail', mirrorRemovedAt: iso(T0 - 1000) };
    const p = planShadowRun(obs({ status: failed, annotations: { 'cutover.dev/retry': 'r1' } }));
    expect(p.status.phase).toBe('Running');
    expect(p.status.verdict).toBeUndefined();
    const again = planShadowRun(obs({ status: p.status, annotations: { 'cutover.dev/retry': 'r1' }, routeMirror: mirror }));
    expect(again.status.phase).toBe('Running');
    expect(types(again.effects)).not.toContain('mirror:50');
    const changed = planShadowRun(obs({ status: failed, generation: 2 }));
    expect(changed.status.phase).toBe('Running');
  });

  it('analysis is due one interval after the start, then every interval', () => {
    const s = spec();
    expect(analysisDue(s, running(5_000), T0)).toBe(false);
    expect(analysisDue(s, running(10_000), T0)).toBe(true);
    expect(analysisDue(s, running(30_000, { lastAnalysisAt: iso(T0 - 3_000) }), T0)).toBe(false);
    expect(analysisDue(s, { phase: 'Passed' }, T0)).toBe(false);
  });
});
