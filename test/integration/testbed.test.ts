// The testbed is a real cluster: a real API server with real CRD validation, real controllers and
// scheduler with KWOK nodes, real Prometheus and Alertmanager, and a `down` that leaves nothing behind.
import { createServer, type Server } from 'node:http';
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, getJson, kubectl, kubectlOk, testbed, uniqueName } from '../helpers/cluster.ts';
import { startBackend, stopBackend } from '../testbed/backends.ts';
import { setAlertmanagerConfig, setPrometheusRules, startTestbed } from '../testbed/testbed.ts';
import { isAlive } from '../testbed/procs.ts';

const ns = uniqueName('tb');

afterAll(async () => {
  await kubectl(['delete', 'namespace', ns, '--wait=false']);
});

describe('testbed control plane', () => {
  it('serves the real API: kubectl version shows the server version', async () => {
    const out = JSON.parse(await kubectlOk(['version', '-o', 'json'])) as { serverVersion: { gitVersion: string; minor: string } };
    expect(out.serverVersion.gitVersion).toMatch(/^v1\.3[56]\.\d+$/);
  });

  it('accepts a valid HTTPRoute and the real CRD validation rejects an invalid one', async () => {
    await kubectlOk(['create', 'namespace', ns]);
    const route = (weight: number | string) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: ${ns}}
spec:
  hostnames: [web.example]
  rules:
    - backendRefs:
        - {name: v1, port: 8080, weight: ${weight}}
`;
    await kubectlOk(['apply', '--server-side', '-f', '-'], route(100));
    const bad = await kubectl(['apply', '--server-side', '-f', '-'], route(2_000_000));
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/spec\.rules\[0\]\.backendRefs\[0\]\.weight/);
    const stored = await getJson<{ spec: { rules: Array<{ backendRefs: Array<{ weight: number }> }> } }>(['get', 'httproute', 'web', '-n', ns]);
    expect(stored.spec.rules[0]!.backendRefs[0]!.weight).toBe(100);
  });

  it('schedules a Deployment onto KWOK nodes until readyReplicas is 3', async () => {
    const nodes = await getJson<{ items: Array<{ status: { conditions: Array<{ type: string; status: string }> } }> }>(['get', 'nodes']);
    expect(nodes.items.length).toBeGreaterThanOrEqual(3);
    for (const n of nodes.items) expect(n.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    await kubectlOk(['apply', '--server-side', '-f', '-'], `apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, namespace: ${ns}}
spec:
  replicas: 3
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec:
      containers: [{name: worker, image: example.invalid/worker:1}]
`);
    const ready = await eventually('readyReplicas 3', async () => {
      const d = await getJson<{ status?: { readyReplicas?: number } }>(['get', 'deployment', 'worker', '-n', ns]);
      return d.status?.readyReplicas === 3 ? d.status.readyReplicas : undefined;
    }, 90_000);
    expect(ready).toBe(3);
  });
});

describe('testbed monitoring', () => {
  let receiver: Server | undefined;
  afterAll(async () => {
    receiver?.close();
    await setPrometheusRules(testbed(), `tb-${ns}`, null);
    await stopBackend(testbed(), ns, 'flaky');
  });

  it('fires a Prometheus alert on a backend error rate and Alertmanager delivers it to a receiver', async () => {
    const info = testbed();
    const received: Array<{ status: string; alerts: Array<{ labels: Record<string, string> }> }> = [];
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString(); });
      req.on('end', () => { received.push(JSON.parse(body)); res.end('ok'); });
    });
    await new Promise<void>((r) => receiver!.listen(0, '127.0.0.1', () => r()));
    const port = (receiver.address() as { port: number }).port;
    await setAlertmanagerConfig(info, `route:
  receiver: test
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test
    webhook_configs:
      - url: http://127.0.0.1:${port}/hook
        send_resolved: true
`);
    const alertname = `FlakyErrors_${ns.replace(/-/g, '_')}`;
    await setPrometheusRules(info, `tb-${ns}`, `groups:
  - name: tb
    rules:
      - alert: ${alertname}
        expr: sum(rate(backend_requests_total{namespace="${ns}",service="flaky",code=~"5.."}[10s])) / sum(rate(backend_requests_total{namespace="${ns}",service="flaky"}[10s])) > 0.2
        labels: {service: flaky}
`);
    const b = await startBackend(info, { namespace: ns, service: 'flaky', errorRate: 0.5 });
    // Traffic straight to the backend for 30 s at most, until the alert arrives.
    const deadline = Date.now() + 45_000;
    let delivered: (typeof received)[number] | undefined;
    while (!delivered && Date.now() < deadline) {
      await Promise.all(Array.from({ length: 20 }, () => fetch(`${b.url}/x`).then((r) => r.arrayBuffer()).catch(() => undefined)));
      delivered = received.find((p) => p.status === 'firing' && p.alerts.some((a) => a.labels.alertname === alertname));
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(delivered?.alerts[0]?.labels.service).toBe('flaky');
  });
});

describe('testbed lifecycle', () => {
  it('down stops every process it started and leaves no listening port', async () => {
    const prev = process.env.TESTBED_DIR;
    process.env.TESTBED_DIR = '.testbed-lifecycle-test';
    try {
      // Without a real node: the run's shared testbed holds the machine's one (realnode.ts).
      const tb = await startTestbed({ reuse: false, realNode: false });
      const { readState } = await import('../testbed/testbed.ts');
      const state = readState(tb.info.dir)!;
      const pids = state.processes.map((p) => p.pid);
      const ports = [tb.info.apiServerUrl, tb.info.prometheusUrl, tb.info.alertmanagerUrl, tb.info.gatewayUrl].map((u) => new URL(u).port);
      expect(pids.every(isAlive)).toBe(true);
      await tb.stop();
      expect(pids.filter(isAlive)).toEqual([]);
      const listening = execFileSync('ss', ['-Htln']).toString();
      for (const p of ports) expect(listening).not.toMatch(new RegExp(`:${p}\\s`));
    } finally {
      if (prev === undefined) delete process.env.TESTBED_DIR; else process.env.TESTBED_DIR = prev;
    }
  });
});
