// Kubernetes Events (events.k8s.io/v1) for the objects the operator changes. Recording is
// fire-and-forget: it never throws into a reconcile and never blocks it; a failed write is logged
// and dropped. Repeats of the same event (same object, type, reason, action and note) within
// `seriesWindowMs` update the first Event's `series.count` instead of creating new ones.
import { hostname } from 'node:os';
import { realClock, rfc3339Micro, type Clock } from '../runtime/clock.ts';
import { BucketRateLimiter } from '../runtime/ratelimit.ts';
import { silentLogger, type Logger } from '../runtime/logger.ts';
import type { KubeClient } from './client.ts';
import { isAlreadyExists, isNotFound } from './errors.ts';
import { EVENT, referenceTo, type KubeObject, type ObjectReference } from './resources.ts';

export const REPORTING_CONTROLLER = 'cutover.dev/operator';

export type EventType = 'Normal' | 'Warning';

export interface EventInput {
  /** The object the event is about: an object (its reference is taken) or a reference. */
  regarding: KubeObject | ObjectReference;
  type: EventType;
  /** PascalCase, e.g. `StepAdvanced`, `RolledBack`. */
  reason: string;
  /** What the operator did or failed to do, PascalCase, e.g. `SetWeight`, `Rollback`. */
  action: string;
  /** Human-readable, up to 1 kB. */
  note?: string;
  /** A second object involved, e.g. the HTTPRoute whose weights changed. */
  related?: KubeObject | ObjectReference;
  /**
   * A name derived from what the event records (e.g. one step of one run): the Event is created
   * once under that name and a second record of it — after a restart that could not tell whether
   * the first write landed — finds it there (409 AlreadyExists) and writes nothing. Not a series.
   */
  name?: string;
}

export interface EventRecorderOptions {
  /** Default `cutover.dev/operator`. */
  reportingController?: string;
  /** Default the pod name ($POD_NAME) or host name. */
  reportingInstance?: string;
  /** Repeats within this window count into one Event's series. Default 6 min (client-go). */
  seriesWindowMs?: number;
  /** Series tracked at most (oldest forgotten first). Default 4096. */
  maxSeries?: number;
  logger?: Logger;
  clock?: Clock;
}

interface Series {
  namespace: string;
  name: string;
  count: number;
  lastAt: number;
  /** A write for this series is in flight; a repeat meanwhile only marks it dirty. */
  writing: boolean;
  dirty: boolean;
}

/** events.k8s.io/v1 Event, as written. */
export interface EventObject extends KubeObject {
  eventTime: string;
  reportingController: string;
  reportingInstance: string;
  action: string;
  reason: string;
  note?: string;
  type: EventType;
  regarding: ObjectReference;
  related?: ObjectReference;
  series?: { count: number; lastObservedTime: string };
}

export class EventRecorder {
  readonly reportingController: string;
  readonly reportingInstance: string;
  readonly #client: KubeClient;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #windowMs: number;
  readonly #maxSeries: number;
  readonly #series = new Map<string, Series>();
  readonly #inFlight = new Set<Promise<void>>();

  constructor(client: KubeClient, opts: EventRecorderOptions = {}) {
    this.#client = client;
    this.reportingController = opts.reportingController ?? REPORTING_CONTROLLER;
    this.reportingInstance = truncate(opts.reportingInstance ?? process.env.POD_NAME ?? hostname(), 128);
    this.#logger = (opts.logger ?? silentLogger).child({ component: 'events' });
    this.#clock = opts.clock ?? realClock;
    this.#windowMs = opts.seriesWindowMs ?? 6 * 60_000;
    this.#maxSeries = opts.maxSeries ?? 4096;
  }

  /** Records an event in the background. Never throws. */
  record(input: EventInput): void {
    let write: Promise<void>;
    try {
      write = this.#record(input).catch((err: unknown) => {
        this.#logger.warn({ err, reason: input.reason, regarding: describe(input.regarding) }, 'could not write Event; dropped');
      });
    } catch (err) {
      this.#logger.warn({ err, reason: input.reason }, 'could not write Event; dropped');
      return;
    }
    this.#track(write);
  }

  /**
   * Records an Event under a name derived from what it records, exactly once: resolves true when it
   * was written now or already existed, false when it could not be written (logged; call again).
   */
  async ensure(input: EventInput & { name: string }): Promise<boolean> {
    const write = this.#record(input).then(() => true, (err: unknown) => {
      this.#logger.warn({ err, reason: input.reason, regarding: describe(input.regarding) }, 'could not write Event; will retry');
      return false;
    });
    this.#track(write);
    return write;
  }

  /** Counts a write in flight until it settles (see flush). */
  #track(write: Promise<unknown>): void {
    const settled = write.then(() => {}, () => {});
    this.#inFlight.add(settled);
    void settled.finally(() => this.#inFlight.delete(settled));
  }

  normal(regarding: EventInput['regarding'], reason: string, action: string, note?: string): void {
    this.record({ regarding, type: 'Normal', reason, action, ...(note !== undefined ? { note } : {}) });
  }

  warning(regarding: EventInput['regarding'], reason: string, action: string, note?: string): void {
    this.record({ regarding, type: 'Warning', reason, action, ...(note !== undefined ? { note } : {}) });
  }

  /** Resolves when every event recorded so far has been written or dropped. */
  async flush(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }

  async #record(input: EventInput): Promise<void> {
    const regarding = toReference(input.regarding);
    const note = truncate(input.note ?? '', 1024);
    if (input.name !== undefined) {
      try {
        await this.#client.create(EVENT, this.#event(input, regarding, note, input.name, this.#clock.now()), { background: true });
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
      return;
    }
    const seriesKey = JSON.stringify([
      regarding.uid ?? '', regarding.kind ?? '', regarding.namespace ?? '', regarding.name ?? '',
      input.type, input.reason, input.action, note,
    ]);
    const now = this.#clock.now();
    const existing = this.#series.get(seriesKey);
    if (existing && now - existing.lastAt < this.#windowMs) {
      existing.count++;
      existing.lastAt = now;
      // LRU: move to the end.
      this.#series.delete(seriesKey);
      this.#series.set(seriesKey, existing);
      if (existing.writing) {
        existing.dirty = true;
        return;
      }
      await this.#writeSeries(seriesKey, existing, input, regarding, note);
      return;
    }
    const event = this.#event(input, regarding, note, `${regarding.name ?? 'cutover'}.${eventSuffix(now)}`, now);
    const namespace = event.metadata.namespace ?? 'default';
    const series: Series = { namespace, name: event.metadata.name ?? '', count: 1, lastAt: now, writing: true, dirty: false };
    this.#remember(seriesKey, series);
    try {
      await this.#client.create(EVENT, event, { background: true });
    } catch (err) {
      this.#series.delete(seriesKey);
      throw err;
    } finally {
      series.writing = false;
    }
    if (series.dirty) await this.#writeSeries(seriesKey, series, input, regarding, note);
  }

  #event(input: EventInput, regarding: ObjectReference, note: string, name: string, now: number): EventObject {
    return {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name, namespace: regarding.namespace || 'default' },
      eventTime: rfc3339Micro(now),
      reportingController: this.reportingController,
      reportingInstance: this.reportingInstance,
      action: truncate(input.action, 128),
      reason: truncate(input.reason, 128),
      type: input.type,
      regarding,
      ...(note ? { note } : {}),
      ...(input.related ? { related: toReference(input.related) } : {}),
    };
  }

  /** Writes the series count; coalesces repeats that arrive while a write is in flight. */
  async #writeSeries(seriesKey: string, series: Series, input: EventInput, regarding: ObjectReference, note: string): Promise<void> {
    series.writing = true;
    try {
      do {
        series.dirty = false;
        const patch = { series: { count: series.count, lastObservedTime: rfc3339Micro(series.lastAt) } };
        try {
          await this.#client.mergePatch(EVENT, series.namespace, series.name, patch, { background: true });
        } catch (err) {
          if (!isNotFound(err)) throw err;
          // The Event expired (TTL) or was deleted: start a new one.
          this.#series.delete(seriesKey);
          series.writing = false;
          await this.#record({ ...input, regarding, note });
          return;
        }
      } while (series.dirty);
    } finally {
      series.writing = false;
    }
  }

  #remember(key: string, series: Series): void {
    this.#series.set(key, series);
    while (this.#series.size > this.#maxSeries) {
      const oldest = this.#series.keys().next().value;
      if (oldest === undefined) break;
      this.#series.delete(oldest);
    }
  }
}

export interface OnceEventsOptions {
  /** Paced writes per second (recovery after a start); default 50, burst the same. */
  pacedPerSecond?: number;
  /** False once the owner stopped: a paced (recovery) write that comes due after that is not sent; others are. */
  active?: () => boolean;
  /** For `prime`'s outcome. */
  logger?: Logger;
}

/** What `OnceEvents.prime` reads of each Event it lists. */
export interface ListedEvent {
  namespace: string;
  name: string;
  regarding: ObjectReference;
}

export interface PrimeOptions {
  /** Where to list: each watched namespace, or `[undefined]` for all namespaces. */
  namespaces: ReadonlyArray<string | undefined>;
  /** events.k8s.io/v1 field selector, e.g. `reason=StepStarted,reportingController=cutover.dev/operator`. */
  fieldSelector: string;
  /**
   * The key an Event that exists counts for, when it is the one that key's recovery would ask for
   * (the current step of a live object); undefined for any other (not kept).
   */
  keyOf: (event: ListedEvent) => string | undefined;
  /** How long recovery writes wait for the list; default 60 s. Default page size 500. */
  timeoutMs?: number;
  pageSize?: number;
}

/**
 * Exactly-once named Events (EventRecorder.ensure) for one announced occurrence per object at a
 * time, such as the StepStarted Event of a TrafficShift's current step. Events follow the status
 * write, so a crash between the two loses one; after a start the owner asks again for each live
 * object (`paced`), and the Event's deterministic name makes a second write find the first (409
 * AlreadyExists). Remembers, per key, the name this process knows is in the API, so the recovery
 * check costs one write per object, not one per reconcile. Writes run in the background.
 *
 * `prime` reads, with one paginated LIST at start, which of these Events already exist, so that the
 * recovery writes only the missing ones (see there).
 */
export class OnceEvents {
  readonly #recorder: EventRecorder;
  readonly #active: () => boolean;
  readonly #logger: Logger;
  /** The Event this process knows is in the API, per key. */
  readonly #announced = new Map<string, string>();
  /** Names being written now (an ask meanwhile does not write them again). */
  readonly #writing = new Set<string>();
  /** Paces the recovery writes: a restart with 1,000 live objects must not send 1,000 writes at once. */
  readonly #pace: BucketRateLimiter;
  /** Settles when the priming LIST is done, failed or timed out; undefined when none is running. */
  #priming: Promise<void> | undefined;

  constructor(recorder: EventRecorder, opts: OnceEventsOptions = {}) {
    this.#recorder = recorder;
    this.#active = opts.active ?? (() => true);
    this.#logger = (opts.logger ?? silentLogger).child({ component: 'events' });
    const perSecond = opts.pacedPerSecond ?? 50;
    this.#pace = new BucketRateLimiter(perSecond, perSecond);
  }

  /** Whether `name` is known to be written for `key`, or is being written now. */
  known(key: string, name: string): boolean {
    return this.#announced.get(key) === name || this.#writing.has(name);
  }

  /**
   * Reads which Events exist (events.k8s.io/v1, `opts.fieldSelector`, in each of `opts.namespaces`,
   * pages of 500) and remembers each one `opts.keyOf` names a key for as that key's, as if this
   * process had written it: `known` is then true for it and its recovery writes nothing. Without it
   * every live object's recovery is a paced POST (mostly 409 AlreadyExists): 10,000 live objects
   * cost 10,000 writes over 200 s after each start, while the API server is busiest, and a truly
   * missing Event waits in that queue.
   *
   * Memory: only names `keyOf` keeps are stored, at most one per live key, in the map that holds
   * them anyway once this process has written or checked them (and that `forget` empties when an
   * object goes) — no second set of names to drop later, and no list held whole (page by page).
   *
   * Waiting: reconciles never wait for it. Recovery writes (`write(…, paced)`) asked meanwhile wait
   * until it settles, then skip what it found; `writeNow` waits too (it only runs when a reconcile
   * moves past a step being recovered), all at most `timeoutMs`. When the LIST fails (RBAC without
   * `list` on events, an API server that refuses the field selector) or times out, a warning is
   * logged and the recovery is what it was without it: every live object asks, paced (Events the
   * LIST still finds after the timeout are remembered; a paced write checks when it comes due).
   * Never throws.
   */
  prime(client: KubeClient, opts: PrimeOptions): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const started = Date.now();
    let found = 0;
    let kept = 0;
    const list = (async () => {
      for (const namespace of opts.namespaces) {
        const pages = client.listPages<EventObject>(EVENT, { namespace, fieldSelector: opts.fieldSelector, pageSize: opts.pageSize ?? 500 });
        for await (const page of pages) {
          if (!this.#active()) return;
          for (const ev of page.items) {
            found++;
            const name = ev.metadata.name ?? '';
            const key = opts.keyOf({ namespace: ev.metadata.namespace ?? '', name, regarding: ev.regarding });
            // A newer Event this process wrote meanwhile wins (the LIST may have been read before it).
            if (key !== undefined && !this.#announced.has(key)) { this.#announced.set(key, name); kept++; }
          }
        }
      }
    })().then(
      () => { this.#logger.info({ found, kept, ms: Date.now() - started }, 'existing Events read: recovery writes only the missing ones'); },
      (err: unknown) => { this.#logger.warn({ err, fieldSelector: opts.fieldSelector }, 'could not list existing Events: recovery asks for every live object (paced)'); },
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.#logger.warn({ timeoutMs }, 'listing existing Events takes too long: recovery writes no longer wait for it');
        resolve();
      }, timeoutMs);
      timer.unref();
    });
    const priming: Promise<void> = Promise.race([list, timeout]).then(() => {
      clearTimeout(timer);
      if (this.#priming === priming) this.#priming = undefined;
    });
    this.#priming = priming;
    return priming;
  }

  /**
   * Writes `input` under its name in the background and, once it is in the API, remembers it as
   * `key`'s. `paced`: a recovery write (see OnceEventsOptions), which never replaces a newer name
   * announced for the key meanwhile, and which is not sent when the name is known to be in the API
   * by the time it comes due (`prime`).
   */
  write(key: string, input: EventInput & { name: string }, paced: boolean): void {
    const { name } = input;
    this.#writing.add(name);
    const write = (): void => {
      // Only a recovery write is dropped once the owner stopped: a step written by a reconcile that
      // finishes while the controller drains (a graceful shutdown) still gets its Event, which the
      // next start would not recover if that shift had moved on by then.
      if (paced && (!this.#active() || this.#announced.get(key) === name)) { this.#writing.delete(name); return; }
      void this.#recorder.ensure(input).then((ok) => {
        this.#writing.delete(name);
        const announced = this.#announced.get(key);
        if (ok && (!paced || announced === undefined || announced === name)) this.#announced.set(key, name);
      });
    };
    const schedule = (): void => {
      const delay = paced ? this.#pace.when(name) : 0;
      if (delay <= 0) write(); else setTimeout(write, delay).unref();
    };
    // A recovery write asked while the existing Events are being read waits for them: most exist.
    if (paced && this.#priming) {
      void this.#priming.then(() => {
        if (this.#announced.get(key) === name) { this.#writing.delete(name); return; }
        schedule();
      });
      return;
    }
    schedule();
  }

  /**
   * Writes `input` now and resolves once the API has it (or the write failed): for a recovery write
   * that must land before what the caller writes next. A paced write of the same name still pending
   * finds it there (AlreadyExists) and changes nothing. Waits for a priming LIST still running
   * (bounded, see prime): what it finds needs no write.
   */
  async writeNow(key: string, input: EventInput & { name: string }): Promise<void> {
    const { name } = input;
    if (this.#priming) await this.#priming;
    if (this.#announced.get(key) === name) return;
    this.#writing.add(name);
    const ok = await this.#recorder.ensure(input);
    this.#writing.delete(name);
    if (ok && this.#announced.get(key) === undefined) this.#announced.set(key, name);
  }

  /** Forgets `key` (its object was deleted). */
  forget(key: string): void {
    this.#announced.delete(key);
  }
}

function toReference(x: KubeObject | ObjectReference): ObjectReference {
  return 'metadata' in x && typeof x.metadata === 'object' && x.metadata !== null ? referenceTo(x as KubeObject) : (x as ObjectReference);
}

function describe(x: KubeObject | ObjectReference): string {
  const ref = toReference(x);
  return `${ref.kind ?? ''} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name ?? ''}`.trim();
}

/** client-go names events `<object>.<unix nanos in hex>`; unique per object and instant. */
function eventSuffix(nowMs: number): string {
  const nanos = BigInt(Math.floor(nowMs)) * 1_000_000n + BigInt(Math.floor(Math.random() * 1_000_000));
  return nanos.toString(16);
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
