// Diffy's noise filter, reimplemented from its description (research Q1 §1.1, JoinedDifferences):
// per endpoint and field, `raw` counts requests where legacy and new differed there and `noise`
// counts requests where two legacy answers differed there. A field is a real difference only when
// raw is above noise AND |raw − noise| / (raw + noise) × 100 > relativeThreshold (Diffy: 20) AND
// |raw − noise| / compared × 100 > absoluteThreshold (Diffy: 0.03). Otherwise the field is noise.
// Diffy asks its secondary on every request; we ask the legacy twice only on a sample, so the noise
// count is scaled up to the compared requests (noise × compared / noiseCompared). Pure.

export interface NoiseThresholds {
  /** Percent; Diffy's default 20. */
  relativeThreshold: number;
  /** Percent of compared requests; Diffy's default 0.03. */
  absoluteThreshold: number;
}

export const DIFFY_THRESHOLDS: NoiseThresholds = { relativeThreshold: 20, absoluteThreshold: 0.03 };

export interface FieldCounts {
  /** Requests where legacy and new differed at this field. */
  raw: number;
  /** Noise-sampled requests where two legacy answers differed at this field. */
  noise: number;
}

export interface EndpointTotals {
  /** Requests compared legacy vs new. */
  compared: number;
  /** Of those, requests where the legacy was asked twice. */
  noiseCompared: number;
}

export interface FieldJudgement {
  field: string;
  raw: number;
  /** Noise as measured (on the sample). */
  noise: number;
  /** Noise scaled to all compared requests: what raw is held against. */
  expectedNoise: number;
  /** |raw − expectedNoise| / (raw + expectedNoise) × 100. */
  relative: number;
  /** |raw − expectedNoise| / compared × 100. */
  absolute: number;
  /** true: a real difference; false: noise. */
  real: boolean;
}

export function judgeField(field: string, counts: FieldCounts, totals: EndpointTotals, t: NoiseThresholds = DIFFY_THRESHOLDS): FieldJudgement {
  const expectedNoise = totals.noiseCompared > 0 ? (counts.noise * totals.compared) / totals.noiseCompared : 0;
  const delta = Math.abs(counts.raw - expectedNoise);
  const relative = counts.raw + expectedNoise > 0 ? (delta / (counts.raw + expectedNoise)) * 100 : 0;
  const absolute = totals.compared > 0 ? (delta / totals.compared) * 100 : 0;
  const real = counts.raw > expectedNoise && relative > t.relativeThreshold && absolute > t.absoluteThreshold;
  return { field, raw: counts.raw, noise: counts.noise, expectedNoise, relative, absolute, real };
}

/** Every field of an endpoint judged, real differences first, then by raw count. */
export function judgeFields(fields: Readonly<Record<string, FieldCounts>>, totals: EndpointTotals, t: NoiseThresholds = DIFFY_THRESHOLDS): FieldJudgement[] {
  return Object.entries(fields)
    .map(([field, c]) => judgeField(field, c, totals, t))
    .sort((a, b) => Number(b.real) - Number(a.real) || b.raw - a.raw || (a.field < b.field ? -1 : 1));
}
