// The chart, installed with helm as the README's install section says, running on the testbed's real
// node: two operator replicas from the locally built image (the Dockerfile's content), under the
// chart's ServiceAccount and RBAC; one holds the Lease; the chart's probes are the ones the kubelet
// runs (both pods Ready); /readyz answers from each pod. The testbed-only values are where the image
// comes from (no registry), the node placement, and where pods find the API server (10.88.0.1:
// there is no kube-proxy, so the `kubernetes` Service's ClusterIP routes nowhere).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, getJson, kubectl, kubectlOk, testbed, uniqueName } from '../helpers/cluster.ts';
import { binaries, ensureBinaries, REPO_ROOT } from '../testbed/paths.ts';
import { OPERATOR_IMAGE, REAL_NODE_LABEL, REAL_NODE_TAINT } from '../testbed/realnode.ts';
import { requireRealNode } from '../testbed/testbed.ts';

const CHART = join(REPO_ROOT, 'charts', 'cutover');
const release = uniqueName('cutover');
const ns = `${release}-system`;

function helm(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(binaries.helm, ['--kubeconfig', testbed().kubeconfig, ...args], { maxBuffer: 64 << 20, cwd: REPO_ROOT }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: stdout + stderr }));
  });
}

interface Pod { metadata: { name: string }; spec: { nodeName?: string; serviceAccountName?: string }; status: { podIP?: string; conditions?: Array<{ type: string; status: string }> } }

beforeAll(async () => {
  requireRealNode(testbed());
  await ensureBinaries(['helm']);
}, 900_000);

afterAll(async () => {
  await helm(['uninstall', release, '-n', ns, '--wait=false']);
  await kubectl(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
  await kubectl(['delete', 'clusterrole,clusterrolebinding', '-l', `app.kubernetes.io/instance=${release}`, '--ignore-not-found']);
});

describe('the chart on the real node', () => {
  it('helm install: 2 replicas Ready by the chart probes, one holds the Lease, /readyz answers from the pods', async () => {
    const node = requireRealNode(testbed());
    const [repository, tag] = OPERATOR_IMAGE.split(/:(?=[^:]+$)/);
    const r = await helm(['install', release, CHART, '-n', ns, '--create-namespace',
      '--set', `image.repository=${repository}`, '--set', `image.tag=${tag}`, '--set', 'image.pullPolicy=Never',
      '--set', `nodeSelector.${REAL_NODE_LABEL.key.replace(/\./g, '\\.')}=${REAL_NODE_LABEL.value}`,
      '--set', `tolerations[0].key=${REAL_NODE_TAINT.key}`, '--set', 'tolerations[0].operator=Equal',
      '--set-string', `tolerations[0].value=${REAL_NODE_TAINT.value}`, '--set', `tolerations[0].effect=${REAL_NODE_TAINT.effect}`,
      '--set', 'extraEnv[0].name=KUBERNETES_SERVICE_HOST', '--set', `extraEnv[0].value=${node.apiServer.host}`,
      '--set', 'extraEnv[1].name=KUBERNETES_SERVICE_PORT', '--set-string', `extraEnv[1].value=${node.apiServer.port}`,
      '--set', `prometheusUrl=http://${node.ip}:9`]);
    expect(r.code, r.out).toBe(0);
    const pods = await eventually('2 operator pods Ready', async () => {
      const l = await getJson<{ items: Pod[] }>(['get', 'pods', '-n', ns, '-l', `app.kubernetes.io/instance=${release}`]);
      const ready = l.items.filter((p) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      return ready.length === 2 ? ready : undefined;
    }, 180_000);
    for (const p of pods) {
      expect(p.spec.nodeName).toBe(node.name);
      // The chart's ServiceAccount: the full name is the release name when it contains "cutover".
      expect(p.spec.serviceAccountName).toBe(release);
    }
    const lease = await eventually('the Lease held by one of the pods', async () => {
      const l = await getJson<{ spec: { holderIdentity?: string } }>(['get', 'lease', 'cutover-leader', '-n', ns]).catch(() => undefined);
      return l?.spec.holderIdentity ? l.spec.holderIdentity : undefined;
    }, 60_000);
    expect(pods.map((p) => p.metadata.name)).toContain(lease);
    for (const p of pods) {
      const res = await fetch(`http://${p.status.podIP}:8080/readyz`);
      expect(res.status).toBe(200);
    }
    const d = await getJson<{ status: { availableReplicas?: number } }>(['get', 'deployment', release, '-n', ns]);
    expect(d.status.availableReplicas).toBe(2);
    await kubectlOk(['get', 'crd', 'trafficshifts.cutover.dev']);
  });
});
