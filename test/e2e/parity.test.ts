// Response parity end to end (issue 14): a ShadowRun with `parity` on the real testbed. The operator
// (a process, as in the other e2e files) creates the run's comparator — a real pod on the real node,
// from the operator image with the comparator entrypoint — and points the route's RequestMirror at
// its Service; the gateway mirrors real requests to it; the comparator replays each mirrored read to
// the legacy and the new backend pods and keeps its counts in the run's summary ConfigMap, which the
// operator folds into status.parity and the run's verdict. The backends answer JSON listings with
// controlled differences (noise fields, a wrong price on a share of the answers, a score a little
// off, reordered tags).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, getJson, kubectl, kubectlOk, sleep, testbed } from '../helpers/cluster.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { createScenario, type Scenario } from '../helpers/scenario.ts';
import { backendStats, setBackend, type BackendSettings } from '../testbed/backends.ts';
import { runLoad, type LoadSummary } from '../testbed/dataplane/load.ts';
import { REPO_ROOT } from '../testbed/paths.ts';
import { OPERATOR_IMAGE, REAL_NODE_LABEL, REAL_NODE_TAINT } from '../testbed/realnode.ts';
import { requireRealNode } from '../testbed/testbed.ts';

const TOKEN = 'Bearer s3cr3t-parity-token-8b1f';
const COOKIE = 'session=c00kie-parity-value-42';
const SECRETS = [TOKEN, 's3cr3t-parity-token-8b1f', COOKIE, 'c00kie-parity-value-42'];

const operators: OperatorProcess[] = [];
const scenarios: Scenario[] = [];

/** The operator as a user runs it for parity: the comparator image and where its pods go (the chart sets these). */
async function operatorFor(ns: string): Promise<OperatorProcess> {
  const op = await startOperator(testbed(), {
    name: `parity-${ns}`, namespaces: [ns],
    extraArgs: [
      '--parity-image', OPERATOR_IMAGE, '--parity-image-pull-policy', 'Never',
      '--parity-pod-template', JSON.stringify({
        nodeSelector: { [REAL_NODE_LABEL.key]: REAL_NODE_LABEL.value },
        tolerations: [{ key: REAL_NODE_TAINT.key, operator: 'Equal', value: REAL_NODE_TAINT.value, effect: REAL_NODE_TAINT.effect }],
      }),
    ],
  });
  operators.push(op);
  return op;
}

async function scenario(prefix: string, legacy: BackendSettings, next: BackendSettings): Promise<Scenario> {
  const s = await createScenario({ prefix });
  scenarios.push(s);
  await setBackend(testbed(), s.ns, s.stable, { listing: true, ...legacy });
  await setBackend(testbed(), s.ns, s.canary, { listing: true, ...next });
  return s;
}

interface Run {
  metadata: { name: string };
  status?: {
    phase?: string; verdict?: string; message?: string;
    parity?: {
      compared: number; mismatched: number; noiseCompared?: number; result?: string; reason?: string; comparator?: string;
      skipped?: Array<{ reason: string; count: number }>;
      endpoints?: Array<{ endpoint: string; compared: number; mismatched: number; result: string }>;
      samples?: Array<{ method?: string; path: string; difference?: string }>;
    };
    results?: Array<{ name: string; result: string; message?: string }>;
  };
}

const run = (s: Scenario, name: string) => getJson<Run>(['get', 'shadowrun', name, '-n', s.ns]);

function shadowRunYaml(s: Scenario, name: string, duration: string, parity: string): string {
  return `apiVersion: cutover.dev/v1alpha1
kind: ShadowRun
metadata: {name: ${name}, namespace: ${s.ns}}
spec:
  route: {httpRoute: {name: listings}}
  primary: {service: ${s.stable}, port: 8080}
  shadow: {service: ${s.canary}, port: 8080}
  percent: 100
  duration: ${duration}
  parity:
${parity}
`;
}

/** GETs of /listings/<n> through the gateway, with a user's credentials, as real traffic. */
function readLoad(s: Scenario, rps: number, signal: AbortSignal): Promise<LoadSummary> {
  return runLoad({ url: testbed().gatewayUrl, host: s.host, pathFor: (n) => `/listings/${(n % 40) + 1}`, headers: { authorization: TOKEN, cookie: COOKIE }, rps, durationMs: 600_000, signal, timeoutMs: 5000 });
}

/** `kubectl cutover report` as a user runs it (the plugin's entrypoint, the testbed's kubeconfig). */
function report(ns: string, name: string, output: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(REPO_ROOT, 'operator', 'bin', 'kubectl-cutover.js'), 'report', name, '-n', ns, '-o', output], { env: { ...process.env, KUBECONFIG: testbed().kubeconfig }, timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: stdout + stderr }));
  });
}

async function waitEnd(s: Scenario, name: string, timeoutMs: number): Promise<Run> {
  return eventually(`ShadowRun ${s.ns}/${name} ends`, async () => {
    const r = await run(s, name);
    return ['Passed', 'Failed', 'Cancelled'].includes(r.status?.phase ?? '') ? r : undefined;
  }, timeoutMs, 500);
}

beforeAll(() => {
  requireRealNode(testbed());
});

afterAll(async () => {
  for (const o of operators) await o.stop();
  for (const s of scenarios) await s.cleanup();
});

describe('ShadowRun parity on the real testbed', () => {
  it('noise only, a declared deviation, reordered arrays: Passed; noise reported as noise; writes never replayed; credentials nowhere; the comparator and the operator restarted mid-run, the counts carry on', async () => {
    const s = await scenario('parity-ok',
      { noiseFields: ['requestId', 'servedAt'] },
      // The new service: its own noise, a score 2% higher on every answer, the tags reordered on a third.
      { noiseFields: ['requestId', 'servedAt'], mutations: [{ field: 'score', share: 1, factor: 1.02 }], reorderShare: 0.33 });
    const op = await operatorFor(s.ns);
    const ac = new AbortController();
    const reads = readLoad(s, 20, ac.signal);
    // Writes through the gateway: the legacy serves them (the user's request); nothing else may.
    const writes = runLoad({ url: testbed().gatewayUrl, host: s.host, path: '/listings/7', method: 'POST', body: '{"price": 1}', headers: { 'content-type': 'application/json', authorization: TOKEN }, rps: 5, durationMs: 600_000, signal: ac.signal, timeoutMs: 5000 });
    await kubectlOk(['apply', '--server-side', '-f', '-'], shadowRunYaml(s, 'listings', '60s', `    maxMismatchRatio: 0.02
    minCompared: 30
    endpoints: ['GET /listings/:id']
    deviations:
      - {path: $.score, relative: 0.05, reason: "v2 computes the score in float64; within 5% is the playbook's bar"}
      - {path: $.tags, sort: true, reason: "v2 returns tags in index order; the order carries no meaning"}`));
    // The comparator is a pod on the real node, from the operator image, behind the Service the mirror points at.
    const comparator = await eventually('status names the comparator', async () => (await run(s, 'listings')).status?.parity?.comparator, 60_000);
    const pod = await eventually('the comparator pod Ready', async () => {
      const l = await getJson<{ items: Array<{ spec: { nodeName?: string; containers: Array<{ image: string; command?: string[] }> }; status: { conditions?: Array<{ type: string; status: string }> } }> }>(['get', 'pods', '-n', s.ns, '-l', `cutover.dev/parity-run=listings`]);
      return l.items.find((p) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    }, 120_000);
    expect(pod.spec.nodeName).toBe(requireRealNode(testbed()).name);
    expect(pod.spec.containers[0]!.image).toBe(OPERATOR_IMAGE);
    expect(pod.spec.containers[0]!.command).toContain('dist/comparator-main.mjs');
    const route = await getJson<{ spec: { rules: Array<{ filters?: Array<{ type: string; requestMirror?: { backendRef: { name: string } } }> }> } }>(['get', 'httproute', 'listings', '-n', s.ns]);
    expect(route.spec.rules[0]!.filters?.find((f) => f.type === 'RequestMirror')?.requestMirror?.backendRef.name).toBe(comparator);

    // Mid-run the comparator pod is deleted (a node drain, an eviction) and the operator killed and
    // restarted: the new comparator reads its counts back from the summary ConfigMap, so the counts
    // the operator reports never go down, and the run carries on to the same verdict.
    const seen: number[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const c = (await run(s, 'listings').catch(() => undefined))?.status?.parity?.compared;
        if (c !== undefined) seen.push(c);
        await sleep(300);
      }
    })();
    const before = await eventually('20 requests compared', async () => {
      const c = (await run(s, 'listings')).status?.parity?.compared ?? 0;
      return c >= 20 ? c : undefined;
    }, 120_000, 300);
    const podsBefore = await getJson<{ items: Array<{ metadata: { name: string } }> }>(['get', 'pods', '-n', s.ns, '-l', 'cutover.dev/parity-run=listings']);
    await kubectlOk(['delete', 'pod', '-n', s.ns, '-l', 'cutover.dev/parity-run=listings', '--wait=false']);
    await op.kill9();
    await op.restart();
    const freshPod = await eventually('a new comparator pod counting on', async () => {
      const l = await getJson<{ items: Array<{ metadata: { name: string }; status: { conditions?: Array<{ type: string; status: string }> } }> }>(['get', 'pods', '-n', s.ns, '-l', 'cutover.dev/parity-run=listings']);
      const fresh = l.items.find((p) => !podsBefore.items.some((b) => b.metadata.name === p.metadata.name) && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      return fresh && ((await run(s, 'listings')).status?.parity?.compared ?? 0) > before + 10 ? fresh : undefined;
    }, 120_000, 500);

    const comparatorLog = await kubectlOk(['logs', freshPod.metadata.name, '-n', s.ns]);
    const done = await waitEnd(s, 'listings', 240_000);
    watching = false;
    await watcher;
    expect(seen.every((c, i) => i === 0 || c >= seen[i - 1]!), `compared over time: ${seen.join(' ')}`).toBe(true);
    ac.abort();
    const [readSummary, writeSummary] = await Promise.all([reads, writes]);
    expect(done.status?.phase, `${done.status?.message}\n${JSON.stringify(done.status?.parity)}\noperator log:\n${op.logText().slice(-3000)}`).toBe('Passed');
    expect(done.status?.verdict).toBe('Pass');
    const p = done.status!.parity!;
    expect(p.result).toBe('Pass');
    expect(p.compared).toBeGreaterThanOrEqual(30);
    expect(p.mismatched).toBe(0);
    expect(p.noiseCompared).toBeGreaterThan(0);
    expect(p.endpoints?.map((e) => e.endpoint)).toEqual(['GET /listings/:id']);
    // The POSTs: counted as skipped, never replayed. The legacy got exactly the users' POSTs; the new service none.
    expect(p.skipped?.find((x) => x.reason === 'method')?.count).toBeGreaterThan(0);
    const [legacyStats, newStats] = await Promise.all([backendStats(testbed(), s.ns, s.stable), backendStats(testbed(), s.ns, s.canary)]);
    expect(newStats.byMethod.POST ?? 0).toBe(0);
    expect(legacyStats.byMethod.POST).toBe(writeSummary.completed);
    expect(readSummary.byStatus['200']).toBe(readSummary.completed);
    // The mirror is gone and the comparator scaled to 0 (its pods gone); its summary stays for the report.
    const after = await getJson<{ spec: { rules: Array<{ filters?: Array<{ type: string }> }> } }>(['get', 'httproute', 'listings', '-n', s.ns]);
    expect(after.spec.rules[0]!.filters?.some((f) => f.type === 'RequestMirror') ?? false).toBe(false);
    const deployments = await getJson<{ items: Array<{ spec: { replicas: number } }> }>(['get', 'deployments', '-n', s.ns, '-l', 'cutover.dev/parity-run=listings']);
    expect(deployments.items.map((d) => d.spec.replicas)).toEqual([0]);
    await eventually('the comparator pod gone', async () => (await getJson<{ items: unknown[] }>(['get', 'pods', '-n', s.ns, '-l', 'cutover.dev/parity-run=listings'])).items.length === 0, 60_000);

    // The report: Go, the noise fields as noise, the declared deviations counted with their reasons.
    const json = await report(s.ns, 'listings', 'json');
    expect(json.code, json.out).toBe(0);
    const r = JSON.parse(json.out) as { decision: string; flows: Array<{ endpoint: string; compared: number; matchRate?: number }>; knownDeviations: Array<{ path: string; rule: string; reason: string; count: number }>; differingFields: Array<{ field: string; classification: string }> };
    expect(r.decision).toBe('Go');
    expect(r.flows).toEqual([expect.objectContaining({ endpoint: 'GET /listings/:id', matchRate: 1 })]);
    const noise = r.differingFields.filter((f) => f.classification === 'noise').map((f) => f.field).sort();
    expect(noise).toEqual(['$.requestId', '$.servedAt']);
    expect(r.differingFields.filter((f) => f.classification === 'real')).toEqual([]);
    const score = r.knownDeviations.find((d) => d.path === '$.score');
    expect(score).toMatchObject({ rule: 'relative', reason: expect.stringContaining('within 5%') as unknown as string });
    expect(score!.count).toBeGreaterThan(0);
    expect(r.knownDeviations.find((d) => d.path === '$.tags')?.count).toBeGreaterThan(0);
    const md = await report(s.ns, 'listings', 'md');
    expect(md.code, md.out).toBe(0);
    expect(md.out).toMatch(/\*\*Decision:\*\* \*\*Go\*\*/);
    expect(md.out).toContain('| `GET /listings/:id` |');

    // Credentials: forwarded to the services, never kept: not in status, the report, Events or the comparator's log.
    const events = await kubectlOk(['get', 'events.events.k8s.io', '-n', s.ns, '-o', 'json']);
    const cm = await kubectlOk(['get', 'configmap', comparator, '-n', s.ns, '-o', 'json']);
    const everything = [JSON.stringify(done), json.out, md.out, events, cm, (await report(s.ns, 'listings', 'text')).out, comparatorLog, op.logText()].join('\n');
    for (const secret of SECRETS) expect(everything).not.toContain(secret);
    expect(cm).toContain('[redacted]');
  });

  it('a price wrong on 10% of GET /listings/:id answers: Failed before the end; status and the report name the endpoint and the field, with samples', async () => {
    const s = await scenario('parity-price', { noiseFields: ['requestId'] }, { noiseFields: ['requestId'], mutations: [{ field: 'price', share: 0.1, factor: 1.1 }] });
    const op = await operatorFor(s.ns);
    const ac = new AbortController();
    const reads = readLoad(s, 25, ac.signal);
    await kubectlOk(['apply', '--server-side', '-f', '-'], shadowRunYaml(s, 'listings', '10m', `    maxMismatchRatio: 0.02
    minCompared: 40
    maxLegacyRps: 20`));
    const done = await waitEnd(s, 'listings', 300_000);
    ac.abort();
    await reads;
    expect(done.status?.phase, `${done.status?.message}\noperator log:\n${op.logText().slice(-3000)}`).toBe('Failed');
    expect(done.status?.verdict).toBe('Fail');
    expect(done.status?.message).toContain('$.price');
    const p = done.status!.parity!;
    expect(p.result).toBe('Fail');
    expect(p.reason).toContain('GET /listings/:id');
    expect(p.reason).toContain('$.price');
    expect(p.mismatched).toBeGreaterThan(0);
    // Roughly the share the new service gets wrong, as the comparator measured it (not an exact count).
    expect(p.mismatched / p.compared).toBeGreaterThan(0.02);
    expect(p.mismatched / p.compared).toBeLessThan(0.3);
    expect(p.samples?.length).toBeGreaterThan(0);
    expect(p.samples![0]!.path).toMatch(/^\/listings\/\d+$/);
    expect(p.samples![0]!.difference).toMatch(/\$\.price/);
    // An Event said so when the verdict turned.
    const ev = await getJson<{ items: Array<{ reason: string; note?: string; regarding: { name: string } }> }>(['get', 'events.events.k8s.io', '-n', s.ns]);
    expect(ev.items.filter((e) => e.regarding.name === 'listings' && e.reason === 'ParityVerdictChanged').map((e) => e.note).join('\n')).toMatch(/→ Fail/);

    const json = await report(s.ns, 'listings', 'json');
    expect(json.code, json.out).toBe(0);
    const r = JSON.parse(json.out) as { decision: string; reason: string; differingFields: Array<{ endpoint: string; field: string; classification: string; samples: Array<{ request: { path: string }; legacy: { body?: string }; candidate: { body?: string }; difference: string }> }> };
    expect(r.decision).toBe('No-Go');
    expect(r.reason).toContain('$.price');
    const price = r.differingFields.find((f) => f.field === '$.price');
    expect(price).toMatchObject({ endpoint: 'GET /listings/:id', classification: 'real' });
    expect(price!.samples.length).toBeGreaterThan(0);
    expect(price!.samples.length).toBeLessThanOrEqual(5);
    const sample = price!.samples[0]!;
    const legacy = JSON.parse(sample.legacy.body!) as { price: number };
    const next = JSON.parse(sample.candidate.body!) as { price: number };
    expect(next.price).not.toBe(legacy.price);
    expect(sample.difference).toContain(String(legacy.price));
    // The noisy request id is noise, not a finding.
    expect(r.differingFields.find((f) => f.field === '$.requestId')?.classification).toBe('noise');
  });

  it('a MigrationSlice whose shadow stage fails parity ends Failed before any traffic moved; the report names its owner', async () => {
    const s = await scenario('parity-slice', {}, { mutations: [{ field: 'price', share: 0.2, factor: 1.25 }] });
    await operatorFor(s.ns);
    await kubectlOk(['create', 'configmap', 'flags', '-n', s.ns, '--from-literal=listings-v2=false']);
    const ac = new AbortController();
    const reads = readLoad(s, 25, ac.signal);
    await kubectlOk(['apply', '--server-side', '-f', '-'], `apiVersion: cutover.dev/v1alpha1
kind: MigrationSlice
metadata: {name: listings, namespace: ${s.ns}}
spec:
  owner: team-listings
  rollbackPlan: flip listings-v2 off; the route goes back to the monolith at 100%
  legacy: {service: ${s.stable}, port: 8080}
  target: {service: ${s.canary}, port: 8080}
  route:
    httpRoute: {name: listings}
  featureFlag: {configMap: flags, key: listings-v2}
  shadow:
    percent: 100
    duration: 10m
    parity:
      maxMismatchRatio: 0.02
      minCompared: 30
      maxLegacyRps: 30
  shift:
    steps:
      - {weight: 50, pause: 5s}
      - {weight: 100, pause: 5s}
`);
    const done = await eventually('the slice ends', async () => {
      const x = await getJson<{ status?: { phase?: string; history?: Array<{ phase: string; reason?: string; message?: string }> } }>(['get', 'migrationslice', 'listings', '-n', s.ns]);
      return ['Completed', 'RolledBack', 'Failed'].includes(x.status?.phase ?? '') ? x : undefined;
    }, 300_000, 500);
    ac.abort();
    const summary = await reads;
    expect(done.status?.phase, JSON.stringify(done.status?.history)).toBe('Failed');
    expect(done.status?.history?.map((h) => h.phase)).toEqual(['Pending', 'Shadowing', 'Failed']);
    expect(summary.byStatus['200']).toBe(summary.completed);
    // No traffic moved: no TrafficShift was ever created, the route and the flag are where they were.
    expect((await kubectl(['get', 'trafficshift', 'listings-shift', '-n', s.ns])).code).not.toBe(0);
    expect(await s.routeWeights()).toEqual({ [s.stable]: 100, [s.canary]: 0 });
    expect((await getJson<{ data: Record<string, string> }>(['get', 'configmap', 'flags', '-n', s.ns])).data['listings-v2']).toBe('false');
    const shadow = await getJson<Run>(['get', 'shadowrun', 'listings-shadow', '-n', s.ns]);
    expect(shadow.status?.parity?.result).toBe('Fail');
    const md = await report(s.ns, 'listings', 'md');
    expect(md.code, md.out).toBe(0);
    expect(md.out).toContain('**Owner:** team-listings');
    expect(md.out).toContain('**Decision:** **No-Go**');
    expect(md.out).toContain('`$.price`');
  });

  it('legacy replays stay within maxLegacyRps under 200 mirrored requests/s; the rest is shed, not queued', async () => {
    const s = await scenario('parity-rps', {}, {});
    await operatorFor(s.ns);
    await kubectlOk(['apply', '--server-side', '-f', '-'], shadowRunYaml(s, 'listings', '10m', `    maxLegacyRps: 10
    minCompared: 10`));
    await eventually('the comparator pod Ready', async () => {
      const l = await getJson<{ items: Array<{ status: { conditions?: Array<{ type: string; status: string }> } }> }>(['get', 'pods', '-n', s.ns, '-l', 'cutover.dev/parity-run=listings']);
      return l.items.some((p) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    }, 120_000);
    const before = await backendStats(testbed(), s.ns, s.stable);
    const load = await runLoad({ url: testbed().gatewayUrl, host: s.host, pathFor: (n) => `/listings/${(n % 40) + 1}`, rps: 200, durationMs: 10_000, timeoutMs: 5000 });
    // Replays finish within the comparator's timeout (5 s): wait for the counts to settle.
    let after = await backendStats(testbed(), s.ns, s.stable);
    for (let i = 0; i < 20; i++) {
      await sleep(500);
      const again = await backendStats(testbed(), s.ns, s.stable);
      if ((again.parityReplays.GET ?? 0) === (after.parityReplays.GET ?? 0) && i > 4) break;
      after = again;
    }
    // Tokens are taken when a request arrives: replays still in flight when the load stops were paid
    // for during it (one second of slack for the gateway's last mirrored copies).
    const seconds = load.elapsedMs / 1000 + 1;
    const replays = (after.parityReplays.GET ?? 0) - (before.parityReplays.GET ?? 0);
    console.log(`200 rps for 10 s: ${load.completed} user answers, ${replays} legacy replays in ${seconds.toFixed(1)} s (maxLegacyRps 10)`);
    expect(load.completed).toBeGreaterThan(1000);
    expect(load.byStatus['200']).toBe(load.completed);
    expect(replays).toBeGreaterThan(0);
    // A full bucket (one second's worth) plus 10 per second while the load ran.
    expect(replays).toBeLessThanOrEqual(10 + 10 * seconds);
    const st = await eventually('the shed requests counted', async () => {
      const r = await run(s, 'listings');
      return (r.status?.parity?.skipped?.find((x) => x.reason === 'rate_limited')?.count ?? 0) > 500 ? r : undefined;
    }, 30_000, 500);
    expect(st.status?.parity?.compared).toBeGreaterThan(0);
    await kubectlOk(['annotate', 'shadowrun', 'listings', '-n', s.ns, `cutover.dev/abort=${Date.now()}`]);
  });

  it('the breaker pauses replays when the legacy\'s replays fail: ParityThrottled=True with the reason, replays skipped as breaker', async () => {
    const s = await scenario('parity-breaker', { errorRate: 0.5 }, {});
    await operatorFor(s.ns);
    const ac = new AbortController();
    const reads = readLoad(s, 20, ac.signal);
    await kubectlOk(['apply', '--server-side', '-f', '-'], shadowRunYaml(s, 'listings', '10m', `    maxLegacyRps: 50
    minCompared: 10`));
    const throttled = await eventually('ParityThrottled=True', async () => {
      const r = await getJson<Run & { status?: { conditions?: Array<{ type: string; status: string; reason: string; message: string }> } }>(['get', 'shadowrun', 'listings', '-n', s.ns]);
      const c = r.status?.conditions?.find((x) => x.type === 'ParityThrottled' && x.status === 'True');
      return c && (r.status?.parity?.skipped?.find((x) => x.reason === 'breaker')?.count ?? 0) > 0 ? { r, c } : undefined;
    }, 120_000, 500);
    ac.abort();
    await reads;
    expect(throttled.c.reason).toBe('LegacyProtected');
    expect(throttled.c.message).toMatch(/legacy replays failed/);
    expect((throttled.r.status?.parity as { breaker?: string } | undefined)?.breaker).toMatch(/legacy replays failed/);
    // The legacy's own 5xx are never held against the new service: skipped, not compared.
    expect(throttled.r.status?.parity?.skipped?.find((x) => x.reason === 'legacy_error')?.count).toBeGreaterThan(0);
    expect(throttled.r.status?.parity?.mismatched).toBe(0);
    await kubectlOk(['annotate', 'shadowrun', 'listings', '-n', s.ns, `cutover.dev/abort=${Date.now()}`]);
  });
});
