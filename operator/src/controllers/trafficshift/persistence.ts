// How a planned TrafficShift status is kept: written, left as it is, or — when only the analysis
// bookkeeping moved — kept in memory as an AnalysisMemo (DESIGN §6: idle API traffic; README
// › Performance). Pure, like the planner: the controller holds the memo and does the write.
import type { MetricResult as StatusMetricResult } from '../../api/common.ts';
import type { TrafficShiftStatus } from '../../api/trafficshift.ts';
import { jsonEqual } from '../../runtime/conditions.ts';
import { ms } from '../shared/planner.ts';

/**
 * The analysis bookkeeping that is kept in memory instead of status while nothing a user or a
 * restart needs has changed (DESIGN §6: idle API traffic ≤ 1 request/s at 1,000 shifts): when the
 * last run was, and the measured values. Written to status whenever a verdict, a counter, the phase
 * or the step changes. Losing it in a crash is safe: a step still needs a passing run after its
 * start (`passedThisStep`), so the restarted operator runs one instead of promoting on old data.
 */
export interface AnalysisMemo {
  observedGeneration: number | undefined;
  stepStartedAt: string | undefined;
  lastAnalysisAt: string;
  lastResults: StatusMetricResult[];
}

/** The status with everything but the bookkeeping of `AnalysisMemo`: what must be persisted. */
function durable(st: TrafficShiftStatus): TrafficShiftStatus {
  const { lastAnalysisAt: _at, ...rest } = st;
  if (!st.analysis) return rest;
  const { lastResults, ...counters } = st.analysis;
  return { ...rest, analysis: { ...counters, ...(lastResults ? { lastResults: lastResults.map((r) => ({ name: r.name, result: r.result, threshold: r.threshold }) as StatusMetricResult) } : {}) } };
}

/**
 * Decides how a planned status is kept: `unchanged`, `memo` (only the analysis bookkeeping moved;
 * keep it in memory) or `write`.
 */
export function statusPersistence(persisted: TrafficShiftStatus, next: TrafficShiftStatus): 'unchanged' | 'memo' | 'write' {
  if (jsonEqual(persisted, next)) return 'unchanged';
  return jsonEqual(durable(persisted), durable(next)) ? 'memo' : 'write';
}

export function memoOf(st: TrafficShiftStatus): AnalysisMemo | undefined {
  if (!st.lastAnalysisAt) return undefined;
  return { observedGeneration: st.observedGeneration, stepStartedAt: st.stepStartedAt, lastAnalysisAt: st.lastAnalysisAt, lastResults: st.analysis?.lastResults ?? [] };
}

/** The persisted status with a newer in-memory memo laid over it (same generation and step only). */
export function withMemo(persisted: TrafficShiftStatus, memo: AnalysisMemo | undefined): TrafficShiftStatus {
  if (!memo || memo.observedGeneration !== persisted.observedGeneration || memo.stepStartedAt !== persisted.stepStartedAt) return persisted;
  const at = ms(persisted.lastAnalysisAt);
  if (at !== undefined && at >= (ms(memo.lastAnalysisAt) ?? 0)) return persisted;
  return { ...persisted, lastAnalysisAt: memo.lastAnalysisAt, analysis: { consecutiveFailures: 0, consecutiveInconclusive: 0, ...persisted.analysis, lastResults: memo.lastResults } };
}
