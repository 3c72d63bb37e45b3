// A BullMQ consumer for the worker-cutover tests: the legacy and the new consumers of one queue are
// Deployments of this program (queue/cluster.ts), told apart by `--version`. Each job takes
// `--delay-ms`, a `--fail-ratio` share of them throws (spread evenly: worker-config.ts failShare), and
// every job records who processed it: its progress is set to {version, deployment, pod} when it starts
// and its return value is the same object, so the host counts who did what from Redis (queue/counts.ts).
//
//   GET /metrics  worker_jobs_total{namespace,deployment,queue,version,status="completed|failed"},
//                 worker_job_duration_seconds{…} (histogram), and BullMQ's own exporter
//                 (Queue.exportPrometheusMetrics: bullmq_job_count{queue,state}, bullmq_job_completed_total,
//                 bullmq_job_failed_total) with the namespace added
//   GET /ready    200 only while the worker consumes: connected, running and not closing (the readiness
//                 probe: a Deployment's readyReplicas is the number of processes really consuming)
// SIGTERM: not ready at once, stops taking jobs, lets the active ones finish (Worker.close), exits 0.
import { createServer } from 'node:http';
import { Counter, Histogram, Registry } from 'prom-client';
import { MetricsTime, Queue, Worker, type Job } from 'bullmq';
import { closeServer, listen, parseListen, printReady, runMain } from '../dataplane/cli-util.ts';
import { failShare, parseWorkerConfig, redisAddress, type JobStamp } from './worker-config.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const log = (msg: string, fields: Record<string, unknown> = {}) => process.stdout.write(`${JSON.stringify({ at: new Date().toISOString(), msg, ...fields })}\n`);

async function main(): Promise<{ stop: () => Promise<void> }> {
  const cfg = parseWorkerConfig(process.argv.slice(2));
  const addr = parseListen(cfg.listen);
  const connection = { ...redisAddress(cfg.redisUrl), maxRetriesPerRequest: null };
  const stamp: JobStamp = { version: cfg.version, deployment: cfg.deployment, pod: cfg.pod };
  const labels = { namespace: cfg.namespace, deployment: cfg.deployment, queue: cfg.queue, version: cfg.version };

  const registry = new Registry();
  const jobs = new Counter({ name: 'worker_jobs_total', help: 'Jobs this worker finished, by outcome', labelNames: ['namespace', 'deployment', 'queue', 'version', 'status'], registers: [registry] });
  const duration = new Histogram({
    name: 'worker_job_duration_seconds', help: 'Processing time of the jobs this worker finished (completed or failed)',
    labelNames: ['namespace', 'deployment', 'queue', 'version'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry],
  });
  // Both outcomes start at 0, so rate() of a failure share has a series from the first scrape on.
  for (const status of ['completed', 'failed']) jobs.inc({ ...labels, status }, 0);

  // The queue's own view (depth by state) for the metrics, and the readiness check's round trip.
  const queue = new Queue(cfg.queue, { connection });
  let seq = 0;
  const worker = new Worker<unknown, JobStamp>(cfg.queue, async (job: Job) => {
    const n = seq++;
    await job.updateProgress(stamp);
    await sleep(cfg.delayMs);
    if (failShare(n, cfg.failRatio)) throw new Error(`injected failure (--fail-ratio ${cfg.failRatio}) by ${cfg.version} ${cfg.pod}`);
    return stamp;
  }, {
    connection, concurrency: cfg.concurrency, autorun: false,
    // Its Redis client name (Queue.getWorkers lists it) and every job's processedBy.
    name: cfg.pod,
    // Keeps BullMQ's completed/failed counters (bullmq_job_*_total) for a day.
    metrics: { maxDataPoints: MetricsTime.ONE_HOUR * 24 },
  });
  const finished = (job: Job | undefined, status: 'completed' | 'failed') => {
    jobs.inc({ ...labels, status });
    if (job?.processedOn && job.finishedOn) duration.observe(labels, (job.finishedOn - job.processedOn) / 1000);
  };
  worker.on('completed', (job) => finished(job, 'completed'));
  worker.on('failed', (job) => finished(job, 'failed'));
  worker.on('error', (err) => log('worker error', { error: err.message }));

  let consuming = false;
  let closing = false;
  const pingOk = async (): Promise<boolean> => {
    // A round trip to Redis through BullMQ: a worker cut off from Redis is not consuming.
    try {
      return await Promise.race([queue.getWaitingCount().then(() => true), sleep(800).then(() => false)]);
    } catch { return false; }
  };
  const server = createServer((req, res) => {
    void (async () => {
      if (req.url === '/ready') {
        const ready = consuming && !closing && worker.isRunning() && (await pingOk());
        res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'consuming\n' : 'not consuming\n');
      } else if (req.url === '/metrics') {
        const own = await registry.metrics();
        // Queue-wide, the same from every consumer: aggregate with max(), not sum().
        const bull = await queue.exportPrometheusMetrics({ namespace: cfg.namespace }).catch(() => '');
        res.writeHead(200, { 'content-type': registry.contentType }).end(`${own}${bull}\n`);
      } else res.writeHead(404).end();
    })().catch((err: unknown) => { if (!res.headersSent) res.writeHead(500).end(String(err)); });
  });
  const port = await listen(server, addr);

  await worker.waitUntilReady();
  void worker.run().catch((err: unknown) => { log('worker stopped', { error: String(err) }); consuming = false; });
  consuming = true;
  log('consuming', { ...labels, concurrency: cfg.concurrency, failRatio: cfg.failRatio, delayMs: cfg.delayMs, port });
  printReady({ port });

  return {
    async stop() {
      closing = true;
      log('SIGTERM: draining', { active: worker.isRunning() });
      const t0 = Date.now();
      await worker.close();
      consuming = false;
      await queue.close();
      await closeServer(server);
      log('drained', { ms: Date.now() - t0, processed: seq });
    },
  };
}

runMain(main);
