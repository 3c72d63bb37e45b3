// Resilience: hook abuse. Unauthenticated, oversized, malformed, replayed and flooding requests to
// both hooks (bounded, loopback only): every one refused with the right status, nothing changes in
// the cluster, and the operator stays responsive — /readyz is probed every 25 ms throughout and every
// probe must be answered 200. How fast is a target measured by `npm run bench` (part readyz), not here.
import { createHmac } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eventually, kubectlOk, testbed, uniqueName } from '../helpers/cluster.ts';
import { processIdentity, startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { createScenario, shiftYaml, type Scenario, type ShiftObject } from '../helpers/scenario.ts';

const TOKEN = 'resilience-hooks-token-3b1f';
const SECRET = 'resilience-hooks-hmac-9c2d';
const NS = uniqueName('rs-hooks');
let operator: OperatorProcess;
/** The operator process as it started: a crash or restart changes it (see processIdentity). */
let started: Awaited<ReturnType<typeof processIdentity>>;
let s: Scenario;
let before: { rv: string; weights: Record<string, number> };

/** Raw HTTP so that bodies, headers and connection behaviour are exactly what we send. */
function call(path: string, opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<{ status: number; body: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let status = 0;
    let body = '';
    const req = request(`${operator.url}${path}`, { method: opts.method ?? 'POST', headers: { 'content-type': 'application/json', ...opts.headers }, timeout: 10_000 }, (res) => {
      status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status, body, ms: performance.now() - t0 }));
      res.on('error', () => resolve({ status, body, ms: performance.now() - t0 }));
    });
    // A server that refuses a large upload answers (413) and closes while we may still be writing:
    // the write then fails (EPIPE/ECONNRESET) around the time the answer arrives. Wait for it briefly.
    req.on('error', () => setTimeout(() => resolve({ status, body, ms: performance.now() - t0 }), status ? 0 : 1000));
    req.on('timeout', () => req.destroy());
    req.end(opts.body);
  });
}

function alertBody(labels: Record<string, string>, fingerprint = 'fp-1'): string {
  return JSON.stringify({ version: '4', status: 'firing', receiver: 'cutover', groupKey: 'x', alerts: [{ status: 'firing', labels: { alertname: 'Abuse', ...labels }, startsAt: new Date().toISOString(), fingerprint }] });
}

function signed(body: string, ts = Math.floor(Date.now() / 1000), secret = SECRET): Record<string, string> {
  return { 'x-cutover-timestamp': String(ts), 'x-cutover-signature': `sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}` };
}

async function state(): Promise<{ rv: string; weights: Record<string, number> }> {
  const ts = await s.shift<ShiftObject & { metadata: { resourceVersion: string } }>('target');
  return { rv: ts.metadata.resourceVersion, weights: await s.routeWeights() };
}

// /readyz probed throughout the whole file: every probe must be answered 200 (within the probe's
// 5 s timeout, a generous bound: the kubelet's readiness probe would mark the pod unready after it).
const readyz: Array<{ ok: boolean; phase: string }> = [];
let phase = 'setup';
let probing = true;
let prober: Promise<void>;

const failures: string[] = [];
function get(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { timeout: 5000, agent: false }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode !== 200) failures.push(`${url} → ${res.statusCode} during "${phase}"`);
        resolve(res.statusCode === 200);
      });
    });
    req.on('error', (err) => { failures.push(`${url} → ${err.message} during "${phase}"`); resolve(false); });
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

beforeAll(async () => {
  operator = await startOperator(testbed(), { name: 'resilience-hooks', namespaces: [NS], env: { CUTOVER_ALERTMANAGER_TOKEN: TOKEN, CUTOVER_WEBHOOK_HMAC_SECRET: SECRET } });
  started = await processIdentity(operator);
  s = await createScenario({ prefix: 'rs-hooks', ns: NS });
  // No analysis: nothing but the hooks could change this shift while it waits in a long first step.
  await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'target', { steps: [[10, '10m'], [100, '10m']] }).replace(/ {2}analysis:[\s\S]*$/, `  rollback:
    alerts:
      - matchLabels: {namespace: ${NS}, service: listings-api}
`));
  await eventually('first step', async () => (await s.shift<ShiftObject>('target')).status?.currentWeight === 10, 60_000);
  await new Promise((r) => setTimeout(r, 500));
  before = await state();
  prober = (async () => {
    while (probing) {
      readyz.push({ ok: await get(`${operator.url}/readyz`), phase });
      await new Promise((res) => setTimeout(res, 25));
    }
  })();
  await eventually('the first /readyz probe', async () => readyz.length > 0, 10_000, 25);
});

afterAll(async () => {
  probing = false;
  await prober;
  phase = 'done';
  await operator?.stop();
  await s?.cleanup();
  // A probe still in flight when its case ended, or one between cases, is judged here.
  expect(failures, `every /readyz probe answered 200 (${readyz.length} probes)`).toEqual([]);
});

describe('hook abuse: refused, nothing changed, /readyz answered throughout', () => {
  beforeEach((ctx) => { phase = ctx.task.name; });
  // Each case is judged on its own: after it the shift and its route are as before, the operator is
  // the same process, and every /readyz probe sent during it was answered 200.
  afterEach(async (ctx) => {
    expect(await state()).toEqual(before);
    expect(await processIdentity(operator)).toEqual(started); // the same process (pid, start time)
    expect(operator.exitStatus()).toBeUndefined();
    expect(failures.filter((f) => f.endsWith(`during "${ctx.task.name}"`)), 'every /readyz probe during this case answered 200').toEqual([]);
  });

  it.each([
    ['no token', {}],
    ['a wrong token', { authorization: `Bearer not-${TOKEN}` }],
    ['a token of the wrong scheme', { authorization: `Basic ${TOKEN}` }],
  ])('alertmanager hook with %s: 401', async (_w, headers) => {
    const r = await call('/hooks/alertmanager', { headers, body: alertBody({ namespace: NS, service: 'listings-api' }) });
    expect(r.status).toBe(401);
  });

  it('oversized bodies: 413, on both hooks, with and without Content-Length', async () => {
    const big = Buffer.alloc(2 << 20, 'a');
    // Twelve times each, half of them with `Connection: close`: a server that answers and closes
    // while the body is still arriving resets the connection, and the reset loses the 413 at the
    // client (seen in about 1 call in 10 across processes before the server drained first).
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const close: Record<string, string> = i % 2 === 1 ? { connection: 'close' } : {};
      statuses.push((await call('/hooks/alertmanager', { headers: { authorization: `Bearer ${TOKEN}`, ...close }, body: big })).status);
      statuses.push((await call('/hooks/rollback', { headers: { ...signed('x'), ...close }, body: big })).status);
    }
    expect(statuses).toEqual(Array(24).fill(413));
    // Chunked (no Content-Length): refused while reading.
    const chunked = await new Promise<number>((resolve) => {
      let answered = false;
      const req = request(`${operator.url}/hooks/alertmanager`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'transfer-encoding': 'chunked' } }, (res) => { answered = true; res.resume(); resolve(res.statusCode ?? 0); });
      // The server answers 413 while we are still writing; our next write may then fail (EPIPE)
      // before the answer is read. Give the answer a moment to arrive before counting no answer.
      req.on('error', () => setTimeout(() => { if (!answered) resolve(0); }, 1000));
      for (let i = 0; i < 40; i++) req.write(Buffer.alloc(64 << 10, 'b'));
      req.end();
    });
    expect(chunked).toBe(413);
  });

  it.each([
    ['truncated JSON', '{"alerts": ['],
    ['not an object', '"firing"'],
    ['alerts not a list', '{"alerts": {"a": 1}}'],
    ['binary garbage', '\u0000\u00ff\u0001garbage'],
  ])('alertmanager hook with %s: 400', async (_w, body) => {
    const r = await call('/hooks/alertmanager', { headers: { authorization: `Bearer ${TOKEN}` }, body });
    expect(r.status).toBe(400);
  });

  it('wrong method: 405', async () => {
    expect((await call('/hooks/alertmanager', { method: 'GET', headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(405);
  });

  it('signed hook: missing, wrong or stale signatures are 401; a replay is 409; malformed bodies 400', async () => {
    const body = JSON.stringify({ namespace: NS, name: 'does-not-exist', reason: 'abuse' });
    expect((await call('/hooks/rollback', { body })).status).toBe(401);
    expect((await call('/hooks/rollback', { headers: signed(body, undefined, 'wrong-secret'), body })).status).toBe(401);
    expect((await call('/hooks/rollback', { headers: signed(body, Math.floor(Date.now() / 1000) - 3600), body })).status).toBe(401);
    const tampered = signed(body);
    expect((await call('/hooks/rollback', { headers: tampered, body: body.replace('does-not-exist', 'target') })).status).toBe(401);
    const h = signed(body);
    expect((await call('/hooks/rollback', { headers: h, body })).status).toBe(404);
    expect((await call('/hooks/rollback', { headers: h, body })).status).toBe(409);
    const bad = '{"namespace": 7}';
    expect((await call('/hooks/rollback', { headers: signed(bad), body: bad })).status).toBe(400);
  });

  it('flooding (600 requests, 40 in flight, unauthenticated and authenticated with non-matching alerts): only 200/401/429, no 5xx', async () => {
    const codes: Record<number, number> = {};
    let next = 0;
    await Promise.all(Array.from({ length: 40 }, async () => {
      while (next < 600) {
        const i = next++;
        const r = i % 2 === 0
          ? await call('/hooks/alertmanager', { body: alertBody({ namespace: NS, service: 'listings-api' }, `flood-${i}`) })
          : await call('/hooks/alertmanager', { headers: { authorization: `Bearer ${TOKEN}` }, body: alertBody({ namespace: NS, service: 'somebody-else' }, `flood-${i}`) });
        codes[r.status] = (codes[r.status] ?? 0) + 1;
      }
    }));
    expect(Object.keys(codes).map(Number).every((c) => [200, 401, 429].includes(c)), JSON.stringify(codes)).toBe(true);
    expect(codes[429] ?? 0).toBeGreaterThan(0);
  });

  it('the shift stays Progressing without a rollback a second later; /healthz answers; nothing fatal logged', async () => {
    await new Promise((r) => setTimeout(r, 1000));
    const ts = await s.shift<ShiftObject>('target');
    expect(ts.status?.phase).toBe('Progressing');
    expect(ts.status?.rollback).toBeUndefined();
    expect(operator.logText()).not.toMatch(/"level":"(fatal)"|uncaught|unhandled/i);
    expect((await call('/healthz', { method: 'GET' })).status).toBe(200);
  });
});
