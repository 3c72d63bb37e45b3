// The statistical judge's findings as Prometheus metrics, for TrafficShift and ShadowRun alike
// (one gauge, `kind` label; the helper is get-or-create).
import type { MetricResult } from '../../analysis/evaluate.ts';
import { gauge, type Gauge, type Registry } from '../../runtime/metrics.ts';

export type JudgeGauge = Gauge<'kind' | 'namespace' | 'name' | 'metric' | 'stat'>;

export function judgeGauge(registry: Registry): JudgeGauge {
  return gauge({
    name: 'cutover_analysis_judge',
    help: 'Last findings of the statistical judge for a judged metric: estimate, lower, upper (shift new - legacy), p_value, mean_ratio, samples, baseline_samples, serial_correlation, effective_samples, score, and high/low (1 when classified so).',
    labelNames: ['kind', 'namespace', 'name', 'metric', 'stat'] as const,
    registry,
  });
}

/** Sets the judge's numbers of one result (nothing for a result without findings). */
export function observeJudge(g: JudgeGauge, kind: string, namespace: string, name: string, r: MetricResult): void {
  const j = r.judge;
  if (!j) return;
  const stats: Record<string, number | undefined> = {
    estimate: j.estimate, lower: j.lower, upper: j.upper, p_value: j.pValue, mean_ratio: j.meanRatio,
    samples: j.samples, baseline_samples: j.baselineSamples, serial_correlation: j.serialCorrelation, effective_samples: j.effectiveSamples, score: j.score,
    high: j.classification === 'High' ? 1 : 0, low: j.classification === 'Low' ? 1 : 0,
  };
  for (const [stat, v] of Object.entries(stats)) {
    if (v !== undefined && Number.isFinite(v)) g.set({ kind, namespace, name, metric: r.name, stat }, v);
  }
}
