// The Helm chart against the testbed's real API server: helm lint, helm template (default and
// namespaced mode), the render applied with `kubectl apply --server-side`, the Deployment rolled out on
// KWOK nodes, the RBAC it grants checked with `kubectl auth can-i` as the chart's ServiceAccount, and
// values.schema.json refusing a bad value.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectl, kubectlOk, uniqueName } from '../helpers/cluster.ts';
import { binaries, ensureBinaries, REPO_ROOT, VERSIONS } from '../testbed/paths.ts';

const CHART = join(REPO_ROOT, 'charts', 'cutover');

interface Run { code: number; stdout: string; stderr: string }
function helm(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(binaries.helm, args, { maxBuffer: 64 << 20, cwd: REPO_ROOT }, (err, stdout, stderr) => {
      resolve({ code: err ? 1 : 0, stdout, stderr });
    });
  });
}
/** `helm template` for the testbed's Kubernetes version (a `go install`ed helm defaults to v1.20). */
async function render(release: string, namespace: string, sets: string[] = [], extra: string[] = []): Promise<string> {
  const r = await helm(['template', release, CHART, '--namespace', namespace, '--kube-version', VERSIONS.kubernetes, ...extra, ...sets.flatMap((s) => ['--set', s])]);
  if (r.code !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return r.stdout;
}

interface K8sObject { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown }
interface Rule { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }
const objects = (yaml: string) => (loadAll(yaml) as Array<K8sObject | null>).filter((o): o is K8sObject => o !== null);
const find = (objs: K8sObject[], kind: string) => objs.filter((o) => o.kind === kind);

/** The one gateway rule: get on gateways and gatewayclasses, bound to the chart's ServiceAccount. */
function expectGatewayReadOnly(objs: K8sObject[], rel: string): void {
  const role = find(objs, 'ClusterRole').find((r) => r.metadata.name === `${rel}-cutover-gateways`) as unknown as { rules: Rule[] } | undefined;
  expect(role?.rules).toEqual([{ apiGroups: ['gateway.networking.k8s.io'], resources: ['gateways', 'gatewayclasses'], verbs: ['get'] }]);
  const binding = find(objs, 'ClusterRoleBinding').find((r) => r.metadata.name === `${rel}-cutover-gateways`) as unknown as { roleRef: { name: string }; subjects: Array<{ name: string }> } | undefined;
  expect(binding?.roleRef.name).toBe(`${rel}-cutover-gateways`);
  expect(binding?.subjects.map((x) => x.name)).toEqual([`${rel}-cutover`]);
}

const release = uniqueName('chart');
const ns = `${release}-system`;
const nsRelease = uniqueName('chartns');
const nsNamespace = `${nsRelease}-system`;
const watched = [`${nsRelease}-shop`, `${nsRelease}-pay`];
const sa = (namespace: string, rel: string) => `system:serviceaccount:${namespace}:${rel}-cutover`;

beforeAll(async () => {
  await ensureBinaries(['helm']);
}, 900_000);

afterAll(async () => {
  for (const n of [ns, nsNamespace, ...watched]) await kubectl(['delete', 'namespace', n, '--wait=false', '--ignore-not-found']);
  for (const rel of [release, nsRelease]) {
    await kubectl(['delete', 'clusterrole,clusterrolebinding', '-l', `app.kubernetes.io/instance=${rel}`, '--ignore-not-found']);
  }
});

describe('helm chart charts/cutover', () => {
  it('passes helm lint --strict, with every optional part on too', async () => {
    const plain = await helm(['lint', '--strict', '--kube-version', VERSIONS.kubernetes, CHART]);
    expect(plain.stdout + plain.stderr).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(plain.code).toBe(0);
    const all = await helm(['lint', '--strict', '--kube-version', VERSIONS.kubernetes, CHART,
      '--set', 'rbac.namespaced=true', '--set', 'watchNamespaces={a,b}', '--set', 'metrics.serviceMonitor.enabled=true',
      '--set', 'metrics.prometheusRule.enabled=true', '--set', 'dashboards.enabled=true', '--set', 'networkPolicy.enabled=true']);
    expect(all.code, all.stdout + all.stderr).toBe(0);
  });

  it("ships the repository's crds/ unchanged (run charts/cutover/sync-crds.sh after npm run gen:crds)", () => {
    const repo = readdirSync(join(REPO_ROOT, 'crds')).filter((f) => f.endsWith('.yaml')).sort();
    const chart = readdirSync(join(CHART, 'crds')).filter((f) => f.endsWith('.yaml')).sort();
    expect(chart).toEqual(repo);
    expect(repo.length).toBe(3);
    for (const f of repo) {
      expect(readFileSync(join(CHART, 'crds', f), 'utf8'), `charts/cutover/crds/${f} differs from crds/${f}`).toBe(readFileSync(join(REPO_ROOT, 'crds', f), 'utf8'));
    }
  });

  it('renders the default values: hardened Deployment with leader election, cluster-wide RBAC, no write on deployments', async () => {
    const objs = objects(await render(release, ns));
    expect(objs.map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRole', 'ClusterRoleBinding', 'ClusterRoleBinding', 'Deployment', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'Secret', 'Service', 'ServiceAccount']);
    const deploy = find(objs, 'Deployment')[0] as unknown as { spec: { replicas: number; template: { spec: {
      securityContext: Record<string, unknown>;
      containers: Array<{ image: string; args: string[]; securityContext: Record<string, unknown>; livenessProbe: { httpGet: { path: string } }; readinessProbe: { httpGet: { path: string } }; resources: { requests: object; limits: object }; env: Array<{ name: string }> }> } } } };
    expect(deploy.spec.replicas).toBe(2);
    const c = deploy.spec.template.spec.containers[0]!;
    // No `command`: the image's ENTRYPOINT runs, with the operator's Node flags (packaging/node-flags.test.ts).
    expect(c).not.toHaveProperty('command');
    expect(c.args).toContain('--leader-elect=true');
    expect(c.args).toContain(`--leader-election-namespace=${ns}`);
    expect(c.args).toEqual(expect.arrayContaining(['--leader-election-lease-duration=15s', '--leader-election-renew-deadline=10s', '--leader-election-retry-period=2s']));
    expect(c.args.some((a) => a.startsWith('--namespaces'))).toBe(false);
    expect(c.env.map((e) => e.name)).toEqual(expect.arrayContaining(['POD_NAME', 'POD_NAMESPACE', 'CUTOVER_ALERTMANAGER_TOKEN', 'CUTOVER_WEBHOOK_HMAC_SECRET']));
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.resources.requests).toBeTruthy();
    expect(c.resources.limits).toBeTruthy();
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
    expect(deploy.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });

    const rules = (find(objs, 'ClusterRole').find((r) => r.metadata.name === `${release}-cutover`) as unknown as { rules: Rule[] }).rules;
    const grants = (group: string, resource: string) => rules.filter((r) => r.apiGroups.includes(group) && r.resources.includes(resource)).flatMap((r) => r.verbs);
    // Parity comparators: create only (never patch, update or delete a Deployment, a Service or a Role).
    expect(grants('apps', 'deployments').sort()).toEqual(['create', 'get', 'list', 'watch']);
    for (const r of ['services', 'serviceaccounts', 'configmaps', 'roles', 'rolebindings']) {
      const g = grants(r.startsWith('role') ? 'rbac.authorization.k8s.io' : '', r);
      expect(g, r).toContain('create');
      expect(g.filter((v) => ['update', 'delete', 'deletecollection', 'escalate', 'bind'].includes(v)), r).toEqual([]);
    }
    expect(grants('', 'services').sort()).toEqual(['create', 'get', 'list', 'watch']);
    expect(c.args).toEqual(expect.arrayContaining([`--parity-image=${deploy.spec.template.spec.containers[0]!.image}`, '--parity-image-pull-policy=IfNotPresent']));
    expect(JSON.parse(c.args.find((a) => a.startsWith('--parity-pod-template='))!.slice('--parity-pod-template='.length))).toMatchObject({ resources: { limits: { memory: '256Mi' } } });
    expect(grants('apps', 'deployments/scale').sort()).toEqual(['get', 'patch', 'update']);
    expect(grants('', 'secrets')).toEqual([]);
    expect(grants('cutover.dev', 'migrationslices').sort()).toEqual(['get', 'list', 'patch', 'watch']); // patch: its finalizer only
    expect(rules.flatMap((r) => r.verbs)).not.toContain('*');
    expect(grants('networking.k8s.io', 'ingresses')).toEqual([]); // no Ingress router exists
    expectGatewayReadOnly(objs, release);
    const self = find(objs, 'Role')[0] as unknown as { metadata: { namespace: string }; rules: Rule[] };
    expect(self.metadata.namespace).toBe(ns);
    expect(self.rules.find((r) => r.resources.includes('secrets'))?.verbs).toEqual(['get']);
  });

  it('renders namespaced mode: a Role per watched namespace, cluster-wide only get on Gateways and GatewayClasses, --namespaces passed', async () => {
    const objs = objects(await render(nsRelease, nsNamespace, ['rbac.namespaced=true', `watchNamespaces={${watched.join(',')}}`]));
    expect(find(objs, 'ClusterRole').map((r) => r.metadata.name)).toEqual([`${nsRelease}-cutover-gateways`]);
    expect(find(objs, 'ClusterRoleBinding').map((r) => r.metadata.name)).toEqual([`${nsRelease}-cutover-gateways`]);
    expectGatewayReadOnly(objs, nsRelease);
    expect(find(objs, 'Role').map((r) => r.metadata.namespace).sort()).toEqual([nsNamespace, ...watched].sort());
    expect(find(objs, 'RoleBinding').map((r) => r.metadata.namespace).sort()).toEqual([nsNamespace, ...watched].sort());
    const deploy = find(objs, 'Deployment')[0] as unknown as { spec: { template: { spec: { containers: Array<{ args: string[] }> } } } };
    expect(deploy.spec.template.spec.containers[0]!.args).toContain(`--namespaces=${watched.join(',')}`);
  });

  it('applies cleanly with kubectl apply --server-side (CRDs included) and the Deployment rolls out', async () => {
    await kubectlOk(['create', 'namespace', ns]);
    const yaml = await render(release, ns, ['dashboards.enabled=true', 'networkPolicy.enabled=true'], ['--include-crds']);
    const out = await kubectl(['apply', '--server-side', '--field-manager=helm-chart-test', '-f', '-'], yaml);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    for (const kind of ['customresourcedefinition.apiextensions.k8s.io/trafficshifts.cutover.dev', `deployment.apps/${release}-cutover`, `clusterrole.rbac.authorization.k8s.io/${release}-cutover`, `networkpolicy.networking.k8s.io/${release}-cutover`, `configmap/${release}-cutover-dashboard`]) {
      expect(out.stdout).toContain(kind);
    }
    // KWOK nodes run the pods without pulling the image and report them Ready.
    await kubectlOk(['rollout', 'status', `deployment/${release}-cutover`, '-n', ns, '--timeout=120s']);
    const secret = JSON.parse(await kubectlOk(['get', 'secret', `${release}-cutover-hooks`, '-n', ns, '-o', 'json'])) as { data: Record<string, string> };
    for (const key of ['alertmanager-token', 'webhook-hmac-secret']) expect(Buffer.from(secret.data[key]!, 'base64').toString()).toMatch(/^[A-Za-z0-9]{40}$/);
  });

  it('the ServiceAccount gets exactly what the README says, cluster-wide mode (kubectl auth can-i --as)', async () => {
    const as = sa(ns, release);
    const can = async (args: string[]) => (await kubectl(['auth', 'can-i', ...args, '--as', as])).stdout.trim();
    const table: Array<[string[], 'yes' | 'no']> = [
      [['watch', 'trafficshifts.cutover.dev', '-A'], 'yes'],
      [['patch', 'trafficshifts.cutover.dev', '--subresource=status', '-n', 'default'], 'yes'],
      [['update', 'trafficshifts.cutover.dev', '-n', 'default'], 'no'], // never the spec
      [['create', 'trafficshifts.cutover.dev', '-n', 'default'], 'yes'], // MigrationSlice children
      [['create', 'migrationslices.cutover.dev', '-n', 'default'], 'no'],
      [['update', 'migrationslices.cutover.dev', '-n', 'default'], 'no'], // never the spec (patch: the finalizer)
      [['update', 'migrationslices.cutover.dev', '--subresource=finalizers', '-n', 'default'], 'yes'], // blockOwnerDeletion on children
      [['patch', 'httproutes.gateway.networking.k8s.io', '-n', 'default'], 'yes'],
      [['delete', 'httproutes.gateway.networking.k8s.io', '-n', 'default'], 'no'],
      [['patch', 'deployments.apps', '--subresource=scale', '-n', 'default'], 'yes'],
      [['patch', 'deployments.apps', '-n', 'default'], 'no'], // only replicas, via the scale subresource
      [['update', 'deployments.apps', '-n', 'default'], 'no'],
      [['patch', 'configmaps', '-n', 'default'], 'yes'],
      [['create', 'events.events.k8s.io', '-n', 'default'], 'yes'],
      [['list', 'events.events.k8s.io', '-A'], 'yes'], // which StepStarted Events exist, at start
      [['delete', 'events.events.k8s.io', '-n', 'default'], 'no'],
      [['get', 'secrets', '-n', 'default'], 'no'], // Secrets only in its own namespace
      [['get', 'secrets', '-n', ns], 'yes'],
      [['list', 'secrets', '-n', ns], 'no'],
      [['update', 'leases.coordination.k8s.io/cutover-leader', '-n', ns], 'yes'],
      [['update', 'leases.coordination.k8s.io/someone-else', '-n', ns], 'no'],
      [['get', 'pods', '-n', 'default'], 'no'],
      // The mirror check: read the route's Gateway and its GatewayClass, nothing more.
      [['get', 'gateways.gateway.networking.k8s.io', '-n', 'default'], 'yes'],
      [['get', 'gatewayclasses.gateway.networking.k8s.io'], 'yes'],
      [['list', 'gateways.gateway.networking.k8s.io', '-A'], 'no'],
      [['patch', 'gateways.gateway.networking.k8s.io', '-n', 'default'], 'no'],
      [['patch', 'gatewayclasses.gateway.networking.k8s.io'], 'no'],
      [['get', 'ingresses.networking.k8s.io', '-n', 'default'], 'no'],
    ];
    const got = await Promise.all(table.map(async ([args]) => [args.join(' '), await can(args)]));
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(table.map(([args, want]) => [args.join(' '), want])));
  });

  it('namespaced mode applies and grants only in the watched namespaces', async () => {
    for (const n of [nsNamespace, ...watched]) await kubectlOk(['create', 'namespace', n]);
    const yaml = await render(nsRelease, nsNamespace, ['rbac.namespaced=true', `watchNamespaces={${watched.join(',')}}`]);
    const out = await kubectl(['apply', '--server-side', '--field-manager=helm-chart-test', '-f', '-'], yaml);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const as = sa(nsNamespace, nsRelease);
    const can = async (args: string[]) => (await kubectl(['auth', 'can-i', ...args, '--as', as])).stdout.trim();
    expect(await can(['list', 'trafficshifts.cutover.dev', '-n', watched[0]!])).toBe('yes');
    expect(await can(['patch', 'httproutes.gateway.networking.k8s.io', '-n', watched[1]!])).toBe('yes');
    expect(await can(['list', 'trafficshifts.cutover.dev', '-n', 'default'])).toBe('no');
    expect(await can(['list', 'trafficshifts.cutover.dev', '-A'])).toBe('no');
    // The StepStarted Events read at start: per watched namespace, as the operator lists them there.
    expect(await can(['list', 'events.events.k8s.io', '-n', watched[0]!])).toBe('yes');
    expect(await can(['list', 'events.events.k8s.io', '-n', 'default'])).toBe('no');
    expect(await can(['get', 'secrets', '-n', watched[0]!])).toBe('no');
    expect(await can(['get', 'gatewayclasses.gateway.networking.k8s.io'])).toBe('yes');
    expect(await can(['get', 'gateways.gateway.networking.k8s.io', '-n', 'default'])).toBe('yes');
    expect(await can(['list', 'gateways.gateway.networking.k8s.io', '-n', 'default'])).toBe('no');
  });

  it('the in-cluster web dashboard: off by default; read-only, its own ServiceAccount, a ClusterIP Service; writing needs the token Secret', async () => {
    const off = objects(await render('dash', 'dash-system'));
    expect(off.filter((o) => o.metadata.name.includes('dashboard'))).toEqual([]);
    const lint = await helm(['lint', '--strict', '--kube-version', VERSIONS.kubernetes, CHART, '--set', 'dashboard.enabled=true', '--set', 'dashboard.readOnly=false', '--set', 'dashboard.auth.existingSecret=dash-token']);
    expect(lint.code, lint.stdout + lint.stderr).toBe(0);
    const on = objects(await render('dash', 'dash-system', ['dashboard.enabled=true']));
    const mine = on.filter((o) => o.metadata.name === 'dash-cutover-dashboard');
    expect(mine.map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'Service', 'ServiceAccount']);
    const role = mine.find((o) => o.kind === 'ClusterRole') as unknown as { rules: Rule[] };
    // Read only: no write verb anywhere.
    expect(role.rules.flatMap((r) => r.verbs).every((v) => ['get', 'list', 'watch'].includes(v))).toBe(true);
    const svc = mine.find((o) => o.kind === 'Service') as unknown as { spec: { type: string; selector: Record<string, string> } };
    expect(svc.spec.type).toBe('ClusterIP');
    type Dep = { spec: { selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: { serviceAccountName: string; containers: Array<{ command: string[]; args: string[]; env?: Array<{ name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }> }> } } } };
    const dep = mine.find((o) => o.kind === 'Deployment') as unknown as Dep;
    const c = dep.spec.template.spec.containers[0]!;
    expect(c.command.at(-1)).toBe('dist/kubectl-cutover.mjs');
    expect(c.args).toEqual(['dashboard', '--behind-port-forward', '--address=0.0.0.0', '--port=3100', '--prometheus-url=http://prometheus.monitoring:9090', '--read-only']);
    expect(c.env).toBeUndefined();
    expect(dep.spec.template.spec.serviceAccountName).toBe('dash-cutover-dashboard');
    // No selector of the operator's (Deployment, Service, PDB) matches the dashboard's pod, and the reverse.
    const operator = on.find((o) => o.kind === 'Deployment' && o.metadata.name === 'dash-cutover') as unknown as Dep;
    const matches = (sel: Record<string, string>, labels: Record<string, string>) => Object.entries(sel).every(([k, v]) => labels[k] === v);
    expect(matches(operator.spec.selector.matchLabels, dep.spec.template.metadata.labels)).toBe(false);
    expect(matches(dep.spec.selector.matchLabels, operator.spec.template.metadata.labels)).toBe(false);
    // Writing: refused without a token Secret (no unauthenticated write path); with it, patch on the three kinds and the token from the Secret.
    const noAuth = await helm(['template', 'x', CHART, '--kube-version', VERSIONS.kubernetes, '--set', 'dashboard.enabled=true', '--set', 'dashboard.readOnly=false']);
    expect(noAuth.code).not.toBe(0);
    expect(noAuth.stderr).toMatch(/existingSecret/);
    const rw = objects(await render('dash', 'dash-system', ['dashboard.enabled=true', 'dashboard.readOnly=false', 'dashboard.auth.existingSecret=dash-token']));
    const rwRole = rw.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'dash-cutover-dashboard') as unknown as { rules: Rule[] };
    expect(rwRole.rules.filter((r) => !r.verbs.every((v) => ['get', 'list', 'watch'].includes(v)))).toEqual([{ apiGroups: ['cutover.dev'], resources: ['trafficshifts', 'shadowruns', 'migrationslices'], verbs: ['patch'] }]);
    const rwC = (rw.find((o) => o.kind === 'Deployment' && o.metadata.name === 'dash-cutover-dashboard') as unknown as Dep).spec.template.spec.containers[0]!;
    expect(rwC.args).not.toContain('--read-only');
    expect(rwC.env).toEqual([{ name: 'CUTOVER_DASHBOARD_TOKEN', valueFrom: { secretKeyRef: { name: 'dash-token', key: 'token' } } }]);
    const namespaced = await helm(['template', 'x', CHART, '--kube-version', VERSIONS.kubernetes, '--set', 'dashboard.enabled=true', '--set', 'rbac.namespaced=true', '--set', 'watchNamespaces={a}']);
    expect(namespaced.code).not.toBe(0);
    expect(namespaced.stderr).toMatch(/dashboard.enabled needs cluster-wide RBAC/);
  });

  it('values.schema.json refuses a bad value with a message naming it', async () => {
    const neg = await helm(['template', 'x', CHART, '--kube-version', VERSIONS.kubernetes, '--set', 'replicaCount=-1']);
    expect(neg.code).not.toBe(0);
    expect(neg.stderr).toMatch(/replicaCount.*minimum: got -1, want 0/);
    const typo = await helm(['template', 'x', CHART, '--kube-version', VERSIONS.kubernetes, '--set', 'rbac.namespaced=yes']);
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toMatch(/rbac\/namespaced.*got string, want boolean/);
    const unknown = await helm(['template', 'x', CHART, '--kube-version', VERSIONS.kubernetes, '--set', 'replicas=3']);
    expect(unknown.stderr).toMatch(/additional properties 'replicas' not allowed/);
    const noNs = await helm(['template', 'x', CHART, '--kube-version', VERSIONS.kubernetes, '--set', 'rbac.namespaced=true']);
    expect(noNs.stderr).toMatch(/watchNamespaces.*minItems/);
  });
});
