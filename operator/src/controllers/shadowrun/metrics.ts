// Per-run metrics: phase, conditions, the shadow's and the primary's value of each analysis metric,
// its thresholds and its last result.
import { ShadowRunPhaseValues, type ParityStatus, type ShadowRunSpec, type ShadowRunStatus } from '../../api/shadowrun.ts';
import { SkipReasons } from '../../parity/summary.ts';
import { MetricResultValues } from '../../api/common.ts';
import { CONDITION_STATES, forgetResource, resourceStates } from '../trafficshift/metrics.ts';
import type { MetricResult } from '../../analysis/evaluate.ts';
import { counter, gauge, registry as defaultRegistry, removeMatching, type Registry } from '../../runtime/metrics.ts';
import { judgeGauge, observeJudge } from '../shared/judge-metrics.ts';

const KIND = 'ShadowRun';

// The phase, condition and results metrics are shared with TrafficShift (same names, `kind` label);
// the helpers are get-or-create.
export class ShadowMetrics {
  readonly phase; readonly condition; readonly results; readonly side; readonly verdicts; readonly threshold; readonly result; readonly judge;
  readonly parityRequests; readonly paritySkipped; readonly parityEndpointRatio; readonly parityResult; readonly parityBreaker;
  /** Endpoint labels set per run, so that a bucket that left the status is removed (bounded label sets). */
  readonly #endpoints = new Map<string, Set<string>>();

  constructor(registry: Registry = defaultRegistry) {
    ({ phase: this.phase, condition: this.condition, result: this.result } = resourceStates(registry));
    this.results = counter({ name: 'cutover_analysis_results_total', help: 'Analysis results per metric.', labelNames: ['kind', 'namespace', 'name', 'metric', 'result'] as const, registry });
    this.side = gauge({ name: 'cutover_shadow_metric_value', help: 'Last measured value of a ShadowRun metric, for the primary and the shadow side.', labelNames: ['namespace', 'name', 'metric', 'side'] as const, registry });
    this.verdicts = counter({ name: 'cutover_shadow_verdicts_total', help: 'ShadowRun verdicts.', labelNames: ['namespace', 'name', 'verdict'] as const, registry });
    this.threshold = gauge({ name: 'cutover_analysis_metric_threshold', help: 'Thresholds of an analysis metric.', labelNames: ['kind', 'namespace', 'name', 'metric', 'bound'] as const, registry });
    // Parity, as the operator reads it from each run's comparator summary (the comparator pods export
    // their own counters on their admin port). Endpoint labels are the comparator's bounded buckets
    // (templates or :id heuristics, 200 at most per run), and only the 50 in status; never raw paths.
    this.parityRequests = gauge({ name: 'cutover_parity_requests', help: 'Requests of a ShadowRun by parity outcome: compared, mismatched (after noise and known deviations), noise_compared (legacy asked twice).', labelNames: ['namespace', 'name', 'outcome'] as const, registry });
    this.paritySkipped = gauge({ name: 'cutover_parity_skipped', help: 'Mirrored requests of a ShadowRun not compared, by reason.', labelNames: ['namespace', 'name', 'reason'] as const, registry });
    this.parityEndpointRatio = gauge({ name: 'cutover_parity_endpoint_mismatch_ratio', help: 'Share of compared requests that differ, per endpoint bucket.', labelNames: ['namespace', 'name', 'endpoint'] as const, registry });
    this.parityResult = gauge({ name: 'cutover_parity_result', help: 'The parity verdict of a ShadowRun (1 for the current result).', labelNames: ['namespace', 'name', 'result'] as const, registry });
    this.parityBreaker = gauge({ name: 'cutover_parity_breaker_paused', help: '1 while the comparator pauses legacy replays (breaker open).', labelNames: ['namespace', 'name'] as const, registry });
    this.judge = judgeGauge(registry);
  }

  observe(namespace: string, name: string, status: ShadowRunStatus, results: MetricResult[] | undefined, spec?: ShadowRunSpec): void {
    this.phase.set({ kind: KIND, namespace, name }, ShadowRunPhaseValues, status.phase ?? 'Pending');
    for (const c of status.conditions ?? []) this.condition.set({ kind: KIND, namespace, name, type: c.type }, CONDITION_STATES, c.status);
    for (const r of results ?? []) {
      this.results.inc({ kind: KIND, namespace, name, metric: r.name, result: r.result });
      this.result.set({ kind: KIND, namespace, name, metric: r.name }, MetricResultValues, r.result);
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

  parity(namespace: string, name: string, p: ParityStatus | undefined): void {
    if (!p) return;
    this.parityRequests.set({ namespace, name, outcome: 'compared' }, p.compared);
    this.parityRequests.set({ namespace, name, outcome: 'mismatched' }, p.mismatched);
    this.parityRequests.set({ namespace, name, outcome: 'noise_compared' }, p.noiseCompared ?? 0);
    for (const reason of SkipReasons) this.paritySkipped.set({ namespace, name, reason }, p.skipped?.find((x) => x.reason === reason)?.count ?? 0);
    for (const r of MetricResultValues) this.parityResult.set({ namespace, name, result: r }, p.result === r ? 1 : 0);
    this.parityBreaker.set({ namespace, name }, p.breaker ? 1 : 0);
    const key = `${namespace}/${name}`;
    const now = new Set((p.endpoints ?? []).map((e) => e.endpoint));
    for (const old of this.#endpoints.get(key) ?? []) if (!now.has(old)) this.parityEndpointRatio.remove({ namespace, name, endpoint: old });
    for (const e of p.endpoints ?? []) this.parityEndpointRatio.set({ namespace, name, endpoint: e.endpoint }, e.mismatchRatio);
    this.#endpoints.set(key, now);
  }

  verdict(namespace: string, name: string, verdict: string): void {
    this.verdicts.inc({ namespace, name, verdict });
  }

  forget(namespace: string, name: string): void {
    forgetResource(this, [this.results, this.threshold, this.judge], KIND, namespace, name);
    for (const m of [this.side, this.verdicts]) void removeMatching(m, { namespace, name });
    for (const outcome of ['compared', 'mismatched', 'noise_compared']) this.parityRequests.remove({ namespace, name, outcome });
    for (const reason of SkipReasons) this.paritySkipped.remove({ namespace, name, reason });
    for (const r of MetricResultValues) this.parityResult.remove({ namespace, name, result: r });
    this.parityBreaker.remove({ namespace, name });
    for (const endpoint of this.#endpoints.get(`${namespace}/${name}`) ?? []) this.parityEndpointRatio.remove({ namespace, name, endpoint });
    this.#endpoints.delete(`${namespace}/${name}`);
  }
}
