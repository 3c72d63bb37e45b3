// Where the testbed keeps its binaries (a cache shared by every checkout) and its state (per checkout).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CACHE_DIR = process.env.CUTOVER_CACHE_DIR ?? join(homedir(), '.cache', 'cutover');
export const VERSIONS = {
  kubernetes: process.env.K8S_VERSION ?? 'v1.36.4',
  etcd: process.env.ETCD_VERSION ?? 'v3.6.16',
  kwok: process.env.KWOK_VERSION ?? 'v0.8.0',
  gatewayApi: process.env.GATEWAY_API_VERSION ?? 'v1.4.1',
  helm: process.env.HELM_VERSION ?? 'v3.22.0',
} as const;

/** The state directory of this checkout's testbed (kubeconfig, env, logs, pids). */
export function testbedDir(): string {
  return resolve(REPO_ROOT, process.env.TESTBED_DIR ?? '.testbed');
}

export const binDirs = {
  kubernetes: join(CACHE_DIR, 'bin', `kubernetes-${VERSIONS.kubernetes}`),
  etcd: join(CACHE_DIR, 'bin', `etcd-${VERSIONS.etcd}`),
  kwok: join(CACHE_DIR, 'bin', `kwok-${VERSIONS.kwok}`),
  gatewayApi: join(CACHE_DIR, 'bin', `gateway-api-${VERSIONS.gatewayApi}`),
  helm: join(CACHE_DIR, 'bin', `helm-${VERSIONS.helm}`),
};

export const binaries = {
  kubeApiserver: join(binDirs.kubernetes, 'kube-apiserver'),
  kubeControllerManager: join(binDirs.kubernetes, 'kube-controller-manager'),
  kubeScheduler: join(binDirs.kubernetes, 'kube-scheduler'),
  kubectl: join(binDirs.kubernetes, 'kubectl'),
  etcd: join(binDirs.etcd, 'etcd'),
  kwok: join(binDirs.kwok, 'kwok'),
  helm: join(binDirs.helm, 'helm'),
  prometheus: '/usr/bin/prometheus',
  alertmanager: existsSync('/usr/bin/prometheus-alertmanager') ? '/usr/bin/prometheus-alertmanager' : '/usr/bin/alertmanager',
};

const BUILD_SCRIPT = join(REPO_ROOT, 'test', 'testbed', 'build', 'build.sh');
const INSTALL_SCRIPT = join(REPO_ROOT, 'test', 'testbed', 'build', 'install-system.sh');

function runScript(script: string, args: string[]): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile('bash', [script, ...args], { env: { ...process.env, ...versionEnv() }, maxBuffer: 64 << 20 });
    // Progress lines go to our stderr as they come, so a cold build shows what it builds and for how long.
    child.stderr?.on('data', (d: Buffer) => process.stderr.write(d));
    child.on('exit', (code) => (code === 0 ? resolvePromise() : reject(new Error(`${script} ${args.join(' ')} exited ${code}`))));
    child.on('error', reject);
  });
}

function versionEnv(): Record<string, string> {
  return {
    K8S_VERSION: VERSIONS.kubernetes,
    ETCD_VERSION: VERSIONS.etcd,
    KWOK_VERSION: VERSIONS.kwok,
    GATEWAY_API_VERSION: VERSIONS.gatewayApi,
    HELM_VERSION: VERSIONS.helm,
    CUTOVER_CACHE_DIR: CACHE_DIR,
  };
}

/** Builds (once, cached) and installs whatever the testbed needs that is missing. Seconds when warm. */
export async function ensureBinaries(what: Array<'kubernetes' | 'etcd' | 'kwok' | 'gateway-api' | 'helm'> = ['gateway-api', 'etcd', 'kwok', 'kubernetes']): Promise<void> {
  if (!existsSync(binaries.prometheus) || !existsSync(binaries.alertmanager)) await runScript(INSTALL_SCRIPT, []);
  for (const w of what) {
    const dir = w === 'gateway-api' ? binDirs.gatewayApi : binDirs[w];
    if (!existsSync(join(dir, '.complete'))) await runScript(BUILD_SCRIPT, [w]);
  }
}
