// Per-shift metrics: weight, phase, conditions, analysis values against thresholds, rollbacks.
import type { TrafficShiftPhase, TrafficShiftSpec, TrafficShiftStatus } from '../../api/trafficshift.ts';
import { TrafficShiftPhaseValues } from '../../api/trafficshift.ts';
import type { MetricResult } from '../../analysis/evaluate.ts';
import { MetricResultValues } from '../../api/common.ts';
import { counter, gauge, registry as defaultRegistry, type Registry } from '../../runtime/metrics.ts';
import { judgeGauge, observeJudge } from '../shared/judge-metrics.ts';

const KIND = 'TrafficShift';

/** The verdict of each check as a state (the results counter gives rates). Shared with ShadowRun. */
export const ANALYSIS_RESULT_METRIC = 'cutover_analysis_metric_result';

export class ShiftMetrics {
  readonly weight; readonly phase; readonly condition; readonly rollbacks; readonly results; readonly value; readonly threshold; readonly result; readonly judge;

  constructor(registry: Registry = defaultRegistry) {
    this.weight = gauge({ name: 'cutover_trafficshift_weight', help: 'Canary weight (0-100) the route is set to.', labelNames: ['namespace', 'name'] as const, registry });
    this.phase = gauge({ name: 'cutover_resource_phase', help: 'Current phase of a cutover resource (1 for the current phase).', labelNames: ['kind', 'namespace', 'name', 'phase'] as const, registry });
    this.condition = gauge({ name: 'cutover_resource_condition', help: 'Conditions of a cutover resource (1 for the current status).', labelNames: ['kind', 'namespace', 'name', 'type', 'status'] as const, registry });
    this.rollbacks = counter({ name: 'cutover_rollbacks_total', help: 'Rollbacks, by trigger.', labelNames: ['kind', 'namespace', 'name', 'trigger'] as const, registry });
    this.results = counter({ name: 'cutover_analysis_results_total', help: 'Analysis results per metric.', labelNames: ['kind', 'namespace', 'name', 'metric', 'result'] as const, registry });
    this.value = gauge({ name: 'cutover_analysis_metric_value', help: 'Last measured value of an analysis metric.', labelNames: ['kind', 'namespace', 'name', 'metric'] as const, registry });
    this.threshold = gauge({ name: 'cutover_analysis_metric_threshold', help: 'Thresholds of an analysis metric.', labelNames: ['kind', 'namespace', 'name', 'metric', 'bound'] as const, registry });
    this.result = gauge({ name: ANALYSIS_RESULT_METRIC, help: 'Last result of an analysis metric (1 for the current result).', labelNames: ['kind', 'namespace', 'name', 'metric', 'result'] as const, registry });
    this.judge = judgeGauge(registry);
  }

  observe(namespace: string, name: string, status: TrafficShiftStatus, results: MetricResult[] | undefined, spec: TrafficShiftSpec): void {
    this.weight.set({ namespace, name }, status.currentWeight ?? 0);
    for (const p of TrafficShiftPhaseValues) this.phase.set({ kind: KIND, namespace, name, phase: p }, p === (status.phase ?? 'Pending') ? 1 : 0);
    for (const c of status.conditions ?? []) {
      for (const s of ['True', 'False', 'Unknown']) this.condition.set({ kind: KIND, namespace, name, type: c.type, status: s }, c.status === s ? 1 : 0);
    }
    for (const r of results ?? []) {
      this.results.inc({ kind: KIND, namespace, name, metric: r.name, result: r.result });
      for (const v of MetricResultValues) this.result.set({ kind: KIND, namespace, name, metric: r.name, result: v }, v === r.result ? 1 : 0);
      if (r.value !== undefined && Number.isFinite(r.value)) this.value.set({ kind: KIND, namespace, name, metric: r.name }, r.value);
      observeJudge(this.judge, KIND, namespace, name, r);
    }
    for (const m of spec.analysis?.metrics ?? []) {
      if (m.min !== undefined) this.threshold.set({ kind: KIND, namespace, name, metric: m.name, bound: 'min' }, m.min);
      if (m.max !== undefined) this.threshold.set({ kind: KIND, namespace, name, metric: m.name, bound: 'max' }, m.max);
      if (m.maxRatio !== undefined) this.threshold.set({ kind: KIND, namespace, name, metric: m.name, bound: 'maxRatio' }, m.maxRatio);
      if (m.judge) {
        const j = m.judge;
        this.threshold.set({ kind: KIND, namespace, name, metric: m.name, bound: 'confidence' }, j.confidence);
        if (j.direction !== 'decrease') this.threshold.set({ kind: KIND, namespace, name, metric: m.name, bound: 'allowedIncrease' }, j.allowedIncrease ?? 1);
        if (j.direction !== 'increase') this.threshold.set({ kind: KIND, namespace, name, metric: m.name, bound: 'allowedDecrease' }, j.allowedDecrease ?? 1);
      }
    }
    const score = spec.analysis?.scoreThresholds;
    if (score) {
      this.threshold.set({ kind: KIND, namespace, name, metric: 'score', bound: 'pass' }, score.pass);
      this.threshold.set({ kind: KIND, namespace, name, metric: 'score', bound: 'marginal' }, score.marginal);
    }
  }

  rollback(namespace: string, name: string, trigger: string): void {
    this.rollbacks.inc({ kind: KIND, namespace, name, trigger });
  }

  forget(namespace: string, name: string): void {
    this.weight.remove({ namespace, name });
    for (const p of TrafficShiftPhaseValues as readonly TrafficShiftPhase[]) this.phase.remove({ kind: KIND, namespace, name, phase: p });
  }
}
