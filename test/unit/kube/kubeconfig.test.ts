// Kubeconfig loading (operator/src/kube/kubeconfig.ts): files, KUBECONFIG merging, in-cluster
// service accounts and each way a user authenticates, on real files and a real exec plugin.
import { chmodSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeConfigFile, SERVICE_ACCOUNT_DIR } from '../../../operator/src/kube/kubeconfig.ts';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'kubeconfig-')); });
afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

const config = (o: { cluster?: string; user: string; context?: string; ns?: string; current?: string }) => `apiVersion: v1
kind: Config
clusters:
- name: ${o.cluster ?? 'c1'}
  cluster: {server: https://10.0.0.1:6443, certificate-authority: certs/ca.crt}
users:
- name: u1
  user: ${o.user}
contexts:
- name: ${o.context ?? 'ctx1'}
  context: {cluster: ${o.cluster ?? 'c1'}, user: u1${o.ns ? `, namespace: ${o.ns}` : ''}}
current-context: ${o.current ?? o.context ?? 'ctx1'}
`;

describe('KubeConfigFile', () => {
  it('reads a kubeconfig file: cluster, context namespace, bearer token; relative paths from the file', async () => {
    writeFileSync(join(dir, 'config'), config({ user: '{token: abc123}', ns: 'shop' }));
    const kc = new KubeConfigFile();
    kc.loadFromFile(join(dir, 'config'));
    expect(kc.getCurrentCluster()).toMatchObject({ name: 'c1', server: 'https://10.0.0.1:6443', caFile: join(dir, 'certs', 'ca.crt') });
    expect(kc.getContextObject(kc.getCurrentContext())?.namespace).toBe('shop');
    expect(await kc.credentials()).toEqual({ headers: { Authorization: 'Bearer abc123' }, basic: undefined });
  });

  it('impersonation (as:) and basic auth', async () => {
    writeFileSync(join(dir, 'config'), config({ user: '{username: admin, password: s3cret, as: "system:serviceaccount:ns:sa"}' }));
    const kc = new KubeConfigFile();
    kc.loadFromFile(join(dir, 'config'));
    expect(await kc.credentials()).toEqual({ headers: { 'Impersonate-User': 'system:serviceaccount:ns:sa' }, basic: 'admin:s3cret' });
  });

  it('runs an exec credential plugin and uses its token', async () => {
    const plugin = join(dir, 'plugin.sh');
    writeFileSync(plugin, `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-exec"}}'\n`);
    chmodSync(plugin, 0o755);
    writeFileSync(join(dir, 'config'), config({ user: `{exec: {apiVersion: client.authentication.k8s.io/v1, command: ${plugin}, interactiveMode: Never}}` }));
    const kc = new KubeConfigFile();
    kc.loadFromFile(join(dir, 'config'));
    expect((await kc.credentials()).headers.Authorization).toBe('Bearer from-exec');
  });

  it('KUBECONFIG: files merged in order, a duplicate name refused', () => {
    writeFileSync(join(dir, 'a'), config({ user: '{token: a}', context: 'ctx-a' }));
    writeFileSync(join(dir, 'b'), config({ cluster: 'c2', user: '{token: b}', context: 'ctx-b' }).replace(/- name: u1/, '- name: u2').replace('user: u1', 'user: u2'));
    const kc = new KubeConfigFile();
    kc.loadFromDefault({ KUBECONFIG: [join(dir, 'a'), join(dir, 'b')].join(delimiter) });
    expect(kc.contexts.map((c) => c.name)).toEqual(['ctx-a', 'ctx-b']);
    expect(kc.clusters.map((c) => c.name)).toEqual(['c1', 'c2']);
    writeFileSync(join(dir, 'dup'), config({ user: '{token: x}', context: 'ctx-a' }));
    expect(() => new KubeConfigFile().loadFromDefault({ KUBECONFIG: [join(dir, 'a'), join(dir, 'dup')].join(delimiter) })).toThrow(/Duplicate cluster: c1/);
  });

  it('in cluster: the service account token, CA and namespace (trimmed); IPv6 hosts in brackets', async () => {
    const sa = join(dir, SERVICE_ACCOUNT_DIR);
    mkdirSync(sa, { recursive: true });
    writeFileSync(join(sa, 'token'), 'sa-token');
    writeFileSync(join(sa, 'ca.crt'), 'x');
    writeFileSync(join(sa, 'namespace'), 'cutover-system\n');
    const kc = new KubeConfigFile();
    kc.loadFromCluster(dir, { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' });
    expect(kc.getCurrentCluster()).toMatchObject({ server: 'https://[fd00::1]:443', caFile: join(sa, 'ca.crt') });
    expect(kc.getContextObject(kc.getCurrentContext())?.namespace).toBe('cutover-system');
    expect((await kc.credentials()).headers.Authorization).toBe('Bearer sa-token');
  });

  it('without KUBECONFIG, ~/.kube/config', () => {
    mkdirSync(join(dir, '.kube'));
    writeFileSync(join(dir, '.kube', 'config'), config({ user: '{token: home}', context: 'home' }));
    const kc = new KubeConfigFile();
    kc.loadFromDefault({ HOME: dir });
    expect(kc.getCurrentContext()).toBe('home');
  });
});
