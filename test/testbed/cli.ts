// npm run testbed -- up | down | status | backend | backend-set | load
import { parseArgs } from 'node:util';
import { startTestbed, stopTestbed, readState, isHealthy, testbedEnv } from './testbed.ts';
import { isAlive } from './procs.ts';
import { testbedDir } from './paths.ts';
import { setBackend, startBackend } from './backends.ts';
import { runLoad } from './dataplane/load.ts';

const USAGE = `usage: npm run testbed -- <command>
  up                      start the testbed (idempotent); writes .testbed/kubeconfig and .testbed/env
  down                    stop everything the testbed started
  status                  what runs where
  backend --namespace NS --service NAME [--port 8080] [--error-rate R] [--latency-ms MS] [--listing]
                          start a backend and register it as the Service's endpoints (--listing: it answers
                          GET /listings and /listings/<n>, also under /v1, with the same JSON documents as
                          any other listing backend: what parity compares)
  backend-set --namespace NS --service NAME [--error-rate R] [--latency-ms MS]
                          change a running backend
  load --host H [--path P] --rps N --duration D [--max N]
                          bounded load through the gateway; prints a JSON summary`;

function requireState() {
  const s = readState();
  if (!s) { console.error(`the testbed is not running (no ${testbedDir()}/state.json): npm run testbed -- up`); process.exit(1); }
  return s;
}

function num(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) { console.error(`not a number: ${v}`); process.exit(2); }
  return n;
}

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  const { values } = parseArgs({
    args: rest, allowPositionals: false, strict: true,
    options: {
      namespace: { type: 'string' }, service: { type: 'string' }, port: { type: 'string' },
      'error-rate': { type: 'string' }, 'latency-ms': { type: 'string' }, listing: { type: 'boolean' },
      host: { type: 'string' }, path: { type: 'string' }, rps: { type: 'string' }, duration: { type: 'string' }, max: { type: 'string' },
    },
  });
  switch (cmd) {
    case 'up': {
      const t0 = Date.now();
      const tb = await startTestbed();
      const i = tb.info;
      console.log(`testbed ${tb.reused ? 'already running' : 'up'} (${((Date.now() - t0) / 1000).toFixed(1)} s)
  kube-apiserver  ${i.apiServerUrl}
  prometheus      ${i.prometheusUrl}
  alertmanager    ${i.alertmanagerUrl}
  gateway         ${i.gatewayUrl}   (metrics ${i.gatewayMetricsUrl})
  real node       ${i.realNode.available ? `${i.realNode.name} on ${i.realNode.ip} (containerd ${i.realNode.containerdSocket})` : `none: ${i.realNode.reason}`}
  kubeconfig      ${i.kubeconfig}
  use it:         source ${i.dir}/env && kubectl get nodes`);
      return;
    }
    case 'down': {
      await stopTestbed();
      console.log('testbed down');
      return;
    }
    case 'status': {
      const s = readState();
      if (!s) { console.log('testbed: not running'); return; }
      console.log(`testbed: ${(await isHealthy(s)) ? 'healthy' : 'UNHEALTHY'} (started ${s.startedAt})`);
      for (const p of s.processes) console.log(`  ${p.name.padEnd(24)} pid ${String(p.pid).padEnd(8)} ${isAlive(p.pid) ? 'running' : 'DEAD'}  ${p.log}`);
      for (const b of s.backends) console.log(`  backend ${`${b.namespace}/${b.service}`.padEnd(16)} pod ${b.pod}  ${b.url}`);
      for (const [k, v] of Object.entries(testbedEnv(s.info))) if (k !== 'PATH') console.log(`  ${k}=${v}`);
      return;
    }
    case 'backend': {
      const s = requireState();
      if (!values.namespace || !values.service) { console.error(USAGE); process.exit(2); }
      const b = await startBackend(s.info, {
        namespace: values.namespace, service: values.service, servicePort: num(values.port),
        errorRate: num(values['error-rate']), latencyMs: num(values['latency-ms']), listing: values.listing === true,
      });
      console.log(`backend ${b.namespace}/${b.service}: pod ${b.pod} at ${b.url}`);
      return;
    }
    case 'backend-set': {
      const s = requireState();
      if (!values.namespace || !values.service) { console.error(USAGE); process.exit(2); }
      await setBackend(s.info, values.namespace, values.service, { errorRate: num(values['error-rate']), latencyMs: num(values['latency-ms']) });
      console.log(`backend ${values.namespace}/${values.service} updated`);
      return;
    }
    case 'load': {
      const s = requireState();
      if (!values.host || !values.rps || !values.duration) { console.error(USAGE); process.exit(2); }
      const summary = await runLoad({ url: s.info.gatewayUrl, host: values.host, path: values.path ?? '/', rps: num(values.rps)!, duration: values.duration, max: num(values.max) });
      console.log(JSON.stringify(summary, null, 2));
      return;
    }
    default:
      console.error(USAGE);
      process.exit(cmd ? 2 : 0);
  }
}

main().catch((err: unknown) => {
  console.error(`testbed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
