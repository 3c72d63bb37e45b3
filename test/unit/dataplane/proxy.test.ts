// The gateway's proxy path against in-process backends, with a hand-fed GatewayState (no cluster).
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayState, startProxy, type GatewayServer } from '../../testbed/dataplane/gateway.ts';
import { startBackend, type BackendHandle } from '../../testbed/dataplane/backend.ts';
import { runLoad } from '../../testbed/dataplane/load.ts';
import { backendObjects } from '../../testbed/dataplane/registry.ts';
import type { EndpointSlice, HTTPRoute, HTTPRouteRule, Service } from '../../testbed/dataplane/routing.ts';

const NS = 'unit';
let primary: BackendHandle;
let canary: BackendHandle;
let shadow: BackendHandle;
let gw: GatewayServer;
const state = new GatewayState();

function register(b: BackendHandle, service: string): void {
  const objs = backendObjects({ namespace: NS, service, port: 80, targetPort: b.port });
  state.upsertService(objs.service as unknown as Service);
  state.upsertSlice(objs.slice as unknown as EndpointSlice);
}

function setRoute(rules: HTTPRouteRule[], hostnames = ['app.test']): void {
  const r: HTTPRoute = { metadata: { name: 'app', namespace: NS, creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { hostnames, rules } };
  state.upsertRoute(r);
}

// fetch() cannot set the Host header, so use node:http.
function get(path: string, host = 'app.test', init: { method?: string; body?: string } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: gw.port, path, method: init.method ?? 'GET', headers: { host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

beforeAll(async () => {
  [primary, canary, shadow] = await Promise.all([startBackend({ name: 'primary' }), startBackend({ name: 'canary', version: 'v2' }), startBackend({ name: 'shadow' })]);
  register(primary, 'primary');
  register(canary, 'canary');
  register(shadow, 'shadow');
  gw = await startProxy({ state });
});

afterAll(async () => {
  await gw?.close();
  await Promise.all([primary?.close(), canary?.close(), shadow?.close()]);
});

describe('gateway proxy', () => {
  it('routes to the backend and passes method, path, body; 404 without a route', async () => {
    setRoute([{ backendRefs: [{ name: 'primary', port: 80 }] }]);
    const r = await get('/hello?x=1', 'app.test:8080', { method: 'POST', body: 'payload' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ service: 'primary', path: '/hello?x=1', version: 'v1' });
    expect(primary.stats().recent.at(-1)).toMatchObject({ method: 'POST', path: '/hello?x=1', bytes: 7 });
    expect((await get('/', 'nope.test')).status).toBe(404);
  });

  it('splits by weight within ±3 points over 2,000 requests, and records metrics', async () => {
    setRoute([{ backendRefs: [{ name: 'primary', port: 80, weight: 90 }, { name: 'canary', port: 80, weight: 10 }] }]);
    const s = await runLoad({ url: `http://127.0.0.1:${gw.port}`, host: 'app.test', path: '/split', rps: 500, maxRequests: 2000 });
    expect(s.sent).toBe(2000);
    expect(s.byStatus['200']).toBe(2000);
    const share = (s.byService['canary'] ?? 0) / 2000;
    expect(Math.abs(share - 0.1)).toBeLessThanOrEqual(0.03);
    const text = await gw.metrics.registry.metrics();
    expect(text).toMatch(/http_requests_total\{namespace="unit",route="app",service="canary",code="200",mirror="false"\} \d+/);
    expect(text).toMatch(/http_request_duration_seconds_bucket\{le="0.005",namespace="unit",route="app",service="primary",mirror="false"\} \d+/);
  });

  it('never sends to weight 0 and 500s when all weights are 0', async () => {
    setRoute([{ backendRefs: [{ name: 'primary', port: 80, weight: 0 }, { name: 'canary', port: 80, weight: 1 }] }]);
    const s = await runLoad({ url: `http://127.0.0.1:${gw.port}`, host: 'app.test', rps: 1000, maxRequests: 200 });
    expect(s.byService).toEqual({ canary: 200 });
    setRoute([{ backendRefs: [{ name: 'primary', port: 80, weight: 0 }] }]);
    expect((await get('/')).status).toBe(500);
  });

  it('503s without endpoints, 500s for an unknown Service', async () => {
    const objs = backendObjects({ namespace: NS, service: 'empty', port: 80, targetPort: 1 });
    state.upsertService(objs.service as unknown as Service);
    setRoute([{ backendRefs: [{ name: 'empty', port: 80 }] }]);
    expect((await get('/')).status).toBe(503);
    setRoute([{ backendRefs: [{ name: 'missing', port: 80 }] }]);
    expect((await get('/')).status).toBe(500);
  });

  it('mirrors to the shadow backend and returns only the primary answer', async () => {
    shadow.resetStats();
    shadow.setConfig({ errorRate: 1, latencyMs: 20 });
    setRoute([{ filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'shadow', port: 80 } } }], backendRefs: [{ name: 'primary', port: 80 }] }]);
    const s = await runLoad({ url: `http://127.0.0.1:${gw.port}`, host: 'app.test', path: '/m', method: 'POST', body: '{"a":1}', rps: 500, maxRequests: 100 });
    expect(s.byStatus).toEqual({ '200': 100 });
    expect(s.byService).toEqual({ primary: 100 });
    await expect.poll(() => shadow.stats().total, { timeout: 5000 }).toBe(100);
    expect(shadow.stats().recent.at(-1)).toMatchObject({ method: 'POST', path: '/m', bytes: 7 });
    await expect
      .poll(async () => /http_requests_total\{namespace="unit",route="app",service="shadow",code="500",mirror="true"\} 100/.test(await gw.metrics.registry.metrics()), { timeout: 5000 })
      .toBe(true);
    shadow.setConfig({ errorRate: 0, latencyMs: 0 });
  });

  it('mirrors only the configured share', async () => {
    shadow.resetStats();
    setRoute([{ backendRefs: [{ name: 'primary', port: 80, filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'shadow', port: 80 }, fraction: { numerator: 1, denominator: 4 } } }] }] }]);
    await runLoad({ url: `http://127.0.0.1:${gw.port}`, host: 'app.test', rps: 2000, maxRequests: 1000 });
    await new Promise((r) => setTimeout(r, 200));
    const n = shadow.stats().total;
    expect(n).toBeGreaterThan(180);
    expect(n).toBeLessThan(320);
  });

  it('round-robins over endpoints', async () => {
    const second = await startBackend({ name: 'primary-2' });
    try {
      const objs = backendObjects({ namespace: NS, service: 'primary', slice: 'primary-2', port: 80, targetPort: second.port });
      state.upsertSlice(objs.slice as unknown as EndpointSlice);
      setRoute([{ backendRefs: [{ name: 'primary', port: 80 }] }]);
      const s = await runLoad({ url: `http://127.0.0.1:${gw.port}`, host: 'app.test', rps: 1000, maxRequests: 100, concurrency: 1 });
      expect(s.byService).toEqual({ primary: 50, 'primary-2': 50 });
      state.removeSlice(objs.slice as unknown as EndpointSlice);
    } finally {
      await second.close();
    }
  });
});

describe('backend admin API', () => {
  it('changes config, sets gauges and exports metrics', async () => {
    const b = await startBackend({ name: 'adm' });
    try {
      const post = (path: string, body: unknown): Promise<Response> => fetch(`${b.url}${path}`, { method: 'POST', body: JSON.stringify(body) });
      expect((await post('/__admin/config', { errorRate: 1, errorStatus: 503, body: { extra: true } })).status).toBe(200);
      expect(await (await fetch(`${b.url}/__admin/config`)).json()).toMatchObject({ errorRate: 1, errorStatus: 503, body: { extra: true } });
      const r = await fetch(`${b.url}/x`);
      expect(r.status).toBe(503);
      expect(await r.json()).toMatchObject({ service: 'adm', extra: true, error: 'injected failure' });
      expect((await post('/__admin/config', { errorRate: 2 })).status).toBe(400);
      expect((await post('/__admin/gauge', { name: 'queue_depth', value: 42, labels: { queue: 'a' } })).status).toBe(200);
      expect((await post('/__admin/gauge', { name: 'queue_depth', value: 1 })).status).toBe(400);
      const text = await (await fetch(`${b.url}/metrics`)).text();
      expect(text).toContain('queue_depth{queue="a"} 42');
      expect(text).toContain('backend_requests_total{code="503"} 1');
    } finally {
      await b.close();
    }
  });

  it('adds latency', async () => {
    const b = await startBackend({ name: 'slow', latencyMs: 100 });
    try {
      const s = await runLoad({ url: b.url, rps: 100, maxRequests: 5 });
      expect(s.latencyMs.p50).toBeGreaterThanOrEqual(95);
    } finally {
      await b.close();
    }
  });
});
