import { describe, expect, it } from 'vitest';
import {
  applyHeaderModifiers,
  chooseWeighted,
  compileRoutes,
  loopbackTarget,
  matchRequest,
  mirrorShare,
  normalizeHost,
  pathPrefixMatches,
  resolveEndpoints,
  shouldMirror,
  type EndpointSlice,
  type HTTPRoute,
  type RequestInfo,
  type Service,
} from '../../testbed/dataplane/routing.ts';

function req(p: Partial<RequestInfo> & { url?: string }): RequestInfo {
  const url = p.url ?? p.path ?? '/';
  const q = url.indexOf('?');
  return {
    host: p.host ?? 'app.example.com',
    method: p.method ?? 'GET',
    path: q >= 0 ? url.slice(0, q) : url,
    query: q >= 0 ? url.slice(q + 1) : '',
    headers: p.headers ?? {},
  };
}

function route(name: string, spec: HTTPRoute['spec'], extra: Partial<HTTPRoute['metadata']> = {}): HTTPRoute {
  return { metadata: { name, namespace: 'ns', creationTimestamp: '2026-01-01T00:00:00Z', ...extra }, spec };
}

const svc = (name: string) => [{ name, port: 80 }];

describe('host and path helpers', () => {
  it('normalizes Host headers', () => {
    expect(normalizeHost('App.Example.com:8080')).toBe('app.example.com');
    expect(normalizeHost('[::1]:80')).toBe('::1');
    expect(normalizeHost('example.com.')).toBe('example.com');
    expect(normalizeHost(undefined)).toBe('');
  });

  it('matches path prefixes element-wise', () => {
    expect(pathPrefixMatches('/', '/anything')).toBe(true);
    expect(pathPrefixMatches('/foo', '/foo')).toBe(true);
    expect(pathPrefixMatches('/foo', '/foo/bar')).toBe(true);
    expect(pathPrefixMatches('/foo/', '/foo')).toBe(true);
    expect(pathPrefixMatches('/foo', '/foobar')).toBe(false);
    expect(pathPrefixMatches('/foo', '/')).toBe(false);
  });
});

describe('route matching', () => {
  it('matches by hostname, exact beats wildcard beats catch-all', () => {
    const table = compileRoutes([
      route('catchall', { rules: [{ backendRefs: svc('c') }] }),
      route('wild', { hostnames: ['*.example.com'], rules: [{ backendRefs: svc('w') }] }),
      route('wild2', { hostnames: ['*.b.example.com'], rules: [{ backendRefs: svc('w2') }] }),
      route('exact', { hostnames: ['app.example.com'], rules: [{ backendRefs: svc('e') }] }),
    ]);
    expect(matchRequest(table, req({ host: 'app.example.com:80' }))?.routeName).toBe('exact');
    expect(matchRequest(table, req({ host: 'other.example.com' }))?.routeName).toBe('wild');
    expect(matchRequest(table, req({ host: 'x.b.example.com' }))?.routeName).toBe('wild2');
    expect(matchRequest(table, req({ host: 'example.com' }))?.routeName).toBe('catchall');
    expect(matchRequest(table, req({ host: 'elsewhere.org' }))?.routeName).toBe('catchall');
  });

  it('returns null when nothing matches', () => {
    const table = compileRoutes([route('r', { hostnames: ['a.test'], rules: [{ matches: [{ path: { type: 'Exact', value: '/x' } }], backendRefs: svc('a') }] })]);
    expect(matchRequest(table, req({ host: 'b.test', path: '/x' }))).toBeNull();
    expect(matchRequest(table, req({ host: 'a.test', path: '/y' }))).toBeNull();
    expect(matchRequest(table, req({ host: 'a.test', path: '/x' }))?.routeName).toBe('r');
  });

  it('applies precedence: exact path, longest prefix, method, headers, query params', () => {
    const table = compileRoutes([
      route('r', {
        hostnames: ['h.test'],
        rules: [
          { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: svc('root') },
          { matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: svc('api') },
          { matches: [{ path: { type: 'PathPrefix', value: '/api/v2' } }], backendRefs: svc('v2') },
          { matches: [{ path: { type: 'Exact', value: '/api/v2/health' } }], backendRefs: svc('health') },
          { matches: [{ path: { type: 'PathPrefix', value: '/api' }, method: 'POST' }], backendRefs: svc('post') },
          { matches: [{ path: { type: 'PathPrefix', value: '/api' }, headers: [{ name: 'X-Canary', value: 'yes' }] }], backendRefs: svc('canary') },
          { matches: [{ path: { type: 'PathPrefix', value: '/api' }, queryParams: [{ name: 'beta', value: '1' }] }], backendRefs: svc('beta') },
          { matches: [{ path: { type: 'RegularExpression', value: '/re/[0-9]+' } }], backendRefs: svc('re') },
        ],
      }),
    ]);
    const pick = (r: Partial<RequestInfo> & { url?: string }): string | undefined => matchRequest(table, req({ host: 'h.test', ...r }))?.backends[0]?.name;
    expect(pick({ path: '/' })).toBe('root');
    expect(pick({ path: '/apix' })).toBe('root');
    expect(pick({ path: '/api/x' })).toBe('api');
    expect(pick({ path: '/api/v2/x' })).toBe('v2');
    expect(pick({ path: '/api/v2/health' })).toBe('health');
    expect(pick({ path: '/api/x', method: 'POST' })).toBe('post');
    expect(pick({ path: '/api/x', headers: { 'x-canary': 'yes' } })).toBe('canary');
    expect(pick({ path: '/api/x', headers: { 'x-canary': 'no' } })).toBe('api');
    expect(pick({ url: '/api/x?beta=1' })).toBe('beta');
    expect(pick({ path: '/re/123' })).toBe('re');
    expect(pick({ path: '/re/12a' })).toBe('root');
  });

  it('breaks ties across routes by age, then namespace/name; within a route by rule order', () => {
    const table = compileRoutes([
      route('b-newer', { rules: [{ backendRefs: svc('newer') }] }, { creationTimestamp: '2026-02-01T00:00:00Z' }),
      route('z-older', { rules: [{ backendRefs: svc('older') }] }, { creationTimestamp: '2025-01-01T00:00:00Z' }),
    ]);
    expect(matchRequest(table, req({}))?.routeName).toBe('z-older');
    const same = compileRoutes([route('b', { rules: [{ backendRefs: svc('b') }] }), route('a', { rules: [{ backendRefs: svc('a1') }, { backendRefs: svc('a2') }] })]);
    expect(matchRequest(same, req({}))?.backends[0]?.name).toBe('a1');
  });

  it('resolves backendRefs: default namespace, weight 1, invalid kinds, filters', () => {
    const table = compileRoutes([
      route('r', {
        rules: [
          {
            filters: [
              { type: 'RequestMirror', requestMirror: { backendRef: { name: 'shadow', port: 80 }, percent: 25 } },
              { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'X-A', value: '1' }] } },
            ],
            backendRefs: [
              { name: 'a', port: 80 },
              { name: 'b', namespace: 'other', port: 81, weight: 0 },
              { name: 'c', kind: 'Bucket', group: 'x.io', port: 80 },
              { name: 'd' },
            ],
          },
        ],
      }),
    ]);
    const rule = matchRequest(table, req({}))!;
    expect(rule.backends.map((b) => [b.namespace, b.name, b.port, b.weight, Boolean(b.invalid)])).toEqual([
      ['ns', 'a', 80, 1, false],
      ['other', 'b', 81, 0, false],
      ['ns', 'c', 80, 1, true],
      ['ns', 'd', undefined, 1, true],
    ]);
    expect(rule.mirrors).toHaveLength(1);
    expect(rule.mirrors[0]!.backend).toMatchObject({ namespace: 'ns', name: 'shadow', port: 80 });
    expect(rule.mirrors[0]!.share).toBe(0.25);
    expect(rule.requestHeaderModifiers).toHaveLength(1);
  });
});

describe('weighted choice and mirror sampling', () => {
  it('never chooses weight 0 and honours the weights', () => {
    const items = [
      { name: 'a', weight: 90 },
      { name: 'zero', weight: 0 },
      { name: 'b', weight: 10 },
    ];
    expect(chooseWeighted(items, () => 0)?.name).toBe('a');
    expect(chooseWeighted(items, () => 0.8999)?.name).toBe('a');
    expect(chooseWeighted(items, () => 0.9)?.name).toBe('b');
    expect(chooseWeighted(items, () => 0.99999)?.name).toBe('b');
    let seed = 42;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const counts: Record<string, number> = {};
    for (let i = 0; i < 20_000; i++) {
      const n = chooseWeighted(items, rand)!.name;
      counts[n] = (counts[n] ?? 0) + 1;
    }
    expect(counts['zero']).toBeUndefined();
    expect(counts['a']! / 20_000).toBeGreaterThan(0.88);
    expect(counts['a']! / 20_000).toBeLessThan(0.92);
  });

  it('returns null when all weights are 0 or there are no items', () => {
    expect(chooseWeighted([{ weight: 0 }])).toBeNull();
    expect(chooseWeighted([])).toBeNull();
  });

  it('computes mirror shares from percent or fraction', () => {
    const ref = { name: 's', port: 80 };
    expect(mirrorShare({ backendRef: ref })).toBe(1);
    expect(mirrorShare({ backendRef: ref, percent: 30 })).toBe(0.3);
    expect(mirrorShare({ backendRef: ref, percent: 0 })).toBe(0);
    expect(mirrorShare({ backendRef: ref, fraction: { numerator: 1 } })).toBe(0.01);
    expect(mirrorShare({ backendRef: ref, fraction: { numerator: 1, denominator: 4 } })).toBe(0.25);
    expect(mirrorShare({ backendRef: ref, fraction: { numerator: 5, denominator: 0 } })).toBe(0);
    expect(shouldMirror(1, () => 0.9999)).toBe(true);
    expect(shouldMirror(0, () => 0)).toBe(false);
    expect(shouldMirror(0.5, () => 0.49)).toBe(true);
    expect(shouldMirror(0.5, () => 0.5)).toBe(false);
  });
});

describe('endpoint resolution', () => {
  const service: Service = { metadata: { name: 'web', namespace: 'ns' }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'admin', port: 9000 }] } };
  const slice = (name: string, addressType: string, endpoints: NonNullable<EndpointSlice['endpoints']>, ports: EndpointSlice['ports']): EndpointSlice => ({
    metadata: { name, namespace: 'ns', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType,
    endpoints,
    ports,
  });

  it('maps loopback addresses, including the FQDN encoding', () => {
    expect(loopbackTarget('IPv4', '127.0.0.1')).toBe('127.0.0.1');
    expect(loopbackTarget('IPv4', '127.1.2.3')).toBe('127.1.2.3');
    expect(loopbackTarget('IPv4', '10.0.0.1')).toBeNull();
    // The real node's pods (10.88.0.0/24), as the EndpointSlice controller publishes them.
    expect(loopbackTarget('IPv4', '10.88.0.17')).toBe('10.88.0.17');
    expect(loopbackTarget('IPv4', '10.88.1.17')).toBeNull();
    expect(loopbackTarget('IPv4', '127.0.0.300')).toBeNull();
    expect(loopbackTarget('IPv6', '::1')).toBe('::1');
    expect(loopbackTarget('IPv6', 'fe80::1')).toBeNull();
    expect(loopbackTarget('FQDN', '127.0.0.2.localhost')).toBe('127.0.0.2');
    expect(loopbackTarget('FQDN', '127-0-0-3.localhost')).toBe('127.0.0.3');
    expect(loopbackTarget('FQDN', 'backend-a.localhost')).toBe('127.0.0.1');
    expect(loopbackTarget('FQDN', 'localhost')).toBe('127.0.0.1');
    expect(loopbackTarget('FQDN', 'example.com')).toBeNull();
  });

  it('resolves the service port to slice ports by name, skipping unready and non-loopback endpoints', () => {
    const slices = [
      slice('a', 'FQDN', [{ addresses: ['127.0.0.1.localhost'] }, { addresses: ['127.0.0.2.localhost'], conditions: { ready: false } }], [{ name: 'http', port: 5001 }, { name: 'admin', port: 6001 }]),
      slice('b', 'IPv4', [{ addresses: ['10.1.1.1'] }, { addresses: ['127.0.0.1'], conditions: { ready: true } }], [{ name: 'http', port: 5002 }]),
      slice('c', 'FQDN', [{ addresses: ['127.0.0.1.localhost'] }], [{ name: 'other', port: 5003 }]),
    ];
    expect(resolveEndpoints(service, slices, 80)).toEqual({ kind: 'ok', endpoints: [{ host: '127.0.0.1', port: 5001 }, { host: '127.0.0.1', port: 5002 }] });
    expect(resolveEndpoints(service, slices, 9000)).toEqual({ kind: 'ok', endpoints: [{ host: '127.0.0.1', port: 6001 }] });
    expect(resolveEndpoints(service, slices, 81)).toEqual({ kind: 'no-port' });
    expect(resolveEndpoints(undefined, slices, 80)).toEqual({ kind: 'no-service' });
    expect(resolveEndpoints(service, [], 80)).toEqual({ kind: 'ok', endpoints: [] });
  });

  it('handles unnamed single ports', () => {
    const s: Service = { metadata: { name: 'web', namespace: 'ns' }, spec: { ports: [{ port: 8080 }] } };
    const sl = slice('a', 'FQDN', [{ addresses: ['localhost'] }], [{ port: 7000 }]);
    expect(resolveEndpoints(s, [sl], 8080)).toEqual({ kind: 'ok', endpoints: [{ host: '127.0.0.1', port: 7000 }] });
    expect(resolveEndpoints(s, [sl], undefined)).toEqual({ kind: 'ok', endpoints: [{ host: '127.0.0.1', port: 7000 }] });
  });
});

describe('header modifiers', () => {
  it('sets, adds and removes', () => {
    const h: Record<string, string | string[] | undefined> = { 'x-a': '1', 'x-b': '2', 'x-c': '3' };
    applyHeaderModifiers(h, [{ set: [{ name: 'X-A', value: 'one' }], add: [{ name: 'x-b', value: 'two' }, { name: 'x-new', value: 'n' }], remove: ['X-C'] }]);
    expect(h).toEqual({ 'x-a': 'one', 'x-b': '2,two', 'x-new': 'n' });
  });
});
