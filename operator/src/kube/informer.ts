// List-watch with an in-memory cache keyed `namespace/name` (client-go's reflector + indexer).
// - lists, then watches from the list's resourceVersion, asking for bookmarks;
// - resumes from the last resourceVersion seen when a stream ends or fails;
// - relists on 410 Gone (resourceVersion too old), delivering add/update/delete for the diff;
// - restarts with jittered exponential backoff on other errors;
// - treats a stream silent for `inactivityTimeoutMs` (default 70 s; bookmarks arrive about every
//   minute) as dead and rebuilds it, once the server has sent this informer anything: the API
//   server sends no bookmark for a kind it has seen no change of since it started (a kind nobody
//   uses yet), so such a stream is silent by nature; it is given the watch's own timeout (which
//   the server keeps, ending the stream) plus 30 s instead.
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger, type Logger } from '../runtime/logger.ts';
import { isGone } from './errors.ts';
import type { KubeClient } from './client.ts';
import { watchTimeoutSeconds, type WatchEvent } from './watch.ts';
import { objectKey, type KubeObject, type ResourceType } from './resources.ts';

export interface InformerHandlers<T extends KubeObject> {
  onAdd?: (obj: T) => void;
  onUpdate?: (oldObj: T, newObj: T) => void;
  /** The last known state of the object. */
  onDelete?: (obj: T) => void;
}

export interface InformerOptions<T extends KubeObject> {
  /** Omit for all namespaces. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /**
   * A stream with no event (not even a bookmark) for this long is rebuilt. Default 70 000. Until the
   * server has sent this informer an event or a bookmark, the watch's timeout plus 30 s instead.
   */
  inactivityTimeoutMs?: number;
  /** Backoff after a failed list or watch: from `initialMs`, doubling, to `maxMs` (jittered ±50%). */
  backoff?: { initialMs?: number; maxMs?: number };
  /**
   * Applied to each object before it is cached. Default: drop `metadata.managedFields` and the
   * `kubectl.kubernetes.io/last-applied-configuration` annotation (a client-side `kubectl apply`
   * copy of the whole object as a string), which are large and not needed by controllers (read
   * them with KubeClient.get). Every write of the operator is a server-side apply or a merge patch
   * of its own fields, never the cached object sent back, so nothing is lost by not caching them.
   */
  transform?: (obj: T) => T;
  logger?: Logger;
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

function stripManagedFields<T extends KubeObject>(obj: T): T {
  if (obj.metadata.managedFields) delete obj.metadata.managedFields;
  const annotations = obj.metadata.annotations;
  if (annotations && LAST_APPLIED in annotations) {
    delete annotations[LAST_APPLIED];
    if (Object.keys(annotations).length === 0) delete obj.metadata.annotations;
  }
  return obj;
}

export class Informer<T extends KubeObject = KubeObject> {
  readonly type: ResourceType;
  /** Resolves after the first successful list. */
  readonly synced: Promise<void>;
  readonly #client: KubeClient;
  readonly #opts: InformerOptions<T>;
  readonly #cache = new Map<string, T>();
  readonly #handlers: InformerHandlers<T>[] = [];
  readonly #logger: Logger;
  readonly #transform: (obj: T) => T;
  readonly #inactivityMs: number;
  readonly #backoffInitial: number;
  readonly #backoffMax: number;
  #resolveSynced!: () => void;
  #hasSynced = false;
  #resourceVersion = '';
  #running = false;
  #stop = new AbortController();
  /** Aborts the current stream (watchdog or `restartWatch`). */
  #streamAbort: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #failures = 0;
  /** The server has sent this informer an event or a bookmark (so it sends bookmarks for this kind). */
  #heard = false;
  #forcedResume: string | undefined;
  #relists = 0;

  constructor(client: KubeClient, type: ResourceType, opts: InformerOptions<T> = {}) {
    this.#client = client;
    this.type = type;
    this.#opts = opts;
    this.#transform = opts.transform ?? stripManagedFields;
    this.#inactivityMs = opts.inactivityTimeoutMs ?? 70_000;
    this.#backoffInitial = opts.backoff?.initialMs ?? 800;
    this.#backoffMax = opts.backoff?.maxMs ?? 30_000;
    this.#logger = (opts.logger ?? silentLogger).child({
      informer: type.kind,
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
    });
    this.synced = new Promise((resolve) => {
      this.#resolveSynced = resolve;
    });
  }

  /** Registers handlers. Added after sync, `onAdd` is first called for every cached object. */
  addHandler(handlers: InformerHandlers<T>): void {
    this.#handlers.push(handlers);
    if (this.#hasSynced && handlers.onAdd) for (const obj of this.#cache.values()) this.#call(() => handlers.onAdd?.(obj));
  }

  onAdd(fn: (obj: T) => void): void {
    this.addHandler({ onAdd: fn });
  }

  onUpdate(fn: (oldObj: T, newObj: T) => void): void {
    this.addHandler({ onUpdate: fn });
  }

  onDelete(fn: (obj: T) => void): void {
    this.addHandler({ onDelete: fn });
  }

  /** The cached object (do not mutate it). */
  get(namespace: string | undefined, name: string): T | undefined {
    return this.#cache.get(namespace ? `${namespace}/${name}` : name);
  }

  getByKey(key: string): T | undefined {
    return this.#cache.get(key);
  }

  list(namespace?: string): T[] {
    const all = [...this.#cache.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata.namespace === namespace);
  }

  keys(): string[] {
    return [...this.#cache.keys()];
  }

  get hasSynced(): boolean {
    return this.#hasSynced;
  }

  /** The last resourceVersion seen (list, event or bookmark). */
  get resourceVersion(): string {
    return this.#resourceVersion;
  }

  /** How many times the informer listed (1 after the first sync; more after 410s). */
  get listCount(): number {
    return this.#relists;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#stop = new AbortController();
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#stop.abort();
    this.#streamAbort?.abort();
    await this.#loop;
  }

  /**
   * Ends the current stream and resumes the watch from `fromResourceVersion` (default: the last one
   * seen). For diagnostics and tests: resuming from a compacted version exercises the 410 relist.
   */
  restartWatch(fromResourceVersion?: string): void {
    this.#forcedResume = fromResourceVersion;
    this.#streamAbort?.abort(new Error('watch restart requested'));
  }

  async #run(): Promise<void> {
    let needList = true;
    while (this.#running) {
      try {
        if (needList) {
          await this.#relist();
          needList = false;
        }
        if (this.#forcedResume !== undefined) {
          this.#resourceVersion = this.#forcedResume;
          this.#forcedResume = undefined;
        }
        await this.#watchOnce();
        // The server closed the stream (its timeout): resume from the last version at once.
      } catch (err) {
        if (!this.#running) break;
        if (isGone(err)) {
          this.#logger.info({ resourceVersion: this.#resourceVersion }, 'resourceVersion expired (410); relisting');
          needList = true;
          continue;
        }
        this.#failures++;
        const delay = this.#backoff();
        this.#logger.warn({ err, failures: this.#failures, retryInMs: Math.round(delay) }, 'list/watch failed; retrying');
        // Stopping cuts the wait short (the abort rejects; the loop then sees it is no longer running).
        await sleep(delay, undefined, { signal: this.#stop.signal }).catch(() => {});
      }
    }
  }

  #backoff(): number {
    const base = Math.min(this.#backoffMax, this.#backoffInitial * 2 ** Math.min(this.#failures - 1, 30));
    return base * (0.5 + Math.random());
  }

  async #relist(): Promise<void> {
    const { items, resourceVersion } = await this.#client.list<T>(this.type, {
      ...(this.#opts.namespace ? { namespace: this.#opts.namespace } : {}),
      ...(this.#opts.labelSelector ? { labelSelector: this.#opts.labelSelector } : {}),
      ...(this.#opts.fieldSelector ? { fieldSelector: this.#opts.fieldSelector } : {}),
      transform: <X extends KubeObject>(item: X) => this.#transform(item as unknown as T) as unknown as X,
    });
    this.#relists++;
    this.#failures = 0;
    const seen = new Set<string>();
    for (const obj of items) {
      const key = objectKey(obj);
      seen.add(key);
      const old = this.#cache.get(key);
      this.#cache.set(key, obj);
      if (!old) this.#emitAdd(obj);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.#emitUpdate(old, obj);
    }
    for (const [key, old] of this.#cache) {
      if (!seen.has(key)) {
        this.#cache.delete(key);
        this.#emitDelete(old);
      }
    }
    this.#resourceVersion = resourceVersion;
    this.#logger.debug({ count: items.length, resourceVersion }, 'listed');
    if (!this.#hasSynced) {
      this.#hasSynced = true;
      this.#resolveSynced();
    }
  }

  async #watchOnce(): Promise<void> {
    const abort = new AbortController();
    this.#streamAbort = abort;
    const onStop = () => abort.abort();
    this.#stop.signal.addEventListener('abort', onStop, { once: true });
    let watchdog: NodeJS.Timeout | undefined;
    // Chosen here, not by the watch, because the watchdog of a stream that has heard nothing waits for it.
    const timeoutSeconds = watchTimeoutSeconds();
    const arm = () => {
      if (watchdog) clearTimeout(watchdog);
      const silentForMs = this.#heard ? this.#inactivityMs : Math.max(this.#inactivityMs, timeoutSeconds * 1000 + 30_000);
      watchdog = setTimeout(() => {
        this.#logger.warn({ silentForMs, resourceVersion: this.#resourceVersion }, 'watch silent; rebuilding stream');
        abort.abort(new Error('watch inactivity timeout'));
      }, silentForMs);
      watchdog.unref();
    };
    try {
      arm();
      const stream = this.#client.watch<T>(this.type, {
        resourceVersion: this.#resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds,
        signal: abort.signal,
        ...(this.#opts.namespace ? { namespace: this.#opts.namespace } : {}),
        ...(this.#opts.labelSelector ? { labelSelector: this.#opts.labelSelector } : {}),
        ...(this.#opts.fieldSelector ? { fieldSelector: this.#opts.fieldSelector } : {}),
      });
      for await (const event of stream) {
        this.#heard = true;
        arm();
        this.#failures = 0;
        this.#apply(event);
      }
    } catch (err) {
      // The watchdog, restartWatch or stop ended the stream: resume (or stop) without backoff.
      if (abort.signal.aborted && !isGone(err)) return;
      throw err;
    } finally {
      if (watchdog) clearTimeout(watchdog);
      this.#stop.signal.removeEventListener('abort', onStop);
    }
  }

  #apply(event: WatchEvent<T>): void {
    const rv = event.object.metadata?.resourceVersion;
    if (event.type === 'BOOKMARK') {
      if (rv) this.#resourceVersion = rv;
      return;
    }
    const obj = this.#transform(event.object);
    const key = objectKey(obj);
    const old = this.#cache.get(key);
    if (event.type === 'DELETED') {
      this.#cache.delete(key);
      this.#emitDelete(obj);
    } else {
      this.#cache.set(key, obj);
      if (old) this.#emitUpdate(old, obj);
      else this.#emitAdd(obj);
    }
    if (rv) this.#resourceVersion = rv;
  }

  #emitAdd(obj: T): void {
    for (const h of this.#handlers) if (h.onAdd) this.#call(() => h.onAdd?.(obj));
  }

  #emitUpdate(oldObj: T, newObj: T): void {
    for (const h of this.#handlers) if (h.onUpdate) this.#call(() => h.onUpdate?.(oldObj, newObj));
  }

  #emitDelete(obj: T): void {
    for (const h of this.#handlers) if (h.onDelete) this.#call(() => h.onDelete?.(obj));
  }

  /** A failing handler must not stop the informer. */
  #call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#logger.error({ err }, 'informer handler threw');
    }
  }
}
