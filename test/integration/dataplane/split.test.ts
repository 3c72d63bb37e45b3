// The testbed gateway against the real API server: weighted split of real requests, seen by the client
// and by Prometheus (which scrapes the gateway every second), and re-split after a weight change.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, promQuery, uniqueName } from '../../helpers/cluster.ts';
import { runLoad } from '../../testbed/dataplane/load.ts';
import { unregisterBackend } from '../../testbed/dataplane/registry.ts';
import { fixture, gatewayUrl, kubeconfig, send, type Fixture } from './helpers.ts';

const ns = uniqueName('dp-split');
const host = `${ns}.example.test`;
let fx: Fixture;
/** Every 200 this file got through the gateway, by service: what Prometheus must eventually show. */
const seen: Record<string, number> = {};
const tally = (byService: Record<string, number>): void => {
  for (const [s, n] of Object.entries(byService)) seen[s] = (seen[s] ?? 0) + n;
};

const rules = (stable: number, canary: number) => [{ backendRefs: [{ name: 'stable', port: 80, weight: stable }, { name: 'canary', port: 80, weight: canary }] }];

async function promCounts(): Promise<Record<string, number>> {
  const rows = await promQuery(`sum by (service) (http_requests_total{namespace="${ns}",route="web",code="200",mirror="false"})`);
  return Object.fromEntries(rows.map((r) => [r.metric['service'] ?? '', r.value]));
}

/** Waits until Prometheus has scraped exactly what we sent, and returns its per-service counts. */
async function promCaughtUp(): Promise<Record<string, number>> {
  return eventually('Prometheus to show every request sent', async () => {
    const c = await promCounts();
    return (c['stable'] ?? 0) === (seen['stable'] ?? 0) && (c['canary'] ?? 0) === (seen['canary'] ?? 0) ? c : undefined;
  }, 30_000, 500);
}

async function load(n: number): Promise<Record<string, number>> {
  const s = await runLoad({ url: gatewayUrl(), host, path: '/split', rps: 500, maxRequests: n });
  expect(s.sent).toBe(n);
  expect(s.byStatus).toEqual({ '200': n });
  tally(s.byService);
  return s.byService;
}

beforeAll(async () => {
  fx = fixture(ns);
  await fx.addBackend('stable', { version: 'v1' });
  await fx.addBackend('canary', { version: 'v2' });
  await fx.applyRoute('web', [host], rules(90, 10));
  // The gateway learns about the route, Services and EndpointSlices by watch.
  await eventually('the gateway to route the new HTTPRoute', async () => {
    const r = await send(host, '/warmup');
    if (r.status === 200 && r.service) tally({ [r.service]: 1 });
    return r.status === 200;
  }, 30_000, 100);
});

afterAll(async () => {
  await fx?.cleanup();
});

describe('gateway weighted split (real API server)', () => {
  it('splits 2,000 requests 90/10 within ±3 points, and Prometheus shows the same split', async () => {
    const before = await promCaughtUp();
    const by = await load(2000);
    expect(Math.abs((by['canary'] ?? 0) / 2000 - 0.1)).toBeLessThanOrEqual(0.03);
    const after = await promCaughtUp();
    const canary = (after['canary'] ?? 0) - (before['canary'] ?? 0);
    const stable = (after['stable'] ?? 0) - (before['stable'] ?? 0);
    expect(canary + stable).toBe(2000);
    expect(canary).toBe(by['canary'] ?? 0);
    expect(Math.abs(canary / 2000 - 0.1)).toBeLessThanOrEqual(0.03);
  });

  it('a weight change takes effect, and from the first canary answer on every answer is canary', async () => {
    await fx.applyRoute('web', [host], rules(0, 100));
    // The deadline only ends a broken run; the check is that the switch is clean once it comes.
    const deadline = Date.now() + 30_000;
    let switchedAt = 0;
    let afterSwitch = 0;
    while (Date.now() < deadline) {
      const r = await send(host, '/switch');
      expect(r.status).toBe(200);
      tally({ [r.service ?? '-']: 1 });
      if (r.service === 'canary' && !switchedAt) switchedAt = Date.now();
      if (switchedAt) {
        expect(r.service).toBe('canary');
        afterSwitch++;
        if (Date.now() - switchedAt > 300 && afterSwitch >= 20) break;
      }
    }
    expect(switchedAt, 'no canary answer within 30 s of the route change').toBeGreaterThan(0);
    expect(afterSwitch).toBeGreaterThanOrEqual(20);
  });

  it('after the weights change to 50/50 the new split holds, in the client and in Prometheus', async () => {
    await fx.applyRoute('web', [host], rules(50, 50));
    await new Promise((r) => setTimeout(r, 1000));
    const before = await promCaughtUp();
    const by = await load(2000);
    expect(Math.abs((by['canary'] ?? 0) / 2000 - 0.5)).toBeLessThanOrEqual(0.03);
    const after = await promCaughtUp();
    const canary = (after['canary'] ?? 0) - (before['canary'] ?? 0);
    expect(Math.abs(canary / 2000 - 0.5)).toBeLessThanOrEqual(0.03);
    // The ratio as an operator would query it.
    const ratio = await promQuery(`sum(http_requests_total{namespace="${ns}",service="canary",mirror="false"}) / sum(http_requests_total{namespace="${ns}",mirror="false"})`);
    expect(ratio[0]?.value).toBeGreaterThan(0);
  });

  it('answers 404 for an unknown host and 503 when the backend has no endpoints', async () => {
    expect((await send(`nope-${host}`)).status).toBe(404);
    await fx.applyRoute('web', [host], rules(0, 100));
    await unregisterBackend(kubeconfig(), { namespace: ns, service: 'canary', keepService: true });
    await eventually('503 without endpoints', async () => (await send(host, '/gone')).status === 503, 5000, 100);
  });
});
