// The web check provider against real HTTP servers on 127.0.0.1: success, every failure mode
// (inconclusive, never a pass), retries counted by the server, Secrets read and never shown.
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { evaluateMetric } from '../../../operator/src/analysis/evaluate.ts';
import type { MetricSample } from '../../../operator/src/analysis/provider.ts';
import { numberAt, redactUrl, WEB_REQUESTS_METRIC, WebCheckProvider, type SecretValueReader } from '../../../operator/src/analysis/webcheck.ts';
import type { SecretKeyRef } from '../../../operator/src/api/common.ts';
import { WebCheckSchema, type WebCheck } from '../../../operator/src/api/webcheck.ts';
import { observeAnalysis } from '../../../operator/src/controllers/shared/analysis.ts';
import type { SpecProblem } from '../../../operator/src/controllers/shared/planner.ts';
import { Registry } from '../../../operator/src/runtime/metrics.ts';
import { json, startCheckServer, type CheckServer } from '../../helpers/check-server.ts';

const TOKEN = 'tok-3f9a1c77e0b2'; // a Secret's value: must never show in a message
const BODY_SECRET = 'select-42-from-secret';

/** Secrets of namespace `shop`, as the kube layer would read them. */
const secrets: Record<string, Record<string, string>> = { 'check-token': { bearer: `Bearer ${TOKEN}` }, query: { body: `{"q":"${BODY_SECRET}"}` } };
const readSecret: SecretValueReader = async (namespace: string, ref: SecretKeyRef) => (namespace === 'shop' ? secrets[ref.name]?.[ref.key] : undefined);

let server: CheckServer;
let registry: Registry;
let provider: WebCheckProvider;

beforeAll(async () => { server = await startCheckServer(); });
afterAll(async () => { await server.close(); });
beforeEach(() => {
  server.requests.length = 0;
  registry = new Registry();
  provider = new WebCheckProvider({ readSecret, registry, retryDelayMs: 10, secretTtlMs: 0 });
});

/** A web check as the API server stores it (defaults applied). */
function check(fields: Partial<WebCheck> & { path?: string } = {}): WebCheck {
  const { path = '/compare', ...rest } = fields;
  return WebCheckSchema.parse({ url: `${server.url}${path}`, jsonPath: '$.delta', timeout: '2s', ...rest });
}

const measure = (web: WebCheck, vars = {}) => provider.query({ namespace: 'shop', web }, vars);
const inconclusive = (reason: RegExp) => ({ kind: 'inconclusive', reason: expect.stringMatching(reason) as unknown });

/** What a user sees: the sample judged by `max: 0.05`. */
const judged = (sample: MetricSample) => evaluateMetric({ name: 'no-regression', max: 0.05 }, { value: sample });

describe('web check: a value', () => {
  it('reads the number at jsonPath and the thresholds judge it', async () => {
    server.answer(() => json({ delta: 0.012, v1: 100, v2: 101.2 }));
    const sample = await measure(check());
    expect(sample).toEqual({ kind: 'value', value: 0.012 });
    expect(judged(sample)).toMatchObject({ result: 'Pass', value: 0.012, message: 'no-regression 0.012 <= 0.05' });
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]).toMatchObject({ method: 'GET', url: '/compare' });
  });

  it('a large value fails, and the message holds the value that failed', async () => {
    server.answer(() => json({ delta: 0.12 }));
    expect(judged(await measure(check()))).toMatchObject({ result: 'Fail', value: 0.12, message: 'no-regression 0.12 > 0.05' });
  });

  it('POSTs the templated body with literal and Secret headers', async () => {
    server.answer((req) => json({ results: [{ 'count ratio': req.body.includes('shop') ? 1.0002 : 0 }] }));
    const web = check({
      method: 'POST', path: '/counts?ns={{namespace}}', body: '{"namespace": "{{namespace}}", "service": "{{canary.service}}"}',
      jsonPath: "$.results[0]['count ratio']",
      headers: [
        { name: 'Content-Type', value: 'application/json' },
        { name: 'Authorization', valueFrom: { secretKeyRef: { name: 'check-token', key: 'bearer' } } },
      ],
    });
    expect(await measure(web, { namespace: 'shop', 'canary.service': 'orders-v2' })).toEqual({ kind: 'value', value: 1.0002 });
    const [req] = server.requests;
    expect(req).toMatchObject({ method: 'POST', url: '/counts?ns=shop', body: '{"namespace": "shop", "service": "orders-v2"}' });
    expect(req?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(req?.headers['content-type']).toBe('application/json');
  });

  it('sends a body read from a Secret', async () => {
    server.answer((req) => json([1, 2, req.body === `{"q":"${BODY_SECRET}"}` ? 3 : -1]));
    expect(await measure(check({ method: 'POST', bodyFrom: { secretKeyRef: { name: 'query', key: 'body' } }, jsonPath: '$[-1]' }))).toEqual({ kind: 'value', value: 3 });
  });

  it('takes a string holding a number', async () => {
    server.answer(() => json({ delta: '0.004' }));
    expect(await measure(check())).toEqual({ kind: 'value', value: 0.004 });
  });
});

describe('web check: failure modes are inconclusive, never a pass', () => {
  it('timeout: a server that does not answer', async () => {
    server.answer(() => ({ hang: true }));
    const sample = await measure(check({ timeout: '300ms', retries: 0 }));
    expect(sample).toEqual(inconclusive(/^GET http:\/\/127\.0\.0\.1:\d+\/compare did not answer within 300ms \(1 attempt\)$/));
    expect(judged(sample).result).toBe('Inconclusive');
  });

  it('500: retried `retries` times (the server counts 1 + retries requests), then inconclusive', async () => {
    server.answer(() => ({ status: 500, body: 'boom' }));
    const sample = await measure(check({ retries: 2 }));
    expect(sample).toEqual(inconclusive(/answered HTTP 500 \(3 attempts\)$/));
    expect(server.requests).toHaveLength(3);
    expect(judged(sample).result).toBe('Inconclusive');
    const counted = (await registry.getSingleMetric(WEB_REQUESTS_METRIC)!.get()).values;
    expect(counted).toEqual([expect.objectContaining({ labels: { code: '500' }, value: 3 })]);
  });

  it('a 503 then a 200: the retry gets the value', async () => {
    server.answer((_req, n) => (n === 1 ? { status: 503, body: '' } : json({ delta: 0.02 })));
    expect(await measure(check({ retries: 1 }))).toEqual({ kind: 'value', value: 0.02 });
    expect(server.requests).toHaveLength(2);
  });

  it('POSTs are retried too', async () => {
    server.answer((_req, n) => (n < 3 ? { status: 502, body: '' } : json({ delta: 0.01 })));
    expect(await measure(check({ method: 'POST', body: '{}', retries: 2 }))).toEqual({ kind: 'value', value: 0.01 });
    expect(server.requests.map((r) => r.method)).toEqual(['POST', 'POST', 'POST']);
  });

  it('a 404 is not retried', async () => {
    server.answer(() => ({ status: 404, body: 'not found' }));
    expect(await measure(check({ retries: 3 }))).toEqual(inconclusive(/answered HTTP 404 \(1 attempt\)$/));
    expect(server.requests).toHaveLength(1);
  });

  it('a redirect is not followed (and is not the answer)', async () => {
    server.answer(() => ({ status: 302, body: '', headers: { location: 'http://127.0.0.1:1/elsewhere' } }));
    expect(await measure(check())).toEqual(inconclusive(/answered HTTP 302/));
    expect(server.requests).toHaveLength(1);
  });

  it('not JSON', async () => {
    server.answer(() => ({ body: '<html>delta: 0.01</html>', contentType: 'text/html' }));
    const sample = await measure(check());
    expect(sample).toEqual(inconclusive(/answered HTTP 200 with a body that is not JSON \(text\/html, 24 bytes\)$/));
    expect(judged(sample).result).toBe('Inconclusive');
  });

  it('path missing', async () => {
    server.answer(() => json({ results: [] }));
    expect(await measure(check({ jsonPath: '$.results[0].delta' }))).toEqual(inconclusive(/: the answer has no \$\.results\[0\] \(jsonPath \$\.results\[0\]\.delta\)$/));
  });

  it.each<[string, unknown, RegExp]>([
    ['a string', 'small', /^\$\.delta is a string that is not a number, not a number$/],
    ['null', null, /^\$\.delta is null, not a number$/],
    ['a boolean', true, /^\$\.delta is a boolean, not a number$/],
    ['an object', { v: 1 }, /^\$\.delta is an object, not a number$/],
    ['an array', [0.01], /^\$\.delta is an array, not a number$/],
  ])('value not a number: %s', async (_case, delta, reason) => {
    server.answer(() => json({ delta }));
    const sample = await measure(check());
    expect(sample).toEqual(inconclusive(reason));
    expect(judged(sample).result).toBe('Inconclusive');
  });

  it('unreachable: nothing listens on the port', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((r) => probe.close(() => r()));
    const web = WebCheckSchema.parse({ url: `http://127.0.0.1:${port}/x`, jsonPath: '$.delta', retries: 1 });
    expect(await measure(web)).toEqual(inconclusive(/unreachable: ECONNREFUSED \(2 attempts\)$/));
  });

  it('a Secret that does not exist is rejected (the controller stalls naming the field), not measured', async () => {
    const problems: SpecProblem[] = [];
    const web = check({ headers: [{ name: 'Authorization', valueFrom: { secretKeyRef: { name: 'nope', key: 'bearer' } } }] });
    const results = await observeAnalysis({
      provider: { name: 'prometheus', query: () => Promise.reject(new Error('not used')), queryRange: () => Promise.reject(new Error('not used')) },
      web: provider, namespace: 'shop', defaultAddress: 'http://unused:9090', vars: {}, signal: new AbortController().signal,
      metrics: [{ name: 'no-regression', web, max: 0.05 }],
    }, problems);
    expect(results).toEqual([]);
    expect(problems).toEqual([{ field: 'spec.analysis.metrics[0].web', reason: 'QueryError', message: 'the web check cannot run: no-regression: header Authorization: Secret shop/nope has no key "bearer" (or does not exist)' }]);
    expect(server.requests).toHaveLength(0);
  });

  it('a Secret that cannot be read (forbidden) is inconclusive', async () => {
    const forbidden = new WebCheckProvider({ readSecret: () => Promise.reject(new Error('secrets "check-token" is forbidden')), registry });
    const web = check({ headers: [{ name: 'Authorization', valueFrom: { secretKeyRef: { name: 'check-token', key: 'bearer' } } }] });
    expect(await forbidden.query({ namespace: 'shop', web }, {})).toEqual(inconclusive(/^cannot read a Secret of the web check: secrets "check-token" is forbidden$/));
  });

  it('an unknown template variable is rejected', async () => {
    expect(await measure(check({ path: '/c?x={{canary.servce}}' }))).toMatchObject({ kind: 'rejected', reason: expect.stringContaining('unknown variable {{canary.servce}}') as unknown });
  });

  it('an aborted reconcile rejects with the abort reason', async () => {
    server.answer(() => ({ hang: true }));
    const ac = new AbortController();
    const pending = provider.query({ namespace: 'shop', web: check({ timeout: '10s' }) }, {}, ac.signal);
    setTimeout(() => ac.abort(new Error('reconcile cancelled')), 50);
    await expect(pending).rejects.toThrow('reconcile cancelled');
  });
});

describe('web check: Secrets are reused for secretTtlMs, then read again', () => {
  it('one read per Secret key within the TTL; a rotated value is sent after it', async () => {
    let now = 0;
    let reads = 0;
    let token = 'one';
    const counting: SecretValueReader = async () => { reads++; return `Bearer ${token}`; };
    const cached = new WebCheckProvider({ readSecret: counting, registry, secretTtlMs: 30_000, now: () => now });
    server.answer(() => json({ delta: 0 }));
    const web = check({ headers: [{ name: 'Authorization', valueFrom: { secretKeyRef: { name: 'check-token', key: 'bearer' } } }] });
    await cached.query({ namespace: 'shop', web }, {});
    token = 'two';
    now = 29_999;
    await cached.query({ namespace: 'shop', web }, {});
    now = 30_000;
    await cached.query({ namespace: 'shop', web }, {});
    expect(reads).toBe(2);
    expect(server.requests.map((r) => r.headers.authorization)).toEqual(['Bearer one', 'Bearer one', 'Bearer two']);
    // Another namespace is another Secret.
    await cached.query({ namespace: 'other', web }, {});
    expect(reads).toBe(3);
  });
});

describe('web check: Secrets never appear in what it reports', () => {
  // An endpoint that echoes the request (headers, body) in every failure shape.
  const echo = (req: { headers: object; body: string }) => JSON.stringify({ headers: req.headers, body: req.body });
  it.each<[string, (req: { headers: object; body: string }) => ReturnType<Parameters<CheckServer['answer']>[0]>]>([
    ['500 echoing the request', (req) => ({ status: 500, body: echo(req) })],
    ['not JSON echoing the request', (req) => ({ body: `oops ${echo(req)}` })],
    ['path missing in an echo', (req) => ({ body: echo(req), contentType: 'application/json' })],
    ['the Secret as the value', (req) => json({ delta: String(req.headers['authorization' as keyof object]) })],
  ])('%s', async (_case, answer) => {
    server.answer(answer);
    const web = check({
      method: 'POST', retries: 0, bodyFrom: { secretKeyRef: { name: 'query', key: 'body' } },
      headers: [{ name: 'Authorization', valueFrom: { secretKeyRef: { name: 'check-token', key: 'bearer' } } }],
    });
    const sample = await measure(web);
    expect(sample.kind).toBe('inconclusive');
    const shown = JSON.stringify([sample, judged(sample)]);
    expect(shown).not.toContain(TOKEN);
    expect(shown).not.toContain(BODY_SECRET);
  });

  it('messages show a URL without credentials or query values', () => {
    expect(redactUrl('https://user:pw@check.example.com/compare?token=abc&cohort=x')).toBe('https://check.example.com/compare?token=…&cohort=…');
  });

  it('numberAt refuses non-finite numbers', () => {
    expect(numberAt(Infinity, '$.x')).toEqual(inconclusive(/not a finite number/));
    expect(numberAt('1e3', '$.x')).toEqual({ kind: 'value', value: 1000 });
    expect(numberAt('', '$.x').kind).toBe('inconclusive');
  });
});
