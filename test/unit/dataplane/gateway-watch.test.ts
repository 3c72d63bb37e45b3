// startGateway's list+watch against a fake API server: initial sync, watch-driven updates, resume
// after dropped watches, relist after 410 Gone (including deletions missed while disconnected).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type GatewayHandle } from '../../testbed/dataplane/gateway.ts';
import { startBackend, type BackendHandle } from '../../testbed/dataplane/backend.ts';
import { runLoad } from '../../testbed/dataplane/load.ts';
import { backendObjects } from '../../testbed/dataplane/registry.ts';
import { FakeApiServer } from './fake-apiserver.ts';

const fake = new FakeApiServer();
let gw: GatewayHandle;
let a: BackendHandle;
let b: BackendHandle;

type Applied = Parameters<FakeApiServer['apply']>[1];

function route(weights: [number, number], name = 'web', host = 'web.test'): Applied {
  return {
    metadata: { name, namespace: 'ns' },
    spec: { hostnames: [host], rules: [{ backendRefs: [{ name: 'a', port: 80, weight: weights[0] }, { name: 'b', port: 80, weight: weights[1] }] }] },
  };
}

function register(backend: BackendHandle, service: string): void {
  const objs = backendObjects({ namespace: 'ns', service, port: 80, targetPort: backend.port });
  fake.apply('services', objs.service as unknown as Applied);
  fake.apply('endpointslices', objs.slice as unknown as Applied);
}

async function split(n = 200, host = 'web.test'): Promise<Record<string, number>> {
  const s = await runLoad({ url: `http://127.0.0.1:${gw.port}`, host, rps: 2000, maxRequests: n });
  return { ...s.byService, ...Object.fromEntries(Object.entries(s.byStatus).filter(([c]) => c !== '200').map(([c, k]) => [`status-${c}`, k])) };
}

async function until(fn: () => Promise<boolean> | boolean, timeoutMs = 1000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await fn()) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(async () => {
  await fake.start();
  [a, b] = await Promise.all([startBackend({ name: 'a' }), startBackend({ name: 'b' })]);
  register(a, 'a');
  register(b, 'b');
  fake.apply('httproutes', route([100, 0]));
  gw = await startGateway({ kubeconfig: fake.kubeconfigPath });
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([a?.close(), b?.close()]);
  await fake.stop();
});

describe('gateway list+watch', () => {
  it('is synced when started', async () => {
    expect(await split(50)).toEqual({ a: 50 });
    const metrics = await (await fetch(`http://127.0.0.1:${gw.metricsPort}/metrics`)).text();
    expect(metrics).toContain('http_requests_total{namespace="ns",route="web",service="a",code="200",mirror="false"} 50');
  });

  it('applies a weight change within a second', async () => {
    fake.apply('httproutes', route([0, 100]));
    const ms = await until(async () => JSON.stringify(await split(20)) === JSON.stringify({ b: 20 }));
    expect(ms).toBeLessThan(1000);
  });

  it('follows endpoint and route deletions', async () => {
    fake.remove('endpointslices', 'ns', 'b');
    await until(async () => (await split(5))['status-503'] === 5);
    register(b, 'b');
    await until(async () => (await split(5))['b'] === 5);
    fake.remove('httproutes', 'ns', 'web');
    await until(async () => (await split(5))['status-404'] === 5);
    fake.apply('httproutes', route([0, 100]));
    await until(async () => (await split(5))['b'] === 5);
  });

  it('resumes after the API server drops its watches', async () => {
    const before = fake.watchRequests;
    fake.dropWatches();
    await until(() => fake.watchRequests >= before + 3, 5000);
    fake.apply('httproutes', route([100, 0]));
    await until(async () => (await split(10))['a'] === 10, 2000);
  });

  it('relists after 410 Gone and picks up changes missed meanwhile', async () => {
    const lists = fake.listRequests;
    fake.dropWatches();
    // Changes while no watch is open, then history compaction: resuming must fail with 410 → relist.
    fake.remove('httproutes', 'ns', 'web');
    fake.apply('httproutes', route([0, 100], 'web2', 'other.test'));
    fake.compact();
    await until(() => fake.listRequests >= lists + 1, 5000);
    await until(async () => (await split(5, 'other.test'))['b'] === 5, 2000);
    expect((await split(5))['status-404']).toBe(5);
  });
});
