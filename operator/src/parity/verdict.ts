// The parity verdict of a run, from its summary (pure): per endpoint, the share of compared
// requests that differ once noise is filtered out; a 2xx that became a 5xx always counts; an
// endpoint with fewer than minCompared requests makes the run Inconclusive (missing data never
// passes). Also the endpoint buckets requests are counted under: templates first, then heuristics,
// at most MAX_ENDPOINTS per run plus `other`, so label sets stay bounded (never raw paths).
import type { MetricResultValue } from '../api/common.ts';
import { judgeFields, type FieldJudgement, type NoiseThresholds } from './noise.ts';
import { OTHER_SIGNATURES, SERVER_ERROR, type EndpointSummary, type ParitySummary } from './summary.ts';

export const MAX_ENDPOINTS = 200;
export const OTHER_ENDPOINT = 'other';

/** `GET /listings/:id` matches GET /listings/42; `:x` is one segment, a final `*` the rest. Query strings are ignored. */
export function matchTemplate(template: string, method: string, path: string): boolean {
  const space = template.indexOf(' ');
  if (space < 0 || template.slice(0, space).toUpperCase() !== method.toUpperCase()) return false;
  const want = segments(template.slice(space + 1));
  const got = segments(pathOnly(path));
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as string;
    if (w === '*' && i === want.length - 1) return true;
    const g = got[i];
    if (g === undefined) return false;
    if (w.startsWith(':') ? g === '' : w !== g) return false;
  }
  return want.length === got.length;
}

function pathOnly(path: string): string {
  const q = path.search(/[?#]/);
  return q < 0 ? path : path.slice(0, q);
}

function segments(path: string): string[] {
  return path.replace(/^\/+/, '').replace(/\/+$/, '').split('/');
}

const ID_SEGMENT = [
  /^\d+$/, // 42
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, // UUID
  /^[0-9a-f]{8,}$/i, // hex ids, hashes
  /^(?=.*\d)[A-Za-z0-9_-]{16,}$/, // long tokens with digits (ULIDs, base64 ids)
];

/** `/listings/42/photos/9f86d081` → `/listings/:id/photos/:id`. */
export function heuristicTemplate(path: string): string {
  const segs = segments(pathOnly(path)).map((s) => (ID_SEGMENT.some((re) => re.test(s)) ? ':id' : s));
  return `/${segs.join('/')}`;
}

/** Names the bucket a request is counted under, with a bounded set of names. */
export class EndpointBuckets {
  readonly #templates: readonly string[];
  readonly #max: number;
  readonly #seen = new Set<string>();

  constructor(templates: readonly string[] = [], max = MAX_ENDPOINTS) {
    this.#templates = templates;
    this.#max = max;
  }

  bucket(method: string, path: string): string {
    const m = method.toUpperCase();
    const name = this.#templates.find((t) => matchTemplate(t, m, path)) ?? `${m} ${heuristicTemplate(path)}`;
    if (this.#seen.has(name)) return name;
    if (this.#seen.size >= this.#max) return OTHER_ENDPOINT;
    this.#seen.add(name);
    return name;
  }
}

export interface VerdictOptions {
  maxMismatchRatio: number;
  minCompared: number;
  noise: NoiseThresholds;
}

export interface EndpointVerdict {
  endpoint: string;
  compared: number;
  noiseCompared: number;
  /** Requests with at least one real (not noise) difference, or a 2xx → 5xx. */
  mismatched: number;
  mismatchRatio: number;
  serverErrors: number;
  truncated: number;
  result: MetricResultValue;
  reason: string;
  /** Real differences first, then noise. */
  fields: FieldJudgement[];
}

export interface ParityVerdict {
  result: MetricResultValue;
  reason: string;
  compared: number;
  mismatched: number;
  endpoints: EndpointVerdict[];
}

function pct(x: number): string {
  return `${(x * 100).toFixed(x > 0 && x < 0.001 ? 3 : 1)}%`;
}

function describeFields(fields: readonly FieldJudgement[]): string {
  const real = fields.filter((f) => f.real);
  if (real.length === 0) return '';
  const shown = real.slice(0, 3).map((f) => `${f.field} (raw ${f.raw}, noise ${f.noise})`);
  return `; differing: ${shown.join(', ')}${real.length > 3 ? ` and ${real.length - 3} more` : ''}`;
}

export function judgeEndpoint(endpoint: string, ep: EndpointSummary, opts: VerdictOptions): EndpointVerdict {
  const totals = { compared: ep.compared, noiseCompared: ep.noiseCompared };
  const fields = judgeFields(Object.fromEntries(Object.entries(ep.fields).map(([k, f]) => [k, { raw: f.raw, noise: f.noise }])), totals, opts.noise);
  const real = new Set(fields.filter((f) => f.real).map((f) => f.field));
  let mismatched = 0;
  for (const [sig, n] of Object.entries(ep.signatures)) {
    const keys = sig.split('\n');
    if (sig === OTHER_SIGNATURES || keys.includes(SERVER_ERROR) || keys.some((k) => real.has(k))) mismatched += n;
  }
  const mismatchRatio = ep.compared > 0 ? mismatched / ep.compared : 0;
  const base = { endpoint, compared: ep.compared, noiseCompared: ep.noiseCompared, mismatched, mismatchRatio, serverErrors: ep.serverErrors, truncated: ep.truncated, fields };
  const counted = `${mismatched} of ${ep.compared} compared responses differ (${pct(mismatchRatio)}`;
  if (ep.serverErrors > 0) {
    return { ...base, result: 'Fail', reason: `${endpoint}: ${ep.serverErrors} answer(s) went from 2xx on the legacy to 5xx on the new service${describeFields(fields)}` };
  }
  if (ep.compared < opts.minCompared) {
    return { ...base, result: 'Inconclusive', reason: `${endpoint}: only ${ep.compared} of the ${opts.minCompared} compared requests needed` };
  }
  if (mismatchRatio > opts.maxMismatchRatio) {
    return { ...base, result: 'Fail', reason: `${endpoint}: ${counted} > ${pct(opts.maxMismatchRatio)})${describeFields(fields)}` };
  }
  return { ...base, result: 'Pass', reason: `${endpoint}: ${counted} ≤ ${pct(opts.maxMismatchRatio)})` };
}

export function judgeRun(summary: ParitySummary, opts: VerdictOptions): ParityVerdict {
  const endpoints = Object.entries(summary.endpoints)
    .map(([name, ep]) => judgeEndpoint(name, ep, opts))
    .sort((a, b) => (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0));
  const compared = endpoints.reduce((n, e) => n + e.compared, 0);
  const mismatched = endpoints.reduce((n, e) => n + e.mismatched, 0);
  const of = (r: MetricResultValue) => endpoints.filter((e) => e.result === r);
  const failed = of('Fail');
  if (failed.length > 0) return { result: 'Fail', reason: failed.map((e) => e.reason).join('; '), compared, mismatched, endpoints };
  if (endpoints.length === 0) return { result: 'Inconclusive', reason: 'no request compared yet', compared, mismatched, endpoints };
  const inconclusive = of('Inconclusive');
  if (inconclusive.length > 0) return { result: 'Inconclusive', reason: inconclusive.map((e) => e.reason).join('; '), compared, mismatched, endpoints };
  return { result: 'Pass', reason: `all ${endpoints.length} endpoint(s) within ${pct(opts.maxMismatchRatio)} after noise (${mismatched} of ${compared} responses differ)`, compared, mismatched, endpoints };
}
