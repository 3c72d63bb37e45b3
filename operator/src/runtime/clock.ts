// An injectable source of "now" so that pure planners and tests control time.
// Times are milliseconds since the Unix epoch (like Date.now()).

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

/** The wall clock. */
export const realClock: Clock = {
  now: () => Date.now(),
};

/** A clock that only moves when told to. */
export class FakeClock implements Clock {
  #now: number;

  constructor(start: number | Date | string = 0) {
    this.#now = toMillis(start);
  }

  now(): number {
    return this.#now;
  }

  /** Moves time forward by `ms` (never backwards). */
  advance(ms: number): void {
    if (ms < 0) throw new RangeError(`FakeClock cannot go back in time (advance ${ms} ms)`);
    this.#now += ms;
  }

  set(time: number | Date | string): void {
    this.#now = toMillis(time);
  }
}

/** RFC 3339 timestamp with second precision, as Kubernetes writes `metav1.Time`. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * RFC 3339 timestamp with millisecond precision, written without the fraction when it is zero
 * (`…:05Z`, `…:05.250Z`): schedules kept in status (step starts, analysis runs) need better than
 * one second, and whole seconds stay as Kubernetes writes them.
 */
export function rfc3339Milli(ms: number): string {
  const t = Math.floor(ms);
  return new Date(t).toISOString().replace('.000Z', 'Z');
}

/** RFC 3339 timestamp with microsecond precision, as Kubernetes writes `metav1.MicroTime`. */
export function rfc3339Micro(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function toMillis(t: number | Date | string): number {
  if (typeof t === 'number') return t;
  if (t instanceof Date) return t.getTime();
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) throw new RangeError(`not a time: ${t}`);
  return ms;
}
