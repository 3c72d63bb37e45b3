// Rate limiters for retries, shaped like client-go's workqueue rate limiters:
// per-key exponential backoff (5 ms → 1000 s) combined with a global token bucket.
import type { Clock } from './clock.ts';

/** Decides how long a key waits before its next retry. */
export interface RateLimiter {
  /** Delay in ms before `key` may be retried; counts one more failure for it. */
  when(key: string): number;
  /** Stops tracking `key` (it succeeded, or was given up). */
  forget(key: string): void;
  /** Failures counted for `key` since the last `forget`. */
  numRequeues(key: string): number;
}

const monotonic: Clock = { now: () => performance.now() };

/** base × 2^failures, capped at max. */
export class ItemExponentialFailureRateLimiter implements RateLimiter {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly #failures = new Map<string, number>();

  constructor(baseMs = 5, maxMs = 1_000_000) {
    if (baseMs <= 0 || maxMs < baseMs) throw new RangeError(`bad backoff ${baseMs} ms → ${maxMs} ms`);
    this.baseMs = baseMs;
    this.maxMs = maxMs;
  }

  when(key: string): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    if (failures >= 63) return this.maxMs;
    return Math.min(this.maxMs, this.baseMs * 2 ** failures);
  }

  forget(key: string): void {
    this.#failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.#failures.get(key) ?? 0;
  }
}

/**
 * A global token bucket (qps, burst) over all keys, like golang.org/x/time/rate's Reserve: a
 * request always gets a slot, and the answer is how long until that slot comes. `allow` is the
 * refusing form (rate's Allow), for callers that turn a request away instead of delaying it.
 */
export class BucketRateLimiter implements RateLimiter {
  readonly qps: number;
  readonly burst: number;
  readonly #clock: Clock;
  #tokens: number;
  #last: number;

  constructor(qps = 10, burst = 100, clock: Clock = monotonic) {
    if (qps <= 0 || burst < 1) throw new RangeError(`bad token bucket qps=${qps} burst=${burst}`);
    this.qps = qps;
    this.burst = burst;
    this.#clock = clock;
    this.#tokens = burst;
    this.#last = clock.now();
  }

  when(_key: string): number {
    this.#refill();
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.qps) * 1000;
  }

  /** Takes a token when one is there (x/time/rate's Allow): true; else false, and nothing is taken. */
  allow(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Takes `n` tokens when all are there: true; else false, and nothing is taken. */
  allowN(n: number): boolean {
    this.#refill();
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }

  /** Whether the bucket has filled up again (idle for burst/qps seconds). */
  full(): boolean {
    this.#refill();
    return this.#tokens >= this.burst;
  }

  #refill(): void {
    const now = this.#clock.now();
    const elapsed = Math.max(0, now - this.#last);
    this.#last = now;
    this.#tokens = Math.min(this.burst, this.#tokens + (elapsed / 1000) * this.qps);
  }

  forget(_key: string): void {}

  numRequeues(_key: string): number {
    return 0;
  }
}

/** The longest delay of several limiters (every limiter sees every call). */
export class MaxOfRateLimiter implements RateLimiter {
  readonly #limiters: readonly RateLimiter[];

  constructor(...limiters: RateLimiter[]) {
    this.#limiters = limiters;
  }

  when(key: string): number {
    let delay = 0;
    for (const l of this.#limiters) delay = Math.max(delay, l.when(key));
    return delay;
  }

  forget(key: string): void {
    for (const l of this.#limiters) l.forget(key);
  }

  numRequeues(key: string): number {
    let n = 0;
    for (const l of this.#limiters) n = Math.max(n, l.numRequeues(key));
    return n;
  }
}

export interface ControllerRateLimiterOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  qps?: number;
  burst?: number;
  clock?: Clock;
}

/** controller-runtime's default: max(per-key 5 ms → 1000 s, bucket 10 qps / burst 100). */
export function defaultControllerRateLimiter(opts: ControllerRateLimiterOptions = {}): RateLimiter {
  return new MaxOfRateLimiter(
    new ItemExponentialFailureRateLimiter(opts.baseDelayMs ?? 5, opts.maxDelayMs ?? 1_000_000),
    new BucketRateLimiter(opts.qps ?? 10, opts.burst ?? 100, opts.clock),
  );
}
