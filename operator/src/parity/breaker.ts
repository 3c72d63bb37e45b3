// Protects the legacy from its replays: opens when, over the last window, replays fail too often
// (errors, timeouts, 5xx above maxFailureRatio) or their p95 latency climbs to latencyFactor × the
// p95 measured in the first full window (and to at least minLatencyMs); stays open for openMs, then closes with a fresh window.
// The latency rule also needs the legacy to have slowed down *relative to the new service's
// replays* (recordPeer) when there are any: a comparator that is itself overloaded (its event loop
// late, its connections queued) delays both answers alike, and that is no reason to spare the legacy.
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
  #peer: Outcome[] = [];
  #baselineP95: number | undefined;
  /** legacy p95 / peer p95 when the baseline was taken (undefined: no peer data then). */
  #baselineRatio: number | undefined;
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
      this.#peer = [];
    }
    return this.#openUntil === undefined ? { open: false } : { open: true, until: this.#openUntil, ...(this.#reason ? { reason: this.#reason } : {}) };
  }

  /** The latency of a replay to the new service, made by the same comparator at the same time. */
  recordPeer(latencyMs: number): void {
    const now = this.#clock.now();
    this.#peer.push({ at: now, ok: true, latencyMs });
    this.#peer = this.#peer.filter((o) => now - o.at < this.options.windowMs);
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
    const peer = this.#peer.filter((o) => now - o.at < this.options.windowMs);
    const peerP95 = peer.length >= this.options.minRequests ? p95(peer.map((o) => o.latencyMs)) : undefined;
    const ratio = peerP95 !== undefined && peerP95 > 0 ? latency / peerP95 : undefined;
    if (this.#baselineP95 === undefined) {
      this.#baselineP95 = latency;
      this.#baselineRatio = ratio;
      return;
    }
    if (this.#baselineRatio === undefined && ratio !== undefined) this.#baselineRatio = ratio;
    const slower = latency >= this.options.minLatencyMs && latency > this.options.latencyFactor * this.#baselineP95;
    // Both slowed alike (the comparator itself is late): not the legacy's doing.
    const relative = this.#baselineRatio === undefined || ratio === undefined || ratio > this.options.latencyFactor * this.#baselineRatio;
    if (slower && relative) {
      this.#open(`legacy replay p95 ${Math.round(latency)} ms is over ${this.options.latencyFactor}× its first p95 (${Math.round(this.#baselineP95)} ms)${ratio !== undefined ? ` and ${ratio.toFixed(1)}× the new service's` : ''}`);
    }
  }

  #open(reason: string): void {
    this.#openUntil = this.#clock.now() + this.options.openMs;
    this.#reason = reason;
    this.#window = [];
    this.#peer = [];
  }
}
