import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeClient } from '../../../operator/src/kube/client.ts';
import { USER_AGENT } from '../../../operator/src/kube/transport.ts';
import { isConflict, isGone, isInvalid, isTooManyRequests, isTransient, KubeApiError } from '../../../operator/src/kube/errors.ts';
import { CONFIG_MAP, DEPLOYMENT, NAMESPACE, TRAFFIC_SHIFT } from '../../../operator/src/kube/resources.ts';
import { Registry } from '../../../operator/src/runtime/metrics.ts';
import { FakeApiServer, json, startStream, status } from './fake-apiserver.ts';

let api: FakeApiServer;
let client: KubeClient;

beforeEach(async () => {
  api = new FakeApiServer();
  await api.start();
  client = KubeClient.load({ kubeconfig: api.kubeconfig, registry: new Registry() });
});

afterEach(async () => {
  client.close();
  await api.stop();
});

describe('KubeClient', () => {
  it('reads the context namespace and sends cutover/<version> and the token on every request', async () => {
    api.handler = (_req, res) => json(res, 200, { metadata: { name: 'x', namespace: 'a' } });
    await client.get(CONFIG_MAP, 'a', 'x');
    expect(client.defaultNamespace).toBe('team-a');
    expect(USER_AGENT).toMatch(/^cutover\/\d+\.\d+\.\d+/);
    expect(api.requests[0]?.headers['user-agent']).toBe(USER_AGENT);
    expect(api.requests[0]?.headers.authorization).toBe('Bearer fake-token');
    expect(api.requests[0]?.headers.connection).toBe('keep-alive');
  });

  it('builds core, group, namespaced, cluster-scoped and subresource paths', () => {
    expect(client.path(CONFIG_MAP, 'a', 'x')).toBe('/api/v1/namespaces/a/configmaps/x');
    expect(client.path(TRAFFIC_SHIFT, 'a')).toBe('/apis/cutover.dev/v1alpha1/namespaces/a/trafficshifts');
    expect(client.path(TRAFFIC_SHIFT)).toBe('/apis/cutover.dev/v1alpha1/trafficshifts');
    expect(client.path(DEPLOYMENT, 'a', 'w', 'scale')).toBe('/apis/apps/v1/namespaces/a/deployments/w/scale');
    expect(client.path(NAMESPACE, 'ignored', 'n')).toBe('/api/v1/namespaces/n');
  });

  it('get resolves undefined on 404 and throws other errors', async () => {
    api.handler = (req, res) =>
      req.path.endsWith('/missing') ? json(res, 404, status(404, 'NotFound', 'configmaps "missing" not found')) : json(res, 403, status(403, 'Forbidden', 'no'));
    expect(await client.get(CONFIG_MAP, 'a', 'missing')).toBeUndefined();
    await expect(client.get(CONFIG_MAP, 'a', 'other')).rejects.toMatchObject({ code: 403, reason: 'Forbidden' });
  });

  it('list follows continue tokens and fills apiVersion/kind of the items', async () => {
    api.handler = (req, res) => {
      if (!req.query.get('continue')) {
        json(res, 200, { metadata: { resourceVersion: '100', continue: 'page2' }, items: [{ metadata: { name: 'a', namespace: 'n' } }] });
      } else {
        json(res, 200, { metadata: { resourceVersion: '100' }, items: [{ metadata: { name: 'b', namespace: 'n' } }] });
      }
    };
    const out = await client.list(TRAFFIC_SHIFT, { namespace: 'n', labelSelector: 'app=x', pageSize: 1 });
    expect(out.resourceVersion).toBe('100');
    expect(out.items.map((i) => [i.apiVersion, i.kind, i.metadata.name])).toEqual([
      ['cutover.dev/v1alpha1', 'TrafficShift', 'a'],
      ['cutover.dev/v1alpha1', 'TrafficShift', 'b'],
    ]);
    expect(api.requests[0]?.query.get('labelSelector')).toBe('app=x');
    expect(api.requests[0]?.query.get('limit')).toBe('1');
    expect(api.requests[1]?.query.get('continue')).toBe('page2');
  });

  it('apply is a server-side apply PATCH with field manager cutover, force and strict validation', async () => {
    api.handler = (req, res) => json(res, 200, JSON.parse(req.body) as unknown);
    await client.apply(TRAFFIC_SHIFT, { metadata: { name: 's', namespace: 'n' }, status: { phase: 'Progressing' } }, { subresource: 'status' });
    const req = api.requests[0]!;
    expect(req.method).toBe('PATCH');
    expect(req.path).toBe('/apis/cutover.dev/v1alpha1/namespaces/n/trafficshifts/s/status');
    expect(req.headers['content-type']).toBe('application/apply-patch+yaml');
    expect(req.query.get('fieldManager')).toBe('cutover');
    expect(req.query.get('force')).toBe('true');
    expect(req.query.get('fieldValidation')).toBe('Strict');
    expect(JSON.parse(req.body)).toEqual({
      apiVersion: 'cutover.dev/v1alpha1',
      kind: 'TrafficShift',
      metadata: { name: 's', namespace: 'n' },
      status: { phase: 'Progressing' },
    });
  });

  it('apply drops managedFields of an object read from the server but keeps resourceVersion as a precondition', async () => {
    api.handler = (req, res) => json(res, 200, JSON.parse(req.body) as unknown);
    await client.apply(CONFIG_MAP, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c', namespace: 'n', resourceVersion: '42', managedFields: [{ manager: 'kubectl' }] },
      data: { a: '1' },
    });
    const sent = JSON.parse(api.requests[0]!.body) as { metadata: Record<string, unknown> };
    expect(sent.metadata).toEqual({ name: 'c', namespace: 'n', resourceVersion: '42' });
  });

  it('mergePatch, jsonPatch, create and delete use the right verbs and content types', async () => {
    api.handler = (req, res) => json(res, req.method === 'POST' ? 201 : 200, { metadata: { name: 'x' } });
    await client.mergePatch(DEPLOYMENT, 'n', 'w', { spec: { replicas: 3 } }, { subresource: 'scale' });
    await client.jsonPatch(CONFIG_MAP, 'n', 'c', [{ op: 'replace', path: '/data/flag', value: 'true' }]);
    await client.create(CONFIG_MAP, { metadata: { name: 'c', namespace: 'n' }, data: {} });
    expect(await client.delete(CONFIG_MAP, 'n', 'c', { propagationPolicy: 'Background' })).toBe(true);
    const [merge, jsonp, create, del] = api.requests;
    expect([merge?.method, merge?.path, merge?.headers['content-type']]).toEqual(['PATCH', '/apis/apps/v1/namespaces/n/deployments/w/scale', 'application/merge-patch+json']);
    expect([jsonp?.method, jsonp?.headers['content-type']]).toEqual(['PATCH', 'application/json-patch+json']);
    expect([create?.method, create?.path]).toEqual(['POST', '/api/v1/namespaces/n/configmaps']);
    expect(JSON.parse(create!.body)).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap' });
    expect(JSON.parse(del!.body)).toMatchObject({ kind: 'DeleteOptions', propagationPolicy: 'Background' });
  });

  it('delete resolves false when the object is already gone', async () => {
    api.handler = (_req, res) => json(res, 404, status(404, 'NotFound', 'gone'));
    expect(await client.delete(CONFIG_MAP, 'n', 'c')).toBe(false);
  });

  it('maps errors once: conflict, invalid, throttled with retry-after, no answer', async () => {
    api.handler = (req, res) => {
      if (req.path.endsWith('/conflict')) json(res, 409, status(409, 'Conflict', 'the object has been modified'));
      else if (req.path.endsWith('/invalid')) json(res, 422, status(422, 'Invalid', 'bad', { causes: [{ field: 'data' }] }));
      else json(res, 429, status(429, 'TooManyRequests', 'slow down'), { 'Retry-After': '0' });
    };
    const conflict = await client.mergePatch(CONFIG_MAP, 'n', 'conflict', {}).catch((e: unknown) => e);
    const invalid = await client.mergePatch(CONFIG_MAP, 'n', 'invalid', {}).catch((e: unknown) => e);
    const throttled = await client.get(CONFIG_MAP, 'n', 'busy').catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(KubeApiError);
    expect(isConflict(conflict)).toBe(true);
    expect(isInvalid(invalid)).toBe(true);
    expect(isTooManyRequests(throttled)).toBe(true);
    expect((throttled as KubeApiError).retryAfterSeconds).toBe(0);
    // Throttled requests are sent again after their Retry-After, ten attempts in all (client-go's).
    expect(api.requests.filter((r) => r.path.endsWith('/busy'))).toHaveLength(10);
    await api.stop();
    const refused = await client.get(CONFIG_MAP, 'n', 'x').catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 0, reason: 'ConnectionError' });
    expect(isTransient(refused)).toBe(true);
    api = new FakeApiServer(); // afterEach stops it
    await api.start();
  });

  it('a 429 is sent again after its Retry-After, and the answer after it is the result', async () => {
    let n = 0;
    api.handler = (_req, res) => {
      n++;
      if (n === 1) json(res, 429, status(429, 'TooManyRequests', 'slow down'), { 'Retry-After': '1' });
      else json(res, 200, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'busy', namespace: 'n' } });
    };
    const started = performance.now();
    const cm = await client.get(CONFIG_MAP, 'n', 'busy');
    expect(cm?.metadata.name).toBe('busy');
    expect(api.requests).toHaveLength(2);
    expect(performance.now() - started).toBeGreaterThanOrEqual(990);
  });

  it('a 429 without Retry-After is not retried here (the caller backs off)', async () => {
    api.handler = (_req, res) => json(res, 429, status(429, 'TooManyRequests', 'slow down'));
    const throttled = await client.get(CONFIG_MAP, 'n', 'busy').catch((e: unknown) => e);
    expect(isTooManyRequests(throttled)).toBe(true);
    expect(api.requests).toHaveLength(1);
  });

  it('the wait for a Retry-After ends when the request is aborted', async () => {
    api.handler = (_req, res) => json(res, 429, status(429, 'TooManyRequests', 'slow down'), { 'Retry-After': '600' });
    const abort = new AbortController();
    const stream = client.watch(CONFIG_MAP, { namespace: 'n', signal: abort.signal });
    const next = stream.next().catch((e: unknown) => e);
    while (api.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    abort.abort();
    expect(await next).toMatchObject({ name: 'AbortError' });
    expect(api.requests).toHaveLength(1);
  });

  it("honours the cluster's proxy-url: requests tunnel through the proxy (CONNECT)", async () => {
    const tunnels: string[] = [];
    const sockets = new Set<Socket>();
    const proxy: Server = createServer((_req, res) => { res.statusCode = 405; res.end(); });
    proxy.on('connect', (req, client: Socket) => {
      tunnels.push(req.url ?? '');
      const [host, port] = (req.url ?? '').split(':');
      const upstream = connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.pipe(client);
        client.pipe(upstream);
      });
      for (const s of [client, upstream]) { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => {}); }
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const kubeconfig = `${api.kubeconfig}-proxied`;
      writeFileSync(kubeconfig, readFileSync(api.kubeconfig, 'utf8').replace(`server: "${api.url}"`, `server: "${api.url}", proxy-url: "${proxyUrl}"`));
      const proxied = KubeClient.load({ kubeconfig, registry: new Registry() });
      api.handler = (_req, res) => json(res, 200, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'n' } });
      expect((await proxied.get(CONFIG_MAP, 'n', 'x'))?.metadata.name).toBe('x');
      proxied.close();
      expect(tunnels).toEqual([new URL(api.url).host]);
      expect(api.requests).toHaveLength(1);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  it('watch streams events with bookmarks requested and throws an ERROR event as KubeApiError', async () => {
    api.handler = (_req, res) => {
      const send = startStream(res);
      send({ type: 'ADDED', object: { metadata: { name: 'a', namespace: 'n', resourceVersion: '11' } } });
      send({ type: 'BOOKMARK', object: { kind: 'ConfigMap', metadata: { resourceVersion: '12' } } });
      send({ type: 'ERROR', object: status(410, 'Expired', 'too old resource version: 5 (12)') });
    };
    const seen: string[] = [];
    let error: unknown;
    try {
      for await (const ev of client.watch(CONFIG_MAP, { namespace: 'n', resourceVersion: '10' })) {
        seen.push(`${ev.type}:${ev.object.metadata.resourceVersion}:${ev.object.kind}`);
      }
    } catch (err) {
      error = err;
    }
    expect(seen).toEqual(['ADDED:11:ConfigMap', 'BOOKMARK:12:ConfigMap']);
    expect(isGone(error)).toBe(true);
    const q = api.requests[0]!.query;
    expect([q.get('watch'), q.get('allowWatchBookmarks'), q.get('resourceVersion')]).toEqual(['true', 'true', '10']);
    expect(Number(q.get('timeoutSeconds'))).toBeGreaterThanOrEqual(300);
  });

  it('watch ends when its signal is aborted', async () => {
    api.handler = (_req, res) => {
      const send = startStream(res);
      send({ type: 'ADDED', object: { metadata: { name: 'a', resourceVersion: '1' } } });
    };
    const abort = new AbortController();
    let count = 0;
    const run = (async () => {
      for await (const _ev of client.watch(CONFIG_MAP, { signal: abort.signal })) {
        count++;
        abort.abort();
      }
    })();
    await expect(run).rejects.toThrow();
    expect(count).toBe(1);
  });
});
