// JSONPath singular queries (RFC 9535 §2.3.5.1): `$` then member names and array indices, the
// subset that selects at most one value — what a web check needs to read one number. Wildcards,
// slices, filters and descendant segments select node lists and are refused (at admission by the
// pattern in api/webcheck.ts, here by the parser). Written here rather than taken from npm: the
// full-JSONPath packages evaluate filter expressions (a history of code-execution advisories) and
// return lists, and this subset is 40 lines with its tests.

export type PathSegment = { name: string } | { index: number };

export class JsonPathError extends Error {
  override name = 'JsonPathError';
}

const DOT_NAME = /^\.([A-Za-z_][A-Za-z0-9_]*)/;
const BRACKET = /^\[(?:(-?[0-9]+)|'([^'\\]*)'|"([^"\\]*)")\]/;

/** Parses a singular query; throws JsonPathError naming the position of the first bad segment. */
export function parseSingularPath(path: string): PathSegment[] {
  if (!path.startsWith('$')) throw new JsonPathError(`JSONPath ${JSON.stringify(path)} must start with $`);
  const segments: PathSegment[] = [];
  let rest = path.slice(1);
  while (rest.length > 0) {
    const at = path.length - rest.length;
    const dot = DOT_NAME.exec(rest);
    const bracket = dot ? null : BRACKET.exec(rest);
    const m = dot ?? bracket;
    if (!m) {
      throw new JsonPathError(`JSONPath ${JSON.stringify(path)}: unsupported segment at position ${at} (only .name, ['name'] and [index] select a single value)`);
    }
    if (dot) segments.push({ name: dot[1] as string });
    else if (bracket?.[1] !== undefined) segments.push({ index: Number(bracket[1]) });
    else segments.push({ name: (bracket?.[2] ?? bracket?.[3]) as string });
    rest = rest.slice(m[0].length);
  }
  return segments;
}

/** `$.a[0]['b c']` — how a path (or its prefix) is shown in messages. */
export function formatSegments(segments: readonly PathSegment[]): string {
  return '$' + segments.map((s) => ('index' in s ? `[${s.index}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(s.name) ? `.${s.name}` : `['${s.name}']`)).join('');
}

export type Selection = { found: true; value: unknown } | { found: false; missing: string };

/**
 * The value at `segments` in `doc`, or which prefix is missing. A negative index counts from the
 * end (RFC 9535 §2.3.3.2); an index on an object or a name on an array selects nothing.
 */
export function selectPath(doc: unknown, segments: readonly PathSegment[]): Selection {
  let node = doc;
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i] as PathSegment;
    let next: unknown;
    let present = false;
    if ('index' in s) {
      if (Array.isArray(node)) {
        const j = s.index < 0 ? node.length + s.index : s.index;
        present = j >= 0 && j < node.length;
        next = present ? node[j] : undefined;
      }
    } else if (node !== null && typeof node === 'object' && !Array.isArray(node)) {
      present = Object.hasOwn(node, s.name);
      next = present ? (node as Record<string, unknown>)[s.name] : undefined;
    }
    if (!present) return { found: false, missing: formatSegments(segments.slice(0, i + 1)) };
    node = next;
  }
  return { found: true, value: node };
}
