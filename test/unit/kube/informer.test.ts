import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeClient } from '../../../operator/src/kube/client.ts';
import { Informer } from '../../../operator/src/kube/informer.ts';
import { CONFIG_MAP } from '../../../operator/src/kube/resources.ts';
import { Registry } from '../../../operator/src/runtime/metrics.ts';
import { FakeApiServer, json, startStream, status, type RecordedRequest } from './fake-apiserver.ts';

let api: FakeApiServer;
let client: KubeClient;
let informer: Informer | undefined;

const cm = (name: string, rv: string, extra: Record<string, unknown> = {}) => ({
  metadata: {
    name, namespace: 'n', resourceVersion: rv, managedFields: [{ manager: 'x' }],
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': `{"metadata":{"name":"${name}"}}`, team: 'listings' },
  },
  ...extra,
});

async function until(cond: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const watches = (): RecordedRequest[] => api.requests.filter((r) => r.query.get('watch') === 'true');
const lists = (): RecordedRequest[] => api.requests.filter((r) => r.query.get('watch') !== 'true');

beforeEach(async () => {
  api = new FakeApiServer();
  await api.start();
  client = KubeClient.load({ kubeconfig: api.kubeconfig, registry: new Registry() });
});

afterEach(async () => {
  await informer?.stop();
  informer = undefined;
  client.close();
  await api.stop();
});

describe('Informer', () => {
  it('lists, watches from the list resourceVersion, relists on 410 and delivers the diff', async () => {
    let listCalls = 0;
    let watchCalls = 0;
    api.handler = (req, res) => {
      if (req.query.get('watch') !== 'true') {
        listCalls++;
        if (listCalls === 1) json(res, 200, { metadata: { resourceVersion: '10' }, items: [cm('a', '5'), cm('b', '6')] });
        else json(res, 200, { metadata: { resourceVersion: '30' }, items: [cm('a', '25'), cm('c', '26')] });
        return;
      }
      watchCalls++;
      const send = startStream(res);
      if (watchCalls === 1) {
        send({ type: 'MODIFIED', object: cm('a', '11', { data: { v: '2' } }) });
        send({ type: 'ERROR', object: status(410, 'Expired', 'too old resource version') });
        res.end();
      }
      // later watches stay open and silent
    };
    const log: string[] = [];
    informer = new Informer(client, CONFIG_MAP, { namespace: 'n' });
    informer.addHandler({
      onAdd: (o) => log.push(`add ${o.metadata.name}@${o.metadata.resourceVersion}`),
      onUpdate: (o, n) => log.push(`update ${n.metadata.name}@${o.metadata.resourceVersion}->${n.metadata.resourceVersion}`),
      onDelete: (o) => log.push(`delete ${o.metadata.name}`),
    });
    informer.start();
    await informer.synced;
    await until(() => watchCalls === 2);
    expect(watches()[0]?.query.get('resourceVersion')).toBe('10');
    expect(watches()[0]?.query.get('allowWatchBookmarks')).toBe('true');
    expect(watches()[1]?.query.get('resourceVersion')).toBe('30');
    expect(lists()).toHaveLength(2);
    expect(log).toEqual(['add a@5', 'add b@6', 'update a@5->11', 'update a@11->25', 'add c@26', 'delete b']);
    expect(informer.list().map((o) => o.metadata.name).sort()).toEqual(['a', 'c']);
    expect(informer.get('n', 'a')?.metadata.managedFields).toBeUndefined();
    // client-side kubectl apply's copy of the object is not cached; the user's own annotations are
    expect(informer.get('n', 'a')?.metadata.annotations).toEqual({ team: 'listings' });
    expect(informer.listCount).toBe(2);
  });

  /** The API server lists nothing at resourceVersion 10; `onWatch` serves the n-th watch (1, 2, ...). Returns the watch count. */
  function emptyListThen(onWatch: (send: ReturnType<typeof startStream>, n: number) => void): () => number {
    let watchCalls = 0;
    api.handler = (req, res) => {
      if (req.query.get('watch') !== 'true') {
        json(res, 200, { metadata: { resourceVersion: '10' }, items: [] });
        return;
      }
      onWatch(startStream(res), ++watchCalls);
    };
    return () => watchCalls;
  }

  it('rebuilds a silent stream after the inactivity timeout, resuming from the last bookmark', async () => {
    const watchCalls = emptyListThen((send, n) => { if (n === 1) send({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '20' } } }); });
    informer = new Informer(client, CONFIG_MAP, { inactivityTimeoutMs: 150 });
    informer.start();
    await informer.synced;
    const started = Date.now();
    await until(() => watchCalls() === 2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expect(watches()[1]?.query.get('resourceVersion')).toBe('20');
    expect(lists()).toHaveLength(1); // no relist for a silent stream
  });

  it('a stream that has not heard from the server yet is not rebuilt at the inactivity timeout, only after its own watch timeout', async () => {
    const watchCalls = emptyListThen(() => {}); // a kind nobody uses: the API server sends no bookmark
    informer = new Informer(client, CONFIG_MAP, { inactivityTimeoutMs: 100 });
    informer.start();
    await informer.synced;
    await until(() => watchCalls() === 1);
    await new Promise((r) => setTimeout(r, 400));
    expect(watchCalls()).toBe(1); // not rebuilt every 100 ms
    const timeout = Number(watches()[0]?.query.get('timeoutSeconds'));
    expect(timeout).toBeGreaterThanOrEqual(300); // the server ends it by then; the watchdog waits 30 s more
    expect(timeout).toBeLessThan(600);
  });

  it('resumes from the last resourceVersion when the server ends the stream', async () => {
    let watchCalls = 0;
    api.handler = (req, res) => {
      if (req.query.get('watch') !== 'true') return json(res, 200, { metadata: { resourceVersion: '10' }, items: [] });
      watchCalls++;
      const send = startStream(res);
      if (watchCalls === 1) {
        send({ type: 'ADDED', object: cm('a', '15') });
        res.end();
      }
    };
    informer = new Informer(client, CONFIG_MAP);
    informer.start();
    await until(() => watchCalls === 2);
    expect(watches()[1]?.query.get('resourceVersion')).toBe('15');
    expect(informer.get('n', 'a')).toBeDefined();
  });

  it('retries a failing list with backoff and syncs once it works', async () => {
    let listCalls = 0;
    api.handler = (req, res) => {
      if (req.query.get('watch') === 'true') return void startStream(res);
      listCalls++;
      if (listCalls < 3) return json(res, 500, status(500, 'InternalError', 'etcd unavailable'));
      json(res, 200, { metadata: { resourceVersion: '10' }, items: [cm('a', '1')] });
    };
    informer = new Informer(client, CONFIG_MAP, { backoff: { initialMs: 20, maxMs: 50 } });
    informer.start();
    await informer.synced;
    expect(listCalls).toBe(3);
    expect(informer.hasSynced).toBe(true);
  });

  it('keeps going when a handler throws', async () => {
    api.handler = (req, res) => {
      if (req.query.get('watch') === 'true') return void startStream(res);
      json(res, 200, { metadata: { resourceVersion: '10' }, items: [cm('a', '1'), cm('b', '2')] });
    };
    const added: string[] = [];
    informer = new Informer(client, CONFIG_MAP);
    informer.onAdd((o) => {
      if (o.metadata.name === 'a') throw new Error('handler bug');
      added.push(o.metadata.name ?? '');
    });
    informer.start();
    await informer.synced;
    expect(added).toEqual(['b']);
  });
});
