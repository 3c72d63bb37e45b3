// The real queue of the worker-cutover tests, on its own: Redis (Debian's, as a pod) and two consumer
// Deployments of the BullMQ test worker (legacy and new) reading one queue on the testbed's real node, a
// producer on the host at a bounded rate, who-did-what read back from Redis, and the workers' metrics in
// the testbed's Prometheus through the queries the README gives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import { eventually, eventuallyEqual, kubectl, kubectlOk, promQuery, testbed, uniqueName } from '../helpers/cluster.ts';
import { requireRealNode } from '../testbed/testbed.ts';
import { startPodScrape, type PodScrape } from '../testbed/pod-scrape.ts';
import {
  consumerPods, countJobs, deployConsumers, deployQueue, openQueue, produceJobs, QUEUE_QUERIES, renderQuery, versionFailureRate, versionShare,
  waitConsumersReady, waitConsumersScraped, waitForJobs, type JobTally, type QueueEndpoint,
} from '../helpers/queue.ts';

const ns = uniqueName('queue');
let endpoint: QueueEndpoint;
let scores: Queue;
let podScrape: PodScrape;
/** The tally of the first test's 200 jobs, which the metrics must agree with. */
let first: JobTally;

beforeAll(async () => {
  requireRealNode(testbed());
  endpoint = await deployQueue(ns);
  scores = openQueue(endpoint, 'scores');
  podScrape = startPodScrape(testbed(), { namespaces: [ns] });
});

afterAll(async () => {
  podScrape?.stop();
  await scores?.close();
  await kubectl(['delete', 'namespace', ns, '--wait=false']);
});

describe('a real queue with legacy and new consumers', () => {
  it('200 jobs at 50/s on two Deployments of 2: none lost, the work split by replicas, the new one fails its 20%', async () => {
    // 100 ms a job, one at a time: 4 pods do 40 jobs/s, under the 50/s produced, so every pod stays busy
    // and each one's share is its share of the consumers.
    const common = { namespace: ns, queue: 'scores', replicas: 2, delayMs: 100, concurrency: 1, terminationGracePeriodSeconds: 5 };
    await Promise.all([
      deployConsumers({ ...common, name: 'monolith-worker', version: 'legacy' }),
      deployConsumers({ ...common, name: 'score-worker', version: 'new', failRatio: 0.2 }),
    ]);
    // readyReplicas is the number of processes consuming: BullMQ sees exactly as many workers.
    expect(await scores.getWorkersCount()).toBe(4);
    // Every pod scraped from its first job on, so that rate() over the run sees all of it.
    await waitConsumersScraped(ns, ['monolith-worker', 'score-worker']);

    const produced = await produceJobs(scores, { count: 200, ratePerSecond: 50 });
    expect(produced.ids).toHaveLength(200);
    // Bounded: 200 jobs at 50/s take about 4 s (the last one is due at 3.98 s), never less.
    expect(produced.endedAt - produced.startedAt).toBeGreaterThanOrEqual(3980);
    first = await waitForJobs(scores, produced.ids, 60_000);

    expect(first.missing).toEqual([]);
    expect(first.completed + first.failed).toBe(200);
    const share = versionShare(first, 'new');
    expect(share, JSON.stringify(first.byVersion)).toBeGreaterThanOrEqual(0.45);
    expect(share, JSON.stringify(first.byVersion)).toBeLessThanOrEqual(0.55);
    // Each new pod fails exactly ⌊n·0.2⌋ of its n jobs.
    expect(versionFailureRate(first, 'new')).toBeGreaterThanOrEqual(0.18);
    expect(versionFailureRate(first, 'new')).toBeLessThanOrEqual(0.2);
    expect(first.byVersion.legacy?.failed).toBe(0);
    // Every job names the pod that did it: the 4 pods of the two Deployments.
    const pods = [...await consumerPods(ns, 'monolith-worker'), ...await consumerPods(ns, 'score-worker')].sort();
    expect(Object.keys(first.byPod).sort()).toEqual(pods);
  });

  it('Prometheus has each pod\'s job counters, equal to what Redis says, and the README\'s queries answer', async () => {
    const expected: Record<string, number> = {};
    for (const [pod, c] of Object.entries(first.byPod)) {
      expected[`${pod} completed`] = c.completed;
      expected[`${pod} failed`] = c.failed;
    }
    await eventuallyEqual('worker_jobs_total by pod and status in Prometheus', async () => {
      const rows = await promQuery(`sum by (pod, status) (worker_jobs_total{namespace="${ns}",queue="scores"})`);
      return Object.fromEntries(rows.map((r) => [`${r.metric.pod} ${r.metric.status}`, r.value]));
    }, expected, 30_000, 500);

    const q = async (name: keyof typeof QUEUE_QUERIES): Promise<number> => {
      const rows = await promQuery(renderQuery(QUEUE_QUERIES[name], ns));
      if (rows.length !== 1) throw new Error(`${name}: ${rows.length} series: ${JSON.stringify(rows)}`);
      return rows[0]!.value;
    };
    // Over the last minute, which holds the whole run: the new consumers failed their 20 %, the legacy none.
    expect(await q('newFailureRate')).toBeGreaterThan(0.15);
    expect(await q('newFailureRate')).toBeLessThan(0.25);
    expect(await q('legacyFailureRate')).toBe(0);
    // 100 ms a job: the p95 lies in the histogram's (0.1, 0.25] bucket.
    const p95 = await q('newP95Seconds');
    expect(p95).toBeGreaterThan(0.1);
    expect(p95).toBeLessThanOrEqual(0.25);
    // The queue is drained, and BullMQ's own exporter says so from every consumer.
    await eventually('no job waiting in bullmq_job_count', async () => (await q('waiting')) === 0, 15_000, 500);
    expect(Number.isFinite(await q('waitingGrowth'))).toBe(true);
    const finished = await promQuery(`max by (state) (bullmq_job_count{namespace="${ns}",queue="scores",state=~"completed|failed"})`);
    expect(Object.fromEntries(finished.map((r) => [r.metric.state, r.value]))).toEqual({ completed: first.completed, failed: first.failed });
  });

  it('a consumer scaled down drains: its active jobs finish before the pod goes, none is left active or lost', async () => {
    const drain = openQueue(endpoint, 'drain');
    try {
      // 3 s a job, 2 at once, one pod; a grace period well above one job.
      await deployConsumers({ namespace: ns, name: 'slow-worker', version: 'slow', queue: 'drain', replicas: 1, delayMs: 3000, concurrency: 2, terminationGracePeriodSeconds: 15 });
      const { ids } = await produceJobs(drain, { count: 2, ratePerSecond: 100 });
      await eventually('both jobs active', async () => (await countJobs(drain, ids)).active === 2, 15_000, 100);
      const scaledAt = Date.now();
      await kubectlOk(['scale', 'deployment', 'slow-worker', '-n', ns, '--replicas=0']);
      // The pod is NotReady at once (its /ready answers 503 from SIGTERM on) and leaves when it has drained.
      await waitConsumersReady(ns, 'slow-worker', 0, 30_000);
      await eventually('the slow pod gone', async () => (await consumerPods(ns, 'slow-worker')).length === 0
        && (await kubectl(['get', 'pods', '-n', ns, '-l', 'testbed.cutover.dev/queue-consumer=slow-worker', '-o', 'name'])).stdout.trim() === '', 30_000, 250);
      const t = await countJobs(drain, ids);
      expect(t).toMatchObject({ total: 2, completed: 2, failed: 0, active: 0, waiting: 0, missing: [] });
      expect(t.byVersion).toEqual({ slow: { completed: 2, failed: 0 } });
      // It took the rest of the jobs' 3 s, not the grace period: drained, not killed.
      expect(Date.now() - scaledAt).toBeLessThan(15_000);
    } finally {
      await drain.close();
    }
  });
});
