// The host's side of the test queue, through BullMQ's own Queue API against Redis at its pod IP: a
// producer that enqueues at a bounded rate, and a count of who did what, read from the jobs themselves
// (each records the worker that processed it: worker.ts), so a test can assert that no job was lost
// (completed + failed = enqueued) and what share each version did.
import { Queue } from 'bullmq';
import type { JobStamp } from './worker-config.ts';

/** Redis as the host reaches it (queue/cluster.ts deployQueue gives it). */
export interface RedisAddress { host: string; port: number }

/** A BullMQ Queue on `address` (close it when done: `await queue.close()`). */
export function openQueue(address: RedisAddress, name: string): Queue {
  return new Queue(name, { connection: { host: address.host, port: address.port, maxRetriesPerRequest: null } });
}

/** When the i-th of `count` jobs is due, ms after the start, at `ratePerSecond` (evenly spaced, the first at 0). */
export function enqueueOffsets(count: number, ratePerSecond: number): number[] {
  if (!Number.isInteger(count) || count < 0) throw new Error(`count must be an integer ≥ 0, got ${count}`);
  if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) throw new Error(`ratePerSecond must be > 0, got ${ratePerSecond}`);
  return Array.from({ length: count }, (_, i) => (i * 1000) / ratePerSecond);
}

export interface ProduceOptions {
  count: number;
  /** Jobs per second, never exceeded: job i is added no earlier than i/rate s after the start. */
  ratePerSecond: number;
  /** The jobs' name (default "job") and extra data (each job's data also has its `seq`, 0-based). */
  name?: string;
  data?: Record<string, unknown>;
  /** Stops early: the ids added until then are returned. */
  signal?: AbortSignal;
}

export interface Produced { ids: string[]; startedAt: number; endedAt: number }

/**
 * Enqueues `count` jobs at `ratePerSecond` and returns their ids in order. One attempt each and kept
 * after they finish (BullMQ's defaults, stated): a job that throws goes to the failed set, where the
 * count finds it.
 */
export async function produceJobs(queue: Queue, o: ProduceOptions): Promise<Produced> {
  const offsets = enqueueOffsets(o.count, o.ratePerSecond);
  const ids: string[] = [];
  const startedAt = Date.now();
  for (let i = 0; i < offsets.length; i++) {
    if (o.signal?.aborted) break;
    const wait = startedAt + offsets[i]! - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const job = await queue.add(o.name ?? 'job', { ...o.data, seq: i }, { attempts: 1, removeOnComplete: false, removeOnFail: false });
    if (job.id === undefined) throw new Error(`queue ${queue.name}: job ${i} was added without an id`);
    ids.push(job.id);
  }
  return { ids, startedAt, endedAt: Date.now() };
}

/** Where a job is, from its own fields. */
export type JobState = 'completed' | 'failed' | 'active' | 'waiting';

/** The fields of a BullMQ job the count reads. */
export interface JobFields {
  id: string;
  finishedOn?: number | undefined;
  processedOn?: number | undefined;
  failedReason?: string | undefined;
  returnvalue?: unknown;
  progress?: unknown;
}

/** A job's state from its fields: finished with a failure reason → failed, finished → completed, taken → active, else waiting. */
export function jobState(j: JobFields): JobState {
  if (j.finishedOn) return j.failedReason ? 'failed' : 'completed';
  return j.processedOn ? 'active' : 'waiting';
}

const stampOf = (v: unknown): JobStamp | undefined =>
  v && typeof v === 'object' && typeof (v as JobStamp).version === 'string' ? (v as JobStamp) : undefined;

/** Who processed a job: its return value, else the progress the worker set when it took it. */
export function processedBy(j: JobFields): JobStamp | undefined {
  return stampOf(j.returnvalue) ?? stampOf(j.progress);
}

export interface VersionCount { completed: number; failed: number }

export interface JobTally {
  /** Jobs asked about (the ids given), or found. */
  total: number;
  completed: number;
  failed: number;
  active: number;
  waiting: number;
  /** Finished jobs by the version that processed them ("unknown" when none is recorded). */
  byVersion: Record<string, VersionCount>;
  /** Finished jobs by the pod that processed them. */
  byPod: Record<string, VersionCount>;
  /** Ids asked about that Redis does not have: lost jobs. */
  missing: string[];
}

/** Counts jobs (undefined: a job id that Redis did not have). Pure. */
export function tallyJobs(ids: readonly string[], jobs: ReadonlyArray<JobFields | undefined>): JobTally {
  const t: JobTally = { total: ids.length, completed: 0, failed: 0, active: 0, waiting: 0, byVersion: {}, byPod: {}, missing: [] };
  jobs.forEach((j, i) => {
    if (!j) { t.missing.push(ids[i]!); return; }
    const state = jobState(j);
    t[state]++;
    if (state === 'completed' || state === 'failed') {
      const by = processedBy(j);
      (t.byVersion[by?.version ?? 'unknown'] ??= { completed: 0, failed: 0 })[state]++;
      (t.byPod[by?.pod ?? 'unknown'] ??= { completed: 0, failed: 0 })[state]++;
    }
  });
  return t;
}

/** The share (0..1) of the finished jobs of `tally` that `version` processed; 0 when none finished. */
export function versionShare(tally: JobTally, version: string): number {
  const done = tally.completed + tally.failed;
  const v = tally.byVersion[version];
  return done === 0 || !v ? 0 : (v.completed + v.failed) / done;
}

/** The failed share (0..1) of the jobs `version` finished; 0 when it finished none. */
export function versionFailureRate(tally: JobTally, version: string): number {
  const v = tally.byVersion[version];
  return !v || v.completed + v.failed === 0 ? 0 : v.failed / (v.completed + v.failed);
}

const ALL_STATES = ['completed', 'failed', 'active', 'wait', 'delayed', 'prioritized', 'waiting-children'] as const;

/** The jobs `ids` (default: every job the queue holds) as Redis has them now; undefined for an id it lacks. */
export async function readJobs(queue: Queue, ids?: readonly string[]): Promise<{ ids: string[]; jobs: Array<JobFields | undefined> }> {
  let want: string[];
  if (ids) want = [...ids];
  else {
    const found = new Set<string>();
    for (const state of ALL_STATES) {
      for (let start = 0; ; start += 1000) {
        const page = await queue.getJobs([state], start, start + 999, true);
        for (const j of page) if (j?.id !== undefined) found.add(j.id);
        if (page.length < 1000) break;
      }
    }
    want = [...found];
  }
  const jobs: Array<JobFields | undefined> = [];
  for (let i = 0; i < want.length; i += 200) {
    const chunk = await Promise.all(want.slice(i, i + 200).map((id) => queue.getJob(id)));
    for (const j of chunk) jobs.push(j ? { id: j.id ?? '', finishedOn: j.finishedOn, processedOn: j.processedOn, failedReason: j.failedReason, returnvalue: j.returnvalue, progress: j.progress } : undefined);
  }
  return { ids: want, jobs };
}

/**
 * Counts the jobs `ids` (default: every job the queue holds) by state and by the version and pod that
 * finished them, reading each job from Redis. Exact once the jobs are finished; while they move,
 * a job is counted in the state it had when read.
 */
export async function countJobs(queue: Queue, ids?: readonly string[]): Promise<JobTally> {
  const r = await readJobs(queue, ids);
  return tallyJobs(r.ids, r.jobs);
}

/**
 * The jobs that finished (completed or failed) in [fromMs, toMs), counted as tallyJobs does: who did
 * the work while a step's replicas held, whatever step enqueued it. Pure.
 */
export function tallyFinishedBetween(jobs: ReadonlyArray<JobFields | undefined>, fromMs: number, toMs: number): JobTally {
  const inWindow = jobs.filter((j): j is JobFields => j !== undefined && j.finishedOn !== undefined && j.finishedOn >= fromMs && j.finishedOn < toMs);
  return tallyJobs(inWindow.map((j) => j.id), inWindow);
}

/**
 * Waits until every job of `ids` is finished (completed or failed) or missing, polling Redis; the
 * final tally. On timeout the error gives the last tally.
 */
export async function waitForJobs(queue: Queue, ids: readonly string[], timeoutMs = 120_000): Promise<JobTally> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const t = await countJobs(queue, ids);
    if (t.active === 0 && t.waiting === 0) return t;
    if (Date.now() > deadline) throw new Error(`queue ${queue.name}: ${t.waiting} waiting and ${t.active} active of ${ids.length} jobs after ${timeoutMs} ms: ${JSON.stringify(t)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
