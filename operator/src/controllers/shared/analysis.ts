// Observing an analysis run (TrafficShift and ShadowRun alike): every metric's query, and its
// baseline, measured through the metric provider and judged against the metric's thresholds. I/O:
// called by the reconcilers in their observe step, never by a planner.
import { Reason } from '../../api/conditions.ts';
import type { Metric, ShadowMetric } from '../../api/common.ts';
import { evaluateMetric, type MetricResult } from '../../analysis/evaluate.ts';
import type { PrometheusQuerySpec } from '../../analysis/prometheus.ts';
import type { MetricProvider } from '../../analysis/provider.ts';
import type { TemplateVars } from '../../analysis/template.ts';
import type { SpecProblem } from './planner.ts';

export interface AnalysisObservation {
  provider: MetricProvider<PrometheusQuerySpec>;
  /** The operator's Prometheus, for metrics that name no address. */
  defaultAddress: string;
  metrics: ReadonlyArray<Metric | ShadowMetric>;
  /** The variables the queries are rendered with. */
  vars: TemplateVars;
  /**
   * For a metric without `baselineQuery`: its query rendered with these variables is the baseline
   * (ShadowRun: the primary side of the same measure). Omitted: no baseline.
   */
  baselineVars?: TemplateVars | undefined;
  signal: AbortSignal;
}

/**
 * One analysis run. A query the provider rejects is a spec problem, pushed onto `problems` naming
 * the field (`spec.analysis.metrics[0].prometheus.query`, reason QueryError); when there is one the
 * run's results are discarded (empty), so a rejected query never counts as a measurement.
 */
export async function observeAnalysis(a: AnalysisObservation, problems: SpecProblem[]): Promise<MetricResult[]> {
  const results = await Promise.all(a.metrics.map(async (m, i): Promise<MetricResult> => {
    const field = `spec.analysis.metrics[${i}].prometheus`;
    const address = m.prometheus.address ?? a.defaultAddress;
    const [value, baseline] = await Promise.all([
      a.provider.query({ address, query: m.prometheus.query }, a.vars, a.signal),
      m.prometheus.baselineQuery
        ? a.provider.query({ address, query: m.prometheus.baselineQuery }, a.vars, a.signal)
        : a.baselineVars
          ? a.provider.query({ address, query: m.prometheus.query }, a.baselineVars, a.signal)
          : Promise.resolve(undefined),
    ]);
    const r = evaluateMetric(m, { value, baseline });
    if (r.queryRejected) {
      const which = value.kind === 'rejected' ? 'query' : 'baselineQuery';
      problems.push({ field: `${field}.${which}`, message: `Prometheus rejected the query: ${r.message}`, reason: Reason.QueryError });
    }
    return r;
  }));
  return problems.length > 0 ? [] : results;
}
