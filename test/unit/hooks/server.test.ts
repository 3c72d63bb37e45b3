// The hook server over real HTTP on 127.0.0.1. Its collaborator (the controller that rolls back) is
// a recording fake: what is under test is authentication, limits, parsing and idempotency.
import { createHmac } from 'node:crypto';
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { HookServer, type HookServerOptions, type RollbackTarget } from '../../../operator/src/hooks/server.ts';
import type { RollbackTrigger } from '../../../operator/src/api/trafficshift.ts';
import type { RollbackRequest } from '../../../operator/src/api/common.ts';
import { silentLogger } from '../../../operator/src/runtime/logger.ts';
import { Registry } from '../../../operator/src/runtime/metrics.ts';

const TOKEN = 'am-token-0123456789';
const SECRET = 'hmac-secret-abcdef';

class FakeTarget implements RollbackTarget {
  readonly keys: Array<{ key: string; labels: Record<string, string> }>;
  readonly calls: Array<{ key: string; trigger: RollbackTrigger; reason: string; alert?: string | undefined }> = [];
  /** The requests recorded on objects (the annotation writes), in order. */
  readonly records: Array<{ key: string; request: RollbackRequest }> = [];
  /** Ids handed over with the in-memory requests. */
  readonly ids: Array<string | undefined> = [];
  /** When set, requestRollback waits for this before resolving. */
  gate: Promise<void> | undefined;
  /** When set, recordRollback fails with it (the API server refused the write). */
  recordError: Error | undefined;
  constructor(keys: Array<{ key: string; labels: Record<string, string> }>) { this.keys = keys; }
  matchAlert(labels: Record<string, string>): string[] {
    return this.keys.filter((k) => Object.entries(k.labels).every(([n, v]) => labels[n] === v)).map((k) => k.key);
  }
  async requestRollback(key: string, trigger: RollbackTrigger, reason: string, alert?: string, id?: string): Promise<boolean> {
    this.calls.push({ key, trigger, reason, alert });
    this.ids.push(id);
    if (this.gate) await this.gate;
    return true;
  }
  async recordRollback(key: string, request: RollbackRequest): Promise<void> {
    if (this.recordError) throw this.recordError;
    this.records.push({ key, request });
  }
  has(key: string): boolean { return this.keys.some((k) => k.key === key); }
}

interface Reply { status: number; body: string; json: Record<string, unknown> }

function post(port: number, path: string, body: string | Buffer, headers: Record<string, string> = {}, method = 'POST'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Record<string, unknown> = {};
        try { json = JSON.parse(text) as Record<string, unknown>; } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, body: text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function alertPayload(alerts: Array<{ status?: string; labels: Record<string, string>; fingerprint?: string; startsAt?: string }>, status = 'firing'): string {
  return JSON.stringify({
    version: '4', status, receiver: 'cutover', groupKey: '{}:{alertname="X"}', truncatedAlerts: 0,
    groupLabels: {}, commonLabels: {}, commonAnnotations: {}, externalURL: 'http://alertmanager',
    alerts: alerts.map((a, i) => ({ status: a.status ?? status, labels: a.labels, annotations: {}, startsAt: a.startsAt ?? '2026-01-01T00:00:00Z', endsAt: '0001-01-01T00:00:00Z', generatorURL: '', fingerprint: a.fingerprint ?? `fp${i}` })),
  });
}

function sign(body: string, ts: number, secret = SECRET): Record<string, string> {
  return { 'x-cutover-timestamp': String(ts), 'x-cutover-signature': `sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}` };
}

let server: HookServer | undefined;
afterEach(async () => { await server?.close(); server = undefined; });

async function start(target: FakeTarget, opts: Partial<HookServerOptions> = {}): Promise<{ port: number; registry: Registry }> {
  const registry = new Registry();
  server = new HookServer({ host: '127.0.0.1', port: 0, logger: silentLogger, registry, ready: () => true, alertmanagerToken: TOKEN, webhookSecret: SECRET, targets: [target], ...opts });
  return { port: await server.listen(), registry };
}

const auth = { authorization: `Bearer ${TOKEN}` };
const shopTarget = () => new FakeTarget([{ key: 'shop/listings-read', labels: { service: 'listings-api' } }, { key: 'shop/other', labels: { service: 'other' } }]);

describe('POST /hooks/alertmanager', () => {
  it('a standby replica answers 503 and closes the connection, so that a retry through a Service can reach the leader', async () => {
    const t = shopTarget();
    const { port } = await start(t, { acting: () => false });
    const r = await new Promise<{ status: number; connection?: string; retryAfter?: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/hooks/alertmanager', method: 'POST', headers: { 'content-type': 'application/json', connection: 'keep-alive', ...auth } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, retryAfter: res.headers['retry-after'] as string | undefined }));
      });
      req.on('error', reject);
      req.end(alertPayload([{ labels: { alertname: 'ListingsApiErrors', service: 'listings-api' } }]));
    });
    expect(r).toEqual({ status: 503, connection: 'close', retryAfter: '1' });
    expect(t.calls).toEqual([]);
  });

  it('a firing alert whose labels match rolls that resource back with trigger Alert and the alert name', async () => {
    const t = shopTarget();
    const { port } = await start(t);
    const r = await post(port, '/hooks/alertmanager', alertPayload([{ labels: { alertname: 'ListingsApiErrors', service: 'listings-api', severity: 'page' } }]), auth);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ rolledBack: ['shop/listings-read'] });
    expect(t.calls).toEqual([{ key: 'shop/listings-read', trigger: 'Alert', reason: 'alert ListingsApiErrors firing', alert: 'ListingsApiErrors' }]);
  });

  it('resolved alerts change nothing (payload resolved, or one resolved alert in a firing group)', async () => {
    const t = shopTarget();
    const { port } = await start(t);
    const a = await post(port, '/hooks/alertmanager', alertPayload([{ labels: { alertname: 'A', service: 'listings-api' } }], 'resolved'), auth);
    const b = await post(port, '/hooks/alertmanager', alertPayload([{ status: 'resolved', labels: { alertname: 'A', service: 'listings-api' } }, { labels: { alertname: 'B', service: 'nobody' } }]), auth);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(t.calls).toEqual([]);
  });

  it('a repeated alert (same fingerprint and startsAt) is acted on once; a new firing (new startsAt) again', async () => {
    const t = shopTarget();
    const { port } = await start(t);
    const body = alertPayload([{ labels: { alertname: 'A', service: 'listings-api' }, fingerprint: 'abc' }]);
    await post(port, '/hooks/alertmanager', body, auth);
    const again = await post(port, '/hooks/alertmanager', body, auth);
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ rolledBack: [] });
    expect(t.calls).toHaveLength(1);
    await post(port, '/hooks/alertmanager', alertPayload([{ labels: { alertname: 'A', service: 'listings-api' }, fingerprint: 'abc', startsAt: '2026-01-02T00:00:00Z' }]), auth);
    expect(t.calls).toHaveLength(2);
  });

  it('alerts that match nothing, or only some labels, change nothing', async () => {
    const t = new FakeTarget([{ key: 'shop/x', labels: { service: 'listings-api', env: 'prod' } }]);
    const { port } = await start(t);
    const r = await post(port, '/hooks/alertmanager', alertPayload([{ labels: { alertname: 'A', service: 'listings-api' } }]), auth);
    expect(r.json).toEqual({ rolledBack: [] });
    expect(t.calls).toEqual([]);
  });

  it.each([
    ['no Authorization header', {}],
    ['a wrong token', { authorization: 'Bearer nope' }],
    ['the token without the Bearer scheme', { authorization: TOKEN }],
    ['Basic auth', { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` }],
  ])('401 and nothing changes with %s', async (_what, headers) => {
    const t = shopTarget();
    const { port } = await start(t);
    const r = await post(port, '/hooks/alertmanager', alertPayload([{ labels: { alertname: 'A', service: 'listings-api' } }]), headers);
    expect(r.status).toBe(401);
    expect(r.json.error).toMatch(/bearer token/);
    expect(t.calls).toEqual([]);
  });

  it('refuses every call (401) when no token is configured', async () => {
    const t = shopTarget();
    const { port } = await start(t, { alertmanagerToken: undefined });
    const r = await post(port, '/hooks/alertmanager', alertPayload([{ labels: { alertname: 'A', service: 'listings-api' } }]), { authorization: 'Bearer ' });
    expect(r.status).toBe(401);
    expect(t.calls).toEqual([]);
  });

  it('400 with a reason for malformed JSON and for JSON that is not an Alertmanager payload', async () => {
    const { port } = await start(shopTarget());
    const bad = await post(port, '/hooks/alertmanager', '{"alerts": [', auth);
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/^malformed JSON/);
    const wrong = await post(port, '/hooks/alertmanager', '{"hello": 1}', auth);
    expect(wrong.status).toBe(400);
    expect(wrong.json.error).toMatch(/alerts\[\] missing/);
  });

  it('413 for a body above the limit, by Content-Length and by a chunked body that grows past it', async () => {
    const t = shopTarget();
    const { port } = await start(t, { maxBodyBytes: 1024 });
    const big = alertPayload([{ labels: { alertname: 'A', service: 'listings-api', pad: 'x'.repeat(4096) } }]);
    const r = await post(port, '/hooks/alertmanager', big, auth);
    expect(r.status).toBe(413);
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/hooks/alertmanager', method: 'POST', headers: { ...auth, 'transfer-encoding': 'chunked' } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.on('error', reject);
      for (let i = 0; i < 8; i++) req.write('x'.repeat(512));
      req.end();
    });
    expect(chunked).toBe(413);
    expect(t.calls).toEqual([]);
  });

  it('405 for anything but POST', async () => {
    const { port } = await start(shopTarget());
    const r = await post(port, '/hooks/alertmanager', '', auth, 'GET');
    expect(r.status).toBe(405);
  });

  it('429 past the per-caller rate limit, and the refusals are counted by code', async () => {
    const t = shopTarget();
    const { port, registry } = await start(t, { rateLimit: { perSecond: 0.001, burst: 3 } });
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await post(port, '/hooks/alertmanager', alertPayload([]), auth)).status);
    expect(codes).toEqual([200, 200, 200, 429, 429]);
    const text = await registry.metrics();
    expect(text).toContain('cutover_hook_requests_total{hook="alertmanager",code="429"} 2');
    expect(text).toContain('cutover_hook_requests_total{hook="alertmanager",code="200"} 3');
  });

  it('GET /metrics?name[]=… serves only the named families (a watcher of one counter does not pay for every series)', async () => {
    const t = shopTarget();
    const { port, registry } = await start(t);
    await post(port, '/hooks/alertmanager', alertPayload([]), auth);
    const { counter } = await import('../../../operator/src/runtime/metrics.ts');
    counter({ name: 'other_total', help: 'another family', registry }).inc();
    const all = await post(port, '/metrics', '', {}, 'GET');
    expect(all.body).toContain('# TYPE other_total counter');
    expect(all.body).toContain('cutover_hook_requests_total{hook="alertmanager",code="200"} 1');
    const one = await post(port, '/metrics?name[]=cutover_hook_requests_total&name[]=no_such_metric', '', {}, 'GET');
    expect(one.status).toBe(200);
    expect(one.body).toContain('cutover_hook_requests_total{hook="alertmanager",code="200"} 1');
    expect(one.body).not.toContain('other_total');
  });

  it('answers 202 with the pending keys when the rollback takes longer than rollbackWaitMs', async () => {
    const t = shopTarget();
    let release!: () => void;
    t.gate = new Promise<void>((r) => { release = r; });
    const { port } = await start(t, { rollbackWaitMs: 100 });
    const r = await post(port, '/hooks/alertmanager', alertPayload([{ labels: { alertname: 'A', service: 'listings-api' } }]), auth);
    release();
    expect(r.status).toBe(202);
    expect(r.json).toEqual({ rolledBack: [], pending: ['shop/listings-read'] });
    expect(t.calls).toHaveLength(1);
    // A 202 is a promise: the request is recorded on the object, with the id the reconcile acknowledges.
    expect(t.records).toEqual([{ key: 'shop/listings-read', request: { id: expect.stringMatching(/^alert-[0-9a-f]{16}$/), trigger: 'Alert', reason: 'alert A firing', alert: 'A' } }]);
    expect(t.ids).toEqual([t.records[0]!.request.id]);
  });

  it('the same alert gets the same record id on every delivery and replica (fingerprint and start)', async () => {
    const a = shopTarget();
    const b = shopTarget();
    const payload = alertPayload([{ labels: { alertname: 'A', service: 'listings-api' }, fingerprint: 'f1', startsAt: '2026-03-01T00:00:00Z' }]);
    await post((await start(a)).port, '/hooks/alertmanager', payload, auth);
    await server!.close();
    await post((await start(b)).port, '/hooks/alertmanager', payload, auth);
    expect(a.records[0]!.request.id).toBe(b.records[0]!.request.id);
  });

  it('503 when the rollback neither finished nor could be recorded; the resend then acts again', async () => {
    const t = shopTarget();
    let release!: () => void;
    t.gate = new Promise<void>((r) => { release = r; });
    t.recordError = new Error('etcdserver: request timed out');
    const { port } = await start(t, { rollbackWaitMs: 50, recordWaitMs: 50 });
    const payload = alertPayload([{ labels: { alertname: 'A', service: 'listings-api' } }]);
    const r = await post(port, '/hooks/alertmanager', payload, auth);
    expect(r.status).toBe(503);
    expect(r.json).toMatchObject({ error: expect.stringContaining('shop/listings-read'), pending: ['shop/listings-read'] });
    // Alertmanager resends after a 5xx: not dropped as a repeat of an alert already acted on.
    t.recordError = undefined;
    release();
    const again = await post(port, '/hooks/alertmanager', payload, auth);
    expect(again.status).toBe(200);
    expect(t.calls).toHaveLength(2);
    expect(t.records).toHaveLength(1);
  });
});

describe('POST /hooks/rollback (HMAC-signed)', () => {
  const now = 1_800_000_000_000;
  const body = JSON.stringify({ namespace: 'shop', name: 'listings-read', reason: 'pager: checkout errors' });

  it('a correctly signed request rolls the named resource back with trigger Webhook and its reason', async () => {
    const t = shopTarget();
    const { port } = await start(t, { now: () => now });
    const r = await post(port, '/hooks/rollback', body, sign(body, now / 1000));
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ rolledBack: ['shop/listings-read'] });
    expect(t.calls).toEqual([{ key: 'shop/listings-read', trigger: 'Webhook', reason: 'pager: checkout errors', alert: undefined }]);
  });

  it('slow and not recorded: 503, and the same signed request retried is not refused as a replay', async () => {
    const t = shopTarget();
    let release!: () => void;
    t.gate = new Promise<void>((r) => { release = r; });
    t.recordError = new Error('connection refused');
    const { port } = await start(t, { now: () => now, rollbackWaitMs: 50, recordWaitMs: 50 });
    const headers = sign(body, now / 1000);
    expect((await post(port, '/hooks/rollback', body, headers)).status).toBe(503);
    t.recordError = undefined;
    const slow = await post(port, '/hooks/rollback', body, headers);
    expect(slow.status).toBe(202);
    expect(t.records).toEqual([{ key: 'shop/listings-read', request: { id: expect.stringMatching(/^webhook-[0-9a-f]{16}$/), trigger: 'Webhook', reason: 'pager: checkout errors' } }]);
    release();
    // Now it was acted on and answered 2xx: the same signature again is a replay.
    expect((await post(port, '/hooks/rollback', body, headers)).status).toBe(409);
  });

  it('a replayed request gets 409 and changes nothing more', async () => {
    const t = shopTarget();
    const { port } = await start(t, { now: () => now });
    const h = sign(body, now / 1000);
    await post(port, '/hooks/rollback', body, h);
    const again = await post(port, '/hooks/rollback', body, h);
    expect(again.status).toBe(409);
    expect(t.calls).toHaveLength(1);
  });

  it.each([
    ['no signature', () => ({})],
    ['a signature with another secret', () => sign(body, now / 1000, 'other')],
    ['a signature over another body', () => sign(`${body} `, now / 1000)],
    ['a timestamp outside the window', () => sign(body, now / 1000 - 301)],
    ['a non-numeric timestamp', () => ({ ...sign(body, now / 1000), 'x-cutover-timestamp': 'yesterday' })],
  ])('401 and nothing changes with %s', async (_what, headers) => {
    const t = shopTarget();
    const { port } = await start(t, { now: () => now });
    const r = await post(port, '/hooks/rollback', body, headers());
    expect(r.status).toBe(401);
    expect(t.calls).toEqual([]);
  });

  it('400 when the signed body does not name a resource; 404 when it names an unknown one', async () => {
    const t = shopTarget();
    const { port } = await start(t, { now: () => now });
    const noName = JSON.stringify({ namespace: 'shop' });
    expect((await post(port, '/hooks/rollback', noName, sign(noName, now / 1000))).status).toBe(400);
    const unknown = JSON.stringify({ namespace: 'shop', name: 'nope' });
    const r = await post(port, '/hooks/rollback', unknown, sign(unknown, now / 1000));
    expect(r.status).toBe(404);
    expect(r.json.error).toContain('shop/nope');
    expect(t.calls).toEqual([]);
  });
});

describe('health endpoints', () => {
  it('/healthz is 200; /readyz follows ready(); unknown paths 404', async () => {
    let ready = false;
    const { port } = await start(shopTarget(), { ready: () => ready });
    const get = (path: string) => post(port, path, '', {}, 'GET');
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(503);
    ready = true;
    expect((await get('/readyz')).status).toBe(200);
    expect((await get('/nope')).status).toBe(404);
  });
});
