// Leader election on a real Lease: one leader at a time, and a prompt hand-over on release.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../../operator/src/kube/client.ts';
import { LeaderElector, type LeaseObject } from '../../../operator/src/kube/lease.ts';
import { LEASE } from '../../../operator/src/kube/resources.ts';
import { createTestNamespace, deleteTestNamespace, testClient, waitFor } from './helpers.ts';

let client: KubeClient;
let ns: string;

beforeAll(async () => {
  client = testClient();
  ns = await createTestNamespace(client, 'lease');
});

afterAll(async () => {
  await deleteTestNamespace(client, ns);
  client.close();
});

describe('LeaderElector against kube-apiserver', () => {
  it('elects one leader and hands over when it stops', async () => {
    const log: string[] = [];
    const make = (identity: string) => {
      const stop = new AbortController();
      const elector = new LeaderElector(client, {
        namespace: ns,
        name: 'cutover-operator',
        identity,
        // A 60 s lease: replica-b can lead within waitFor's 10 s only if replica-a released it.
        leaseDurationMs: 60_000,
        renewDeadlineMs: 40_000,
        retryPeriodMs: 200,
        onStartedLeading: () => void log.push(`${identity} leads`),
        onStoppedLeading: () => void log.push(`${identity} stopped`),
      });
      return { elector, stop, done: elector.run(stop.signal) };
    };
    const a = make('replica-a');
    await waitFor(() => a.elector.isLeader, 10_000, 'replica-a to lead');
    const b = make('replica-b');
    try {
      await new Promise((r) => setTimeout(r, 1_000));
      expect(b.elector.isLeader).toBe(false);
      const lease = await client.get<LeaseObject>(LEASE, ns, 'cutover-operator');
      expect(lease?.spec).toMatchObject({ holderIdentity: 'replica-a', leaseDurationSeconds: 60 });

      a.stop.abort();
      await a.done;
      await waitFor(() => b.elector.isLeader, 10_000, 'replica-b to take over (released, not waited out)');
      const after = await client.get<LeaseObject>(LEASE, ns, 'cutover-operator');
      expect(after?.spec).toMatchObject({ holderIdentity: 'replica-b', leaseTransitions: 1 });
      expect(log).toEqual(['replica-a leads', 'replica-a stopped', 'replica-b leads']);
    } finally {
      a.stop.abort();
      b.stop.abort();
      await Promise.all([a.done, b.done]);
    }
  });
});
