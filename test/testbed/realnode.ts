// The testbed's real node: containerd + runc + CNI bridge + a kubelet, so that pods which must really
// run (the operator from the chart, workers, comparators) run here, next to the KWOK nodes that
// simulate scale. Everything it starts lives under <testbed dir>/realnode; what it changes on the host
// (sysctls, iptables chains, cgroups, mounts, the bridge) is recorded before and undone by `down`, or
// by the next `up` after a crash. See ../shared/research/real-kubelet.md for how each piece was found.
//
// One real node per machine: cgroups (/kubepods), the kubelet's iptables chains, sysctls and
// containerd's shim sockets (/run/containerd) are host-wide. A lock under the cache directory, held by
// a small process for the testbed's lifetime, serializes testbeds; its file names the holder.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BACKEND_IMAGE, backendImageSpec, buildImage, operatorImageSpec, pauseImageSpec, PAUSE_IMAGE, OPERATOR_IMAGE, queueWorkerImageSpec, redisImageSpec, type BuiltImage } from './images.ts';
import { CACHE_DIR, ensureBinaries, resolveRealNodeBinaries } from './paths.ts';
import { CLUSTER_DNS_IP, CLUSTER_DOMAIN, COREDNS_IMAGE, coreDnsImageSpec } from './cluster-services.ts';
import { ensureClientCert, type Pki } from './pki.ts';
import { freePort, isAlive, killPid, probe, sleep, startDetached, type Started } from './procs.ts';

const execFileP = promisify(execFile);

export const REAL_NODE_NAME = 'cutover-real-node';
/** The label every pod that must really run selects (nodeSelector), and the taint it must tolerate. */
export const REAL_NODE_LABEL = { key: 'cutover.dev/node', value: 'real' } as const;
export const REAL_NODE_TAINT = { key: 'cutover.dev/real-node', value: 'true', effect: 'NoSchedule' } as const;
export const BRIDGE = 'cutover0';
export const NODE_IP = '10.88.0.1';
export const POD_SUBNET = '10.88.0.0/24';
export const LOCK_FILE = join(CACHE_DIR, 'real-node.lock');
export { PAUSE_IMAGE, OPERATOR_IMAGE };

export interface RealNodeInfo {
  available: true;
  name: string;
  ip: string;
  containerdSocket: string;
  kubeletPort: number;
  images: { pause: string; operator: string; backend: string; coredns: string };
  /**
   * The `kubernetes` Service's endpoint: the node IP on the API server's own port, forwarded to the
   * API server on 127.0.0.1. Pods use the Service (10.96.0.1:443, through kube-proxy) as in any
   * cluster; the certificate names both addresses.
   */
  apiServer: { host: string; port: number };
}
export interface RealNodeUnavailable { available: false; reason: string }
export type RealNodeStatus = RealNodeInfo | RealNodeUnavailable;

/** Where the real node keeps its files, under the testbed's directory. */
export function realNodePaths(dir: string) {
  const r = join(dir, 'realnode');
  return {
    root: r,
    hostBefore: join(r, 'host-before.json'),
    containerdRoot: join(r, 'containerd', 'root'),
    containerdState: join(r, 'containerd', 'state'),
    containerdConfig: join(r, 'containerd', 'config.toml'),
    containerdSocket: join(r, 'containerd', 'containerd.sock'),
    containerdOpt: join(r, 'containerd', 'opt'),
    runcRoot: join(r, 'runc'),
    cniConf: join(r, 'cni', 'net.d'),
    cniIpam: join(r, 'cni', 'ipam'),
    kubeletRoot: join(r, 'kubelet'),
    kubeletConfig: join(r, 'kubelet-config.yaml'),
    kubeletKubeconfig: join(r, 'kubelet.kubeconfig'),
    kubeProxyConfig: join(r, 'kube-proxy-config.yaml'),
    kubeProxyKubeconfig: join(r, 'kube-proxy.kubeconfig'),
    podLogs: join(r, 'pod-logs'),
  };
}


/** Why the real node cannot run on this machine, or undefined when it can. */
export function realNodeBlocker(): string | undefined {
  if (process.env.CUTOVER_REAL_NODE === '0') return 'CUTOVER_REAL_NODE=0 (the testbed was started without its real node)';
  if (process.platform !== 'linux') return `containerd needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return `containerd and the kubelet need root (uid ${process.getuid?.()}): run the testbed as root, or use KWOK nodes only`;
  return undefined;
}

// -------------------------------------------------------------------------------------------------
// Host state: what the kubelet, containerd and the CNI plugins change on the machine.

/** Sysctls the kubelet (setupKernelTunables) and the bridge plugin (isGateway → IP forwarding) set. */
export const SYSCTLS = [
  'vm/overcommit_memory', 'vm/panic_on_oom', 'kernel/panic', 'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys', 'kernel/keys/root_maxbytes', 'net/ipv4/ip_forward', 'net/ipv6/conf/all/forwarding',
  // kube-proxy (iptables mode): localhost NodePorts and conntrack sizing. The configuration below
  // asks for neither; recorded anyway, so a kube-proxy upgrade that starts writing them is undone.
  'net/ipv4/conf/all/route_localnet', 'net/netfilter/nf_conntrack_max',
] as const;

export interface HostState {
  sysctls: Record<string, string | null>;
  links: string[];
  /** iptables-save / ip6tables-save: chains and rules, counters dropped. */
  iptables: string[];
  /** Top-level cgroups in every hierarchy ("memory:/kubepods"). */
  cgroups: string[];
  mounts: string[];
  runContainerd: boolean;
  varLogContainers: string[] | null;
}

function readSysctl(name: string): string | null {
  try { return readFileSync(join('/proc/sys', name), 'utf8').trim(); } catch { return null; }
}

function cgroupMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((l) => l.split(' '))
    .filter((f) => { const sep = f.indexOf('-'); return sep > 0 && /^cgroup2?$/.test(f[sep + 1] ?? ''); })
    .map((f) => f[4]!);
}

function mountPoints(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')[4]!.replace(/\\040/g, ' '));
}

function iptablesRules(): string[] {
  const out: string[] = [];
  for (const [fam, cmd] of [['ip', 'iptables-save'], ['ip6', 'ip6tables-save']] as const) {
    let text = '';
    try { text = execFileSync(cmd, [], { stdio: ['ignore', 'pipe', 'ignore'] }).toString(); } catch { continue; }
    let table = '';
    for (const l of text.split('\n')) {
      if (l.startsWith('*')) table = l.slice(1);
      else if (l.startsWith(':')) {
        // A built-in chain (INPUT, OUTPUT, …) with policy ACCEPT and no rules is what a table that was
        // never loaded amounts to: the first iptables use on a fresh machine creates them, and they
        // cannot be deleted. Recorded only when its policy was changed; its rules are recorded below.
        const [chain, policy] = l.slice(1).split(' ');
        if (policy !== 'ACCEPT') out.push(`${fam} ${table} chain ${chain}`);
      }
      else if (l.startsWith('-A ')) out.push(`${fam} ${table} ${l.replace(/^\[\d+:\d+\] /, '')}`);
    }
  }
  return out.sort();
}

/** The host state the real node changes, as it is now. */
export function hostState(): HostState {
  const sysctls: Record<string, string | null> = {};
  for (const s of SYSCTLS) sysctls[s] = readSysctl(s);
  const cgroups: string[] = [];
  for (const m of cgroupMounts()) {
    try { for (const e of readdirSync(m, { withFileTypes: true })) if (e.isDirectory()) cgroups.push(`${m}:/${e.name}`); } catch { /* gone */ }
  }
  let varLogContainers: string[] | null = null;
  try { varLogContainers = readdirSync('/var/log/containers').sort(); } catch { /* absent */ }
  return {
    sysctls,
    links: readdirSync('/sys/class/net').sort(),
    iptables: iptablesRules(),
    cgroups: cgroups.sort(),
    mounts: mountPoints().sort(),
    runContainerd: existsSync('/run/containerd'),
    varLogContainers,
  };
}

// -------------------------------------------------------------------------------------------------
// The lock.

/** The testbed directory and pid named in the lock file (whoever held it last). */
function lockHolder(): { dir: string; pid: number } | undefined {
  try {
    const [dir, pid] = readFileSync(LOCK_FILE, 'utf8').trim().split('\n');
    return dir ? { dir, pid: Number(pid) } : undefined;
  } catch { return undefined; }
}

/**
 * Takes the machine's real-node lock for the testbed in `dir`: a detached `flock` child holds it
 * until `down` kills it (or the machine forgets it when the holder dies). Throws, with one line
 * naming the holder, when another testbed holds it.
 */
export async function acquireLock(dir: string, log: string, retry = true): Promise<{ holder: Started; previous?: { dir: string; pid: number } }> {
  mkdirSync(CACHE_DIR, { recursive: true });
  const previous = lockHolder();
  const script = 'printf "%s\\n%s\\n" "$CUTOVER_TB_DIR" "$$" > "$CUTOVER_LOCK"; echo locked; exec sleep 2147483647';
  writeFileSync(log, '');
  const holder = startDetached('real-node-lock', '/usr/bin/flock', ['-n', '-E', '75', LOCK_FILE, '-c', script], log,
    { ...process.env, CUTOVER_TB_DIR: dir, CUTOVER_LOCK: LOCK_FILE });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (readFileSync(log, 'utf8').includes('locked')) return { holder, previous };
    if (!isAlive(holder.pid)) {
      const h = lockHolder();
      // Our own directory's holder, orphaned by a start that crashed before it wrote its state: the
      // directory is ours, so is the lock.
      if (h && h.dir === dir && retry && isAlive(h.pid)) {
        await killPid(h.pid);
        return acquireLock(dir, log, false);
      }
      throw new Error(`the real node is in use by the testbed in ${h?.dir ?? '(unknown)'} (lock ${LOCK_FILE}, holder pid ${h?.pid ?? '?'}): stop it with TESTBED_DIR=${h?.dir ?? '…'} npm run testbed -- down, or start this one without a real node: CUTOVER_REAL_NODE=0`);
    }
    if (Date.now() > deadline) throw new Error(`could not take the real-node lock ${LOCK_FILE} within 10 s; see ${log}`);
    await sleep(20);
  }
}

// -------------------------------------------------------------------------------------------------
// Configuration files.

export function containerdConfig(p: ReturnType<typeof realNodePaths>, runc: string, cniBinDir: string): string {
  return `version = 2
root = "${p.containerdRoot}"
state = "${p.containerdState}"
# containerd's own oom_score_adj stays 0: root here lacks CAP_SYS_RESOURCE and cannot lower it.
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "${p.containerdSocket}"
[ttrpc]
  address = ""
[debug]
  address = ""
[metrics]
  address = ""

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "${p.containerdOpt}"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "${PAUSE_IMAGE}"
    # CRI gives sandboxes oom_score_adj -998; lowering it needs CAP_SYS_RESOURCE, which this VM's root
    # lacks (runc fails "can't get final child's PID from pipe: EOF"). Clamp to containerd's own value.
    restrict_oom_score_adj = true
    # Network namespaces under the state directory, not /var/run/netns: everything stays ours.
    netns_mounts_under_state_dir = true
    disable_apparmor = true
    enable_selinux = false
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    enable_cdi = false
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      discard_unpacked_layers = false
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          BinaryName = "${runc}"
          Root = "${p.runcRoot}"
          SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "${cniBinDir}"
      conf_dir = "${p.cniConf}"
      max_conf_num = 1
`;
}

export function cniConflist(p: ReturnType<typeof realNodePaths>): string {
  return JSON.stringify({
    cniVersion: '0.4.0',
    name: 'cutover',
    plugins: [{
      type: 'bridge', bridge: BRIDGE, isGateway: true, ipMasq: false, hairpinMode: true,
      // A default route through the node: Service ClusterIPs (kube-proxy's rules on the host) are
      // outside the pod subnet.
      ipam: { type: 'host-local', ranges: [[{ subnet: POD_SUBNET, gateway: NODE_IP }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: p.cniIpam },
    }],
  }, null, 2);
}

function kubeletConfig(p: ReturnType<typeof realNodePaths>, pki: Pki, port: number, healthzPort: number): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# The API server reaches the kubelet at the node IP (the bridge), for kubectl logs/exec/port-forward.
address: ${NODE_IP}
port: ${port}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${healthzPort}
# PID 1 is not systemd and the cgroups are v1 (hybrid): cgroupfs, and v1 explicitly allowed.
cgroupDriver: cgroupfs
failCgroupV1: false
containerRuntimeEndpoint: unix://${p.containerdSocket}
authentication:
  x509: {clientCAFile: ${pki.caCert}}
  webhook: {enabled: false}
  anonymous: {enabled: false}
authorization: {mode: AlwaysAllow}
podLogsDir: ${p.podLogs}
resolvConf: ""
# The cluster DNS (cluster-services.ts: CoreDNS behind kube-dns) in every pod's resolv.conf.
clusterDNS: [${CLUSTER_DNS_IP}]
clusterDomain: ${CLUSTER_DOMAIN}
failSwapOn: false
# Never evict for a full disk of the development machine, never delete the hand-imported images.
evictionHard: {memory.available: "1%", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
maxPods: 60
registerWithTaints:
  - {key: ${REAL_NODE_TAINT.key}, value: "${REAL_NODE_TAINT.value}", effect: ${REAL_NODE_TAINT.effect}}
`;
}

/**
 * kube-proxy in iptables mode: Service ClusterIPs work from pods and from the host (the gateway,
 * Prometheus, Alertmanager reach a Service as a cluster client would). masqueradeAll: a pod talking
 * to a Service backed by a pod on the same bridge gets its answer back through the host (no
 * br_netfilter needed). Conntrack sysctls are left as they are (0 = do not touch); NodePorts only
 * on the node IP, so route_localnet stays off.
 */
export function kubeProxyConfig(p: ReturnType<typeof realNodePaths>, healthzPort: number, metricsPort: number): string {
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: ${p.kubeProxyKubeconfig}}
hostnameOverride: ${REAL_NODE_NAME}
mode: iptables
clusterCIDR: ${POD_SUBNET}
bindAddress: ${NODE_IP}
healthzBindAddress: 127.0.0.1:${healthzPort}
metricsBindAddress: 127.0.0.1:${metricsPort}
nodePortAddresses: ["${NODE_IP}/32"]
iptables: {masqueradeAll: true, syncPeriod: 30s, minSyncPeriod: 0s}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
`;
}

// -------------------------------------------------------------------------------------------------
// Start.

async function ctr(sock: string, ctrBin: string, args: string[]): Promise<string> {
  const { stdout } = await execFileP(ctrBin, ['--address', sock, '--namespace', 'k8s.io', ...args], { maxBuffer: 16 << 20 });
  return stdout;
}

/** Imports a built image into containerd unless this containerd root already has exactly it. */
async function importImage(p: ReturnType<typeof realNodePaths>, ctrBin: string, img: BuiltImage): Promise<void> {
  const marker = join(p.containerdRoot, `cutover-imported-${img.ref.replace(/[^a-zA-Z0-9_.-]/g, '_')}`);
  const have = existsSync(marker) ? readFileSync(marker, 'utf8') : '';
  if (have === img.configDigest) {
    const listed = await ctr(p.containerdSocket, ctrBin, ['images', 'ls', '-q', `name==${img.ref}`]).catch(() => '');
    if (listed.trim() === img.ref) return;
  }
  await ctr(p.containerdSocket, ctrBin, ['images', 'import', img.archive]);
  writeFileSync(marker, img.configDigest);
}

/** Builds the node's images (each cached by its content) and imports those containerd does not have as built. */
async function importImages(p: ReturnType<typeof realNodePaths>, bin: ReturnType<typeof resolveRealNodeBinaries>): Promise<void> {
  const operator = operatorImageSpec();
  const images = await Promise.all([
    buildImage(pauseImageSpec(bin.busybox)), buildImage(operator), buildImage(backendImageSpec(operator)), buildImage(coreDnsImageSpec(bin.coredns)),
    // The worker-cutover tests' queue: Redis and the BullMQ consumer (test/testbed/queue/).
    buildImage(redisImageSpec(bin.redisServer)), buildImage(queueWorkerImageSpec(operator)),
  ]);
  for (const img of images) await importImage(p, bin.ctr, img);
}

/**
 * For a testbed that is reused: the images rebuilt from this checkout (the operator, the backend, the queue's)
 * and imported where they changed, so pods started from now on run the code as it is.
 */
export async function refreshRealNodeImages(dir: string): Promise<void> {
  // A testbed started by an older checkout may predate a binary an image is made of now (redis-server):
  // installed first, then resolved.
  await ensureBinaries([], { realNode: true });
  await importImages(realNodePaths(dir), resolveRealNodeBinaries());
}

/** The processes of the real node (the lock is the testbed's). */
export const REAL_NODE_PROCESSES = ['containerd', 'kubelet', 'kube-proxy', 'apiserver-pod-proxy'];

export interface RealNodeStart { processes: Started[]; info: RealNodeInfo; ready: Promise<void> }

function run(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * Starts containerd (now) and, once `kubeconfigReady` resolves, the kubelet. The host state is
 * recorded first, in realnode/host-before.json, for `stopRealNode` to restore.
 */
export async function startRealNode(dir: string, pki: Pki, apiServerUrl: string, log: (n: string) => string, track: (s: Started) => Started, reusePorts = false, forwardPorts: number[] = []): Promise<RealNodeStart> {
  const bin = resolveRealNodeBinaries();
  const p = realNodePaths(dir);
  // A leftover of this directory's last run (a crash) is undone before the new "before" is taken.
  if (existsSync(p.hostBefore)) await stopRealNode(dir, []);
  for (const d of [p.containerdRoot, p.containerdState, p.containerdOpt, p.runcRoot, p.cniConf, p.cniIpam, p.kubeletRoot, p.podLogs]) mkdirSync(d, { recursive: true });
  writeFileSync(p.hostBefore, JSON.stringify(hostState(), null, 2));

  writeFileSync(p.containerdConfig, containerdConfig(p, bin.runc, bin.cniBinDir));
  const containerd = track(startDetached('containerd', bin.containerd, ['--config', p.containerdConfig, '--log-level', 'warn'], log('containerd')));

  // The bridge exists before the kubelet: its address is the node IP the kubelet binds to.
  if (!readdirSync('/sys/class/net').includes(BRIDGE)) {
    run('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
    run('ip', ['addr', 'add', `${NODE_IP}/24`, 'dev', BRIDGE]);
  }
  run('ip', ['link', 'set', BRIDGE, 'up']);
  writeFileSync(join(p.cniConf, '10-cutover.conflist'), cniConflist(p));

  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await ctr(p.containerdSocket, bin.ctr, ['version']).then(() => true, () => false);
    if (ok) break;
    if (!isAlive(containerd.pid)) throw new Error(`containerd exited before it was ready; see ${containerd.log}`);
    if (Date.now() > deadline) throw new Error(`containerd not ready after 30 s; see ${containerd.log}`);
    await sleep(100);
  }
  await importImages(p, bin);

  const cert = ensureClientCert(pki, `kubelet-${REAL_NODE_NAME}`, `system:node:${REAL_NODE_NAME}`, 'system:nodes');
  writeFileSync(p.kubeletKubeconfig, `apiVersion: v1
kind: Config
clusters: [{name: testbed, cluster: {server: "${apiServerUrl}", certificate-authority: ${pki.caCert}}}]
users: [{name: kubelet, user: {client-certificate: ${cert.cert}, client-key: ${cert.key}}}]
contexts: [{name: testbed, context: {cluster: testbed, user: kubelet}}]
current-context: testbed
`, { mode: 0o600 });
  const proxyCert = ensureClientCert(pki, 'kube-proxy', 'system:kube-proxy', 'cutover:testbed');
  writeFileSync(p.kubeProxyKubeconfig, `apiVersion: v1
kind: Config
clusters: [{name: testbed, cluster: {server: "${apiServerUrl}", certificate-authority: ${pki.caCert}}}]
users: [{name: kube-proxy, user: {client-certificate: ${proxyCert.cert}, client-key: ${proxyCert.key}}}]
contexts: [{name: testbed, context: {cluster: testbed, user: kube-proxy}}]
current-context: testbed
`, { mode: 0o600 });
  // A restart of the node (reusePorts) keeps its ports: the info that tests were given stays true.
  const portsFile = join(p.root, 'ports.json');
  const saved = reusePorts && existsSync(portsFile) ? JSON.parse(readFileSync(portsFile, 'utf8')) as number[] : [];
  const [port, healthzPort, kpHealthzPort, kpMetricsPort] = saved.length === 4 ? saved as [number, number, number, number]
    : [await freePort(), await freePort(), await freePort(), await freePort()];
  writeFileSync(portsFile, JSON.stringify([port, healthzPort, kpHealthzPort, kpMetricsPort]));
  // Pods reach the API server as in any cluster: the \`kubernetes\` Service (10.96.0.1:443), whose
  // endpoint the API server publishes as its advertise address, 10.88.0.1, on its own port; there,
  // on the bridge, a forwarder hands the connection to the API server on 127.0.0.1.
  const apiPort = Number(new URL(apiServerUrl).port);
  // The same forwarder carries the other host servers pods use (Prometheus), port for port.
  const pairs = [apiPort, ...forwardPorts].flatMap((port) => [`${NODE_IP}:${port}`, `127.0.0.1:${port}`]);
  const proxy = track(startDetached('apiserver-pod-proxy', process.execPath, [join(import.meta.dirname, 'tcp-forward.ts'), ...pairs], log('apiserver-pod-proxy')));
  writeFileSync(p.kubeletConfig, kubeletConfig(p, pki, port, healthzPort));
  const kubelet = track(startDetached('kubelet', bin.kubelet, [
    `--config=${p.kubeletConfig}`, `--kubeconfig=${p.kubeletKubeconfig}`, `--root-dir=${p.kubeletRoot}`,
    `--hostname-override=${REAL_NODE_NAME}`, `--node-ip=${NODE_IP}`,
    `--node-labels=${REAL_NODE_LABEL.key}=${REAL_NODE_LABEL.value}`, '-v=1',
  ], log('kubelet')));
  writeFileSync(p.kubeProxyConfig, kubeProxyConfig(p, kpHealthzPort, kpMetricsPort));
  const kubeProxy = track(startDetached('kube-proxy', bin.kubeProxy, [`--config=${p.kubeProxyConfig}`, '-v=1'], log('kube-proxy')));
  const ready = (async () => {
    const until = Date.now() + 60_000;
    for (;;) {
      // kube-proxy's /healthz is 200 once it has synced its rules after start (503 before).
      if ((await probe(`http://127.0.0.1:${healthzPort}/healthz`)).status === 200
        && (await probe(`http://127.0.0.1:${kpHealthzPort}/healthz`)).status === 200
        && (await probe(`https://${NODE_IP}:${apiPort}/readyz`, { insecure: true })).status !== 0) return;
      if (!isAlive(proxy.pid)) throw new Error(`the API server forwarder for pods exited; see ${proxy.log}`);
      if (!isAlive(kubelet.pid)) throw new Error(`kubelet exited before it was ready; see ${kubelet.log}`);
      if (!isAlive(kubeProxy.pid)) throw new Error(`kube-proxy exited before it was ready; see ${kubeProxy.log}`);
      if (Date.now() > until) throw new Error(`kubelet or kube-proxy not healthy after 60 s; see ${kubelet.log} and ${kubeProxy.log}`);
      await sleep(100);
    }
  })();
  return {
    processes: [containerd, kubelet, kubeProxy, proxy],
    info: { available: true, name: REAL_NODE_NAME, ip: NODE_IP, containerdSocket: p.containerdSocket, kubeletPort: port, images: { pause: PAUSE_IMAGE, operator: OPERATOR_IMAGE, backend: BACKEND_IMAGE, coredns: COREDNS_IMAGE }, apiServer: { host: NODE_IP, port: apiPort } },
    ready,
  };
}

// -------------------------------------------------------------------------------------------------
// Stop and undo.

function procsWhere(test: (cmdline: string) => boolean): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try { if (test(readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').join(' '))) out.push(Number(e)); } catch { /* gone */ }
  }
  return out;
}

/** Every process in a cgroup subtree, in any hierarchy. */
function cgroupProcs(rel: string): number[] {
  const pids = new Set<number>();
  const walk = (d: string) => {
    try { for (const l of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (l) pids.add(Number(l)); } catch { /* none */ }
    try { for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name)); } catch { /* gone */ }
  };
  for (const m of cgroupMounts()) walk(join(m, rel));
  return [...pids];
}

/** rmdir a cgroup subtree, children first, in every hierarchy. */
function removeCgroup(rel: string): void {
  const walk = (d: string) => {
    let entries: string[] = [];
    try { entries = readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name); } catch { return; }
    for (const e of entries) walk(join(d, e));
    try { rmdirSync(d); } catch { /* busy or gone: reported by the host-state check */ }
  };
  for (const m of cgroupMounts()) walk(join(m, rel));
}

function tryRun(cmd: string, args: string[]): boolean {
  try { execFileSync(cmd, args, { stdio: 'ignore' }); return true; } catch { return false; }
}

/** One pass of undoing the host changes, back to `before` (processes already stopped). */
function undoHost(before: HostState, p: ReturnType<typeof realNodePaths>): void {
  for (const pid of cgroupProcs('kubepods')) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  // Mounts under the real node's directory (kubelet root-dir bind, volumes, rootfs overlays, netns,
  // shm), deepest first.
  for (let i = 0; i < 5; i++) {
    const ours = mountPoints().filter((m) => m === p.root || m.startsWith(`${p.root}/`)).sort((a, b) => b.length - a.length);
    if (ours.length === 0) break;
    for (const m of ours) if (!tryRun('umount', [m])) tryRun('umount', ['-l', m]);
  }

  // Network: veths go with their namespaces; the bridge is ours unless it was there before.
  if (!before.links.includes(BRIDGE)) tryRun('ip', ['link', 'del', BRIDGE]);
  rmSync(p.cniIpam, { recursive: true, force: true });

  // iptables: new rules in chains that were there before (the jumps from INPUT/OUTPUT), then every
  // new chain flushed, then deleted (a chain still referenced cannot be).
  const was = new Set(before.iptables);
  const now = iptablesRules().filter((r) => !was.has(r));
  const newChains = now.filter((x) => / chain /.test(x)).map((r) => r.split(' '));
  const cmdOf = (fam: string | undefined) => (fam === 'ip6' ? 'ip6tables' : 'iptables');
  for (const r of now.filter((x) => / -A /.test(x))) {
    const [fam, table, ...rule] = splitArgs(r);
    if (newChains.some((c) => c[0] === fam && c[1] === table && c[3] === rule[1])) continue;
    tryRun(cmdOf(fam), ['-t', table!, '-D', ...rule.slice(1)]);
  }
  for (const [fam, table, , chain] of newChains) tryRun(cmdOf(fam), ['-t', table!, '-F', chain!]);
  for (const [fam, table, , chain] of newChains) tryRun(cmdOf(fam), ['-t', table!, '-X', chain!]);

  // cgroups the kubelet and runc made.
  for (const c of ['kubepods', 'k8s.io']) {
    if (!before.cgroups.some((x) => x.endsWith(`:/${c}`))) removeCgroup(c);
  }

  // Sysctls back to their values before.
  for (const [name, value] of Object.entries(before.sysctls)) {
    if (value === null) continue;
    if (readSysctl(name) !== value) { try { writeFileSync(join('/proc/sys', name), value); } catch { /* reported by the check */ } }
  }

  if (!before.runContainerd) rmSync('/run/containerd', { recursive: true, force: true });
  if (before.varLogContainers === null) rmSync('/var/log/containers', { recursive: true, force: true });
  else {
    for (const f of readdirSync('/var/log/containers')) if (!before.varLogContainers.includes(f)) rmSync(join('/var/log/containers', f), { force: true });
  }
}

/**
 * Stops the real node of the testbed in `dir` and undoes what it changed on the host, back to
 * realnode/host-before.json: containers and shims, the kubelet and containerd, mounts under the
 * directory, the bridge, iptables chains and rules, cgroups, sysctls, /run/containerd,
 * /var/log/containers. Safe to run after a crash (it finds processes by their paths) and twice.
 */
export async function stopRealNode(dir: string, processes: Started[]): Promise<void> {
  const p = realNodePaths(dir);
  if (!existsSync(p.hostBefore)) return;
  const before = JSON.parse(readFileSync(p.hostBefore, 'utf8')) as HostState;
  const kubelet = processes.find((x) => x.name === 'kubelet');
  const containerd = processes.find((x) => x.name === 'containerd');
  // The kubelet first, so that it does not restart what is stopped next.
  if (kubelet) await killPid(kubelet.pid);
  for (const pid of procsWhere((c) => c.includes(`--root-dir=${p.kubeletRoot}`))) await killPid(pid);
  // kube-proxy before its chains are removed, so that it does not write them again.
  const kubeProxy = processes.find((x) => x.name === 'kube-proxy');
  if (kubeProxy) await killPid(kubeProxy.pid);
  for (const pid of procsWhere((c) => c.includes(`--config=${p.kubeProxyConfig}`))) await killPid(pid);

  // Containers and sandboxes through containerd while it runs: tasks killed and deleted, so the
  // shims exit and remove their sockets; then the containers' records, so nothing is restored later.
  let ctrBin: string | undefined;
  try { ctrBin = resolveRealNodeBinaries().ctr; } catch { /* not installed: nothing ran */ }
  if (ctrBin && containerd && isAlive(containerd.pid)) {
    const tasks = (await ctr(p.containerdSocket, ctrBin, ['tasks', 'ls', '-q']).catch(() => '')).split('\n').filter(Boolean);
    await Promise.all(tasks.map((t) => ctr(p.containerdSocket, ctrBin!, ['tasks', 'kill', '-a', '-s', 'SIGKILL', t]).catch(() => '')));
    await Promise.all(tasks.map((t) => ctr(p.containerdSocket, ctrBin!, ['tasks', 'rm', '-f', t]).catch(() => '')));
    const containers = (await ctr(p.containerdSocket, ctrBin, ['containers', 'ls', '-q']).catch(() => '')).split('\n').filter(Boolean);
    if (containers.length > 0) await ctr(p.containerdSocket, ctrBin, ['containers', 'rm', ...containers]).catch(() => '');
  }
  // Whatever is still running in the pods' cgroups (after a crash of containerd), then the shims.
  for (let i = 0; i < 3; i++) {
    const left = cgroupProcs('kubepods');
    if (left.length === 0) break;
    for (const pid of left) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    await sleep(200);
  }
  if (containerd) await killPid(containerd.pid);
  const proxy = processes.find((x) => x.name === 'apiserver-pod-proxy');
  if (proxy) await killPid(proxy.pid);
  // After a crash: the forwarder found by its arguments (one real node per machine: it is ours).
  for (const pid of procsWhere((c) => c.includes('tcp-forward.ts') && c.includes(` ${NODE_IP}:`))) await killPid(pid);
  for (const pid of procsWhere((c) => c.includes(p.containerdSocket) || c.includes(p.containerdConfig))) await killPid(pid, 2000);

  // Undone in passes until the host is as before: a killed process leaves its cgroup only once it
  // is reaped, a network namespace (and its veth) goes asynchronously.
  let left: string[] = [];
  for (let pass = 0; pass < 20; pass++) {
    undoHost(before, p);
    left = hostStateDiff(before, hostState());
    if (left.length === 0) break;
    await sleep(250);
  }
  if (left.length > 0) process.stderr.write(`[testbed] the real node's host changes are not all undone:\n  ${left.join('\n  ')}\n`);
  // containerd's state (task bundles, fifos) and the kubelet's root go; its root (images) stays for the next up.
  rmSync(p.containerdState, { recursive: true, force: true });
  rmSync(p.kubeletRoot, { recursive: true, force: true });
  rmSync(p.hostBefore, { force: true });
}

/** Splits an iptables-save rule into arguments (double-quoted strings kept whole). */
function splitArgs(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return out;
}

/** Differences between two host states, one line each (empty when equal). */
export function hostStateDiff(before: HostState, after: HostState): string[] {
  const out: string[] = [];
  for (const k of SYSCTLS) if (before.sysctls[k] !== after.sysctls[k]) out.push(`sysctl ${k}: ${before.sysctls[k]} → ${after.sysctls[k]}`);
  const list = (what: string, a: string[] | null, b: string[] | null) => {
    const A = new Set(a ?? []); const B = new Set(b ?? []);
    for (const x of B) if (!A.has(x)) out.push(`${what} added: ${x}`);
    for (const x of A) if (!B.has(x)) out.push(`${what} removed: ${x}`);
    if ((a === null) !== (b === null)) out.push(`${what}: ${a === null ? 'absent' : 'present'} → ${b === null ? 'absent' : 'present'}`);
  };
  list('link', before.links, after.links);
  list('iptables', before.iptables, after.iptables);
  list('cgroup', before.cgroups, after.cgroups);
  list('mount', before.mounts, after.mounts);
  list('/var/log/containers', before.varLogContainers, after.varLogContainers);
  if (before.runContainerd !== after.runContainerd) out.push(`/run/containerd: ${before.runContainerd ? 'present' : 'absent'} → ${after.runContainerd ? 'present' : 'absent'}`);
  return out;
}

/** Kills the lock holder (after the real node is stopped). */
export async function releaseLock(processes: Started[]): Promise<void> {
  const h = processes.find((x) => x.name === 'real-node-lock');
  if (h) await killPid(h.pid);
}

