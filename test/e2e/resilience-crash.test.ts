// Resilience: crash chaos. 50 concurrent TrafficShifts (half healthy, half turning faulty at a random
// moment), the operator killed with SIGKILL at 20 random moments and restarted each time. At the end
// every healthy shift is Completed, every faulty one RolledBack, each route's weights agree with its
// status, and the Events show no step started twice and none skipped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, getJson, kubectl, kubectlOk, sleep, testbed, uniqueName } from '../helpers/cluster.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';

const NS = uniqueName('rs-crash');
const N = 50;
const KILLS = 20;
let operator: OperatorProcess;

const STEPS = [10, 30, 60, 100];
const shifts = Array.from({ length: N }, (_, i) => ({ name: `s-${i}`, faulty: i % 2 === 1 }));

function manifests(faultAt: (i: number) => number): string {
  const docs: string[] = [`apiVersion: v1
kind: Service
metadata: {name: monolith, namespace: ${NS}}
spec: {ports: [{name: http, port: 8080, targetPort: 8080}]}`, `apiVersion: v1
kind: Service
metadata: {name: listings-api, namespace: ${NS}}
spec: {ports: [{name: http, port: 8080, targetPort: 8080}]}`];
  shifts.forEach((s, i) => {
    docs.push(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r-${s.name}, namespace: ${NS}}
spec:
  rules:
    - backendRefs:
        - {name: monolith, port: 8080, weight: 100}
        - {name: listings-api, port: 8080, weight: 0}`);
    // Healthy: always 0. Faulty: 0 until a random moment, then 1 (time() is Prometheus' clock).
    const query = s.faulty ? `time() > bool ${faultAt(i)}` : 'vector(0)';
    docs.push(`apiVersion: cutover.dev/v1alpha1
kind: TrafficShift
metadata: {name: ${s.name}, namespace: ${NS}}
spec:
  route: {httpRoute: {name: r-${s.name}}}
  stable: {service: monolith, port: 8080}
  canary: {service: listings-api, port: 8080}
  steps:
${STEPS.map((w) => `    - {weight: ${w}, pause: 2s}`).join('\n')}
  analysis:
    interval: 1s
    failureLimit: 1
    inconclusiveLimit: 20
    metrics:
      - name: fault
        prometheus: {query: '${query}'}
        max: 0.5`);
  });
  return docs.join('\n---\n');
}

beforeAll(async () => {
  await kubectlOk(['create', 'namespace', NS]);
  operator = await startOperator(testbed(), { name: 'resilience-crash', namespaces: [NS], extraArgs: ['--log-level', 'info'] });
});

afterAll(async () => {
  await operator?.stop();
  await kubectl(['delete', 'namespace', NS, '--wait=false']);
});

interface TS { metadata: { name: string }; status?: { phase?: string; currentWeight?: number; currentStep?: number; rollback?: { trigger: string } } }
interface Route { metadata: { name: string }; spec: { rules: Array<{ backendRefs: Array<{ name: string; weight?: number }> }> } }
interface Ev { reason: string; note?: string; regarding: { name: string }; series?: { count: number } }

describe('crash chaos', () => {
  it(`${N} shifts, ${KILLS} SIGKILLs at random moments: every shift ends right, no step repeated or skipped`, { timeout: 240_000 }, async () => {
    const t0 = Math.floor(Date.now() / 1000);
    // Faults between 2 s and 6 s after creation: a shift needs at least 8 s (4 steps × 2 s, each
    // ending only after a passing check), so every faulty one sees its fault before it could complete.
    await kubectlOk(['apply', '--server-side', '-f', '-'], manifests(() => t0 + 2 + Math.floor(Math.random() * 5)));
    const kills: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      await sleep(200 + Math.random() * 1500);
      await operator.kill9();
      kills.push(Date.now());
      await operator.restart();
    }
    const list = await eventually('every shift terminal', async () => {
      const l = await getJson<{ items: TS[] }>(['get', 'trafficshifts', '-n', NS]);
      return l.items.length === N && l.items.every((t) => ['Completed', 'RolledBack', 'Failed'].includes(t.status?.phase ?? '')) ? l : undefined;
    }, 150_000, 1000);
    await sleep(1500); // the last Events are written asynchronously
    const routes = new Map((await getJson<{ items: Route[] }>(['get', 'httproutes', '-n', NS])).items.map((r) => [r.metadata.name, r]));
    const events = (await getJson<{ items: Ev[] }>(['get', 'events.events.k8s.io', '-n', NS])).items;
    const problems: string[] = [];
    const missingEvents: string[] = [];
    for (const s of shifts) {
      const ts = list.items.find((t) => t.metadata.name === s.name)!;
      const want = s.faulty ? 'RolledBack' : 'Completed';
      if (ts.status?.phase !== want) problems.push(`${s.name}: ${ts.status?.phase}, want ${want}`);
      if (s.faulty && ts.status?.rollback?.trigger !== 'Metric') problems.push(`${s.name}: rollback trigger ${ts.status?.rollback?.trigger}`);
      const canary = routes.get(`r-${s.name}`)!.spec.rules[0]!.backendRefs.find((b) => b.name === 'listings-api')?.weight;
      const wantWeight = s.faulty ? 0 : 100;
      if (canary !== wantWeight || ts.status?.currentWeight !== wantWeight) problems.push(`${s.name}: route canary ${canary}, status ${ts.status?.currentWeight}, want ${wantWeight}`);
      const started: number[] = [];
      for (const e of events) {
        if (e.regarding.name !== s.name || e.reason !== 'StepStarted') continue;
        const n = Number(e.note?.match(/^step (\d+)\//)?.[1]);
        for (let c = 0; c < (e.series?.count ?? 1); c++) started.push(n);
      }
      started.sort((a, b) => a - b);
      // Every step started exactly once. (A StepStarted Event follows the status write; one lost to
      // a SIGKILL between the two is written by the next process under the same name.)
      if (new Set(started).size !== started.length) problems.push(`${s.name}: a step started twice: StepStarted for steps ${JSON.stringify(started)}`);
      const last = s.faulty ? Math.max(0, ...started) : STEPS.length;
      for (let n = 1; n <= last; n++) if (!started.includes(n)) missingEvents.push(`${s.name} step ${n}`);
    }
    const completed = list.items.filter((t) => t.status?.phase === 'Completed').length;
    if (missingEvents.length) problems.push(`${missingEvents.length} StepStarted Events missing: ${missingEvents.join(', ')}`);
    console.log(`crash chaos: ${KILLS} kills over ${Math.round((kills.at(-1)! - kills[0]!) / 1000)} s; ${completed} Completed, ${N - completed} RolledBack`);
    expect(problems, problems.join('\n')).toEqual([]);
  });
});
