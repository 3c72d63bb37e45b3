// CachedRouteClient: routine reads from the watch cache, misses and retries from the API.
import { describe, expect, it } from 'vitest';
import { HTTP_ROUTE as ROUTE, SERVICE as SVC, type KubeObject } from '../../../operator/src/kube/resources.ts';
import { CachedRouteClient, type RouteClient } from '../../../operator/src/traffic/router.ts';
const obj = (name: string, rv: string): KubeObject => ({ apiVersion: 'v1', kind: 'X', metadata: { name, namespace: 'ns', resourceVersion: rv } });

function live(): RouteClient & { gets: string[] } {
  const gets: string[] = [];
  return {
    gets,
    async get(r, _ns, name) { gets.push(`${r.plural}/${name}`); return obj(name, 'live'); },
    async apply(_r, o) { return o; },
  };
}

describe('CachedRouteClient', () => {
  it('serves routes from the synced cache (a copy), everything else and misses from the API', async () => {
    const api = live();
    const cached = obj('listings', 'cached');
    const c = new CachedRouteClient(api, 'httproutes', { hasSynced: true, get: (_ns, name) => (name === 'listings' ? cached : undefined) });
    const hit = await c.get(ROUTE, 'ns', 'listings');
    expect(hit?.metadata.resourceVersion).toBe('cached');
    expect(hit).not.toBe(cached);
    expect((await c.get(ROUTE, 'ns', 'new-route'))?.metadata.resourceVersion).toBe('live');
    expect((await c.get(SVC, 'ns', 'monolith'))?.metadata.resourceVersion).toBe('live');
    expect((await c.getLatest(ROUTE, 'ns', 'listings'))?.metadata.resourceVersion).toBe('live');
    expect(api.gets).toEqual(['httproutes/new-route', 'services/monolith', 'httproutes/listings']);
  });

  it('reads the API until the cache has synced', async () => {
    const api = live();
    const c = new CachedRouteClient(api, 'httproutes', { hasSynced: false, get: () => obj('listings', 'cached') });
    expect((await c.get(ROUTE, 'ns', 'listings'))?.metadata.resourceVersion).toBe('live');
  });

  it('reads our own write until the watch has caught up with it (a stale cache must not skip a write)', async () => {
    const api = live();
    let cached = obj('listings', '100');
    const c = new CachedRouteClient(api, 'httproutes', { hasSynced: true, get: () => cached });
    // A step writes weight 10 (revision 105); the watch has not delivered it yet.
    const written = await c.apply(ROUTE, { ...obj('listings', '105'), spec: { w: 10 } }, { fieldManager: 'cutover', force: true });
    expect(written.metadata.resourceVersion).toBe('105');
    const read = await c.get(ROUTE, 'ns', 'listings');
    expect(read?.metadata.resourceVersion).toBe('105');
    expect(read?.spec).toEqual({ w: 10 });
    // Once the cache is as new (or newer: someone else wrote after us), the cache wins again.
    cached = obj('listings', '107');
    expect((await c.get(ROUTE, 'ns', 'listings'))?.metadata.resourceVersion).toBe('107');
    expect(api.gets).toEqual([]);
  });
});

