// The testbed's backends (the legacy and the new service of a scenario) as pods on the real node: a
// Deployment running test/testbed/dataplane/backend.ts from the test-backend image, behind a Service
// with a selector. The EndpointSlice controller publishes the pod's IP, the gateway routes to it,
// Prometheus scrapes it, and the tests steer it (error rate, latency) through its admin API at the pod
// IP, which the host reaches on the node's bridge.
import { get as httpsGet } from 'node:https';
import { readFileSync } from 'node:fs';
import { kubectl, readState, requireRealNode, setScrapeTarget, writeState, type BackendRecord, type TestbedInfo } from './testbed.ts';
import { BACKEND_IMAGE } from './images.ts';
import { REAL_NODE_LABEL, REAL_NODE_TAINT } from './realnode.ts';
import { sleep } from './procs.ts';

export interface BackendOptions {
  namespace: string; service: string; servicePort?: number; errorRate?: number; latencyMs?: number;
  /** Answer like a listings API (GET /listings, /listings/<n>, also under /v1): the same documents on every backend. */
  listing?: boolean;
}

/** The port the backend listens on in its pod. */
export const BACKEND_PORT = 8080;
const MANAGED_BY = 'testbed.cutover.dev';
const BACKEND_LABEL = 'testbed.cutover.dev/backend';
/** The backend's Deployment: "<service>-backend" (the Service keeps the name routes refer to). */
export const backendDeployment = (service: string): string => `${service}-backend`;

/** The backend's Deployment and Service (applied server-side by the testbed's field manager). */
export function backendManifests(o: BackendOptions): string {
  // $(POD_IP): the kubelet expands it from the env below (the downward API), so the backend listens
  // on its pod IP only.
  const args = ['--name', o.service, '--listen', `$(POD_IP):${BACKEND_PORT}`];
  if (o.errorRate !== undefined) args.push('--error-rate', String(o.errorRate));
  if (o.latencyMs !== undefined) args.push('--latency-ms', String(o.latencyMs));
  if (o.listing) args.push('--listing');
  // Named and labelled apart from the user's own objects: an example may ship a Deployment named like
  // the Service (its worker), and its pods' labels are its own.
  const labels = `{${BACKEND_LABEL}: ${o.service}, app.kubernetes.io/managed-by: ${MANAGED_BY}}`;
  return `apiVersion: v1
kind: Namespace
metadata: {name: ${o.namespace}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${backendDeployment(o.service)}, namespace: ${o.namespace}, labels: ${labels}}
spec:
  replicas: 1
  # One pod per backend at any time: its counters are the backend's.
  strategy: {type: Recreate}
  selector: {matchLabels: {${BACKEND_LABEL}: ${o.service}}}
  template:
    metadata: {labels: ${labels}}
    spec:
      nodeSelector: {${REAL_NODE_LABEL.key}: ${REAL_NODE_LABEL.value}}
      tolerations: [{key: ${REAL_NODE_TAINT.key}, operator: Equal, value: "${REAL_NODE_TAINT.value}", effect: ${REAL_NODE_TAINT.effect}}]
      terminationGracePeriodSeconds: 2
      enableServiceLinks: false
      automountServiceAccountToken: false
      containers:
      - name: backend
        image: ${BACKEND_IMAGE}
        imagePullPolicy: Never
        args: ${JSON.stringify(args)}
        env: [{name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]
        ports: [{name: http, containerPort: ${BACKEND_PORT}}]
        readinessProbe: {httpGet: {path: /__admin/config, port: ${BACKEND_PORT}}, periodSeconds: 1}
        resources: {requests: {cpu: 10m, memory: 32Mi}, limits: {memory: 192Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: ${o.service}, namespace: ${o.namespace}, labels: ${labels}}
spec:
  selector: {${BACKEND_LABEL}: ${o.service}}
  ports: [{name: http, port: ${o.servicePort ?? 8080}, targetPort: http, protocol: TCP}]
`;
}

interface PodList { items: Array<{ metadata: { name: string; deletionTimestamp?: string }; status: { podIP?: string; conditions?: Array<{ type: string; status: string }> } }> }
interface SliceList { items: Array<{ endpoints?: Array<{ addresses: string[]; conditions?: { ready?: boolean } }> }> }

/**
 * Starts (or replaces) the backend of `namespace/service` as a pod on the real node and waits until
 * the Service's EndpointSlice lists it ready, so the gateway can route to it. Throws the real
 * node's reason when the testbed has none.
 */
export async function startBackend(info: TestbedInfo, opts: BackendOptions): Promise<BackendRecord> {
  requireRealNode(info);
  if (!readState(info.dir)) throw new Error('the testbed is not running: npm run testbed -- up');
  await kubectl(info, ['apply', '--server-side', '--field-manager=testbed', '--force-conflicts', '-f', '-'], backendManifests(opts));
  // Polled straight from the API server (no kubectl process per poll): a scenario's two backends
  // are ready about a second after their pods start listening.
  const deadline = Date.now() + 120_000;
  const ca = readFileSync(info.caCert);
  const list = <T>(path: string) => apiGet<T>(info, ca, path);
  const selector = encodeURIComponent(`${BACKEND_LABEL}=${opts.service}`);
  let podIP: string | undefined;
  let pod = '';
  for (;;) {
    const pods = await list<PodList>(`/api/v1/namespaces/${opts.namespace}/pods?labelSelector=${selector}`);
    const ready = pods?.items.filter((p) => !p.metadata.deletionTimestamp && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ?? [];
    if (ready.length === 1 && ready[0]!.status.podIP) {
      podIP = ready[0]!.status.podIP;
      pod = ready[0]!.metadata.name;
      const slices = await list<SliceList>(`/apis/discovery.k8s.io/v1/namespaces/${opts.namespace}/endpointslices?labelSelector=${encodeURIComponent(`kubernetes.io/service-name=${opts.service}`)}`);
      const published = (slices?.items ?? []).flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).map((e) => e.addresses[0]);
      if (published.length === 1 && published[0] === podIP) break;
    }
    if (Date.now() > deadline) throw new Error(`backend ${opts.namespace}/${opts.service}: no single ready pod in its Service's EndpointSlice after 120 s (kubectl -n ${opts.namespace} describe pods -l ${BACKEND_LABEL}=${opts.service})`);
    await sleep(100);
  }
  setScrapeTarget(info, `backend-${opts.namespace}-${opts.service}`, `${podIP}:${BACKEND_PORT}`, { namespace: opts.namespace, service: opts.service });
  const rec: BackendRecord = { namespace: opts.namespace, service: opts.service, pod, address: podIP, port: BACKEND_PORT, url: `http://${podIP}:${BACKEND_PORT}` };
  const fresh = readState(info.dir)!;
  fresh.backends = [...fresh.backends.filter((b) => !(b.namespace === opts.namespace && b.service === opts.service)), rec];
  writeState(fresh);
  return rec;
}

/** GET of a list from the API server as the testbed's admin; undefined on any error (the caller polls). */
function apiGet<T>(info: TestbedInfo, ca: Buffer, path: string): Promise<T | undefined> {
  return new Promise((resolve) => {
    const req = httpsGet(new URL(path, info.apiServerUrl), { ca, headers: { authorization: `Bearer ${info.adminToken}` }, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => { try { resolve(res.statusCode === 200 ? JSON.parse(body) as T : undefined); } catch { resolve(undefined); } });
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
  });
}

/** A running backend's request counts (its admin API, at the pod IP). */
export async function backendStats(info: TestbedInfo, namespace: string, service: string): Promise<{ total: number; byCode: Record<string, number>; byMethod: Record<string, number>; parityReplays: Record<string, number> }> {
  const rec = backendRecord(info, namespace, service);
  const res = await fetch(`${rec.url}/__admin/stats`);
  if (!res.ok) throw new Error(`backend ${namespace}/${service}: ${res.status} ${await res.text()}`);
  return (await res.json()) as { total: number; byCode: Record<string, number>; byMethod: Record<string, number>; parityReplays: Record<string, number> };
}

/** Stops a backend: its Deployment (and with `unregister`, its Service) deleted, its scrape target removed. */
export async function stopBackend(info: TestbedInfo, namespace: string, service: string, unregister = true): Promise<void> {
  const state = readState(info.dir);
  const rec = state?.backends.find((b) => b.namespace === namespace && b.service === service);
  if (!state || !rec) return;
  setScrapeTarget(info, `backend-${namespace}-${service}`, null);
  await kubectl(info, ['delete', 'deployment', backendDeployment(service), '-n', namespace, '--ignore-not-found', '--wait=false']).catch(() => '');
  if (unregister) await kubectl(info, ['delete', 'service', service, '-n', namespace, '--ignore-not-found', '--wait=false']).catch(() => '');
  // Read-modify-write with no await in between: backends started or stopped meanwhile keep their records.
  const fresh = readState(info.dir);
  if (!fresh) return;
  fresh.backends = fresh.backends.filter((b) => !(b.namespace === namespace && b.service === service && b.pod === rec.pod));
  writeState(fresh);
}

/** The record of a running backend (its pod, and the URL the host reaches it at). */
export function backendRecord(info: TestbedInfo, namespace: string, service: string): BackendRecord {
  const rec = readState(info.dir)?.backends.find((b) => b.namespace === namespace && b.service === service);
  if (!rec) throw new Error(`no backend running for ${namespace}/${service}`);
  return rec;
}

/** What a running backend can be told (test/testbed/dataplane/backend.ts BackendConfig). */
export interface BackendSettings {
  errorRate?: number;
  latencyMs?: number;
  /** GET /listings/<n> answers the listing document of n. */
  listing?: boolean;
  /** Fields with a new random value on every answer (noise). */
  noiseFields?: string[];
  /** A field changed on a share of the answers (multiplied by factor, default 1.1). */
  mutations?: Array<{ field: string; share: number; factor?: number }>;
  /** Share of the answers whose tags array is reversed. */
  reorderShare?: number;
  body?: Record<string, unknown>;
}

/** Changes a running backend's behaviour (its admin API, at the pod IP). */
export async function setBackend(info: TestbedInfo, namespace: string, service: string, cfg: BackendSettings): Promise<void> {
  const rec = backendRecord(info, namespace, service);
  const res = await fetch(`${rec.url}/__admin/config`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(cfg) });
  if (!res.ok) throw new Error(`backend ${namespace}/${service}: ${res.status} ${await res.text()}`);
}
