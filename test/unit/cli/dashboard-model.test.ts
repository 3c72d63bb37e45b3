// The dashboard's pure model: overview order (what needs someone first), weight history, the
// rollback card, steps with time left, the confirmation's words, the query variables; and the
// committed browser assets are exactly what the sources build to.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderTemplate } from '../../../operator/src/analysis/template.ts';
import { buildAssets } from '../../../operator/src/cli/dashboard/build.ts';
import { acknowledgement, actionEffect, actionsFor, compareSummaries, judgeLine, matches, refuseAction, resultPoints, rollbackCard, stepsView, summarize, templateVarsOf, timelineMarks, valueAt, weightHistory, type CutoverObject } from '../../../operator/src/cli/dashboard/model.ts';
import { ASSETS_DIR } from '../../../operator/src/cli/dashboard/server.ts';

const NOW = Date.parse('2026-12-02T12:00:00Z');
const iso = (msAgo: number) => new Date(NOW - msAgo).toISOString();

function shift(name: string, status: Record<string, unknown>, extra: Partial<CutoverObject> = {}): CutoverObject {
  return {
    kind: 'TrafficShift',
    metadata: { name, namespace: 'shop', creationTimestamp: iso(3600_000) },
    spec: { stable: { service: 'monolith', port: 8080 }, canary: { service: 'listings-api', port: 8080 }, steps: [{ weight: 10, pause: '5m' }, { weight: 50, pause: '30m' }, { weight: 100, pause: '1h' }], analysis: { interval: '30s', metrics: [{ name: 'error-rate', prometheus: { query: 'sum(rate(x{service="{{canary.service}}",namespace="{{namespace}}"}[{{interval}}]))' }, max: 0.01 }] } },
    status,
    ...extra,
  };
}

describe('overview', () => {
  const rows = [
    summarize(shift('done', { phase: 'Completed', currentWeight: 100, completedAt: iso(60_000) }), NOW),
    summarize(shift('moving', { phase: 'Progressing', currentStep: 1, currentWeight: 50 }), NOW),
    summarize(shift('old-rollback', { phase: 'RolledBack', currentWeight: 0, rollback: { trigger: 'Metric', reason: 'x', at: iso(2 * 86_400_000) } }), NOW),
    summarize(shift('paused', { phase: 'Paused', currentWeight: 10, pausedAt: iso(120_000) }), NOW),
    summarize(shift('stalled', { phase: 'Pending', conditions: [{ type: 'Stalled', status: 'True', reason: 'RouteNotFound', message: 'spec.route.httpRoute.name: HTTPRoute shop/x not found', lastTransitionTime: iso(30_000) }] }), NOW),
    summarize(shift('rolled-back', { phase: 'RolledBack', currentWeight: 0, rollback: { trigger: 'Metric', reason: 'error-rate 0.2 > 0.05', at: iso(600_000) } }), NOW),
    summarize({ kind: 'MigrationSlice', metadata: { name: 'score', namespace: 'jobs', creationTimestamp: iso(60_000) }, spec: { owner: 'team-score', startWhen: [{ name: 'slow' }], shift: { steps: [{ weight: 100 }] } }, status: { phase: 'Pending' } }, NOW),
  ];

  it('orders what needs someone first (rolled back in 24 h, stalled, paused, waiting), then moving, then done', () => {
    const sorted = [...rows].sort(compareSummaries);
    expect(sorted.map((r) => [r.name, r.group, r.attention ?? ''])).toEqual([
      ['rolled-back', 'attention', 'RolledBack'],
      ['stalled', 'attention', 'Stalled'],
      ['paused', 'attention', 'Paused'],
      ['score', 'attention', 'Waiting'],
      ['moving', 'moving', ''],
      ['done', 'done', ''],
      ['old-rollback', 'done', ''],
    ]);
  });

  it('a row carries weight, step, owner and the Stalled message', () => {
    const moving = rows.find((r) => r.name === 'moving')!;
    expect([moving.weightText, moving.step]).toEqual(['50%', '2/3']);
    expect(rows.find((r) => r.name === 'stalled')!.message).toBe('spec.route.httpRoute.name: HTTPRoute shop/x not found');
    expect(rows.find((r) => r.name === 'score')!.owner).toBe('team-score');
  });

  it('filters by namespace, kind, owner and free text', () => {
    expect(rows.filter((r) => matches(r, { namespace: 'jobs' })).map((r) => r.name)).toEqual(['score']);
    expect(rows.filter((r) => matches(r, { kind: 'MigrationSlice' })).map((r) => r.name)).toEqual(['score']);
    expect(rows.filter((r) => matches(r, { owner: 'team-score' })).map((r) => r.name)).toEqual(['score']);
    expect(rows.filter((r) => matches(r, { search: 'ROUTENOT' })).map((r) => r.name)).toEqual([]);
    expect(rows.filter((r) => matches(r, { search: 'httproute' })).map((r) => r.name)).toEqual(['stalled']);
  });
});

describe('a cutover page', () => {
  const rolledBack = shift('checkout', {
    phase: 'RolledBack', currentStep: 1, currentWeight: 0, startedAt: iso(300_000),
    analysis: { consecutiveFailures: 2, consecutiveInconclusive: 0, lastResults: [{ name: 'error-rate', value: 0.21, threshold: '<= 0.05', result: 'Fail', at: iso(61_000) }] },
    rollback: { trigger: 'Metric', reason: 'error-rate 0.21 > 0.05', at: iso(60_000), fromWeight: 50, fromStep: 1, routeRestoredAt: iso(59_900), workersRestoredAt: iso(59_000), featureFlagRestoredAt: iso(59_500), completedAt: iso(58_000) },
  });

  it('weight over time: steps from their Events, the weights seen, back to 0 at the rollback instant', () => {
    const events = [
      { reason: 'StepStarted', message: 'step 1/3: canary weight 10% (workers ready)', at: iso(290_000) },
      { reason: 'StepStarted', message: 'step 2/3: canary weight 50% (step 1 done)', at: iso(180_000) },
      { reason: 'RolledBack', message: 'rolled back', at: iso(59_000) },
    ];
    const h = weightHistory(rolledBack, events, [{ t: NOW - 179_000, weight: 50 }, { t: NOW - 30_000, weight: 50 }], NOW);
    expect(h.rollbackAt).toBe(NOW - 59_900);
    expect(h.points).toEqual([
      { t: NOW - 300_000, weight: 0 }, { t: NOW - 290_000, weight: 10 }, { t: NOW - 180_000, weight: 50 }, { t: NOW - 59_900, weight: 0 }, { t: NOW, weight: 0 },
    ]);
  });

  it('the time axis marks: workers scaled and restored, the alert that asked, the rollback instant', () => {
    const o = shift('w', {
      phase: 'RolledBack', startedAt: iso(590_000),
      workers: [{ deployment: 'score-worker', previousReplicas: 0, scaledAt: iso(600_000) }],
      rollback: { trigger: 'Alert', alert: 'ListingsErrors', reason: 'alert ListingsErrors', at: iso(60_000), routeRestoredAt: iso(60_000), workersRestoredAt: iso(59_000), completedAt: iso(59_000) },
    });
    o.spec!.workers = [{ deployment: 'score-worker', replicas: 3 }];
    expect(timelineMarks(o).map((m) => [NOW - m.t, m.kind, m.label])).toEqual([
      [600_000, 'workers', 'score-worker 0→3'],
      [60_000, 'alert', 'alert ListingsErrors'],
      [60_000, 'rollback', 'rollback (Alert)'],
      [59_000, 'workers', 'workers restored: score-worker→0'],
    ]);
    // A metric rollback has no alert mark; a shift that never scaled or rolled back has no marks.
    expect(timelineMarks(shift('m', { phase: 'RolledBack', rollback: { trigger: 'Metric', reason: 'x', at: iso(1000) } })).map((m) => m.kind)).toEqual(['rollback']);
    expect(timelineMarks(shift('n', { phase: 'Progressing', currentWeight: 10 }))).toEqual([]);
  });

  it('the time axis marks of a MigrationSlice, and of its TrafficShift: the flag flips, the workers restored by the slice', () => {
    const slice: CutoverObject = {
      kind: 'MigrationSlice', metadata: { name: 'score', namespace: 'jobs' },
      spec: { featureFlag: { configMap: 'flags', key: 'score' }, workers: [{ deployment: 'score-worker', replicas: 3 }], shift: { steps: [{ weight: 100, pause: '1m' }] } },
      status: {
        phase: 'RolledBack',
        history: [{ phase: 'Shifting', at: iso(300_000), reason: 'ShiftStarted' }],
        featureFlag: { enabled: false, at: iso(100_000) },
        children: { trafficShift: { name: 'score-shift', workers: [{ deployment: 'score-worker', previousReplicas: 1 }] } },
        rollback: { trigger: 'Manual', reason: 'x', at: iso(101_000), routeRestoredAt: iso(101_000), featureFlagRestoredAt: iso(100_000), workersRestoredAt: iso(99_000) },
      },
    };
    const flagAndWorkers = [
      [300_000, 'flag', 'flags/score on'],
      [100_000, 'flag', 'flags/score off'],
      [99_000, 'workers', 'workers restored: score-worker→1'],
    ];
    expect(timelineMarks(slice, undefined, [{ t: NOW - 300_000, enabled: true }, { t: NOW - 100_000, enabled: false }]).map((m) => [NOW - m.t, m.kind, m.label]))
      .toEqual([...flagAndWorkers.slice(0, 1), [101_000, 'rollback', 'rollback (Manual)'], ...flagAndWorkers.slice(1)]);
    // The slice's TrafficShift: its own rollback, the slice's flag and worker restore.
    const child = shift('score-shift', { phase: 'RolledBack', rollback: { trigger: 'Manual', reason: 'x', at: iso(101_000) }, workers: [{ deployment: 'score-worker', previousReplicas: 1 }] });
    expect(timelineMarks(child, slice).map((m) => [NOW - m.t, m.kind, m.label])).toEqual([flagAndWorkers[0], [101_000, 'rollback', 'rollback (Manual)'], ...flagAndWorkers.slice(1)]);
  });

  it('a step-held value: the last point at or before the time, none before the first', () => {
    const pts = [{ t: 10, weight: 0 }, { t: 20, weight: 10 }, { t: 30, weight: 50 }];
    expect([5, 10, 25, 30, 99].map((t) => valueAt(pts, t))).toEqual([null, 0, 10, 50, 50]);
  });

  it('the rollback card: trigger, reason, the failing value against its threshold, the restore order', () => {
    const card = rollbackCard(rolledBack)!;
    expect(card.trigger).toBe('Metric');
    expect(card.failing).toEqual([{ name: 'error-rate', value: 0.21, threshold: '<= 0.05' }]);
    expect(card.restored.map((r) => r.part)).toEqual(['route to stable', 'feature flag off', 'workers restored', 'rollback complete']);
    expect(rollbackCard(shift('fine', { phase: 'Progressing' }))).toBeUndefined();
  });

  it('steps: done, the current one with the time left (stopped while paused), next', () => {
    const s = shift('x', { phase: 'Progressing', currentStep: 1, stepStartedAt: iso(10 * 60_000) });
    expect(stepsView(s, NOW).map((v) => [v.weight, v.state, v.leftMs])).toEqual([[10, 'done', undefined], [50, 'current', 20 * 60_000], [100, 'next', undefined]]);
    const p = shift('x', { phase: 'Paused', currentStep: 1, stepStartedAt: iso(10 * 60_000), pausedAt: iso(5 * 60_000) });
    expect(stepsView(p, NOW)[1]!.leftMs).toBe(25 * 60_000);
    expect(stepsView(rolledBack, NOW).map((v) => v.state)).toEqual(['done', 'rolled-back', 'next']);
  });

  it('the same query variables as the operator, so the chart is the judged series', () => {
    const vars = templateVarsOf(rolledBack);
    expect(renderTemplate('sum(rate(x{service="{{canary.service}}",namespace="{{namespace}}"}[{{interval}}]))', vars)).toBe('sum(rate(x{service="listings-api",namespace="shop"}[30s]))');
    const sr: CutoverObject = { kind: 'ShadowRun', metadata: { name: 'sr', namespace: 'shop' }, spec: { primary: { service: 'monolith' }, shadow: { service: 'v2' }, analysis: { interval: '10s' } } };
    expect(templateVarsOf(sr)).toMatchObject({ 'primary.service': 'monolith', 'shadow.service': 'v2', 'canary.service': 'v2', 'stable.service': 'monolith', interval: '10s' });
  });

  it('actions: the confirmation names the effect; refused as kubectl cutover refuses; the acknowledgement', () => {
    const moving = shift('m', { phase: 'Progressing', currentWeight: 50, acknowledgedActions: [{ action: 'Abort', id: 'r1', at: iso(1000) }] });
    expect(actionEffect(moving, 'Abort')).toBe('route back to monolith 100% now, then restore flag and workers (RolledBack, trigger Manual)');
    expect(actionEffect(moving, 'Promote')).toBe('skip the remaining steps: listings-api 100% now');
    expect(refuseAction('TrafficShift', 'Progressing', 'Resume')).toBe('TrafficShift is Progressing, not Paused: nothing to resume');
    expect(refuseAction('TrafficShift', 'RolledBack', 'Retry')).toBeUndefined();
    expect(refuseAction('TrafficShift', 'RolledBack', 'Abort')).toContain('use retry');
    expect(acknowledgement(moving, 'Abort', 'r1')).toMatchObject({ phase: 'Progressing' });
    expect(acknowledgement(moving, 'Abort', 'other')).toBeUndefined();
    // Only what each kind's controller acts on is offered.
    expect(actionsFor('TrafficShift')).toEqual(['Promote', 'Abort', 'Pause', 'Resume', 'Retry']);
    expect(actionsFor('ShadowRun')).toEqual(['Abort', 'Retry']);
    expect(actionsFor('MigrationSlice')).toEqual(['Abort', 'Retry']);
  });
});

describe('browser assets', () => {
  it('the committed assets are what `npm run build:dashboard` builds from the sources', async () => {
    const built = await buildAssets();
    for (const [name, text] of Object.entries(built)) {
      // Compared whole, reported short (a minified bundle is one very long line).
      expect(readFileSync(join(ASSETS_DIR, name), 'utf8') === text, `${name} is stale: run npm run build:dashboard`).toBe(true);
    }
  });

  it('every asset is served by the plugin: the page loads nothing from another origin', () => {
    const html = readFileSync(join(ASSETS_DIR, 'index.html'), 'utf8');
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs).toEqual(['/assets/app.css', '/assets/app.js']);
    const js = readFileSync(join(ASSETS_DIR, 'app.js'), 'utf8');
    expect(js).not.toMatch(/https?:\/\/(?!www\.w3\.org)[a-z0-9.-]+\.[a-z]{2,}\//i);
  });
});

describe('the statistical judge on a cutover page (issue 16)', () => {
  const judged = {
    apiVersion: 'cutover.dev/v1alpha1', kind: 'TrafficShift', metadata: { name: 's', namespace: 'shop' },
    status: { analysis: { score: 0, lastResults: [
      { name: 'p50-judged', result: 'Fail', at: '2026-12-02T10:00:00Z', value: 0.121, baseline: 0.1, threshold: 'judge increase, 99.7%, mean ratio <= 1.05',
        judge: { classification: 'High', estimate: 0.0215, lower: 0.0118, upper: 0.0314, confidence: 0.997, pValue: 0.00000642, meanRatio: 1.21, samples: 40, baselineSamples: 480, serialCorrelation: 0.509, effectiveSamples: 8.71, score: 0 } },
      { name: 'error-rate', result: 'Pass', at: '2026-12-02T10:00:00Z', value: 0 },
    ] } },
  } as unknown as CutoverObject;

  it('carries the judge\'s findings with the result, and only for judged metrics', () => {
    const [p50, errors] = resultPoints(judged);
    expect(p50?.judge).toEqual({ classification: 'High', estimate: 0.0215, lower: 0.0118, upper: 0.0314, confidence: 0.997, pValue: 0.00000642, meanRatio: 1.21, samples: 40, baselineSamples: 480, effectiveSamples: 8.71, score: 0 });
    expect(errors?.judge).toBeUndefined();
  });

  it('says estimate, interval, p-value, ratio, points and score in one line', () => {
    expect(judgeLine(resultPoints(judged)[0]!.judge!)).toBe('High: shift +0.0215 [99.7% CI +0.0118, +0.0314], p=6.42e-6, mean ratio 1.21x, 40 vs 480 points (~8.7 independent), score 0');
    expect(judgeLine({ classification: 'Pass', estimate: 0, lower: -0.002, upper: 0.003 })).toBe('Pass: shift 0 [-0.002, +0.003]');
  });
});
