// RequestMirror through the testbed gateway (real API server, experimental-channel CRDs): the mirror
// backend receives copies of the requests, the client only ever sees the primary's answers, and the
// gateway's metrics record the mirror's real status codes under mirror="true".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, promQuery, uniqueName } from '../../helpers/cluster.ts';
import type { BackendHandle } from '../../testbed/dataplane/backend.ts';
import { runLoad } from '../../testbed/dataplane/load.ts';
import type { HTTPRouteFilter } from '../../testbed/dataplane/routing.ts';
import { fixture, gatewayUrl, send, type Fixture } from './helpers.ts';

const ns = uniqueName('dp-mirror');
const host = `${ns}.example.test`;
let fx: Fixture;
let primary: BackendHandle;
let shadow: BackendHandle;

const mirrorRule = (mirror: Partial<NonNullable<HTTPRouteFilter['requestMirror']>> = {}) => [
  {
    filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'shadow', port: 80 }, ...mirror } }],
    backendRefs: [{ name: 'primary', port: 80 }],
  },
];

beforeAll(async () => {
  fx = fixture(ns);
  primary = await fx.addBackend('primary', { version: 'v1' });
  // The shadow fails every request and is slow: none of it may reach the client.
  shadow = await fx.addBackend('shadow', { version: 'v2', errorRate: 1, errorStatus: 500, latencyMs: 50 });
  await fx.applyRoute('web', [host], mirrorRule());
  await eventually('the gateway to route and mirror', async () => {
    const r = await send(host, '/warmup');
    return r.status === 200 && shadow.stats().total > 0;
  }, 30_000, 100);
});

afterAll(async () => {
  await fx?.cleanup();
});

describe('gateway RequestMirror (real API server)', () => {
  it('copies every request to the mirror; the client sees only the primary', async () => {
    // Let the warm-up's mirrored copies (the shadow answers after 50 ms) land before counting.
    await new Promise((r) => setTimeout(r, 500));
    shadow.resetStats();
    primary.resetStats();
    const s = await runLoad({ url: gatewayUrl(), host, path: '/orders?id=7', method: 'POST', body: '{"order":7}', headers: { 'content-type': 'application/json' }, rps: 200, maxRequests: 300 });
    expect(s.byStatus).toEqual({ '200': 300 });
    expect(s.byService).toEqual({ primary: 300 });
    expect(primary.stats().total).toBe(300);
    await eventually('the mirror to receive all 300 copies', async () => shadow.stats().total >= 300, 10_000, 100);
    expect(shadow.stats().total).toBe(300);
    const last = shadow.stats().recent.at(-1)!;
    expect(last).toMatchObject({ method: 'POST', path: '/orders?id=7', bytes: '{"order":7}'.length });
    expect(shadow.stats().byCode).toEqual({ '500': 300 });
  });

  it('records the mirror\'s real status codes under mirror="true" in Prometheus', async () => {
    const rows = await eventually('mirrored 500s in Prometheus', async () => {
      const r = await promQuery(`sum by (service, code, mirror) (http_requests_total{namespace="${ns}",route="web"})`);
      const m = r.find((x) => x.metric['service'] === 'shadow' && x.metric['mirror'] === 'true' && x.metric['code'] === '500');
      return m && m.value >= 300 ? r : undefined;
    }, 30_000, 500);
    expect(rows.some((x) => x.metric['service'] === 'primary' && x.metric['mirror'] === 'false' && x.metric['code'] === '200')).toBe(true);
    expect(rows.some((x) => x.metric['service'] === 'shadow' && x.metric['mirror'] === 'false')).toBe(false);
  });

  it('mirrors only the configured percent', async () => {
    await fx.applyRoute('web', [host], mirrorRule({ percent: 25 }));
    await new Promise((r) => setTimeout(r, 1000));
    shadow.resetStats();
    const s = await runLoad({ url: gatewayUrl(), host, path: '/p', rps: 500, maxRequests: 1000 });
    expect(s.byStatus).toEqual({ '200': 1000 });
    await new Promise((r) => setTimeout(r, 500));
    const n = shadow.stats().total;
    expect(n).toBeGreaterThan(180);
    expect(n).toBeLessThan(320);
  });
});
