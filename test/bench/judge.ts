// The statistical judge against the threshold check the README recommends, on synthetic latency
// series (no cluster): `npm run bench -- --only judge`, or alone: `node test/bench/judge.ts [--runs 200] [--seed 1]`.
//
// Model (fixed before measuring, seeded PRNG, reproducible): one point every 15 s per side, the
// p50 latency Prometheus would return at that step. log(p50) is an AR(1) process around log(100 ms)
// (lag-1 correlation 0.6, marginal sd 0.08, i.e. ~8% noise), plus a long tail: with probability
// 0.03 a point gets a spike of exp(|N(0, 0.4)|) (GC pauses, a slow node). New and legacy draw
// independently from the same process; the regression multiplies the new side by 1.15.
//
// One run is one 10-minute step with analysis every 30 s (20 runs of the analysis), failureLimit 2,
// inconclusiveLimit 3, as the README's example. The legacy side has two hours of history before the
// step; the new side only from the step start. Every check goes through the operator's own code
// (evaluateMetric / judgeMetric, then judge() with the limits):
// - threshold: `maxRatio: 1.1` of the new value over the legacy value at each analysis (README);
// - judge at its defaults: `judge: {direction: increase}` (window 5m, step 15s, confidence 0.98);
// - judge at confidence 0.998 over 10m, with the legacy's baseline as long (10m) and, as the README
//   recommends for latency, two hours long (`baselineWindow: 2h`).
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { evaluateMetric, judge, type AnalysisCounters, type MetricResult } from '../../operator/src/analysis/evaluate.ts';
import { judgeMetric, type JudgeParams } from '../../operator/src/analysis/judge.ts';

const STEP_S = 15;
const INTERVAL_S = 30;
const STEP_DURATION_S = 600;
const LIMITS = { failureLimit: Number(process.env.FL ?? 2), inconclusiveLimit: 3, onInconclusive: 'Pause' as const };

/** mulberry32: a small, well-known seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(rand: () => number): number {
  const u = Math.max(rand(), 1e-300);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/** n points of the p50 series (seconds), autocorrelated and long-tailed, times `factor`. */
export function latencySeries(rand: () => number, n: number, factor = 1): number[] {
  const phi = 0.6;
  const sd = 0.08;
  let a = normal(rand) * sd;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    a = phi * a + sd * Math.sqrt(1 - phi * phi) * normal(rand);
    const spike = rand() < 0.03 ? Math.abs(normal(rand)) * 0.4 : 0;
    out.push(0.1 * factor * Math.exp(a + spike));
  }
  return out;
}

interface RunOutcome {
  rolledBack: boolean;
  /** New-side points in the window when the rollback was decided. */
  samples?: number;
  /** Seconds into the step when it was decided. */
  at?: number;
}

/** A check sees the whole series and the time t (s into the step) of the analysis. */
type Check = (t: number, newer: number[], legacy: number[]) => MetricResult;

/** The legacy side's history before the step: enough for the longest baseline window judged. */
const HISTORY_S = 7200;
const HISTORY = HISTORY_S / STEP_S;

function runStep(seed: number, factor: number, check: Check): RunOutcome {
  const rand = prng(seed);
  const legacy = latencySeries(rand, HISTORY + STEP_DURATION_S / STEP_S);
  const newer = latencySeries(rand, STEP_DURATION_S / STEP_S, factor);
  let counters: AnalysisCounters = { consecutiveFailures: 0, consecutiveInconclusive: 0 };
  for (let t = INTERVAL_S; t <= STEP_DURATION_S; t += INTERVAL_S) {
    const r = check(t, newer, legacy);
    const j = judge([r], counters, LIMITS);
    counters = j.counters;
    if (j.verdict === 'Rollback') return { rolledBack: true, at: t, ...(r.judge ? { samples: r.judge.samples } : {}) };
  }
  return { rolledBack: false };
}

/**
 * Points with timestamps in (t − window, t] for the new side (which has points only since the step
 * began) and in (t − baselineWindow, t] for the legacy: new point i is at (i + 1)·step, legacy
 * point HISTORY + i at the same time.
 */
function windowOf(t: number, newer: number[], legacy: number[], windowS: number, baselineS: number): { x: number[]; y: number[] } {
  const last = t / STEP_S; // points up to and including this index (1-based count)
  return {
    x: newer.slice(Math.max(0, last - windowS / STEP_S), last),
    y: legacy.slice(HISTORY + last - baselineS / STEP_S, HISTORY + last),
  };
}

const threshold: Check = (t, newer, legacy) => {
  const i = t / STEP_S - 1;
  return evaluateMetric({ name: 'p50-vs-legacy', maxRatio: 1.1 }, { value: { kind: 'value', value: newer[i] as number }, baseline: { kind: 'value', value: legacy[HISTORY + i] as number } });
};

const judged = (params: JudgeParams, windowS: number, baselineS = windowS): Check => (t, newer, legacy) => {
  const { x, y } = windowOf(t, newer, legacy, windowS, baselineS);
  return judgeMetric('p50', params, { kind: 'values', values: x }, { kind: 'values', values: y });
};

export interface JudgeBenchRow {
  check: string;
  falseRollbacks: number;
  detected: number;
  /** New-side points when the regression was caught: median and max. */
  samplesMedian?: number;
  samplesMax?: number;
  /** Seconds into the step when caught: median. */
  detectedAtMedianS: number;
}

export interface JudgeBenchResult {
  runs: number;
  seed: number;
  rows: JudgeBenchRow[];
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[(s.length - 1) >> 1] as number);
}

export function judgeBench(opts: { runs?: number; seed?: number } = {}): JudgeBenchResult {
  const runs = opts.runs ?? 200;
  const seed = opts.seed ?? 1;
  const base: JudgeParams = { confidence: 0.98, direction: 'increase', critical: false };
  const checks: Array<[string, Check]> = [
    ['threshold `maxRatio: 1.1` (README)', threshold],
    ['judge, defaults (confidence 0.98, window 5m)', judged(base, 300)],
    ['judge, confidence 0.998, window 10m (legacy over the same 10m)', judged({ ...base, confidence: 0.998 }, 600)],
    ['judge as the README recommends for latency (confidence 0.998, window 10m, baselineWindow 2h)', judged({ ...base, confidence: 0.998 }, 600, 7200)],
  ];
  const rows = checks.map(([name, check]): JudgeBenchRow => {
    let falseRollbacks = 0;
    const caught: RunOutcome[] = [];
    for (let k = 0; k < runs; k++) {
      // The same seeds for every check: each sees exactly the same series.
      if (runStep(seed * 100_003 + k, 1, check).rolledBack) falseRollbacks++;
      const r = runStep(seed * 100_003 + runs + k, 1.15, check);
      if (r.rolledBack) caught.push(r);
    }
    const samples = caught.map((c) => c.samples).filter((s): s is number => s !== undefined);
    return {
      check: name,
      falseRollbacks,
      detected: caught.length,
      ...(samples.length ? { samplesMedian: median(samples), samplesMax: Math.max(...samples) } : {}),
      detectedAtMedianS: median(caught.map((c) => c.at ?? NaN)),
    };
  });
  return { runs, seed, rows };
}

export function judgeTable(r: JudgeBenchResult): string {
  const head = `| check (${r.runs} runs each, seed ${r.seed}) | false rollbacks, healthy | detected, new 15% slower at p50 | caught after (median) | new points when caught (median / max) |\n|---|---|---|---|---|`;
  const body = r.rows.map((x) => `| ${x.check} | ${x.falseRollbacks}/${r.runs} | ${x.detected}/${r.runs} (${Math.round((1000 * x.detected) / r.runs) / 10}%) | ${Number.isFinite(x.detectedAtMedianS) ? `${x.detectedAtMedianS} s` : '-'} | ${x.samplesMedian !== undefined ? `${x.samplesMedian} / ${x.samplesMax}` : '1 (one value per check)'} |`);
  return `${head}\n${body.join('\n')}\n`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { runs: { type: 'string' }, seed: { type: 'string' } } });
  const result = judgeBench({ ...(values.runs ? { runs: Number(values.runs) } : {}), ...(values.seed ? { seed: Number(values.seed) } : {}) });
  console.log(judgeTable(result));
}
