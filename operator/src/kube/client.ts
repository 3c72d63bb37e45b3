// A thin, typed client for the Kubernetes API: the verbs (get, list, create, replace, delete,
// merge/JSON patch, server-side apply, watch) over plain objects. Configuration and authentication
// come from client-node's kubeconfig parts (./kubeconfig.ts: kubeconfig file, context, in-cluster
// service account, exec plugins, token files; other auth providers through the full KubeConfig);
// the HTTP is ./transport.ts (node:https over bounded keep-alive pools, so that every request
// carries our user agent and metrics) and watches stream through ./watch.ts without extra layers.
import { readFileSync } from 'node:fs';
import { FIELD_MANAGER } from '../api/group.ts';
import { KubeConfigFile } from './kubeconfig.ts';
import type { Registry } from '../runtime/metrics.ts';
import { KubeApiError } from './errors.ts';
import { apiVersionOf, type KubeObject, type ResourceType } from './resources.ts';
import { Transport, type Query } from './transport.ts';
import { watchStream, type WatchEvent, type WatchOptions } from './watch.ts';


export interface KubeClientOptions {
  /** Path of a kubeconfig file; default $KUBECONFIG, then ~/.kube/config, then in-cluster. */
  kubeconfig?: string;
  /** Context to use instead of the kubeconfig's current context. */
  context?: string;
  /** Use the pod's service account (ignores `kubeconfig`). */
  inCluster?: boolean;
  /** Default `cutover/<package version>`. */
  userAgent?: string;
  /**
   * Connections to the API server for requests (watches have their own): requests beyond it wait
   * for a free one. Default 32. Without a bound a burst (1,000 shifts stepping at once, Events
   * written in the background) opens a TLS connection per request: memory, handshakes, and load on
   * the API server.
   */
  maxConnections?: number;
  /** Timeout of a non-watch request; default 30 s. */
  requestTimeoutMs?: number;
  /** Field manager for create/patch/apply; default `cutover`. */
  fieldManager?: string;
  /** Registry for the rest_client_* metrics; default the process registry. */
  registry?: Registry;
}

export interface GetOptions {
  /** e.g. `status`, `scale`. */
  subresource?: string;
}

export interface ListOptions {
  /** Omit (or undefined) for all namespaces. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size; all pages are fetched. Default 500. */
  pageSize?: number;
  /** `0` reads from the API server's watch cache (cheaper, possibly stale); default a consistent read. */
  resourceVersion?: string;
  /**
   * Applied to each item as its page arrives (an informer's transform): what is dropped is never
   * held for the whole list (at 10,000 objects, every page's managedFields at once).
   */
  transform?: <T extends KubeObject>(item: T) => T;
}

export interface ListResult<T> {
  items: T[];
  /** Resume a watch from here. */
  resourceVersion: string;
}

export interface WriteOptions {
  subresource?: string;
  fieldManager?: string;
  dryRun?: boolean;
  /**
   * Background work (Events): sent over a small pool of its own, so a burst of it never queues in
   * front of the reconciles' writes (status, routes) in the shared pool.
   */
  background?: boolean;
}

export interface ApplyOptions extends WriteOptions {
  /** Take ownership of conflicting fields; default true (the operator owns what it applies). */
  force?: boolean;
}

export interface DeleteOptions {
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: unknown;
  from?: string;
}

export class KubeClient {
  /** The API server URL. */
  readonly server: string;
  /** The namespace of the current context (or the pod's), `default` otherwise. */
  readonly defaultNamespace: string;
  /** The kubeconfig context in use (for display). */
  readonly contextName: string;
  readonly userAgent: string;
  readonly fieldManager: string;
  readonly #t: Transport;

  private constructor(kc: KubeConfigFile, defaultNamespace: string, opts: KubeClientOptions) {
    this.#t = new Transport(kc, opts);
    this.server = this.#t.server;
    this.userAgent = this.#t.userAgent;
    this.defaultNamespace = defaultNamespace;
    this.contextName = kc.getCurrentContext();
    this.fieldManager = opts.fieldManager ?? FIELD_MANAGER;
  }

  /** Builds a client from a kubeconfig file, a context, or the in-cluster service account. */
  static load(opts: KubeClientOptions = {}): KubeClient {
    const kc = new KubeConfigFile();
    let namespace: string | undefined;
    if (opts.inCluster) {
      kc.loadFromCluster();
      namespace = readServiceAccountNamespace();
    } else if (opts.kubeconfig) {
      kc.loadFromFile(opts.kubeconfig);
    } else {
      kc.loadFromDefault();
      if (!process.env.KUBECONFIG && process.env.KUBERNETES_SERVICE_HOST) namespace = readServiceAccountNamespace();
    }
    if (opts.context) {
      if (!kc.getContextObject(opts.context)) throw new Error(`kubeconfig has no context "${opts.context}"`);
      kc.setCurrentContext(opts.context);
    }
    namespace ??= kc.getContextObject(kc.getCurrentContext())?.namespace;
    return new KubeClient(kc, namespace ?? 'default', opts);
  }

  /** Closes idle keep-alive connections (open watches end when their signal is aborted). */
  close(): void {
    this.#t.close();
  }

  /** The object, or undefined if it does not exist (404). */
  async get<T extends KubeObject = KubeObject>(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    opts: GetOptions = {},
  ): Promise<T | undefined> {
    try {
      return await this.#t.json<T>({ method: 'GET', verb: 'GET', path: this.path(type, namespace, name, opts.subresource) });
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 404) return undefined;
      throw err;
    }
  }

  /** All objects (every page), with the resourceVersion to start a watch from. */
  async list<T extends KubeObject = KubeObject>(type: ResourceType, opts: ListOptions = {}): Promise<ListResult<T>> {
    const items: T[] = [];
    let resourceVersion = '';
    for await (const page of this.listPages<T>(type, opts)) {
      for (const item of page.items) items.push(item);
      resourceVersion = page.resourceVersion || resourceVersion;
    }
    return { items, resourceVersion };
  }

  /**
   * The pages of a list (`limit` + `continue`), one request each, as they arrive: for a reader that
   * keeps only a little of each object, without holding the whole list at once. Stop early by
   * leaving the loop (no further page is asked for).
   */
  async *listPages<T extends KubeObject = KubeObject>(type: ResourceType, opts: ListOptions = {}): AsyncGenerator<ListResult<T>> {
    let cont: string | undefined;
    const apiVersion = apiVersionOf(type);
    do {
      const page = await this.#t.json<{ metadata?: { resourceVersion?: string; continue?: string }; items?: T[] }>({
        method: 'GET',
        verb: 'LIST',
        path: this.path(type, opts.namespace),
        query: {
          labelSelector: opts.labelSelector,
          fieldSelector: opts.fieldSelector,
          limit: opts.pageSize ?? 500,
          continue: cont,
          resourceVersion: cont === undefined ? opts.resourceVersion : undefined,
        },
      });
      const items: T[] = [];
      for (const item of page.items ?? []) {
        // List items come without apiVersion/kind; fill them so objects look the same everywhere.
        item.apiVersion ??= apiVersion;
        item.kind ??= type.kind;
        items.push(opts.transform ? opts.transform(item) : item);
      }
      cont = page.metadata?.continue || undefined;
      yield { items, resourceVersion: page.metadata?.resourceVersion ?? '' };
    } while (cont);
  }

  async create<T extends KubeObject = KubeObject>(type: ResourceType, obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.#t.json<T>({
      method: 'POST',
      verb: 'POST',
      path: this.path(type, this.#namespaceOf(type, obj)),
      query: this.#writeQuery(opts),
      body: withTypeMeta(type, obj),
      background: opts.background,
    });
  }

  /** PUT (optimistic concurrency through metadata.resourceVersion: a stale one → 409 Conflict). */
  async replace<T extends KubeObject = KubeObject>(type: ResourceType, obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.#t.json<T>({
      method: 'PUT',
      verb: 'PUT',
      path: this.path(type, this.#namespaceOf(type, obj), requireName(obj), opts.subresource),
      query: this.#writeQuery(opts),
      body: withTypeMeta(type, obj),
    });
  }

  /** Deletes; resolves false if the object was already gone. */
  async delete(type: ResourceType, namespace: string | undefined, name: string, opts: DeleteOptions = {}): Promise<boolean> {
    try {
      await this.#t.json({
        method: 'DELETE',
        verb: 'DELETE',
        path: this.path(type, namespace, name),
        query: { dryRun: opts.dryRun ? 'All' : undefined },
        body: {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          ...(opts.propagationPolicy ? { propagationPolicy: opts.propagationPolicy } : {}),
          ...(opts.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: opts.gracePeriodSeconds } : {}),
          ...(opts.preconditions ? { preconditions: opts.preconditions } : {}),
        },
      });
      return true;
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 404) return false;
      throw err;
    }
  }

  /** JSON merge patch (RFC 7386): `null` deletes a field, lists are replaced whole. */
  async mergePatch<T extends KubeObject = KubeObject>(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    opts: WriteOptions = {},
  ): Promise<T> {
    return this.#patch<T>(type, namespace, name, patch, 'application/merge-patch+json', opts);
  }

  /** JSON patch (RFC 6902); a `test` op makes the patch conditional. */
  async jsonPatch<T extends KubeObject = KubeObject>(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    ops: readonly JsonPatchOperation[],
    opts: WriteOptions = {},
  ): Promise<T> {
    return this.#patch<T>(type, namespace, name, ops, 'application/json-patch+json', opts);
  }

  /**
   * Server-side apply: `obj` states exactly the fields this field manager owns (fields it owned
   * before and leaves out are removed). Unknown fields are rejected (`fieldValidation=Strict`).
   * With `subresource: 'status'` only status is applied.
   */
  async apply<T extends KubeObject = KubeObject>(type: ResourceType, obj: KubeObject, opts: ApplyOptions = {}): Promise<T> {
    return this.#t.json<T>({
      method: 'PATCH',
      verb: 'APPLY',
      path: this.path(type, this.#namespaceOf(type, obj), requireName(obj), opts.subresource),
      query: { ...this.#writeQuery(opts), force: opts.force ?? true },
      // JSON is YAML: the apply-patch content type takes it as is. managedFields must not be sent
      // in an apply (an object read from the server carries them); resourceVersion and uid are
      // kept: they are preconditions.
      body: withTypeMeta(type, withoutManagedFields(obj)),
      contentType: 'application/apply-patch+yaml',
    });
  }

  /**
   * Streams changes (./watch.ts): bookmarks asked for; an ERROR event (e.g. 410 Expired) is thrown
   * as a KubeApiError; the stream ends normally when the server's timeout is up. Breaking out of
   * the loop or aborting `signal` closes the connection.
   */
  watch<T extends KubeObject = KubeObject>(type: ResourceType, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
    return watchStream<T>(this.#t, type, this.path(type, opts.namespace), opts);
  }

  /** The URL path of a collection, an object, or an object's subresource. */
  path(type: ResourceType, namespace?: string, name?: string, subresource?: string): string {
    let p = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
    if (type.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
    p += `/${type.plural}`;
    if (name !== undefined) p += `/${encodeURIComponent(name)}`;
    if (subresource) p += `/${subresource}`;
    return p;
  }

  #patch<T>(type: ResourceType, namespace: string | undefined, name: string, body: unknown, contentType: string, opts: WriteOptions): Promise<T> {
    return this.#t.json<T>({
      method: 'PATCH',
      verb: 'PATCH',
      path: this.path(type, namespace, name, opts.subresource),
      query: this.#writeQuery(opts),
      body,
      contentType,
      background: opts.background,
    });
  }

  #namespaceOf(type: ResourceType, obj: KubeObject): string | undefined {
    if (!type.namespaced) return undefined;
    const ns = obj.metadata.namespace;
    if (!ns) throw new Error(`${type.kind} ${obj.metadata.name ?? obj.metadata.generateName ?? ''} has no metadata.namespace`);
    return ns;
  }

  #writeQuery(opts: WriteOptions): Query {
    return {
      fieldManager: opts.fieldManager ?? this.fieldManager,
      fieldValidation: 'Strict',
      dryRun: opts.dryRun ? 'All' : undefined,
    };
  }
}

function readServiceAccountNamespace(): string | undefined {
  try {
    return readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function requireName(obj: KubeObject): string {
  if (!obj.metadata.name) throw new Error(`${obj.kind ?? 'object'} has no metadata.name`);
  return obj.metadata.name;
}

function withoutManagedFields<T extends KubeObject>(obj: T): T {
  if (!obj.metadata.managedFields) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

function withTypeMeta<T extends KubeObject>(type: ResourceType, obj: T): T {
  if (obj.apiVersion && obj.kind) return obj;
  return { ...obj, apiVersion: obj.apiVersion ?? apiVersionOf(type), kind: obj.kind ?? type.kind };
}
