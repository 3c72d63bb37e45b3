// Mann-Whitney U / Wilcoxon rank-sum two-sample test, pure (no I/O). Follows R's
// `wilcox.test(x, y, conf.int = TRUE, conf.level, alternative)` (stats 4.2):
// - exact null distribution of W when both samples have fewer than 50 values and there are no ties;
// - otherwise the normal approximation with tie-corrected variance and ±0.5 continuity correction;
// - the confidence interval for the shift x − y: order statistics of the pairwise differences
//   (exact case) or the roots of the corrected z-function, as R finds them with `uniroot`;
// - the estimate: the Hodges–Lehmann shift, median of all pairwise differences x_i − y_j. (R's
//   approximate branch returns a `uniroot` point of the uncorrected z-function, which lies in the
//   same gap between the two middle differences; the median is that gap's centre.)
// Plus the mean ratio mean(x) / mean(y) as effect size (Kayenta's `meanRatio`).

export type Alternative = 'two.sided' | 'greater' | 'less';

export interface MannWhitneyOptions {
  /** Default two.sided. `greater`: x is shifted above y. */
  alternative?: Alternative;
  /** Confidence level of the interval, in (0, 1). Default 0.95 as in R. */
  confidence?: number;
  /**
   * Variance inflation of W, ≥ 1 (default 1: independent samples, R's test). Serially correlated
   * points carry less information than independent ones: with a factor f the normal approximation
   * is used with the variance of W times f, for the p-value and the interval alike (the effective
   * sample size is n / f).
   */
  varianceInflation?: number;
}

export interface MannWhitneyResult {
  /** R's W: rank sum of x minus nx(nx+1)/2 (= the U statistic of x). */
  w: number;
  pValue: number;
  /** Hodges–Lehmann estimate of the shift x − y. */
  estimate: number;
  /** Confidence interval for the shift (±Infinity on the open side of a one-sided test). */
  lower: number;
  upper: number;
  /** mean(x) / mean(y); NaN when mean(y) is 0. */
  meanRatio: number;
  method: 'exact' | 'normal';
  nx: number;
  ny: number;
}

/** Average ranks (1-based), ties sharing the mean of their positions; also the tie group sizes. */
export function rank(values: readonly number[]): { ranks: number[]; ties: number[] } {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(values.length);
  const ties: number[] = [];
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && (order[j + 1] as readonly [number, number])[0] === (order[i] as readonly [number, number])[0]) j++;
    const r = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) ranks[(order[k] as readonly [number, number])[1]] = r;
    ties.push(j - i + 1);
    i = j + 1;
  }
  return { ranks, ties };
}

// ---------------------------------------------------------------------------------------------
// Normal distribution

const SQRT2 = Math.SQRT2;
const SQRT_PI = Math.sqrt(Math.PI);

/** erfc(x) for x ≥ 0, to about 1e-15 relative. */
function erfcPos(x: number): number {
  if (x < 2) {
    // erf(x) = 2/√π · e^{−x²} · Σ (2x²)^n x / (1·3·…·(2n+1)): all terms positive.
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (2 * x * x) / (2 * n + 1);
      sum += term;
      if (term < sum * 1e-17) break;
    }
    return 1 - (2 / SQRT_PI) * Math.exp(-x * x) * sum;
  }
  // Continued fraction (modified Lentz): erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))).
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 500; n++) {
    const a = n / 2;
    d = x + a * d;
    d = d === 0 ? tiny : d;
    c = x + a / c;
    c = c === 0 ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / SQRT_PI / f;
}

/** Standard normal CDF. */
export function pnorm(z: number): number {
  if (Number.isNaN(z)) return NaN;
  if (z === Infinity) return 1;
  if (z === -Infinity) return 0;
  return z < 0 ? erfcPos(-z / SQRT2) / 2 : 1 - erfcPos(z / SQRT2) / 2;
}

/** Standard normal quantile: bisection to a bracket, then Newton steps. */
export function qnorm(p: number): number {
  if (!(p >= 0 && p <= 1)) return NaN;
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  if (p > 0.5) return -qnorm(1 - p);
  let lo = -40;
  let hi = 0;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (pnorm(mid) < p) lo = mid;
    else hi = mid;
  }
  let z = (lo + hi) / 2;
  for (let i = 0; i < 4; i++) {
    const density = Math.exp(-z * z / 2) / Math.sqrt(2 * Math.PI);
    if (density === 0) break;
    const next = z - (pnorm(z) - p) / density;
    if (!Number.isFinite(next) || Math.abs(next - z) < 1e-15) break;
    z = next;
  }
  return z;
}

// ---------------------------------------------------------------------------------------------
// Exact distribution of W (no ties)

const exactCache = new Map<string, number[]>();

/**
 * Cumulative distribution P(W ≤ k), k = 0..m·n, of the rank-sum statistic under the null: the
 * counts are the coefficients of the Gaussian binomial [m+n choose m]_q, computed exactly with
 * BigInt, then divided by C(m+n, m).
 */
export function wilcoxonCdf(m: number, n: number): number[] {
  const key = `${m},${n}`;
  const cached = exactCache.get(key);
  if (cached) return cached;
  const size = m * n + 1;
  // ∏_{i=1..m} (1 − q^{n+i}) / (1 − q^i), built factor by factor: multiply, then divide exactly.
  let poly: bigint[] = [1n];
  for (let i = 1; i <= m; i++) {
    const len = Math.min(size, poly.length + n + i);
    const next = new Array<bigint>(len).fill(0n);
    for (let k = 0; k < poly.length && k < len; k++) next[k] = (next[k] as bigint) + (poly[k] as bigint);
    for (let k = 0; k + n + i < len && k < poly.length; k++) next[k + n + i] = (next[k + n + i] as bigint) - (poly[k] as bigint);
    // Divide by (1 − q^i): a[k] += a[k − i].
    for (let k = i; k < len; k++) next[k] = (next[k] as bigint) + (next[k - i] as bigint);
    poly = next;
  }
  const counts = Array.from({ length: size }, (_, k) => poly[k] ?? 0n);
  const total = counts.reduce((a, b) => a + b, 0n);
  const cdf: number[] = [];
  let acc = 0n;
  for (const c of counts) {
    acc += c;
    cdf.push(ratio(acc, total));
  }
  exactCache.set(key, cdf);
  return cdf;
}

/** a / b for BigInts too large for exact doubles: scale both down to keep ~17 digits. */
function ratio(a: bigint, b: bigint): number {
  const shift = BigInt(Math.max(0, b.toString(2).length - 1000));
  return Number(a >> shift) / Number(b >> shift);
}

/** P(W ≤ q) (R's pwilcox, lower tail). */
function pwilcox(q: number, m: number, n: number): number {
  if (q < 0) return 0;
  if (q >= m * n) return 1;
  return wilcoxonCdf(m, n)[Math.floor(q)] as number;
}

/** R's qwilcox for p ≤ 0.5: the smallest q with P(W ≤ q) ≥ p (with R's 10·ε slack). */
function qwilcox(p: number, m: number, n: number): number {
  const cdf = wilcoxonCdf(m, n);
  const target = p - 10 * Number.EPSILON;
  for (let q = 0; q < cdf.length; q++) if ((cdf[q] as number) >= target) return q;
  return m * n;
}

// ---------------------------------------------------------------------------------------------
// The test

const mean = (v: readonly number[]): number => v.reduce((a, b) => a + b, 0) / v.length;

function median(sorted: readonly number[]): number {
  const h = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[h] as number) : ((sorted[h - 1] as number) + (sorted[h] as number)) / 2;
}

function tieTerm(ties: readonly number[]): number {
  let s = 0;
  for (const t of ties) s += t * t * t - t;
  return s;
}

/**
 * Two-sample test of x against y. Throws on empty samples or non-finite values (the caller drops
 * those first and decides what too few samples means).
 */
export function mannWhitney(x: readonly number[], y: readonly number[], opts: MannWhitneyOptions = {}): MannWhitneyResult {
  const alternative = opts.alternative ?? 'two.sided';
  const confidence = opts.confidence ?? 0.95;
  if (x.length === 0 || y.length === 0) throw new Error('mannWhitney: both samples need at least one value');
  if (![...x, ...y].every(Number.isFinite)) throw new Error('mannWhitney: values must be finite');
  if (!(confidence > 0 && confidence < 1)) throw new Error('mannWhitney: confidence must be in (0, 1)');
  const inflation = opts.varianceInflation ?? 1;
  if (!(inflation >= 1 && Number.isFinite(inflation))) throw new Error('mannWhitney: varianceInflation must be a finite number >= 1');
  const nx = x.length;
  const ny = y.length;
  const { ranks, ties } = rank([...x, ...y]);
  let rx = 0;
  for (let i = 0; i < nx; i++) rx += ranks[i] as number;
  const w = rx - (nx * (nx + 1)) / 2;
  const hasTies = ties.length !== nx + ny;
  const diffs: number[] = [];
  for (const a of x) for (const b of y) diffs.push(a - b);
  diffs.sort((a, b) => a - b);
  const estimate = median(diffs);
  const meanRatio = mean(y) === 0 ? NaN : mean(x) / mean(y);
  const alpha = 1 - confidence;
  const base = { w, estimate, meanRatio, nx, ny };

  if (nx < 50 && ny < 50 && !hasTies && inflation === 1) {
    // P(W ≥ w), by the symmetry of the null distribution (no cancellation in 1 − cdf).
    const upperTail = (v: number): number => pwilcox(nx * ny - v, nx, ny);
    const pval = alternative === 'two.sided'
      ? Math.min(1, 2 * (w > (nx * ny) / 2 ? upperTail(w) : pwilcox(w, nx, ny)))
      : alternative === 'greater'
        ? upperTail(w)
        : pwilcox(w, nx, ny);
    // diffs[k] in R's 1-based indexing is diffs[k − 1] here.
    let lower = -Infinity;
    let upper = Infinity;
    if (alternative === 'two.sided') {
      const qu = Math.max(1, qwilcox(alpha / 2, nx, ny));
      lower = diffs[qu - 1] as number;
      upper = diffs[nx * ny - qu] as number;
    } else {
      const qu = Math.max(1, qwilcox(alpha, nx, ny));
      if (alternative === 'greater') lower = diffs[qu - 1] as number;
      else upper = diffs[nx * ny - qu] as number;
    }
    return { ...base, pValue: pval, lower, upper, method: 'exact' };
  }

  const N = nx + ny;
  const sigmaOf = (tieSum: number): number => Math.sqrt(inflation * ((nx * ny) / 12) * (N + 1 - tieSum / (N * (N - 1))));
  const correction = (dz: number): number =>
    alternative === 'two.sided' ? Math.sign(dz) * 0.5 : alternative === 'greater' ? 0.5 : -0.5;
  const sigma = sigmaOf(tieTerm(ties));
  const dz0 = w - (nx * ny) / 2;
  const z = sigma === 0 ? NaN : (dz0 - correction(dz0)) / sigma;
  const pValue = Number.isNaN(z)
    ? 1
    : alternative === 'less'
      ? pnorm(z)
      : alternative === 'greater'
        ? pnorm(-z)
        : Math.min(1, 2 * Math.min(pnorm(z), pnorm(-z)));

  // The interval: roots of d ↦ z(W(x − d, y)) − zq, a non-increasing step function of d.
  const wdiff = (d: number, zq: number): number => {
    const r = rank([...x.map((v) => v - d), ...y]);
    let s = 0;
    for (let i = 0; i < nx; i++) s += r.ranks[i] as number;
    const dz = s - (nx * (nx + 1)) / 2 - (nx * ny) / 2;
    const sig = sigmaOf(tieTerm(r.ties));
    if (sig === 0) return NaN;
    return (dz - correction(dz)) / sig - zq;
  };
  const mumin = (diffs[0] as number);
  const mumax = (diffs[diffs.length - 1] as number);
  const root = (zq: number): number => {
    const fl = wdiff(mumin, zq);
    const fu = wdiff(mumax, zq);
    if (!(fl > 0)) return mumin;
    if (!(fu < 0)) return mumax;
    // Bisection on the step function: converges onto the jump, which sits at a pairwise difference.
    let lo = mumin;
    let hi = mumax;
    for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, Math.abs(lo), Math.abs(hi)); i++) {
      const mid = (lo + hi) / 2;
      if (wdiff(mid, zq) > 0) lo = mid;
      else hi = mid;
    }
    return snapToDifference(diffs, (lo + hi) / 2);
  };
  let lower = -Infinity;
  let upper = Infinity;
  if (alternative === 'two.sided') {
    lower = root(qnorm(1 - alpha / 2));
    upper = root(qnorm(alpha / 2));
  } else if (alternative === 'greater') {
    lower = root(qnorm(1 - alpha));
  } else {
    upper = root(qnorm(alpha));
  }
  return { ...base, pValue, lower, upper, method: 'normal' };
}

/** The pairwise difference nearest to d (the jumps of the z-function sit exactly there). */
function snapToDifference(sorted: readonly number[], d: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as number) <= d) lo = mid;
    else hi = mid;
  }
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return Math.abs(a - d) <= Math.abs(b - d) ? a : b;
}

// ---------------------------------------------------------------------------------------------
// Power floor

/**
 * The smallest p-value any data can give with samples of these sizes (no ties, the most extreme
 * W), computed the way `mannWhitney` would: exact below 50 per side, else the corrected normal
 * approximation (always the approximation, with W's variance times the inflation, when that is
 * above 1). When it is not below 1 − confidence, nothing can ever be significant.
 */
export function minimumPValue(nx: number, ny: number, alternative: Alternative = 'two.sided', varianceInflation = 1): number {
  if (nx < 1 || ny < 1) return 1;
  const sides = alternative === 'two.sided' ? 2 : 1;
  if (nx < 50 && ny < 50 && varianceInflation === 1) return Math.min(1, sides * (wilcoxonCdf(nx, ny)[0] as number));
  const N = nx + ny;
  const sigma = Math.sqrt(varianceInflation * ((nx * ny) / 12) * (N + 1));
  const z = ((nx * ny) / 2 - 0.5) / sigma;
  return Math.min(1, sides * pnorm(-z));
}

/** True when samples of these sizes can reach significance at this confidence. */
export function canBeSignificant(nx: number, ny: number, confidence: number, alternative: Alternative = 'two.sided', varianceInflation = 1): boolean {
  return minimumPValue(nx, ny, alternative, varianceInflation) < 1 - confidence;
}
