// The real queue of the worker-cutover tests, for e2e files: the testbed/queue functions with the
// testbed of this run (vitest's provided TestbedInfo). See test/e2e/queue.test.ts for a whole run.
import { eventually, promQuery, testbed } from './cluster.ts';
import * as cluster from '../testbed/queue/cluster.ts';
import type { ConsumerOptions } from '../testbed/queue/manifests.ts';

export { consumerManifests, redisManifests, redisUrlInCluster, CONSUMER_LABEL, VERSION_LABEL, type ConsumerOptions } from '../testbed/queue/manifests.ts';
export { openQueue, produceJobs, readJobs, countJobs, waitForJobs, tallyJobs, tallyFinishedBetween, versionShare, versionFailureRate, type JobTally, type Produced, type ProduceOptions } from '../testbed/queue/jobs.ts';
export { QUEUE_QUERIES, renderQuery } from '../testbed/queue/queries.ts';
export type { QueueEndpoint } from '../testbed/queue/cluster.ts';

/** Redis in `namespace` (created if needed), Ready and answering from the host. */
export const deployQueue = (namespace: string, timeoutMs?: number): Promise<cluster.QueueEndpoint> => cluster.deployQueue(testbed(), namespace, timeoutMs);
/** A consumer Deployment, applied and waited until `replicas` pods consume. */
export const deployConsumers = (o: ConsumerOptions, timeoutMs?: number): Promise<void> => cluster.deployConsumers(testbed(), o, timeoutMs);
/** Waits until a consumer Deployment has exactly `replicas` Ready (consuming) pods of its current template. */
export const waitConsumersReady = (namespace: string, name: string, replicas: number, timeoutMs?: number): Promise<void> => cluster.waitConsumersReady(testbed(), namespace, name, replicas, timeoutMs);
/** The Ready pods of a consumer Deployment. */
export const consumerPods = (namespace: string, name: string): Promise<string[]> => cluster.consumerPods(testbed(), namespace, name);

/**
 * Waits until the testbed's Prometheus has scraped every Ready pod of the consumer Deployments `names`
 * (their worker_jobs_total series exist). Start a pod-scrape for `namespace` first
 * (test/testbed/pod-scrape.ts); then produce: a rate() over jobs done before a pod's first scrape
 * misses them.
 */
export async function waitConsumersScraped(namespace: string, names: readonly string[], timeoutMs = 30_000): Promise<string[]> {
  const pods = (await Promise.all(names.map((n) => consumerPods(namespace, n)))).flat().sort();
  await eventually(`Prometheus scraping the consumer pods ${pods.join(', ')}`, async () => {
    const rows = await promQuery(`count by (pod) (worker_jobs_total{namespace="${namespace}",status="completed"})`);
    const seen = new Set(rows.map((r) => r.metric.pod));
    return pods.every((p) => seen.has(p));
  }, timeoutMs, 250);
  return pods;
}
