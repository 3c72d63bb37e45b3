// Pure evaluation: samples → per-metric results → a verdict for the analysis run (DESIGN §2).
// No I/O, no clocks: the controller gathers samples, this decides, status records the counters.

import type { JudgeDetail } from './judge.ts';
import type { MetricSample } from './provider.ts';

/** The thresholds of one analysis metric (only the fields evaluation reads). */
export interface MetricThresholds {
  name: string;
  /** Fail when the value is below. */
  min?: number | undefined;
  /** Fail when the value is above. */
  max?: number | undefined;
  /** Fail when value / baseline is above (relative check against legacy/primary). */
  maxRatio?: number | undefined;
  /**
   * Fail when (value − baseline) × 100 is above: the queries return rates as fractions (0.034 =
   * 3.4 %), the limit is in percentage points (shadow error rate at most N points above primary's).
   */
  maxDiffPoints?: number | undefined;
}

/** What was measured for one metric: the query, and the baseline query when there is one. */
export interface MetricSamples {
  value: MetricSample;
  baseline?: MetricSample | undefined;
}

export type MetricOutcome = 'Pass' | 'Fail' | 'Inconclusive';

export interface MetricResult {
  name: string;
  result: MetricOutcome;
  /** The measured value, when there was one. */
  value?: number;
  /** The baseline value, when a baseline was measured. */
  baseline?: number;
  /** Human summary, e.g. `error-rate 0.034 > 0.01`. */
  message: string;
  /** Set when the provider rejected a query: the controller stalls instead of counting on. */
  queryRejected?: true;
  /** The statistical judge's findings (judged metrics with enough samples; analysis/judge.ts). */
  judge?: JudgeDetail;
}

const fmt = (n: number): string => (Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(4))));

/** Evaluates one metric's samples against its thresholds. */
export function evaluateMetric(metric: MetricThresholds, samples: MetricSamples): MetricResult {
  const { name } = metric;
  const needsBaseline = metric.maxRatio !== undefined || metric.maxDiffPoints !== undefined;

  const unusable = firstUnusable(samples.value, needsBaseline ? samples.baseline : undefined, needsBaseline);
  if (unusable) {
    const result: MetricResult = { name, result: 'Inconclusive', message: `${name}: ${unusable.reason}` };
    if (samples.value.kind === 'value') result.value = samples.value.value;
    if (samples.baseline?.kind === 'value') result.baseline = samples.baseline.value;
    if (unusable.rejected) result.queryRejected = true;
    return result;
  }

  const value = (samples.value as { value: number }).value;
  const baseline = samples.baseline?.kind === 'value' ? samples.baseline.value : undefined;
  const base: Pick<MetricResult, 'name' | 'value' | 'baseline'> = { name, value };
  if (baseline !== undefined) base.baseline = baseline;

  const passed: string[] = [];
  const fail = (message: string): MetricResult => ({ ...base, result: 'Fail', message });

  if (metric.min !== undefined) {
    if (value < metric.min) return fail(`${name} ${fmt(value)} < ${fmt(metric.min)}`);
    passed.push(`>= ${fmt(metric.min)}`);
  }
  if (metric.max !== undefined) {
    if (value > metric.max) return fail(`${name} ${fmt(value)} > ${fmt(metric.max)}`);
    passed.push(`<= ${fmt(metric.max)}`);
  }
  if (metric.maxRatio !== undefined && baseline !== undefined) {
    if (value < 0 || baseline < 0) {
      return { ...base, result: 'Inconclusive', message: `${name}: ratio of negative values is meaningless (${fmt(value)} vs baseline ${fmt(baseline)})` };
    }
    // 0/0: both idle, equal. x/0 with x > 0: infinitely worse than a baseline that shows nothing.
    const ratio = baseline === 0 ? (value === 0 ? 1 : Infinity) : value / baseline;
    const shown = Number.isFinite(ratio) ? `${fmt(ratio)}x` : '∞';
    if (ratio > metric.maxRatio) {
      return fail(`${name} ${fmt(value)} is ${shown} baseline ${fmt(baseline)} > ${fmt(metric.maxRatio)}x`);
    }
    passed.push(`${shown} baseline ${fmt(baseline)} <= ${fmt(metric.maxRatio)}x`);
  }
  if (metric.maxDiffPoints !== undefined && baseline !== undefined) {
    const points = (value - baseline) * 100;
    const shown = `${points >= 0 ? '+' : ''}${fmt(points)} pp`;
    if (points > metric.maxDiffPoints) {
      return fail(`${name} ${fmt(value)} vs baseline ${fmt(baseline)}: ${shown} > ${fmt(metric.maxDiffPoints)} pp`);
    }
    passed.push(`${shown} vs baseline ${fmt(baseline)} <= ${fmt(metric.maxDiffPoints)} pp`);
  }
  const checks = passed.length > 0 ? ` ${passed.join(', ')}` : ' (no threshold)';
  return { ...base, result: 'Pass', message: `${name} ${fmt(value)}${checks}` };
}

function firstUnusable(
  value: MetricSample,
  baseline: MetricSample | undefined,
  needsBaseline: boolean,
): { reason: string; rejected: boolean } | null {
  if (value.kind !== 'value') return { reason: value.reason, rejected: value.kind === 'rejected' };
  if (!needsBaseline) return null;
  if (!baseline) return { reason: 'a relative threshold needs a baseline query', rejected: true };
  if (baseline.kind !== 'value') return { reason: `baseline: ${baseline.reason}`, rejected: baseline.kind === 'rejected' };
  return null;
}

// ---------------------------------------------------------------------------------------------
// Verdicts

export interface AnalysisCounters {
  consecutiveFailures: number;
  consecutiveInconclusive: number;
}

export interface AnalysisLimits {
  /** Consecutive failed runs that trigger rollback (values below 1 behave as 1). */
  failureLimit: number;
  /** Consecutive inconclusive runs that trigger `onInconclusive` (values below 1 behave as 1). */
  inconclusiveLimit: number;
  onInconclusive: 'Pause' | 'Rollback';
}

export type AnalysisVerdict = 'Continue' | 'Rollback' | 'Pause';

export interface Judgement {
  /** The run as a whole: Fail if any metric failed, else Inconclusive if any was, else Pass. */
  outcome: MetricOutcome;
  counters: AnalysisCounters;
  /**
   * Continue: keep going. Note that only `outcome === 'Pass'` allows advancing a step; an
   * inconclusive or failed run below its limit keeps the current step (never promote on missing
   * data). Rollback / Pause: act now.
   */
  verdict: AnalysisVerdict;
  /** Why, for status and Events: the failing/inconclusive messages joined, or `all metrics passed`. */
  reason: string;
}

/**
 * Folds one analysis run into the consecutive counters and decides (DESIGN §2):
 * - a failed run counts a failure; failures reaching `failureLimit` → Rollback;
 * - an inconclusive run counts separately; reaching `inconclusiveLimit` → `onInconclusive`;
 * - a passing run resets the failure counter; any run that is not inconclusive resets the
 *   inconclusive counter. A run with no metrics passes.
 * Failures are checked first: if both limits are reached, rollback wins.
 */
export function judge(results: readonly MetricResult[], counters: AnalysisCounters, limits: AnalysisLimits): Judgement {
  const failed = results.filter((r) => r.result === 'Fail');
  const inconclusive = results.filter((r) => r.result === 'Inconclusive');
  const outcome: MetricOutcome = failed.length > 0 ? 'Fail' : inconclusive.length > 0 ? 'Inconclusive' : 'Pass';

  const next: AnalysisCounters = {
    consecutiveFailures: outcome === 'Fail' ? counters.consecutiveFailures + 1 : outcome === 'Pass' ? 0 : counters.consecutiveFailures,
    consecutiveInconclusive: outcome === 'Inconclusive' ? counters.consecutiveInconclusive + 1 : 0,
  };
  const reason = outcome === 'Fail'
    ? failed.map((r) => r.message).join('; ')
    : outcome === 'Inconclusive'
      ? inconclusive.map((r) => r.message).join('; ')
      : 'all metrics passed';

  let verdict: AnalysisVerdict = 'Continue';
  if (next.consecutiveFailures >= Math.max(1, limits.failureLimit)) verdict = 'Rollback';
  else if (next.consecutiveInconclusive >= Math.max(1, limits.inconclusiveLimit)) verdict = limits.onInconclusive;

  return { outcome, counters: next, verdict, reason };
}
