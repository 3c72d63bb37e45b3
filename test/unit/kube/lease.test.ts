import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeClient } from '../../../operator/src/kube/client.ts';
import { LeaderElector, type LeaseObject } from '../../../operator/src/kube/lease.ts';
import { Registry } from '../../../operator/src/runtime/metrics.ts';
import { FakeApiServer, json, status } from './fake-apiserver.ts';

// A one-object Lease store with optimistic concurrency, enough to exercise the election protocol.
let api: FakeApiServer;
let client: KubeClient;
let stored: LeaseObject | undefined;
let rv = 0;
/** holderIdentity of each stored version of the Lease, consecutive repeats dropped. */
let holders: string[] = [];
const stops: AbortController[] = [];

beforeEach(async () => {
  stored = undefined;
  rv = 0;
  holders = [];
  api = new FakeApiServer();
  api.handler = (req, res) => {
    if (req.method === 'GET') return stored ? json(res, 200, stored) : json(res, 404, status(404, 'NotFound', 'lease not found'));
    const body = JSON.parse(req.body) as LeaseObject;
    if (req.method === 'POST') {
      if (stored) return json(res, 409, status(409, 'AlreadyExists', 'exists'));
      stored = { ...body, metadata: { ...body.metadata, resourceVersion: String(++rv) } };
      holders.push(stored.spec?.holderIdentity ?? '');
      return json(res, 201, stored);
    }
    if (req.method === 'PUT') {
      if (!stored || body.metadata.resourceVersion !== stored.metadata.resourceVersion) return json(res, 409, status(409, 'Conflict', 'modified'));
      stored = { ...body, metadata: { ...body.metadata, resourceVersion: String(++rv) } };
      if (holders.at(-1) !== (stored.spec?.holderIdentity ?? '')) holders.push(stored.spec?.holderIdentity ?? '');
      return json(res, 200, stored);
    }
    json(res, 405, status(405, 'MethodNotAllowed', 'no'));
  };
  await api.start();
  client = KubeClient.load({ kubeconfig: api.kubeconfig, registry: new Registry() });
});

afterEach(async () => {
  for (const s of stops.splice(0)) s.abort();
  client.close();
  await api.stop();
});

async function until(cond: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function candidate(identity: string, log: string[], timings = { leaseDurationMs: 600, renewDeadlineMs: 400, retryPeriodMs: 50 }) {
  const stop = new AbortController();
  stops.push(stop);
  const elector = new LeaderElector(client, {
    namespace: 'cutover-system',
    name: 'cutover-operator',
    identity,
    ...timings,
    onStartedLeading: () => void log.push(`${identity} leads`),
    onStoppedLeading: () => void log.push(`${identity} stopped`),
  });
  const done = elector.run(stop.signal);
  return { elector, stop, done };
}

describe('LeaderElector', () => {
  it('elects exactly one leader and hands over at once when it stops', async () => {
    // A 60 s lease: b can lead within until()'s 5 s only if a released the Lease, not if b waited it out.
    const timings = { leaseDurationMs: 60_000, renewDeadlineMs: 40_000, retryPeriodMs: 50 };
    const log: string[] = [];
    const a = candidate('a', log, timings);
    await until(() => a.elector.isLeader);
    const b = candidate('b', log, timings);
    await until(() => b.elector.leader === 'a'); // b has read the Lease a holds
    await new Promise((r) => setTimeout(r, 300)); // b's retries in the meantime do not take it
    expect(b.elector.isLeader).toBe(false);
    expect(stored?.spec?.holderIdentity).toBe('a');

    a.stop.abort();
    await a.done;
    await until(() => b.elector.isLeader);
    expect(holders).toEqual(['a', '', 'b']); // released (holder cleared), then acquired
    expect(stored?.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    expect(log).toEqual(['a leads', 'a stopped', 'b leads']);
  });

  it('takes over a Lease whose holder stopped renewing, after the lease duration', async () => {
    const now = new Date().toISOString();
    stored = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'cutover-operator', namespace: 'cutover-system', resourceVersion: String(++rv) },
      spec: { holderIdentity: 'crashed', leaseDurationSeconds: 1, renewTime: now, acquireTime: now, leaseTransitions: 3 },
    };
    const log: string[] = [];
    const start = Date.now();
    const b = candidate('b', log);
    await until(() => b.elector.isLeader);
    expect(Date.now() - start).toBeGreaterThanOrEqual(900);
    expect(stored?.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 4 });
  });
});
