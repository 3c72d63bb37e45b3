// Protects the legacy from its replays: opens when, over the last window, replays fail too often
// (errors, timeouts, 5xx above maxFailureRatio) or their p95 latency climbs to latencyFactor × the
// p95 measured in the first full window (and to at least minLatencyMs); stays open for openMs, then closes with a fresh window.
// Pure apart from the injected clock.
import type { Clock } from '../runtime/clock.ts';

export interface BreakerOptions {
  windowMs: number;
  /** Replays in the window before the breaker judges anything. */
  minRequests: number;
  maxFailureRatio: number;
  latencyFactor: number;
  /** A p95 below this never opens the breaker, however it grew (1 ms → 3 ms is jitter, not a struggling legacy). */
  minLatencyMs: number;
  openMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = { windowMs: 60_000, minRequests: 10, maxFailureRatio: 0.05, latencyFactor: 2, minLatencyMs: 250, openMs: 120_000 };

interface Outcome {
  at: number;
  ok: boolean;
  latencyMs: number;
}

export interface BreakerState {
  open: boolean;
  reason?: string;
  /** Clock time the breaker closes again. */
  until?: number;
}

function p95(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * 0.95) - 1)] ?? 0;
}

export class ReplayBreaker {
  readonly options: BreakerOptions;
  readonly #clock: Clock;
  #window: Outcome[] = [];
  #baselineP95: number | undefined;
  #openUntil: number | undefined;
  #reason: string | undefined;

  constructor(clock: Clock, options: Partial<BreakerOptions> = {}) {
    this.options = { ...DEFAULT_BREAKER, ...options };
    this.#clock = clock;
  }

  /** Whether a replay may go to the legacy now. */
  allow(): boolean {
    return !this.state().open;
  }

  state(): BreakerState {
    const now = this.#clock.now();
    if (this.#openUntil !== undefined && now >= this.#openUntil) {
      this.#openUntil = undefined;
      this.#reason = undefined;
      this.#window = [];
    }
    return this.#openUntil === undefined ? { open: false } : { open: true, until: this.#openUntil, ...(this.#reason ? { reason: this.#reason } : {}) };
  }

  record(ok: boolean, latencyMs: number): void {
    const now = this.#clock.now();
    if (this.state().open) return;
    this.#window.push({ at: now, ok, latencyMs });
    this.#window = this.#window.filter((o) => now - o.at < this.options.windowMs);
    const n = this.#window.length;
    if (n < this.options.minRequests) return;
    const failures = this.#window.filter((o) => !o.ok).length;
    if (failures / n > this.options.maxFailureRatio) {
      return this.#open(`${failures} of the last ${n} legacy replays failed (more than ${this.options.maxFailureRatio * 100}%)`);
    }
    const latency = p95(this.#window.filter((o) => o.ok).map((o) => o.latencyMs));
    if (this.#baselineP95 === undefined) {
      this.#baselineP95 = latency;
      return;
    }
    if (latency >= this.options.minLatencyMs && latency > this.options.latencyFactor * this.#baselineP95) {
      this.#open(`legacy replay p95 ${Math.round(latency)} ms is over ${this.options.latencyFactor}× its first p95 (${Math.round(this.#baselineP95)} ms)`);
    }
  }

  #open(reason: string): void {
    this.#openUntil = this.#clock.now() + this.options.openMs;
    this.#reason = reason;
    this.#window = [];
  }
}
