// The comparator's running tally for one run, bounded and serializable (kept in a ConfigMap by the
// operator later): per endpoint bucket, compared and noise-compared counts, per field raw and noise
// counts with the latest redacted samples, the declared deviations that absorbed differences, and
// the sets of fields that differed per request ("signatures", so the mismatch ratio can be
// recomputed once noise is known). Pure: the caller passes the time.
import type { DeviationRule, DiffResult, FieldDiff } from './diff.ts';

export const SUMMARY_VERSION = 1;
export const MAX_FIELDS_PER_ENDPOINT = 100;
export const MAX_SIGNATURES_PER_ENDPOINT = 200;
export const MAX_SAMPLES_PER_FIELD = 5;
/** Field bucket for fields beyond MAX_FIELDS_PER_ENDPOINT. */
export const OTHER_FIELDS = '(other fields)';
/** Signature bucket beyond MAX_SIGNATURES_PER_ENDPOINT: always counted as a mismatch. */
export const OTHER_SIGNATURES = '(other)';
/** Marker in a signature: the legacy answered 2xx, the new service 5xx or nothing. Never noise. */
export const SERVER_ERROR = '!2xx→5xx';

export const SkipReasons = ['method', 'body', 'stream', 'rate_limited', 'in_flight', 'breaker', 'legacy_error', 'legacy_refused'] as const;
export type SkipReason = (typeof SkipReasons)[number];

export interface SampleAnswer {
  status: number;
  headers: Record<string, string>;
  body?: string;
}

/** One request kept as evidence, already redacted. */
export interface Sample {
  at: string;
  request: { method: string; path: string; headers: Record<string, string> };
  legacy: SampleAnswer;
  candidate: SampleAnswer;
  /** `$.price: 10 → 11` */
  difference: string;
}

export interface FieldSummary {
  raw: number;
  noise: number;
  /** The latest samples, at most MAX_SAMPLES_PER_FIELD. */
  samples: Sample[];
}

export interface DeviationSummary {
  path: string;
  rule: DeviationRule;
  reason: string;
  count: number;
}

export interface EndpointSummary {
  compared: number;
  noiseCompared: number;
  serverErrors: number;
  truncated: number;
  fields: Record<string, FieldSummary>;
  /** Requests with at least one raw difference, by the set of fields that differed (joined by "\n"). */
  signatures: Record<string, number>;
  /** By `path rule`. */
  deviations: Record<string, DeviationSummary>;
}

export interface ParitySummary {
  version: typeof SUMMARY_VERSION;
  startedAt: string;
  updatedAt: string;
  skipped: Partial<Record<SkipReason, number>>;
  /** Not replayed but passed on to the new service (shed by the rate limit or the in-flight bound). */
  forwardedOnly: number;
  endpoints: Record<string, EndpointSummary>;
}

export function emptySummary(at: string): ParitySummary {
  return { version: SUMMARY_VERSION, startedAt: at, updatedAt: at, skipped: {}, forwardedOnly: 0, endpoints: {} };
}

function emptyEndpoint(): EndpointSummary {
  return { compared: 0, noiseCompared: 0, serverErrors: 0, truncated: 0, fields: {}, signatures: {}, deviations: {} };
}

export function recordSkip(s: ParitySummary, reason: SkipReason, at: string): void {
  s.skipped[reason] = (s.skipped[reason] ?? 0) + 1;
  s.updatedAt = at;
}

export interface Comparison {
  endpoint: string;
  /** legacy vs new */
  raw: DiffResult;
  /** legacy vs legacy, on a noise-sampled request */
  noise?: DiffResult;
  /** Builds the redacted sample for a differing field; called only when the field keeps it. */
  sample: (diff: FieldDiff) => Sample;
}

function fieldKey(ep: EndpointSummary, field: string): string {
  if (field in ep.fields || Object.keys(ep.fields).length < MAX_FIELDS_PER_ENDPOINT) return field;
  return OTHER_FIELDS;
}

function field(ep: EndpointSummary, key: string): FieldSummary {
  return (ep.fields[key] ??= { raw: 0, noise: 0, samples: [] });
}

export function recordComparison(s: ParitySummary, c: Comparison, at: string): void {
  const ep = (s.endpoints[c.endpoint] ??= emptyEndpoint());
  s.updatedAt = at;
  ep.compared += 1;
  if (c.raw.truncated) ep.truncated += 1;
  if (c.raw.serverError) ep.serverErrors += 1;
  const keys = new Set<string>();
  for (const d of c.raw.fields) {
    const key = fieldKey(ep, d.field);
    keys.add(key);
    const f = field(ep, key);
    f.raw += 1;
    f.samples.push(c.sample(d));
    if (f.samples.length > MAX_SAMPLES_PER_FIELD) f.samples.splice(0, f.samples.length - MAX_SAMPLES_PER_FIELD);
  }
  if (c.raw.serverError) keys.add(SERVER_ERROR);
  if (keys.size > 0) {
    let sig = [...keys].sort().join('\n');
    if (!(sig in ep.signatures) && Object.keys(ep.signatures).length >= MAX_SIGNATURES_PER_ENDPOINT) sig = OTHER_SIGNATURES;
    ep.signatures[sig] = (ep.signatures[sig] ?? 0) + 1;
  }
  for (const h of c.raw.deviations) {
    const key = `${h.path} ${h.rule}`;
    const d = (ep.deviations[key] ??= { path: h.path, rule: h.rule, reason: h.reason, count: 0 });
    d.count += 1;
  }
  if (c.noise) {
    ep.noiseCompared += 1;
    const noisy = new Set(c.noise.fields.map((d) => fieldKey(ep, d.field)));
    for (const key of noisy) field(ep, key).noise += 1;
  }
}

/** Total requests compared, over all endpoints. */
export function totalCompared(s: ParitySummary): number {
  return Object.values(s.endpoints).reduce((n, e) => n + e.compared, 0);
}

/** A ConfigMap holds at most 1 MiB; leave room for the object's metadata and the report's other keys. */
export const CONFIGMAP_SUMMARY_BYTES = 900 * 1024;

/**
 * A copy of `s` whose JSON is at most `maxBytes`: the oldest samples go first (evidence, not
 * counts); if that is not enough, each endpoint's signatures are merged into OTHER_SIGNATURES, which
 * counts as mismatched (conservative: a smaller summary never passes a run that a larger one fails).
 * Field, deviation and skip counts are never dropped.
 */
export function fitSummary(s: ParitySummary, maxBytes: number = CONFIGMAP_SUMMARY_BYTES): ParitySummary {
  const out = structuredClone(s);
  const size = (): number => new TextEncoder().encode(JSON.stringify(out)).length;
  if (size() <= maxBytes) return out;
  const samples = Object.values(out.endpoints)
    .flatMap((ep) => Object.values(ep.fields).map((f) => f.samples))
    .flatMap((list) => list.map((sample) => ({ list, sample })))
    .sort((a, b) => (a.sample.at < b.sample.at ? -1 : a.sample.at > b.sample.at ? 1 : 0));
  // Drop in batches, re-measuring, so large summaries are not serialized once per sample.
  while (samples.length > 0 && size() > maxBytes) {
    for (const { list, sample } of samples.splice(0, Math.max(1, Math.ceil(samples.length / 8)))) list.splice(list.indexOf(sample), 1);
  }
  if (size() <= maxBytes) return out;
  for (const ep of Object.values(out.endpoints)) {
    const n = Object.values(ep.signatures).reduce((a, b) => a + b, 0);
    ep.signatures = n > 0 ? { [OTHER_SIGNATURES]: n } : {};
  }
  return out;
}
