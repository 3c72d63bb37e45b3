// Runs the operator as a separate process against the testbed, as a user would with `npm start`.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../testbed/paths.ts';
import { freePort, isAlive, killPid, waitReady } from '../testbed/procs.ts';
import type { TestbedInfo } from '../testbed/testbed.ts';

export interface OperatorProcess {
  pid: number;
  port: number;
  url: string;
  log: string;
  /** SIGKILL, no goodbye: the crash case. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
  /** Starts a new process with the same flags (and port). */
  restart(): Promise<void>;
  logText(): string;
  /** How the current process ended; undefined while it runs. A clean shutdown is `{ code: 0, signal: null }`. */
  exitStatus(): ExitStatus | undefined;
}

export interface ExitStatus { code: number | null; signal: NodeJS.Signals | null }

/**
 * Which process answers: its pid, and the start time it reports itself (`process_start_time_seconds`
 * on /metrics). A crash makes it unanswerable (the fetch throws); any restart changes it.
 */
export async function processIdentity(op: OperatorProcess): Promise<{ pid: number; startTimeSeconds: number }> {
  const text = await (await fetch(`${op.url}/metrics`)).text();
  const m = /^process_start_time_seconds (\S+)$/m.exec(text);
  if (!m) throw new Error(`${op.url}/metrics has no process_start_time_seconds`);
  return { pid: op.pid, startTimeSeconds: Number(m[1]) };
}

/**
 * Node flags of the operator process, as in the image's ENTRYPOINT and `npm start` (a unit test
 * keeps the three the same): tests and the bench run the operator with the flags it ships with.
 */
export const OPERATOR_NODE_FLAGS = ['--max-semi-space-size=2', '--heap-growing-percent=20'];

export interface OperatorOptions {
  name?: string;
  namespaces?: string[];
  extraArgs?: string[];
  env?: Record<string, string>;
  /** Use this kubeconfig instead of the testbed's admin one (e.g. one from impersonatingKubeconfig). */
  kubeconfig?: string;
  /**
   * Run the bundle (dist/main.mjs, built first if stale: operator/build.ts), as the image and
   * `npm start` do, instead of the TypeScript sources. The bench does (it measures what ships);
   * tests run the sources unless CUTOVER_TEST_OPERATOR=bundle (to run a suite against the bundle).
   */
  bundle?: boolean;
}

/** The operator's entrypoint: the TypeScript sources, or the bundle (built now if it is stale). */
export async function operatorEntrypoint(bundle = false): Promise<string> {
  if (!bundle) return join(REPO_ROOT, 'operator', 'src', 'main.ts');
  const { DIST, ensureBuilt } = await import('../../operator/build.ts');
  await ensureBuilt();
  return join(DIST, 'main.mjs');
}

export async function startOperator(info: TestbedInfo, opts: OperatorOptions = {}): Promise<OperatorProcess> {
  const port = await freePort();
  const logDir = join(REPO_ROOT, 'test', 'results', 'logs');
  mkdirSync(logDir, { recursive: true });
  const log = join(logDir, `operator-${opts.name ?? 'e2e'}-${Date.now()}.log`);
  const args = [...OPERATOR_NODE_FLAGS, await operatorEntrypoint(opts.bundle ?? process.env.CUTOVER_TEST_OPERATOR === 'bundle'), '--kubeconfig', opts.kubeconfig ?? info.kubeconfig, '--prometheus-url', info.prometheusUrl,
    '--host', '127.0.0.1', '--port', String(port), '--log-level', 'debug',
    ...(opts.namespaces?.length ? ['--namespaces', opts.namespaces.join(',')] : []), ...(opts.extraArgs ?? [])];
  let child: ChildProcess;
  let exit: ExitStatus | undefined;
  const launch = async () => {
    const fd = openSync(log, 'a');
    exit = undefined;
    child = spawn(process.execPath, args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...opts.env }, cwd: REPO_ROOT });
    child.once('exit', (code, signal) => { exit = { code, signal }; });
    closeSync(fd);
    await waitReady('operator', `http://127.0.0.1:${port}/readyz`, child.pid!, log, 60_000);
  };
  await launch();
  const handle: OperatorProcess = {
    get pid() { return child.pid!; },
    port, url: `http://127.0.0.1:${port}`, log,
    async kill9() {
      const pid = child.pid!;
      process.kill(pid, 'SIGKILL');
      while (isAlive(pid)) await new Promise((r) => setTimeout(r, 20));
    },
    async stop() { await killPid(child.pid!, 10_000); },
    async restart() { await launch(); },
    logText() { return readFileSync(log, 'utf8'); },
    exitStatus() { return exit; },
  };
  return handle;
}

/**
 * Writes a kubeconfig that talks to the testbed with the admin token but impersonates `user`
 * (kubeconfig `as:`), e.g. `system:serviceaccount:NS:NAME`: every request is authorised as that user.
 */
export function impersonatingKubeconfig(info: TestbedInfo, user: string, file: string): string {
  const yaml = `apiVersion: v1
kind: Config
clusters:
- name: testbed
  cluster:
    server: ${info.apiServerUrl}
    certificate-authority: ${info.caCert}
users:
- name: impersonated
  user:
    token: ${info.adminToken}
    as: ${JSON.stringify(user)}
contexts:
- name: impersonated
  context: {cluster: testbed, user: impersonated}
current-context: impersonated
`;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, yaml, { mode: 0o600 });
  return file;
}
