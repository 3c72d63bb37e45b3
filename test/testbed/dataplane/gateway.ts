// The testbed's Gateway API data plane: watches HTTPRoutes, Services and EndpointSlices in the real
// API server and proxies real HTTP requests on 127.0.0.1 according to them (weighted split, request
// mirroring), exporting Prometheus metrics on a separate port.
//
//   node test/testbed/dataplane/gateway.ts --kubeconfig PATH [--listen 127.0.0.1:PORT]
//        [--metrics-listen 127.0.0.1:PORT] [--log-level info]
//   stdout, once listening and synced: {"ready":true,"port":N,"metricsPort":M}
//
// Metrics port: GET /metrics, GET /healthz, GET /readyz, GET /debug/state (routes + endpoints).
import { createServer, request as httpRequest, Agent, type IncomingMessage, type ServerResponse, type Server, type OutgoingHttpHeaders } from 'node:http';
import { pino, type Logger } from 'pino';
import { Counter, Histogram, Registry } from 'prom-client';
import {
  applyHeaderModifiers,
  chooseWeighted,
  compileRoutes,
  matchRequest,
  resolveEndpoints,
  shouldMirror,
  type CompiledRule,
  type Endpoint,
  type EndpointSlice,
  type HTTPRoute,
  type ResolvedBackend,
  type RouteTable,
  type Service,
} from './routing.ts';
import { Reflector, loadKubeConfig, type KubeObject } from './reflector.ts';
import { closeServer, flag, listen, parseFlags, parseListen, printReady, requiredFlag, runMain, spawnUntilReady, type ListenAddress, type SpawnedProcess } from './cli-util.ts';

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

function key(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;
}

/** In-memory view of the cluster objects the gateway routes by. Fed by reflectors (or tests). */
export class GatewayState {
  readonly routes = new Map<string, HTTPRoute>();
  readonly services = new Map<string, Service>();
  readonly slices = new Map<string, EndpointSlice>();
  /** "ns/service" → slice keys */
  private readonly slicesByService = new Map<string, Set<string>>();
  private table: RouteTable | null = null;
  private readonly rr = new Map<string, number>();
  /** Bumped on every change; handy for tests waiting for propagation. */
  generation = 0;

  routeTable(): RouteTable {
    return (this.table ??= compileRoutes(this.routes.values()));
  }

  replaceRoutes(items: HTTPRoute[]): void {
    this.routes.clear();
    for (const r of items) this.routes.set(key(r), r);
    this.changedRoutes();
  }
  upsertRoute(r: HTTPRoute): void {
    this.routes.set(key(r), r);
    this.changedRoutes();
  }
  removeRoute(r: HTTPRoute): void {
    this.routes.delete(key(r));
    this.changedRoutes();
  }
  private changedRoutes(): void {
    this.table = null;
    this.generation++;
  }

  replaceServices(items: Service[]): void {
    this.services.clear();
    for (const s of items) this.services.set(key(s), s);
    this.generation++;
  }
  upsertService(s: Service): void {
    this.services.set(key(s), s);
    this.generation++;
  }
  removeService(s: Service): void {
    this.services.delete(key(s));
    this.generation++;
  }

  replaceSlices(items: EndpointSlice[]): void {
    this.slices.clear();
    this.slicesByService.clear();
    for (const s of items) this.upsertSlice(s);
  }
  upsertSlice(s: EndpointSlice): void {
    const k = key(s);
    const old = this.slices.get(k);
    if (old) this.unindexSlice(k, old);
    this.slices.set(k, s);
    const svc = s.metadata.labels?.[SERVICE_NAME_LABEL];
    if (svc) {
      const sk = `${s.metadata.namespace ?? ''}/${svc}`;
      let set = this.slicesByService.get(sk);
      if (!set) this.slicesByService.set(sk, (set = new Set()));
      set.add(k);
    }
    this.generation++;
  }
  removeSlice(s: EndpointSlice): void {
    const k = key(s);
    const old = this.slices.get(k);
    if (old) this.unindexSlice(k, old);
    this.slices.delete(k);
    this.generation++;
  }
  private unindexSlice(k: string, s: EndpointSlice): void {
    const svc = s.metadata.labels?.[SERVICE_NAME_LABEL];
    if (!svc) return;
    this.slicesByService.get(`${s.metadata.namespace ?? ''}/${svc}`)?.delete(k);
  }

  resolve(b: ResolvedBackend): ReturnType<typeof resolveEndpoints> {
    const sk = `${b.namespace}/${b.name}`;
    const slices: EndpointSlice[] = [];
    for (const k of this.slicesByService.get(sk) ?? []) {
      const s = this.slices.get(k);
      if (s) slices.push(s);
    }
    return resolveEndpoints(this.services.get(sk), slices, b.port);
  }

  /** Round-robin over the backend's ready endpoints. */
  pickEndpoint(b: ResolvedBackend): { endpoint: Endpoint | null; status: number } {
    const res = this.resolve(b);
    if (res.kind === 'no-service' || res.kind === 'no-port') return { endpoint: null, status: 500 };
    if (res.endpoints.length === 0) return { endpoint: null, status: 503 };
    const rk = `${b.namespace}/${b.name}:${b.port ?? ''}`;
    const n = this.rr.get(rk) ?? 0;
    this.rr.set(rk, (n + 1) % 1_000_000_007);
    return { endpoint: res.endpoints[n % res.endpoints.length]!, status: 200 };
  }

  debugState(): unknown {
    const routes = [...this.routes.values()].map((r) => ({
      namespace: r.metadata.namespace,
      name: r.metadata.name,
      resourceVersion: r.metadata.resourceVersion,
      hostnames: r.spec?.hostnames ?? [],
      rules: (r.spec?.rules ?? []).map((rule) => ({
        backends: (rule.backendRefs ?? []).map((b) => {
          const rb: ResolvedBackend = { namespace: b.namespace ?? r.metadata.namespace ?? '', name: b.name, port: b.port, weight: b.weight ?? 1, requestHeaderModifiers: [], responseHeaderModifiers: [], mirrors: [] };
          return { name: b.name, namespace: rb.namespace, port: b.port, weight: rb.weight, endpoints: this.resolve(rb) };
        }),
        mirrors: (rule.filters ?? []).filter((f) => f.type === 'RequestMirror').map((f) => f.requestMirror),
      })),
    }));
    return { generation: this.generation, routes, services: this.services.size, endpointSlices: this.slices.size };
  }
}

export interface GatewayMetrics {
  registry: Registry;
  requests: Counter<'namespace' | 'route' | 'service' | 'code' | 'mirror'>;
  duration: Histogram<'namespace' | 'route' | 'service' | 'mirror'>;
}

export function createGatewayMetrics(): GatewayMetrics {
  const registry = new Registry();
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests proxied by the testbed gateway, by backend Service and status code; mirror="true" for mirrored copies.',
    labelNames: ['namespace', 'route', 'service', 'code', 'mirror'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from receiving a request to the end of the backend response, by backend Service.',
    labelNames: ['namespace', 'route', 'service', 'mirror'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5],
    registers: [registry],
  });
  return { registry, requests, duration };
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

function stripHopByHop(headers: Record<string, string | string[] | undefined>): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  const connection = headers['connection'];
  const extra = new Set(
    (Array.isArray(connection) ? connection.join(',') : (connection ?? ''))
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || extra.has(k)) continue;
    out[k] = v;
  }
  return out;
}

const MAX_MIRROR_BODY = 16 * 1024 * 1024;

export interface GatewayOptions {
  state: GatewayState;
  metrics?: GatewayMetrics;
  logger?: Logger;
  listen?: ListenAddress;
  /** Upstream response timeout (headers), ms. */
  upstreamTimeoutMs?: number;
  rand?: () => number;
}

export interface GatewayServer {
  server: Server;
  port: number;
  metrics: GatewayMetrics;
  close: () => Promise<void>;
}

/** Starts the proxy listener for an already-populated (or reflector-fed) state. */
export async function startProxy(opts: GatewayOptions): Promise<GatewayServer> {
  const { state } = opts;
  const metrics = opts.metrics ?? createGatewayMetrics();
  const log = opts.logger ?? pino({ level: 'silent' });
  const rand = opts.rand ?? Math.random;
  const timeoutMs = opts.upstreamTimeoutMs ?? 30_000;
  const agent = new Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 64 });

  const record = (rule: CompiledRule | null, service: string, code: number, mirror: boolean, startedNs: bigint): void => {
    const namespace = rule?.routeNamespace ?? '';
    const route = rule?.routeName ?? '';
    metrics.requests.inc({ namespace, route, service, code: String(code), mirror: String(mirror) });
    if (rule) metrics.duration.observe({ namespace, route, service, mirror: String(mirror) }, Number(process.hrtime.bigint() - startedNs) / 1e9);
  };

  const sendMirror = (rule: CompiledRule, backend: ResolvedBackend, req: IncomingMessage, headers: Record<string, string | string[] | undefined>, body: Buffer): void => {
    const started = process.hrtime.bigint();
    if (backend.invalid) {
      record(rule, backend.name, 500, true, started);
      return;
    }
    const { endpoint, status } = state.pickEndpoint(backend);
    if (!endpoint) {
      record(rule, backend.name, status, true, started);
      return;
    }
    const h: OutgoingHttpHeaders = { ...headers, 'content-length': String(body.length) };
    const up = httpRequest({ host: endpoint.host, port: endpoint.port, method: req.method, path: req.url, headers: h, agent });
    up.setTimeout(timeoutMs, () => up.destroy(new Error('mirror timeout')));
    up.on('response', (r) => {
      r.resume();
      r.on('end', () => record(rule, backend.name, r.statusCode ?? 0, true, started));
      r.on('error', () => undefined);
    });
    up.on('error', (err) => {
      log.debug({ err: err.message, service: backend.name }, 'mirror request failed');
      record(rule, backend.name, 503, true, started);
    });
    up.end(body);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const started = process.hrtime.bigint();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    const query = q >= 0 ? url.slice(q + 1) : '';
    const rule = matchRequest(state.routeTable(), { host: req.headers.host ?? '', method: req.method ?? 'GET', path, query, headers: req.headers });
    const reply = (code: number, msg: string, service: string): void => {
      record(rule, service, code, false, started);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(msg + '\n');
      req.resume();
    };
    if (!rule) {
      reply(404, 'no matching HTTPRoute', '');
      return;
    }
    const backend = chooseWeighted(rule.backends, rand);
    if (!backend) {
      reply(500, 'no backendRef with weight > 0', '');
      return;
    }
    if (backend.invalid) {
      reply(500, `invalid backendRef: ${backend.invalid}`, backend.name);
      return;
    }
    const { endpoint, status } = state.pickEndpoint(backend);
    if (!endpoint) {
      reply(status, status === 503 ? `no ready endpoints for ${backend.namespace}/${backend.name}` : `backend Service ${backend.namespace}/${backend.name} port ${backend.port} not found`, backend.name);
      return;
    }

    const headers = stripHopByHop(req.headers);
    const xff = headers['x-forwarded-for'];
    headers['x-forwarded-for'] = xff ? `${Array.isArray(xff) ? xff.join(', ') : xff}, ${req.socket.remoteAddress ?? ''}` : (req.socket.remoteAddress ?? '');
    headers['x-forwarded-proto'] = 'http';
    if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;
    applyHeaderModifiers(headers, rule.requestHeaderModifiers);
    applyHeaderModifiers(headers, backend.requestHeaderModifiers);

    const mirrors = [...rule.mirrors, ...backend.mirrors].filter((m) => shouldMirror(m.share, rand));

    const forward = (body: Buffer | null): void => {
      const h: OutgoingHttpHeaders = { ...headers };
      if (body) {
        h['content-length'] = String(body.length);
      } else if (req.headers['transfer-encoding'] && !req.headers['content-length']) {
        h['transfer-encoding'] = 'chunked';
      }
      const up = httpRequest({ host: endpoint.host, port: endpoint.port, method: req.method, path: url, headers: h, agent });
      let done = false;
      up.setTimeout(timeoutMs, () => up.destroy(Object.assign(new Error('upstream timeout'), { code: 'ETIMEDOUT' })));
      up.on('response', (r) => {
        const code = r.statusCode ?? 502;
        const out = stripHopByHop(r.headers);
        applyHeaderModifiers(out, rule.responseHeaderModifiers);
        applyHeaderModifiers(out, backend.responseHeaderModifiers);
        res.writeHead(code, r.statusMessage, out as OutgoingHttpHeaders);
        r.pipe(res);
        r.on('end', () => {
          if (done) return;
          done = true;
          record(rule, backend.name, code, false, started);
        });
        r.on('error', () => res.destroy());
      });
      up.on('error', (err: NodeJS.ErrnoException) => {
        if (done) return;
        done = true;
        log.debug({ err: err.message, service: backend.name }, 'upstream request failed');
        reply(err.code === 'ETIMEDOUT' ? 504 : 503, `upstream error: ${err.message}`, backend.name);
      });
      res.on('close', () => {
        if (!res.writableFinished) up.destroy();
      });
      if (body) up.end(body);
      else req.pipe(up);
    };

    if (mirrors.length === 0) {
      forward(null);
      return;
    }
    // Buffer the body once so the primary and every mirror get a full copy.
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_MIRROR_BODY) chunks.push(c);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (size > MAX_MIRROR_BODY) {
        reply(413, 'request body too large to mirror', backend.name);
        return;
      }
      const body = Buffer.concat(chunks);
      forward(body);
      for (const m of mirrors) sendMirror(rule, m.backend, req, headers, body);
    });
  };

  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      log.error({ err }, 'request handler failed');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    }
  });
  const port = await listen(server, opts.listen ?? { host: '127.0.0.1', port: 0 });
  return {
    server,
    port,
    metrics,
    close: async () => {
      await closeServer(server);
      agent.destroy();
    },
  };
}

export interface GatewayHandle {
  port: number;
  metricsPort: number;
  state: GatewayState;
  metrics: GatewayMetrics;
  stop: () => Promise<void>;
}

/** Starts reflectors against the API server, the proxy and the metrics listener (in-process). */
export async function startGateway(opts: { kubeconfig?: string; listen?: ListenAddress; metricsListen?: ListenAddress; logger?: Logger }): Promise<GatewayHandle> {
  const log = opts.logger ?? pino({ level: 'silent' });
  const kc = loadKubeConfig(opts.kubeconfig);
  const state = new GatewayState();
  const rlog = (msg: string, fields?: Record<string, unknown>): void => log.warn(fields ?? {}, msg);
  const reflectors = [
    new Reflector<HTTPRoute>(kc, { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', watchPath: '/apis/gateway.networking.k8s.io/v1/httproutes' }, {
      replace: (i) => state.replaceRoutes(i),
      upsert: (o) => state.upsertRoute(o),
      remove: (o) => state.removeRoute(o),
      log: rlog,
    }),
    new Reflector<Service>(kc, { apiVersion: 'v1', kind: 'Service', watchPath: '/api/v1/services' }, {
      replace: (i) => state.replaceServices(i),
      upsert: (o) => state.upsertService(o),
      remove: (o) => state.removeService(o),
      log: rlog,
    }),
    new Reflector<EndpointSlice>(kc, { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', watchPath: '/apis/discovery.k8s.io/v1/endpointslices' }, {
      replace: (i) => state.replaceSlices(i),
      upsert: (o) => state.upsertSlice(o),
      remove: (o) => state.removeSlice(o),
      log: rlog,
    }),
  ];
  for (const r of reflectors) r.start();
  let synced = false;
  const syncedP = Promise.all(reflectors.map((r) => r.synced)).then(() => {
    synced = true;
  });

  const metrics = createGatewayMetrics();
  const proxy = await startProxy({ state, metrics, logger: log, listen: opts.listen });
  const metricsServer = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    } else if (path === '/healthz') {
      res.writeHead(200).end('ok\n');
    } else if (path === '/readyz') {
      res.writeHead(synced ? 200 : 503).end(synced ? 'ok\n' : 'not synced\n');
    } else if (path === '/debug/state') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(state.debugState(), null, 2));
    } else {
      res.writeHead(404).end();
    }
  });
  // Listen for metrics only once synced: the testbed treats a 200 on /metrics as "gateway ready".
  await syncedP;
  const metricsPort = await listen(metricsServer, opts.metricsListen ?? { host: '127.0.0.1', port: 0 });
  log.info({ port: proxy.port, metricsPort }, 'gateway synced and listening');
  return {
    port: proxy.port,
    metricsPort,
    state,
    metrics,
    stop: async () => {
      for (const r of reflectors) r.stop();
      await Promise.all([proxy.close(), closeServer(metricsServer)]);
    },
  };
}

export interface GatewayReady {
  ready: true;
  port: number;
  metricsPort: number;
}

/** Spawns the gateway as a child process and waits for its ready line. */
export function spawnGateway(opts: { kubeconfig: string; listen?: string; metricsListen?: string; logLevel?: string; onStderr?: (line: string) => void; timeoutMs?: number }): Promise<SpawnedProcess<GatewayReady>> {
  const args = ['--kubeconfig', opts.kubeconfig, '--listen', opts.listen ?? '127.0.0.1:0', '--metrics-listen', opts.metricsListen ?? '127.0.0.1:0'];
  if (opts.logLevel) args.push('--log-level', opts.logLevel);
  return spawnUntilReady<GatewayReady>(new URL(import.meta.url).pathname, args, { timeoutMs: opts.timeoutMs ?? 60_000, onStderr: opts.onStderr });
}

if (import.meta.main) {
  runMain(async () => {
    const flags = parseFlags(process.argv.slice(2));
    const logger = pino({ level: flag(flags, 'log-level') ?? 'info', base: { component: 'testbed-gateway' } }, pino.destination(2));
    const handle = await startGateway({
      kubeconfig: requiredFlag(flags, 'kubeconfig'),
      listen: parseListen(flag(flags, 'listen')),
      metricsListen: parseListen(flag(flags, 'metrics-listen')),
      logger,
    });
    printReady({ port: handle.port, metricsPort: handle.metricsPort });
    return { stop: handle.stop };
  });
}
