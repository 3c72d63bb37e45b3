// The chart, installed with helm as the README's install section says, running on the testbed's real
// node — the proof that Cutover works as a user installs it:
//   - two operator replicas from the locally built image (the Dockerfile's content) under the chart's
//     ServiceAccount and RBAC; one holds the Lease; the chart's probes are the ones the kubelet runs;
//     /readyz answers through the chart's Service;
//   - a TrafficShift completes and another rolls back on a breach, driven only by the installed
//     operator; a ShadowRun with parity passes, its comparator made by the installed operator from
//     the chart's image and placement; the real Alertmanager calls the hook through the chart's Service with the token
//     from the chart's Secret and rolls a shift back at 100%;
//   - the leader's pod deleted mid-shift: the other replica takes over within the lease duration,
//     no step repeated; `helm upgrade` with a changed value mid-shift: no step repeated or skipped;
//     `helm uninstall` with a cutover in flight leaves the CRDs and the cutover where they are;
//   - the namespaced install acts only in its namespaces; a missing RBAC rule shows as Ready=False
//     Forbidden, Stalled, and a Warning Event.
// The only testbed-specific values are where the image comes from (no registry: imported into the
// node's containerd, pullPolicy Never) and the node placement (the real node's label and taint).
// Pods reach the API server through the `kubernetes` Service and Prometheus at the chart's default
// http://prometheus.monitoring:9090, through kube-proxy and the cluster DNS, as in any cluster.
import { execFile, spawn } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cutoverReceiverConfig } from '../helpers/alertmanager.ts';
import { eventually, getFresh, getJson, kubectl, kubectlOk, sleep, testbed, uniqueName } from '../helpers/cluster.ts';
import { createScenario, ERROR_RATE_QUERY, recordWeights, render, shiftYaml, waitPhase, type Scenario } from '../helpers/scenario.ts';
import { TESTBED_PARENT_REFS } from '../testbed/dataplane/gateway-class.ts';
import { binaries, ensureBinaries, REPO_ROOT } from '../testbed/paths.ts';
import { OPERATOR_IMAGE, REAL_NODE_LABEL, REAL_NODE_TAINT } from '../testbed/realnode.ts';
import { requireRealNode, setAlertmanagerConfig, setPrometheusRules } from '../testbed/testbed.ts';
import { setBackend } from '../testbed/backends.ts';
import { runLoad } from '../testbed/dataplane/load.ts';

const CHART = join(REPO_ROOT, 'charts', 'cutover');
// Short leader election so that a failover fits a test; values a user may set the same way.
const LEASE_S = 8;

function helm(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(binaries.helm, ['--kubeconfig', testbed().kubeconfig, ...args], { maxBuffer: 64 << 20, cwd: REPO_ROOT }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: stdout + stderr }));
  });
}

/** The values the testbed needs beyond the README's: the local image and the real node's placement. */
function testbedValues(): string[] {
  const [repository, tag] = OPERATOR_IMAGE.split(/:(?=[^:]+$)/);
  return [
    '--set', `image.repository=${repository}`, '--set', `image.tag=${tag}`, '--set', 'image.pullPolicy=Never',
    '--set', `nodeSelector.${REAL_NODE_LABEL.key.replace(/\./g, '\\.')}=${REAL_NODE_LABEL.value}`,
    '--set', `tolerations[0].key=${REAL_NODE_TAINT.key}`, '--set', 'tolerations[0].operator=Equal',
    '--set-string', `tolerations[0].value=${REAL_NODE_TAINT.value}`, '--set', `tolerations[0].effect=${REAL_NODE_TAINT.effect}`,
    '--set', `leaderElection.leaseDuration=${LEASE_S}s`, '--set', 'leaderElection.renewDeadline=5s', '--set', 'leaderElection.retryPeriod=1s',
  ];
}

interface Release { name: string; ns: string }

/** `helm install` as the README says (prometheusUrl as there), then `kubectl rollout status`. */
async function install(r: Release, extra: string[] = []): Promise<void> {
  const out = await helm(['install', r.name, CHART, '-n', r.ns, '--create-namespace',
    '--set', 'prometheusUrl=http://prometheus.monitoring:9090', ...testbedValues(), ...extra]);
  expect(out.code, out.out).toBe(0);
  await kubectlOk(['-n', r.ns, 'rollout', 'status', `deployment/${r.name}`, '--timeout=180s']);
}

async function uninstall(r: Release): Promise<void> {
  await helm(['uninstall', r.name, '-n', r.ns, '--wait', '--timeout=120s']);
  await kubectl(['delete', 'namespace', r.ns, '--wait=false', '--ignore-not-found']);
}

interface Pod {
  metadata: { name: string; labels?: Record<string, string> };
  spec: { nodeName?: string; serviceAccountName?: string; containers: Array<{ image: string; readinessProbe?: { httpGet?: { path: string } }; livenessProbe?: { httpGet?: { path: string } } }> };
  status: { phase?: string; podIP?: string; conditions?: Array<{ type: string; status: string }> };
}

async function readyPods(r: Release): Promise<Pod[]> {
  const l = await getJson<{ items: Pod[] }>(['get', 'pods', '-n', r.ns, '-l', `app.kubernetes.io/instance=${r.name},app.kubernetes.io/component=operator`]);
  return l.items.filter((p) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
}

interface LeaseSpec { holderIdentity?: string; renewTime?: string; acquireTime?: string }

async function readLease(r: Release): Promise<LeaseSpec | undefined> {
  return (await getJson<{ spec: LeaseSpec }>(['get', 'lease', 'cutover-leader', '-n', r.ns]).catch(() => undefined))?.spec;
}

async function leaseHolder(r: Release): Promise<string | undefined> {
  return (await readLease(r))?.holderIdentity || undefined;
}

/** Records every distinct (holder, renewTime) of the Lease until stopped. */
function recordLease(r: Release): { seen: LeaseSpec[]; stop: () => Promise<void> } {
  const seen: LeaseSpec[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const l = await readLease(r);
      const last = seen.at(-1);
      if (l && (l.holderIdentity !== last?.holderIdentity || l.renewTime !== last?.renewTime)) seen.push(l);
      await sleep(100);
    }
  })();
  return { seen, stop: async () => { running = false; await loop; } };
}

async function serviceUrl(r: Release): Promise<string> {
  const svc = await getJson<{ spec: { clusterIP: string; ports: Array<{ name: string; port: number }> } }>(['get', 'service', r.name, '-n', r.ns]);
  return `http://${svc.spec.clusterIP}:${svc.spec.ports.find((p) => p.name === 'http')!.port}`;
}

interface Ev { reason: string; type: string; note?: string; reportingInstance?: string; regarding: { name: string } }
async function events(ns: string, name: string, reason?: string): Promise<Ev[]> {
  const l = await getJson<{ items: Ev[] }>(['get', 'events.events.k8s.io', '-n', ns]);
  return l.items.filter((e) => e.regarding.name === name && (reason === undefined || e.reason === reason));
}

/** One StepStarted Event per step, each from a pod of the release (no other operator acted). */
async function expectEachStepOnce(s: Scenario, name: string, r: Release, steps: number): Promise<void> {
  const started = await events(s.ns, name, 'StepStarted');
  expect(started.map((e) => e.note).sort(), JSON.stringify(started.map((e) => [e.note, e.reportingInstance]))).toHaveLength(steps);
  expect(new Set(started.map((e) => e.note)).size).toBe(steps);
  for (const e of started) expect(e.reportingInstance ?? '').toMatch(new RegExp(`^${r.name}-`));
}

const nonDecreasing = (xs: number[]) => xs.every((x, i) => i === 0 || x >= xs[i - 1]!);

const scenarios: Scenario[] = [];
async function scenario(prefix: string): Promise<Scenario> {
  const s = await createScenario({ prefix });
  scenarios.push(s);
  return s;
}

beforeAll(async () => {
  requireRealNode(testbed());
  await ensureBinaries(['helm']);
}, 900_000);

afterAll(async () => {
  for (const s of scenarios) await s.cleanup();
});

describe('the chart installed cluster-wide on the real node', () => {
  const r: Release = { name: uniqueName('cutover'), ns: '' };
  r.ns = `${r.name}-system`;
  const ruleFiles: string[] = [];

  beforeAll(async () => { await install(r); }, 300_000);
  afterAll(async () => {
    for (const f of ruleFiles) await setPrometheusRules(testbed(), f, null);
    await uninstall(r);
    await kubectl(['delete', 'clusterrole,clusterrolebinding', '-l', `app.kubernetes.io/instance=${r.name}`, '--ignore-not-found']);
  }, 180_000);

  it('2 replicas Ready by the chart probes under its ServiceAccount, one holds the Lease, /readyz through the Service', async () => {
    const node = requireRealNode(testbed());
    const pods = await eventually('2 operator pods Ready', async () => { const p = await readyPods(r); return p.length === 2 ? p : undefined; }, 180_000);
    for (const p of pods) {
      expect(p.spec.nodeName).toBe(node.name);
      // The chart's ServiceAccount: the full name is the release name when it contains "cutover".
      expect(p.spec.serviceAccountName).toBe(r.name);
      expect(p.spec.containers[0]!.image).toBe(OPERATOR_IMAGE);
      // The probes the kubelet ran to make the pods Ready are the chart's.
      expect(p.spec.containers[0]!.readinessProbe?.httpGet?.path).toBe('/readyz');
      expect(p.spec.containers[0]!.livenessProbe?.httpGet?.path).toBe('/healthz');
    }
    const holder = await eventually('the Lease held by one of the pods', () => leaseHolder(r), 60_000);
    expect(pods.map((p) => p.metadata.name)).toContain(holder);
    // Through the chart's Service (its ClusterIP, kube-proxy), as a client in the cluster would. The
    // pods just turned Ready: kube-proxy writes their endpoints a moment later (until then the
    // ClusterIP refuses), so this waits for the first answer, each try bounded, and says what it saw.
    const url = `${await serviceUrl(r)}/readyz`;
    // Each try on a fresh connection (getFresh): one made before kube-proxy's rule leaves by the
    // default route, and a pooled connection would keep talking to whatever answered there.
    const status = await eventually('/readyz through the Service', async () => {
      const res = await getFresh(url, 2_000);
      if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.body.slice(0, 200)}`);
      return res.status;
    }, 60_000);
    expect(status).toBe(200);
    const d = await getJson<{ status: { availableReplicas?: number } }>(['get', 'deployment', r.name, '-n', r.ns]);
    expect(d.status.availableReplicas).toBe(2);
  });

  it('a TrafficShift completes, driven only by the installed operator, each step once', async () => {
    const s = await scenario('chart-ok');
    const load = s.startLoad(30);
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'listings-read', { steps: [[10, '3s'], [50, '3s'], [100, '3s']] }));
    const done = await waitPhase(s, 'listings-read', ['Completed', 'RolledBack', 'Failed'], 180_000);
    await load.stop();
    expect(done.status?.phase).toBe('Completed');
    expect(await s.routeWeights()).toEqual({ [s.stable]: 0, [s.canary]: 100 });
    await expectEachStepOnce(s, 'listings-read', r, 3);
  });

  it('a breach of the error-rate threshold rolls a TrafficShift back', async () => {
    const s = await scenario('chart-breach');
    const load = s.startLoad(30);
    await s.setCanary({ errorRate: 0.5 });
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'listings-read', { steps: [[10, '20s'], [50, '20s'], [100, '20s']], failureLimit: 1 }));
    const done = await waitPhase(s, 'listings-read', ['Completed', 'RolledBack', 'Failed'], 180_000);
    await load.stop();
    expect(done.status?.phase).toBe('RolledBack');
    expect(done.status?.rollback?.trigger).toBe('Metric');
    expect(await s.routeWeights()).toEqual({ [s.stable]: 100, [s.canary]: 0 });
    expect((await events(s.ns, 'listings-read', 'RolledBack')).every((e) => (e.reportingInstance ?? '').startsWith(`${r.name}-`))).toBe(true);
  });

  it('the real Alertmanager calls the hook through the chart Service with the chart Secret token: rollback at 100%', async () => {
    const s = await scenario('chart-alert');
    const secret = await getJson<{ data: Record<string, string> }>(['get', 'secret', `${r.name}-hooks`, '-n', r.ns]);
    const token = Buffer.from(secret.data['alertmanager-token']!, 'base64').toString('utf8');
    expect(token.length).toBeGreaterThan(16);
    const alert = `ChartCanaryErrors${s.ns.replace(/[^a-zA-Z0-9]/g, '')}`;
    await setAlertmanagerConfig(testbed(), cutoverReceiverConfig(`${await serviceUrl(r)}/hooks/alertmanager`, token));
    const load = s.startLoad(30);
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'listings-read', {
      // A lenient metric, so that only the alert can roll back (the trigger must be Alert).
      steps: [[50, '2s'], [100, '5m']], interval: '2s',
      metrics: `      - name: error-rate\n        prometheus:\n          query: '${ERROR_RATE_QUERY}'\n        max: 0.99`,
      extra: `  rollback:\n    alerts:\n      - matchLabels: {namespace: ${s.ns}, service: ${s.canary}}`,
    }));
    await eventually('the shift at 100%', async () => (await s.shift('listings-read')).status?.currentWeight === 100, 120_000, 250);
    // Errors begin only now: the alert fires while the shift pauses at 100%.
    await s.setCanary({ errorRate: 0.6 });
    const file = `chart-${s.ns}`;
    ruleFiles.push(file);
    await setPrometheusRules(testbed(), file, `groups:
  - name: ${file}
    interval: 1s
    rules:
      - alert: ${alert}
        expr: ${JSON.stringify(`${render(ERROR_RATE_QUERY, { namespace: s.ns, 'canary.service': s.canary })} > 0.2`)}
        labels: {namespace: ${s.ns}, service: ${s.canary}}
`);
    const done = await waitPhase(s, 'listings-read', ['RolledBack', 'Failed', 'Completed'], 120_000);
    await load.stop();
    expect(done.status?.phase).toBe('RolledBack');
    expect(done.status?.rollback?.trigger).toBe('Alert');
    expect(await s.routeWeights()).toEqual({ [s.stable]: 100, [s.canary]: 0 });
  });

  it('a ShadowRun with parity: the installed operator runs its comparator from the chart image with the chart placement; Passed', async () => {
    const s = await scenario('chart-parity');
    for (const svc of [s.stable, s.canary]) await setBackend(testbed(), s.ns, svc, { listing: true, noiseFields: ['requestId'] });
    const ac = new AbortController();
    const load = runLoad({ url: testbed().gatewayUrl, host: s.host, pathFor: (n) => `/listings/${(n % 20) + 1}`, rps: 20, durationMs: 300_000, signal: ac.signal, timeoutMs: 5000 });
    await kubectlOk(['apply', '--server-side', '-f', '-'], `apiVersion: cutover.dev/v1alpha1
kind: ShadowRun
metadata: {name: listings, namespace: ${s.ns}}
spec:
  route: {httpRoute: {name: listings}}
  primary: {service: ${s.stable}, port: 8080}
  shadow: {service: ${s.canary}, port: 8080}
  percent: 100
  duration: 20s
  parity: {minCompared: 20}
`);
    const done = await eventually('the ShadowRun ends', async () => {
      const r = await getJson<{ status?: { phase?: string; message?: string; parity?: { compared: number; result?: string } } }>(['get', 'shadowrun', 'listings', '-n', s.ns]);
      return ['Passed', 'Failed', 'Cancelled'].includes(r.status?.phase ?? '') ? r : undefined;
    }, 240_000, 500);
    ac.abort();
    await load;
    expect(done.status?.phase, done.status?.message).toBe('Passed');
    expect(done.status?.parity).toMatchObject({ result: 'Pass' });
    expect(done.status?.parity?.compared).toBeGreaterThanOrEqual(20);
    // The comparator the chart's operator made: the chart's image, pull policy and node placement.
    const d = await getJson<{ items: Array<{ spec: { replicas: number; template: { spec: { nodeSelector?: Record<string, string>; containers: Array<{ image: string; imagePullPolicy: string }> } } } }> }>(['get', 'deployments', '-n', s.ns, '-l', 'cutover.dev/parity-run=listings']);
    expect(d.items).toHaveLength(1);
    expect(d.items[0]!.spec.replicas).toBe(0);
    expect(d.items[0]!.spec.template.spec.containers[0]).toMatchObject({ image: OPERATOR_IMAGE, imagePullPolicy: 'Never' });
    expect(d.items[0]!.spec.template.spec.nodeSelector).toEqual({ [REAL_NODE_LABEL.key]: REAL_NODE_LABEL.value });
  });

  it('the leader pod deleted mid-shift: the other replica takes over within the lease duration, no step repeated', async () => {
    const s = await scenario('chart-failover');
    const load = s.startLoad(30);
    const rec = recordWeights(s);
    await rec.ready;
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'listings-read', { steps: [[10, '3s'], [50, '20s'], [100, '3s']] }));
    await eventually('step 2 (weight 50)', async () => (await s.shift('listings-read')).status?.currentWeight === 50, 120_000, 200);
    const leader = (await leaseHolder(r))!;
    const others = (await readyPods(r)).map((p) => p.metadata.name).filter((n) => n !== leader);
    expect(others).toHaveLength(1);
    const lease = recordLease(r);
    await eventually('a renewal by the leader recorded', async () => lease.seen.some((l) => l.holderIdentity === leader), 10_000, 100);
    // As a user or a node drain would: a normal delete (SIGTERM, the grace period of the chart).
    await kubectlOk(['delete', 'pod', leader, '-n', r.ns, '--wait=false']);
    await eventually(`${others[0]} holds the Lease`, async () => lease.seen.some((l) => l.holderIdentity === others[0]), (LEASE_S + 20) * 1000, 100);
    await lease.stop();
    // The Lease's own stamps, not the test's clock: the other replica acquired it within a lease
    // duration of the deleted leader's last renewal (sooner when the leader released it on SIGTERM).
    const lastRenewByLeader = Date.parse(lease.seen.filter((l) => l.holderIdentity === leader).at(-1)!.renewTime!);
    const acquiredByOther = Date.parse(lease.seen.find((l) => l.holderIdentity === others[0])!.acquireTime!);
    console.log(`leader pod deleted → the other replica acquired the Lease ${acquiredByOther - lastRenewByLeader} ms after the leader's last renewal (lease ${LEASE_S} s)`);
    expect(acquiredByOther - lastRenewByLeader).toBeLessThan(2 * LEASE_S * 1000);
    const done = await waitPhase(s, 'listings-read', ['Completed', 'RolledBack', 'Failed'], 180_000);
    await rec.stop();
    await load.stop();
    expect(done.status?.phase).toBe('Completed');
    expect(nonDecreasing(rec.changes.map((c) => c.weight))).toBe(true);
    await expectEachStepOnce(s, 'listings-read', r, 3);
    // The Deployment replaced the deleted pod.
    await eventually('2 replicas Ready again', async () => (await readyPods(r)).length === 2, 120_000);
  });

  it('helm upgrade with a changed value mid-shift: the pods roll, no step repeated or skipped', async () => {
    const s = await scenario('chart-upgrade');
    const load = s.startLoad(30);
    const rec = recordWeights(s);
    await rec.ready;
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'listings-read', { steps: [[10, '3s'], [50, '20s'], [100, '3s']] }));
    await eventually('step 2 (weight 50)', async () => (await s.shift('listings-read')).status?.currentWeight === 50, 120_000, 200);
    const before = (await readyPods(r)).map((p) => p.metadata.name);
    const up = await helm(['upgrade', r.name, CHART, '-n', r.ns, '--reuse-values', '--set', 'logLevel=debug']);
    expect(up.code, up.out).toBe(0);
    await kubectlOk(['-n', r.ns, 'rollout', 'status', `deployment/${r.name}`, '--timeout=180s']);
    const done = await waitPhase(s, 'listings-read', ['Completed', 'RolledBack', 'Failed'], 180_000);
    await rec.stop();
    await load.stop();
    expect(done.status?.phase).toBe('Completed');
    expect(rec.changes.map((c) => c.weight)).toEqual([0, 10, 50, 100]);
    await expectEachStepOnce(s, 'listings-read', r, 3);
    const after = (await readyPods(r)).map((p) => p.metadata.name);
    expect(after.filter((n) => before.includes(n))).toEqual([]);
    const d = await getJson<{ spec: { template: { spec: { containers: Array<{ args?: string[] }> } } } }>(['get', 'deployment', r.name, '-n', r.ns]);
    expect(d.spec.template.spec.containers[0]!.args).toContain('--log-level=debug');
  });

  it('the in-cluster dashboard (dashboard.enabled): its own read-only ServiceAccount; through kubectl port-forward the page and the overview answer, an action is refused, nothing written', async () => {
    const node = requireRealNode(testbed());
    const up = await helm(['upgrade', r.name, CHART, '-n', r.ns, '--reuse-values', '--set', 'dashboard.enabled=true']);
    expect(up.code, up.out).toBe(0);
    const name = `${r.name}-dashboard`;
    await kubectlOk(['-n', r.ns, 'rollout', 'status', `deployment/${name}`, '--timeout=180s']);
    const [pod] = (await getJson<{ items: Pod[] }>(['get', 'pods', '-n', r.ns, '-l', `app.kubernetes.io/instance=${r.name},app.kubernetes.io/component=dashboard`])).items.filter((p) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    expect(pod?.spec.nodeName).toBe(node.name);
    expect(pod?.spec.serviceAccountName).toBe(name);
    // Its ServiceAccount reads the three kinds, Events and routes everywhere, and may write nothing.
    const as = `system:serviceaccount:${r.ns}:${name}`;
    const can = async (...args: string[]) => (await kubectl(['auth', 'can-i', ...args, '--as', as])).stdout.trim();
    expect(await can('list', 'trafficshifts.cutover.dev', '--all-namespaces')).toBe('yes');
    expect(await can('watch', 'httproutes.gateway.networking.k8s.io', '--all-namespaces')).toBe('yes');
    expect(await can('list', 'events', '--all-namespaces')).toBe('yes');
    for (const verb of ['patch', 'update', 'create', 'delete']) expect(await can(verb, 'trafficshifts.cutover.dev', '-n', scenarios[0]!.ns), verb).toBe('no');
    expect(await can('get', 'secrets', '-n', r.ns)).toBe('no');
    const pf = await portForward(r.ns, name, 3100);
    try {
      const page = await fetch(pf.url);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('<div id="app">');
      const token = /<meta name="cutover-token" content="([\w-]+)">/.exec(html)![1]!;
      expect((await fetch(`${pf.url}assets/app.js`)).status).toBe(200);
      // The overview stream: read-only, every namespace, and the shifts the tests above ran, with their phase.
      const hello = await firstEvent<{ readOnly: boolean; scopes: Array<{ kind: string; allNamespaces: boolean; error?: string }> }>(`${pf.url}api/stream`, 'hello');
      expect(hello.readOnly).toBe(true);
      expect(hello.scopes.map((x) => [x.kind, x.allNamespaces, x.error ?? ''])).toEqual([['TrafficShift', true, ''], ['ShadowRun', true, ''], ['MigrationSlice', true, '']]);
      const snapshot = await firstEvent<{ rows: Array<{ key: string; phase: string }> }>(`${pf.url}api/stream`, 'snapshot');
      const shifts = (await getJson<{ items: Array<{ metadata: { namespace: string; name: string }; status?: { phase?: string } }> }>(['get', 'trafficshifts', '-A'])).items
        .filter((t) => scenarios.some((x) => x.ns === t.metadata.namespace));
      expect(shifts.length).toBeGreaterThanOrEqual(3);
      for (const t of shifts) {
        const row = snapshot.rows.find((x) => x.key === `TrafficShift/${t.metadata.namespace}/${t.metadata.name}`);
        expect(row, `${t.metadata.namespace}/${t.metadata.name} on the overview`).toBeDefined();
        if (['Completed', 'RolledBack'].includes(t.status?.phase ?? '')) expect(row!.phase).toBe(t.status!.phase);
      }
      // An action, even with the page's own token: refused (read-only), and nothing is written.
      const target = shifts[0]!;
      type Meta = { metadata: { generation: number; annotations?: Record<string, string> } };
      const before = await getJson<Meta>(['get', 'trafficshift', target.metadata.name, '-n', target.metadata.namespace]);
      const body = JSON.stringify({ kind: 'TrafficShift', namespace: target.metadata.namespace, name: target.metadata.name, action: 'Retry' });
      const refused = await fetch(`${pf.url}api/action`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Cutover-Token': token }, body });
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as { error: string }).error).toContain('read-only');
      const after = await getJson<Meta>(['get', 'trafficshift', target.metadata.name, '-n', target.metadata.namespace]);
      expect(after.metadata.annotations).toEqual(before.metadata.annotations);
      expect(after.metadata.generation).toBe(before.metadata.generation);
      // Only a loopback Host is answered (a page elsewhere cannot reach it by DNS rebinding).
      const rebound = await new Promise<number>((resolve, reject) => {
        const u = new URL(pf.url);
        const req = request({ host: '127.0.0.1', port: u.port, path: '/api/stream', headers: { host: `evil.example:${u.port}` } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
        req.on('error', reject);
        req.end();
      });
      expect(rebound).toBe(403);
    } finally {
      pf.stop();
    }
  });
});

/** `kubectl port-forward` to a Service as a user runs it; resolves the local URL and a stop function. */
async function portForward(ns: string, service: string, port: number): Promise<{ url: string; stop: () => void }> {
  const child = spawn('kubectl', ['--kubeconfig', testbed().kubeconfig, '-n', ns, 'port-forward', `svc/${service}`, `:${port}`], { env: { ...process.env, PATH: `${testbed().binDir}:${process.env.PATH ?? ''}` } });
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
  const local = await eventually(`kubectl port-forward svc/${service} (output: ${out})`, async () => {
    if (child.exitCode !== null) throw new Error(`kubectl port-forward exited ${child.exitCode}: ${out}`);
    return /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out)?.[1];
  }, 60_000, 100);
  return { url: `http://127.0.0.1:${local}/`, stop: () => { child.kill(); } };
}

/** The first `event` of a dashboard's server-sent-event stream, parsed. */
async function firstEvent<T>(url: string, event: string, headers: Record<string, string> = {}): Promise<T> {
  const ac = new AbortController();
  const res = await fetch(url, { signal: ac.signal, headers });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended before a ${event} event: ${buf.slice(0, 500)}`);
      buf += decoder.decode(value, { stream: true });
      const m = new RegExp(`event: ${event}\ndata: (.*)\n\n`).exec(buf);
      if (m) return JSON.parse(m[1]!) as T;
    }
  } finally {
    ac.abort();
  }
}

describe('helm uninstall with a cutover in flight', () => {
  const r: Release = { name: uniqueName('cutover'), ns: '' };
  r.ns = `${r.name}-system`;
  beforeAll(async () => { await install(r, ['--set', 'replicaCount=1']); }, 300_000);
  afterAll(async () => {
    await uninstall(r);
    await kubectl(['delete', 'clusterrole,clusterrolebinding', '-l', `app.kubernetes.io/instance=${r.name}`, '--ignore-not-found']);
  }, 180_000);

  it('as the README says: the CRDs and the TrafficShift stay, the route stays where the shift left it', async () => {
    const s = await scenario('chart-uninstall');
    const load = s.startLoad(30);
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'listings-read', { steps: [[10, '3s'], [50, '5m'], [100, '3s']] }));
    await eventually('step 2 (weight 50)', async () => (await s.shift('listings-read')).status?.currentWeight === 50, 120_000, 200);
    const out = await helm(['uninstall', r.name, '-n', r.ns, '--wait', '--timeout=120s']);
    expect(out.code, out.out).toBe(0);
    await load.stop();
    await eventually('the operator pods gone', async () => (await getJson<{ items: unknown[] }>(['get', 'pods', '-n', r.ns, '-l', `app.kubernetes.io/instance=${r.name}`])).items.length === 0, 120_000);
    await kubectlOk(['get', 'crd', 'trafficshifts.cutover.dev', 'shadowruns.cutover.dev', 'migrationslices.cutover.dev']);
    const ts = await s.shift('listings-read');
    expect(ts.status?.phase).toBe('Progressing');
    expect(ts.status?.currentWeight).toBe(50);
    expect(await s.routeWeights()).toEqual({ [s.stable]: 50, [s.canary]: 50 });
  });
});

describe('the namespaced install', () => {
  const r: Release = { name: uniqueName('cutover'), ns: '' };
  r.ns = `${r.name}-system`;
  const mine: Scenario[] = [];
  beforeAll(async () => {
    mine.push(await scenario('chart-ns-in'), await scenario('chart-ns-out'));
    await install(r, ['--set', 'rbac.namespaced=true', '--set', `watchNamespaces={${mine[0]!.ns}}`, '--set', 'replicaCount=1']);
  }, 300_000);
  afterAll(async () => {
    await uninstall(r);
    await kubectl(['delete', 'clusterrole,clusterrolebinding', '-l', `app.kubernetes.io/instance=${r.name}`, '--ignore-not-found']);
  }, 180_000);

  it('acts only in its namespaces', async () => {
    const [inside, outside] = mine as [Scenario, Scenario];
    const loads = [inside.startLoad(30), outside.startLoad(30)];
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(outside, 'listings-read', { steps: [[10, '2s'], [100, '2s']] }));
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(inside, 'listings-read', { steps: [[10, '2s'], [100, '2s']] }));
    const done = await waitPhase(inside, 'listings-read', ['Completed', 'RolledBack', 'Failed'], 180_000);
    for (const l of loads) await l.stop();
    expect(done.status?.phase).toBe('Completed');
    // By then the outside shift, applied first, would have had a status from an operator that saw it.
    expect((await outside.shift('listings-read')).status).toBeUndefined();
    expect(await outside.routeWeights()).toEqual({ [outside.stable]: 100, [outside.canary]: 0 });
    expect(await events(outside.ns, 'listings-read')).toEqual([]);
  });

  it('a missing RBAC rule (no patch on HTTPRoutes): Ready=False Forbidden, Stalled, one Warning Event; the route unchanged', async () => {
    const s = mine[0]!;
    const role = await getJson<{ rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }> }>(['get', 'role', r.name, '-n', s.ns]);
    const rules = role.rules.map((x) => (x.resources.includes('httproutes') ? { ...x, verbs: x.verbs.filter((v) => v !== 'patch') } : x));
    await kubectlOk(['patch', 'role', r.name, '-n', s.ns, '--type=merge', '-p', JSON.stringify({ rules })]);
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'listings-write', { steps: [[10, '2s'], [100, '2s']] }).replace('httpRoute: {name: listings}', 'httpRoute: {name: listings-write}'));
    await kubectlOk(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: listings-write, namespace: ${s.ns}}
spec:
  parentRefs: ${TESTBED_PARENT_REFS}
  hostnames: [write.${s.ns}.test]
  rules:
    - backendRefs:
        - {name: ${s.stable}, port: 8080, weight: 100}
        - {name: ${s.canary}, port: 8080, weight: 0}
`);
    const ts = await eventually('Ready=False Forbidden', async () => {
      const t = await s.shift('listings-write');
      return t.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'False' && c.reason === 'Forbidden') ? t : undefined;
    }, 120_000);
    const cond = (type: string) => ts.status?.conditions?.find((c) => c.type === type);
    expect(cond('Stalled')).toMatchObject({ status: 'True', reason: 'Forbidden' });
    expect(cond('Ready')!.message).toMatch(/httproutes/);
    await sleep(3000); // retries meanwhile: still one Event (it counts, it does not repeat)
    const warnings = (await events(s.ns, 'listings-write', 'Forbidden')).filter((e) => e.type === 'Warning');
    expect(warnings).toHaveLength(1);
    const route = await getJson<{ spec: { rules: Array<{ backendRefs: Array<{ name: string; weight: number }> }> } }>(['get', 'httproute', 'listings-write', '-n', s.ns]);
    expect(Object.fromEntries(route.spec.rules[0]!.backendRefs.map((b) => [b.name, b.weight]))).toEqual({ [s.stable]: 100, [s.canary]: 0 });
  });
});
