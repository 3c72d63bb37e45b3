// The comparator against real local HTTP servers on 127.0.0.1: a legacy and a new "listings"
// service whose answers differ in controlled ways. No cluster needed.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ParitySchema, type ParityInput } from '../../../operator/src/api/shadowrun.ts';
import { Comparator, serviceOfUrl, stripShadowSuffix } from '../../../operator/src/parity/comparator.ts';
import { renderJson, renderMarkdown, renderText } from '../../../operator/src/parity/report.ts';
import { FakeClock } from '../../../operator/src/runtime/clock.ts';
import { Registry } from '../../../operator/src/runtime/metrics.ts';

interface Hit {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

/** A listings service: GET /listings/:id answers JSON; `vary` changes an answer per id and call. */
interface Backend {
  url: string;
  hits: Hit[];
  server: Server;
}

type Handler = (id: number, call: number, req: IncomingMessage, res: ServerResponse) => void;

let calls = 0;
function listing(id: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  calls += 1;
  // `at` and `requestId` change on every call, on both services: noise.
  return { id, title: `flat ${id}`, price: 100 + id, score: 50, at: `2026-12-01T10:00:${String(calls % 60).padStart(2, '0')}.${calls}Z`, requestId: `r-${calls}`, ...over };
}

const servers: Server[] = [];
const comparators: Comparator[] = [];

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function backend(handle: Handler = (id, _c, _req, res) => json(res, listing(id))): Promise<Backend> {
  const hits: Hit[] = [];
  let call = 0;
  const server = createServer((req, res) => {
    hits.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    req.resume();
    req.on('end', () => {
      const m = /^\/listings\/(\d+)/.exec(req.url ?? '');
      if (req.method === 'POST' && req.url === '/search') return json(res, { results: [1, 2, 3] });
      if (!m) return json(res, { error: 'not found' }, 404);
      handle(Number(m[1]), call++, req, res);
    });
  });
  return { url: await listen(server), hits, server };
}

function json(res: ServerResponse, body: unknown, status = 200, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

interface Setup {
  comparator: Comparator;
  url: string;
  registry: Registry;
  clock: FakeClock;
}

/** A comparator for the run shop/listings; noise sampled on every 5th request (deterministic). */
async function comparatorFor(legacy: Backend, candidate: Backend, parity: ParityInput, extra: { summary?: string } = {}): Promise<Setup> {
  const clock = new FakeClock(0);
  const registry = new Registry();
  let n = 0;
  const comparator = new Comparator({
    namespace: 'shop',
    name: 'listings',
    legacy: legacy.url,
    candidate: candidate.url,
    parity: ParitySchema.parse({ maxLegacyRps: 1000, endpoints: ['GET /listings/:id'], ...parity }),
    clock,
    registry,
    random: () => (n++ % 5 === 0 ? 0 : 0.99),
    now: () => '2026-12-01T10:00:00.000Z',
    ...(extra.summary ? { summary: JSON.parse(extra.summary) } : {}),
  });
  comparators.push(comparator);
  const url = await listen(createServer(comparator.handle));
  return { comparator, url, registry, clock };
}

/** A mirrored request as the gateway sends it (node:http, so that Host can be set as Envoy does). */
function mirror(url: string, method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const length = init.body !== undefined ? { 'content-length': String(Buffer.byteLength(init.body)) } : {};
    const req = request(`${url}${path}`, { method, headers: { ...length, ...init.headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** n mirrored GETs of /listings/0 … /listings/n-1, one after another. */
async function reads(s: Setup, n: number, headers?: Record<string, string>): Promise<void> {
  for (let i = 0; i < n; i++) {
    expect(await mirror(s.url, 'GET', `/listings/${i}`, headers ? { headers } : {})).toBe(204);
    await s.comparator.idle();
  }
}

const META = { date: '2026-12-01T11:00:00Z', owner: 'team-listings' };

afterEach(async () => {
  for (const c of comparators.splice(0)) {
    await c.idle();
    c.close();
  }
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

describe('Comparator', () => {
  it('noise only → Pass, the noisy fields reported as noise', async () => {
    const s = await comparatorFor(await backend(), await backend(), { minCompared: 50 });
    await reads(s, 100);
    const r = s.comparator.report(META);
    expect([r.decision, r.result]).toEqual(['Go', 'Pass']);
    expect(r.flows).toMatchObject([{ endpoint: 'GET /listings/:id', compared: 100, noiseCompared: 20, mismatched: 0, matchRate: 1 }]);
    expect(r.differingFields.map((f) => [f.field, f.classification]).sort()).toEqual([['$.at', 'noise'], ['$.requestId', 'noise']]);
  });

  it('price wrong on 10 % of GET /listings/:id → Fail naming the endpoint and the field, with samples', async () => {
    const candidate = await backend((id, _c, _req, res) => json(res, listing(id, id % 10 === 3 ? { price: 1 } : {})));
    const s = await comparatorFor(await backend(), candidate, { minCompared: 50 });
    await reads(s, 100);
    const r = s.comparator.report(META);
    expect([r.decision, r.result]).toEqual(['No-Go', 'Fail']);
    expect(r.reason).toContain('GET /listings/:id: 10 of 100 compared responses differ');
    expect(r.reason).toContain('$.price');
    const price = r.differingFields.find((f) => f.field === '$.price');
    expect(price).toMatchObject({ endpoint: 'GET /listings/:id', raw: 10, noise: 0, classification: 'real' });
    expect(price?.samples).toHaveLength(5);
    expect(price?.samples[4]).toMatchObject({ request: { method: 'GET', path: '/listings/93' }, difference: '$.price (value): 193 → 1' });
    expect(renderMarkdown(r)).toContain('| `GET /listings/:id` | 100 | 10 | 90.00% | Fail |');
  });

  it('relative 0.05 on $.score absorbs a 2 % difference, counted as a known deviation', async () => {
    const candidate = await backend((id, _c, _req, res) => json(res, listing(id, { score: 51 })));
    const s = await comparatorFor(await backend(), candidate, { minCompared: 50, deviations: [{ path: '$.score', relative: 0.05, reason: '< 5% delta vs v1' }] });
    await reads(s, 60);
    const r = s.comparator.report(META);
    expect(r.result).toBe('Pass');
    expect(r.knownDeviations).toEqual([{ endpoint: 'GET /listings/:id', path: '$.score', rule: 'relative', reason: '< 5% delta vs v1', count: 60 }]);
    expect(r.differingFields.map((f) => f.field)).not.toContain('$.score');
  });

  it('never replays POST, PUT, PATCH or DELETE: neither service receives a write; allowMethods names read-only ones', async () => {
    const legacy = await backend();
    const candidate = await backend();
    const s = await comparatorFor(legacy, candidate, { allowMethods: ['POST /search'] });
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      expect(await mirror(s.url, method, '/listings/1', { body: '{"price":5}' })).toBe(204);
    }
    expect(await mirror(s.url, 'POST', '/search', { body: '{"q":"flat"}' })).toBe(204);
    await s.comparator.idle();
    expect(s.comparator.summary().skipped).toEqual({ method: 4 });
    // Replayed to the legacy twice (this first request is noise-sampled), to the new service once.
    expect(legacy.hits.map((h) => `${h.method} ${h.url}`)).toEqual(['POST /search', 'POST /search']);
    expect(candidate.hits.map((h) => `${h.method} ${h.url}`)).toEqual(['POST /search']);
    expect(s.comparator.summary().endpoints['POST /search']?.compared).toBe(1);
  });

  it('legacy replays stay ≤ maxLegacyRps under a burst; the rest is shed (the new service still gets its copy)', async () => {
    const legacy = await backend();
    const candidate = await backend();
    const s = await comparatorFor(legacy, candidate, { maxLegacyRps: 10, maxInFlight: 1024 });
    const burst = async () => {
      await Promise.all(Array.from({ length: 100 }, (_, i) => mirror(s.url, 'GET', `/listings/${i}`)));
      await s.comparator.idle();
    };
    await burst();
    expect(legacy.hits.length).toBeLessThanOrEqual(10);
    expect(legacy.hits.length).toBeGreaterThan(0);
    s.clock.advance(1000); // one second later: 10 more tokens, no more
    await burst();
    expect(legacy.hits.length).toBeLessThanOrEqual(20);
    const sum = s.comparator.summary();
    const compared = sum.endpoints['GET /listings/:id']?.compared ?? 0;
    expect(compared + (sum.skipped.rate_limited ?? 0)).toBe(200);
    expect(sum.forwardedOnly).toBe(sum.skipped.rate_limited);
    expect(candidate.hits.length).toBe(200);
    const skipped = await s.registry.getSingleMetricAsString('cutover_parity_skipped_total');
    expect(skipped).toContain(`cutover_parity_skipped_total{namespace="shop",shadowrun="listings",reason="rate_limited"} ${sum.skipped.rate_limited}`);
  });

  it('under a tight maxLegacyRps the noise sample is not starved: both legacy tokens are taken up front, a refused sample is owed', async () => {
    const legacy = await backend();
    const candidate = await backend();
    // 2 tokens a second, a full bucket of 2; every 5th request wants a noise sample.
    const s = await comparatorFor(legacy, candidate, { maxLegacyRps: 2, maxInFlight: 1024 });
    for (let second = 0; second < 10; second++) {
      // A burst of 5 each second: the first request usually takes the only tokens there are.
      await Promise.all(Array.from({ length: 5 }, (_, i) => mirror(s.url, 'GET', `/listings/${second * 5 + i}`)));
      await s.comparator.idle();
      s.clock.advance(1000);
    }
    const ep = s.comparator.summary().endpoints['GET /listings/:id']!;
    // Never more legacy replays than the bucket allows: 2 a second, plus the full bucket at the start.
    expect(legacy.hits.length).toBeLessThanOrEqual(2 + 2 * 10);
    expect(ep.noiseCompared).toBeGreaterThan(0);
    // The legacy was asked twice for every noise sample: replays = compared + noiseCompared.
    expect(legacy.hits.length).toBe(ep.compared + ep.noiseCompared);
  });

  it('the breaker pauses legacy replays when they fail', async () => {
    const legacy = await backend((_id, _c, _req, res) => json(res, { error: 'down' }, 503));
    const candidate = await backend();
    const s = await comparatorFor(legacy, candidate, {});
    await reads(s, 30);
    expect(legacy.hits.length).toBe(10); // the breaker judges after 10 replays, then pauses
    expect(candidate.hits.length).toBe(30);
    expect(s.comparator.summary().skipped).toEqual({ legacy_error: 10, breaker: 20 });
    expect(s.comparator.breakerState()).toMatchObject({ open: true, reason: '10 of the last 10 legacy replays failed (more than 5%)' });
    expect(await s.registry.getSingleMetricAsString('cutover_parity_breaker_open')).toContain('cutover_parity_breaker_open{namespace="shop",shadowrun="listings"} 1');
  });

  it('Authorization, Cookie and Set-Cookie are forwarded but never in the summary or the report; redactJsonPaths too', async () => {
    const secretAnswer = (id: number, price: number) => (_i: number, _c: number, _req: IncomingMessage, res: ServerResponse) =>
      json(res, listing(id, { price, owner: { email: 'owner@example.com' } }), 200, { 'set-cookie': 'sid=SETCOOKIE-SECRET' });
    const legacy = await backend((id, c, req, res) => secretAnswer(id, 10)(id, c, req, res));
    const candidate = await backend((id, c, req, res) => secretAnswer(id, 11)(id, c, req, res));
    const s = await comparatorFor(legacy, candidate, { minCompared: 1, redactJsonPaths: ['$.owner.email'], compareHeaders: ['content-type', 'set-cookie'] });
    await reads(s, 3, { authorization: 'Bearer AUTH-SECRET', cookie: 'sid=COOKIE-SECRET' });
    await mirror(s.url, 'GET', '/listings/7?access_token=QUERY-SECRET&page=2');
    await s.comparator.idle();
    expect(legacy.hits[0]?.headers.authorization).toBe('Bearer AUTH-SECRET');
    expect(candidate.hits[0]?.headers.cookie).toBe('sid=COOKIE-SECRET');
    const r = s.comparator.report(META);
    expect(r.differingFields.find((f) => f.field === '$.price')?.samples.length).toBe(4);
    for (const out of [s.comparator.serialize(), renderText(r), renderMarkdown(r), renderJson(r)]) {
      expect(out).toContain('$.price');
      for (const secret of ['AUTH-SECRET', 'COOKIE-SECRET', 'SETCOOKIE-SECRET', 'owner@example.com', 'QUERY-SECRET']) expect(out).not.toContain(secret);
    }
    expect(s.comparator.serialize()).toContain('page=2');
  });

  it('credentials: strip sends neither Authorization nor Cookie', async () => {
    const legacy = await backend();
    const candidate = await backend();
    const s = await comparatorFor(legacy, candidate, { credentials: 'strip' });
    await reads(s, 1, { authorization: 'Bearer x', cookie: 'a=b', accept: 'application/json' });
    for (const h of [...legacy.hits, ...candidate.hits]) {
      expect(h.headers.authorization).toBeUndefined();
      expect(h.headers.cookie).toBeUndefined();
      expect(h.headers.accept).toBe('application/json');
      expect(h.headers['x-cutover-parity']).toBe('shop/listings');
    }
  });

  it("strips Envoy's -shadow Host suffix and drops conditional headers", async () => {
    const legacy = await backend();
    const candidate = await backend();
    const s = await comparatorFor(legacy, candidate, {});
    await reads(s, 1, { host: 'shop.example.com-shadow', 'if-none-match': '"abc"' });
    expect(legacy.hits[0]?.headers.host).toBe('shop.example.com');
    expect(candidate.hits[0]?.headers.host).toBe('shop.example.com');
    expect(legacy.hits[0]?.headers['if-none-match']).toBeUndefined();
    expect(stripShadowSuffix('api.example.com-shadow:8080')).toBe('api.example.com:8080');
    expect(stripShadowSuffix('my-shadow-host')).toBe('my-shadow-host');
  });

  it('bodies over the limits: large answers compared by length and hash (counted truncated), large requests skipped', async () => {
    const big = (fill: string) => (_id: number, _c: number, _req: IncomingMessage, res: ServerResponse) => json(res, { blob: fill.repeat(4096) });
    const legacy = await backend(big('a'));
    const candidate = await backend(big('b'));
    const s = await comparatorFor(legacy, candidate, { minCompared: 1, maxResponseBodyBytes: 1024, maxRequestBodyBytes: 16, allowMethods: ['POST /search'] });
    await reads(s, 2);
    await mirror(s.url, 'POST', '/search', { body: 'x'.repeat(17) });
    await s.comparator.idle();
    const sum = s.comparator.summary();
    expect(sum.endpoints['GET /listings/:id']).toMatchObject({ compared: 2, truncated: 2 });
    expect(Object.keys(sum.endpoints['GET /listings/:id']?.fields ?? {})).toEqual(['body']);
    expect(sum.skipped).toEqual({ body: 1 });
    expect(legacy.hits.filter((h) => h.method === 'POST')).toEqual([]);
  });

  it('a legacy that refuses the replay (401, 403, 429) is skipped, not a mismatch', async () => {
    const legacy = await backend((_id, _c, _req, res) => json(res, { error: 'token already used' }, 401));
    const s = await comparatorFor(legacy, await backend(), {});
    await reads(s, 3);
    expect(s.comparator.summary()).toMatchObject({ skipped: { legacy_refused: 3 }, endpoints: {} });
  });

  it('a replay that times out counts as a legacy failure', async () => {
    const legacy = await backend(() => {}); // never answers
    const s = await comparatorFor(legacy, await backend(), { timeout: '100ms' });
    await reads(s, 2);
    expect(s.comparator.summary().skipped).toEqual({ legacy_error: 2 });
    expect(await s.registry.getSingleMetricAsString('cutover_parity_legacy_replays_total')).toContain('code_class="error"} 2');
  });

  it('exports its calls to the new service (cutover_parity_shadow_*): one per mirrored read, compared or shed, by status class, with latencies', async () => {
    // Every 4th answer of the new service is a 503; the legacy gets 2 replays a second at most, so
    // most reads are passed on to the new service only — and counted all the same.
    const candidate = await backend((id, _c, _req, res) => (id % 4 === 3 ? json(res, { error: 'down' }, 503) : json(res, listing(id))));
    const s = await comparatorFor(await backend(), candidate, { maxLegacyRps: 2 });
    await reads(s, 12);
    expect(candidate.hits).toHaveLength(12);
    expect(s.comparator.summary().forwardedOnly).toBeGreaterThan(0);
    const counts = await s.registry.getSingleMetricAsString('cutover_parity_shadow_requests_total');
    const service = serviceOfUrl(candidate.url);
    expect(counts).toContain(`cutover_parity_shadow_requests_total{namespace="shop",shadowrun="listings",service="${service}",code_class="2xx"} 9`);
    expect(counts).toContain(`cutover_parity_shadow_requests_total{namespace="shop",shadowrun="listings",service="${service}",code_class="5xx"} 3`);
    const latency = await s.registry.getSingleMetricAsString('cutover_parity_shadow_request_duration_seconds');
    expect(latency).toContain(`cutover_parity_shadow_request_duration_seconds_count{namespace="shop",shadowrun="listings",service="${service}"} 12`);
    expect(latency).toContain('le="0.075"');
  });

  it('names the new service by its Service (the first label of its host name)', () => {
    expect(serviceOfUrl('http://cohortlens-v2.cohortlens.svc:8001')).toBe('cohortlens-v2');
    expect(serviceOfUrl('http://127.0.0.1:8080')).toBe('127.0.0.1');
  });

  it('streams and upgrades are skipped', async () => {
    const legacy = await backend();
    const candidate = await backend();
    const s = await comparatorFor(legacy, candidate, {});
    await mirror(s.url, 'GET', '/listings/1', { headers: { accept: 'text/event-stream' } });
    await s.comparator.idle();
    expect(s.comparator.summary().skipped).toEqual({ stream: 1 });
    expect(legacy.hits).toEqual([]);
  });

  it('a 2xx that became a 5xx always counts', async () => {
    const candidate = await backend((id, _c, _req, res) => (id === 5 ? json(res, { error: 'boom' }, 500) : json(res, listing(id))));
    const s = await comparatorFor(await backend(), candidate, { minCompared: 50, maxMismatchRatio: 0.5 });
    await reads(s, 60);
    const r = s.comparator.report(META);
    expect(r.result).toBe('Fail');
    expect(r.flows[0]?.serverErrors).toBe(1);
  });

  it('counts carry on from a serialized summary (a restarted comparator)', async () => {
    const legacy = await backend();
    const candidate = await backend((id, _c, _req, res) => json(res, listing(id, { price: 0 })));
    const first = await comparatorFor(legacy, candidate, { minCompared: 1 });
    await reads(first, 3);
    const second = await comparatorFor(legacy, candidate, { minCompared: 1 }, { summary: first.comparator.serialize() });
    await reads(second, 2);
    expect(second.comparator.summary().endpoints['GET /listings/:id']).toMatchObject({ compared: 5, fields: { '$.price': { raw: 5 } } });
  });

  it('metrics carry endpoint buckets, never raw paths', async () => {
    const s = await comparatorFor(await backend(), await backend(), {});
    await reads(s, 3);
    const text = await s.registry.getSingleMetricAsString('cutover_parity_compared_total');
    expect(text).toContain('endpoint="GET /listings/:id"');
    expect(text).not.toMatch(/\/listings\/\d/);
  });
});
