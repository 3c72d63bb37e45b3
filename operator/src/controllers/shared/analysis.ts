// Observing an analysis run (TrafficShift and ShadowRun alike): every metric's query, and its
// baseline, measured through the metric provider and judged against the metric's thresholds. I/O:
// called by the reconcilers in their observe step, never by a planner.
import { Reason } from '../../api/conditions.ts';
import type { Metric, ScoreThresholds, ShadowMetric } from '../../api/common.ts';
import { parseDuration } from '../../api/duration.ts';
import { evaluateMetric, type MetricResult } from '../../analysis/evaluate.ts';
import { judgeMetric, scoreRun } from '../../analysis/judge.ts';
import type { PrometheusQuerySpec } from '../../analysis/prometheus.ts';
import type { MetricProvider, RangeMetricProvider } from '../../analysis/provider.ts';
import type { WebCheckSpec } from '../../analysis/webcheck.ts';
import type { TemplateVars } from '../../analysis/template.ts';
import type { SpecProblem } from './planner.ts';

export interface AnalysisObservation {
  provider: RangeMetricProvider<PrometheusQuerySpec>;
  /** The web check provider, for metrics with a `web` block (analysis/webcheck.ts in the operator). */
  web: MetricProvider<WebCheckSpec>;
  /** The namespace of the resource: where a web check's Secrets are read. */
  namespace: string;
  /** The operator's Prometheus, for metrics that name no address. */
  defaultAddress: string;
  metrics: ReadonlyArray<Metric | ShadowMetric>;
  /** The variables the queries are rendered with. */
  vars: TemplateVars;
  /**
   * For a Prometheus metric without `baselineQuery`: its query rendered with these variables is
   * the baseline (ShadowRun: the primary side of the same measure). Omitted: no baseline.
   */
  baselineVars?: TemplateVars | undefined;
  /** spec.analysis.scoreThresholds: judged metrics decided together by their score. */
  scoreThresholds?: ScoreThresholds | undefined;
  signal: AbortSignal;
}

/**
 * One analysis run. A query the provider rejects is a spec problem, pushed onto `problems` naming
 * the field (`spec.analysis.metrics[0].prometheus.query`, `spec.analysis.metrics[1].web`, reason
 * QueryError); when there is one the run's results are discarded (empty), so a rejected query
 * never counts as a measurement.
 */
export async function observeAnalysis(a: AnalysisObservation, problems: SpecProblem[]): Promise<MetricResult[]> {
  const results = await Promise.all(a.metrics.map(async (m, i): Promise<MetricResult> => {
    if (m.web) {
      // One number, judged by min/max (the schema refuses the relative thresholds without a baseline query).
      const value = await a.web.query({ namespace: a.namespace, web: m.web }, a.vars, a.signal);
      const r = evaluateMetric(m, { value });
      if (r.queryRejected) problems.push({ field: `spec.analysis.metrics[${i}].web`, message: `the web check cannot run: ${r.message}`, reason: Reason.QueryError });
      return r;
    }
    const prometheus = m.prometheus!;
    const field = `spec.analysis.metrics[${i}].prometheus`;
    const address = prometheus.address ?? a.defaultAddress;
    const judge = 'judge' in m ? m.judge : undefined;
    if (judge) {
      // Statistical judge: both sides over the window, one point per step (the CRD requires baselineQuery).
      // The legacy side may reach further back (judge.baselineWindow).
      const stepSeconds = parseDuration(judge.step) / 1000;
      const range = { windowSeconds: parseDuration(judge.window) / 1000, stepSeconds };
      const baseRange = { windowSeconds: parseDuration(judge.baselineWindow ?? judge.window) / 1000, stepSeconds };
      const [value, baseline] = await Promise.all([
        a.provider.queryRange({ address, query: prometheus.query }, a.vars, range, a.signal),
        prometheus.baselineQuery
          ? a.provider.queryRange({ address, query: prometheus.baselineQuery }, a.vars, baseRange, a.signal)
          : a.provider.queryRange({ address, query: prometheus.query }, a.baselineVars ?? a.vars, baseRange, a.signal),
      ]);
      const r = judgeMetric(m.name, judge, value, baseline);
      if (r.queryRejected) {
        const which = value.kind === 'rejected' ? 'query' : 'baselineQuery';
        problems.push({ field: `${field}.${which}`, message: `Prometheus rejected the query: ${r.message}`, reason: Reason.QueryError });
      }
      return r;
    }
    const [value, baseline] = await Promise.all([
      a.provider.query({ address, query: prometheus.query }, a.vars, a.signal),
      prometheus.baselineQuery
        ? a.provider.query({ address, query: prometheus.baselineQuery }, a.vars, a.signal)
        : a.baselineVars
          ? a.provider.query({ address, query: prometheus.query }, a.baselineVars, a.signal)
          : Promise.resolve(undefined),
    ]);
    const r = evaluateMetric(m, { value, baseline });
    if (r.queryRejected) {
      const which = value.kind === 'rejected' ? 'query' : 'baselineQuery';
      problems.push({ field: `${field}.${which}`, message: `Prometheus rejected the query: ${r.message}`, reason: Reason.QueryError });
    }
    return r;
  }));
  return problems.length > 0 ? [] : scoreRun(results, a.scoreThresholds).results;
}
