// The informer against the real kube-apiserver: initial sync, add/update/delete delivery, and a
// relist after 410 Gone (forced by resuming the watch from a resourceVersion that is too old).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../../operator/src/kube/client.ts';
import { Informer } from '../../../operator/src/kube/informer.ts';
import { createTestNamespace, deleteTestNamespace, ensureKubeTestCrd, KUBE_TEST, testClient, waitFor, type KubeTestObject } from './helpers.ts';

let client: KubeClient;
let ns: string;
let informer: Informer<KubeTestObject> | undefined;

beforeAll(async () => {
  client = testClient();
  ns = await createTestNamespace(client, 'informer');
  await ensureKubeTestCrd(client, ns);
});

afterEach(async () => {
  await informer?.stop();
  informer = undefined;
});

afterAll(async () => {
  await deleteTestNamespace(client, ns);
  client.close();
});

const apply = (name: string, message: string, labels: Record<string, string> = { suite: 'informer' }) =>
  client.apply<KubeTestObject>(KUBE_TEST, { metadata: { name, namespace: ns, labels }, spec: { message } });

describe('Informer against kube-apiserver', () => {
  it('syncs the existing objects, then delivers add, update and delete', async () => {
    await apply('pre-existing', 'one');
    const log: string[] = [];
    informer = new Informer<KubeTestObject>(client, KUBE_TEST, { namespace: ns, labelSelector: 'suite=informer' });
    informer.addHandler({
      onAdd: (o) => log.push(`add ${o.metadata.name}`),
      onUpdate: (_old, o) => log.push(`update ${o.metadata.name} ${o.spec?.message}`),
      onDelete: (o) => log.push(`delete ${o.metadata.name}`),
    });
    informer.start();
    await informer.synced;
    expect(informer.get(ns, 'pre-existing')?.spec?.message).toBe('one');
    expect(informer.get(ns, 'pre-existing')?.metadata.managedFields).toBeUndefined();

    await apply('new', 'a');
    await apply('new', 'b');
    await apply('other-suite', 'x', { suite: 'else' }); // filtered out by the label selector
    await client.delete(KUBE_TEST, ns, 'pre-existing');
    await waitFor(() => log.includes('delete pre-existing') && log.includes('update new b'), 10_000, 'informer events');
    expect(log).toEqual(['add pre-existing', 'add new', 'update new b', 'delete pre-existing']);
    expect(informer.list().map((o) => o.metadata.name)).toEqual(['new']);
    expect(informer.get(ns, 'other-suite')).toBeUndefined();
  });

  it('relists after 410 Gone and keeps delivering changes', async () => {
    await apply('gone-1', 'one');
    informer = new Informer<KubeTestObject>(client, KUBE_TEST, { namespace: ns });
    const added: string[] = [];
    informer.onAdd((o) => added.push(o.metadata.name ?? ''));
    informer.start();
    await informer.synced;
    expect(informer.listCount).toBe(1);
    const before = informer.resourceVersion;

    // The CRD's watch cache began long after revision 1: resuming there is answered with 410.
    informer.restartWatch('1');
    await waitFor(() => informer!.listCount === 2, 15_000, 'relist after 410');
    expect(Number(informer.resourceVersion)).toBeGreaterThanOrEqual(Number(before));
    expect(informer.get(ns, 'gone-1')).toBeDefined();

    await apply('gone-2', 'two');
    await waitFor(() => added.includes('gone-2'), 10_000, 'add after relist');
    expect(added.filter((n) => n === 'gone-1')).toHaveLength(1); // the relist did not re-add what was cached
  });

  it('rebuilds a silent stream after the inactivity timeout without relisting', async () => {
    informer = new Informer<KubeTestObject>(client, KUBE_TEST, { namespace: ns, inactivityTimeoutMs: 1_000 });
    informer.start();
    await informer.synced;
    // Heard from the server first: a stream that has heard nothing waits for its watch timeout instead.
    await apply('before-silence', 'x');
    await waitFor(() => informer!.get(ns, 'before-silence') !== undefined, 10_000, 'event before the silence');
    await new Promise((r) => setTimeout(r, 2_500));
    await apply('after-silence', 'x');
    await waitFor(() => informer!.get(ns, 'after-silence') !== undefined, 10_000, 'event after watchdog restarts');
    expect(informer.listCount).toBe(1);
  });
});
