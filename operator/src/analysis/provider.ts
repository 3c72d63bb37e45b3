// The metric provider contract (DESIGN §3: Prometheus first, others behind the same interface).
// Shaped like Argo Rollouts' metric providers' `Run`: one idempotent measurement, no state kept
// between calls, safe to repeat after a crash. A provider never throws for a measurement problem:
// it returns a sample that says what happened, so "no data" can never be mistaken for a pass.

import type { TemplateVars } from './template.ts';

/**
 * One measurement.
 * - `value`: a finite number was measured.
 * - `inconclusive`: nothing trustworthy was measured (no series, NaN/±Inf, provider error,
 *   timeout, unreachable). Counted separately and handled by `onInconclusive` (DESIGN §2).
 * - `rejected`: the provider refused the query itself (PromQL syntax error, unknown template
 *   variable, invalid address). Retrying will not help; the controller sets `Stalled` naming the
 *   field and changes nothing.
 */
export type MetricSample =
  | { kind: 'value'; value: number }
  | { kind: 'inconclusive'; reason: string }
  | { kind: 'rejected'; reason: string };

export interface MetricProvider<Spec> {
  /** Provider name as used in the spec (`prometheus`, …), for logs and messages. */
  readonly name: string;
  /**
   * Renders the spec's query templates with `vars` and measures once. Idempotent; resolves
   * (never rejects) with a sample, except when `signal` aborts, which rejects with its reason.
   */
  query(spec: Spec, vars: TemplateVars, signal?: AbortSignal): Promise<MetricSample>;
}

/** A provider that can also measure a series over a window (Prometheus; a web check gives one value). */
export interface RangeMetricProvider<Spec> extends MetricProvider<Spec> {
  /**
   * The same query evaluated over a window at a resolution (a range query), for the statistical
   * judge: one value per step, missing and non-finite points dropped. Same contract as `query`.
   */
  queryRange(spec: Spec, vars: TemplateVars, range: QueryRange, signal?: AbortSignal): Promise<SeriesSample>;
}

/** A range query's window: the `windowSeconds` before now, one point every `stepSeconds`. */
export interface QueryRange {
  windowSeconds: number;
  stepSeconds: number;
}

/**
 * One range measurement: `values` are the finite points of the one series (possibly none: the
 * judge decides what too few means); `inconclusive` / `rejected` as for `MetricSample`.
 */
export type SeriesSample =
  | { kind: 'values'; values: number[] }
  | { kind: 'inconclusive'; reason: string }
  | { kind: 'rejected'; reason: string };

export function valueSample(value: number): MetricSample {
  return { kind: 'value', value };
}

export function inconclusiveSample(reason: string): MetricSample {
  return { kind: 'inconclusive', reason };
}

export function rejectedSample(reason: string): MetricSample {
  return { kind: 'rejected', reason };
}
