// npm run demo [-- --faulty] [--once] [--dashboard [--port 3100]]
// The product on the embedded default: starts the testbed (or reuses a running one), a legacy and a
// new backend, load through the gateway, the operator; applies examples/quickstart/ and shows the
// shift live (step, weight, each metric against its threshold) until it ends. With --dashboard, also
// `kubectl cutover dashboard` on http://127.0.0.1:3100/, kept up after the end until Ctrl-C.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { REPO_ROOT, binaries } from './paths.ts';
import { startTestbed, testbedEnv, type TestbedInfo } from './testbed.ts';
import { startBackend, stopBackend } from './backends.ts';
import { runLoad } from './dataplane/load.ts';
import { freePort, killPid, startDetached, waitReady } from './procs.ts';
import { OPERATOR_NODE_FLAGS } from '../helpers/operator.ts';
import { KubeClient } from '../../operator/src/kube/index.ts';
import { startDashboard, type Dashboard } from '../../operator/src/cli/dashboard/server.ts';

const execFileP = promisify(execFile);
const NS = 'quickstart';

interface Shift {
  status?: {
    phase?: string; currentStep?: number; currentWeight?: number; message?: string;
    rollback?: { trigger: string; reason: string };
    analysis?: { consecutiveFailures?: number; consecutiveInconclusive?: number; lastResults?: Array<{ name: string; result: string; value?: number; threshold: string; message?: string }> };
    conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
  };
  spec: { steps: Array<{ weight: number; pause: string }> };
}

async function kubectl(info: TestbedInfo, args: string[]): Promise<string> {
  const { stdout } = await execFileP(binaries.kubectl, ['--kubeconfig', info.kubeconfig, ...args], { maxBuffer: 16 << 20 });
  return stdout;
}

function bar(weight: number, width = 30): string {
  const n = Math.round((weight / 100) * width);
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
}

function render(ts: Shift, elapsedS: number, faulty: boolean): string {
  const s = ts.status ?? {};
  const steps = ts.spec.steps;
  const lines = [
    `Cutover demo — TrafficShift ${NS}/listings-read   (new service ${faulty ? 'FAULTY: 20% 5xx' : 'healthy'})   t=${elapsedS}s`,
    '',
    `  phase   ${s.phase ?? 'Pending'}${s.message ? `  — ${s.message}` : ''}`,
    `  step    ${s.currentStep === undefined ? '-' : `${s.currentStep + 1}/${steps.length}`}   (${steps.map((x) => `${x.weight}%/${x.pause}`).join(' → ')})`,
    `  weight  monolith ${String(100 - (s.currentWeight ?? 0)).padStart(3)}%  listings-api ${String(s.currentWeight ?? 0).padStart(3)}%  ${bar(s.currentWeight ?? 0)}`,
    '',
    '  analysis (every 2s; failureLimit 2)',
  ];
  for (const r of s.analysis?.lastResults ?? []) {
    const v = r.value === undefined ? 'no data' : r.value.toFixed(4);
    lines.push(`    ${r.result === 'Pass' ? 'PASS' : r.result === 'Fail' ? 'FAIL' : '????'}  ${r.name.padEnd(14)} ${v.padStart(8)}  threshold ${r.threshold}`);
  }
  if (!s.analysis?.lastResults?.length) lines.push('    (waiting for the first check)');
  lines.push(`    consecutive failures ${s.analysis?.consecutiveFailures ?? 0}, inconclusive ${s.analysis?.consecutiveInconclusive ?? 0}`);
  if (s.rollback) lines.push('', `  ROLLED BACK (${s.rollback.trigger}): ${s.rollback.reason}`);
  const stalled = s.conditions?.find((c) => c.type === 'Stalled' && c.status === 'True');
  if (stalled) lines.push('', `  STALLED: ${stalled.message}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { faulty: { type: 'boolean', default: false }, once: { type: 'boolean', default: false }, timeout: { type: 'string', default: '240' }, dashboard: { type: 'boolean', default: false }, port: { type: 'string', default: '3100' } } });
  const faulty = values.faulty!;
  const live = !values.once && process.stdout.isTTY;
  const say = (m: string) => process.stderr.write(`[demo] ${m}\n`);
  say('starting the testbed (the first run builds Kubernetes from source; later runs take seconds)');
  const tb = await startTestbed();
  const info = tb.info;
  let operatorPid: number | undefined;
  let dashboard: Dashboard | undefined;
  let dashboardClient: KubeClient | undefined;
  const load = new AbortController();
  let exitCode = 1;
  try {
    await kubectl(info, ['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=60s']);
    await kubectl(info, ['create', 'namespace', NS]);
    say(`backends: monolith (healthy), listings-api (${faulty ? '20% errors' : 'healthy'})`);
    await startBackend(info, { namespace: NS, service: 'monolith', latencyMs: 5 });
    await startBackend(info, { namespace: NS, service: 'listings-api', latencyMs: 5, errorRate: faulty ? 0.2 : 0 });
    await kubectl(info, ['apply', '--server-side', '-f', join(REPO_ROOT, 'examples', 'quickstart', 'httproute.yaml')]);

    const port = await freePort();
    const log = join(info.dir, 'logs', 'demo-operator.log');
    const op = startDetached('operator', process.execPath, [...OPERATOR_NODE_FLAGS, join(REPO_ROOT, 'operator', 'src', 'main.ts'),
      '--kubeconfig', info.kubeconfig, '--prometheus-url', info.prometheusUrl, '--host', '127.0.0.1', '--port', String(port), '--namespaces', NS],
    log, { ...process.env, ...testbedEnv(info) }, REPO_ROOT);
    operatorPid = op.pid;
    await waitReady('operator', `http://127.0.0.1:${port}/readyz`, op.pid, log, 60_000);
    say(`operator running (pid ${op.pid}, logs ${log}); load: 40 requests/s through the gateway`);
    if (values.dashboard) {
      // `kubectl cutover dashboard` in this process, with the testbed's kubeconfig and Prometheus.
      dashboardClient = KubeClient.load({ kubeconfig: info.kubeconfig, userAgent: 'kubectl-cutover', fieldManager: 'kubectl-cutover' });
      dashboard = await startDashboard({ client: dashboardClient, port: Number(values.port), prometheusUrl: info.prometheusUrl, context: 'testbed' });
      say(`dashboard: ${dashboard.url}c/TrafficShift/${NS}/listings-read (the same as: KUBECONFIG=${info.kubeconfig} kubectl cutover dashboard --prometheus-url ${info.prometheusUrl})`);
    }
    void runLoad({ url: info.gatewayUrl, host: `listings.${NS}.test`, path: '/v1/listings', rps: 40, durationMs: Number(values.timeout) * 1000, signal: load.signal }).catch(() => {});
    await new Promise((r) => setTimeout(r, 1500));
    await kubectl(info, ['apply', '--server-side', '-f', join(REPO_ROOT, 'examples', 'quickstart', 'trafficshift.yaml')]);

    const t0 = Date.now();
    const expected = faulty ? 'RolledBack' : 'Completed';
    let lastLine = '';
    for (;;) {
      const ts = JSON.parse(await kubectl(info, ['get', 'trafficshift', 'listings-read', '-n', NS, '-o', 'json'])) as Shift;
      const elapsed = Math.round((Date.now() - t0) / 1000);
      const view = render(ts, elapsed, faulty);
      if (live) process.stdout.write(`\x1b[2J\x1b[H${view}\n`);
      else {
        const s = ts.status ?? {};
        const line = `t=${elapsed}s phase=${s.phase ?? 'Pending'} step=${(s.currentStep ?? -1) + 1}/${ts.spec.steps.length} weight=${s.currentWeight ?? 0} ${(s.analysis?.lastResults ?? []).map((r) => `${r.name}=${r.value === undefined ? 'n/a' : r.value.toFixed(4)}(${r.result})`).join(' ')}`;
        const key = line.replace(/^t=\d+s /, '').replace(/=\d\.\d{4}/g, '');
        if (key !== lastLine) { console.log(line); lastLine = key; }
      }
      const phase = ts.status?.phase;
      if (phase === 'Completed' || phase === 'RolledBack' || phase === 'Failed') {
        if (!live) console.log(view);
        const ok = phase === expected;
        console.log(ok ? `\n${faulty ? 'Rolled back automatically' : 'Completed'}: the outcome this demo expects.` : `\nEnded ${phase}, expected ${expected}.`);
        exitCode = ok ? 0 : 1;
        break;
      }
      if (Date.now() - t0 > Number(values.timeout) * 1000) { console.log(`\ntimed out waiting for ${expected}`); break; }
      await new Promise((r) => setTimeout(r, 500));
    }
    if (dashboard && process.stdin.isTTY) {
      say('the dashboard stays up until Ctrl-C');
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    }
  } finally {
    await dashboard?.close();
    dashboardClient?.close();
    load.abort();
    if (operatorPid) await killPid(operatorPid);
    await stopBackend(info, NS, 'monolith').catch(() => {});
    await stopBackend(info, NS, 'listings-api').catch(() => {});
    await kubectl(info, ['delete', 'namespace', NS, '--wait=false']).catch(() => '');
    if (!tb.reused) { say('stopping the testbed'); await tb.stop(); }
  }
  process.exit(exitCode);
}

main().catch((err: unknown) => {
  console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
