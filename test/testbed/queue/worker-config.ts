// The queue worker's settings (worker.ts), from its flags and environment, and the pure decisions it
// makes per job. Kept apart from worker.ts so the unit tests need neither Redis nor BullMQ.
import { flag, parseFlags } from '../dataplane/cli-util.ts';

export interface WorkerConfig {
  /** The BullMQ queue consumed. */
  queue: string;
  /** Redis, as redis://host:port (in a pod: the Service's DNS name, redis.<namespace>.svc.cluster.local). */
  redisUrl: string;
  /** Jobs processed at once by this process (BullMQ's `concurrency`). */
  concurrency: number;
  /** Share of jobs that throw, 0..1: exactly ⌊n·ratio⌋ of the first n jobs of this process (failShare). */
  failRatio: number;
  /** Processing time of every job (completed or failed), ms. */
  delayMs: number;
  /** What this worker is: recorded in every job's return value and in the metrics' `version` label. */
  version: string;
  /** The Deployment, pod and namespace it runs as (the downward API); `deployment` also labels the metrics. */
  deployment: string;
  pod: string;
  namespace: string;
  /** Where /metrics and /ready are served: its pod IP in a pod, a loopback address elsewhere. */
  listen: string;
}

/** Each setting's environment variable; a flag of the same meaning wins over it. */
export const WORKER_ENV = {
  queue: 'QUEUE_NAME', redisUrl: 'REDIS_URL', concurrency: 'CONCURRENCY', failRatio: 'FAIL_RATIO', delayMs: 'DELAY_MS',
  version: 'WORKER_VERSION', deployment: 'DEPLOYMENT_NAME', pod: 'POD_NAME', namespace: 'POD_NAMESPACE', listen: 'LISTEN',
} as const satisfies Record<keyof WorkerConfig, string>;

const FLAGS: Record<keyof WorkerConfig, string> = {
  queue: 'queue', redisUrl: 'redis-url', concurrency: 'concurrency', failRatio: 'fail-ratio', delayMs: 'delay-ms',
  version: 'version', deployment: 'deployment', pod: 'pod', namespace: 'namespace', listen: 'listen',
};

/**
 *   node test/testbed/queue/worker.ts --queue NAME [--redis-url redis://HOST:6379] [--concurrency 1]
 *        [--fail-ratio 0..1] [--delay-ms N] [--version V] [--deployment D] [--listen HOST:PORT]
 * Every flag also reads from its environment variable (WORKER_ENV); the flag wins. Throws on an
 * unknown flag or a value out of range, naming it.
 */
export function parseWorkerConfig(argv: readonly string[], env: Record<string, string | undefined> = process.env): WorkerConfig {
  const flags = parseFlags(argv);
  const known = new Set(Object.values(FLAGS));
  for (const name of Object.keys(flags)) if (!known.has(name)) throw new Error(`unknown flag --${name} (known: ${[...known].map((k) => `--${k}`).join(', ')})`);
  const get = (k: keyof WorkerConfig): string | undefined => {
    const v = flag(flags, FLAGS[k]) ?? env[WORKER_ENV[k]];
    return v === '' ? undefined : v;
  };
  const num = (k: keyof WorkerConfig, fallback: number, ok: (n: number) => boolean, what: string): number => {
    const v = get(k);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || !ok(n)) throw new Error(`--${FLAGS[k]} (${WORKER_ENV[k]}) must be ${what}, got ${JSON.stringify(v)}`);
    return n;
  };
  const queue = get('queue');
  if (!queue) throw new Error(`missing the queue: --${FLAGS.queue} or ${WORKER_ENV.queue}`);
  const redisUrl = get('redisUrl') ?? 'redis://127.0.0.1:6379';
  if (!/^redis:\/\/[^/:]+(:\d+)?\/?$/.test(redisUrl)) throw new Error(`--${FLAGS.redisUrl} (${WORKER_ENV.redisUrl}) must be redis://host[:port], got ${JSON.stringify(redisUrl)}`);
  return {
    queue,
    redisUrl,
    concurrency: num('concurrency', 1, (n) => Number.isInteger(n) && n >= 1, 'an integer ≥ 1'),
    failRatio: num('failRatio', 0, (n) => n >= 0 && n <= 1, 'between 0 and 1'),
    delayMs: num('delayMs', 0, (n) => n >= 0, 'a number of ms ≥ 0'),
    version: get('version') ?? 'unknown',
    deployment: get('deployment') ?? 'unknown',
    pod: get('pod') ?? (env.HOSTNAME || 'unknown'),
    namespace: get('namespace') ?? 'default',
    listen: get('listen') ?? '127.0.0.1:8080',
  };
}

/**
 * Whether the job with this process's sequence number `n` (0, 1, 2, … in the order it took them)
 * fails: spread evenly, so that of the first n jobs exactly ⌊n·ratio⌋ failed. A ratio of 0.2 fails
 * the 5th, 10th, 15th … job: a short run fails its share, not a random number near it.
 */
export function failShare(n: number, ratio: number): boolean {
  return Math.floor((n + 1) * ratio + 1e-9) > Math.floor(n * ratio + 1e-9);
}

/** What a job processed by this worker records: its return value when it completes, its progress in any case. */
export interface JobStamp { version: string; deployment: string; pod: string }

/** The host and port of a redis:// URL. */
export function redisAddress(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: u.port ? Number(u.port) : 6379 };
}
