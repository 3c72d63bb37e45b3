// What the operator makes of a comparator's summary ConfigMap (pure): the run's status.parity
// (counts, verdict, endpoints, latest real mismatches, redacted again) and the parity check that
// joins the analysis metrics in the run's verdict.
import type { Parity, ParityStatus } from '../api/shadowrun.ts';
import type { MetricResult } from '../analysis/evaluate.ts';
import { redactValue } from './redact.ts';
import { SUMMARY_VERSION, SkipReasons, type ParitySummary } from './summary.ts';
import { judgeRun, type ParityVerdict, type VerdictOptions } from './verdict.ts';
import { STATE_KEY, SUMMARY_KEY } from './workload.ts';

/** The name of the parity check among a run's results. */
export const PARITY_RESULT_NAME = 'parity';
const MAX_STATUS_ENDPOINTS = 50;
const MAX_STATUS_SAMPLES = 10;

/** What the comparator writes next to the summary. */
export interface ComparatorState {
  breakerOpen: boolean;
  breakerReason?: string;
  at: string;
}

export interface ObservedSummary {
  summary?: ParitySummary;
  state?: ComparatorState;
  /** The ConfigMap held something that is not a summary of this version. */
  unreadable?: string;
}

/** Reads the comparator's ConfigMap data. */
export function readSummaryData(data: Readonly<Record<string, string>> | undefined): ObservedSummary {
  const out: ObservedSummary = {};
  const text = data?.[SUMMARY_KEY];
  if (text !== undefined && text !== '') {
    try {
      const s = JSON.parse(text) as ParitySummary;
      if (s.version === SUMMARY_VERSION && typeof s.endpoints === 'object') out.summary = s;
      else out.unreadable = `summary version ${String(s.version)}, expected ${SUMMARY_VERSION}`;
    } catch (err) {
      out.unreadable = `summary is not JSON: ${(err as Error).message}`;
    }
  }
  const state = data?.[STATE_KEY];
  if (state) {
    try {
      out.state = JSON.parse(state) as ComparatorState;
    } catch {
      // a state we cannot read is no state
    }
  }
  return out;
}

export function verdictOptions(parity: Parity): VerdictOptions {
  return { maxMismatchRatio: parity.maxMismatchRatio, minCompared: parity.minCompared, noise: parity.noise };
}

/** The verdict of a run's summary; no summary yet: Inconclusive. */
export function parityVerdict(parity: Parity, summary: ParitySummary | undefined): ParityVerdict {
  if (!summary) return { result: 'Inconclusive', reason: 'the comparator has not reported yet', compared: 0, mismatched: 0, endpoints: [] };
  return judgeRun(summary, verdictOptions(parity));
}

/** The parity check as one result among the analysis metrics. */
export function parityResult(v: ParityVerdict): MetricResult {
  return { name: PARITY_RESULT_NAME, result: v.result, value: v.compared > 0 ? v.mismatched / v.compared : 0, message: `parity: ${v.reason}`.slice(0, 1024) };
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/** status.parity from the summary, the verdict and the comparator's state. */
export function parityStatus(parity: Parity, observed: ObservedSummary, v: ParityVerdict, comparator: string): ParityStatus {
  const s = observed.summary;
  const st: ParityStatus = { compared: v.compared, mismatched: v.mismatched, result: v.result, reason: clip(v.reason, 2048), comparator };
  if (v.compared > 0) st.mismatchRatio = v.mismatched / v.compared;
  if (!s) return st;
  st.noiseCompared = Object.values(s.endpoints).reduce((n, e) => n + e.noiseCompared, 0);
  st.updatedAt = s.updatedAt.replace(/\.\d+Z$/, 'Z');
  const skipped = SkipReasons.filter((r) => (s.skipped[r] ?? 0) > 0).map((r) => ({ reason: r, count: s.skipped[r]! }));
  if (skipped.length > 0) st.skipped = skipped;
  if (observed.state?.breakerOpen) st.breaker = clip(observed.state.breakerReason ?? 'legacy replays paused', 1024);
  st.endpoints = [...v.endpoints]
    .sort((a, b) => b.compared - a.compared || (a.endpoint < b.endpoint ? -1 : 1))
    .slice(0, MAX_STATUS_ENDPOINTS)
    .map((e) => ({ endpoint: clip(e.endpoint, 600), compared: e.compared, mismatched: e.mismatched, mismatchRatio: e.mismatchRatio, result: e.result }));
  const paths = parity.redactJsonPaths ?? [];
  const samples: NonNullable<ParityStatus['samples']> = [];
  for (const e of v.endpoints) {
    for (const f of e.fields.filter((x) => x.real)) {
      for (const sample of s.endpoints[e.endpoint]?.fields[f.field]?.samples ?? []) {
        samples.push({
          method: sample.request.method,
          path: clip(sample.request.path, 2048),
          primaryStatus: sample.legacy.status,
          shadowStatus: sample.candidate.status,
          // The difference names the field and both values: at a redacted path only the field is kept.
          difference: clip(redactValue(f.field, 'x', paths) === 'x' ? sample.difference : `${f.field}: [redacted]`, 1024),
          at: sample.at.replace(/\.\d+Z$/, 'Z'),
        });
      }
    }
  }
  samples.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
  if (samples.length > 0) st.samples = samples.slice(0, MAX_STATUS_SAMPLES);
  return st;
}
