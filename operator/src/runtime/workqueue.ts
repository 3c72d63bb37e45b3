// A keyed workqueue with client-go semantics:
// - a key is queued at most once (dirty set), however often it is added;
// - a key is never handed to two workers at once: added while processing, it is queued again
//   when `done` is called;
// - `addAfter` keeps one timer per key and the earliest wake-up wins, so a paused step wakes on
//   time without polling;
// - `addRateLimited` retries with per-key exponential backoff under a global token bucket.
import type { Clock } from './clock.ts';
import { counter, gauge, histogram, perRegistry, registry as defaultRegistry, WORKQUEUE_DURATION_BUCKETS } from './metrics.ts';
import type { Counter, Gauge, Histogram, Registry } from './metrics.ts';
import { defaultControllerRateLimiter, type RateLimiter } from './ratelimit.ts';

export interface WorkQueueOptions {
  /** The `name` label of the workqueue metrics (the controller name). */
  name: string;
  rateLimiter?: RateLimiter;
  /** Registry for the metrics; default the process registry. */
  registry?: Registry;
  /** Monotonic milliseconds for delays and durations; default performance.now(). */
  clock?: Clock;
}

// setTimeout fires at once beyond 2^31-1 ms; longer delays re-arm.
const MAX_TIMER_MS = 2 ** 31 - 1;

const monotonic: Clock = { now: () => performance.now() };

interface QueueMetrics {
  depth: Gauge<'name'>;
  adds: Counter<'name'>;
  queueDuration: Histogram<'name'>;
  workDuration: Histogram<'name'>;
  retries: Counter<'name'>;
  unfinished: Gauge<'name'>;
  longest: Gauge<'name'>;
  queues: Set<WorkQueue>;
}

// Once per registry: the gauges' collect() reads the queues registered with it.
const queueMetrics = perRegistry((reg: Registry): QueueMetrics => {
  const queues = new Set<WorkQueue>();
  return {
    queues,
    depth: gauge({ name: 'workqueue_depth', help: 'Current depth of workqueue', labelNames: ['name'], registry: reg }),
    adds: counter({ name: 'workqueue_adds_total', help: 'Total number of adds handled by workqueue', labelNames: ['name'], registry: reg }),
    queueDuration: histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'How long in seconds an item stays in workqueue before being requested',
      labelNames: ['name'],
      buckets: WORKQUEUE_DURATION_BUCKETS,
      registry: reg,
    }),
    workDuration: histogram({
      name: 'workqueue_work_duration_seconds',
      help: 'How long in seconds processing an item from workqueue takes',
      labelNames: ['name'],
      buckets: WORKQUEUE_DURATION_BUCKETS,
      registry: reg,
    }),
    retries: counter({ name: 'workqueue_retries_total', help: 'Total number of retries handled by workqueue', labelNames: ['name'], registry: reg }),
    unfinished: gauge({
      name: 'workqueue_unfinished_work_seconds',
      help: 'How many seconds of work has been done that is in progress and hasn\'t been observed by work_duration',
      labelNames: ['name'],
      registry: reg,
      collect() {
        for (const q of queues) this.set({ name: q.name }, q.unfinishedWorkSeconds());
      },
    }),
    longest: gauge({
      name: 'workqueue_longest_running_processor_seconds',
      help: 'How many seconds has the longest running processor for workqueue been running',
      labelNames: ['name'],
      registry: reg,
      collect() {
        for (const q of queues) this.set({ name: q.name }, q.longestRunningProcessorSeconds());
      },
    }),
  };
});

interface Delayed {
  readyAt: number;
  timer: NodeJS.Timeout;
}

export class WorkQueue<K extends string = string> {
  readonly name: string;
  readonly #rateLimiter: RateLimiter;
  readonly #clock: Clock;
  readonly #metrics: QueueMetrics;
  readonly #labels: { name: string };

  readonly #queue: K[] = [];
  readonly #dirty = new Set<K>();
  /** key → when its processing started. */
  readonly #processing = new Map<K, number>();
  /** key → when it entered #queue (for queue_duration). */
  readonly #enqueuedAt = new Map<K, number>();
  readonly #delayed = new Map<K, Delayed>();
  /** Keys added with `addUrgent` while being processed: they go to the front when done. */
  readonly #urgent = new Set<K>();
  #waiters: Array<(key: K | undefined) => void> = [];
  #drainWaiters: Array<() => void> = [];
  #shuttingDown = false;

  constructor(opts: WorkQueueOptions) {
    this.name = opts.name;
    this.#rateLimiter = opts.rateLimiter ?? defaultControllerRateLimiter();
    this.#clock = opts.clock ?? monotonic;
    this.#metrics = queueMetrics(opts.registry ?? defaultRegistry);
    this.#labels = { name: opts.name };
    this.#metrics.queues.add(this as unknown as WorkQueue);
    this.#metrics.depth.set(this.#labels, 0);
  }

  /** Queues `key` unless it is already queued; if it is being processed it is queued after `done`. */
  add(key: K): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#metrics.adds.inc(this.#labels);
    this.#dirty.add(key);
    if (this.#processing.has(key)) return;
    this.#push(key);
  }

  /**
   * Like `add`, but the key goes to the FRONT of the queue (moved there if it is already queued):
   * an out-of-band rollback must not wait behind a queue full of routine analysis reconciles. If
   * the key is being processed it is queued at the front when `done` is called.
   */
  addUrgent(key: K): void {
    if (this.#shuttingDown) return;
    if (!this.#dirty.has(key)) this.#metrics.adds.inc(this.#labels);
    this.#dirty.add(key);
    if (this.#processing.has(key)) { this.#urgent.add(key); return; }
    const i = this.#queue.indexOf(key);
    if (i > 0) { this.#queue.splice(i, 1); this.#queue.unshift(key); return; }
    if (i === 0) return;
    this.#push(key, true);
  }

  /**
   * Adds `key` after `delayMs`. One timer per key: an earlier wake-up replaces a later one, a
   * later one is ignored while an earlier one is pending.
   */
  addAfter(key: K, delayMs: number): void {
    if (this.#shuttingDown) return;
    if (!(delayMs > 0)) {
      this.add(key);
      return;
    }
    const readyAt = this.#clock.now() + delayMs;
    const pending = this.#delayed.get(key);
    if (pending && pending.readyAt <= readyAt) return;
    if (pending) clearTimeout(pending.timer);
    this.#arm(key, readyAt);
  }

  /** Adds `key` after the delay the rate limiter gives it (a retry). */
  addRateLimited(key: K): void {
    if (this.#shuttingDown) return;
    this.#metrics.retries.inc(this.#labels);
    this.addAfter(key, this.#rateLimiter.when(key));
  }

  /** Resets the backoff of `key` (call after a success or when giving up). */
  forget(key: K): void {
    this.#rateLimiter.forget(key);
  }

  numRequeues(key: K): number {
    return this.#rateLimiter.numRequeues(key);
  }

  /** Time in ms until `key`'s pending `addAfter` fires, or undefined if none. */
  pendingDelay(key: K): number | undefined {
    const d = this.#delayed.get(key);
    return d ? Math.max(0, d.readyAt - this.#clock.now()) : undefined;
  }

  /**
   * The next key to process, waiting until there is one; `undefined` once the queue is shut down.
   * The caller must call `done(key)` when finished with it.
   */
  get(): Promise<K | undefined> {
    if (this.#shuttingDown) return Promise.resolve(undefined);
    const key = this.#take();
    if (key !== undefined) return Promise.resolve(key);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Marks `key` processed; if it was added meanwhile, it is queued again. */
  done(key: K): void {
    const started = this.#processing.get(key);
    if (started === undefined) return;
    this.#processing.delete(key);
    this.#metrics.workDuration.observe(this.#labels, (this.#clock.now() - started) / 1000);
    const urgent = this.#urgent.delete(key);
    if (this.#dirty.has(key) && !this.#shuttingDown) this.#push(key, urgent);
    if (this.#processing.size === 0) {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Keys waiting to be processed (not counting delayed or in-flight ones). */
  len(): number {
    return this.#queue.length;
  }

  /** Keys being processed now. */
  processingCount(): number {
    return this.#processing.size;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /**
   * Stops the queue: no more adds, waiting `get`s resolve `undefined`, queued and delayed keys are
   * dropped (the operator is level-triggered: whoever runs next relists everything).
   */
  shutDown(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    for (const d of this.#delayed.values()) clearTimeout(d.timer);
    this.#delayed.clear();
    this.#queue.length = 0;
    this.#enqueuedAt.clear();
    for (const key of this.#dirty) if (!this.#processing.has(key)) this.#dirty.delete(key);
    this.#metrics.depth.set(this.#labels, 0);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w(undefined);
    this.#metrics.queues.delete(this as unknown as WorkQueue);
  }

  /** `shutDown`, then resolves once every key in flight is `done`. */
  async shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.#processing.size === 0) return;
    await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
  }

  unfinishedWorkSeconds(): number {
    const now = this.#clock.now();
    let total = 0;
    for (const started of this.#processing.values()) total += now - started;
    return total / 1000;
  }

  longestRunningProcessorSeconds(): number {
    const now = this.#clock.now();
    let longest = 0;
    for (const started of this.#processing.values()) longest = Math.max(longest, now - started);
    return longest / 1000;
  }

  #arm(key: K, readyAt: number): void {
    const wait = Math.min(MAX_TIMER_MS, Math.max(0, readyAt - this.#clock.now()));
    const timer = setTimeout(() => {
      const current = this.#delayed.get(key);
      if (!current || current.timer !== timer) return;
      if (readyAt - this.#clock.now() > 1) {
        this.#arm(key, readyAt); // a delay longer than one timer can hold
        return;
      }
      this.#delayed.delete(key);
      this.add(key);
    }, wait);
    timer.unref();
    this.#delayed.set(key, { readyAt, timer });
  }

  #push(key: K, front = false): void {
    const waiter = this.#waiters.shift();
    if (waiter) {
      // Hand the key straight to a waiting worker.
      this.#metrics.queueDuration.observe(this.#labels, 0);
      this.#dirty.delete(key);
      this.#processing.set(key, this.#clock.now());
      waiter(key);
      return;
    }
    if (front) this.#queue.unshift(key); else this.#queue.push(key);
    this.#enqueuedAt.set(key, this.#clock.now());
    this.#metrics.depth.set(this.#labels, this.#queue.length);
  }

  #take(): K | undefined {
    const key = this.#queue.shift();
    if (key === undefined) return undefined;
    const now = this.#clock.now();
    this.#metrics.depth.set(this.#labels, this.#queue.length);
    const at = this.#enqueuedAt.get(key);
    this.#enqueuedAt.delete(key);
    if (at !== undefined) this.#metrics.queueDuration.observe(this.#labels, (now - at) / 1000);
    this.#dirty.delete(key);
    this.#processing.set(key, now);
    return key;
  }
}
