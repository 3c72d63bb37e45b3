// Waits on WATCHes of the testbed's API server, not on polls: one long-lived connection per wait
// (no kubectl process every 100 ms on two cores), and every change arrives, however briefly it held.
// Built on the operator's own client (operator/src/kube), as the kube integration tests are.
import { KubeApiError } from '../../operator/src/kube/errors.ts';
import { KubeClient } from '../../operator/src/kube/client.ts';
import type { KubeObject, ResourceType } from '../../operator/src/kube/resources.ts';
import { Registry } from '../../operator/src/runtime/metrics.ts';
import { testbed } from './cluster.ts';
import { metricSum } from './metrics.ts';

let client: { kubeconfig: string; client: KubeClient } | undefined;

/** A client on the testbed's API server with the admin kubeconfig (one per test file). */
export function testbedClient(): KubeClient {
  const kubeconfig = testbed().kubeconfig;
  if (client?.kubeconfig !== kubeconfig) client = { kubeconfig, client: KubeClient.load({ kubeconfig, registry: new Registry(), fieldManager: 'cutover-tests' }) };
  return client.client;
}

export interface ObjectWatch {
  /**
   * Resolves once the object's state was read (list) and the watch starts from that
   * resourceVersion: no change made after this can be missed. Await it before acting.
   */
  ready: Promise<void>;
  /**
   * Resolves once every change made before this call has been delivered: reads the object's
   * current resourceVersion and waits until the watch has delivered that version (or, for an object
   * that is gone, its deletion).
   */
  caughtUp(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Calls `onObject` with the object's current state (undefined: it does not exist), then with every
 * version of it the API server records (ADDED/MODIFIED; undefined on DELETED), in order, `at` the
 * local time the change arrived. The watch resumes from the last resourceVersion when its stream
 * ends (server timeout, API server restart) and relists only when that version is gone (410).
 */
export function watchObject<T extends KubeObject = KubeObject>(
  type: ResourceType, namespace: string, name: string, onObject: (obj: T | undefined, at: number) => void,
): ObjectWatch {
  const kube = testbedClient();
  const abort = new AbortController();
  const selector = { namespace, fieldSelector: `metadata.name=${name}` };
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => { readyResolve = r; });
  const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
  // The versions delivered so far (undefined: the object was absent or deleted), for caughtUp.
  const seen = new Set<string | undefined>();
  let delivered: () => void = () => {};
  const deliver = (obj: T | undefined, at: number) => {
    seen.add(obj?.metadata.resourceVersion);
    onObject(obj, at);
    delivered();
  };
  const loop = (async () => {
    let rv: string | undefined;
    while (!abort.signal.aborted) {
      try {
        if (rv === undefined) {
          const list = await kube.list<T>(type, selector);
          rv = list.resourceVersion;
          deliver(list.items[0], Date.now());
          readyResolve();
        }
        for await (const e of kube.watch<T>(type, { ...selector, resourceVersion: rv, signal: abort.signal })) {
          rv = e.object.metadata.resourceVersion ?? rv;
          if (e.type === 'BOOKMARK') continue;
          deliver(e.type === 'DELETED' ? undefined : e.object, Date.now());
        }
      } catch (err) {
        if (abort.signal.aborted) return;
        if (err instanceof KubeApiError && err.code === 410) rv = undefined; // too old: relist
        else await pause(200); // no answer (e.g. the API server restarting): try again from rv
      }
    }
  })();
  async function caughtUp(timeoutMs = 30_000): Promise<void> {
    await ready;
    const current = (await kube.get<T>(type, namespace, name))?.metadata.resourceVersion;
    const deadline = Date.now() + timeoutMs;
    while (!seen.has(current)) {
      if (abort.signal.aborted) throw new Error(`watch of ${type.kind} ${namespace}/${name} stopped before it caught up`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`the watch of ${type.kind} ${namespace}/${name} did not deliver resourceVersion ${current ?? '(deleted)'} within ${timeoutMs} ms`);
      await new Promise<void>((r) => { const t = setTimeout(r, Math.min(left, 1000)); delivered = () => { clearTimeout(t); r(); }; });
    }
  }
  return { ready, caughtUp, async stop() { abort.abort(); readyResolve(); await loop; } };
}

/**
 * Waits on a watch until the object satisfies `predicate` and returns that version. The wait is the
 * check: on timeout the error names `what` and the last version seen (its status).
 */
export function waitObject<T extends KubeObject = KubeObject>(
  type: ResourceType, namespace: string, name: string, predicate: (obj: T) => boolean,
  timeoutMs = 60_000, what = `${type.kind} ${namespace}/${name}`,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let last: T | undefined;
    let settled = false;
    const finish = (fn: () => void) => { if (settled) return; settled = true; clearTimeout(timer); void w.stop(); fn(); };
    const timer = setTimeout(() => finish(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${last ? JSON.stringify((last as { status?: unknown }).status ?? last) : 'no such object'}`))), timeoutMs);
    const w = watchObject<T>(type, namespace, name, (obj) => {
      if (!obj || settled) return;
      last = obj;
      let hit: boolean;
      try { hit = predicate(obj); } catch (err) { finish(() => reject(err as Error)); return; }
      if (hit) finish(() => resolve(obj));
    });
  });
}

interface ControllerLoad { reconciles: number; depth: number; active: number }

async function controllerLoad(operatorUrl: string, controller: string): Promise<ControllerLoad> {
  const families = ['controller_runtime_reconcile_total', 'workqueue_depth', 'controller_runtime_active_workers'];
  const text = await (await fetch(`${operatorUrl}/metrics?${families.map((f) => `name[]=${f}`).join('&')}`, { signal: AbortSignal.timeout(10_000) })).text();
  return {
    reconciles: metricSum(text, 'controller_runtime_reconcile_total', { controller }),
    depth: metricSum(text, 'workqueue_depth', { name: controller }),
    active: metricSum(text, 'controller_runtime_active_workers', { controller }),
  };
}

/** The reconciles a controller of the operator finished (any result), from its /metrics. */
export async function reconcileCount(operator: { url: string }, controller: string): Promise<number> {
  return (await controllerLoad(operator.url, controller)).reconciles;
}

/**
 * One more reconcile of each of some objects, instead of a fixed sleep before checking that nothing
 * changed: touches an annotation of the test's own on each (not spec: the operator reconciles on any
 * new resourceVersion and reads no such annotation), then waits until the operator's `controller`
 * (e.g. `trafficshift`) has finished at least one more reconcile per object (its
 * `controller_runtime_reconcile_total` on /metrics) and is idle (work queue empty, no reconcile
 * running). Returns each object's resourceVersion right after its touch.
 */
export async function reconcileOnceMore(
  operator: { url: string }, controller: string, type: ResourceType, namespace: string, names: string | string[], timeoutMs = 30_000,
): Promise<string[]> {
  const list = typeof names === 'string' ? [names] : names;
  const before = await controllerLoad(operator.url, controller);
  const versions: string[] = [];
  for (const name of list) {
    const touched = await testbedClient().mergePatch(type, namespace, name, { metadata: { annotations: { 'test.cutover.dev/touched': String(Date.now()) } } });
    versions.push(touched.metadata.resourceVersion!);
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await controllerLoad(operator.url, controller);
    if (now.reconciles >= before.reconciles + list.length && now.depth === 0 && now.active === 0) return versions;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${list.length} more reconcile(s) of ${controller} after touching ${type.kind} ${namespace}/${list.join(',')}: ${before.reconciles} before, now ${JSON.stringify(now)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
