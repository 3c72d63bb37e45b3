// Worker cutovers without a route (issue 15), end to end: a real queue (Redis as a pod, BullMQ test
// workers on the testbed's real node), the operator as a separate process moving the share of the work
// from the legacy consumers to the new ones by replicas, judged by the workers' job metrics in the real
// Prometheus. What a user checks: who did the jobs at each step (read back from Redis), that no job is
// lost, and the order of a rollback as the Deployments show it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import { getJson, kubectl, kubectlOk, testbed, uniqueName } from '../helpers/cluster.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { requireRealNode } from '../testbed/testbed.ts';
import { startPodScrape, type PodScrape } from '../testbed/pod-scrape.ts';
import { kube, watch, type WatchEvent } from '../bench/lib.ts';
import {
  countJobs, deployConsumers, deployQueue, openQueue, produceJobs, QUEUE_QUERIES, readJobs, tallyFinishedBetween, versionShare,
  waitForJobs, type Produced,
} from '../helpers/queue.ts';

const NS = { healthy: uniqueName('wk-healthy'), faulty: uniqueName('wk-faulty'), crash: uniqueName('wk-crash') };
const TOTAL = 10;
let operator: OperatorProcess;
let podScrape: PodScrape;
const queues: Queue[] = [];

interface ShiftStatus {
  phase?: string; currentStep?: number; currentWeight?: number; stepStartedAt?: string; workersReady?: boolean;
  rollback?: { trigger?: string; reason?: string; legacyWorkersReadyAt?: string; workersRestoredAt?: string; completedAt?: string };
  workers?: Array<{ deployment: string; replicas?: number; legacyReplicas?: number; previousReplicas?: number; legacyPreviousReplicas?: number }>;
}
interface ShiftObj { metadata: { name: string; namespace: string }; status?: ShiftStatus }
interface DeploymentObj { metadata: { name: string; namespace: string }; spec?: { replicas?: number }; status?: { readyReplicas?: number } }

beforeAll(async () => {
  requireRealNode(testbed());
  operator = await startOperator(testbed(), { name: 'worker-cutover', namespaces: Object.values(NS) });
  podScrape = startPodScrape(testbed(), { namespaces: Object.values(NS) });
});

afterAll(async () => {
  podScrape?.stop();
  await operator?.stop();
  for (const q of queues) await q.close();
  for (const ns of Object.values(NS)) await kubectl(['delete', 'namespace', ns, '--wait=false']);
});

/** Redis, the legacy consumers (10, all the work) and the new ones (0) in `ns`; the queue from the host. */
async function setup(ns: string, newOpts: { failRatio?: number } = {}): Promise<Queue> {
  const q = openQueue(await deployQueue(ns), 'scores');
  queues.push(q);
  const common = { namespace: ns, queue: 'scores', delayMs: 100, concurrency: 1, terminationGracePeriodSeconds: 5 };
  await Promise.all([
    deployConsumers({ ...common, name: 'monolith-worker', version: 'legacy', replicas: TOTAL }),
    deployConsumers({ ...common, name: 'score-worker', version: 'new', replicas: 0, ...newOpts }),
  ]);
  return q;
}

const render = (q: string, ns: string) => q.replaceAll('{{namespace}}', ns);
const indent = (text: string, n: number) => text.split('\n').map((l) => ' '.repeat(n) + l).join('\n');

function shiftYaml(ns: string, o: { steps: Array<[number, string]>; extra?: string }): string {
  return `apiVersion: cutover.dev/v1alpha1
kind: TrafficShift
metadata: {name: scores, namespace: ${ns}}
spec:
  steps:
${o.steps.map(([w, p]) => `    - {weight: ${w}, pause: ${p}}`).join('\n')}
  workers:
    - deployment: score-worker
      split: {totalReplicas: ${TOTAL}}
      legacy: {deployment: monolith-worker}
  analysis:
    interval: 2s
    failureLimit: 2
    inconclusiveLimit: 30
    metrics:
      - name: job-failure-rate
        prometheus:
          query: |
${indent(render(QUEUE_QUERIES.newFailureRate, ns).replaceAll('[1m]', '[15s]'), 12)}
        max: 0.05
${o.extra ?? ''}`;
}

/** Every status of the shift and every Deployment change in `ns`, as WATCH events with arrival times. */
function record(ns: string) {
  const k = kube(testbed());
  const shifts: Array<WatchEvent<ShiftObj>> = [];
  const deps: Array<WatchEvent<DeploymentObj>> = [];
  const w1 = watch<ShiftObj>(k, `/apis/cutover.dev/v1alpha1/namespaces/${ns}/trafficshifts`, (e) => shifts.push(e));
  const w2 = watch<DeploymentObj>(k, `/apis/apps/v1/namespaces/${ns}/deployments`, (e) => deps.push(e));
  return {
    shifts, deps,
    ready: Promise.all([w1.ready, w2.ready]),
    stop() { w1.stop(); w2.stop(); },
    /** The first status for which `pred` holds. */
    until(pred: (s: ShiftStatus) => boolean, timeoutMs = 180_000): Promise<ShiftStatus> {
      const deadline = Date.now() + timeoutMs;
      return new Promise((resolve, reject) => {
        const t = setInterval(() => {
          const hit = shifts.find((e) => e.obj.status && pred(e.obj.status));
          if (hit) { clearInterval(t); resolve(hit.obj.status!); } else if (Date.now() > deadline) { clearInterval(t); reject(new Error(`no status matched in ${timeoutMs} ms; last: ${JSON.stringify(shifts.at(-1)?.obj.status)}`)); }
        }, 50);
      });
    },
  };
}

/** Produces in the background until stopped (bounded by `count`). */
function producer(q: Queue, ratePerSecond: number, count: number): { stop(): Promise<Produced> } {
  const ac = new AbortController();
  const p = produceJobs(q, { count, ratePerSecond, signal: ac.signal });
  return { async stop() { ac.abort(); return p; } };
}

async function stepStarted(ns: string): Promise<string[]> {
  const list = await getJson<{ items: Array<{ reason: string; note?: string; regarding: { name: string } }> }>(['get', 'events.events.k8s.io', '-n', ns]);
  return list.items.filter((e) => e.regarding.name === 'scores' && e.reason === 'StepStarted').map((e) => e.note ?? '').sort();
}

describe('worker cutover by replicas, no route', () => {
  it('healthy: 10 → 50 → 100% of the consumers; the share of jobs the new workers did at each step is within ±5 points of the weight', async () => {
    const ns = NS.healthy;
    const q = await setup(ns);
    const rec = record(ns);
    await rec.ready;
    // 60 jobs/s against 10 consumers doing 10 jobs/s each: every consumer takes part, none is saturated.
    const load = producer(q, 60, 60 * 240);
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(ns, { steps: [[10, '12s'], [50, '12s'], [100, '6s']] }));
    const done = await rec.until((s) => ['Completed', 'RolledBack', 'Failed'].includes(s.phase ?? ''));
    const produced = await load.stop();
    rec.stop();
    expect(done.phase, JSON.stringify(done)).toBe('Completed');

    // Each step's window: from the moment its split was Ready (stepStartedAt) to the next step's start.
    const windows: Array<{ weight: number; from: number; to: number }> = [];
    for (const e of rec.shifts) {
      const s = e.obj.status;
      if (!s?.stepStartedAt || s.workersReady !== true || s.phase !== 'Progressing') continue;
      const from = Date.parse(s.stepStartedAt);
      if (!windows.some((w) => w.from === from)) windows.push({ weight: s.currentWeight!, from, to: Infinity });
    }
    windows.forEach((w, i) => { w.to = windows[i + 1]?.from ?? Date.parse(done.stepStartedAt!) + 6000; });
    expect(windows.map((w) => w.weight)).toEqual([10, 50, 100]);

    const all = await waitForJobs(q, produced.ids, 120_000);
    expect(all.missing).toEqual([]);
    expect(all.completed).toBe(produced.ids.length);
    const { jobs } = await readJobs(q, produced.ids);
    const shares: Array<{ weight: number; newShare: number; jobs: number }> = [];
    for (const w of windows) {
      // The first second after the split is Ready: the old consumers finish the jobs they hold.
      const t = tallyFinishedBetween(jobs, w.from + 1000, w.to);
      shares.push({ weight: w.weight, newShare: Math.round(1000 * versionShare(t, 'new')) / 10, jobs: t.completed + t.failed });
    }
    for (const s of shares) {
      expect(s.jobs, JSON.stringify(shares)).toBeGreaterThan(150);
      expect(Math.abs(s.newShare - s.weight), `share of the new consumers at weight ${s.weight}: ${JSON.stringify(shares)}`).toBeLessThanOrEqual(5);
    }
    console.log(`[worker-cutover] shares of the new consumers by step: ${JSON.stringify(shares)}; ${produced.ids.length} jobs, all completed`);

    const replicas = async (name: string) => (await getJson<DeploymentObj>(['get', 'deployment', name, '-n', ns])).spec?.replicas;
    expect(await replicas('score-worker')).toBe(TOTAL);
    expect(await replicas('monolith-worker')).toBe(0);
    expect(await stepStarted(ns)).toHaveLength(3);
  });

  it('new workers failing 20% of jobs: RolledBack; the legacy consumers are Ready before the new ones scale down; no job lost', async () => {
    const ns = NS.faulty;
    const q = await setup(ns, { failRatio: 0.2 });
    const rec = record(ns);
    await rec.ready;
    const load = producer(q, 60, 60 * 240);
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(ns, { steps: [[10, '6s'], [50, '60s'], [100, '6s']] }));
    // Let the failures reach a step with a large share of the work.
    await rec.until((s) => s.currentWeight === 50 || s.phase === 'RolledBack');
    const done = await rec.until((s) => s.phase === 'RolledBack' && s.rollback?.completedAt !== undefined);
    // Keep producing through the rollback, then stop: every job must be accounted for.
    await new Promise((r) => setTimeout(r, 3000));
    const produced = await load.stop();
    rec.stop();
    expect(done.rollback?.trigger).toBe('Metric');
    expect(done.rollback?.reason).toMatch(/job-failure-rate/);

    // The order, as the Deployments show it: the legacy back at 10 Ready, only then the new scaled down.
    const newDown = rec.deps.find((e) => e.obj.metadata.name === 'score-worker' && e.obj.spec?.replicas === 0 && e.at > Date.parse(done.rollback!.legacyWorkersReadyAt!) - 2000);
    const legacyReady = rec.deps.find((e) => e.obj.metadata.name === 'monolith-worker' && e.obj.spec?.replicas === TOTAL && (e.obj.status?.readyReplicas ?? 0) >= TOTAL && e.at > (rec.shifts.find((s) => s.obj.status?.phase === 'RolledBack')?.at ?? 0));
    expect(legacyReady, 'legacy consumers back and Ready').toBeDefined();
    expect(newDown, 'new consumers scaled down').toBeDefined();
    expect(legacyReady!.at).toBeLessThan(newDown!.at);
    // Never without consumers: at every Deployment event, Ready legacy + new ≥ 1.
    const lastReady: Record<string, number> = { 'monolith-worker': TOTAL, 'score-worker': 0 };
    for (const e of rec.deps) {
      lastReady[e.obj.metadata.name] = e.obj.status?.readyReplicas ?? 0;
      expect((lastReady['monolith-worker'] ?? 0) + (lastReady['score-worker'] ?? 0)).toBeGreaterThanOrEqual(1);
    }

    const t = await waitForJobs(q, produced.ids, 180_000);
    expect(t.missing).toEqual([]);
    expect(t.completed + t.failed).toBe(produced.ids.length);
    expect(t.byVersion.legacy?.failed ?? 0).toBe(0);
    expect(t.failed).toBe(t.byVersion.new?.failed);
    console.log(`[worker-cutover] no job lost: enqueued ${produced.ids.length}, completed ${t.completed}, failed ${t.failed} (all by the new workers: ${JSON.stringify(t.byVersion)})`);
    expect((await countJobs(q)).waiting).toBe(0);
  });

  it('SIGKILL of the operator mid-step: the split the status names is back right after restart; no step repeated or skipped', async () => {
    const ns = NS.crash;
    await setup(ns);
    const rec = record(ns);
    await rec.ready;
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(ns, { steps: [[10, '4s'], [50, '8s'], [100, '4s']] }).replace(/  analysis:[\s\S]*$/, ''));
    // Killed as soon as step 2 is recorded, before its split can be in place.
    await rec.until((s) => s.currentStep === 1);
    await operator.kill9();
    // While it is down, someone scales the new workers off the split.
    await kubectlOk(['scale', 'deployment/score-worker', '-n', ns, '--replicas=2']);
    await operator.restart();
    const settled = await rec.until((s) => s.currentStep === 1 && s.workersReady === true);
    expect(settled.workers?.[0]).toMatchObject({ replicas: 5, legacyReplicas: 5 });
    const dep = async (name: string) => (await getJson<DeploymentObj>(['get', 'deployment', name, '-n', ns]));
    expect((await dep('score-worker')).spec?.replicas).toBe(5);
    expect((await dep('monolith-worker')).spec?.replicas).toBe(5);
    const done = await rec.until((s) => ['Completed', 'RolledBack', 'Failed'].includes(s.phase ?? ''));
    rec.stop();
    expect(done.phase).toBe('Completed');
    const steps = await stepStarted(ns);
    expect(steps.map((n) => n.match(/^step (\d)\/3/)?.[1])).toEqual(['1', '2', '3']);
  });
});
