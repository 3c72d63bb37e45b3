// A cutover scenario on the testbed: a namespace, a legacy and a new backend (pods on the real node,
// scraped by Prometheus, reached through the gateway), an HTTPRoute, background load.
import { request } from 'node:http';
import { runLoad, type LoadSummary } from '../testbed/dataplane/load.ts';
import { startBackend, stopBackend, setBackend } from '../testbed/backends.ts';
import { TESTBED_PARENT_REFS } from '../testbed/dataplane/gateway-class.ts';
import { HTTP_ROUTE, TRAFFIC_SHIFT, type KubeObject } from '../../operator/src/kube/resources.ts';
import { eventually, getJson, kubectl, kubectlOk, testbed, uniqueName, sleep } from './cluster.ts';
import { waitObject, watchObject } from './watch.ts';

export interface ScenarioOptions {
  prefix: string;
  /** Use this namespace name (e.g. one the operator under test was told to watch); default a unique name from prefix. */
  ns?: string;
  stable?: { errorRate?: number; latencyMs?: number };
  canary?: { errorRate?: number; latencyMs?: number };
  /** Extra YAML for the HTTPRoute's spec.rules (replaces the default single rule). */
  rulesYaml?: string;
  stableService?: string;
  canaryService?: string;
}

export interface Scenario {
  ns: string;
  host: string;
  stable: string;
  canary: string;
  /** Starts bounded background load through the gateway; stop() ends it and returns the summary. */
  startLoad(rps?: number, maxSeconds?: number): { stop: () => Promise<LoadSummary> };
  setCanary(cfg: { errorRate?: number; latencyMs?: number }): Promise<void>;
  routeWeights(): Promise<Record<string, number>>;
  shift<T = ShiftObject>(name: string): Promise<T>;
  cleanup(): Promise<void>;
}

export interface ShiftObject {
  metadata: { name: string; generation: number; annotations?: Record<string, string> };
  status?: {
    phase?: string; currentStep?: number; currentWeight?: number; observedGeneration?: number; stepStartedAt?: string;
    rollback?: { trigger: string; reason: string; at: string };
    conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
    analysis?: { consecutiveFailures: number; consecutiveInconclusive: number; lastResults?: Array<{ name: string; result: string; value?: number; message?: string }> };
    pauseReason?: string;
    workers?: Array<Record<string, unknown>>;
  };
}

/** PromQL for the share of 5xx of a service behind the gateway; `or vector(0)`: no 5xx is 0, not "no data". */
export const ERROR_RATE_QUERY = '(sum(rate(http_requests_total{namespace="{{namespace}}",service="{{canary.service}}",code=~"5.."}[10s])) or vector(0)) / sum(rate(http_requests_total{namespace="{{namespace}}",service="{{canary.service}}"}[10s]))';
export const P95_QUERY = 'histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket{namespace="{{namespace}}",service="{{canary.service}}"}[10s])) by (le))';

export function render(query: string, vars: Record<string, string>): string {
  return query.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (_, k: string) => vars[k] ?? '');
}

interface RouteObject extends KubeObject { spec: { rules: Array<{ backendRefs?: Array<{ name: string; weight?: number }> }> } }

/** The weights of the route's first rule by backend (a backendRef without a weight has 1). */
function weightsOf(r: RouteObject): Record<string, number> {
  const out: Record<string, number> = {};
  for (const b of r.spec.rules[0]?.backendRefs ?? []) out[b.name] = b.weight ?? 1;
  return out;
}

export async function createScenario(opts: ScenarioOptions): Promise<Scenario> {
  const info = testbed();
  const ns = opts.ns ?? uniqueName(opts.prefix);
  const stable = opts.stableService ?? 'monolith';
  const canary = opts.canaryService ?? 'listings-api';
  const host = `listings.${ns}.test`;
  await kubectlOk(['create', 'namespace', ns]);
  await Promise.all([
    startBackend(info, { namespace: ns, service: stable, ...opts.stable }),
    startBackend(info, { namespace: ns, service: canary, ...opts.canary }),
  ]);
  const rules = opts.rulesYaml ?? `    - backendRefs:
        - {name: ${stable}, port: 8080, weight: 100}
        - {name: ${canary}, port: 8080, weight: 0}`;
  await kubectlOk(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: listings, namespace: ${ns}}
spec:
  parentRefs: ${TESTBED_PARENT_REFS}
  hostnames: [${host}]
  rules:
${rules}
`);
  // The gateway serves the route once it has seen it.
  await eventually('gateway routes the new HTTPRoute', async () => (await getThroughGateway(info.gatewayUrl, host)) === 200, 30_000, 200);
  const loads: AbortController[] = [];
  return {
    ns, host, stable, canary,
    startLoad(rps = 40, maxSeconds = 240) {
      const ac = new AbortController();
      loads.push(ac);
      const p = runLoad({ url: info.gatewayUrl, host, path: '/v1/listings', rps, durationMs: maxSeconds * 1000, signal: ac.signal, timeoutMs: 5000 });
      return { stop: async () => { ac.abort(); return p; } };
    },
    setCanary: (cfg) => setBackend(info, ns, canary, cfg),
    routeWeights: async () => weightsOf(await getJson<RouteObject>(['get', 'httproute', 'listings', '-n', ns])),
    shift: <T>(name: string) => getJson<T>(['get', 'trafficshift', name, '-n', ns]),
    async cleanup() {
      for (const ac of loads) ac.abort();
      await sleep(50);
      await Promise.all([stopBackend(info, ns, stable, false), stopBackend(info, ns, canary, false)]);
      await kubectl(['delete', 'namespace', ns, '--wait=false']);
    },
  };
}

/** A TrafficShift manifest for the scenario; `extra` is appended under spec. */
export function shiftYaml(s: Scenario, name: string, o: { steps?: Array<[number, string]>; interval?: string; failureLimit?: number; inconclusiveLimit?: number; metrics?: string; extra?: string } = {}): string {
  const steps = o.steps ?? [[10, '6s'], [50, '6s'], [100, '6s']];
  const metrics = o.metrics ?? `      - name: error-rate
        prometheus:
          query: '${ERROR_RATE_QUERY}'
        max: 0.05`;
  return `apiVersion: cutover.dev/v1alpha1
kind: TrafficShift
metadata: {name: ${name}, namespace: ${s.ns}}
spec:
  route:
    httpRoute: {name: listings}
  stable: {service: ${s.stable}, port: 8080}
  canary: {service: ${s.canary}, port: 8080}
  steps:
${steps.map(([w, p]) => `    - {weight: ${w}, pause: ${p}}`).join('\n')}
  analysis:
    interval: ${o.interval ?? '2s'}
    failureLimit: ${o.failureLimit ?? 2}
    inconclusiveLimit: ${o.inconclusiveLimit ?? 6}
    metrics:
${metrics}
${o.extra ?? ''}`;
}

/**
 * Records each change of the route's canary weight from a WATCH on the HTTPRoute (not a poll): a
 * weight held for any time at all is recorded, `at` when the change arrived. `onChange` runs for each
 * change in order, one at a time. Await `ready` before acting.
 */
export function recordWeights(s: Scenario, onChange?: (weight: number, at: number) => void | Promise<void>): { changes: Array<{ weight: number; at: number }>; ready: Promise<void>; stop: () => Promise<void> } {
  const changes: Array<{ weight: number; at: number }> = [];
  let last: number | undefined;
  let handled = Promise.resolve();
  const w = watchObject<RouteObject>(HTTP_ROUTE, s.ns, 'listings', (route, at) => {
    const c = route ? weightsOf(route)[s.canary] : undefined;
    if (c === undefined || c === last) return;
    last = c;
    changes.push({ weight: c, at });
    if (onChange) handled = handled.then(() => onChange(c, at));
  });
  // stop: every route write made before it is recorded first (the watch caught up), then the watch ends.
  return { changes, ready: w.ready, stop: async () => { await w.caughtUp(); await w.stop(); await handled; } };
}

/** Waits (on a watch) until the TrafficShift's phase is one of `phases`; returns that version. */
export function waitPhase(s: Scenario, name: string, phases: string[], timeoutMs = 120_000): Promise<ShiftObject> {
  return waitObject<ShiftObject & KubeObject>(TRAFFIC_SHIFT, s.ns, name, (ts) => phases.includes(ts.status?.phase ?? ''), timeoutMs, `TrafficShift ${s.ns}/${name} phase in ${phases.join('|')}`);
}

/** One GET through the gateway with a Host header (fetch cannot set Host); resolves the status, 0 on error. */
export function getThroughGateway(gatewayUrl: string, host: string, path = '/'): Promise<number> {
  return new Promise((resolve) => {
    const req = request(new URL(path, gatewayUrl), { headers: { host }, timeout: 5000 }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}
