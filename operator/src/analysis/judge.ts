// The statistical judge (issue 16), pure: two samples (new service, legacy) → a metric result, and
// the judged metrics of a run → a score. Modelled on Kayenta's NetflixACAJudge (research notes
// anchors-2026-12 §3): a two-sided Mann-Whitney U test at the metric's confidence, its variance
// widened for the serial correlation of Prometheus points (Kayenta assumes independent points; a
// bench of autocorrelated series showed 40% false rollbacks without it); the metric is
// High when the interval for the shift new − legacy lies above 0 and the mean ratio exceeds
// `allowedIncrease` (Low is the mirror image), and it fails when that is the direction judged.

import type { MetricResult, MetricOutcome } from './evaluate.ts';
import { canBeSignificant, mannWhitney, rank } from './mannwhitney.ts';
import type { SeriesSample } from './provider.ts';

export type JudgeDirection = 'increase' | 'decrease' | 'either';
export type JudgeClassification = 'Pass' | 'High' | 'Low';

/** A metric's `judge` block (only the fields evaluation reads). */
export interface JudgeParams {
  confidence: number;
  direction: JudgeDirection;
  allowedIncrease?: number | undefined;
  allowedDecrease?: number | undefined;
  critical: boolean;
}

export interface JudgeDetail {
  classification: JudgeClassification;
  estimate: number;
  lower: number;
  upper: number;
  confidence: number;
  pValue: number;
  /** mean(new) / mean(legacy); NaN when the legacy mean is 0. */
  meanRatio: number;
  samples: number;
  baselineSamples: number;
  /** Pooled lag-1 autocorrelation the test corrected for (see serialCorrelation). */
  serialCorrelation: number;
  /** samples / inflation: what the new side's points are worth as independent ones. */
  effectiveSamples: number;
  critical: boolean;
  /** The run's score over all judged metrics, filled in by `scoreRun`. */
  score?: number;
}

export interface ScoreThresholds {
  pass: number;
  marginal: number;
}

export const fmt = (n: number): string => {
  if (!Number.isFinite(n)) return String(n);
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(3)));
};
const signed = (n: number): string => (n > 0 ? `+${fmt(n)}` : fmt(n));

/**
 * Lag-1 autocorrelation of the points, pooled over both samples (each around its own mean), on
 * the ranks within each sample so that one spike cannot dominate it, with Kendall's small-sample
 * bias correction (r + (1 + 3r) / n) and clamped to [0, 0.9]; and the variance inflation
 * (1 + r) / (1 − r) it implies for W (the long-run variance of an AR(1) series over its variance).
 * Prometheus points one `step` apart are rarely independent (a rate over a 1-minute window
 * evaluated every 15 s shares most of its data with the next point); treating them as independent
 * makes a steady difference of a few points look significant. Needs 4 points per sample to say
 * anything; below that the correlation is taken as 0 for that sample.
 */
export function serialCorrelation(...samples: ReadonlyArray<readonly number[]>): { r: number; inflation: number } {
  let num = 0;
  let den = 0;
  let n = 0;
  let used = 0;
  for (const s of samples) {
    if (s.length < 4) continue;
    const { ranks } = rank(s);
    const m = (s.length + 1) / 2;
    for (let i = 0; i < ranks.length; i++) {
      const d = (ranks[i] as number) - m;
      den += d * d;
      if (i + 1 < ranks.length) num += d * ((ranks[i + 1] as number) - m);
    }
    n += s.length;
    used++;
  }
  if (used === 0 || den === 0) return { r: 0, inflation: 1 };
  const raw = num / den;
  const perSample = n / used;
  const r = Math.min(0.9, Math.max(0, raw + (1 + 3 * raw) / perSample));
  return { r, inflation: (1 + r) / (1 - r) };
}

/** The fewest points per side (equal sides) that can be significant at this confidence. */
export function minimumSamples(confidence: number): number {
  for (let n = 1; n <= 1000; n++) if (canBeSignificant(n, n, confidence)) return n;
  return Infinity;
}

/** Judges one metric from its two range samples. Never passes without enough data. */
export function judgeMetric(name: string, params: JudgeParams, value: SeriesSample, baseline: SeriesSample): MetricResult {
  for (const [side, s] of [['', value], ['baseline: ', baseline]] as const) {
    if (s.kind !== 'values') {
      const r: MetricResult = { name, result: 'Inconclusive', message: `${name}: ${side}${s.reason}` };
      if (s.kind === 'rejected') r.queryRejected = true;
      return r;
    }
  }
  const x = (value as { values: number[] }).values;
  const y = (baseline as { values: number[] }).values;
  const { confidence } = params;
  const serial = serialCorrelation(x, y);
  if (x.length === 0 || y.length === 0 || !canBeSignificant(x.length, y.length, confidence, 'two.sided', serial.inflation)) {
    const need = minimumSamples(confidence);
    const serialNote = serial.inflation > 1
      ? `; the points are serially correlated (r=${fmt(serial.r)}), so each is worth ${fmt(1 / serial.inflation)} of an independent one and even the most extreme ranks cannot be significant`
      : '';
    return {
      name,
      result: 'Inconclusive',
      message: `${name}: too few samples (${x.length} new, ${y.length} legacy): at confidence ${confidence} no difference can be significant with fewer than ${need} independent points per side${serialNote} (widen judge.window or judge.baselineWindow, or wait for traffic)`,
    };
  }

  const t = mannWhitney(x, y, { confidence, alternative: 'two.sided', varianceInflation: serial.inflation });
  const allowedIncrease = params.allowedIncrease ?? 1;
  const allowedDecrease = params.allowedDecrease ?? 1;
  const ratioKnown = Number.isFinite(t.meanRatio);
  const high = params.direction !== 'decrease' && t.lower > 0 && (!ratioKnown || t.meanRatio > allowedIncrease);
  const low = params.direction !== 'increase' && t.upper < 0 && (!ratioKnown || t.meanRatio < allowedDecrease);
  const classification: JudgeClassification = high ? 'High' : low ? 'Low' : 'Pass';

  const pct = Math.round(confidence * 1000) / 10;
  const ratio = ratioKnown ? `mean ratio ${fmt(t.meanRatio)}x` : 'mean ratio undefined (legacy mean 0)';
  const facts = `shift ${signed(t.estimate)} [${pct}% CI ${signed(t.lower)}, ${signed(t.upper)}], p=${fmt(t.pValue)}, ${ratio}, ${x.length} vs ${y.length} samples${serial.inflation > 1 ? ` (serial correlation ${fmt(serial.r)}: worth ${fmt(x.length / serial.inflation)} vs ${fmt(y.length / serial.inflation)} independent)` : ''}`;
  let verdict: string;
  if (high) verdict = `new is higher than legacy: ${facts} > allowed ${fmt(allowedIncrease)}x`;
  else if (low) verdict = `new is lower than legacy: ${facts} < allowed ${fmt(allowedDecrease)}x`;
  else verdict = `no regression: ${facts}`;

  const detail: JudgeDetail = {
    classification,
    estimate: t.estimate,
    lower: t.lower,
    upper: t.upper,
    confidence,
    pValue: t.pValue,
    meanRatio: t.meanRatio,
    samples: x.length,
    baselineSamples: y.length,
    serialCorrelation: serial.r,
    effectiveSamples: x.length / serial.inflation,
    critical: params.critical,
  };
  const r: MetricResult = {
    name,
    result: classification === 'Pass' ? 'Pass' : 'Fail',
    value: median(x),
    baseline: median(y),
    message: `${name} ${verdict}`,
    judge: detail,
  };
  return r;
}

function median(v: readonly number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 === 1 ? (s[h] as number) : ((s[h - 1] as number) + (s[h] as number)) / 2;
}

/** Score 0–100 of the judged metrics that were conclusive: the share classified Pass. */
export function judgeScore(results: readonly MetricResult[]): number | undefined {
  const judged = results.filter((r) => r.judge !== undefined);
  if (judged.length === 0) return undefined;
  const passed = judged.filter((r) => r.judge?.classification === 'Pass').length;
  return Math.round((10000 * passed) / judged.length) / 100;
}

/**
 * Folds the judged metrics of one run into a score and, with `thresholds`, decides them together
 * (Kayenta's ThresholdScoreClassifier): score ≥ pass passes, ≥ marginal is inconclusive, below
 * fails; a critical metric classified High or Low makes the score 0. The verdict is written onto
 * the judged metrics that were High or Low (they carry the reason), so `judge()` applies the
 * failureLimit / onInconclusive rules to it unchanged. Without thresholds each judged metric
 * stands on its own; the score is still recorded.
 */
export function scoreRun(results: readonly MetricResult[], thresholds?: ScoreThresholds): { results: MetricResult[]; score?: number } {
  const raw = judgeScore(results);
  if (raw === undefined) return { results: [...results] };
  const criticals = results.filter((r) => r.judge?.critical && r.judge.classification !== 'Pass');
  const score = thresholds && criticals.length > 0 ? 0 : raw;
  const withScore = results.map((r) => (r.judge ? { ...r, judge: { ...r.judge, score } } : r));
  if (!thresholds) return { results: withScore, score };

  const outcome: MetricOutcome = criticals.length > 0 ? 'Fail' : score >= thresholds.pass ? 'Pass' : score >= thresholds.marginal ? 'Inconclusive' : 'Fail';
  const why = criticals.length > 0
    ? `score 0: critical metric ${criticals.map((r) => r.name).join(', ')} regressed`
    : outcome === 'Pass'
      ? `tolerated: score ${fmt(score)} >= pass ${fmt(thresholds.pass)}`
      : outcome === 'Inconclusive'
        ? `marginal: score ${fmt(score)} < pass ${fmt(thresholds.pass)}, >= marginal ${fmt(thresholds.marginal)}`
        : `score ${fmt(score)} < marginal ${fmt(thresholds.marginal)}`;
  return {
    score,
    results: withScore.map((r) => (r.judge && r.judge.classification !== 'Pass' ? { ...r, result: outcome, message: `${r.message} (${why})` } : r)),
  };
}
