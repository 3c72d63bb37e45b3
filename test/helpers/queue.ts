// The real queue of the worker-cutover tests, for e2e files: the testbed/queue functions with the
// testbed of this run (vitest's provided TestbedInfo). See test/e2e/queue.test.ts for a whole run.
import { testbed } from './cluster.ts';
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
