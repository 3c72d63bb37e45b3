// The chart's RBAC against the real API server (RBAC authoriser on): the chart is rendered with
// `helm template`, only its ServiceAccount and (Cluster)Roles/bindings are applied, and the operator
// runs as a process whose kubeconfig impersonates that ServiceAccount (`as:` in the kubeconfig).
//   - sufficient: it completes a TrafficShift with workers (deployments/scale), with leader election on
//     its own Lease, and a ShadowRun (the mirror check reads the route's Gateway and GatewayClass),
//     in cluster-wide mode and in namespaced mode (rbac.namespaced=true);
//   - least: the same identity is refused a Secret in another namespace and any write to a
//     Deployment other than through the scale subresource.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, getJson, kubectl, kubectlOk, testbed, uniqueName, type KubectlResult } from '../helpers/cluster.ts';
import { impersonatingKubeconfig, startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { createScenario, shiftYaml, waitPhase, type Scenario } from '../helpers/scenario.ts';
import { applyWorkers, deploymentReplicas, workersYaml } from '../helpers/workers.ts';
import { binaries, ensureBinaries, REPO_ROOT, VERSIONS } from '../testbed/paths.ts';
import { OPERATOR_IMAGE, REAL_NODE_LABEL, REAL_NODE_TAINT } from '../testbed/realnode.ts';

const CHART = join(REPO_ROOT, 'charts', 'cutover');
const RBAC_KINDS = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);

interface K8sObject { kind: string; metadata: { name: string; namespace?: string } }

function helmTemplate(release: string, namespace: string, sets: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(binaries.helm, ['template', release, CHART, '--namespace', namespace, '--kube-version', VERSIONS.kubernetes, ...sets.flatMap((s) => ['--set', s])],
      { maxBuffer: 64 << 20, cwd: REPO_ROOT }, (err, stdout, stderr) => (err ? reject(new Error(`helm template: ${stderr}`)) : resolve(stdout)));
  });
}

/** Renders the chart and applies only its ServiceAccount and RBAC (the Deployment is the process we start). */
async function installRbac(release: string, namespace: string, sets: string[] = []): Promise<K8sObject[]> {
  const rendered = (loadAll(await helmTemplate(release, namespace, sets)) as Array<K8sObject | null>).filter((o): o is K8sObject => o !== null && RBAC_KINDS.has(o.kind));
  await kubectlOk(['apply', '--server-side', '--field-manager=rbac-test', '-f', '-'], rendered.map((o) => `---\n${JSON.stringify(o)}\n`).join(''));
  return rendered;
}

/** kubectl with the impersonating kubeconfig: exactly the identity the operator runs as. */
function kubectlAs(kubeconfig: string, args: string[], input?: string): Promise<KubectlResult> {
  // The helper puts the admin kubeconfig first; a later --kubeconfig wins.
  return kubectl(['--kubeconfig', kubeconfig, ...args], input);
}

const info = () => testbed();
const operators: OperatorProcess[] = [];
const scenarios: Scenario[] = [];
const releases: Array<{ release: string; ns: string }> = [];

// Cluster-wide mode.
const cw = { release: uniqueName('rbac'), app: uniqueName('rbac-app'), other: uniqueName('rbac-other') };
const cwNs = `${cw.release}-system`;
const cwSa = `system:serviceaccount:${cwNs}:${cw.release}-cutover`;
// Namespaced mode.
const nsm = { release: uniqueName('rbacns'), app: uniqueName('rbacns-app') };
const nsmNs = `${nsm.release}-system`;
const nsmSa = `system:serviceaccount:${nsmNs}:${nsm.release}-cutover`;

let cwKubeconfig: string;

beforeAll(async () => {
  await ensureBinaries(['helm']);
  cwKubeconfig = impersonatingKubeconfig(info(), cwSa, join(info().dir, 'kubeconfigs', `${cw.release}.yaml`));
}, 900_000);

afterAll(async () => {
  for (const o of operators) await o.stop();
  for (const s of scenarios) await s.cleanup();
  for (const n of [cwNs, cw.other, nsmNs]) await kubectl(['delete', 'namespace', n, '--wait=false', '--ignore-not-found']);
  for (const r of releases) await kubectl(['delete', 'clusterrole,clusterrolebinding', '-l', `app.kubernetes.io/instance=${r.release}`, '--ignore-not-found']);
});

async function shiftWithWorkers(s: Scenario, kubeconfig: string, sa: string, leaseNs: string): Promise<void> {
  await applyWorkers(s.ns);
  const load = s.startLoad(40);
  const op = await startOperator(info(), {
    name: `rbac-${s.ns}`, kubeconfig, namespaces: [s.ns],
    // Leader election on too, so the release namespace's Role (the Lease) is exercised; and parity
    // comparators as the chart configures them (the testbed's image and node placement).
    extraArgs: ['--leader-elect=true', `--leader-election-namespace=${leaseNs}`, '--leader-election-id=cutover-leader',
      '--parity-image', OPERATOR_IMAGE, '--parity-image-pull-policy', 'Never', '--parity-pod-template', JSON.stringify({
        nodeSelector: { [REAL_NODE_LABEL.key]: REAL_NODE_LABEL.value },
        tolerations: [{ key: REAL_NODE_TAINT.key, operator: 'Equal', value: REAL_NODE_TAINT.value, effect: REAL_NODE_TAINT.effect }],
      })],
  });
  operators.push(op);
  await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'score', { steps: [[10, '3s'], [50, '3s'], [100, '3s']], extra: workersYaml }));
  const done = await waitPhase(s, 'score', ['Completed', 'RolledBack', 'Failed'], 180_000);
  await load.stop();
  expect(done.status?.phase, `operator log tail:\n${op.logText().slice(-4000)}`).toBe('Completed');
  expect(await s.routeWeights()).toEqual({ [s.stable]: 0, [s.canary]: 100 });
  expect(await deploymentReplicas(s.ns, 'score-worker')).toEqual({ spec: 3, ready: 3 });
  expect((await deploymentReplicas(s.ns, 'monolith-worker')).spec).toBe(0);
  // Status, Events and the Lease were all written by the impersonated ServiceAccount.
  const events = await getJson<{ items: Array<{ reason: string; regarding: { name: string } }> }>(['get', 'events.events.k8s.io', '-n', s.ns]);
  expect(events.items.filter((e) => e.regarding.name === 'score').map((e) => e.reason)).toContain('StepStarted');
  const lease = await getJson<{ spec: { holderIdentity?: string } }>(['get', 'lease', 'cutover-leader', '-n', leaseNs]);
  expect(lease.spec.holderIdentity).toBeTruthy();
  // A ShadowRun with parity too: before the mirror, the operator reads the route's Gateway and its
  // GatewayClass (cluster-wide get, the chart's -gateways ClusterRole); it creates the run's comparator
  // (Deployment, Service, ServiceAccount, Role, RoleBinding, ConfigMap: create only) and at the end
  // scales it to 0; the comparator itself writes its summary under its own one-ConfigMap Role.
  const shadowLoad = s.startLoad(20);
  await kubectlOk(['apply', '--server-side', '-f', '-'], `apiVersion: cutover.dev/v1alpha1
kind: ShadowRun
metadata: {name: shadow, namespace: ${s.ns}}
spec:
  route: {httpRoute: {name: listings}}
  primary: {service: ${s.stable}, port: 8080}
  shadow: {service: ${s.canary}, port: 8080}
  percent: 50
  duration: 15s
  parity:
    minCompared: 10
    deviations: [{path: $.service, ignore: true, reason: each testbed backend names itself}]
`);
  const run = await eventually(`ShadowRun ${s.ns}/shadow ends`, async () => {
    const r = await getJson<{ status?: { phase?: string; message?: string; parity?: { compared: number; result?: string }; conditions?: Array<{ type: string; status: string; reason: string; message: string }> } }>(['get', 'shadowrun', 'shadow', '-n', s.ns]);
    return ['Passed', 'Failed', 'Cancelled'].includes(r.status?.phase ?? '') ? r : undefined;
  }, 240_000, 250);
  await shadowLoad.stop();
  expect(run.status?.phase, `${run.status?.message} ${JSON.stringify(run.status?.conditions)}`).toBe('Passed');
  expect(run.status?.parity?.result).toBe('Pass');
  expect(run.status?.parity?.compared).toBeGreaterThanOrEqual(10);
  const comparators = await getJson<{ items: Array<{ spec: { replicas: number } }> }>(['get', 'deployments', '-n', s.ns, '-l', 'cutover.dev/parity-run=shadow']);
  expect(comparators.items.map((d) => d.spec.replicas)).toEqual([0]);
  const log = op.logText();
  // Nothing in the log says forbidden: every call it made was granted.
  expect(log).not.toMatch(/forbidden/i);
  expect(sa).toMatch(/^system:serviceaccount:/);
  await op.stop();
}

describe('chart RBAC is sufficient and least (the operator as the chart ServiceAccount)', () => {
  it('cluster-wide mode: the impersonated operator completes a TrafficShift with workers', async () => {
    releases.push({ release: cw.release, ns: cwNs });
    await kubectlOk(['create', 'namespace', cwNs]);
    const objs = await installRbac(cw.release, cwNs);
    expect(objs.map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRole', 'ClusterRoleBinding', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'ServiceAccount']);
    const who = await kubectlAs(cwKubeconfig, ['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']);
    expect(who.stdout).toBe(cwSa);
    const s = await createScenario({ prefix: 'rbac-app', ns: cw.app });
    scenarios.push(s);
    await shiftWithWorkers(s, cwKubeconfig, cwSa, cwNs);
  });

  it('least: refused a Secret in another namespace, and any Deployment write other than scale', async () => {
    await kubectlOk(['create', 'namespace', cw.other]);
    await kubectlOk(['create', 'secret', 'generic', 'db-password', '-n', cw.other, '--from-literal=password=hunter2']);
    await kubectlOk(['create', 'secret', 'generic', 'db-password', '-n', cw.app, '--from-literal=password=hunter2']);
    await kubectlOk(['create', 'secret', 'generic', 'github-token', '-n', cwNs, '--from-literal=token=t']);
    const refused = (r: KubectlResult) => r.code !== 0 && /forbidden/i.test(r.stderr);

    // Secrets: none in application namespaces; in its own namespace get by name, never list.
    const other = await kubectlAs(cwKubeconfig, ['get', 'secret', 'db-password', '-n', cw.other, '-o', 'name']);
    expect(refused(other), other.stderr).toBe(true);
    expect(other.stderr).toContain(`User "${cwSa}" cannot get resource "secrets"`);
    expect(refused(await kubectlAs(cwKubeconfig, ['get', 'secret', 'db-password', '-n', cw.app]))).toBe(true);
    expect(refused(await kubectlAs(cwKubeconfig, ['get', 'secrets', '-A']))).toBe(true);
    expect(refused(await kubectlAs(cwKubeconfig, ['get', 'secrets', '-n', cwNs]))).toBe(true);
    expect((await kubectlAs(cwKubeconfig, ['get', 'secret', 'github-token', '-n', cwNs, '-o', 'name'])).stdout.trim()).toBe('secret/github-token');

    // Deployments: the spec is out of reach (image, template, even replicas through the main resource) ...
    const image = await kubectlAs(cwKubeconfig, ['set', 'image', 'deployment/score-worker', `worker=example.invalid/evil:1`, '-n', cw.app]);
    expect(refused(image), image.stderr).toBe(true);
    expect(image.stderr).toContain(`cannot patch resource "deployments"`);
    const template = await kubectlAs(cwKubeconfig, ['patch', 'deployment', 'score-worker', '-n', cw.app, '--type=merge', '-p', '{"spec":{"template":{"metadata":{"labels":{"pwned":"1"}}}}}']);
    expect(refused(template), template.stderr).toBe(true);
    const replicasViaSpec = await kubectlAs(cwKubeconfig, ['patch', 'deployment', 'score-worker', '-n', cw.app, '--type=merge', '-p', '{"spec":{"replicas":5}}']);
    expect(refused(replicasViaSpec), replicasViaSpec.stderr).toBe(true);
    const apply = await kubectlAs(cwKubeconfig, ['apply', '--server-side', '--field-manager=cutover', '-f', '-'], JSON.stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'score-worker', namespace: cw.app }, spec: { paused: true } }));
    expect(refused(apply), apply.stderr).toBe(true);
    expect(refused(await kubectlAs(cwKubeconfig, ['delete', 'deployment', 'score-worker', '-n', cw.app, '--wait=false']))).toBe(true);
    const unchanged = await getJson<{ spec: { paused?: boolean; template: { metadata: { labels: Record<string, string> }; spec: { containers: Array<{ image: string }> } } } }>(['get', 'deployment', 'score-worker', '-n', cw.app]);
    expect(unchanged.spec.template.spec.containers[0]!.image).toBe('example.invalid/score-worker:1');
    expect(unchanged.spec.template.metadata.labels.pwned).toBeUndefined();
    expect(unchanged.spec.paused).toBeFalsy();
    // ... while the scale subresource (what the workers need) is granted.
    const scale = await kubectlAs(cwKubeconfig, ['scale', 'deployment/score-worker', '--replicas=4', '-n', cw.app]);
    expect(scale.code, scale.stderr).toBe(0);
    expect((await deploymentReplicas(cw.app, 'score-worker')).spec).toBe(4);

    // Gateways and GatewayClasses: read one by name (the mirror check), never list, never write.
    expect((await kubectlAs(cwKubeconfig, ['get', 'gatewayclass', 'cutover-testbed', '-o', 'name'])).stdout.trim()).toBe('gatewayclass.gateway.networking.k8s.io/cutover-testbed');
    expect(refused(await kubectlAs(cwKubeconfig, ['get', 'gatewayclasses']))).toBe(true);
    expect(refused(await kubectlAs(cwKubeconfig, ['get', 'gateways', '-A']))).toBe(true);
    expect(refused(await kubectlAs(cwKubeconfig, ['annotate', 'gatewayclass', 'cutover-testbed', 'cutover.dev/assume-mirror-support=true']))).toBe(true);
    expect(refused(await kubectlAs(cwKubeconfig, ['delete', 'gateway', 'testbed', '-n', 'cutover-testbed', '--wait=false']))).toBe(true);

    // Nor Pods, nor reading RBAC objects.
    expect(refused(await kubectlAs(cwKubeconfig, ['get', 'pods', '-n', cw.app]))).toBe(true);
    expect(refused(await kubectlAs(cwKubeconfig, ['get', 'rolebindings', '-n', cw.app]))).toBe(true);
    // Parity creates comparators (create only): it can neither change nor remove a Service, a Role or a binding.
    expect(refused(await kubectlAs(cwKubeconfig, ['delete', 'service', 'monolith', '-n', cw.app, '--wait=false']))).toBe(true);
    expect(refused(await kubectlAs(cwKubeconfig, ['patch', 'service', 'monolith', '-n', cw.app, '--type=merge', '-p', '{"spec":{"selector":{"x":"y"}}}']))).toBe(true);
    expect(refused(await kubectlAs(cwKubeconfig, ['delete', 'rolebinding', 'cutover-parity-shadow', '-n', cw.app, '--wait=false']))).toBe(true);
    expect(refused(await kubectlAs(cwKubeconfig, ['patch', 'role', 'cutover-parity-shadow', '-n', cw.app, '--type=json', '-p', '[{"op":"add","path":"/rules/-","value":{"apiGroups":[""],"resources":["secrets"],"verbs":["get"]}}]']))).toBe(true);
    // And it cannot grant what it does not hold (no escalate): a Role that reads Secrets is refused.
    const escalate = await kubectlAs(cwKubeconfig, ['create', 'role', 'steal', '-n', cw.app, '--verb=get', '--resource=secrets']);
    expect(refused(escalate), escalate.stderr).toBe(true);
  });

  it('namespaced mode (rbac.namespaced=true, one watched namespace): the operator with --namespaces completes a shift', async () => {
    releases.push({ release: nsm.release, ns: nsmNs });
    await kubectlOk(['create', 'namespace', nsmNs]);
    const s = await createScenario({ prefix: 'rbacns-app', ns: nsm.app });
    scenarios.push(s);
    const objs = await installRbac(nsm.release, nsmNs, ['rbac.namespaced=true', `watchNamespaces={${nsm.app}}`]);
    // Cluster-wide only the gateway reads (GatewayClasses are cluster-scoped).
    expect(objs.filter((o) => o.kind.startsWith('Cluster')).map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([`ClusterRole/${nsm.release}-cutover-gateways`, `ClusterRoleBinding/${nsm.release}-cutover-gateways`]);
    expect(objs.filter((o) => o.kind === 'Role').map((o) => o.metadata.namespace).sort()).toEqual([nsm.app, nsmNs].sort());
    const kubeconfig = impersonatingKubeconfig(info(), nsmSa, join(info().dir, 'kubeconfigs', `${nsm.release}.yaml`));
    // No grant outside the watched namespace.
    const elsewhere = await kubectlAs(kubeconfig, ['get', 'trafficshifts', '-n', cw.app]);
    expect(elsewhere.code).not.toBe(0);
    expect(elsewhere.stderr).toMatch(/forbidden/i);
    await shiftWithWorkers(s, kubeconfig, nsmSa, nsmNs);
  });
});
