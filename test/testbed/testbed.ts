// The testbed: a real Kubernetes control plane, a real node (containerd + kubelet, realnode.ts) for pods
// that must run, KWOK nodes for scale, Prometheus, Alertmanager and a Gateway API data plane, on
// 127.0.0.1 (the kubelet on its bridge, 10.88.0.1), started and stopped by the project. Used by the
// tests, the demo and the benchmarks.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, binDirs, binaries, ensureBinaries, resolveBinaries, testbedDir } from './paths.ts';
import { ensureClientCert, ensurePki, kubeconfigYaml } from './pki.ts';
import { clusterServicesManifests } from './cluster-services.ts';
import { acquireLock, NODE_IP, REAL_NODE_LABEL, REAL_NODE_TAINT, realNodeBlocker, refreshRealNodeImages, REAL_NODE_PROCESSES, realNodePaths, releaseLock, startRealNode, stopRealNode, REAL_NODE_NAME, type RealNodeStatus } from './realnode.ts';
import { GATEWAY_CLASS_NAME, gatewayClassStatus, gatewayManifests } from './dataplane/gateway-class.ts';
import { freePort, isAlive, killPid, probe, sleep, startDetached, waitReady, type Started } from './procs.ts';

const execFileP = promisify(execFile);
const NODE = process.execPath;
export const KWOK_NODES = 3;

export interface TestbedInfo {
  dir: string;
  kubeconfig: string;
  apiServerUrl: string;
  prometheusUrl: string;
  alertmanagerUrl: string;
  gatewayUrl: string;
  gatewayMetricsUrl: string;
  /** Directory with kubectl (and the control-plane binaries): put it first on PATH. */
  binDir: string;
  caCert: string;
  adminToken: string;
  promDir: string;
  alertmanagerConfig: string;
  /** The real node (label cutover.dev/node=real, taint cutover.dev/real-node=true:NoSchedule), or why there is none. */
  realNode: RealNodeStatus;
}

export interface TestbedState {
  startedAt: string;
  info: TestbedInfo;
  processes: Started[];
  tmpDirs: string[];
  backends: BackendRecord[];
}

/** A backend pod (backends.ts): where the host reaches it (the pod IP on the node's bridge). */
export interface BackendRecord { namespace: string; service: string; pod: string; address: string; port: number; url: string }

const statePath = (dir: string) => join(dir, 'state.json');

export function readState(dir = testbedDir()): TestbedState | undefined {
  try { return JSON.parse(readFileSync(statePath(dir), 'utf8')) as TestbedState; } catch { return undefined; }
}

export function writeState(state: TestbedState): void {
  writeFileSync(statePath(state.info.dir), JSON.stringify(state, null, 2));
}

function say(msg: string): void { process.stderr.write(`[testbed] ${msg}\n`); }

/** Environment for child processes and shells: KUBECONFIG, the URLs, kubectl on PATH. */
export function testbedEnv(info: TestbedInfo): Record<string, string> {
  return {
    KUBECONFIG: info.kubeconfig,
    PROMETHEUS_URL: info.prometheusUrl,
    ALERTMANAGER_URL: info.alertmanagerUrl,
    GATEWAY_URL: info.gatewayUrl,
    TESTBED_DIR: info.dir,
    PATH: `${info.binDir}:${process.env.PATH ?? ''}`,
  };
}

export async function isHealthy(state: TestbedState): Promise<boolean> {
  if (!state.processes.every((p) => isAlive(p.pid))) return false;
  // A state from before the real node existed: restarted, so that info.realNode is there.
  if (state.info.realNode === undefined) return false;
  const r = await probe(`${state.info.apiServerUrl}/readyz`, { ca: readFileSync(state.info.caCert), token: state.info.adminToken });
  return r.status === 200;
}

export async function kubectl(info: TestbedInfo, args: string[], input?: string): Promise<string> {
  const child = execFileP(binaries.kubectl, ['--kubeconfig', info.kubeconfig, ...args], { maxBuffer: 64 << 20 });
  if (input !== undefined) { child.child.stdin?.end(input); }
  const { stdout } = await child;
  return stdout;
}

export interface StartOptions {
  reuse?: boolean;
  /**
   * Start the real node (default: yes, unless CUTOVER_REAL_NODE=0). Without it the testbed has KWOK
   * nodes only, and `info.realNode` says why; tests that need real pods fail with that reason.
   */
  realNode?: boolean;
}

export interface Testbed { info: TestbedInfo; reused: boolean; stop(): Promise<void> }

/**
 * Starts the testbed (or reuses a healthy one already running from this checkout's state directory).
 * `stop()` stops only what this call started: a reused testbed is left running for its owner.
 */
export async function startTestbed(opts: StartOptions = {}): Promise<Testbed> {
  const dir = testbedDir();
  const existing = readState(dir);
  if (existing && opts.reuse !== false && (await isHealthy(existing))) {
    say(`reusing the running testbed in ${dir}`);
    if (existing.info.realNode.available) await refreshRealNodeImages(dir);
    await applyProjectCrds(existing.info);
    await ensureGatewayClass(existing.info);
    return { info: existing.info, reused: true, stop: async () => {} };
  }
  if (existing) await stopTestbed(dir);
  const t0 = Date.now();
  const noRealNode = opts.realNode === false ? 'the testbed was started without its real node (realNode: false)' : realNodeBlocker();
  if (noRealNode) say(`no real node: ${noRealNode}`);
  await ensureBinaries(undefined, { realNode: !noRealNode });
  // Every binary resolved and checked now, after the install and the build: a missing one stops
  // `up` here, with its name and how to get it, before anything is started.
  const bin = resolveBinaries();
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const pki = ensurePki(join(dir, 'pki'));
  const shm = existsSync('/dev/shm') ? '/dev/shm' : dir;
  const tmpDirs: string[] = [];
  const processes: Started[] = [];
  const state: TestbedState = { startedAt: new Date().toISOString(), info: undefined as unknown as TestbedInfo, processes, tmpDirs, backends: [] };
  const log = (n: string) => join(dir, 'logs', `${n}.log`);
  const track = (s: Started) => { processes.push(s); return s; };
  try {
    // The machine's one real node: taken before anything starts, so a second testbed fails here,
    // with one line naming the holder. A holder that crashed left its host changes: undone now.
    if (!noRealNode) {
      mkdirSync(join(dir, 'realnode'), { recursive: true });
      const lock = await acquireLock(dir, log('real-node-lock'));
      track(lock.holder);
      if (lock.previous && lock.previous.dir !== dir && existsSync(realNodePaths(lock.previous.dir).hostBefore)) {
        say(`undoing the host changes of a real node that did not stop (${lock.previous.dir})`);
        await stopRealNode(lock.previous.dir, []);
      }
    }
    const ports = await Promise.all(Array.from({ length: 9 }, () => freePort()));
    const [etcdClient, etcdPeer, apiPort, cmPort, schedPort, promPort, amPort, gwPort, gwMetricsPort] = ports as [number, number, number, number, number, number, number, number, number];

    // etcd, its data in memory-backed storage: the testbed is disposable and fsync is the slow part.
    const etcdData = mkdtempSync(join(shm, 'cutover-etcd-'));
    tmpDirs.push(etcdData);
    const etcd = track(startDetached('etcd', bin.etcd, [
      '--name', 'testbed', '--data-dir', etcdData, '--unsafe-no-fsync',
      '--listen-client-urls', `http://127.0.0.1:${etcdClient}`, '--advertise-client-urls', `http://127.0.0.1:${etcdClient}`,
      '--listen-peer-urls', `http://127.0.0.1:${etcdPeer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeer}`,
      '--initial-cluster', `testbed=http://127.0.0.1:${etcdPeer}`, '--listen-metrics-urls', '',
      '--log-level', 'warn',
    ], log('etcd')));
    await waitReady('etcd', `http://127.0.0.1:${etcdClient}/health`, etcd.pid, etcd.log, 30_000);
    say(`etcd ready on 127.0.0.1:${etcdClient}`);

    const apiServerUrl = `https://127.0.0.1:${apiPort}`;
    const kubeletClient = ensureClientCert(pki, 'apiserver-kubelet-client', 'kube-apiserver-kubelet-client', 'system:masters');
    const apiserver = track(startDetached('kube-apiserver', bin.kubeApiserver, [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      // With the real node, the \`kubernetes\` Service's endpoint is the node IP (a forwarder there, on
      // the same port, reaches this server on 127.0.0.1; realnode.ts), so in-cluster clients work
      // unchanged. Without it, no pod runs, and 127.0.0.1 (refused by Endpoints validation) is not published.
      '--bind-address=127.0.0.1', `--secure-port=${apiPort}`, `--advertise-address=${noRealNode ? '127.0.0.1' : NODE_IP}`,
      `--tls-cert-file=${pki.serverCert}`, `--tls-private-key-file=${pki.serverKey}`,
      `--client-ca-file=${pki.caCert}`, `--token-auth-file=${pki.tokenFile}`,
      // Node: the kubelet's own credentials (system:node:NAME) reach just what its pods need.
      '--authorization-mode=Node,RBAC',
      // kubectl logs/exec/port-forward: the API server calls the kubelet at its node IP, as a client the kubelet's CA knows.
      `--kubelet-client-certificate=${kubeletClient.cert}`, `--kubelet-client-key=${kubeletClient.key}`,
      '--kubelet-preferred-address-types=InternalIP',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${pki.saPub}`, `--service-account-signing-key-file=${pki.saKey}`,
      '--service-cluster-ip-range=10.96.0.0/16', '--allow-privileged=true',
      `--endpoint-reconciler-type=${noRealNode ? 'none' : 'lease'}`,
      '--max-requests-inflight=800', '--max-mutating-requests-inflight=400',
      '--profiling=false', `--cert-dir=${join(dir, 'pki', 'apiserver-certs')}`, '-v=1',
    ], log('kube-apiserver')));
    await waitReady('kube-apiserver', `${apiServerUrl}/readyz`, apiserver.pid, apiserver.log, 120_000, { ca: readFileSync(pki.caCert), token: pki.adminToken });
    say(`kube-apiserver ready on ${apiServerUrl}`);

    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigYaml(apiServerUrl, pki.caCert, pki.adminToken), { mode: 0o600 });
    const common = [`--kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`, '--bind-address=127.0.0.1', '--leader-elect=false', '-v=1'];
    const cm = track(startDetached('kube-controller-manager', bin.kubeControllerManager, [
      ...common, `--secure-port=${cmPort}`, `--cert-dir=${join(dir, 'pki', 'cm-certs')}`,
      `--service-account-private-key-file=${pki.saKey}`, `--root-ca-file=${pki.caCert}`,
      `--cluster-signing-cert-file=${pki.caCert}`, `--cluster-signing-key-file=${pki.caKey}`,
      '--kube-api-qps=200', '--kube-api-burst=400', '--controllers=*,-nodeipam,-service-lb-controller,-cloud-node-lifecycle',
    ], log('kube-controller-manager')));
    const sched = track(startDetached('kube-scheduler', bin.kubeScheduler, [
      ...common, `--secure-port=${schedPort}`, `--cert-dir=${join(dir, 'pki', 'scheduler-certs')}`,
    ], log('kube-scheduler')));

    const info: TestbedInfo = {
      dir, kubeconfig, apiServerUrl,
      prometheusUrl: `http://127.0.0.1:${promPort}`,
      alertmanagerUrl: `http://127.0.0.1:${amPort}`,
      gatewayUrl: `http://127.0.0.1:${gwPort}`,
      gatewayMetricsUrl: `http://127.0.0.1:${gwMetricsPort}/metrics`,
      binDir: binDirs.kubernetes,
      caCert: pki.caCert,
      adminToken: pki.adminToken,
      promDir: join(dir, 'prometheus'),
      alertmanagerConfig: join(dir, 'alertmanager', 'alertmanager.yml'),
      realNode: noRealNode ? { available: false, reason: noRealNode } : { available: false, reason: 'the real node is starting' },
    };
    state.info = info;
    writeState(state);
    // containerd, the images and the kubelet, alongside the rest of the start-up.
    const realNode = noRealNode ? undefined : startRealNode(dir, pki, apiServerUrl, log, track, false, [promPort]).then((r) => { writeState(state); return r; });
    realNode?.catch(() => {});

    // CRDs: the Gateway API's experimental channel (it has the mirror's percent) and the project's own.
    const gwDir = join(binDirs.gatewayApi, 'experimental');
    const gwCrds = readdirSync(gwDir).filter((f) => /^gateway\.networking\..*\.yaml$/.test(f)).flatMap((f) => ['-f', join(gwDir, f)]);
    await kubectl(info, ['apply', '--server-side', '--force-conflicts', ...gwCrds]);
    await applyProjectCrds(info);
    await ensureGatewayClass(info);

    // KWOK: fake nodes that get pods scheduled, Ready, completed and deleted.
    const stages = ['node/fast/node-initialize.yaml', 'node/heartbeat/node-heartbeat.yaml', 'pod/general/pod-create.yaml',
      'pod/general/pod-ready.yaml', 'pod/general/pod-complete.yaml', 'pod/general/pod-delete.yaml'];
    const kwok = track(startDetached('kwok', bin.kwok, [
      `--kubeconfig=${kubeconfig}`, '--manage-all-nodes=false', '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      '--cidr=10.244.0.0/16', '--node-ip=10.0.0.1',
      ...stages.map((s) => `--config=${join(binDirs.kwok, 'stages', s)}`),
    ], log('kwok')));
    await kubectl(info, ['apply', '--server-side', '-f', '-'], kwokNodes());

    // Prometheus and Alertmanager, generated configs, 1 s scrape and evaluation.
    mkdirSync(join(info.promDir, 'rules'), { recursive: true });
    mkdirSync(join(info.promDir, 'targets'), { recursive: true });
    const promData = mkdtempSync(join(shm, 'cutover-prometheus-'));
    const amData = mkdtempSync(join(shm, 'cutover-alertmanager-'));
    tmpDirs.push(promData, amData);
    writeFileSync(join(info.promDir, 'prometheus.yml'), prometheusConfig(info.promDir, amPort, gwMetricsPort));
    mkdirSync(join(dir, 'alertmanager'), { recursive: true });
    writeFileSync(info.alertmanagerConfig, defaultAlertmanagerConfig());
    const prom = track(startDetached('prometheus', bin.prometheus, [
      `--config.file=${join(info.promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${promData}`,
      `--web.listen-address=127.0.0.1:${promPort}`, '--web.enable-lifecycle', '--web.enable-admin-api',
      '--storage.tsdb.retention.time=1d', '--log.level=warn',
    ], log('prometheus')));
    const am = track(startDetached('alertmanager', bin.alertmanager, [
      `--config.file=${info.alertmanagerConfig}`, `--storage.path=${amData}`,
      `--web.listen-address=127.0.0.1:${amPort}`, '--cluster.listen-address=', '--log.level=warn',
    ], log('alertmanager')));

    // The data plane: a gateway that routes by the HTTPRoutes in the API server.
    const gw = track(startDetached('gateway', NODE, [
      join(REPO_ROOT, 'test', 'testbed', 'dataplane', 'gateway.ts'),
      '--kubeconfig', kubeconfig, '--listen', `127.0.0.1:${gwPort}`, '--metrics-listen', `127.0.0.1:${gwMetricsPort}`,
    ], log('gateway'), { ...process.env, KUBECONFIG: kubeconfig }, REPO_ROOT));
    writeState(state);

    await Promise.all([
      waitReady('prometheus', `${info.prometheusUrl}/-/ready`, prom.pid, prom.log, 60_000),
      waitReady('alertmanager', `${info.alertmanagerUrl}/-/ready`, am.pid, am.log, 60_000),
      waitReady('gateway', info.gatewayMetricsUrl, gw.pid, gw.log, 60_000),
      waitReady('kube-controller-manager', `https://127.0.0.1:${cmPort}/healthz`, cm.pid, cm.log, 60_000, { insecure: true }),
      waitReady('kube-scheduler', `https://127.0.0.1:${schedPort}/healthz`, sched.pid, sched.log, 60_000, { insecure: true }),
    ]);
    if (realNode) {
      const r = await realNode;
      await r.ready;
      info.realNode = r.info;
      writeState(state);
      await startClusterServices(info, promPort);
    }
    await waitNodesReady(info, kwok);
    writeEnvFile(info);
    say(`up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return { info, reused: false, stop: () => stopTestbed(dir) };
  } catch (err) {
    if (state.info) {
      writeState(state);
      await stopTestbed(dir).catch(() => {});
    } else {
      // Failed before the API server was up (the real-node lock, etcd): no state to stop from.
      for (const p of [...processes].reverse()) await killPid(p.pid);
      for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
    }
    throw err;
  }
}

/** CoreDNS and the monitoring/prometheus Service (cluster-services.ts), Ready before \`up\` returns. */
async function startClusterServices(info: TestbedInfo, prometheusPort: number): Promise<void> {
  await kubectl(info, ['apply', '--server-side', '--field-manager=testbed', '--force-conflicts', '-f', '-'],
    clusterServicesManifests({ nodeIp: NODE_IP, prometheusPort, label: REAL_NODE_LABEL, taint: REAL_NODE_TAINT }));
  await kubectl(info, ['rollout', 'status', '-n', 'kube-system', 'deployment/coredns', '--timeout=120s']);
}

/**
 * The testbed gateway's GatewayClass (with its supported features in status, as its controller
 * would publish them) and Gateway; idempotent, so a reused testbed gets them too.
 */
export async function ensureGatewayClass(info: TestbedInfo): Promise<void> {
  await kubectl(info, ['apply', '--server-side', '--field-manager=testbed', '--force-conflicts', '-f', '-'], gatewayManifests());
  const generation = Number(await kubectl(info, ['get', 'gatewayclass', GATEWAY_CLASS_NAME, '-o', 'jsonpath={.metadata.generation}'])) || 1;
  await kubectl(info, ['patch', 'gatewayclass', GATEWAY_CLASS_NAME, '--subresource=status', '--type=merge', '-p', JSON.stringify(gatewayClassStatus(generation))]);
}

/** Applies the project's CRDs (crds/*.yaml) and waits until they are established. */
export async function applyProjectCrds(info: TestbedInfo): Promise<void> {
  const crdDir = join(REPO_ROOT, 'crds');
  if (!existsSync(crdDir) || readdirSync(crdDir).filter((f) => f.endsWith('.yaml')).length === 0) return;
  await kubectl(info, ['apply', '--server-side', '--force-conflicts', '-f', crdDir]);
  await kubectl(info, ['wait', '--for=condition=Established', '--timeout=60s', '-f', crdDir]);
  // Established is not yet served: the API server answers "storage is (re)initializing" for a
  // moment after a CRD is (re)installed. Wait until every kind lists.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await kubectl(info, ['get', 'trafficshifts,shadowruns,migrationslices', '-A', '--request-timeout=5s']).then(() => true, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error('the cutover CRDs are Established but not served after 60 s');
    await sleep(200);
  }
}

async function waitNodesReady(info: TestbedInfo, kwok: Started): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const out = await kubectl(info, ['get', 'nodes', '-o', 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}']).catch(() => '');
    const ready = out.split('\n').filter((l) => l.trim() === 'True').length;
    const realReady = !info.realNode.available || (await kubectl(info, ['get', 'node', REAL_NODE_NAME, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']).catch(() => '')) === 'True';
    if (ready >= KWOK_NODES + (info.realNode.available ? 1 : 0) && realReady) return;
    if (!isAlive(kwok.pid)) throw new Error(`kwok exited; see ${kwok.log}`);
    if (Date.now() > deadline) throw new Error(`nodes not Ready after 60 s (${ready} of ${KWOK_NODES} KWOK${info.realNode.available ? ` and ${REAL_NODE_NAME}: ${realReady ? 'Ready' : `not Ready, see ${join(info.dir, 'logs', 'kubelet.log')}`}` : ''}); see ${kwok.log}`);
    await sleep(250);
  }
}

function kwokNodes(): string {
  return Array.from({ length: KWOK_NODES }, (_, i) => `---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-${i}
  annotations: {node.alpha.kubernetes.io/ttl: "0", kwok.x-k8s.io/node: fake}
  labels: {type: kwok, kubernetes.io/hostname: kwok-node-${i}, kubernetes.io/os: linux, kubernetes.io/arch: amd64}
spec: {}
status:
  allocatable: {cpu: "64", memory: 256Gi, pods: "500"}
  capacity: {cpu: "64", memory: 256Gi, pods: "500"}
`).join('');
}

function prometheusConfig(promDir: string, amPort: number, gwMetricsPort: number): string {
  return `global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
rule_files:
  - ${join(promDir, 'rules', '*.yml')}
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:${amPort}']
scrape_configs:
  - job_name: gateway
    static_configs:
      - targets: ['127.0.0.1:${gwMetricsPort}']
  - job_name: testbed
    file_sd_configs:
      - files: ['${join(promDir, 'targets', '*.json')}']
        refresh_interval: 1s
`;
}

function defaultAlertmanagerConfig(): string {
  return `route:
  receiver: default
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: default
`;
}

function writeEnvFile(info: TestbedInfo): void {
  const env = testbedEnv(info);
  const lines = Object.entries(env).map(([k, v]) => (k === 'PATH' ? `export PATH="${info.binDir}:$PATH"` : `export ${k}="${v}"`));
  writeFileSync(join(info.dir, 'env'), `${lines.join('\n')}\n`);
}

/** Stops everything the testbed started, by pid, and removes its temporary data. */
export async function stopTestbed(dir = testbedDir()): Promise<void> {
  const state = readState(dir);
  if (!state) {
    // A start that crashed before it wrote its state may still have changed the host.
    await stopRealNode(dir, []);
    return;
  }
  const pids = [...state.processes].reverse().map((p) => p.pid);
  // The real node first (its pods, the kubelet, containerd, and its host changes undone), then the
  // data plane and monitoring, then the control plane, etcd, and the real node's lock last.
  let realNodeError: unknown;
  try { await stopRealNode(dir, state.processes); } catch (err) { realNodeError = err; }
  for (const pid of pids) await killPid(pid);
  await releaseLock(state.processes);
  for (const d of state.tmpDirs) rmSync(d, { recursive: true, force: true });
  rmSync(statePath(dir), { force: true });
  rmSync(join(dir, 'env'), { force: true });
  rmSync(join(dir, 'kubeconfig'), { force: true });
  rmSync(join(dir, 'prometheus', 'targets'), { recursive: true, force: true });
  if (realNodeError) throw realNodeError;
}

/** Writes a Prometheus rule file into the testbed and reloads Prometheus. */
export async function setPrometheusRules(info: TestbedInfo, name: string, yaml: string | null): Promise<void> {
  const f = join(info.promDir, 'rules', `${name}.yml`);
  if (yaml === null) rmSync(f, { force: true }); else writeFileSync(f, yaml);
  await reload(`${info.prometheusUrl}/-/reload`);
}

/** Replaces Alertmanager's configuration and reloads it. */
export async function setAlertmanagerConfig(info: TestbedInfo, yaml: string): Promise<void> {
  writeFileSync(info.alertmanagerConfig, yaml);
  await reload(`${info.alertmanagerUrl}/-/reload`);
}

/** Adds (or removes, with null) a scrape target that Prometheus picks up within about a second. */
export function setScrapeTarget(info: TestbedInfo, name: string, target: string | null, labels: Record<string, string> = {}): void {
  const f = join(info.promDir, 'targets', `${name.replace(/[^a-zA-Z0-9_.-]/g, '_')}.json`);
  mkdirSync(join(info.promDir, 'targets'), { recursive: true });
  if (target === null) rmSync(f, { force: true });
  else {
    // Written whole, then renamed: Prometheus' file discovery never reads half a file.
    writeFileSync(`${f}.tmp`, JSON.stringify([{ targets: [target], labels: { testbed_target: name, ...labels } }]));
    renameSync(`${f}.tmp`, f);
  }
}

async function reload(url: string): Promise<void> {
  const res = await fetch(url, { method: 'POST' });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
}

/**
 * Stops one component of a running testbed (e.g. `prometheus`), keeping its ports and data, so a
 * test can see how the operator behaves while it is gone. `startComponent` brings it back.
 */
export async function stopComponent(info: TestbedInfo, name: string): Promise<void> {
  const state = readState(info.dir);
  const p = state?.processes.find((x) => x.name === name);
  if (!state || !p) throw new Error(`no testbed component ${name}`);
  await killPid(p.pid);
}

export async function startComponent(info: TestbedInfo, name: string, readyUrl?: string): Promise<void> {
  const state = readState(info.dir);
  const p = state?.processes.find((x) => x.name === name);
  if (!state || !p || !p.cmd || !p.args) throw new Error(`no testbed component ${name}`);
  if (isAlive(p.pid)) return;
  const next = startDetached(name, p.cmd, p.args, p.log, { ...process.env, KUBECONFIG: info.kubeconfig }, p.cwd);
  state.processes = state.processes.map((x) => (x === p ? next : x));
  writeState(state);
  if (readyUrl) await waitReady(name, readyUrl, next.pid, next.log, 60_000);
}

/**
 * The real node of a running testbed, or an error with the reason there is none (not root,
 * CUTOVER_REAL_NODE=0, …). Tests that need real pods call it first: they fail with that reason.
 */
export function requireRealNode(info: TestbedInfo): Extract<RealNodeStatus, { available: true }> {
  if (!info.realNode.available) throw new Error(`this test needs the testbed's real node, and there is none: ${info.realNode.reason}`);
  return info.realNode;
}

/** Stops the real node of a running testbed (kubelet, containerd, pods) and undoes its host changes; the rest keeps running. */
export async function stopTestbedRealNode(info: TestbedInfo): Promise<void> {
  const state = readState(info.dir);
  if (!state) throw new Error(`no testbed in ${info.dir}`);
  await stopRealNode(info.dir, state.processes);
  state.processes = state.processes.filter((p) => !REAL_NODE_PROCESSES.includes(p.name));
  writeState(state);
}

/** Starts the real node of a running testbed again (after stopTestbedRealNode, or a crash of it) and waits until it is Ready. */
export async function startTestbedRealNode(info: TestbedInfo): Promise<void> {
  const state = readState(info.dir);
  if (!state) throw new Error(`no testbed in ${info.dir}`);
  requireRealNode(info);
  state.processes = state.processes.filter((p) => !REAL_NODE_PROCESSES.includes(p.name));
  const pki = ensurePki(join(info.dir, 'pki'));
  const r = await startRealNode(info.dir, pki, info.apiServerUrl, (n) => join(info.dir, 'logs', `${n}.log`), (s) => { state.processes.push(s); return s; }, true, [Number(new URL(info.prometheusUrl).port)]);
  // Same node, new ports (kubelet, the API server forwarder): the state and the caller's info follow.
  state.info.realNode = r.info;
  info.realNode = r.info;
  writeState(state);
  await r.ready;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ready = await kubectl(info, ['get', 'node', REAL_NODE_NAME, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']).catch(() => '');
    if (ready === 'True') return;
    if (Date.now() > deadline) throw new Error(`${REAL_NODE_NAME} not Ready 60 s after its restart; see ${join(info.dir, 'logs', 'kubelet.log')}`);
    await sleep(250);
  }
}
