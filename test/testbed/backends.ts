// Backends as separate processes, registered as a Service's endpoints and scraped by Prometheus.
import { join } from 'node:path';
import { REPO_ROOT } from './paths.ts';
import { freePort, killPid, startDetached, waitReady } from './procs.ts';
import { readState, setScrapeTarget, writeState, type BackendRecord, type TestbedInfo } from './testbed.ts';
import { registerBackend, unregisterBackend } from './dataplane/registry.ts';

export interface BackendOptions { namespace: string; service: string; servicePort?: number; errorRate?: number; latencyMs?: number }

/**
 * Starts a backend process serving as the endpoints of `namespace/service` (created if missing), port
 * `servicePort` (default 8080). Replaces a backend already running for the same Service.
 */
export async function startBackendProcess(info: TestbedInfo, opts: BackendOptions): Promise<BackendRecord> {
  const state = readState(info.dir);
  if (!state) throw new Error('the testbed is not running: npm run testbed -- up');
  const previous = state.backends.find((b) => b.namespace === opts.namespace && b.service === opts.service);
  if (previous) await stopBackendProcess(info, opts.namespace, opts.service);
  const port = await freePort();
  const log = join(info.dir, 'logs', `backend-${opts.namespace}-${opts.service}.log`);
  const args = [join(REPO_ROOT, 'test', 'testbed', 'dataplane', 'backend.ts'), '--name', opts.service, '--listen', `127.0.0.1:${port}`];
  if (opts.errorRate !== undefined) args.push('--error-rate', String(opts.errorRate));
  if (opts.latencyMs !== undefined) args.push('--latency-ms', String(opts.latencyMs));
  const p = startDetached(`backend ${opts.namespace}/${opts.service}`, process.execPath, args, log, process.env, REPO_ROOT);
  await waitReady(p.name, `http://127.0.0.1:${port}/__admin/config`, p.pid, log, 30_000);
  await registerBackend(info.kubeconfig, { namespace: opts.namespace, service: opts.service, port: opts.servicePort ?? 8080, targetPort: port });
  setScrapeTarget(info, `backend-${opts.namespace}-${opts.service}`, `127.0.0.1:${port}`, { namespace: opts.namespace, service: opts.service });
  const rec: BackendRecord = { namespace: opts.namespace, service: opts.service, port, pid: p.pid, log };
  const fresh = readState(info.dir) ?? state;
  fresh.backends = [...fresh.backends.filter((b) => !(b.namespace === opts.namespace && b.service === opts.service)), rec];
  writeState(fresh);
  return rec;
}

export async function stopBackendProcess(info: TestbedInfo, namespace: string, service: string, unregister = true): Promise<void> {
  const state = readState(info.dir);
  const rec = state?.backends.find((b) => b.namespace === namespace && b.service === service);
  if (!state || !rec) return;
  await killPid(rec.pid);
  setScrapeTarget(info, `backend-${namespace}-${service}`, null);
  if (unregister) await unregisterBackend(info.kubeconfig, { namespace, service }).catch(() => {});
  // Read-modify-write with no await in between: backends started or stopped meanwhile (in parallel)
  // keep their records.
  const fresh = readState(info.dir);
  if (!fresh) return;
  fresh.backends = fresh.backends.filter((b) => !(b.namespace === namespace && b.service === service && b.pid === rec.pid));
  writeState(fresh);
}

/** Changes a running backend's error rate and latency. */
export async function setBackend(info: TestbedInfo, namespace: string, service: string, cfg: { errorRate?: number; latencyMs?: number }): Promise<void> {
  const rec = readState(info.dir)?.backends.find((b) => b.namespace === namespace && b.service === service);
  if (!rec) throw new Error(`no backend running for ${namespace}/${service}`);
  const res = await fetch(`http://127.0.0.1:${rec.port}/__admin/config`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(cfg) });
  if (!res.ok) throw new Error(`backend ${namespace}/${service}: ${res.status} ${await res.text()}`);
}
