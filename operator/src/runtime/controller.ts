// The reconcile loop (controller-runtime's contract): events only enqueue a `namespace/name` key;
// a reconcile reads the latest state and returns "requeue after N", returns nothing (done), or
// throws (retried with per-key backoff). A TerminalError is recorded and not retried.
import { randomBytes } from 'node:crypto';
import { counter, gauge, histogram, registry as defaultRegistry, RECONCILE_TIME_BUCKETS } from './metrics.ts';
import type { Registry } from './metrics.ts';
import { silentLogger, type Logger } from './logger.ts';
import type { RateLimiter } from './ratelimit.ts';
import { WorkQueue } from './workqueue.ts';

export interface ReconcileResult {
  /** Reconcile this key again after so many ms (the backoff is reset). */
  requeueAfter?: number;
  /** Reconcile again with rate-limited backoff, without counting it as an error. */
  requeue?: boolean;
}

export interface ReconcileContext {
  /** The key being reconciled, `namespace/name`. */
  key: string;
  /** Short id that ties the log lines of one reconcile together. */
  reconcileID: string;
  /** Child logger with `{controller, key, reconcileID}`. */
  logger: Logger;
  /** Failures of this key since its last success (0 on a first attempt). */
  retries: number;
  /** Aborted when the controller stops. */
  signal: AbortSignal;
}

export type Reconciler = (key: string, ctx: ReconcileContext) => Promise<ReconcileResult | void>;

/** A failure that retrying cannot fix (it needs the user): recorded, not retried. */
export class TerminalError extends Error {
  override readonly name = 'TerminalError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export function isTerminalError(err: unknown): err is TerminalError {
  return err instanceof TerminalError;
}

export interface ControllerOptions {
  /** The `controller` label and log field, e.g. `trafficshift`. */
  name: string;
  reconcile: Reconciler;
  /** Parallel workers (max concurrent reconciles); one key never runs twice at once. Default 1. */
  concurrency?: number;
  logger?: Logger;
  registry?: Registry;
  rateLimiter?: RateLimiter;
  /** Called after a TerminalError (e.g. to emit an Event); its own failures are logged. */
  onTerminalError?: (key: string, err: TerminalError, ctx: ReconcileContext) => void | Promise<void>;
}

type Result = 'success' | 'error' | 'requeue' | 'requeue_after';

function controllerMetrics(reg: Registry) {
  return {
    total: counter<'controller' | 'result'>({
      name: 'controller_runtime_reconcile_total',
      help: 'Total number of reconciliations per controller',
      labelNames: ['controller', 'result'],
      registry: reg,
    }),
    errors: counter<'controller'>({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Total number of reconciliation errors per controller',
      labelNames: ['controller'],
      registry: reg,
    }),
    terminal: counter<'controller'>({
      name: 'controller_runtime_terminal_reconcile_errors_total',
      help: 'Total number of terminal reconciliation errors per controller',
      labelNames: ['controller'],
      registry: reg,
    }),
    time: histogram<'controller'>({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller',
      labelNames: ['controller'],
      buckets: RECONCILE_TIME_BUCKETS,
      registry: reg,
    }),
    active: gauge<'controller'>({
      name: 'controller_runtime_active_workers',
      help: 'Number of currently used workers per controller',
      labelNames: ['controller'],
      registry: reg,
    }),
    max: gauge<'controller'>({
      name: 'controller_runtime_max_concurrent_reconciles',
      help: 'Maximum number of concurrent reconciles per controller',
      labelNames: ['controller'],
      registry: reg,
    }),
  };
}

/** 10 hex characters: short, unique enough to grep one reconcile out of the logs. */
export function newReconcileID(): string {
  return randomBytes(5).toString('hex');
}

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  readonly concurrency: number;
  readonly #reconcile: Reconciler;
  readonly #logger: Logger;
  readonly #metrics: ReturnType<typeof controllerMetrics>;
  readonly #labels: { controller: string };
  readonly #onTerminalError: ControllerOptions['onTerminalError'];
  readonly #abort = new AbortController();
  #workers: Promise<void>[] = [];
  #active = 0;
  #started = false;

  constructor(opts: ControllerOptions) {
    const reg = opts.registry ?? defaultRegistry;
    this.name = opts.name;
    this.concurrency = Math.max(1, Math.floor(opts.concurrency ?? 1));
    this.#reconcile = opts.reconcile;
    this.#logger = (opts.logger ?? silentLogger).child({ controller: opts.name });
    this.#metrics = controllerMetrics(reg);
    this.#labels = { controller: opts.name };
    this.#onTerminalError = opts.onTerminalError;
    this.queue = new WorkQueue({ name: opts.name, registry: reg, ...(opts.rateLimiter ? { rateLimiter: opts.rateLimiter } : {}) });
    for (const result of ['success', 'error', 'requeue', 'requeue_after'] as const) {
      this.#metrics.total.inc({ controller: opts.name, result }, 0);
    }
    this.#metrics.errors.inc(this.#labels, 0);
    this.#metrics.terminal.inc(this.#labels, 0);
    this.#metrics.active.set(this.#labels, 0);
    this.#metrics.max.set(this.#labels, this.concurrency);
  }

  /** Queues `key` for reconcile (deduplicated). */
  enqueue(key: string): void {
    this.queue.add(key);
  }

  /** Queues `key` at the front of the queue (out-of-band rollbacks). */
  enqueueUrgent(key: string): void {
    this.queue.addUrgent(key);
  }

  /** Queues `key` after `delayMs` (the earliest pending wake-up wins). */
  enqueueAfter(key: string, delayMs: number): void {
    this.queue.addAfter(key, delayMs);
  }

  /** Starts the workers; keys enqueued before `start` are processed once it runs. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#logger.info({ workers: this.concurrency }, 'starting workers');
    for (let i = 0; i < this.concurrency; i++) this.#workers.push(this.#worker());
  }

  /** True once stop() was called (a stopped controller does not start again). */
  get stopped(): boolean {
    return this.#abort.signal.aborted;
  }

  /** Stops taking keys, aborts the signal given to running reconciles, and waits for them. */
  async stop(): Promise<void> {
    this.#abort.abort(new Error(`controller ${this.name} stopping`));
    await this.queue.shutDownWithDrain();
    await Promise.all(this.#workers);
    this.#logger.info('workers stopped');
  }

  /** Reconciles one key now, outside the queue (tests, and the one-shot CLI). */
  async reconcileOnce(key: string): Promise<ReconcileResult | void> {
    const ctx = this.#context(key);
    return this.#reconcile(key, ctx);
  }

  async #worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.#process(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  #context(key: string): ReconcileContext {
    const reconcileID = newReconcileID();
    return {
      key,
      reconcileID,
      logger: this.#logger.child({ key, reconcileID }),
      retries: this.queue.numRequeues(key),
      signal: this.#abort.signal,
    };
  }

  async #process(key: string): Promise<void> {
    const ctx = this.#context(key);
    const started = performance.now();
    this.#active++;
    this.#metrics.active.set(this.#labels, this.#active);
    let result: Result;
    try {
      const out = await this.#reconcile(key, ctx);
      if (out && out.requeueAfter !== undefined && out.requeueAfter > 0) {
        this.queue.forget(key);
        this.queue.addAfter(key, out.requeueAfter);
        result = 'requeue_after';
        ctx.logger.debug({ requeueAfterMs: out.requeueAfter }, 'reconciled, requeue after');
      } else if (out && out.requeue) {
        this.queue.addRateLimited(key);
        result = 'requeue';
        ctx.logger.debug('reconciled, requeue');
      } else {
        this.queue.forget(key);
        result = 'success';
        ctx.logger.debug('reconciled');
      }
    } catch (err) {
      result = 'error';
      this.#metrics.errors.inc(this.#labels);
      if (isTerminalError(err)) {
        this.#metrics.terminal.inc(this.#labels);
        this.queue.forget(key);
        ctx.logger.error({ err }, 'reconcile failed with a terminal error; not retrying');
        if (this.#onTerminalError) {
          try {
            await this.#onTerminalError(key, err, ctx);
          } catch (hookErr) {
            ctx.logger.error({ err: hookErr }, 'onTerminalError hook failed');
          }
        }
      } else if (this.#abort.signal.aborted) {
        ctx.logger.info({ err }, 'reconcile interrupted by shutdown');
      } else {
        this.queue.addRateLimited(key);
        ctx.logger.error({ err, retries: ctx.retries + 1 }, 'reconcile failed; retrying with backoff');
      }
    } finally {
      this.#active--;
      this.#metrics.active.set(this.#labels, this.#active);
      this.#metrics.time.observe(this.#labels, (performance.now() - started) / 1000);
    }
    this.#metrics.total.inc({ controller: this.name, result });
  }
}
