// `kubectl cutover dashboard`: a local web server that shows every cutover the user may list, live,
// and drives them with the same annotations as `kubectl cutover`, under the user's own kubeconfig.
//
// Security: it listens on 127.0.0.1 by default. Every request must name this server in its Host
// header (a page on another site cannot reach it through DNS rebinding), and every action carries a
// per-process token that only the dashboard's own page has (another site's page can neither read it
// nor send the custom header without a CORS preflight, which is never granted). With --read-only no
// action is accepted at all. What the user sees and may change is what their RBAC allows: the API
// server's refusal is passed on word for word.
//
// In the cluster (the Helm chart's `dashboard.enabled`, `--behind-port-forward`), it listens on the
// pod's interfaces but still answers only to a loopback Host (any port: the local end of `kubectl
// port-forward`), so only someone who may port-forward to the pod reaches it, and a page elsewhere
// cannot by DNS rebinding. It then acts with its ServiceAccount, not the user's credentials, so an
// action also needs the shared token from the chart's Secret (`Authorization: Bearer`), unless it
// is read-only (the default), where nothing is ever written.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ActionAnnotation } from '../../api/common.ts';
import { renderTemplate } from '../../analysis/template.ts';
import { apiMessage, isGone, isKubeApiError, resourceType, type KubeClient, type KubeObject } from '../../kube/index.ts';
import { ACTIONS, actionsFor, analysisOf, compareSummaries, keyOf, refuseAction, summarize, templateVarsOf, type ActionName, type CutoverObject, type EventItem, type Summary } from './model.ts';
import { DashboardStore, type Change } from './store.ts';

export const ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));
const CORE_EVENT = resourceType('', 'v1', 'events', 'Event');
const FLUSH_MS = 100;
const HEARTBEAT_MS = 20_000;

export interface DashboardOptions {
  client: KubeClient;
  port?: number;
  address?: string;
  /** Prometheus for the charts; overrides each metric's `prometheus.address` (which is often a cluster-internal name). */
  prometheusUrl?: string;
  readOnly?: boolean;
  /** Watch only this namespace (default: all the user may list, else the context's namespace). */
  namespace?: string;
  /** Shown in the header: the kubeconfig context. */
  context?: string;
  /**
   * Reached through `kubectl port-forward` (in a pod): listen on `address` but answer only to a
   * loopback Host on any port (the forward's local port). /healthz answers to any Host (probes).
   */
  behindPortForward?: boolean;
  /** Actions also need `Authorization: Bearer <actionToken>` (the in-cluster dashboard's shared token). */
  actionToken?: string;
  now?: () => number;
}

export interface Dashboard {
  url: string;
  port: number;
  store: DashboardStore;
  close(): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.html': 'text/html; charset=utf-8', '.svg': 'image/svg+xml' };

class HttpError extends Error {
  readonly status: number;
  readonly reason: string | undefined;
  constructor(status: number, message: string, reason?: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const address = opts.address ?? '127.0.0.1';
  const now = opts.now ?? Date.now;
  const token = randomBytes(24).toString('base64url');
  const store = new DashboardStore(opts.client, { ...(opts.namespace ? { namespace: opts.namespace } : {}), now });
  await store.start(!opts.namespace);
  const assets = new Map<string, Buffer>();
  for (const f of ['app.js', 'app.css']) assets.set(f, readFileSync(`${ASSETS_DIR}${f}`));
  const indexHtml = readFileSync(`${ASSETS_DIR}index.html`, 'utf8');
  const streams = new Set<ServerResponse>();
  let port = 0;
  const loopback = address === '127.0.0.1' || address === 'localhost' || address === '::1';
  const hostAllowed = (host: string | undefined): boolean => {
    const h = (host ?? '').toLowerCase();
    if (opts.behindPortForward) return /^(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?$/.test(h);
    return !loopback || [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`].includes(h);
  };
  const digest = (v: string) => createHash('sha256').update(v).digest();
  const actionTokenOk = (header: string | undefined): boolean => {
    const m = /^Bearer (.+)$/.exec(header ?? '');
    return Boolean(m && opts.actionToken && timingSafeEqual(digest(m[1]!), digest(opts.actionToken)));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : isKubeApiError(err) && err.code >= 400 ? err.code : 500;
      const message = isKubeApiError(err) ? apiMessage(err) : err instanceof Error ? err.message : String(err);
      const reason = err instanceof HttpError ? err.reason : isKubeApiError(err) ? err.reason : undefined;
      if (!res.headersSent) sendJson(res, status, { error: message, ...(reason ? { reason } : {}) });
      else res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'GET' && req.url === '/healthz') { res.writeHead(200, { 'Content-Type': 'text/plain' }); res.end('ok\n'); return; }
    if (!hostAllowed(req.headers.host)) throw new HttpError(403, `this dashboard answers only to ${opts.behindPortForward ? 'http://127.0.0.1:<port>/ through kubectl port-forward' : `http://127.0.0.1:${port}/`} (Host ${req.headers.host ?? 'missing'})`);
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    if (req.method === 'GET' && (url.pathname === '/' || url.pathname.startsWith('/c/'))) {
      res.writeHead(200, {
        'Content-Type': CONTENT_TYPES['.html'],
        'Cache-Control': 'no-store',
        'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        'X-Frame-Options': 'DENY',
      });
      res.end(indexHtml.replace('%TOKEN%', token).replace('%CONTEXT%', escapeHtml(opts.context ?? '')));
      return;
    }
    if (req.method === 'GET' && url.pathname.startsWith('/assets/')) {
      const name = url.pathname.slice('/assets/'.length);
      const body = assets.get(name);
      if (!body) throw new HttpError(404, `no asset ${name}`);
      res.writeHead(200, { 'Content-Type': CONTENT_TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream', 'Cache-Control': 'no-cache' });
      res.end(body);
      return;
    }
    if (req.method === 'GET' && url.pathname === '/favicon.ico') { res.writeHead(204); res.end(); return; }
    if (req.method === 'GET' && url.pathname === '/api/stream') return stream(req, res, url);
    if (req.method === 'GET' && url.pathname === '/api/metrics') return sendJson(res, 200, await metrics(url));
    if (req.method === 'POST' && url.pathname === '/api/action') return sendJson(res, 202, await action(req));
    throw new HttpError(404, `no route ${req.method} ${url.pathname}`);
  }

  /**
   * One server-sent-event stream per page: `hello` (scopes, read-only), then for the overview
   * `snapshot` (every row) and `changes` batched every 100 ms; for a cutover's page
   * (`focus=Kind/ns/name`) `detail` (the object, its Events, the weights and results seen) on every
   * change of it or of its Events, at most every 100 ms.
   */
  function stream(req: IncomingMessage, res: ServerResponse, url: URL): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.flushHeaders();
    streams.add(res);
    const send = (event: string, data: unknown) => { res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`); };
    send('hello', { scopes: store.scopes, readOnly: Boolean(opts.readOnly), actionAuth: Boolean(opts.actionToken), context: opts.context ?? '' });
    const focus = url.searchParams.get('focus') ?? undefined;
    // A cutover's page needs only its object; the overview gets every row.
    if (!focus) send('snapshot', { rows: store.all().map((o) => summarize(o, now())).sort(compareSummaries), at: now() });
    const pending = new Map<string, Change>();
    let detailDirty = false;
    /** The MigrationSlice that owns the focused cutover: its changes (flag, worker restore) redraw the page. */
    let focusOwner: string | undefined;
    let events: EventItem[] = [];
    const ac = new AbortController();
    const flush = () => {
      if (pending.size > 0) {
        const upserts: Summary[] = [];
        const deletes: string[] = [];
        for (const c of pending.values()) {
          if (c.type === 'delete') deletes.push(c.key);
          else upserts.push(summarize(c.obj, now()));
        }
        pending.clear();
        send('changes', { upserts, deletes, at: now() });
      }
      if (focus && detailDirty) {
        detailDirty = false;
        sendDetail();
      }
    };
    const timer = setInterval(flush, FLUSH_MS);
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    const unsubscribe = store.subscribe((c) => {
      if (!focus) pending.set(c.key, c);
      else if (c.key === focus || (c.obj.kind === 'MigrationSlice' && focusOwner === c.key)) detailDirty = true;
    });
    const sendDetail = () => {
      const [kind = '', namespace = '', name = ''] = (focus ?? '').split('/');
      const obj = store.get(kind, namespace, name);
      const ownerRef = (obj?.metadata.ownerReferences ?? []).find((r) => r.controller && r.kind === 'MigrationSlice');
      focusOwner = ownerRef?.name ? keyOf('MigrationSlice', namespace, ownerRef.name) : undefined;
      const owner = obj ? store.ownerSlice(obj) : undefined;
      send('detail', obj
        ? { key: focus, object: obj, events, seen: store.seen(focus!), ...(owner ? { owner } : {}), ...(store.routesError ? { observedError: `the route's weights are not shown: ${store.routesError}` } : {}), at: now() }
        : { key: focus, missing: true, at: now() });
    };
    if (focus) {
      sendDetail();
      void followEvents(focus, ac.signal, (list) => { events = list; detailDirty = true; });
    }
    req.on('close', () => {
      ac.abort();
      clearInterval(timer);
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(res);
    });
  }

  /** The object's recent Events (core/v1, like `kubectl describe`): a list, then a watch of changes. */
  async function followEvents(focus: string, signal: AbortSignal, onChange: (events: EventItem[]) => void): Promise<void> {
    const [kind = '', namespace = '', name = ''] = focus.split('/');
    const fieldSelector = `involvedObject.name=${name},involvedObject.kind=${kind}`;
    type Ev = KubeObject & { type?: string; reason?: string; message?: string; count?: number; lastTimestamp?: string; eventTime?: string; firstTimestamp?: string; series?: { count?: number; lastObservedTime?: string } };
    const toItem = (e: Ev): EventItem => ({ type: e.type, reason: e.reason, message: e.message, count: e.series?.count ?? e.count, at: e.series?.lastObservedTime ?? e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata.creationTimestamp });
    const byName = new Map<string, EventItem>();
    const publish = () => onChange([...byName.values()].sort((a, b) => Date.parse(a.at ?? '') - Date.parse(b.at ?? '')).slice(-50));
    while (!signal.aborted) {
      try {
        const list = await opts.client.list<Ev>(CORE_EVENT, { namespace, fieldSelector });
        byName.clear();
        for (const e of list.items) byName.set(e.metadata.name ?? '', toItem(e));
        publish();
        for await (const ev of opts.client.watch<Ev>(CORE_EVENT, { namespace, fieldSelector, resourceVersion: list.resourceVersion, signal })) {
          if (ev.type === 'BOOKMARK') continue;
          if (ev.type === 'DELETED') byName.delete(ev.object.metadata.name ?? '');
          else byName.set(ev.object.metadata.name ?? '', toItem(ev.object));
          publish();
        }
      } catch (err) {
        if (signal.aborted) return;
        if (!isGone(err)) return; // no RBAC for Events (or another failure): the page simply shows none
      }
    }
  }

  /** Range queries of each metric's own query templates, rendered as the operator renders them. */
  async function metrics(url: URL): Promise<unknown> {
    const kind = url.searchParams.get('kind') ?? '';
    const namespace = url.searchParams.get('namespace') ?? '';
    const name = url.searchParams.get('name') ?? '';
    const obj = store.get(kind, namespace, name);
    if (!obj) throw new HttpError(404, `no ${kind} ${namespace}/${name}`);
    const end = Number(url.searchParams.get('end')) || now() / 1000;
    const start = Number(url.searchParams.get('start')) || end - 3600;
    const step = Math.max(1, Math.ceil((end - start) / 400));
    const vars = templateVarsOf(obj);
    const out = [];
    for (const m of analysisOf(obj).metrics) {
      const base = { name: m.name, ...(m.min !== undefined ? { min: m.min } : {}), ...(m.max !== undefined ? { max: m.max } : {}), ...(m.maxRatio !== undefined ? { maxRatio: m.maxRatio } : {}) };
      if (!m.query) { out.push({ ...base, error: 'not a Prometheus metric: no chart' }); continue; }
      let query: string;
      let baselineQuery: string | undefined;
      try {
        query = renderTemplate(m.query, vars);
        baselineQuery = m.baselineQuery ? renderTemplate(m.baselineQuery, vars) : undefined;
      } catch (err) {
        out.push({ ...base, error: (err as Error).message });
        continue;
      }
      const address = opts.prometheusUrl ?? m.address;
      if (!address) { out.push({ ...base, query, ...(baselineQuery ? { baselineQuery } : {}), error: 'no Prometheus address: start the dashboard with --prometheus-url URL' }); continue; }
      try {
        const [series, baseline] = await Promise.all([rangeQuery(address, query, start, end, step), baselineQuery ? rangeQuery(address, baselineQuery, start, end, step) : undefined]);
        out.push({ ...base, query, ...(baselineQuery ? { baselineQuery } : {}), series, ...(baseline ? { baseline } : {}) });
      } catch (err) {
        out.push({ ...base, query, ...(baselineQuery ? { baselineQuery } : {}), error: `Prometheus ${address}: ${(err as Error).message}` });
      }
    }
    return { start, end, step, metrics: out };
  }

  /** Writes the action's annotation with the user's credentials; the page waits for the acknowledgement on its stream. */
  async function action(req: IncomingMessage): Promise<unknown> {
    if (opts.readOnly) throw new HttpError(403, 'this dashboard is read-only (started with --read-only)');
    if (req.headers['x-cutover-token'] !== token) throw new HttpError(403, 'missing or wrong X-Cutover-Token: actions come only from this dashboard\'s page');
    if (opts.actionToken !== undefined && !actionTokenOk(req.headers.authorization)) throw new HttpError(401, 'this dashboard acts with its own ServiceAccount: an action needs the dashboard token (Authorization: Bearer, from the chart\'s Secret)', 'Unauthorized');
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) throw new HttpError(415, 'send application/json');
    const body = JSON.parse(await readBody(req, 4096)) as { kind?: string; namespace?: string; name?: string; action?: string };
    const act = ACTIONS.find((a) => a === body.action) as ActionName | undefined;
    const type = store.typeOf(body.kind ?? '');
    if (!act || !type || !body.namespace || !body.name) throw new HttpError(400, 'need kind, namespace, name and action (Promote, Abort, Pause, Resume or Retry)');
    const cur = store.get(type.kind, body.namespace, body.name) ?? await opts.client.get(type, body.namespace, body.name) as CutoverObject | undefined;
    if (!cur) throw new HttpError(404, `no ${type.kind} ${body.namespace}/${body.name}`);
    if (!actionsFor(type.kind).includes(act)) throw new HttpError(409, `a ${type.kind} acts on ${actionsFor(type.kind).join(' and ')} only`, 'Refused');
    const why = refuseAction(type.kind, (cur.status as { phase?: string } | undefined)?.phase, act);
    if (why) throw new HttpError(409, why, 'Refused');
    const annotation = ActionAnnotation[act];
    const id = `${new Date(now()).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${Math.floor(Math.random() * 1e6).toString(36)}`;
    // The same merge patch as `kubectl cutover`: one annotation, never spec.
    await opts.client.mergePatch(type, body.namespace, body.name, { metadata: { annotations: { [annotation]: id } } }, { fieldManager: 'kubectl-cutover' });
    return { key: keyOf(type.kind, body.namespace, body.name), action: act, annotation, id };
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 3100, address, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}/`, port, store,
    async close() {
      for (const s of streams) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.stop();
    },
  };
}

async function rangeQuery(address: string, query: string, start: number, end: number, step: number): Promise<Array<[number, number]>> {
  const u = new URL('api/v1/query_range', address.endsWith('/') ? address : `${address}/`);
  u.search = new URLSearchParams({ query, start: String(start), end: String(end), step: String(step) }).toString();
  const res = await fetch(u, { signal: AbortSignal.timeout(15_000) });
  const body = await res.json() as { status: string; error?: string; data?: { result?: Array<{ values?: Array<[number, string]> }> } };
  if (body.status !== 'success') throw new Error(body.error ?? `HTTP ${res.status}`);
  // An analysis query yields one series (it is judged as one value); the first is the one shown.
  return (body.data?.result?.[0]?.values ?? []).map(([t, v]) => [t, Number(v)] as [number, number]).filter(([, v]) => Number.isFinite(v));
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) { reject(new HttpError(413, 'request too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
