// Real pods: the testbed's real node (containerd + kubelet) runs the project's own operator image,
// built from the Dockerfile's content without a registry. A pod lands there only when it selects the
// node and tolerates its taint; everything else keeps landing on KWOK nodes.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, eventuallyEqual, getFresh, getJson, kubectl, kubectlOk, testbed, uniqueName } from '../helpers/cluster.ts';
import { REPO_ROOT } from '../testbed/paths.ts';
import { OPERATOR_IMAGE, POD_SUBNET, REAL_NODE_LABEL, REAL_NODE_TAINT } from '../testbed/realnode.ts';
import { requireRealNode } from '../testbed/testbed.ts';

const ns = uniqueName('real');
const NODE_VERSION = execFileSync(join(REPO_ROOT, 'node_modules', 'node', 'bin', 'node'), ['--version']).toString().trim();

interface Pod { spec: { nodeName?: string }; status: { podIP?: string; phase?: string; conditions?: Array<{ type: string; status: string }> } }

/** A pod that runs on the real node: selects its label, tolerates its taint, uses the local image. */
function realPod(name: string, script: string): string {
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}, labels: {app: ${name}}}
spec:
  nodeSelector: {${REAL_NODE_LABEL.key}: "${REAL_NODE_LABEL.value}"}
  tolerations: [{key: ${REAL_NODE_TAINT.key}, operator: Equal, value: "${REAL_NODE_TAINT.value}", effect: ${REAL_NODE_TAINT.effect}}]
  terminationGracePeriodSeconds: 1
  containers:
    - name: app
      image: ${OPERATOR_IMAGE}
      imagePullPolicy: Never
      command: [node, -e, ${JSON.stringify(script)}]
      readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
`;
}

/** kube-proxy's rules for a Service (iptables-save, nat table), for a failure message. */
function natRulesFor(service: string): string {
  try {
    return execFileSync('iptables-save', ['-t', 'nat']).toString().split('\n').filter((l) => l.includes(service)).join('\n') || '(none)';
  } catch (err) {
    return `(iptables-save failed: ${(err as Error).message})`;
  }
}

const SERVER = `require('http').createServer((req, res) => res.end(req.url === '/healthz' ? process.version : 'hello')).listen(8080, () => console.log('serving on 8080 as uid ' + process.getuid()))`;

beforeAll(async () => {
  requireRealNode(testbed());
  await kubectlOk(['create', 'namespace', ns]);
});

afterAll(async () => {
  await kubectl(['delete', 'namespace', ns, '--wait=false']);
});

describe('the real node', () => {
  it('runs the operator image: the pod is Ready on the real node and answers from its pod IP on the host', async () => {
    const node = requireRealNode(testbed());
    await kubectlOk(['apply', '-f', '-'], realPod('hello', SERVER));
    const pod = await eventually('pod hello Ready', async () => {
      const p = await getJson<Pod>(['get', 'pod', 'hello', '-n', ns]);
      return p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
    }, 120_000);
    expect(pod.spec.nodeName).toBe(node.name);
    // An address from the bridge's range (POD_SUBNET, 10.88.0.0/24), not a KWOK fake one.
    expect(POD_SUBNET).toBe('10.88.0.0/24');
    expect(pod.status.podIP).toMatch(/^10\.88\.0\.\d+$/);
    const res = await fetch(`http://${pod.status.podIP}:8080/healthz`);
    expect(res.status).toBe(200);
    // The node binary of the `node` npm package, as the image ships it.
    expect(await res.text()).toBe(NODE_VERSION);
  });

  it('kubectl logs and exec reach the container through the kubelet', async () => {
    // The Dockerfile's USER (65532) applies: the image config came from it.
    const logs = await eventually('a log line', async () => {
      const r = await kubectl(['logs', 'hello', '-n', ns]);
      return r.code === 0 && r.stdout.includes('serving') ? r.stdout : undefined;
    }, 30_000);
    expect(logs.trim()).toBe('serving on 8080 as uid 65532');
    const version = await kubectlOk(['exec', 'hello', '-n', ns, '--', 'node', '--version']);
    expect(version.trim()).toBe(NODE_VERSION);
  });

  it('pods see a normal cluster: the API server through the kubernetes Service, Services by DNS name, Prometheus at the chart default; the host reaches ClusterIPs', async () => {
    await kubectlOk(['apply', '-f', '-'], `apiVersion: v1
kind: Service
metadata: {name: greeter, namespace: ${ns}}
spec: {selector: {app: hello}, ports: [{port: 80, targetPort: 8080}]}
`);
    const svc = await getJson<{ spec: { clusterIP: string } }>(['get', 'service', 'greeter', '-n', ns]);
    expect(svc.spec.clusterIP).toMatch(/^10\.96\./);
    // The Service has a ready endpoint (the pod above) before anything is sent to it.
    await eventually('greeter has a ready endpoint', async () => {
      const l = await getJson<{ items: Array<{ endpoints?: Array<{ conditions?: { ready?: boolean } }> }> }>(['get', 'endpointslices', '-n', ns, '-l', 'kubernetes.io/service-name=greeter']);
      return l.items.some((s) => s.endpoints?.some((e) => e.conditions?.ready)) ? true : undefined;
    }, 60_000);
    // From the host, through kube-proxy's rules, as the gateway or Alertmanager would. Each try is
    // bounded (a SYN sent before kube-proxy wrote the Service's rule goes to the default route and
    // would otherwise wait for the 10 s connect timeout); a failure says what the host saw.
    // Each try on a fresh connection: one made before kube-proxy's rule leaves by the default route.
    const fromHost = await eventually('the ClusterIP answers from the host', async () => {
      const r = await getFresh(`http://${svc.spec.clusterIP}/`, 2_000);
      if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${r.body.slice(0, 200)}`);
      return r.body;
    }, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\nkube-proxy's nat rules for the Service:\n${natRulesFor(`${ns}/greeter`)}`);
    });
    expect(fromHost).toBe('hello');
    // From the pod: an in-cluster client as any library makes it (KUBERNETES_SERVICE_HOST/PORT, the
    // ServiceAccount token and CA), a Service by its DNS name, and Prometheus at the chart's default URL.
    const script = `
const fs = require('fs'); const sa = '/var/run/secrets/kubernetes.io/serviceaccount/';
const get = (mod, url, opts = {}) => new Promise((res) => mod.get(url, opts, (r) => { let b = ''; r.on('data', (d) => b += d); r.on('end', () => res(r.statusCode + ' ' + b.slice(0, 60).trim())); }).on('error', (e) => res('error ' + e.code)));
(async () => {
  const api = await new Promise((res) => {
    const req = require('https').request('https://' + process.env.KUBERNETES_SERVICE_HOST + ':' + process.env.KUBERNETES_SERVICE_PORT + '/apis/authentication.k8s.io/v1/selfsubjectreviews', { method: 'POST', ca: fs.readFileSync(sa + 'ca.crt'), headers: { 'content-type': 'application/json', authorization: 'Bearer ' + fs.readFileSync(sa + 'token', 'utf8') } }, (r) => { let b = ''; r.on('data', (d) => b += d); r.on('end', () => res(JSON.parse(b).status.userInfo.username)); });
    req.on('error', (e) => res('error ' + e.code));
    req.end(JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }));
  });
  const dns = await get(require('http'), 'http://greeter.${ns}.svc.cluster.local/');
  const short = await get(require('http'), 'http://greeter/');
  const prom = await get(require('http'), 'http://prometheus.monitoring:9090/-/ready');
  console.log(JSON.stringify({ host: process.env.KUBERNETES_SERVICE_HOST, api, dns, short, prom: prom.split(' ')[0] }));
})();`;
    // A Service created a moment ago reaches CoreDNS through its watch, as in any cluster: the name
    // may answer NXDOMAIN (cached up to 5 s) for a second or two, so the check is retried (CI once
    // saw ENOTFOUND 1.6 s after the Service was created).
    await eventuallyEqual('the pod reaches the API server, the Service by its DNS names, and Prometheus',
      async () => JSON.parse((await kubectlOk(['exec', 'hello', '-n', ns, '--', 'node', '-e', script])).trim()) as Record<string, string>,
      { host: '10.96.0.1', api: `system:serviceaccount:${ns}:default`, dns: '200 hello', short: '200 hello', prom: '200' }, 30_000, 1_000);
  });

  it('a pod that does not tolerate the taint is scheduled onto a KWOK node, never the real one', async () => {
    const node = requireRealNode(testbed());
    await kubectlOk(['apply', '-f', '-'], `apiVersion: apps/v1
kind: Deployment
metadata: {name: fake, namespace: ${ns}}
spec:
  replicas: 4
  selector: {matchLabels: {app: fake}}
  template:
    metadata: {labels: {app: fake}}
    spec:
      containers: [{name: app, image: example.invalid/fake:1}]
`);
    const pods = await eventually('4 scheduled pods', async () => {
      const l = await getJson<{ items: Pod[] }>(['get', 'pods', '-n', ns, '-l', 'app=fake']);
      return l.items.length === 4 && l.items.every((p) => p.spec.nodeName) ? l.items : undefined;
    }, 60_000);
    for (const p of pods) {
      expect(p.spec.nodeName).not.toBe(node.name);
      expect(p.spec.nodeName).toMatch(/^kwok-node-/);
    }
  });
});
