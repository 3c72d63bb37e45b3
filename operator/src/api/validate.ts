// Parse helpers: validate an unknown value (a manifest, an object from the API server) and return
// either the typed value (defaults applied) or errors that name the field, e.g.
//   spec.steps[1].weight: must be at most 100 (got 150)
import * as z from 'zod';
import { MigrationSliceSchema, MigrationSliceSpecSchema, type MigrationSlice, type MigrationSliceSpec } from './migrationslice.ts';
import { ShadowRunSchema, ShadowRunSpecSchema, type ShadowRun, type ShadowRunSpec } from './shadowrun.ts';
import { TrafficShiftSchema, TrafficShiftSpecSchema, type TrafficShift, type TrafficShiftSpec } from './trafficshift.ts';

export interface FieldIssue {
  /** `spec.steps[1].weight`; empty for the root. */
  path: string;
  message: string;
}

export type ParseResult<T> =
  | { ok: true; value: T }
  | { ok: false; issues: FieldIssue[]; /** All issues, one per line. */ message: string };

/** Thrown by the `assert*` helpers. */
export class ValidationError extends Error {
  override name = 'ValidationError';
  readonly issues: FieldIssue[];
  constructor(what: string, issues: FieldIssue[]) {
    super(`invalid ${what}:\n${formatIssues(issues)}`);
    this.issues = issues;
  }
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** ['spec', 'steps', 1, 'weight'] → `spec.steps[1].weight`. */
export function formatPath(path: ReadonlyArray<PropertyKey>, base = ''): string {
  let out = base;
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && IDENTIFIER.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

export function formatIssues(issues: readonly FieldIssue[]): string {
  return issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('\n');
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return JSON.stringify(value);
}

function bound(origin: string, value: unknown, inclusive: boolean | undefined): string {
  const n = Number(value);
  switch (origin) {
    case 'string':
      return `${n} character${n === 1 ? '' : 's'}`;
    case 'array':
    case 'set':
      return `${n} item${n === 1 ? '' : 's'}`;
    case 'object':
      return `${n} entr${n === 1 ? 'y' : 'ies'}`;
    default:
      return inclusive === false ? `${n} (exclusive)` : String(n);
  }
}

/** A message a platform engineer understands, without the field path (that is `path`). */
function issueMessage(issue: z.core.$ZodIssue, root: unknown): string {
  const input = issue.input !== undefined ? issue.input : valueAt(root, issue.path);
  switch (issue.code) {
    case 'invalid_type':
      if (input === undefined) return 'is required';
      return `must be ${article(issue.expected)} (got ${describeValue(input)})`;
    case 'too_big':
      if (issue.origin === 'number' || issue.origin === 'int' || issue.origin === 'bigint') {
        return `must be ${issue.inclusive === false ? 'less than' : 'at most'} ${String(issue.maximum)} (got ${describeValue(input)})`;
      }
      return `must have at most ${bound(issue.origin, issue.maximum, issue.inclusive)}`;
    case 'too_small':
      if (issue.origin === 'number' || issue.origin === 'int' || issue.origin === 'bigint') {
        return `must be ${issue.inclusive === false ? 'greater than' : 'at least'} ${String(issue.minimum)} (got ${describeValue(input)})`;
      }
      if (issue.origin === 'string' && Number(issue.minimum) === 1) return 'must not be empty';
      return `must have at least ${bound(issue.origin, issue.minimum, issue.inclusive)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')} (got ${describeValue(input)})`;
    case 'invalid_format':
      // Our regexes carry a message written for users; zod's default one names the regex.
      return issue.message.startsWith('Invalid string') ? `has an invalid format (got ${describeValue(input)})` : `${issue.message} (got ${describeValue(input)})`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    default:
      return issue.message;
  }
}

function article(type: string): string {
  const names: Record<string, string> = { int: 'an integer', number: 'a number', string: 'a string', boolean: 'true or false', array: 'a list', object: 'an object' };
  return names[type] ?? type;
}

function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let cur: unknown = root;
  for (const segment of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[segment];
  }
  return cur;
}

/** Converts zod issues into field issues, with paths starting at `base` (e.g. `spec`). */
export function toFieldIssues(error: z.ZodError, root: unknown, base = ''): FieldIssue[] {
  return error.issues.flatMap((issue) => {
    // zod reports unknown keys on the object; the API server (and users) name the key itself.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: formatPath([...issue.path, key], base), message: 'unknown field' }));
    }
    return [{ path: formatPath(issue.path, base), message: issueMessage(issue, root) }];
  });
}

/** Validates `input` against any schema, with friendly errors rooted at `base`. */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, base = ''): ParseResult<z.output<S>> {
  const result = schema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  const issues = toFieldIssues(result.error, input, base);
  return { ok: false, issues, message: formatIssues(issues) };
}

export function parseTrafficShift(input: unknown): ParseResult<TrafficShift> {
  return parseWith(TrafficShiftSchema, input);
}
export function parseShadowRun(input: unknown): ParseResult<ShadowRun> {
  return parseWith(ShadowRunSchema, input);
}
export function parseMigrationSlice(input: unknown): ParseResult<MigrationSlice> {
  return parseWith(MigrationSliceSchema, input);
}

/** Spec only; issue paths start with `spec.` so they match what the API server says. */
export function parseTrafficShiftSpec(input: unknown): ParseResult<TrafficShiftSpec> {
  return parseWith(TrafficShiftSpecSchema, input, 'spec');
}
export function parseShadowRunSpec(input: unknown): ParseResult<ShadowRunSpec> {
  return parseWith(ShadowRunSpecSchema, input, 'spec');
}
export function parseMigrationSliceSpec(input: unknown): ParseResult<MigrationSliceSpec> {
  return parseWith(MigrationSliceSpecSchema, input, 'spec');
}

function assertOk<T>(what: string, result: ParseResult<T>): T {
  if (result.ok) return result.value;
  throw new ValidationError(what, result.issues);
}

export function assertTrafficShift(input: unknown): TrafficShift {
  return assertOk('TrafficShift', parseTrafficShift(input));
}
export function assertShadowRun(input: unknown): ShadowRun {
  return assertOk('ShadowRun', parseShadowRun(input));
}
export function assertMigrationSlice(input: unknown): MigrationSlice {
  return assertOk('MigrationSlice', parseMigrationSlice(input));
}

/** Any of the three kinds, chosen by `kind`. */
export type CutoverResource = TrafficShift | ShadowRun | MigrationSlice;

export function parseResource(input: unknown): ParseResult<CutoverResource> {
  const kind = input !== null && typeof input === 'object' ? (input as { kind?: unknown }).kind : undefined;
  switch (kind) {
    case 'TrafficShift':
      return parseTrafficShift(input);
    case 'ShadowRun':
      return parseShadowRun(input);
    case 'MigrationSlice':
      return parseMigrationSlice(input);
    default: {
      const issues = [{ path: 'kind', message: `must be one of "TrafficShift", "ShadowRun", "MigrationSlice" (got ${describeValue(kind)})` }];
      return { ok: false, issues, message: formatIssues(issues) };
    }
  }
}
