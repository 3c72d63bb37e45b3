// Per-shift metrics: weight, phase, conditions, analysis values against thresholds, rollbacks.
import type { TrafficShiftSpec, TrafficShiftStatus } from '../../api/trafficshift.ts';
import { TrafficShiftPhaseValues } from '../../api/trafficshift.ts';
import type { MetricResult } from '../../analysis/evaluate.ts';
import { MetricResultValues } from '../../api/common.ts';
import { counter, gauge, registry as defaultRegistry, removeMatching, stateSet, type Registry } from '../../runtime/metrics.ts';
import { judgeGauge, observeJudge } from '../shared/judge-metrics.ts';

const KIND = 'TrafficShift';

/** The verdict of each check as a state (the results counter gives rates). Shared with ShadowRun. */
export const ANALYSIS_RESULT_METRIC = 'cutover_analysis_metric_result';

export const CONDITION_STATES = ['True', 'False', 'Unknown'] as const;

/**
 * The state sets shared by every kind (same names, `kind` label; get-or-create): the phase, each
 * condition's status and each check's last result, 1 for the current state and 0 for the others.
 */
export function resourceStates(registry: Registry) {
  return {
    phase: stateSet({ name: 'cutover_resource_phase', help: 'Current phase of a cutover resource (1 for the current phase).', labelNames: ['kind', 'namespace', 'name'] as const, stateLabel: 'phase', registry }),
    condition: stateSet({ name: 'cutover_resource_condition', help: 'Conditions of a cutover resource (1 for the current status).', labelNames: ['kind', 'namespace', 'name', 'type'] as const, stateLabel: 'status', registry }),
    result: stateSet({ name: ANALYSIS_RESULT_METRIC, help: 'Last result of an analysis metric (1 for the current result).', labelNames: ['kind', 'namespace', 'name', 'metric'] as const, stateLabel: 'result', registry }),
  };
}

export class ShiftMetrics {
  readonly weight; readonly phase; readonly condition; readonly rollbacks; readonly results; readonly value; readonly threshold; readonly result; readonly judge;

  constructor(registry: Registry = defaultRegistry) {
    this.weight = gauge({ name: 'cutover_trafficshift_weight', help: 'Canary weight (0-100) the route is set to.', labelNames: ['namespace', 'name'] as const, registry });
    ({ phase: this.phase, condition: this.condition, result: this.result } = resourceStates(registry));
    this.rollbacks = counter({ name: 'cutover_rollbacks_total', help: 'Rollbacks, by trigger.', labelNames: ['kind', 'namespace', 'name', 'trigger'] as const, registry });
    this.results = counter({ name: 'cutover_analysis_results_total', help: 'Analysis results per metric.', labelNames: ['kind', 'namespace', 'name', 'metric', 'result'] as const, registry });
    this.value = gauge({ name: 'cutover_analysis_metric_value', help: 'Last measured value of an analysis metric.', labelNames: ['kind', 'namespace', 'name', 'metric'] as const, registry });
    this.threshold = gauge({ name: 'cutover_analysis_metric_threshold', help: 'Thresholds of an analysis metric.', labelNames: ['kind', 'namespace', 'name', 'metric', 'bound'] as const, registry });
    this.judge = judgeGauge(registry);
  }

  observe(namespace: string, name: string, status: TrafficShiftStatus, results: MetricResult[] | undefined, spec: TrafficShiftSpec): void {
    this.weight.set({ namespace, name }, status.currentWeight ?? 0);
    this.phase.set({ kind: KIND, namespace, name }, TrafficShiftPhaseValues, status.phase ?? 'Pending');
    for (const c of status.conditions ?? []) this.condition.set({ kind: KIND, namespace, name, type: c.type }, CONDITION_STATES, c.status);
    for (const r of results ?? []) {
      this.results.inc({ kind: KIND, namespace, name, metric: r.name, result: r.result });
      this.result.set({ kind: KIND, namespace, name, metric: r.name }, MetricResultValues, r.result);
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

  /** A deleted shift: every series of it goes (at 10,000 shifts created and deleted, none may pile up). */
  forget(namespace: string, name: string): void {
    forgetResource(this, [this.rollbacks, this.results, this.value, this.threshold, this.judge], KIND, namespace, name);
    this.weight.remove({ namespace, name });
  }
}

/**
 * Removes a resource's series: its state sets, and every series of `metrics` (gauges and counters
 * labelled kind, namespace, name) that names it.
 */
export function forgetResource(states: ReturnType<typeof resourceStates>, metrics: ReadonlyArray<Parameters<typeof removeMatching>[0]>, kind: string, namespace: string, name: string): void {
  const match = { kind, namespace, name };
  states.phase.removeMatching(match);
  states.condition.removeMatching(match);
  states.result.removeMatching(match);
  for (const m of metrics) void removeMatching(m, match);
}
