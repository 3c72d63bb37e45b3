// The HTTP under KubeClient: connections to the API server (TLS from the kubeconfig, bounded
// keep-alive pools, the kubeconfig's `proxy-url`), credentials (./kubeconfig.ts, cached briefly
// and re-read once on a 401), the user agent, the rest_client_* metrics, and the API server's
// throttling (a 429 is retried after its Retry-After). Errors leave here as KubeApiError.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpProxyAgent, HttpsProxyAgent } from 'hpagent';
import { SocksProxyAgent } from 'socks-proxy-agent';
import type { KubeConfigFile } from './kubeconfig.ts';
import { counter, histogram, registry as defaultRegistry, type Registry } from '../runtime/metrics.ts';
import { KubeApiError } from './errors.ts';
import pkg from '../../../package.json' with { type: 'json' };

/** The package version, for the user agent (an import, so the bundle (operator/build.ts) carries it too). */
export const USER_AGENT = `cutover/${pkg.version}`;

// Credentials from exec plugins or token files can rotate; re-read them this often.
const AUTH_TTL_MS = 60_000;

/**
 * Attempts of a request the API server throttles (429 with Retry-After, API priority and
 * fairness): client-go's default (rest.Request maxRetries 10). A 429 means the request was not
 * served, so every verb may be sent again.
 */
const THROTTLED_ATTEMPTS = 10;

interface Auth {
  headers: Record<string, string>;
  basic: string | undefined;
  at: number;
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestSpec {
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

export interface TransportOptions {
  /** Default `cutover/<package version>`. */
  userAgent?: string | undefined;
  /** Connections for requests (watches and background work have their own); default 32. */
  maxConnections?: number | undefined;
  /** Timeout of a non-watch request; default 30 s. */
  requestTimeoutMs?: number | undefined;
  /** Registry for the rest_client_* metrics; default the process registry. */
  registry?: Registry | undefined;
}

export class Transport {
  /** The API server URL. */
  readonly server: string;
  readonly userAgent: string;
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

  constructor(kc: KubeConfigFile, opts: TransportOptions = {}) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error(`kubeconfig context "${kc.getCurrentContext()}" has no cluster`);
    this.#kc = kc;
    this.server = cluster.server;
    this.#base = new URL(cluster.server.endsWith('/') ? cluster.server : `${cluster.server}/`);
    this.userAgent = opts.userAgent ?? USER_AGENT;
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
    const agent = newAgent(secure, cluster.proxyUrl, tls);
    this.#agent = agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
    this.#watchAgent = agent({ keepAlive: true, maxFreeSockets: 4 });
    this.#backgroundAgent = agent({ keepAlive: true, maxSockets: 4, maxFreeSockets: 4 });
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

  /** Closes idle keep-alive connections (open watches end when their signal is aborted). */
  close(): void {
    this.#agent.destroy();
    this.#watchAgent.destroy();
    this.#backgroundAgent.destroy();
  }

  /** Sends a request and parses the JSON answer (undefined for an empty body). */
  async json<T>(spec: RequestSpec): Promise<T> {
    const res = await this.send(spec);
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /**
   * Sends a request; resolves with a 2xx response, throws KubeApiError otherwise. A 429 with a
   * Retry-After is sent again after that many seconds (THROTTLED_ATTEMPTS in all; `signal` ends
   * the wait); a 401 once after reading the credentials again (a rotated token).
   */
  async send(spec: RequestSpec): Promise<http.IncomingMessage> {
    let retriedAuth = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#sendOnce(spec);
      } catch (err) {
        if (!(err instanceof KubeApiError)) throw err;
        if (err.code === 401 && !retriedAuth) {
          retriedAuth = true;
          this.#auth = undefined;
          continue;
        }
        if (err.code === 429 && err.retryAfterSeconds !== undefined && attempt < THROTTLED_ATTEMPTS) {
          await sleep(Math.max(0, err.retryAfterSeconds) * 1000, undefined, spec.signal ? { signal: spec.signal } : {});
          continue;
        }
        throw err;
      }
    }
  }

  async #sendOnce(spec: RequestSpec): Promise<http.IncomingMessage> {
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

/**
 * Agents for the API server: direct, or through the cluster's `proxy-url` as client-node does
 * (`socks*://` through SOCKS; otherwise an HTTP proxy, CONNECT tunnelling to the server).
 */
function newAgent(secure: boolean, proxyUrl: string | undefined, tls: https.AgentOptions): (opts: http.AgentOptions) => http.Agent {
  if (!proxyUrl) return (opts) => (secure ? new https.Agent({ ...opts, ...tls }) : new http.Agent(opts));
  if (proxyUrl.startsWith('socks')) return (opts) => new SocksProxyAgent(proxyUrl, { ...opts, ...tls });
  return (opts) => (secure ? new HttpsProxyAgent({ ...opts, ...tls, proxy: proxyUrl }) : new HttpProxyAgent({ ...opts, proxy: proxyUrl }));
}

function fileOrData(file?: string, data?: string): Buffer | undefined {
  if (file) return readFileSync(file);
  if (data) return Buffer.from(data, 'base64');
  return undefined;
}
