// observeAnalysis with judged metrics: range queries of both sides at the judge's window and step,
// the judge's verdict folded into the score, a rejected range query reported as a spec problem.
import { describe, expect, it } from 'vitest';
import { MetricSchema, type Metric } from '../../../operator/src/api/common.ts';
import type { PrometheusQuerySpec } from '../../../operator/src/analysis/prometheus.ts';
import type { RangeMetricProvider, MetricSample, QueryRange, SeriesSample } from '../../../operator/src/analysis/provider.ts';
import { renderTemplate, type TemplateVars } from '../../../operator/src/analysis/template.ts';
import { observeAnalysis } from '../../../operator/src/controllers/shared/analysis.ts';
import { judgeGauge, observeJudge } from '../../../operator/src/controllers/shared/judge-metrics.ts';
import { judgeThreshold, thresholdParts, type SpecProblem } from '../../../operator/src/controllers/shared/planner.ts';
import { Registry } from '../../../operator/src/runtime/metrics.ts';

/** Answers range queries from a table keyed by the rendered PromQL; records the ranges asked. */
class TableProvider implements RangeMetricProvider<PrometheusQuerySpec> {
  readonly name = 'table';
  readonly ranges: Array<{ promql: string; range: QueryRange }> = [];
  readonly #table: Record<string, SeriesSample>;
  constructor(table: Record<string, SeriesSample>) { this.#table = table; }
  query(): Promise<MetricSample> { return Promise.resolve({ kind: 'inconclusive', reason: 'instant queries not in this table' }); }
  queryRange(spec: PrometheusQuerySpec, vars: TemplateVars, range: QueryRange): Promise<SeriesSample> {
    const promql = renderTemplate(spec.query, vars);
    this.ranges.push({ promql, range });
    return Promise.resolve(this.#table[promql] ?? { kind: 'values', values: [] });
  }
}

const metric = (judge: object): Metric => MetricSchema.parse({
  name: 'p50',
  prometheus: { query: 'p50{svc="{{canary.service}}"}', baselineQuery: 'p50{svc="{{stable.service}}"}' },
  judge,
});
/** Judged metrics are Prometheus metrics: the web check provider is never asked. */
const NO_WEB = { name: 'web', query: () => Promise.reject(new Error('not used')) };
const vars = { 'canary.service': 'new', 'stable.service': 'old' } as TemplateVars;
const base = [13, 2, 17, 8, 0, 11, 5, 19, 3, 14, 9, 1, 16, 6, 12, 18, 4, 10, 15, 7].map((k) => 0.1 + k / 1000);

describe('observeAnalysis with a judged metric', () => {
  it('range-queries both sides at window and step, and fails a regression with its numbers', async () => {
    const p = new TableProvider({ 'p50{svc="new"}': { kind: 'values', values: base.map((v) => v * 1.2) }, 'p50{svc="old"}': { kind: 'values', values: base } });
    const problems: SpecProblem[] = [];
    const m = metric({ window: '5m', step: '15s', direction: 'increase' });
    const [r] = await observeAnalysis({ provider: p, web: NO_WEB, namespace: 'shop', defaultAddress: 'http://prom:9090', metrics: [m], vars, signal: new AbortController().signal }, problems);
    expect(problems).toEqual([]);
    expect(p.ranges).toEqual([
      { promql: 'p50{svc="new"}', range: { windowSeconds: 300, stepSeconds: 15 } },
      { promql: 'p50{svc="old"}', range: { windowSeconds: 300, stepSeconds: 15 } },
    ]);
    expect(r?.result).toBe('Fail');
    expect(r?.judge).toMatchObject({ classification: 'High', samples: 20, baselineSamples: 20, score: 0, confidence: 0.98 });
    expect(thresholdParts(m)).toEqual([judgeThreshold(m.judge!)]);
    expect(judgeThreshold(m.judge!)).toBe('judge increase, 98%, mean ratio <= 1');
  });

  it('judge.baselineWindow widens only the legacy side\'s range', async () => {
    const p = new TableProvider({ 'p50{svc="new"}': { kind: 'values', values: base }, 'p50{svc="old"}': { kind: 'values', values: [...base, ...base, ...base] } });
    const m = metric({ window: '5m', baselineWindow: '1h', step: '15s', direction: 'increase' });
    const [r] = await observeAnalysis({ provider: p, web: NO_WEB, namespace: 'shop', defaultAddress: 'http://prom:9090', metrics: [m], vars, signal: new AbortController().signal }, []);
    expect(p.ranges).toEqual([
      { promql: 'p50{svc="new"}', range: { windowSeconds: 300, stepSeconds: 15 } },
      { promql: 'p50{svc="old"}', range: { windowSeconds: 3600, stepSeconds: 15 } },
    ]);
    expect(r?.judge).toMatchObject({ classification: 'Pass', samples: 20, baselineSamples: 60 });
  });

  it('scoreThresholds decide the judged metrics together', async () => {
    const p = new TableProvider({ 'p50{svc="new"}': { kind: 'values', values: base.map((v) => v * 1.2) }, 'p50{svc="old"}': { kind: 'values', values: base } });
    const m = metric({ direction: 'increase' });
    const [r] = await observeAnalysis({ provider: p, web: NO_WEB, namespace: 'shop', defaultAddress: 'http://prom:9090', metrics: [m], vars, scoreThresholds: { pass: 90, marginal: 0 }, signal: new AbortController().signal }, []);
    expect(r).toMatchObject({ result: 'Inconclusive', message: expect.stringContaining('marginal: score 0 < pass 90, >= marginal 0') as unknown as string });
  });

  it('a rejected range query is a spec problem naming the field', async () => {
    const p = new TableProvider({ 'p50{svc="old"}': { kind: 'rejected', reason: 'parse error' }, 'p50{svc="new"}': { kind: 'values', values: base } });
    const problems: SpecProblem[] = [];
    const results = await observeAnalysis({ provider: p, web: NO_WEB, namespace: 'shop', defaultAddress: 'http://prom:9090', metrics: [metric({})], vars, signal: new AbortController().signal }, problems);
    expect(results).toEqual([]);
    expect(problems).toEqual([{ field: 'spec.analysis.metrics[0].prometheus.baselineQuery', message: 'Prometheus rejected the query: p50: baseline: parse error', reason: 'QueryError' }]);
  });
});

describe('cutover_analysis_judge', () => {
  it('exports each finding of a judged result under its stat, nothing for a plain result', async () => {
    const registry = new Registry();
    const g = judgeGauge(registry);
    const p = new TableProvider({ 'p50{svc="new"}': { kind: 'values', values: base.map((v) => v * 1.2) }, 'p50{svc="old"}': { kind: 'values', values: base } });
    const [r] = await observeAnalysis({ provider: p, web: NO_WEB, namespace: 'shop', defaultAddress: 'http://prom:9090', metrics: [metric({ direction: 'increase' })], vars, signal: new AbortController().signal }, []);
    observeJudge(g, 'TrafficShift', 'shop', 'listings', r!);
    observeJudge(g, 'TrafficShift', 'shop', 'listings', { name: 'errors', result: 'Pass', value: 0, message: 'errors 0 <= 0.01' });
    const values = (await g.get()).values;
    const stat = (s: string) => values.find((v) => v.labels.stat === s)?.value;
    expect(values.every((v) => v.labels.metric === 'p50' && v.labels.kind === 'TrafficShift')).toBe(true);
    expect(stat('high')).toBe(1);
    expect(stat('low')).toBe(0);
    expect(stat('estimate')).toBe(r!.judge!.estimate);
    expect(stat('lower')).toBe(r!.judge!.lower);
    expect(stat('p_value')).toBe(r!.judge!.pValue);
    expect(stat('samples')).toBe(20);
    expect(stat('score')).toBe(0);
  });
});
