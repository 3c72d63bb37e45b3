// EventRecorder against the real kube-apiserver: events.k8s.io/v1 Events that kubectl shows, with
// repeats counted into a series.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../../operator/src/kube/client.ts';
import { EventRecorder, type EventObject } from '../../../operator/src/kube/events.ts';
import { EVENT } from '../../../operator/src/kube/resources.ts';
import { createTestNamespace, deleteTestNamespace, ensureKubeTestCrd, KUBE_TEST, testClient, type KubeTestObject } from './helpers.ts';

let client: KubeClient;
let ns: string;

beforeAll(async () => {
  client = testClient();
  ns = await createTestNamespace(client, 'events');
  await ensureKubeTestCrd(client, ns);
});

afterAll(async () => {
  await deleteTestNamespace(client, ns);
  client.close();
});

describe('EventRecorder against kube-apiserver', () => {
  it('writes an Event regarding the object and counts repeats into its series', async () => {
    const obj = await client.apply<KubeTestObject>(KUBE_TEST, { metadata: { name: 'evented', namespace: ns }, spec: { message: 'x' } });
    const recorder = new EventRecorder(client, { reportingInstance: 'kube-test' });
    recorder.warning(obj, 'AnalysisFailed', 'Analyse', 'error-rate 0.034 > 0.01');
    await recorder.flush();
    recorder.warning(obj, 'AnalysisFailed', 'Analyse', 'error-rate 0.034 > 0.01');
    recorder.warning(obj, 'AnalysisFailed', 'Analyse', 'error-rate 0.034 > 0.01');
    await recorder.flush();
    recorder.normal(obj, 'StepAdvanced', 'SetWeight', 'weight 10');
    await recorder.flush();

    const { items } = await client.list<EventObject>(EVENT, { namespace: ns });
    const ours = items.filter((e) => e.regarding.uid === obj.metadata.uid);
    expect(ours).toHaveLength(2);
    const failed = ours.find((e) => e.reason === 'AnalysisFailed');
    expect(failed).toMatchObject({
      type: 'Warning',
      action: 'Analyse',
      note: 'error-rate 0.034 > 0.01',
      reportingController: 'cutover.dev/operator',
      reportingInstance: 'kube-test',
      regarding: { kind: 'KubeTest', name: 'evented', namespace: ns, apiVersion: 'kubetest.cutover.dev/v1' },
    });
    expect(failed?.series?.count).toBe(3);
    expect(ours.find((e) => e.reason === 'StepAdvanced')?.series).toBeUndefined();
  });

  it('drops an Event the API server refuses without throwing', async () => {
    const recorder = new EventRecorder(client);
    // No such namespace: the create fails with 404; the caller never sees it.
    recorder.normal({ kind: 'KubeTest', apiVersion: 'kubetest.cutover.dev/v1', namespace: `${ns}-missing`, name: 'x', uid: 'u' }, 'Test', 'Test');
    await expect(recorder.flush()).resolves.toBeUndefined();
  });
});
