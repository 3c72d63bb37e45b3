import { describe, expect, it } from 'vitest';
import { judgeMetric, judgeScore, MAX_INFLATION, minimumSamples, scoreRun, serialCorrelation, type JudgeParams } from '../../../operator/src/analysis/judge.ts';
import { mannWhitney } from '../../../operator/src/analysis/mannwhitney.ts';
import type { MetricResult } from '../../../operator/src/analysis/evaluate.ts';
import type { SeriesSample } from '../../../operator/src/analysis/provider.ts';

const series = (...values: number[]): SeriesSample => ({ kind: 'values', values });
const mannWhitneyP = (x: number[], y: number[]): number => mannWhitney(x, y).pValue;
const params = (p: Partial<JudgeParams> = {}): JudgeParams => ({ confidence: 0.98, direction: 'either', critical: false, ...p });
// Two 20-point samples; `slow` is `base` shifted up by 15%.
const base = [13, 2, 17, 8, 0, 11, 5, 19, 3, 14, 9, 1, 16, 6, 12, 18, 4, 10, 15, 7].map((k) => 0.1 + k / 1000);
const slow = base.map((v) => v * 1.15);
const fast = base.map((v) => v * 0.85);

describe('judgeMetric', () => {
  it('passes identical distributions', () => {
    const r = judgeMetric('p50', params(), series(...base), series(...[...base].reverse()));
    expect(r.result).toBe('Pass');
    expect(r.judge).toMatchObject({ classification: 'Pass', estimate: 0, pValue: 1, samples: 20, baselineSamples: 20 });
    expect(r.message).toMatch(/^p50 no regression: shift 0 \[98% CI/);
  });

  it('fails a significant increase, naming estimate, interval, p-value and ratio', () => {
    const r = judgeMetric('p50', params({ direction: 'increase' }), series(...slow), series(...base));
    expect(r.result).toBe('Fail');
    expect(r.judge?.classification).toBe('High');
    expect(r.judge!.lower).toBeGreaterThan(0);
    expect(r.judge!.meanRatio).toBeCloseTo(1.15, 10);
    expect(r.message).toMatch(/^p50 new is higher than legacy: shift \+0\.0\d+ \[98% CI \+0\.0\d+, \+0\.0\d+\], p=[0-9.e-]+, mean ratio 1\.15x, 20 vs 20 samples > allowed 1x$/);
  });

  it('tolerates an increase within allowedIncrease', () => {
    const r = judgeMetric('p50', params({ direction: 'increase', allowedIncrease: 1.2 }), series(...slow), series(...base));
    expect(r.result).toBe('Pass');
    expect(r.judge?.classification).toBe('Pass');
  });

  it('an increase is no regression when only decreases are judged, and vice versa', () => {
    expect(judgeMetric('rps', params({ direction: 'decrease' }), series(...slow), series(...base)).result).toBe('Pass');
    expect(judgeMetric('p50', params({ direction: 'increase' }), series(...fast), series(...base)).result).toBe('Pass');
    const low = judgeMetric('rps', params({ direction: 'decrease', allowedDecrease: 0.9 }), series(...fast), series(...base));
    expect(low.result).toBe('Fail');
    expect(low.judge?.classification).toBe('Low');
    expect(low.message).toContain('< allowed 0.9x');
    expect(judgeMetric('rps', params({ direction: 'decrease', allowedDecrease: 0.8 }), series(...fast), series(...base)).result).toBe('Pass');
  });

  it('too few samples is inconclusive, never a pass, and says why', () => {
    // Orders without serial correlation: only the count decides here.
    const r = judgeMetric('p50', params(), series(2, 4, 1, 3), series(6, 8, 5, 7));
    expect(r.result).toBe('Inconclusive');
    expect(r.judge).toBeUndefined();
    expect(r.message).toBe('p50: too few samples (4 new, 4 legacy): at confidence 0.98 no difference can be significant with fewer than 5 independent points per side (widen judge.window or judge.baselineWindow, or wait for traffic)');
    expect(judgeMetric('p50', params(), series(), series(...base)).result).toBe('Inconclusive');
    // 5 per side is enough at 0.98: the most extreme samples fail.
    expect(judgeMetric('p50', params(), series(8, 10, 7, 9, 6), series(3, 5, 2, 4, 1)).result).toBe('Fail');
  });

  it('serially correlated points count for less: a level drift is not a regression, and the message says so', () => {
    // Two smooth series (an AR(1)-like wave, lag-1 correlation ~0.9 in both), the new one sitting a
    // little above for the whole window: every new point outranks most legacy points, which an
    // independent-points test calls highly significant.
    const wave = (phase: number, level: number) => Array.from({ length: 20 }, (_, i) => level + 0.01 * Math.sin((i + phase) / 3));
    const x = wave(0, 0.108);
    const y = wave(2, 0.1);
    const naive = mannWhitneyP(x, y);
    expect(naive).toBeLessThan(0.02);
    const r = judgeMetric('p50', params({ direction: 'increase' }), series(...x), series(...y));
    expect(r.result).toBe('Inconclusive');
    expect(r.message).toMatch(/serially correlated \(r=0\.9\)/);
    // With enough points the same structure is judged, and status carries what was corrected for.
    const long = (phase: number, level: number) => Array.from({ length: 200 }, (_, i) => level + 0.01 * Math.sin((i + phase) / 3));
    const j = judgeMetric('p50', params({ direction: 'increase' }), series(...long(0, 0.108)), series(...long(2, 0.1)));
    expect(j.judge?.serialCorrelation).toBe(0.9);
    expect(j.judge?.effectiveSamples).toBeCloseTo(200 / 19, 10);
    expect(j.message).toContain('(serial correlation 0.9: worth 10.5 vs 10.5 independent)');
    // Independent points are not penalised: the correction is 1.
    expect(serialCorrelation(base).inflation).toBe(1);
    expect(judgeMetric('p50', params({ direction: 'increase' }), series(...slow), series(...base)).judge?.effectiveSamples).toBe(20);
  });

  it('serialCorrelation: correlation at longer lags counts too (Geyer\'s sum), not only lag 1', () => {
    // A pattern that repeats every 3 points: neighbours look unrelated, points 3 apart nearly equal.
    const lag3 = Array.from({ length: 20 }, (_, i) => (i * 7) % 20);
    const s = serialCorrelation(lag3);
    expect(s.r).toBe(0);
    expect(s.inflation).toBeGreaterThan(1.3);
    expect(s.inflation).toBeLessThan(MAX_INFLATION);
  });

  it('serialCorrelation: pooled over the samples, bias-corrected, clamped, short samples ignored', () => {
    expect(serialCorrelation([1, 2, 3])).toEqual({ r: 0, inflation: 1 });
    expect(serialCorrelation([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).r).toBe(0.9);
    const alternating = Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? i : -i));
    expect(serialCorrelation(alternating)).toEqual({ r: 0, inflation: 1 });
    const { r, inflation } = serialCorrelation(Array.from({ length: 40 }, (_, i) => Math.sin(i / 1.2)), [1, 3, 2, 4]);
    expect(r).toBeGreaterThan(0.5);
    expect(r).toBeLessThan(0.9);
    expect(inflation).toBeCloseTo((1 + r) / (1 - r), 12);
  });

  it('minimum samples per side grows with the confidence', () => {
    expect(minimumSamples(0.9)).toBe(4);
    expect(minimumSamples(0.98)).toBe(5);
    expect(minimumSamples(0.999)).toBe(7);
  });

  it('provider problems pass through: inconclusive, rejected flagged', () => {
    const none = judgeMetric('p50', params(), { kind: 'inconclusive', reason: 'Prometheus unreachable' }, series(...base));
    expect(none).toEqual({ name: 'p50', result: 'Inconclusive', message: 'p50: Prometheus unreachable' });
    const bad = judgeMetric('p50', params(), series(...base), { kind: 'rejected', reason: 'parse error' });
    expect(bad).toEqual({ name: 'p50', result: 'Inconclusive', message: 'p50: baseline: parse error', queryRejected: true });
  });
});

describe('scoreRun', () => {
  const judged = (name: string, values: number[], p: Partial<JudgeParams> = {}): MetricResult =>
    judgeMetric(name, params({ direction: 'increase', ...p }), series(...values), series(...base));
  const threshold: MetricResult = { name: 'errors', result: 'Pass', value: 0, message: 'errors 0 <= 0.01' };
  const nine = Array.from({ length: 9 }, (_, i) => judged(`ok-${i}`, base));

  it('without thresholds: score recorded, each judged metric stands alone', () => {
    const { results, score } = scoreRun([threshold, ...nine, judged('slow', slow)]);
    expect(score).toBe(90);
    expect(results.find((r) => r.name === 'slow')?.result).toBe('Fail');
    expect(results.every((r) => r.judge === undefined || r.judge.score === 90)).toBe(true);
    expect(results[0]).toEqual(threshold);
  });

  it('score at pass tolerates a regression; between marginal and pass is inconclusive; below fails', () => {
    const run = [threshold, ...nine, judged('slow', slow)];
    const pass = scoreRun(run, { pass: 90, marginal: 75 });
    expect(pass.results.find((r) => r.name === 'slow')).toMatchObject({ result: 'Pass', message: expect.stringContaining('(tolerated: score 90 >= pass 90)') as unknown as string });
    const marginal = scoreRun(run, { pass: 95, marginal: 75 });
    expect(marginal.results.find((r) => r.name === 'slow')).toMatchObject({ result: 'Inconclusive', message: expect.stringContaining('(marginal: score 90 < pass 95, >= marginal 75)') as unknown as string });
    const fail = scoreRun(run, { pass: 99, marginal: 95 });
    expect(fail.results.find((r) => r.name === 'slow')).toMatchObject({ result: 'Fail', message: expect.stringContaining('(score 90 < marginal 95)') as unknown as string });
    expect(fail.results.filter((r) => r.result === 'Fail')).toHaveLength(1);
  });

  it('a critical regression scores 0 and fails whatever the thresholds', () => {
    const { results, score } = scoreRun([...nine, judged('slow', slow, { critical: true })], { pass: 0, marginal: 0 });
    expect(score).toBe(0);
    expect(results.find((r) => r.name === 'slow')).toMatchObject({ result: 'Fail', message: expect.stringContaining('score 0: critical metric slow regressed') as unknown as string });
  });

  it('inconclusive judged metrics are not scored and stay inconclusive', () => {
    const few = judgeMetric('few', params(), series(1, 2), series(3, 4));
    expect(judgeScore([few])).toBeUndefined();
    const { results, score } = scoreRun([few, judged('ok', base)], { pass: 90, marginal: 75 });
    expect(score).toBe(100);
    expect(results[0]?.result).toBe('Inconclusive');
  });
});
