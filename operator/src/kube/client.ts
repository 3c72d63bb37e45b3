// A thin, typed client for the Kubernetes API. Configuration and authentication come from
// client-node's kubeconfig parts (./kubeconfig.ts: kubeconfig file, context, in-cluster service
// account, exec plugins, token files; other auth providers through the full KubeConfig);
// the HTTP is done here with node:https over one keep-alive agent, so that every request carries
// our user agent and metrics and watches stream without extra layers.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { StringDecoder } from 'node:string_decoder';
import { KubeConfigFile } from './kubeconfig.ts';
import { counter, histogram, registry as defaultRegistry, type Registry } from '../runtime/metrics.ts';
import { KubeApiError } from './errors.ts';
import { apiVersionOf, type KubeObject, type ResourceType } from './resources.ts';

export const DEFAULT_FIELD_MANAGER = 'cutover';

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

/** The package version, for the user agent. */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export const USER_AGENT = `cutover/${packageVersion()}`;

// Credentials from exec plugins or token files can rotate; re-read them this often.
const AUTH_TTL_MS = 60_000;

interface Auth {
  headers: Record<string, string>;
  basic: string | undefined;
  at: number;
}

type Query = Record<string, string | number | boolean | undefined>;

interface RequestSpec {
  background?: boolean | undefined;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Query;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** The verb for metrics (LIST, WATCH, APPLY, …); default the method. */
  verb: string;
}

export class KubeClient {
  /** The API server URL. */
  readonly server: string;
  /** The namespace of the current context (or the pod's), `default` otherwise. */
  readonly defaultNamespace: string;
  readonly userAgent: string;
  readonly fieldManager: string;
  readonly #kc: KubeConfigFile;
  readonly #base: URL;
  readonly #agent: http.Agent;
  readonly #watchAgent: http.Agent;
  readonly #backgroundAgent: http.Agent;
  readonly #transport: typeof http | typeof https;
  readonly #timeoutMs: number;
  readonly #requests;
  readonly #duration;
  #auth: Auth | undefined;
  #authPending: Promise<Auth> | undefined;

  private constructor(kc: KubeConfigFile, defaultNamespace: string, opts: KubeClientOptions) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error(`kubeconfig context "${kc.getCurrentContext()}" has no cluster`);
    this.#kc = kc;
    this.server = cluster.server;
    this.#base = new URL(cluster.server.endsWith('/') ? cluster.server : `${cluster.server}/`);
    this.defaultNamespace = defaultNamespace;
    this.userAgent = opts.userAgent ?? USER_AGENT;
    this.fieldManager = opts.fieldManager ?? DEFAULT_FIELD_MANAGER;
    this.#timeoutMs = opts.requestTimeoutMs ?? 30_000;
    const secure = this.#base.protocol === 'https:';
    this.#transport = secure ? https : http;
    // TLS material is static for the process; one keep-alive agent holds every connection.
    const tls: https.AgentOptions = {};
    const user = kc.getCurrentUser();
    if (cluster.skipTLSVerify) tls.rejectUnauthorized = false;
    if (cluster.tlsServerName) tls.servername = cluster.tlsServerName;
    const ca = fileOrData(cluster.caFile, cluster.caData);
    if (ca) tls.ca = ca;
    const cert = fileOrData(user?.certFile, user?.certData);
    if (cert) tls.cert = cert;
    const key = fileOrData(user?.keyFile, user?.keyData);
    if (key) tls.key = key;
    // Requests share a bounded pool of keep-alive connections; each watch holds a connection for
    // its lifetime, so watches get a pool of their own and can never starve requests (or the reverse).
    const maxSockets = Math.max(1, opts.maxConnections ?? 32);
    this.#agent = secure
      ? new https.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, ...tls })
      : new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
    this.#watchAgent = secure ? new https.Agent({ keepAlive: true, maxFreeSockets: 4, ...tls }) : new http.Agent({ keepAlive: true, maxFreeSockets: 4 });
    const bg = { keepAlive: true, maxSockets: 4, maxFreeSockets: 4 };
    this.#backgroundAgent = secure ? new https.Agent({ ...bg, ...tls }) : new http.Agent(bg);
    const reg = opts.registry ?? defaultRegistry;
    this.#requests = counter<'code' | 'method' | 'host'>({
      name: 'rest_client_requests_total',
      help: 'Number of HTTP requests to the Kubernetes API, partitioned by status code, method, and host',
      labelNames: ['code', 'method', 'host'],
      registry: reg,
    });
    this.#duration = histogram<'verb' | 'host'>({
      name: 'rest_client_request_duration_seconds',
      help: 'Request latency to the Kubernetes API in seconds, by verb and host (watches: time to headers)',
      labelNames: ['verb', 'host'],
      registry: reg,
    });
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
    this.#agent.destroy();
    this.#watchAgent.destroy();
    this.#backgroundAgent.destroy();
  }

  /** The object, or undefined if it does not exist (404). */
  async get<T extends KubeObject = KubeObject>(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    opts: GetOptions = {},
  ): Promise<T | undefined> {
    try {
      return await this.#json<T>({ method: 'GET', verb: 'GET', path: this.path(type, namespace, name, opts.subresource) });
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 404) return undefined;
      throw err;
    }
  }

  /** All objects (every page), with the resourceVersion to start a watch from. */
  async list<T extends KubeObject = KubeObject>(type: ResourceType, opts: ListOptions = {}): Promise<ListResult<T>> {
    const items: T[] = [];
    let resourceVersion = '';
    let cont: string | undefined;
    const apiVersion = apiVersionOf(type);
    do {
      const page = await this.#json<{ metadata?: { resourceVersion?: string; continue?: string }; items?: T[] }>({
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
      for (const item of page.items ?? []) {
        // List items come without apiVersion/kind; fill them so objects look the same everywhere.
        item.apiVersion ??= apiVersion;
        item.kind ??= type.kind;
        items.push(item);
      }
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return { items, resourceVersion };
  }

  async create<T extends KubeObject = KubeObject>(type: ResourceType, obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.#json<T>({
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
    return this.#json<T>({
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
      await this.#json({
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
    return this.#json<T>({
      method: 'PATCH',
      verb: 'PATCH',
      path: this.path(type, namespace, name, opts.subresource),
      query: this.#writeQuery(opts),
      body: patch,
      contentType: 'application/merge-patch+json',
      background: opts.background,
    });
  }

  /** JSON patch (RFC 6902); a `test` op makes the patch conditional. */
  async jsonPatch<T extends KubeObject = KubeObject>(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    ops: readonly JsonPatchOperation[],
    opts: WriteOptions = {},
  ): Promise<T> {
    return this.#json<T>({
      method: 'PATCH',
      verb: 'PATCH',
      path: this.path(type, namespace, name, opts.subresource),
      query: this.#writeQuery(opts),
      body: ops,
      contentType: 'application/json-patch+json',
    });
  }

  /**
   * Server-side apply: `obj` states exactly the fields this field manager owns (fields it owned
   * before and leaves out are removed). Unknown fields are rejected (`fieldValidation=Strict`).
   * With `subresource: 'status'` only status is applied.
   */
  async apply<T extends KubeObject = KubeObject>(type: ResourceType, obj: KubeObject, opts: ApplyOptions = {}): Promise<T> {
    return this.#json<T>({
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
   * Streams changes. Asks for bookmarks; an ERROR event (e.g. 410 Expired: resourceVersion too
   * old) is thrown as a KubeApiError. The stream ends normally when the server's timeout is up.
   * Breaking out of the loop or aborting `signal` closes the connection.
   */
  async *watch<T extends KubeObject = KubeObject>(type: ResourceType, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
    const abort = new AbortController();
    const onAbort = () => abort.abort(opts.signal?.reason);
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const path = this.path(type, opts.namespace);
    const request = `WATCH ${path}`;
    try {
      const res = await this.#send({
        method: 'GET',
        verb: 'WATCH',
        path,
        query: {
          watch: 'true',
          allowWatchBookmarks: opts.allowWatchBookmarks ?? true,
          resourceVersion: opts.resourceVersion,
          labelSelector: opts.labelSelector,
          fieldSelector: opts.fieldSelector,
          timeoutSeconds: opts.timeoutSeconds ?? Math.floor(300 * (1 + Math.random())),
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

  /** The URL path of a collection, an object, or an object's subresource. */
  path(type: ResourceType, namespace?: string, name?: string, subresource?: string): string {
    let p = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
    if (type.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
    p += `/${type.plural}`;
    if (name !== undefined) p += `/${encodeURIComponent(name)}`;
    if (subresource) p += `/${subresource}`;
    return p;
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

  async #json<T>(spec: RequestSpec): Promise<T> {
    const res = await this.#send(spec);
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Sends a request; resolves with a 2xx response, throws KubeApiError otherwise. */
  async #send(spec: RequestSpec, retriedAuth = false): Promise<http.IncomingMessage> {
    const auth = await this.#authentication();
    const url = new URL(spec.path.slice(1), this.#base);
    for (const [k, v] of Object.entries(spec.query ?? {})) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    const body = spec.body === undefined ? undefined : Buffer.from(JSON.stringify(spec.body));
    const request = `${spec.verb} ${spec.path}`;
    const watching = spec.verb === 'WATCH';
    const started = performance.now();
    const host = this.#base.host;
    let res: http.IncomingMessage;
    try {
      res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = this.#transport.request(url, {
          method: spec.method,
          agent: watching ? this.#watchAgent : spec.background ? this.#backgroundAgent : this.#agent,
          headers: {
            ...auth.headers,
            'User-Agent': this.userAgent,
            Accept: 'application/json',
            ...(body ? { 'Content-Type': spec.contentType ?? 'application/json', 'Content-Length': body.length } : {}),
          },
          ...(auth.basic ? { auth: auth.basic } : {}),
          ...(spec.signal ? { signal: spec.signal } : {}),
        });
        if (!watching) {
          req.setTimeout(this.#timeoutMs, () => req.destroy(Object.assign(new Error(`no answer in ${this.#timeoutMs} ms`), { code: 'ETIMEDOUT' })));
        }
        req.once('response', resolve);
        req.once('error', reject);
        req.end(body);
      });
    } catch (err) {
      this.#requests.inc({ code: '<error>', method: spec.method, host });
      if (spec.signal?.aborted) throw err;
      throw KubeApiError.fromNetworkError(err, request);
    }
    this.#duration.observe({ verb: spec.verb, host }, (performance.now() - started) / 1000);
    const code = res.statusCode ?? 0;
    this.#requests.inc({ code: String(code), method: spec.method, host });
    if (code >= 200 && code < 300) return res;
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of res) chunks.push(chunk as Buffer);
    } catch {
      // keep what arrived
    }
    if (code === 401 && !retriedAuth) {
      // A rotated token: read credentials again once.
      this.#auth = undefined;
      return this.#send(spec, true);
    }
    const retryAfter = res.headers['retry-after'];
    throw KubeApiError.fromResponse(code, Buffer.concat(chunks).toString('utf8'), Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, request);
  }

  /** Authorization headers from the kubeconfig (token, exec plugin, token file), cached briefly. */
  async #authentication(): Promise<Auth> {
    if (this.#auth && performance.now() - this.#auth.at < AUTH_TTL_MS) return this.#auth;
    this.#authPending ??= this.#readAuthentication().finally(() => {
      this.#authPending = undefined;
    });
    this.#auth = await this.#authPending;
    return this.#auth;
  }

  async #readAuthentication(): Promise<Auth> {
    const { headers, basic } = await this.#kc.credentials();
    return { headers, basic, at: performance.now() };
  }
}

function fileOrData(file?: string, data?: string): Buffer | undefined {
  if (file) return readFileSync(file);
  if (data) return Buffer.from(data, 'base64');
  return undefined;
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
