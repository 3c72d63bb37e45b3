// A watch stream (`?watch=true`): newline-delimited JSON events from one long-lived response, with
// bookmarks asked for and a server-side timeout randomised like client-go's. The informer
// (./informer.ts) resumes, relists and backs off; this file only reads one stream.
import { StringDecoder } from 'node:string_decoder';
import { KubeApiError } from './errors.ts';
import { apiVersionOf, type KubeObject, type ResourceType } from './resources.ts';
import type { Transport } from './transport.ts';

/** A watch's server-side timeout: 5–10 minutes at random, as client-go's reflector, so streams do not all end at once. */
export function watchTimeoutSeconds(): number {
  return Math.floor(300 * (1 + Math.random()));
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface WatchEvent<T extends KubeObject = KubeObject> {
  type: WatchEventType;
  /** For BOOKMARK only `metadata.resourceVersion` is meaningful. */
  object: T;
}

export interface WatchOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Start after this resourceVersion; omitted: synthetic ADDED events for what exists, then changes. */
  resourceVersion?: string;
  /** Ask for BOOKMARK events (default true). */
  allowWatchBookmarks?: boolean;
  /** Server-side stream lifetime; default 5–10 min, randomised like client-go. */
  timeoutSeconds?: number;
  /** Aborting ends the stream; the iterator then throws an AbortError. */
  signal?: AbortSignal;
}

/**
 * Streams changes of `type` at `path` (a collection's URL path). An ERROR event (e.g. 410 Expired:
 * resourceVersion too old) is thrown as a KubeApiError. The stream ends normally when the server's
 * timeout is up. Breaking out of the loop or aborting `opts.signal` closes the connection.
 */
export async function* watchStream<T extends KubeObject = KubeObject>(transport: Transport, type: ResourceType, path: string, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
  const abort = new AbortController();
  const onAbort = () => abort.abort(opts.signal?.reason);
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const request = `WATCH ${path}`;
  try {
    const res = await transport.send({
      method: 'GET',
      verb: 'WATCH',
      path,
      query: {
        watch: 'true',
        allowWatchBookmarks: opts.allowWatchBookmarks ?? true,
        resourceVersion: opts.resourceVersion,
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        timeoutSeconds: opts.timeoutSeconds ?? watchTimeoutSeconds(),
      },
      signal: abort.signal,
    });
    const apiVersion = apiVersionOf(type);
    const decoder = new StringDecoder('utf8');
    let buffer = '';
    try {
      for await (const chunk of res) {
        buffer += decoder.write(chunk as Buffer);
        let newline = buffer.indexOf('\n');
        while (newline >= 0) {
          const line = buffer.slice(0, newline).trim();
          buffer = buffer.slice(newline + 1);
          newline = buffer.indexOf('\n');
          if (!line) continue;
          const event = JSON.parse(line) as { type: string; object: Record<string, unknown> };
          if (event.type === 'ERROR') throw KubeApiError.fromStatus(event.object, undefined, undefined, request);
          const object = event.object as T;
          if (event.type !== 'BOOKMARK') {
            object.apiVersion ??= apiVersion;
            object.kind ??= type.kind;
          }
          yield { type: event.type as WatchEventType, object };
        }
      }
    } catch (err) {
      if (err instanceof KubeApiError || abort.signal.aborted) throw err;
      throw KubeApiError.fromNetworkError(err, request);
    } finally {
      res.destroy();
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    abort.abort();
  }
}
