// The test queue on the testbed's real node: Redis deployed in a namespace and consumer Deployments
// of the test worker reading one of its queues (manifests.ts), applied server-side by the testbed's
// field manager and waited for. The host reaches Redis at its pod IP on the node's bridge.
import { connect } from 'node:net';
import { kubectl, requireRealNode, type TestbedInfo } from '../testbed.ts';
import { sleep } from '../procs.ts';
import { CONSUMER_LABEL, consumerManifests, REDIS_PORT, redisManifests, redisUrlInCluster, type ConsumerOptions } from './manifests.ts';
import type { RedisAddress } from './jobs.ts';

export interface QueueEndpoint extends RedisAddress {
  namespace: string;
  /** The Redis pod. */
  pod: string;
  /** Redis as pods reach it: redis://redis.<namespace>.svc.cluster.local:6379. */
  urlInCluster: string;
}

interface PodList { items: Array<{ metadata: { name: string; deletionTimestamp?: string }; status: { podIP?: string; conditions?: Array<{ type: string; status: string }> } }> }

const isReady = (p: PodList['items'][number]): boolean => !p.metadata.deletionTimestamp && (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

async function getJson<T>(info: TestbedInfo, args: string[]): Promise<T> {
  return JSON.parse(await kubectl(info, [...args, '-o', 'json'])) as T;
}

const apply = (info: TestbedInfo, yaml: string): Promise<string> =>
  kubectl(info, ['apply', '--server-side', '--field-manager=testbed', '--force-conflicts', '-f', '-'], yaml);

/**
 * Redis in `namespace` (created if needed) on the real node, behind the Service `redis`; returns once
 * its pod is Ready and answers PING from the host. Throws the real node's reason when there is none.
 */
export async function deployQueue(info: TestbedInfo, namespace: string, timeoutMs = 120_000): Promise<QueueEndpoint> {
  requireRealNode(info);
  await apply(info, redisManifests(namespace));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pods = await getJson<PodList>(info, ['get', 'pods', '-n', namespace, '-l', 'app.kubernetes.io/name=redis']).catch(() => undefined);
    const ready = pods?.items.filter(isReady) ?? [];
    if (ready.length === 1 && ready[0]!.status.podIP) {
      const host = ready[0]!.status.podIP;
      if (await redisPing(host, REDIS_PORT)) return { namespace, pod: ready[0]!.metadata.name, host, port: REDIS_PORT, urlInCluster: redisUrlInCluster(namespace) };
    }
    if (Date.now() > deadline) throw new Error(`redis in ${namespace}: no Ready pod answering PING after ${timeoutMs} ms (kubectl -n ${namespace} describe pods -l app.kubernetes.io/name=redis)`);
    await sleep(250);
  }
}

/** One PING over a connection of its own (RESP inline command); true on +PONG within a second. */
function redisPing(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    let buf = '';
    const done = (ok: boolean) => { s.destroy(); resolve(ok); };
    s.setTimeout(1000, () => done(false));
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => { buf += d.toString(); if (buf.includes('\r\n')) done(buf.startsWith('+PONG')); });
    s.on('error', () => done(false));
  });
}

/**
 * A consumer Deployment (manifests.ts consumerManifests) applied, then waited until `replicas` pods are
 * Ready, that is consuming (its readiness is the worker's /ready). With replicas 0, returns once applied.
 */
export async function deployConsumers(info: TestbedInfo, o: ConsumerOptions, timeoutMs = 120_000): Promise<void> {
  requireRealNode(info);
  await apply(info, consumerManifests(o));
  await waitConsumersReady(info, o.namespace, o.name, o.replicas, timeoutMs);
}

/** Waits until the Deployment `name` has exactly `replicas` Ready pods, all of its current template (a rollout finished). */
export async function waitConsumersReady(info: TestbedInfo, namespace: string, name: string, replicas: number, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const d = await getJson<{ metadata: { generation: number }; status?: { observedGeneration?: number; readyReplicas?: number; updatedReplicas?: number; replicas?: number } }>(info, ['get', 'deployment', name, '-n', namespace]).catch(() => undefined);
    const s = d?.status ?? {};
    last = JSON.stringify(s);
    if (d && s.observedGeneration === d.metadata.generation && (s.readyReplicas ?? 0) === replicas && (s.replicas ?? 0) === replicas && (s.updatedReplicas ?? 0) === replicas) return;
    if (Date.now() > deadline) throw new Error(`consumers ${namespace}/${name}: not ${replicas} Ready after ${timeoutMs} ms (status ${last}; kubectl -n ${namespace} describe pods -l ${CONSUMER_LABEL}=${name})`);
    await sleep(250);
  }
}

/** The names of the Ready pods of a consumer Deployment. */
export async function consumerPods(info: TestbedInfo, namespace: string, name: string): Promise<string[]> {
  const pods = await getJson<PodList>(info, ['get', 'pods', '-n', namespace, '-l', `${CONSUMER_LABEL}=${name}`]);
  return pods.items.filter(isReady).map((p) => p.metadata.name).sort();
}
