// A configurable HTTP backend for the testbed: answers every request with 200 and
// {"service", "path", "version", ...extra} except a share of injected 5xx, after a configurable
// latency. For parity tests it answers like an API with controlled differences: with `listing`, a
// GET of /listings/<n> answers the listing document of n ({id, title, price, score, tags}, the same
// on every backend), `noiseFields` get a new random value on every answer (timestamps, request ids),
// each of `mutations` changes a field on a share of the answers (a wrong price on 10%, a score 2%
// off), and `reorderShare` reverses the tags array on a share of the answers.
// Admin API (not counted, no latency/errors):
//   GET  /__admin/config                       → current config
//   POST /__admin/config  {errorRate?, latencyMs?, jitterMs?, errorStatus?, version?, body?, listing?, noiseFields?, mutations?, reorderShare?}
//   POST /__admin/gauge   {name, value, labels?}  sets a gauge exported on /metrics
//   GET  /__admin/stats                        → {total, byCode, recent: [{method, path, bytes, at}]}
//   POST /__admin/stats/reset
//   GET  /metrics                              → backend_requests_total{code} + the gauges
//
//   node test/testbed/dataplane/backend.ts --name NAME [--listen 127.0.0.1:PORT] [--error-rate 0..1]
//        [--latency-ms N] [--jitter-ms N] [--error-status 500] [--version v1] [--listing]
//   stdout when listening: {"ready":true,"port":N}
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import { closeServer, flag, listen, numberFlag, parseFlags, parseListen, printReady, requiredFlag, runMain, spawnUntilReady, type SpawnedProcess } from './cli-util.ts';

export interface BackendConfig {
  /** Share of requests answered with `errorStatus`, 0..1. */
  errorRate: number;
  errorStatus: number;
  latencyMs: number;
  /** Uniform jitter in [-jitterMs, +jitterMs] added to latencyMs (never below 0). */
  jitterMs: number;
  version: string;
  /** Extra fields merged into every JSON answer. */
  body: Record<string, unknown>;
  /** GET /listings/<n> answers the listing document of n (the same on every backend). */
  listing: boolean;
  /** Fields set to a new random value on every answer (noise). */
  noiseFields: string[];
  /** On `share` of the answers, a numeric `field` is multiplied by `factor` (a string one gets "!" appended). */
  mutations: Array<{ field: string; share: number; factor: number }>;
  /** Share of the answers whose `tags` array is reversed. */
  reorderShare: number;
}

/** The listing document of /listings/<id>: what both the legacy and the new service answer. */
export function listingDocument(id: number): Record<string, unknown> {
  return { id, title: `Listing ${id}`, price: Math.round((id * 7.3 + 10) * 100) / 100, score: Math.round((0.5 + (id % 50) / 100) * 10000) / 10000, tags: ['new', `area-${id % 7}`, `rooms-${(id % 4) + 1}`], seller: { id: 1000 + (id % 13), rating: 4.5 } };
}

export interface BackendOptions extends Partial<BackendConfig> {
  name: string;
  host?: string;
  port?: number;
}

export interface BackendStats {
  total: number;
  byCode: Record<string, number>;
  /** Requests by method (GET, POST, ...). */
  byMethod: Record<string, number>;
  /** Requests carrying X-Cutover-Parity (a parity comparator's replays), by method. */
  parityReplays: Record<string, number>;
  recent: Array<{ method: string; path: string; bytes: number; at: number }>;
}

export interface BackendHandle {
  name: string;
  host: string;
  port: number;
  url: string;
  config: () => BackendConfig;
  setConfig: (patch: Partial<BackendConfig>) => BackendConfig;
  setGauge: (name: string, value: number, labels?: Record<string, string>) => void;
  stats: () => BackendStats;
  resetStats: () => void;
  registry: Registry;
  close: () => Promise<void>;
}

const RECENT = 200;

function validatePatch(p: unknown): Partial<BackendConfig> {
  if (!p || typeof p !== 'object' || Array.isArray(p)) throw new Error('config must be a JSON object');
  const o = p as Record<string, unknown>;
  const out: Partial<BackendConfig> = {};
  const num = (k: string, min: number, max: number): number | undefined => {
    if (o[k] === undefined) return undefined;
    const v = o[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new Error(`${k} must be a number in [${min}, ${max}]`);
    return v;
  };
  const er = num('errorRate', 0, 1);
  if (er !== undefined) out.errorRate = er;
  const es = num('errorStatus', 100, 599);
  if (es !== undefined) out.errorStatus = Math.trunc(es);
  const l = num('latencyMs', 0, 600_000);
  if (l !== undefined) out.latencyMs = l;
  const j = num('jitterMs', 0, 600_000);
  if (j !== undefined) out.jitterMs = j;
  if (o['version'] !== undefined) {
    if (typeof o['version'] !== 'string') throw new Error('version must be a string');
    out.version = o['version'];
  }
  if (o['body'] !== undefined) {
    if (!o['body'] || typeof o['body'] !== 'object' || Array.isArray(o['body'])) throw new Error('body must be a JSON object');
    out.body = o['body'] as Record<string, unknown>;
  }
  if (o['listing'] !== undefined) {
    if (typeof o['listing'] !== 'boolean') throw new Error('listing must be a boolean');
    out.listing = o['listing'];
  }
  if (o['noiseFields'] !== undefined) {
    if (!Array.isArray(o['noiseFields']) || !o['noiseFields'].every((f) => typeof f === 'string')) throw new Error('noiseFields must be a list of field names');
    out.noiseFields = o['noiseFields'] as string[];
  }
  if (o['mutations'] !== undefined) {
    const m = o['mutations'];
    if (!Array.isArray(m) || !m.every((x: unknown) => {
      const y = x as Record<string, unknown>;
      return y !== null && typeof y === 'object' && typeof y.field === 'string' && typeof y.share === 'number' && y.share >= 0 && y.share <= 1 && (y.factor === undefined || typeof y.factor === 'number');
    })) throw new Error('mutations must be a list of {field, share: 0..1, factor?}');
    out.mutations = (m as Array<{ field: string; share: number; factor?: number }>).map((x) => ({ field: x.field, share: x.share, factor: x.factor ?? 1.1 }));
  }
  const ro = num('reorderShare', 0, 1);
  if (ro !== undefined) out.reorderShare = ro;
  return out;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Starts a backend in this process. */
export async function startBackend(opts: BackendOptions): Promise<BackendHandle> {
  const config: BackendConfig = {
    errorRate: opts.errorRate ?? 0,
    errorStatus: opts.errorStatus ?? 500,
    latencyMs: opts.latencyMs ?? 0,
    jitterMs: opts.jitterMs ?? 0,
    version: opts.version ?? 'v1',
    body: opts.body ?? {},
    listing: opts.listing ?? false,
    noiseFields: opts.noiseFields ?? [],
    mutations: opts.mutations ?? [],
    reorderShare: opts.reorderShare ?? 0,
  };
  Object.assign(config, validatePatch(config));
  const registry = new Registry();
  const requests = new Counter({ name: 'backend_requests_total', help: 'Requests served by this testbed backend, by status code.', labelNames: ['code'] as const, registers: [registry] });
  const gauges = new Map<string, { gauge: Gauge<string>; labelNames: string[] }>();
  let stats: BackendStats = { total: 0, byCode: {}, byMethod: {}, parityReplays: {}, recent: [] };

  const setGauge = (name: string, value: number, labels: Record<string, string> = {}): void => {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`invalid metric name ${JSON.stringify(name)}`);
    if (name === 'backend_requests_total') throw new Error('reserved metric name');
    if (typeof value !== 'number' || Number.isNaN(value)) throw new Error('value must be a number');
    const labelNames = Object.keys(labels).sort();
    let g = gauges.get(name);
    if (!g) {
      g = { gauge: new Gauge({ name, help: `Test gauge ${name} set via /__admin/gauge.`, labelNames, registers: [registry] }), labelNames };
      gauges.set(name, g);
    } else if (g.labelNames.join(',') !== labelNames.join(',')) {
      throw new Error(`gauge ${name} has labels [${g.labelNames.join(', ')}], got [${labelNames.join(', ')}]`);
    }
    if (labelNames.length) g.gauge.set(labels, value);
    else g.gauge.set(value);
  };

  const admin = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    if (path === '/__admin/config' && req.method === 'GET') return json(res, 200, config);
    if (path === '/__admin/config' && req.method === 'POST') {
      Object.assign(config, validatePatch(JSON.parse((await readBody(req)).toString() || '{}')));
      return json(res, 200, config);
    }
    if (path === '/__admin/gauge' && req.method === 'POST') {
      const b = JSON.parse((await readBody(req)).toString() || '{}') as { name?: unknown; value?: unknown; labels?: unknown };
      if (typeof b.name !== 'string' || typeof b.value !== 'number') throw new Error('expected {name: string, value: number, labels?: object}');
      const labels = (b.labels ?? {}) as Record<string, unknown>;
      setGauge(b.name, b.value, Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)])));
      return json(res, 200, { ok: true });
    }
    if (path === '/__admin/stats' && req.method === 'GET') return json(res, 200, stats);
    if (path === '/__admin/stats/reset' && req.method === 'POST') {
      stats = { total: 0, byCode: {}, byMethod: {}, parityReplays: {}, recent: [] };
      return json(res, 200, { ok: true });
    }
    return json(res, 404, { error: 'unknown admin endpoint' });
  };

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? '/';
    const path = url.split('?')[0] ?? '/';
    if (path.startsWith('/__admin/')) {
      try {
        await admin(req, res, path);
      } catch (err) {
        json(res, 400, { error: err instanceof Error ? err.message : String(err) });
      }
      return;
    }
    if (path === '/metrics' && req.method === 'GET') {
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType }).end(text);
      return;
    }
    const body = await readBody(req);
    const delay = Math.max(0, config.latencyMs + (config.jitterMs > 0 ? (Math.random() * 2 - 1) * config.jitterMs : 0));
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    const fail = config.errorRate > 0 && Math.random() < config.errorRate;
    const code = fail ? config.errorStatus : 200;
    stats.total++;
    stats.byCode[String(code)] = (stats.byCode[String(code)] ?? 0) + 1;
    stats.byMethod[req.method ?? 'GET'] = (stats.byMethod[req.method ?? 'GET'] ?? 0) + 1;
    if (req.headers['x-cutover-parity'] !== undefined) stats.parityReplays[req.method ?? 'GET'] = (stats.parityReplays[req.method ?? 'GET'] ?? 0) + 1;
    stats.recent.push({ method: req.method ?? 'GET', path: url, bytes: body.length, at: Date.now() });
    if (stats.recent.length > RECENT) stats.recent.shift();
    requests.inc({ code: String(code) });
    // Listing mode: /listings/<n> (also under a version prefix, /v1/listings/<n>) and the collection /listings.
    const listingId = config.listing ? /^(?:\/v\d+)?\/listings\/(\d+)$/.exec(path)?.[1] : undefined;
    const listingIndex = config.listing && /^(?:\/v\d+)?\/listings\/?$/.test(path);
    let payload: Record<string, unknown>;
    if (fail) payload = { ...config.body, service: opts.name, path: url, version: config.version, error: 'injected failure' };
    else if (listingId !== undefined) payload = { ...listingDocument(Number(listingId)), ...config.body };
    else if (listingIndex) payload = { items: [1, 2, 3].map(listingDocument), total: 3, ...config.body };
    else payload = { ...config.body, service: opts.name, path: url, version: config.version };
    if (!fail) {
      for (const f of config.noiseFields) payload[f] = f.toLowerCase().includes('at') ? new Date(Date.now() - Math.floor(Math.random() * 1e6)).toISOString() : Math.random().toString(36).slice(2);
      for (const m of config.mutations) {
        if (Math.random() >= m.share || !(m.field in payload)) continue;
        const v = payload[m.field];
        payload[m.field] = typeof v === 'number' ? Math.round(v * m.factor * 10000) / 10000 : `${String(v)}!`;
      }
      if (config.reorderShare > 0 && Array.isArray(payload.tags) && Math.random() < config.reorderShare) payload.tags = [...(payload.tags as unknown[])].reverse();
    }
    json(res, code, payload);
  };

  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    serve(req, res).catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, { error: String(err) });
      else res.destroy();
    });
  });
  const host = opts.host ?? '127.0.0.1';
  const port = await listen(server, parseListen(`${host}:${opts.port ?? 0}`));
  return {
    name: opts.name,
    host,
    port,
    url: `http://${host}:${port}`,
    config: () => ({ ...config, body: { ...config.body } }),
    setConfig: (patch) => Object.assign(config, validatePatch(patch)),
    setGauge,
    stats: () => structuredClone(stats),
    resetStats: () => {
      stats = { total: 0, byCode: {}, byMethod: {}, parityReplays: {}, recent: [] };
    },
    registry,
    close: () => closeServer(server),
  };
}

export interface BackendReady {
  ready: true;
  port: number;
}

/** Starts a backend as a child process (`node backend.ts ...`) and waits for its ready line. */
export function spawnBackend(opts: BackendOptions & { onStderr?: (line: string) => void }): Promise<SpawnedProcess<BackendReady>> {
  const args = ['--name', opts.name, '--listen', `${opts.host ?? '127.0.0.1'}:${opts.port ?? 0}`];
  if (opts.errorRate !== undefined) args.push('--error-rate', String(opts.errorRate));
  if (opts.errorStatus !== undefined) args.push('--error-status', String(opts.errorStatus));
  if (opts.latencyMs !== undefined) args.push('--latency-ms', String(opts.latencyMs));
  if (opts.jitterMs !== undefined) args.push('--jitter-ms', String(opts.jitterMs));
  if (opts.version !== undefined) args.push('--version', opts.version);
  return spawnUntilReady<BackendReady>(new URL(import.meta.url).pathname, args, { onStderr: opts.onStderr });
}

if (import.meta.main) {
  runMain(async () => {
    const flags = parseFlags(process.argv.slice(2));
    const addr = parseListen(flag(flags, 'listen'));
    const handle = await startBackend({
      name: requiredFlag(flags, 'name'),
      host: addr.host,
      port: addr.port,
      errorRate: numberFlag(flags, 'error-rate', 0),
      errorStatus: numberFlag(flags, 'error-status', 500),
      latencyMs: numberFlag(flags, 'latency-ms', 0),
      jitterMs: numberFlag(flags, 'jitter-ms', 0),
      version: flag(flags, 'version') ?? 'v1',
      listing: flag(flags, 'listing') === 'true',
    });
    printReady({ port: handle.port });
    return { stop: handle.close };
  });
}
