// Per-run metrics: phase, conditions, the shadow's and the primary's value of each analysis metric,
// its thresholds and its last result.
import { ShadowRunPhaseValues, type ShadowRunSpec, type ShadowRunStatus } from '../../api/shadowrun.ts';
import { MetricResultValues } from '../../api/common.ts';
import { ANALYSIS_RESULT_METRIC } from '../trafficshift/metrics.ts';
import type { MetricResult } from '../../analysis/evaluate.ts';
import { counter, gauge, registry as defaultRegistry, type Registry } from '../../runtime/metrics.ts';
import { judgeGauge, observeJudge } from '../shared/judge-metrics.ts';

const KIND = 'ShadowRun';

// The phase, condition and results metrics are shared with TrafficShift (same names, `kind` label);
// the helpers are get-or-create.
export class ShadowMetrics {
  readonly phase; readonly condition; readonly results; readonly side; readonly verdicts; readonly threshold; readonly result; readonly judge;

  constructor(registry: Registry = defaultRegistry) {
    this.phase = gauge({ name: 'cutover_resource_phase', help: 'Current phase of a cutover resource (1 for the current phase).', labelNames: ['kind', 'namespace', 'name', 'phase'] as const, registry });
    this.condition = gauge({ name: 'cutover_resource_condition', help: 'Conditions of a cutover resource (1 for the current status).', labelNames: ['kind', 'namespace', 'name', 'type', 'status'] as const, registry });
    this.results = counter({ name: 'cutover_analysis_results_total', help: 'Analysis results per metric.', labelNames: ['kind', 'namespace', 'name', 'metric', 'result'] as const, registry });
    this.side = gauge({ name: 'cutover_shadow_metric_value', help: 'Last measured value of a ShadowRun metric, for the primary and the shadow side.', labelNames: ['namespace', 'name', 'metric', 'side'] as const, registry });
    this.verdicts = counter({ name: 'cutover_shadow_verdicts_total', help: 'ShadowRun verdicts.', labelNames: ['namespace', 'name', 'verdict'] as const, registry });
    this.threshold = gauge({ name: 'cutover_analysis_metric_threshold', help: 'Thresholds of an analysis metric.', labelNames: ['kind', 'namespace', 'name', 'metric', 'bound'] as const, registry });
    this.result = gauge({ name: ANALYSIS_RESULT_METRIC, help: 'Last result of an analysis metric (1 for the current result).', labelNames: ['kind', 'namespace', 'name', 'metric', 'result'] as const, registry });
    this.judge = judgeGauge(registry);
  }

  observe(namespace: string, name: string, status: ShadowRunStatus, results: MetricResult[] | undefined, spec?: ShadowRunSpec): void {
    for (const p of ShadowRunPhaseValues) this.phase.set({ kind: KIND, namespace, name, phase: p }, p === (status.phase ?? 'Pending') ? 1 : 0);
    for (const c of status.conditions ?? []) {
      for (const s of ['True', 'False', 'Unknown']) this.condition.set({ kind: KIND, namespace, name, type: c.type, status: s }, c.status === s ? 1 : 0);
    }
    for (const r of results ?? []) {
      this.results.inc({ kind: KIND, namespace, name, metric: r.name, result: r.result });
      for (const v of MetricResultValues) this.result.set({ kind: KIND, namespace, name, metric: r.name, result: v }, v === r.result ? 1 : 0);
      if (r.value !== undefined && Number.isFinite(r.value)) this.side.set({ namespace, name, metric: r.name, side: 'shadow' }, r.value);
      if (r.baseline !== undefined && Number.isFinite(r.baseline)) this.side.set({ namespace, name, metric: r.name, side: 'primary' }, r.baseline);
      observeJudge(this.judge, KIND, namespace, name, r);
    }
    for (const m of spec?.analysis?.metrics ?? []) {
      for (const bound of ['min', 'max', 'maxRatio', 'maxDiffPoints'] as const) {
        const v = m[bound];
        if (v !== undefined) this.threshold.set({ kind: KIND, namespace, name, metric: m.name, bound }, v);
      }
    }
  }

  verdict(namespace: string, name: string, verdict: string): void {
    this.verdicts.inc({ namespace, name, verdict });
  }

  forget(namespace: string, name: string): void {
    for (const p of ShadowRunPhaseValues) this.phase.remove({ kind: KIND, namespace, name, phase: p });
  }
}
