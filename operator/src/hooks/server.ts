// The operator's HTTP server: /healthz, /readyz, /metrics, and the alert hooks that roll back at once.
//
// Hooks are authenticated (bearer token for Alertmanager; HMAC-SHA256 over timestamp and body for the
// generic hook), size-limited (413), rate-limited per caller (429) and idempotent: an alert that is
// repeated, or a signed request replayed, changes nothing more. An unauthenticated call gets 401 and
// changes nothing.
//
// A 2xx is a promise kept across crashes and failovers. Every rollback a hook asks for goes two ways
// at once: in memory to this process's reconcile (the fast path, milliseconds), and recorded on the
// object (the cutover.dev/rollback-request annotation), which any replica acts on after a restart or
// a failover. 200: rolled back. 202: not finished within the answer deadline, but recorded. 503: not
// finished and not recorded (the API server did not take the record): the sender retries (Alertmanager
// does on a 5xx), and the retry is not refused as a repeat or a replay.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RollbackTrigger } from '../api/trafficshift.ts';
import type { RollbackRequest as RecordedRollback } from '../api/common.ts';
import { objectKey } from '../kube/resources.ts';
import type { Logger } from '../runtime/logger.ts';
import { counter, registry as defaultRegistry, renderMetrics, type Registry } from '../runtime/metrics.ts';
import { BucketRateLimiter } from '../runtime/ratelimit.ts';

export interface RollbackTarget {
  /** Keys (`namespace/name`) of live resources whose alert matchers match these labels. */
  matchAlert(labels: Record<string, string>): string[];
  /**
   * Rolls `key` back now (in memory, this process); resolves true when it was rolled back. `id` is
   * the id of the record `recordRollback` writes, so the reconcile acknowledges both at once.
   */
  requestRollback(key: string, trigger: RollbackTrigger, reason: string, alert?: string, id?: string): Promise<boolean>;
  /** Records the request on the object (durable); rejects when the API server did not take it. */
  recordRollback(key: string, request: RecordedRollback): Promise<void>;
  /** Whether `key` names a resource this target manages. */
  has(key: string): boolean;
}

export interface HookServerOptions {
  host?: string;
  port: number;
  logger: Logger;
  registry?: Registry;
  /** Readiness: informers synced (and, with leader election, leading or standing by). */
  ready: () => boolean;
  /** Whether this replica acts on hooks (false on a leader-election standby: 503, the caller retries). */
  acting?: () => boolean;
  /** Bearer token required on /hooks/alertmanager; hooks refuse every call when unset. */
  alertmanagerToken?: string | undefined;
  /** HMAC secret of /hooks/rollback; the hook refuses every call when unset. */
  webhookSecret?: string | undefined;
  targets: RollbackTarget[];
  /** Largest accepted body, bytes. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Requests per second per caller, and burst. Default 20 / 40. */
  rateLimit?: { perSecond: number; burst: number };
  /** Accepted clock skew of signed requests, seconds. Default 300. */
  maxSkewSeconds?: number;
  /**
   * Longest wait for a rollback before answering 202 (it still happens: the request is recorded on
   * the object and stays queued on the resource's key; its reconcile retries with backoff). Default
   * 10 s — below Alertmanager's webhook timeout, so it does not re-send while we are still working.
   */
  rollbackWaitMs?: number;
  /** After rollbackWaitMs, how much longer to wait for the records of unfinished rollbacks before a 503. Default 5 s. */
  recordWaitMs?: number;
  now?: () => number;
}

interface AlertmanagerPayload {
  version?: string;
  status?: string;
  alerts?: Array<{ status?: string; labels?: Record<string, string>; fingerprint?: string; startsAt?: string }>;
}

/** One rollback a hook asked for: its outcome in memory and its record on the object. */
interface Rollback {
  key: string;
  rolledBack: boolean;
  recorded: boolean;
  done: Promise<void>;
  record: Promise<void>;
  /** Forgets the request as seen (alert or signature), so a retry after a 503 acts again. */
  forget: () => void;
}

class HttpError extends Error {
  readonly status: number;
  /** Ask the client to open a new connection for its retry (Connection: close). */
  readonly closeConnection: boolean;
  constructor(status: number, message: string, closeConnection = false) { super(message); this.status = status; this.closeConnection = closeConnection; }
}

export class HookServer {
  readonly #o: HookServerOptions;
  readonly #server: Server;
  readonly #requests;
  /** Per caller (remote address): a token bucket of rateLimit. */
  readonly #buckets = new Map<string, BucketRateLimiter>();
  readonly #seenSignatures = new Map<string, number>();
  /** Alerts already acted on (fingerprint+startsAt), so a repeated delivery is a no-op. */
  readonly #seenAlerts = new Map<string, number>();
  readonly #now: () => number;

  constructor(opts: HookServerOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
    this.#requests = counter({ name: 'cutover_hook_requests_total', help: 'Requests to the operator HTTP endpoints, by hook and status code.', labelNames: ['hook', 'code'] as const, registry: opts.registry ?? defaultRegistry });
    this.#server = createServer((req, res) => { void this.#handle(req, res); });
    this.#server.keepAliveTimeout = 5000;
    this.#server.headersTimeout = 10_000;
    this.#server.requestTimeout = 15_000;
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#o.port, this.#o.host ?? '0.0.0.0', () => resolve((this.#server.address() as AddressInfo).port));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => { this.#server.close(() => resolve()); this.#server.closeAllConnections(); });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const hook = url.pathname.startsWith('/hooks/') ? url.pathname.slice(7) : url.pathname.slice(1) || 'root';
    const label = ['healthz', 'readyz', 'metrics', 'alertmanager', 'rollback'].includes(hook) ? hook : 'other';
    let status = 200;
    try {
      switch (url.pathname) {
        case '/healthz': return send(res, 200, 'ok\n');
        case '/readyz': status = this.#o.ready() ? 200 : 503; return send(res, status, status === 200 ? 'ok\n' : 'not ready\n');
        case '/metrics': {
          const reg = this.#o.registry ?? defaultRegistry;
          // `?name[]=a&name[]=b`: only these families. With 10,000 resources the whole page is
          // ~200,000 series and costs the process over a second of CPU to render; a watcher that
          // needs one counter (a bench, a probe script) should not pay for all of them.
          const names = url.searchParams.getAll('name[]');
          return send(res, 200, await renderMetrics(reg, names.length ? names : undefined), reg.contentType);
        }
        case '/hooks/alertmanager': return await this.#alertmanager(req, res);
        case '/hooks/rollback': return await this.#rollback(req, res);
        default: status = 404; return send(res, 404, 'not found\n');
      }
    } catch (err) {
      status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (status === 500) this.#o.logger.error({ err: message, path: url.pathname }, 'hook failed');
      // Refusals are counted in cutover_hook_requests_total{code}; logging each at info would let a
      // flood of bad requests cost the operator more than answering them does.
      else this.#o.logger.debug({ status, reason: message, path: url.pathname, caller: req.socket.remoteAddress }, 'hook refused');
      if (status === 413 && !(await this.#drain(req)) && !res.headersSent) { res.setHeader('connection', 'close'); lingerOnClose(req); }
      if (err instanceof HttpError && err.closeConnection && !res.headersSent) { res.setHeader('connection', 'close'); res.setHeader('retry-after', '1'); }
      if (!res.headersSent) sendJson(res, status, { error: message });
      else res.end();
    } finally {
      if (label !== 'metrics' && label !== 'healthz' && label !== 'readyz') this.#requests.inc({ hook: label, code: String(res.statusCode || status) });
    }
  }

  async #alertmanager(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.#preflight(req);
    const token = this.#o.alertmanagerToken;
    const auth = req.headers.authorization ?? '';
    if (!token || !auth.startsWith('Bearer ') || !safeEqual(auth.slice(7).trim(), token)) {
      req.resume();
      throw new HttpError(401, 'missing or wrong bearer token');
    }
    const receivedAt = this.#now();
    const body = await readBody(req, this.#o.maxBodyBytes ?? 1 << 20);
    const payload = parseJson(body) as AlertmanagerPayload;
    if (!payload || typeof payload !== 'object' || !Array.isArray(payload.alerts)) throw new HttpError(400, 'not an Alertmanager webhook payload: alerts[] missing');
    this.#expire(this.#seenAlerts, 24 * 3600_000);
    const rollbacks: Rollback[] = [];
    for (const alert of payload.alerts) {
      if ((alert.status ?? payload.status) !== 'firing') continue; // resolved alerts change nothing
      const labels = alert.labels ?? {};
      const name = labels.alertname ?? 'alert';
      for (const target of this.#o.targets) {
        for (const key of target.matchAlert(labels)) {
          const seen = `${key}|${alert.fingerprint ?? JSON.stringify(labels)}|${alert.startsAt ?? ''}`;
          if (this.#seenAlerts.has(seen)) continue;
          this.#seenAlerts.set(seen, this.#now());
          // The same alert firing (fingerprint and start) gives the same id on every replica and resend.
          const id = `alert-${createHash('sha256').update(seen).digest('hex').slice(0, 16)}`;
          rollbacks.push(this.#start(target, key, { id, trigger: 'Alert', reason: `alert ${name} firing`, alert: name }, () => this.#seenAlerts.delete(seen)));
        }
      }
    }
    const requested = rollbacks.map((r) => r.key);
    if (requested.length > 0) this.#o.logger.info({ receivedAt: new Date(receivedAt).toISOString(), requested }, 'alertmanager hook: rollback requested');
    const answer = await this.#settle(rollbacks);
    // One info line per hook that acted; deliveries that matched nothing are debug (a noisy
    // Alertmanager, or a flood, must not cost more than answering).
    this.#o.logger[requested.length > 0 ? 'info' : 'debug']({ receivedAt: new Date(receivedAt).toISOString(), tookMs: this.#now() - receivedAt, status: answer.status, ...answer.body, alerts: payload.alerts.length }, 'alertmanager hook');
    sendJson(res, answer.status, answer.body);
  }

  /** Starts one rollback both ways: in memory (fast) and recorded on the object (durable). */
  #start(target: RollbackTarget, key: string, request: RecordedRollback, forget: () => void): Rollback {
    const r: Rollback = { key, rolledBack: false, recorded: false, forget, done: Promise.resolve(), record: Promise.resolve() };
    r.done = target.requestRollback(key, request.trigger, request.reason, request.alert, request.id).then((ok) => { r.rolledBack = ok; });
    r.record = target.recordRollback(key, request).then(
      () => { r.recorded = true; },
      (err: unknown) => { this.#o.logger.warn({ key, id: request.id, err: err instanceof Error ? err.message : String(err) }, 'rollback request not recorded on the object'); },
    );
    return r;
  }

  /**
   * The answer for a set of rollbacks: 200 when all finished within rollbackWaitMs; else 202 when
   * every unfinished one is recorded on its object (within recordWaitMs more); else 503, and the
   * unrecorded ones are forgotten as seen, so the sender's retry acts again.
   */
  async #settle(rollbacks: Rollback[]): Promise<{ status: number; body: Record<string, unknown> }> {
    const finished = await this.#within(Promise.all(rollbacks.map((r) => r.done)), this.#o.rollbackWaitMs ?? 10_000);
    const rolledBack = rollbacks.filter((r) => r.rolledBack).map((r) => r.key);
    if (finished) return { status: 200, body: { rolledBack } };
    const unfinished = rollbacks.filter((r) => !r.rolledBack);
    await this.#within(Promise.all(unfinished.map((r) => r.record)), this.#o.recordWaitMs ?? 5000);
    const unrecorded = unfinished.filter((r) => !r.recorded);
    const pending = unfinished.map((r) => r.key);
    if (unrecorded.length === 0) return { status: 202, body: { rolledBack, pending } };
    for (const r of unrecorded) r.forget();
    return { status: 503, body: { error: `rollback of ${unrecorded.map((r) => r.key).join(', ')} neither finished nor recorded; retry`, rolledBack, pending } };
  }

  async #rollback(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.#preflight(req);
    const secret = this.#o.webhookSecret;
    const receivedAt = this.#now();
    const body = await readBody(req, this.#o.maxBodyBytes ?? 1 << 20);
    const ts = String(req.headers['x-cutover-timestamp'] ?? '');
    const sig = String(req.headers['x-cutover-signature'] ?? '');
    if (!secret || !/^\d+$/.test(ts) || !sig.startsWith('sha256=')) throw new HttpError(401, 'missing signature: X-Cutover-Timestamp and X-Cutover-Signature: sha256=<hmac> required');
    const expected = createHmac('sha256', secret).update(`${ts}.`).update(body).digest('hex');
    if (!safeEqual(sig.slice(7), expected)) throw new HttpError(401, 'bad signature');
    const skew = Math.abs(this.#now() / 1000 - Number(ts));
    if (skew > (this.#o.maxSkewSeconds ?? 300)) throw new HttpError(401, `timestamp outside the accepted window (${Math.round(skew)} s)`);
    this.#expire(this.#seenSignatures, 2 * (this.#o.maxSkewSeconds ?? 300) * 1000);
    if (this.#seenSignatures.has(expected)) throw new HttpError(409, 'replayed request');
    this.#seenSignatures.set(expected, this.#now());
    const msg = parseJson(body) as { namespace?: unknown; name?: unknown; reason?: unknown; kind?: unknown };
    if (typeof msg?.namespace !== 'string' || typeof msg.name !== 'string') throw new HttpError(400, 'body must name {"namespace": ..., "name": ...}');
    const key = objectKey({ metadata: { namespace: msg.namespace, name: msg.name } });
    const target = this.#o.targets.find((t) => t.has(key));
    if (!target) throw new HttpError(404, `no cutover resource ${key}`);
    const reason = typeof msg.reason === 'string' && msg.reason ? msg.reason.slice(0, 1024) : 'rollback requested by signed webhook';
    this.#o.logger.info({ receivedAt: new Date(receivedAt).toISOString(), key }, 'rollback hook: rollback requested');
    const id = `webhook-${expected.slice(0, 16)}`;
    const answer = await this.#settle([this.#start(target, key, { id, trigger: 'Webhook', reason }, () => this.#seenSignatures.delete(expected))]);
    sendJson(res, answer.status, answer.body);
  }

  /** Resolves true when `work` settled within `ms`, false when it is still running. */
  async #within(work: Promise<unknown>, ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), ms); });
    try {
      return await Promise.race([work.then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Method and rate limit, before anything is read. */
  #preflight(req: IncomingMessage): void {
    if (req.method !== 'POST') { req.resume(); throw new HttpError(405, 'POST only'); }
    // A standby closes the connection with its 503: behind a Service, a client's retry on the same
    // keep-alive connection would reach this replica again and again (kube-proxy balances per
    // connection); on a new one it may reach the leader. Alertmanager's retries stayed on the standby
    // for minutes without this (chart test, 2 replicas).
    if (this.#o.acting && !this.#o.acting()) { req.resume(); throw new HttpError(503, 'standby replica: the leader acts on hooks; retry', true); }
    const caller = req.socket.remoteAddress ?? 'unknown';
    const { perSecond, burst } = this.#o.rateLimit ?? { perSecond: 20, burst: 40 };
    if (this.#buckets.size > 10_000) {
      // Forget callers whose bucket is full again (idle for burst/perSecond seconds).
      for (const [k, b] of this.#buckets) if (b.full()) this.#buckets.delete(k);
    }
    let bucket = this.#buckets.get(caller);
    if (!bucket) this.#buckets.set(caller, bucket = new BucketRateLimiter(perSecond, burst, { now: this.#now }));
    if (!bucket.allow()) { req.resume(); throw new HttpError(429, 'rate limit exceeded'); }
    const len = Number(req.headers['content-length'] ?? 0);
    if (len > (this.#o.maxBodyBytes ?? 1 << 20)) { req.resume(); throw new HttpError(413, 'body too large'); }
  }

  /**
   * Reads and drops the rest of a refused body before the 413 is sent. Answering while the client
   * is still sending, then closing (HTTP/1.0 or `Connection: close` callers, and every refusal past
   * the bounds below), closes a socket with unread data: the kernel sends a TCP reset, and the
   * reset discards the 413 at the client before it is read (it sees EPIPE/ECONNRESET, no answer).
   * Like nginx's lingering close, bounded: at most 8 × the limit and 5 s. Returns whether the body
   * was read to its end; when not, the answer closes the connection.
   */
  #drain(req: IncomingMessage): Promise<boolean> {
    if (req.complete) return Promise.resolve(true);
    const cap = 8 * (this.#o.maxBodyBytes ?? 1 << 20);
    if (Number(req.headers['content-length'] ?? 0) > cap) return Promise.resolve(false);
    return new Promise((resolve) => {
      let dropped = 0;
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        req.off('data', onData); req.off('end', onEnd); req.off('close', onClose); req.off('error', onClose);
        resolve(ok);
      };
      const onData = (c: Buffer): void => { dropped += c.length; if (dropped > cap) done(false); };
      const onEnd = (): void => done(true);
      const onClose = (): void => done(req.complete);
      const timer = setTimeout(() => done(false), 5000);
      req.on('data', onData); req.once('end', onEnd); req.once('close', onClose); req.once('error', onClose);
      req.resume();
    });
  }

  #expire(map: Map<string, number>, ttlMs: number): void {
    const cutoff = this.#now() - ttlMs;
    for (const [k, at] of map) if (at < cutoff) map.delete(k); else break;
  }
}

/**
 * Makes the close after this response a lingering one: Node closes a `Connection: close` socket as
 * soon as the answer is written (destroySoon), and closing with the client's data still arriving
 * sends a TCP reset that loses the answer at the client. Instead the write side is shut (FIN, the
 * answer is delivered), what still arrives is read and dropped, and the socket is destroyed when the
 * client closes or after 2 s.
 */
function lingerOnClose(req: IncomingMessage): void {
  const socket = req.socket;
  socket.destroySoon = () => {
    if (socket.writable) socket.end();
    socket.resume();
    const timer = setTimeout(() => socket.destroy(), 2000);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  };
}

/**
 * Reads the body up to `max` bytes. Past the limit the rest is drained and dropped (not kept in
 * memory) so that the 413 can still be written on the connection.
 */
function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > max) { over = true; chunks.length = 0; reject(new HttpError(413, 'body too large')); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseJson(body: Buffer): unknown {
  try { return JSON.parse(body.toString('utf8')); } catch (err) { throw new HttpError(400, `malformed JSON: ${(err as Error).message}`); }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a); const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, `${JSON.stringify(body)}\n`, 'application/json');
}
