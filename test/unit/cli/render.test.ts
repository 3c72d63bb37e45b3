// kubectl cutover's text output, from objects as the API server returns them.
import { describe, expect, it } from 'vitest';
import { age, getTable, statusText, type CutoverObject } from '../../../operator/src/cli/render.ts';
import { refuse } from '../../../operator/src/cli/main.ts';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const ago = (s: number) => new Date(NOW - s * 1000).toISOString();

const shift: CutoverObject = {
  kind: 'TrafficShift',
  metadata: { name: 'listings-read', namespace: 'shop', generation: 2, creationTimestamp: ago(3700), annotations: { 'cutover.dev/pause': 'p1' } },
  spec: {
    route: { httpRoute: { name: 'listings' } }, stable: { service: 'monolith', port: 8080 }, canary: { service: 'listings-api', port: 8080 },
    steps: [{ weight: 10, pause: '5m' }, { weight: 50, pause: '30m' }, { weight: 100, pause: '1h' }],
    analysis: { interval: '30s', failureLimit: 2, inconclusiveLimit: 3, onInconclusive: 'Pause', metrics: [{ name: 'error-rate', max: 0.01 }, { name: 'p95-vs-legacy', maxRatio: 1.1 }] },
    rollback: { alerts: [{ matchLabels: { service: 'listings-api' } }] },
  },
  status: {
    observedGeneration: 2, phase: 'Progressing', message: 'step 2/3: weight 50', currentStep: 1, currentWeight: 50, stepStartedAt: ago(120), lastAnalysisAt: ago(10),
    analysis: { consecutiveFailures: 1, consecutiveInconclusive: 0, lastResults: [{ name: 'error-rate', value: 0.02, threshold: '<= 0.01', result: 'Fail', message: 'error-rate 0.02 > 0.01' }, { name: 'p95-vs-legacy', value: 0.22, baseline: 0.2, threshold: 'ratio <= 1.1', result: 'Pass' }] },
    acknowledgedActions: [{ action: 'Resume', id: 'r1', at: ago(300) }],
    conditions: [{ type: 'Ready', status: 'False', reason: 'StepInProgress', message: 'step 2/3: weight 50', lastTransitionTime: ago(120) }],
  },
};

describe('age', () => {
  it.each([[5, '5s'], [119, '119s'], [120, '2m'], [3700, '1h1m'], [7200, '2h'], [90_000, '1d1h'], [30 * 86400, '30d']])('%i s → %s', (s, want) => {
    expect(age(ago(s), NOW)).toBe(want);
  });
  it('no time → -', () => expect(age(undefined, NOW)).toBe('-'));
});

describe('get table', () => {
  it('one row per resource, kinds mixed, with phase, weight, step, owner, age and message', () => {
    const slice: CutoverObject = { kind: 'MigrationSlice', metadata: { name: 'listings-slice', namespace: 'shop', creationTimestamp: ago(60) }, spec: { owner: 'team-listings', shift: { steps: [{}, {}, {}] } }, status: { phase: 'Shifting', currentWeight: 10, children: { trafficShift: { name: 'x', currentStep: 0 } } } };
    const sr: CutoverObject = { kind: 'ShadowRun', metadata: { name: 'parity', namespace: 'shop', creationTimestamp: ago(30) }, spec: { percent: 25 }, status: { phase: 'Running', conditions: [{ type: 'Stalled', status: 'True', message: 'spec.route.httpRoute.name: HTTPRoute shop/x not found' }] } };
    const lines = getTable([shift, sr, slice], NOW, false);
    expect(lines[0]).toMatch(/^NAME\s+PHASE\s+WEIGHT\s+STEP\s+OWNER\s+AGE\s+MESSAGE$/);
    expect(lines[1]).toMatch(/^trafficshift\/listings-read\s+Progressing\s+50%\s+2\/3\s+-\s+1h1m\s+step 2\/3: weight 50$/);
    expect(lines[2]).toMatch(/^shadowrun\/parity\s+Running \(Stalled\)\s+mirror 25%\s+-\s+-\s+30s\s+spec\.route\.httpRoute\.name: HTTPRoute shop\/x not found$/);
    expect(lines[3]).toMatch(/^migrationslice\/listings-slice\s+Shifting\s+10%\s+1\/3\s+team-listings\s+60s/);
  });
  it('a NAMESPACE column with -A', () => {
    expect(getTable([shift], NOW, true)[0]).toMatch(/^NAMESPACE\s+NAME/);
  });
});

describe('status of a TrafficShift', () => {
  const text = statusText(shift, [{ type: 'Normal', reason: 'StepStarted', message: 'step 2/3: canary weight 50%', at: ago(120) }], NOW).join('\n');
  it('shows the steps with the current one marked', () => {
    expect(text).toContain('  ✓  1   10%  pause 5m');
    expect(text).toContain('  ▶  2   50%  pause 30m   started 2m ago');
    expect(text).toContain('     3  100%  pause 1h');
  });
  it('shows the weight and the route', () => {
    expect(text).toContain('Weight:    [##########----------] 50% canary, 50% stable');
    expect(text).toContain('HTTPRoute listings rule 0: stable monolith:8080 → canary listings-api:8080');
  });
  it('shows each metric against its threshold, with the ratio for relative checks', () => {
    expect(text).toContain('failures 1/2 consecutive, inconclusive 0/3 (then Pause); last recorded run 10s ago');
    expect(text).toMatch(/error-rate\s+0\.02\s+-\s+-\s+<= 0\.01\s+Fail\s+error-rate 0\.02 > 0\.01/);
    expect(text).toMatch(/p95-vs-legacy\s+0\.22\s+0\.2\s+1\.1\s+ratio <= 1\.1\s+Pass/);
  });
  it('shows acknowledged and pending actions, alerts, conditions and events', () => {
    expect(text).toContain('Resume r1 acknowledged 5m ago');
    expect(text).toContain('pause p1 requested, not yet acknowledged');
    expect(text).toContain('roll back at once on {service=listings-api}');
    expect(text).toMatch(/Ready\s+False\s+StepInProgress\s+2m\s+step 2\/3/);
    expect(text).toMatch(/Normal\s+StepStarted\s+2m\s+step 2\/3: canary weight 50%/);
  });
  it('a rolled-back shift shows the trigger and reason', () => {
    const rb = statusText({ ...shift, status: { phase: 'RolledBack', currentStep: 2, currentWeight: 0, rollback: { trigger: 'Alert', reason: 'alert ListingsApiErrors firing', at: ago(5), fromWeight: 100, fromStep: 2, routeRestoredAt: ago(5), completedAt: ago(5) } } }, [], NOW).join('\n');
    expect(rb).toContain('Rollback:  Alert 5s ago — alert ListingsApiErrors firing (from 100%, step 3)');
    expect(rb).toContain('  ✗  3  100%');
    expect(rb).toContain('           route restored, workers not yet restored; complete');
  });
  it('a rolled-back shift of a MigrationSlice says the slice restores its workers', () => {
    const child = { ...shift, metadata: { ...shift.metadata, ownerReferences: [{ kind: 'MigrationSlice', name: 'listings-slice', controller: true }] } };
    const rb = statusText({ ...child, status: { phase: 'RolledBack', currentStep: 0, currentWeight: 0, rollback: { trigger: 'Analysis', reason: 'error-rate 0.2 > 0.05', at: ago(5), routeRestoredAt: ago(5), completedAt: ago(5) } } }, [], NOW).join('\n');
    expect(rb).toContain('route restored, workers restored by MigrationSlice listings-slice; complete');
  });
});

describe('status of a MigrationSlice', () => {
  it('shows owner, children, rollback plan and history', () => {
    const text = statusText({ kind: 'MigrationSlice', metadata: { name: 's', namespace: 'shop' }, spec: { owner: 'team-a', rollbackPlan: 'flip the flag\nscale v1 up', legacy: { service: 'monolith' }, target: { service: 'api' } }, status: { phase: 'Shifting', children: { trafficShift: { name: 's-shift', phase: 'Progressing', currentWeight: 10 } }, history: [{ phase: 'Pending', at: ago(100), reason: 'Created' }, { phase: 'Shifting', at: ago(50), reason: 'ShiftStarted', message: 'weight 10' }] } }, [], NOW).join('\n');
    expect(text).toContain('Owner:     team-a');
    expect(text).toContain('Shift:     s-shift Progressing at 10%');
    expect(text).toContain('Rollback plan: flip the flag\n               scale v1 up');
    expect(text).toMatch(/Shifting\s+50s\s+ShiftStarted\s+weight 10/);
  });
  it('a rolled-back slice shows its rollback part by part: route, flag, workers', () => {
    const base = { kind: 'MigrationSlice', metadata: { name: 's', namespace: 'shop' }, spec: { owner: 'team-a', rollbackPlan: 'x', featureFlag: { configMap: 'flags', key: 'reads' } } };
    const midway = statusText({ ...base, status: { phase: 'RolledBack', rollback: { trigger: 'Alert', reason: 'alert ApiErrors firing', at: ago(3), routeRestoredAt: ago(3), featureFlagRestoredAt: ago(2) } } }, [], NOW).join('\n');
    expect(midway).toContain('Rollback:  Alert 3s ago — alert ApiErrors firing');
    expect(midway).toContain('           route restored, flag restored, workers not yet restored');
    const noFlag = statusText({ ...base, spec: { ...base.spec, featureFlag: undefined }, status: { phase: 'RolledBack', rollback: { trigger: 'Manual', reason: 'abort', at: ago(3), routeRestoredAt: ago(3), workersRestoredAt: ago(2), completedAt: ago(2) } } }, [], NOW).join('\n');
    expect(noFlag).toContain('           route restored, workers restored; complete');
  });
});

describe('which actions make sense in which phase', () => {
  it.each([
    ['Progressing', 'Abort', undefined],
    ['Paused', 'Promote', undefined],
    ['Progressing', 'Pause', undefined],
    ['Paused', 'Resume', undefined],
    ['RolledBack', 'Retry', undefined],
    ['Failed', 'Retry', undefined],
    ['Progressing', 'Retry', /only a RolledBack or Failed/],
    ['Progressing', 'Resume', /not Paused/],
    ['Paused', 'Pause', /already Paused/],
    ['Completed', 'Abort', /Completed: nothing to abort/],
    ['RolledBack', 'Promote', /use retry/],
  ] as const)('%s + %s', (phase, action, want) => {
    const r = refuse('TrafficShift', phase, action);
    if (want === undefined) expect(r).toBeUndefined(); else expect(r).toMatch(want);
  });

  it('a ShadowRun with parity: its verdict, counts, reason, skips, the breaker and where the report is', () => {
    const sr: CutoverObject = {
      kind: 'ShadowRun', metadata: { name: 'listings', namespace: 'shop', generation: 1, creationTimestamp: ago(60) },
      spec: { percent: 100, duration: '1h', primary: { service: 'monolith' }, shadow: { service: 'listings-api' }, parity: { maxMismatchRatio: 0.01 } },
      status: { phase: 'Running', parity: { compared: 400, mismatched: 36, noiseCompared: 80, result: 'Fail', reason: 'GET /listings/:id: 36 of 400 compared responses differ', comparator: 'cutover-parity-listings', skipped: [{ reason: 'method', count: 12 }], breaker: '6 of the last 10 legacy replays failed' } },
    };
    const text = statusText(sr, [], NOW).join('\n');
    expect(text).toContain('Parity:    Fail: 36/400 compared responses differ (80 noise samples); comparator cutover-parity-listings');
    expect(text).toContain('GET /listings/:id: 36 of 400 compared responses differ');
    expect(text).toContain('skipped: method 12');
    expect(text).toContain('legacy replays paused: 6 of the last 10 legacy replays failed');
    expect(text).toContain('kubectl cutover report listings -n shop');
  });
});

describe('status of a TrafficShift with a judged metric (issue 16)', () => {
  const judged: CutoverObject = {
    ...shift,
    spec: {
      ...shift.spec as object,
      analysis: {
        interval: '30s', failureLimit: 2, inconclusiveLimit: 3, onInconclusive: 'Pause', scoreThresholds: { pass: 90, marginal: 75 },
        metrics: [{ name: 'p50', judge: { window: '5m', step: '15s', confidence: 0.98, direction: 'increase', critical: false } }],
      },
    },
    status: {
      phase: 'Progressing', currentStep: 0, currentWeight: 10,
      analysis: {
        consecutiveFailures: 1, consecutiveInconclusive: 0, score: 0,
        lastResults: [{
          name: 'p50', value: 0.115, baseline: 0.1, threshold: 'judge increase, 98%, mean ratio <= 1', result: 'Fail', message: 'p50 new is higher than legacy',
          judge: { classification: 'High', estimate: 0.015, lower: 0.011, upper: 0.019, confidence: 0.98, pValue: 0.00002, meanRatio: 1.15, samples: 20, baselineSamples: 19, score: 0 },
        }],
      },
    },
  };
  const text = statusText(judged, [], NOW).join('\n');
  it('shows the score with its thresholds, and estimate, interval, p-value, ratio and samples', () => {
    expect(text).toContain('Judge:     score 0 (pass 90, marginal 75)');
    expect(text).toMatch(/METRIC\s+SHIFT\s+INTERVAL\s+P\s+MEAN RATIO\s+SAMPLES\s+CLASS/);
    expect(text).toMatch(/p50\s+\+0\.015\s+\[\+0\.011, \+0\.019\] 98%\s+2\.00e-5\s+1\.15x\s+20\/19\s+High/);
  });
  it('says what serially correlated points are worth', () => {
    const status = judged.status as { analysis: { lastResults: Array<{ judge: Record<string, unknown> }> } };
    const correlated = { ...judged, status: { ...judged.status, analysis: { ...status.analysis, lastResults: [{ ...status.analysis.lastResults[0], judge: { ...status.analysis.lastResults[0]!.judge, samples: 40, baselineSamples: 240, serialCorrelation: 0.58, effectiveSamples: 10.63 } }] } } };
    expect(statusText(correlated, [], NOW).join('\n')).toMatch(/40\/240 \(r 0\.58: ~10\.6 indep\.\)\s+High/);
  });
  it('shows nothing about the judge for a shift without judged metrics', () => {
    expect(statusText(shift, [], NOW).join('\n')).not.toContain('Judge:');
  });
});
