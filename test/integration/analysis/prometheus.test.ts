// The Prometheus provider against a real Prometheus (Debian's /usr/bin/prometheus) that scrapes a
// small prom-client server every second. Needs no cluster: the test starts both on 127.0.0.1 and
// stops them by pid afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gauge, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEDUPLICATED_METRIC, DURATION_METRIC, PrometheusProvider } from '../../../operator/src/analysis/prometheus.ts';
import { freePort } from '../../testbed/procs.ts';

const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';

let dir: string;
let app: Server;
let prometheus: ChildProcess | undefined;
let address: string;

function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}\n--- prometheus log ---\n${readFileSync(join(dir, 'prometheus.log'), 'utf8')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function stopPrometheus(): Promise<void> {
  const child = prometheus;
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => child.pid && process.kill(child.pid, 'SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cutover-prom-'));

  // The scraped application: one plain gauge, one NaN gauge, one gauge with two series.
  const appRegistry = new Registry();
  new Gauge({ name: 'cutover_test_error_ratio', help: 'fixed error ratio', registers: [appRegistry] }).set(0.034);
  new Gauge({ name: 'cutover_test_not_a_number', help: 'NaN', registers: [appRegistry] }).set(NaN);
  const byCode = new Gauge({ name: 'cutover_test_requests', help: 'two series', labelNames: ['code'], registers: [appRegistry] });
  byCode.set({ code: '200' }, 97);
  byCode.set({ code: '500' }, 3);
  app = createServer((_req, res) => {
    appRegistry.metrics().then((body) => {
      res.writeHead(200, { 'content-type': appRegistry.contentType });
      res.end(body);
    }, () => { res.writeHead(500); res.end(); });
  });
  const appPort = await listen(app);

  const promPort = await freePort();
  address = `http://127.0.0.1:${promPort}`;
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    '  - job_name: testapp',
    '    static_configs:',
    `      - targets: ['127.0.0.1:${appPort}']`,
    '',
  ].join('\n');
  await writeFile(join(dir, 'prometheus.yml'), config);
  const log = openSync(join(dir, 'prometheus.log'), 'a');
  prometheus = spawn(PROMETHEUS_BIN, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
    '--log.level=warn',
  ], { stdio: ['ignore', log, log] });
  closeSync(log);

  await waitFor('Prometheus ready', 30_000, async () => (await fetch(`${address}/-/ready`)).ok);
  // First scrape: the gauge is queryable.
  await waitFor('first scrape', 30_000, async () => {
    const res = await fetch(`${address}/api/v1/query?query=cutover_test_error_ratio`);
    const body = (await res.json()) as { data: { result: unknown[] } };
    return body.data.result.length === 1;
  });
}, 90_000);

afterAll(async () => {
  await stopPrometheus();
  await new Promise((resolve) => app?.close(resolve));
  if (dir) await rm(dir, { recursive: true, force: true });
});

function provider(registry = new Registry(), options: { timeoutMs?: number; retries?: number; defaultAddress?: string } = {}) {
  return new PrometheusProvider({ defaultAddress: address, registry, ...options });
}

async function counterValue(registry: Registry, name: string): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  return metric?.values.reduce((sum, v) => sum + v.value, 0) ?? 0;
}

describe('PrometheusProvider range queries (the statistical judge)', () => {
  const range = { windowSeconds: 10, stepSeconds: 1 };

  it('returns one value per step of the window, template variables rendered', async () => {
    const p = provider();
    await waitFor('three scraped points', 30_000, async () => {
      const s = await p.queryRange({ query: 'cutover_test_error_ratio' }, {}, range);
      return s.kind === 'values' && s.values.length >= 3;
    });
    const sample = await p.queryRange({ query: 'cutover_test_error_ratio{job="{{name}}"}' }, { name: 'testapp' }, range);
    expect(sample.kind).toBe('values');
    const values = (sample as { values: number[] }).values;
    expect(values.length).toBeGreaterThanOrEqual(3);
    expect(values.length).toBeLessThanOrEqual(11);
    expect(new Set(values)).toEqual(new Set([0.034]));
  });

  it('drops NaN points and returns no values for an empty result', async () => {
    expect(await provider().queryRange({ query: 'cutover_test_not_a_number' }, {}, range)).toEqual({ kind: 'values', values: [] });
    expect(await provider().queryRange({ query: 'cutover_test_absent_metric' }, {}, range)).toEqual({ kind: 'values', values: [] });
  });

  it('is inconclusive when several series come back', async () => {
    const sample = await provider().queryRange({ query: 'cutover_test_requests' }, {}, range);
    expect(sample).toEqual({ kind: 'inconclusive', reason: 'the query returned 2 series, expected 1 (aggregate it, e.g. with sum())' });
  });

  it('reports a query Prometheus rejects as rejected', async () => {
    const sample = await provider().queryRange({ query: 'sum(' }, {}, range);
    expect(sample.kind).toBe('rejected');
  });

  it('shares identical concurrent range queries within one step', async () => {
    const registry = new Registry();
    const p = provider(registry);
    const now = Date.now();
    const [a, b] = await Promise.all([
      p.rangeQuery(address, 'sum(cutover_test_requests)', range, now),
      p.rangeQuery(address, 'sum(cutover_test_requests)', range, now),
    ]);
    expect(a).toEqual(b);
    expect(await counterValue(registry, DEDUPLICATED_METRIC)).toBe(1);
  });
});

describe('PrometheusProvider against a real Prometheus', () => {
  it('returns the value of a one-sample vector, with template variables rendered', async () => {
    const sample = await provider().query({ query: 'cutover_test_error_ratio{job="{{name}}"}' }, { name: 'testapp' });
    expect(sample).toEqual({ kind: 'value', value: 0.034 });
  });

  it('uses the address from the spec over the default', async () => {
    const p = provider(new Registry(), { defaultAddress: 'http://127.0.0.1:1' });
    expect(await p.query({ address, query: 'sum(cutover_test_requests)' }, {})).toEqual({ kind: 'value', value: 100 });
  });

  it('returns a scalar', async () => {
    expect(await provider().query({ query: 'scalar(cutover_test_error_ratio) * 2' }, {})).toEqual({ kind: 'value', value: 0.068 });
  });

  it('is inconclusive on an empty result', async () => {
    const sample = await provider().query({ query: 'cutover_test_error_ratio{job="{{name}}"}' }, { name: 'no-such-job' });
    expect(sample).toEqual({ kind: 'inconclusive', reason: 'no data: the query returned an empty vector' });
  });

  it('is inconclusive on NaN', async () => {
    expect(await provider().query({ query: 'cutover_test_not_a_number' }, {})).toEqual({ kind: 'inconclusive', reason: 'value is NaN (no requests in the window?)' });
  });

  it('is inconclusive on +Inf', async () => {
    expect(await provider().query({ query: 'cutover_test_error_ratio / 0' }, {})).toEqual({ kind: 'inconclusive', reason: 'value is +Inf' });
  });

  it('is inconclusive when several series come back', async () => {
    const sample = await provider().query({ query: 'cutover_test_requests' }, {});
    expect(sample).toEqual({ kind: 'inconclusive', reason: 'the query returned 2 series, expected 1 (aggregate it, e.g. with sum())' });
  });

  it('reports a query Prometheus rejects (400 bad_data) as rejected', async () => {
    const sample = await provider().query({ query: 'sum(rate(cutover_test_requests[1m])' }, {});
    expect(sample.kind).toBe('rejected');
    expect(sample.kind === 'rejected' && sample.reason).toMatch(/^Prometheus rejected the query: .*parse error/);
  });

  it('reports a range-vector result as rejected', async () => {
    const sample = await provider().query({ query: 'cutover_test_error_ratio[1m]' }, {});
    expect(sample).toMatchObject({ kind: 'rejected', reason: expect.stringContaining('range vector') });
  });

  it('reports an unknown template variable as rejected, naming it, without asking Prometheus', async () => {
    const registry = new Registry();
    const sample = await provider(registry).query({ query: 'x{service="{{canary.svc}}"}' }, {});
    expect(sample).toMatchObject({ kind: 'rejected', reason: expect.stringContaining('{{canary.svc}}') });
    expect(await counterValue(registry, DURATION_METRIC)).toBe(0);
  });

  it('de-duplicates identical concurrent queries and counts them', async () => {
    const registry = new Registry();
    const p = provider(registry);
    const query = { query: 'sum(cutover_test_requests{code="500"})' };
    const burst = Array.from({ length: 5 }, () => p.query(query, {}));
    const other = p.query({ query: 'sum(cutover_test_requests{code="200"})' }, {});
    expect(p.inFlight).toBe(2);
    const samples = await Promise.all(burst);
    expect(samples).toEqual(Array(5).fill({ kind: 'value', value: 3 }));
    expect(await other).toEqual({ kind: 'value', value: 97 });
    expect(p.inFlight).toBe(0);
    expect(await counterValue(registry, DEDUPLICATED_METRIC)).toBe(4);
    // Two HTTP requests measured, both with a value.
    const histogram = await registry.getSingleMetric(DURATION_METRIC)!.get();
    const values = histogram.values as { metricName?: string; value: number; labels: Record<string, string | number | undefined> }[];
    const count = values.find((v) => v.metricName === `${DURATION_METRIC}_count` && v.labels.result === 'value');
    expect(count?.value).toBe(2);
    // Once settled, the same query goes to Prometheus again.
    await p.query(query, {});
    expect(await counterValue(registry, DEDUPLICATED_METRIC)).toBe(4);
  });

  it('lets one caller stop waiting without cancelling the shared request', async () => {
    const p = provider();
    const query = { query: 'sum(cutover_test_requests)' };
    const controller = new AbortController();
    const impatient = p.query(query, {}, controller.signal);
    const patient = p.query(query, {});
    controller.abort(new Error('reconcile cancelled'));
    await expect(impatient).rejects.toThrow('reconcile cancelled');
    expect(await patient).toEqual({ kind: 'value', value: 100 });
  });

  it('is inconclusive when the server does not answer in time', async () => {
    const sockets: Socket[] = [];
    const silent = createTcpServer((socket) => { sockets.push(socket); }); // accepts, never answers
    const port = await listen(silent);
    try {
      const started = performance.now();
      const sample = await provider(new Registry(), { timeoutMs: 300 }).query({ address: `http://127.0.0.1:${port}`, query: 'up' }, {});
      expect(sample).toEqual({ kind: 'inconclusive', reason: `Prometheus http://127.0.0.1:${port}/ did not answer within 300 ms` });
      expect(performance.now() - started).toBeGreaterThanOrEqual(290); // it waited for the timeout, not less
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('retries a 5xx a limited number of times, then is inconclusive', async () => {
    let requests = 0;
    const failing = createServer((_req, res) => {
      requests++;
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'error', errorType: 'unavailable', error: 'shutting down' }));
    });
    const port = await listen(failing);
    try {
      const sample = await provider(new Registry(), { retries: 2 }).query({ address: `http://127.0.0.1:${port}`, query: 'up' }, {});
      expect(requests).toBe(3);
      expect(sample).toMatchObject({ kind: 'inconclusive', reason: expect.stringContaining('(HTTP 503) unavailable: shutting down (gave up after 3 attempts') });
    } finally {
      await new Promise((resolve) => failing.close(resolve));
    }
  });

  // Last: stops the shared Prometheus.
  it('is inconclusive once Prometheus is stopped (connection refused)', async () => {
    const p = provider();
    expect(await p.query({ query: 'cutover_test_error_ratio' }, {})).toEqual({ kind: 'value', value: 0.034 });
    await stopPrometheus();
    const sample = await p.query({ query: 'cutover_test_error_ratio' }, {});
    expect(sample).toMatchObject({ kind: 'inconclusive', reason: expect.stringMatching(/unreachable: ECONNREFUSED \(gave up after 3 attempts/) });
  });
});
