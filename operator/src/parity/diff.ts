// Compares two answers to the same request (legacy and new), Diffy-style: status, chosen headers,
// and the body by structure. Pure: the caller reads the bodies (and hashes them); this module only
// decides what differs. Field paths drop array indices (`$.items[].price`), so one request counts
// once per field whichever element differed; declared deviations act during the walk and every
// difference they absorb is counted.
import type { ParityDeviation } from '../api/shadowrun.ts';

/** One answer as the comparator read it. `body` is absent when it was over the limit (`truncated`). */
export interface Answer {
  status: number;
  /** Lower-case names. */
  headers: Readonly<Record<string, string>>;
  /** The body as text (UTF-8), when it was read whole. */
  body?: string;
  /** Length of the whole body in bytes. */
  length: number;
  /** sha256 of the whole body, hex. */
  sha256: string;
  /** The body was longer than the limit: only status, length and hash are compared. */
  truncated?: boolean;
}

export type DiffKind = 'status' | 'header' | 'type' | 'value' | 'missing' | 'extra' | 'size' | 'text' | 'binary';

/** One differing field of one request. `field`: `status`, `header.<name>`, `body` or a JSON path. */
export interface FieldDiff {
  field: string;
  kind: DiffKind;
  legacy?: unknown;
  candidate?: unknown;
}

/** A declared deviation that absorbed at least one difference in this request. */
export interface DeviationHit {
  path: string;
  rule: DeviationRule;
  reason: string;
}

export type DeviationRule = 'ignore' | 'round' | 'relative' | 'sort' | 'keyBy';

export interface DiffResult {
  /** At most one entry per field (the first difference found there). */
  fields: FieldDiff[];
  deviations: DeviationHit[];
  /** The legacy answered 2xx and the new service 5xx (or not at all): always a mismatch, never noise. */
  serverError: boolean;
  /** Either body was over the limit. */
  truncated: boolean;
}

export interface DiffOptions {
  /** Response headers compared (any case). */
  compareHeaders?: readonly string[];
  deviations?: readonly ParityDeviation[];
}

/** `$.items[3].price`, `$.items[*].price` → `$.items[].price`. */
export function normalizePath(path: string): string {
  return path.replace(/\[(\*|\d+)?\]/g, '[]');
}

const JSON_TYPE = /^application\/(.+\+)?json\b|^text\/json\b/i;
const TEXT_TYPE = /^text\/|^application\/(.+\+)?(xml|javascript|x-www-form-urlencoded)\b/i;

export type BodyKind = 'json' | 'text' | 'binary';

export function bodyKind(contentType: string | undefined): BodyKind {
  const ct = (contentType ?? '').trim();
  if (JSON_TYPE.test(ct)) return 'json';
  if (TEXT_TYPE.test(ct)) return 'text';
  return 'binary';
}

/** A status a client sees when the service did not answer at all (connection refused, timeout). */
export const NO_ANSWER = 0;

export function compareAnswers(legacy: Answer, candidate: Answer, opts: DiffOptions = {}): DiffResult {
  const fields = new Map<string, FieldDiff>();
  const hits = new Map<string, DeviationHit>();
  const add = (d: FieldDiff): void => {
    if (!fields.has(d.field)) fields.set(d.field, d);
  };
  const serverError = isSuccess(legacy.status) && (candidate.status >= 500 || candidate.status === NO_ANSWER);
  const truncated = Boolean(legacy.truncated || candidate.truncated);

  if (legacy.status !== candidate.status) {
    // A different status makes every body field differ: the status is the finding.
    add({ field: 'status', kind: 'status', legacy: legacy.status, candidate: candidate.status });
    return { fields: [...fields.values()], deviations: [], serverError, truncated };
  }
  for (const raw of opts.compareHeaders ?? []) {
    const name = raw.toLowerCase();
    const a = legacy.headers[name]?.trim();
    const b = candidate.headers[name]?.trim();
    if (a !== b) add({ field: `header.${name}`, kind: 'header', legacy: a, candidate: b });
  }

  if (truncated || legacy.body === undefined || candidate.body === undefined) {
    if (legacy.length !== candidate.length || legacy.sha256 !== candidate.sha256) {
      add({ field: 'body', kind: 'binary', legacy: `${legacy.length} bytes sha256:${legacy.sha256.slice(0, 12)}`, candidate: `${candidate.length} bytes sha256:${candidate.sha256.slice(0, 12)}` });
    }
    return { fields: [...fields.values()], deviations: [], serverError, truncated };
  }

  const kind = bodyKind(legacy.headers['content-type']);
  const a = kind === 'json' ? parseJson(legacy.body) : undefined;
  const b = kind === 'json' ? parseJson(candidate.body) : undefined;
  if (a !== undefined && b !== undefined) {
    new Walker(opts.deviations ?? [], add, hits).walk('$', a.value, b.value);
  } else if (kind === 'binary') {
    if (legacy.length !== candidate.length || legacy.sha256 !== candidate.sha256) {
      add({ field: 'body', kind: 'binary', legacy: `${legacy.length} bytes`, candidate: `${candidate.length} bytes` });
    }
  } else if (legacy.body.trim() !== candidate.body.trim()) {
    add({ field: 'body', kind: 'text', legacy: legacy.body.trim(), candidate: candidate.body.trim() });
  }
  return { fields: [...fields.values()], deviations: [...hits.values()], serverError, truncated };
}

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

function parseJson(text: string): { value: unknown } | undefined {
  if (text.trim() === '') return { value: undefined };
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
}

type Json = unknown;

function typeOf(v: Json): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function isObject(v: Json): v is Record<string, Json> {
  return typeOf(v) === 'object';
}

/** Key-order-independent JSON text, for sorting and comparing whole values. */
export function canonical(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isObject(v)) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'undefined';
}

class Walker {
  readonly #rules = new Map<string, ParityDeviation>();
  readonly #ignored: { path: string; reason: string }[] = [];
  readonly #add: (d: FieldDiff) => void;
  readonly #hits: Map<string, DeviationHit>;

  constructor(deviations: readonly ParityDeviation[], add: (d: FieldDiff) => void, hits: Map<string, DeviationHit>) {
    for (const d of deviations) {
      const path = normalizePath(d.path);
      if (d.ignore) this.#ignored.push({ path, reason: d.reason });
      else this.#rules.set(path, d);
    }
    this.#add = add;
    this.#hits = hits;
  }

  #hit(path: string, rule: DeviationRule, reason: string): void {
    const key = `${path} ${rule}`;
    if (!this.#hits.has(key)) this.#hits.set(key, { path, rule, reason });
  }

  walk(path: string, a: Json, b: Json): void {
    const ignore = this.#ignoreRule(path);
    if (ignore) {
      if (canonical(a) !== canonical(b)) this.#hit(ignore.path, 'ignore', ignore.reason);
      return;
    }
    if (a === undefined && b !== undefined) return this.#add({ field: path, kind: 'extra', candidate: b });
    if (a !== undefined && b === undefined) return this.#add({ field: path, kind: 'missing', legacy: a });
    const ta = typeOf(a);
    const tb = typeOf(b);
    if (ta !== tb) return this.#add({ field: path, kind: 'type', legacy: a, candidate: b });
    const rule = this.#rules.get(path);
    if (ta === 'number') return this.#numbers(path, a as number, b as number, rule);
    if (Array.isArray(a) && Array.isArray(b)) return this.#arrays(path, a, b, rule);
    if (isObject(a) && isObject(b)) {
      for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) this.walk(`${path}.${k}`, a[k], b[k]);
      return;
    }
    if (a !== b) this.#add({ field: path, kind: 'value', legacy: a, candidate: b });
  }

  /** The ignore rule at `path` or above it: an ignored value is not compared, nor anything under it. */
  #ignoreRule(path: string): { path: string; reason: string } | undefined {
    return this.#ignored.find((r) => path === r.path || path.startsWith(`${r.path}.`) || path.startsWith(`${r.path}[]`));
  }

  #numbers(path: string, a: number, b: number, rule: ParityDeviation | undefined): void {
    if (a === b) return;
    if (rule?.round !== undefined) {
      const f = 10 ** rule.round;
      if (Math.round(a * f) === Math.round(b * f)) return this.#hit(path, 'round', rule.reason);
    }
    if (rule?.relative !== undefined) {
      const scale = Math.max(Math.abs(a), Math.abs(b));
      if (Math.abs(a - b) <= rule.relative * scale) return this.#hit(path, 'relative', rule.reason);
    }
    this.#add({ field: path, kind: 'value', legacy: a, candidate: b });
  }

  #arrays(path: string, a: Json[], b: Json[], rule: ParityDeviation | undefined): void {
    const item = `${path}[]`;
    if (rule?.keyBy !== undefined) {
      const key = rule.keyBy;
      const index = (xs: Json[]): Map<string, Json> | undefined => {
        const m = new Map<string, Json>();
        for (const x of xs) {
          if (!isObject(x) || x[key] === undefined) return undefined;
          m.set(canonical(x[key]), x);
        }
        return m;
      };
      const ma = index(a);
      const mb = index(b);
      if (ma && mb) {
        const orderA = [...ma.keys()].filter((k) => mb.has(k));
        const orderB = [...mb.keys()].filter((k) => ma.has(k));
        if (orderA.join('\n') !== orderB.join('\n')) this.#hit(path, 'keyBy', rule.reason);
        for (const k of new Set([...ma.keys(), ...mb.keys()])) this.walk(item, ma.get(k), mb.get(k));
        return;
      }
      // Elements without the key: compared by position below, as without the rule.
    }
    if (a.length !== b.length) return this.#add({ field: path, kind: 'size', legacy: a.length, candidate: b.length });
    if (rule?.sort) {
      const sa = [...a].sort((x, y) => cmp(canonical(x), canonical(y)));
      const sb = [...b].sort((x, y) => cmp(canonical(x), canonical(y)));
      if (a.some((x, i) => canonical(x) !== canonical(b[i])) && sa.every((x, i) => canonical(x) === canonical(sb[i]))) {
        this.#hit(path, 'sort', rule.reason);
        return;
      }
      a = sa;
      b = sb;
    }
    for (let i = 0; i < a.length; i++) this.walk(item, a[i], b[i]);
  }
}

function cmp(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}
