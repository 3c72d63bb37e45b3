// Redaction of everything parity keeps (samples, summary, report): credentials are forwarded to the
// services when the run says so, but never stored or shown. Pure.
import { normalizePath } from './diff.ts';

/** Headers whose value is always replaced. */
export const REDACTED_HEADERS: readonly string[] = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key'];
export const REDACTED = '[redacted]';

export function redactHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = REDACTED_HEADERS.includes(k.toLowerCase()) ? REDACTED : v;
  return out;
}

/** A copy of `value` with every field at one of `paths` (`$.user.email`, `$.items[].token`) replaced. */
export function redactJson(value: unknown, paths: readonly string[]): unknown {
  const targets = new Set(paths.map(normalizePath));
  if (targets.size === 0) return value;
  const walk = (path: string, v: unknown): unknown => {
    if (targets.has(path)) return REDACTED;
    if (Array.isArray(v)) return v.map((x) => walk(`${path}[]`, x));
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(`${path}.${k}`, x);
      return out;
    }
    return v;
  };
  return walk('$', value);
}

/** A body as kept in a sample: JSON redacted at `paths` (text kept as is), cut to `max` characters. */
export function redactBody(body: string | undefined, paths: readonly string[], max = 2048): string | undefined {
  if (body === undefined) return undefined;
  let out = body;
  if (paths.length > 0) {
    try {
      out = JSON.stringify(redactJson(JSON.parse(body) as unknown, paths));
    } catch {
      // not JSON: nothing addressable by a JSON path
    }
  }
  return out.length > max ? `${out.slice(0, max)}…` : out;
}

/** A field path or value quoted in a sample's `difference`: redacted when the path is redacted. */
export function redactValue(field: string, value: unknown, paths: readonly string[]): unknown {
  const f = normalizePath(field);
  for (const p of paths.map(normalizePath)) if (f === p || f.startsWith(`${p}.`) || f.startsWith(`${p}[]`)) return REDACTED;
  if (field === 'header.set-cookie' || field === 'header.authorization' || field === 'header.cookie') return REDACTED;
  return value;
}
