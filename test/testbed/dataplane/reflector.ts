// A minimal list+watch reflector over @kubernetes/client-node: paginated LIST, then WATCH from the
// list's resourceVersion with bookmarks; resumes the watch from the last seen resourceVersion when
// the connection ends or fails (with backoff), and relists on 410 Gone / "too old resource version".
import { KubeConfig, KubernetesObjectApi, Watch } from '@kubernetes/client-node';
import type { ObjectMeta } from './routing.ts';

export interface KubeObject {
  metadata: ObjectMeta;
}

export interface ReflectorHandlers<T extends KubeObject> {
  /** Called after each (re)list with the full set of objects. */
  replace: (items: T[]) => void;
  upsert: (obj: T) => void;
  remove: (obj: T) => void;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface ReflectorOptions {
  apiVersion: string;
  kind: string;
  /** Cluster-wide watch path, e.g. "/api/v1/services". */
  watchPath: string;
}

export class Reflector<T extends KubeObject> {
  private readonly kc: KubeConfig;
  private readonly opts: ReflectorOptions;
  private readonly handlers: ReflectorHandlers<T>;
  private readonly objects: KubernetesObjectApi;
  private readonly watcher: Watch;
  private stopped = false;
  private abort: AbortController | null = null;
  private wake: (() => void) | null = null;
  private syncedResolve!: () => void;
  /** Resolves after the first successful list. */
  readonly synced: Promise<void>;
  resourceVersion = '';

  constructor(kc: KubeConfig, opts: ReflectorOptions, handlers: ReflectorHandlers<T>) {
    this.kc = kc;
    this.opts = opts;
    this.handlers = handlers;
    this.objects = KubernetesObjectApi.makeApiClient(kc);
    this.watcher = new Watch(kc);
    this.synced = new Promise((resolve) => (this.syncedResolve = resolve));
  }

  start(): void {
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
    this.wake?.();
  }

  private log(msg: string, fields?: Record<string, unknown>): void {
    this.handlers.log?.(msg, { kind: this.opts.kind, ...fields });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
  }

  private async list(): Promise<void> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.objects.list(
        this.opts.apiVersion,
        this.opts.kind,
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        500,
        cont,
      );
      items.push(...(page.items as unknown as T[]));
      rv = page.metadata?.resourceVersion ?? rv;
      cont = page.metadata?._continue || undefined;
    } while (cont);
    this.resourceVersion = rv;
    this.handlers.replace(items);
  }

  private async loop(): Promise<void> {
    let backoff = 200;
    let needList = true;
    while (!this.stopped) {
      try {
        if (needList) {
          await this.list();
          needList = false;
          this.syncedResolve();
          backoff = 200;
        }
        const outcome = await this.watchOnce();
        if (outcome === 'gone') {
          this.log('watch resourceVersion expired; relisting');
          needList = true;
        } else if (outcome === 'closed') {
          backoff = 200;
        }
      } catch (err) {
        if (this.stopped) break;
        const code = (err as { code?: number; statusCode?: number }).code ?? (err as { statusCode?: number }).statusCode;
        if (code === 410) needList = true;
        this.log('list/watch failed; retrying', { err: err instanceof Error ? err.message : String(err), code, backoffMs: backoff });
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  /** Runs one watch connection; resolves 'closed' on a clean end, 'gone' on 410; throws on errors. */
  private watchOnce(): Promise<'closed' | 'gone'> {
    return new Promise((resolve, reject) => {
      let gone = false;
      let settled = false;
      const finish = (err: unknown): void => {
        if (settled) return;
        settled = true;
        this.abort = null;
        if (gone) resolve('gone');
        else if (err && !this.stopped) reject(err);
        else resolve('closed');
      };
      // client-node aborts a watch after 30 s without data; ask the server to end it first.
      const timeoutSeconds = 20 + Math.floor(Math.random() * 5);
      this.watcher
        .watch(
          this.opts.watchPath,
          { resourceVersion: this.resourceVersion || undefined, allowWatchBookmarks: true, timeoutSeconds },
          (phase: string, obj: unknown) => {
            if (settled) return;
            if (phase === 'ERROR') {
              const status = obj as { code?: number; reason?: string; message?: string };
              if (status?.code === 410 || status?.reason === 'Expired' || status?.reason === 'Gone') gone = true;
              else this.log('watch error event', { status });
              this.abort?.abort();
              finish(gone ? null : new Error(status?.message ?? 'watch error event'));
              return;
            }
            const o = obj as T;
            const rv = o?.metadata?.resourceVersion;
            if (rv) this.resourceVersion = rv;
            if (phase === 'ADDED' || phase === 'MODIFIED') this.handlers.upsert(o);
            else if (phase === 'DELETED') this.handlers.remove(o);
          },
          (err: unknown) => finish(err),
        )
        .then(
          (ac) => {
            if (settled) return;
            this.abort = ac;
            if (this.stopped) ac.abort();
          },
          (err: unknown) => finish(err),
        );
    });
  }
}

export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}
