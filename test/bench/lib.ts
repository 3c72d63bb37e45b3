// Shared plumbing for `npm run bench`: Kubernetes access (SSA, watches), the operator's and the API
// server's /metrics, process memory, percentiles. The bench is a script, not a test: it measures and
// reports, it does not assert.
import { readFileSync } from 'node:fs';
import { KubeConfig, KubernetesObjectApi, PatchStrategy, Watch, type KubernetesObject } from '@kubernetes/client-node';
import type { TestbedInfo } from '../testbed/testbed.ts';
import { startOperator as startTestOperator, type OperatorOptions, type OperatorProcess } from '../helpers/operator.ts';
import { KubeClient, resourceType, type KubeObject, type ResourceType } from '../../operator/src/kube/index.ts';
import { CONFIG_MAP, DEPLOYMENT, ENDPOINT_SLICE, HTTP_ROUTE, MIGRATION_SLICE, NAMESPACE, SERVICE, SHADOW_RUN, TRAFFIC_SHIFT } from '../../operator/src/kube/resources.ts';

export const FIELD_MANAGER = 'cutover-bench';
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const now = () => performance.timeOrigin + performance.now();

export function log(msg: string): void { process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`); }

/**
 * `client` is the operator's own client (keep-alive connections): the bench's writes go through it.
 * client-node's KubernetesObjectApi (`api`, kept for reads and deletes of arbitrary kinds) opened a
 * TLS connection per request — measured on the testbed: 185 vs 587 server-side applies/s at 16 in
 * flight, 4.6 vs 0.7 ms of the bench's CPU and 4.0 vs 2.2 ms of the API server's per request — and
 * at 10,000 shifts that was minutes of setup and CPU taken from what is measured.
 */
export interface Kube { kc: KubeConfig; api: KubernetesObjectApi; client: KubeClient }

export function kube(info: TestbedInfo): Kube {
  const kc = new KubeConfig();
  kc.loadFromFile(info.kubeconfig);
  return { kc, api: KubernetesObjectApi.makeApiClient(kc), client: KubeClient.load({ kubeconfig: info.kubeconfig, fieldManager: FIELD_MANAGER }) };
}

/** The kinds the bench writes often (group/version/plural); others go through client-node. */
const TYPES: Record<string, ResourceType> = Object.fromEntries([
  NAMESPACE, SERVICE, CONFIG_MAP, ENDPOINT_SLICE, DEPLOYMENT, HTTP_ROUTE, TRAFFIC_SHIFT, SHADOW_RUN, MIGRATION_SLICE,
  resourceType('flagger.app', 'v1beta1', 'canaries', 'Canary'),
  resourceType('flagger.app', 'v1beta1', 'metrictemplates', 'MetricTemplate'),
].map((t) => [`${t.group ? `${t.group}/` : ''}${t.version}/${t.kind}`, t]));

const typeOf = (obj: KubernetesObject): ResourceType | undefined => TYPES[`${obj.apiVersion}/${obj.kind}`];

/** Runs `fn` over `items` with at most `n` in flight. */
export async function pool<T, R>(items: T[], n: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) { const i = next++; out[i] = await fn(items[i]!, i); }
  }));
  return out;
}

export async function apply(k: Kube, obj: KubernetesObject): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      const t = typeOf(obj);
      if (t) await k.client.apply(t, obj as KubeObject, { force: true });
      else await k.api.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
      return;
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (attempt >= 4 || (code !== undefined && code < 500 && code !== 429 && code !== 409)) throw err;
      await sleep(200 * 2 ** attempt);
    }
  }
}

export async function applyAll(k: Kube, objs: KubernetesObject[], concurrency = 12): Promise<void> {
  await pool(objs, concurrency, (o) => apply(k, o));
}

export async function mergePatch(k: Kube, obj: KubernetesObject): Promise<void> {
  const t = typeOf(obj);
  if (t) await k.client.mergePatch(t, obj.metadata?.namespace, obj.metadata?.name ?? '', obj);
  else await k.api.patch(obj, undefined, undefined, FIELD_MANAGER, undefined, PatchStrategy.MergePatch);
}

export async function deleteNamespaces(k: Kube, names: string[]): Promise<void> {
  await pool(names, 4, async (n) => { await k.api.delete({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } }).catch(() => {}); });
}

export async function list<T extends KubernetesObject>(k: Kube, apiVersion: string, kind: string, namespace: string): Promise<T[]> {
  const r = await k.api.list<T>(apiVersion, kind, namespace);
  return r.items;
}

export type WatchEvent<T> = { type: string; obj: T; at: number };

/**
 * A WATCH (not a poll) on `path` (e.g. `/apis/gateway.networking.k8s.io/v1/namespaces/ns/httproutes`),
 * re-established when the connection ends. `at` is the local wall clock (ms, sub-ms precision) when
 * the event arrived.
 */
export function watch<T extends KubernetesObject>(k: Kube, path: string, onEvent: (e: WatchEvent<T>) => void): { stop(): void; ready: Promise<void> } {
  const w = new Watch(k.kc);
  let stopped = false;
  let req: { abort(): void } | undefined;
  let rv = '';
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => { readyResolve = r; });
  const loop = async () => {
    while (!stopped) {
      await new Promise<void>((resolve) => {
        w.watch(path, { allowWatchBookmarks: true, ...(rv ? { resourceVersion: rv } : {}) }, (type: string, obj: T) => {
          if (obj?.metadata?.resourceVersion) rv = obj.metadata.resourceVersion;
          if (type === 'BOOKMARK') return;
          if (type === 'ERROR') { rv = ''; return; }
          onEvent({ type, obj, at: now() });
        }, () => resolve()).then((r) => { req = r as { abort(): void }; readyResolve(); }, () => { setTimeout(resolve, 500); });
      });
    }
  };
  void loop();
  return { stop() { stopped = true; req?.abort(); }, ready };
}

export { metricSum } from '../helpers/metrics.ts';

export async function fetchText(url: string, init: RequestInit = {}): Promise<string> {
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  return r.text();
}

/** The API server's own /metrics (admin token). */
export async function apiserverMetrics(info: TestbedInfo): Promise<string> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = request(`${info.apiServerUrl}/metrics`, { ca: readFileSync(info.caCert), headers: { authorization: `Bearer ${info.adminToken}` }, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Resident set size of a process, MB (from /proc). */
/** CPU time (user + system, seconds) a process has used so far, from /proc/PID/stat; NaN if unknown. */
export function cpuSeconds(pid: number): number {
  try {
    // Fields after the command (which is in parentheses and may hold spaces): utime is field 14, stime 15.
    const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').at(-1)!.split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLOCK_TICKS;
  } catch { return NaN; }
}
const CLOCK_TICKS = 100; // USER_HZ; 100 on every Linux architecture Node runs on

export function rssMb(pid: number): number {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
    return m ? Number(m[1]) / 1024 : NaN;
  } catch { return NaN; }
}

/**
 * Where a process's resident memory is (/proc/PID/smaps_rollup, MB): `anonMb` is what it allocated
 * (heaps, stacks, malloc), `fileMb` pages of files it maps (its binary and shared libraries; shared
 * with other processes running the same binary, but counted in each one's RSS).
 */
export function memoryMap(pid: number): { rssMb: number; anonMb: number; fileMb: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
    const mb = (v: number) => Math.round((v / 1024) * 10) / 10;
    const rss = kb('Rss');
    const anon = kb('Anonymous');
    return { rssMb: mb(rss), anonMb: mb(anon), fileMb: mb(rss - anon) };
  } catch { return undefined; }
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i]!;
}

export interface Dist { n: number; p50: number; p99: number; max: number; min: number; mean: number }
export function dist(xs: number[]): Dist {
  const r = (v: number) => Math.round(v * 10) / 10;
  return { n: xs.length, p50: r(percentile(xs, 50)), p99: r(percentile(xs, 99)), max: r(Math.max(...xs)), min: r(Math.min(...xs)), mean: r(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)) };
}

export function uid(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1296).toString(36)}`;
}

/** Selector-less Services (no endpoints needed: the operator only checks that they exist). */
export function serviceObjects(ns: string, names: string[]): KubernetesObject[] {
  return names.map((n) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: n, namespace: ns }, spec: { ports: [{ name: 'http', port: 8080, targetPort: 8080, protocol: 'TCP' }] } }) as KubernetesObject);
}

export function httpRoute(ns: string, name: string, stable: string, canary: string, host?: string): KubernetesObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name, namespace: ns },
    spec: { ...(host ? { hostnames: [host] } : {}), rules: [{ backendRefs: [{ name: stable, port: 8080, weight: 100 }, { name: canary, port: 8080, weight: 0 }] }] },
  } as KubernetesObject;
}

/** The canary's weight in an HTTPRoute's first rule (undefined when not found). */
export function canaryWeight(route: KubernetesObject, canary: string): number | undefined {
  const refs = (route as { spec?: { rules?: Array<{ backendRefs?: Array<{ name: string; weight?: number }> }> } }).spec?.rules?.[0]?.backendRefs ?? [];
  const b = refs.find((r) => r.name === canary);
  return b ? (b.weight ?? 1) : undefined;
}

export interface ShiftOpts {
  steps: Array<[number, string]>;
  interval?: string;
  failureLimit?: number;
  query?: string;
  max?: number;
  alerts?: Array<Record<string, string>>;
  noAnalysis?: boolean;
}

export function trafficShift(ns: string, name: string, route: string, o: ShiftOpts): KubernetesObject {
  return {
    apiVersion: 'cutover.dev/v1alpha1', kind: 'TrafficShift', metadata: { name, namespace: ns },
    spec: {
      route: { httpRoute: { name: route } },
      stable: { service: 'monolith', port: 8080 },
      canary: { service: 'listings-api', port: 8080 },
      steps: o.steps.map(([weight, pause]) => ({ weight, pause })),
      ...(o.noAnalysis ? {} : {
        analysis: {
          interval: o.interval ?? '30s', failureLimit: o.failureLimit ?? 2, inconclusiveLimit: 3,
          metrics: [{ name: 'error-rate', prometheus: { query: o.query ?? CONSTANT_QUERY }, max: o.max ?? 0.01 }],
        },
      }),
      ...(o.alerts ? { rollback: { automatic: true, alerts: o.alerts.map((matchLabels) => ({ matchLabels })) } } : {}),
    },
  } as KubernetesObject;
}

/**
 * A query that always answers 0 and whose text differs per namespace only: with 100 shifts per
 * namespace the operator may merge identical in-flight queries (cutover_prometheus_queries_deduplicated_total).
 */
export const CONSTANT_QUERY = 'sum(up{job="gateway"}) * 0 + 0 * sum(up{job="gateway", bench_ns!="{{namespace}}"})';

export type { OperatorProcess } from '../helpers/operator.ts';

/**
 * What the bench's operator processes run: the bundle (dist/main.mjs), as the image and `npm start`
 * ship it, or the TypeScript sources the tests run (`npm run bench -- --operator source`, to compare).
 */
export type OperatorForm = 'bundle' | 'source';
let operatorForm: OperatorForm = 'bundle';
export function setOperatorForm(form: OperatorForm): void { operatorForm = form; }
export function getOperatorForm(): OperatorForm { return operatorForm; }

/** An operator process for the bench, in the form set above (parts pass info-level logs: 1,000 shifts at debug would measure logging). */
export function startOperator(info: TestbedInfo, opts: OperatorOptions = {}): Promise<OperatorProcess> {
  return startTestOperator(info, { ...opts, bundle: operatorForm === 'bundle' });
}
