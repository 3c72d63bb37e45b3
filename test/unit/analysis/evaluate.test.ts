import { describe, expect, it } from 'vitest';
import {
  evaluateMetric,
  judge,
  type AnalysisCounters,
  type AnalysisLimits,
  type MetricResult,
  type MetricSamples,
  type MetricThresholds,
} from '../../../operator/src/analysis/evaluate.ts';
import type { MetricSample } from '../../../operator/src/analysis/provider.ts';

const v = (value: number): MetricSample => ({ kind: 'value', value });
const none = (reason = 'no data: the query returned an empty vector'): MetricSample => ({ kind: 'inconclusive', reason });
const bad = (reason = 'Prometheus rejected the query: parse error'): MetricSample => ({ kind: 'rejected', reason });

type Row = [string, MetricThresholds, MetricSamples, Partial<MetricResult>];

describe('evaluateMetric', () => {
  const rows: Row[] = [
    ['max: below passes', { name: 'error-rate', max: 0.01 }, { value: v(0.002) }, { result: 'Pass', value: 0.002, message: 'error-rate 0.002 <= 0.01' }],
    ['max: equal passes', { name: 'error-rate', max: 0.01 }, { value: v(0.01) }, { result: 'Pass' }],
    ['max: above fails', { name: 'error-rate', max: 0.01 }, { value: v(0.034) }, { result: 'Fail', value: 0.034, message: 'error-rate 0.034 > 0.01' }],
    ['min: below fails', { name: 'throughput', min: 10 }, { value: v(3) }, { result: 'Fail', message: 'throughput 3 < 10' }],
    ['min: above passes', { name: 'throughput', min: 10 }, { value: v(12) }, { result: 'Pass', message: 'throughput 12 >= 10' }],
    ['min and max: inside passes', { name: 'm', min: 1, max: 2 }, { value: v(1.5) }, { result: 'Pass', message: 'm 1.5 >= 1, <= 2' }],
    ['long decimals are shortened', { name: 'p95', max: 0.5 }, { value: v(0.512345678) }, { result: 'Fail', message: 'p95 0.5123 > 0.5' }],
    ['no threshold passes', { name: 'info' }, { value: v(7) }, { result: 'Pass', message: 'info 7 (no threshold)' }],
    ['maxRatio: within passes', { name: 'p95-vs-legacy', maxRatio: 1.1 }, { value: v(0.21), baseline: v(0.2) }, { result: 'Pass', value: 0.21, baseline: 0.2, message: 'p95-vs-legacy 0.21 1.05x baseline 0.2 <= 1.1x' }],
    ['maxRatio: above fails', { name: 'p95-vs-legacy', maxRatio: 1.1 }, { value: v(0.3), baseline: v(0.2) }, { result: 'Fail', baseline: 0.2, message: 'p95-vs-legacy 0.3 is 1.5x baseline 0.2 > 1.1x' }],
    ['maxRatio: both zero passes', { name: 'r', maxRatio: 1.1 }, { value: v(0), baseline: v(0) }, { result: 'Pass' }],
    ['maxRatio: zero baseline, positive value fails', { name: 'r', maxRatio: 1.1 }, { value: v(0.1), baseline: v(0) }, { result: 'Fail', message: 'r 0.1 is ∞ baseline 0 > 1.1x' }],
    ['maxRatio: negative is inconclusive', { name: 'r', maxRatio: 1.1 }, { value: v(-1), baseline: v(1) }, { result: 'Inconclusive' }],
    ['maxDiffPoints: within passes', { name: 'err-diff', maxDiffPoints: 0.5 }, { value: v(0.012), baseline: v(0.01) }, { result: 'Pass', message: 'err-diff 0.012 +0.2 pp vs baseline 0.01 <= 0.5 pp' }],
    ['maxDiffPoints: above fails', { name: 'err-diff', maxDiffPoints: 0.5 }, { value: v(0.034), baseline: v(0.022) }, { result: 'Fail', message: 'err-diff 0.034 vs baseline 0.022: +1.2 pp > 0.5 pp' }],
    ['maxDiffPoints: shadow better passes', { name: 'err-diff', maxDiffPoints: 0 }, { value: v(0.01), baseline: v(0.02) }, { result: 'Pass' }],
    ['max and maxRatio: absolute fails first', { name: 'p95', max: 0.5, maxRatio: 1.1 }, { value: v(0.6), baseline: v(0.59) }, { result: 'Fail', message: 'p95 0.6 > 0.5' }],
    ['inconclusive value', { name: 'error-rate', max: 0.01 }, { value: none() }, { result: 'Inconclusive', message: 'error-rate: no data: the query returned an empty vector' }],
    ['inconclusive baseline', { name: 'p95', maxRatio: 1.1 }, { value: v(0.2), baseline: none('value is NaN') }, { result: 'Inconclusive', value: 0.2, message: 'p95: baseline: value is NaN' }],
    ['baseline ignored without a relative threshold', { name: 'e', max: 1 }, { value: v(0.5), baseline: none() }, { result: 'Pass' }],
    ['missing baseline for a ratio', { name: 'p95', maxRatio: 1.1 }, { value: v(0.2) }, { result: 'Inconclusive', queryRejected: true }],
    ['rejected value', { name: 'error-rate', max: 0.01 }, { value: bad() }, { result: 'Inconclusive', queryRejected: true, message: 'error-rate: Prometheus rejected the query: parse error' }],
    ['rejected baseline', { name: 'p95', maxRatio: 1.1 }, { value: v(1), baseline: bad('x') }, { result: 'Inconclusive', queryRejected: true }],
  ];

  it.each(rows)('%s', (_case, metric, samples, expected) => {
    const result = evaluateMetric(metric, samples);
    expect(result).toMatchObject({ name: metric.name, ...expected });
    if (expected.queryRejected === undefined) expect(result.queryRejected).toBeUndefined();
  });
});

const pass: MetricResult = { name: 'a', result: 'Pass', value: 0.001, message: 'a 0.001 <= 0.01' };
const fail: MetricResult = { name: 'b', result: 'Fail', value: 0.034, message: 'b 0.034 > 0.01' };
const inconc: MetricResult = { name: 'c', result: 'Inconclusive', message: 'c: no data' };
const limits: AnalysisLimits = { failureLimit: 2, inconclusiveLimit: 3, onInconclusive: 'Pause' };
const c = (consecutiveFailures: number, consecutiveInconclusive: number): AnalysisCounters => ({ consecutiveFailures, consecutiveInconclusive });

describe('judge', () => {
  it.each<[string, MetricResult[], AnalysisCounters, AnalysisLimits, ReturnType<typeof judge>]>([
    ['all pass from zero', [pass], c(0, 0), limits, { outcome: 'Pass', counters: c(0, 0), verdict: 'Continue', reason: 'all metrics passed' }],
    ['no metrics passes', [], c(0, 0), limits, { outcome: 'Pass', counters: c(0, 0), verdict: 'Continue', reason: 'all metrics passed' }],
    ['pass resets both counters', [pass], c(1, 2), limits, { outcome: 'Pass', counters: c(0, 0), verdict: 'Continue', reason: 'all metrics passed' }],
    ['first failure continues', [pass, fail], c(0, 0), limits, { outcome: 'Fail', counters: c(1, 0), verdict: 'Continue', reason: 'b 0.034 > 0.01' }],
    ['second consecutive failure rolls back', [fail], c(1, 0), limits, { outcome: 'Fail', counters: c(2, 0), verdict: 'Rollback', reason: 'b 0.034 > 0.01' }],
    ['failureLimit 1 rolls back at once', [fail], c(0, 0), { ...limits, failureLimit: 1 }, { outcome: 'Fail', counters: c(1, 0), verdict: 'Rollback', reason: 'b 0.034 > 0.01' }],
    ['failureLimit 0 behaves as 1', [fail], c(0, 0), { ...limits, failureLimit: 0 }, { outcome: 'Fail', counters: c(1, 0), verdict: 'Rollback', reason: 'b 0.034 > 0.01' }],
    ['failure beats inconclusive in one run', [inconc, fail], c(0, 2), limits, { outcome: 'Fail', counters: c(1, 0), verdict: 'Continue', reason: 'b 0.034 > 0.01' }],
    ['failure resets the inconclusive counter', [fail], c(0, 2), limits, { outcome: 'Fail', counters: c(1, 0), verdict: 'Continue', reason: 'b 0.034 > 0.01' }],
    ['inconclusive counts separately', [pass, inconc], c(0, 0), limits, { outcome: 'Inconclusive', counters: c(0, 1), verdict: 'Continue', reason: 'c: no data' }],
    ['inconclusive keeps failures (only a pass resets them)', [inconc], c(1, 0), limits, { outcome: 'Inconclusive', counters: c(1, 1), verdict: 'Continue', reason: 'c: no data' }],
    ['fail, inconclusive, fail rolls back', [fail], c(1, 1), limits, { outcome: 'Fail', counters: c(2, 0), verdict: 'Rollback', reason: 'b 0.034 > 0.01' }],
    ['inconclusive limit pauses', [inconc], c(0, 2), limits, { outcome: 'Inconclusive', counters: c(0, 3), verdict: 'Pause', reason: 'c: no data' }],
    ['inconclusive limit rolls back when asked', [inconc], c(0, 2), { ...limits, onInconclusive: 'Rollback' }, { outcome: 'Inconclusive', counters: c(0, 3), verdict: 'Rollback', reason: 'c: no data' }],
    ['several reasons are joined', [fail, { ...fail, name: 'd', message: 'd 9 > 1' }], c(0, 0), limits, { outcome: 'Fail', counters: c(1, 0), verdict: 'Continue', reason: 'b 0.034 > 0.01; d 9 > 1' }],
  ])('%s', (_case, results, counters, lim, expected) => {
    expect(judge(results, counters, lim)).toEqual(expected);
  });

  it('does not mutate the counters it is given', () => {
    const before = c(1, 1);
    judge([fail], before, limits);
    expect(before).toEqual(c(1, 1));
  });
});
