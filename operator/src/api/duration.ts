// Go-style durations (`30s`, `5m`, `1h30m`, `250ms`), the format of every duration field in the API.
// One definition serves three places: the CRD `pattern` (admission), the zod schema (offline
// validation) and `parseDuration` (the controllers), so they can never disagree.

/** Units accepted by Go's time.ParseDuration and by CEL's duration(), in milliseconds. */
const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * A non-negative Go duration: one or more `<number><unit>` groups, or a bare `0`.
 * No sign, no spaces, no days (Go and CEL have none: write `168h` for 7 days).
 */
export const DURATION_PATTERN = /^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$/;

/** Longest duration string accepted; bounds CEL's cost estimate for rules on durations. */
export const DURATION_MAX_LENGTH = 32;

export const DURATION_HINT = 'must be a duration such as 30s, 5m, 1h30m or 250ms';

const GROUP = /([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/g;

/**
 * Parses a Go-style duration into milliseconds (fractions are kept for ns/us).
 * Throws a RangeError naming the input when it is not a valid duration.
 */
export function parseDuration(text: string): number {
  if (typeof text !== 'string' || !DURATION_PATTERN.test(text)) {
    throw new RangeError(`invalid duration ${JSON.stringify(text)}: ${DURATION_HINT}`);
  }
  if (text === '0') return 0;
  let total = 0;
  for (const match of text.matchAll(GROUP)) {
    const [, amount, unit] = match;
    total += Number(amount) * (UNIT_MS[unit as string] as number);
  }
  return total;
}

/** Like parseDuration, but returns undefined instead of throwing. */
export function tryParseDuration(text: string): number | undefined {
  try {
    return parseDuration(text);
  } catch {
    return undefined;
  }
}

/** Formats milliseconds as a Go-style duration: 5400000 → `1h30m`, 1500 → `1.5s`, 250 → `250ms`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`cannot format duration of ${ms} ms`);
  if (ms === 0) return '0s';
  if (ms < 1_000) return `${trim(ms)}ms`;
  let rest = ms;
  let out = '';
  const hours = Math.floor(rest / 3_600_000);
  if (hours > 0) {
    out += `${hours}h`;
    rest -= hours * 3_600_000;
  }
  const minutes = Math.floor(rest / 60_000);
  if (minutes > 0) {
    out += `${minutes}m`;
    rest -= minutes * 60_000;
  }
  if (rest > 0) out += `${trim(rest / 1_000)}s`;
  return out;
}

function trim(n: number): string {
  return String(Number(n.toFixed(6)));
}
