// Where the testbed keeps its binaries (a cache shared by every checkout) and its state (per checkout).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CACHE_DIR = process.env.CUTOVER_CACHE_DIR ?? join(homedir(), '.cache', 'cutover');
export const VERSIONS = {
  kubernetes: process.env.K8S_VERSION ?? 'v1.36.4',
  etcd: process.env.ETCD_VERSION ?? 'v3.6.16',
  kwok: process.env.KWOK_VERSION ?? 'v0.8.0',
  gatewayApi: process.env.GATEWAY_API_VERSION ?? 'v1.4.1',
  helm: process.env.HELM_VERSION ?? 'v3.22.0',
  coredns: process.env.COREDNS_VERSION ?? 'v1.14.7',
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

/**
 * The real node's CoreDNS, as build.sh keys it: the CoreDNS version and the hash of the program
 * that picks its plugins (test/testbed/coredns/main.go), so an edit builds anew.
 */
export function coreDnsBinary(): string {
  const sum = createHash('sha256').update(readFileSync(join(REPO_ROOT, 'test', 'testbed', 'coredns', 'main.go'))).digest('hex').slice(0, 12);
  return join(CACHE_DIR, 'bin', `coredns-${VERSIONS.coredns}-${sum}`, 'coredns');
}

/** A binary the testbed needs is not there: which one, where it was looked for, and how to get it. */
export class MissingBinaryError extends Error {
  readonly binary: string;
  constructor(binary: string, looked: string[], how: string) {
    super(`${binary} not found (looked for ${looked.join(', ')}): ${how}`);
    this.name = 'MissingBinaryError';
    this.binary = binary;
  }
}

/** The Go binaries built into the cache (build.sh). Paths only: `resolveBinaries` checks them. */
export const binaries = {
  kubeApiserver: join(binDirs.kubernetes, 'kube-apiserver'),
  kubeControllerManager: join(binDirs.kubernetes, 'kube-controller-manager'),
  kubeScheduler: join(binDirs.kubernetes, 'kube-scheduler'),
  kubectl: join(binDirs.kubernetes, 'kubectl'),
  kubelet: join(binDirs.kubernetes, 'kubelet'),
  kubeProxy: join(binDirs.kubernetes, 'kube-proxy'),
  etcd: join(binDirs.etcd, 'etcd'),
  kwok: join(binDirs.kwok, 'kwok'),
  helm: join(binDirs.helm, 'helm'),
};

/**
 * The Debian packages' binaries (install-system.sh installs them when missing). Resolved when asked,
 * never when this module loads: on a fresh machine they appear only after `ensureBinaries` ran.
 * `CUTOVER_PROMETHEUS_BIN` / `CUTOVER_ALERTMANAGER_BIN` name a binary explicitly (then nothing is installed).
 */
const SYSTEM_BINARIES = {
  prometheus: { env: 'CUTOVER_PROMETHEUS_BIN', names: ['prometheus'], pkg: 'prometheus' },
  // Debian names it prometheus-alertmanager; upstream and other distributions alertmanager.
  alertmanager: { env: 'CUTOVER_ALERTMANAGER_BIN', names: ['prometheus-alertmanager', 'alertmanager'], pkg: 'prometheus-alertmanager' },
} as const;
export type SystemBinary = keyof typeof SYSTEM_BINARIES;

/** The real node's Debian binaries (install-system.sh real-node). Looked up like SYSTEM_BINARIES, no overrides. */
const REAL_NODE_BINARIES = {
  containerd: { names: ['containerd'], pkg: 'containerd' },
  ctr: { names: ['ctr'], pkg: 'containerd' },
  runc: { names: ['runc'], pkg: 'runc' },
  iptables: { names: ['iptables'], pkg: 'iptables' },
  ip6tables: { names: ['ip6tables'], pkg: 'iptables' },
  iptablesSave: { names: ['iptables-save'], pkg: 'iptables' },
  ip6tablesSave: { names: ['ip6tables-save'], pkg: 'iptables' },
  conntrack: { names: ['conntrack'], pkg: 'conntrack' },
  busybox: { names: ['busybox'], pkg: 'busybox-static' },
  // The queue of the worker-cutover tests runs as a pod from an image of this binary (test/testbed/queue/).
  redisServer: { names: ['redis-server'], pkg: 'redis-server' },
} as const;
export type RealNodeBinary = keyof typeof REAL_NODE_BINARIES;
/** Where Debian's containernetworking-plugins puts the CNI plugins, and the ones the real node uses. */
export const CNI_BIN_DIR = '/usr/lib/cni';
const CNI_PLUGINS = ['bridge', 'host-local', 'loopback'];

function executable(path: string): boolean {
  try { accessSync(path, constants.X_OK); return statSync(path).isFile(); } catch { return false; }
}

/** The first of `names` on PATH, /usr/bin, /usr/sbin, /bin, or undefined (and where it looked). */
function findOnPath(names: readonly string[]): { path?: string; looked: string[] } {
  const dirs = [...new Set([...(process.env.PATH ?? '').split(delimiter).filter((d) => isAbsolute(d)), '/usr/bin', '/usr/sbin', '/bin'])];
  const looked = names.map((n) => `${n} on PATH, /usr/bin, /usr/sbin`);
  for (const n of names) for (const d of dirs) if (executable(join(d, n))) return { path: join(d, n), looked };
  return { looked };
}

/** Where a system binary is now (its override, else the first of its names on PATH, /usr/bin, /usr/sbin), or undefined. */
function findSystemBinary(which: SystemBinary): { path?: string; looked: string[] } {
  const b = SYSTEM_BINARIES[which];
  const override = process.env[b.env];
  if (override) return executable(override) ? { path: override, looked: [override] } : { looked: [`${override} (${b.env})`] };
  return findOnPath(b.names);
}

function missingRealNodeBinaries(): RealNodeBinary[] {
  return (Object.keys(REAL_NODE_BINARIES) as RealNodeBinary[]).filter((b) => !findOnPath(REAL_NODE_BINARIES[b].names).path);
}

/**
 * The real node's binaries: the Debian ones, the CNI plugins and kubelet. Checked when `up` starts the
 * real node (after `ensureBinaries({ realNode: true })`); a missing one is a MissingBinaryError.
 */
export function resolveRealNodeBinaries(): Record<RealNodeBinary, string> & { kubelet: string; kubeProxy: string; coredns: string; cniBinDir: string } {
  const out: Partial<Record<RealNodeBinary, string>> = {};
  for (const [name, b] of Object.entries(REAL_NODE_BINARIES) as Array<[RealNodeBinary, (typeof REAL_NODE_BINARIES)[RealNodeBinary]]>) {
    const found = findOnPath(b.names);
    if (!found.path) throw new MissingBinaryError(name, found.looked, `install the Debian package ${b.pkg} (apt-get install ${b.pkg}; test/testbed/build/install-system.sh real-node does it as root)`);
    out[name] = found.path;
  }
  for (const p of CNI_PLUGINS) {
    if (!executable(join(CNI_BIN_DIR, p))) throw new MissingBinaryError(`CNI plugin ${p}`, [join(CNI_BIN_DIR, p)], 'install the Debian package containernetworking-plugins (test/testbed/build/install-system.sh real-node does it as root)');
  }
  if (!executable(binaries.kubelet)) throw new MissingBinaryError('kubelet', [binaries.kubelet], `build it with: bash test/testbed/build/build.sh kubernetes (npm run testbed -- up runs it; CUTOVER_CACHE_DIR=${CACHE_DIR})`);
  if (!executable(coreDnsBinary())) throw new MissingBinaryError('coredns', [coreDnsBinary()], `build it with: bash test/testbed/build/build.sh coredns (npm run testbed -- up runs it; CUTOVER_CACHE_DIR=${CACHE_DIR})`);
  if (!executable(binaries.kubeProxy)) throw new MissingBinaryError('kube-proxy', [binaries.kubeProxy], `build it with: bash test/testbed/build/build.sh kubernetes (npm run testbed -- up runs it; CUTOVER_CACHE_DIR=${CACHE_DIR})`);
  return { ...(out as Record<RealNodeBinary, string>), kubelet: binaries.kubelet, kubeProxy: binaries.kubeProxy, coredns: coreDnsBinary(), cniBinDir: CNI_BIN_DIR };
}

/** The path of a system binary; a MissingBinaryError that says how to install it when it is not there. */
export function systemBinary(which: SystemBinary): string {
  const found = findSystemBinary(which);
  if (found.path) return found.path;
  const b = SYSTEM_BINARIES[which];
  const how = process.env[b.env]
    ? `${b.env} names a file that is not an executable; unset it or point it at the ${which} binary`
    : `install the Debian package ${b.pkg} (apt-get install ${b.pkg}; test/testbed/build/install-system.sh does it, and npm run testbed -- up runs that script)`;
  throw new MissingBinaryError(which, found.looked, how);
}

/** Every binary the testbed starts, checked to exist and be executable: call after `ensureBinaries`. */
export function resolveBinaries(): typeof binaries & Record<SystemBinary, string> {
  const goBinaries: Record<string, string> = { ...binaries };
  delete goBinaries.helm; // built on demand by the chart tests, not started by `up`
  // The node binaries are checked by resolveRealNodeBinaries, only when the real node starts.
  delete goBinaries.kubelet;
  delete goBinaries.kubeProxy;
  for (const [name, path] of Object.entries(goBinaries)) {
    if (!executable(path)) throw new MissingBinaryError(name, [path], `build it with: bash test/testbed/build/build.sh all (npm run testbed -- up runs it; CUTOVER_CACHE_DIR=${CACHE_DIR})`);
  }
  return { ...binaries, prometheus: systemBinary('prometheus'), alertmanager: systemBinary('alertmanager') };
}

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
    COREDNS_VERSION: VERSIONS.coredns,
    CUTOVER_CACHE_DIR: CACHE_DIR,
  };
}

/**
 * Builds (once, cached) and installs whatever the testbed needs that is missing. Seconds when warm.
 * With `realNode`, also the real node's packages (install-system.sh skips them, with one line, when
 * not root) and kubelet (the kubernetes build's second marker, .complete-node).
 */
export async function ensureBinaries(
  what: Array<'kubernetes' | 'etcd' | 'kwok' | 'gateway-api' | 'helm'> = ['gateway-api', 'etcd', 'kwok', 'kubernetes'],
  opts: { realNode?: boolean } = {},
): Promise<void> {
  const missing = (Object.keys(SYSTEM_BINARIES) as SystemBinary[]).filter((b) => !findSystemBinary(b).path && !process.env[SYSTEM_BINARIES[b].env]);
  const nodeMissing = opts.realNode === true && (missingRealNodeBinaries().length > 0 || CNI_PLUGINS.some((p) => !executable(join(CNI_BIN_DIR, p))));
  if (missing.length > 0 || nodeMissing) await runScript(INSTALL_SCRIPT, [missing.length > 0 && nodeMissing ? 'all' : nodeMissing ? 'real-node' : 'base']);
  for (const w of what) {
    const dir = w === 'gateway-api' ? binDirs.gatewayApi : binDirs[w];
    const complete = existsSync(join(dir, '.complete')) && (w !== 'kubernetes' || existsSync(join(dir, '.complete-node')));
    if (!complete) await runScript(BUILD_SCRIPT, [w]);
  }
  if (opts.realNode === true && !existsSync(join(dirname(coreDnsBinary()), '.complete'))) await runScript(BUILD_SCRIPT, ['coredns']);
}

/** Debian's Chromium, the only browser the dashboard's tests drive (playwright-core never downloads one). */
export const CHROMIUM = '/usr/bin/chromium';

/** Installs Debian's chromium when it is missing (install-system.sh browser, as root). */
export async function ensureChromium(): Promise<string> {
  if (!executable(CHROMIUM)) await runScript(INSTALL_SCRIPT, ['browser']);
  if (!executable(CHROMIUM)) throw new MissingBinaryError('chromium', [CHROMIUM], 'install the Debian package chromium (apt-get install chromium; test/testbed/build/install-system.sh browser does it as root)');
  return CHROMIUM;
}
