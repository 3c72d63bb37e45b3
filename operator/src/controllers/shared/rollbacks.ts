// Rollbacks requested out of band (the alert hooks' RollbackTarget, hooks/server.ts): which
// resources an alert's labels match, the requests waiting for their key's next reconcile, and the
// durable record of a request on the object.
// A request goes ahead of the routine reconciles already queued (enqueueUrgent) and is consumed
// by the reconcile of its key that settles it, never concurrently with another reconcile of the
// same key. In memory it is only the fast path: the hook also records it on the object
// (ROLLBACK_REQUEST_ANNOTATION) before it answers, so a crash or a failover cannot lose it.
import { ROLLBACK_REQUEST_ANNOTATION, type AlertMatch, type RollbackRequest as RecordedRollback } from '../../api/common.ts';
import type { RollbackTrigger } from '../../api/trafficshift.ts';
import { objectKey, splitKey, type KubeClient, type KubeObject, type ResourceType } from '../../kube/index.ts';

export interface RollbackRequest { trigger: RollbackTrigger; reason: string; alert?: string; id?: string }

/**
 * Records a rollback request on `namespace/name` (the annotation, by merge patch: metadata only,
 * never spec). Rejects when the API server did not take it.
 */
export async function recordRollbackRequest(client: Pick<KubeClient, 'mergePatch'>, type: ResourceType, key: string, request: RecordedRollback): Promise<void> {
  const { namespace, name } = splitKey(key);
  const value: RecordedRollback = { id: request.id, trigger: request.trigger, reason: request.reason.slice(0, 4096), ...(request.alert ? { alert: request.alert.slice(0, 1024) } : {}) };
  await client.mergePatch(type, namespace, name, { metadata: { annotations: { [ROLLBACK_REQUEST_ANNOTATION]: JSON.stringify(value) } } });
}

/** Whether the rollback-request annotation differs between two versions of an object (a new request). */
export function rollbackRequestChanged(a: KubeObject, b: KubeObject): boolean {
  return a.metadata.annotations?.[ROLLBACK_REQUEST_ANNOTATION] !== b.metadata.annotations?.[ROLLBACK_REQUEST_ANNOTATION];
}

/** Keys of the objects whose alert matchers (undefined: cannot roll back now) match `labels`. */
export function matchAlert<T extends KubeObject>(objects: Iterable<T>, labels: Record<string, string>, alertsOf: (o: T) => readonly AlertMatch[] | undefined): string[] {
  const keys: string[] = [];
  for (const o of objects) {
    const alerts = alertsOf(o) ?? [];
    if (alerts.some((a) => Object.entries(a.matchLabels).every(([k, v]) => labels[k] === v))) keys.push(objectKey(o));
  }
  return keys;
}

export class RollbackRequests {
  readonly #waiting = new Map<string, RollbackRequest & { done: Array<(ok: boolean) => void> }>();
  readonly #enqueueUrgent: (key: string) => void;

  constructor(enqueueUrgent: (key: string) => void) {
    this.#enqueueUrgent = enqueueUrgent;
  }

  /** Resolves with the outcome of the reconcile that consumes it; a second request joins the first. */
  request(key: string, trigger: RollbackTrigger, reason: string, alert?: string, id?: string): Promise<boolean> {
    return new Promise((resolve) => {
      const existing = this.#waiting.get(key);
      if (existing) { existing.done.push(resolve); return; }
      this.#waiting.set(key, { trigger, reason, ...(alert ? { alert } : {}), ...(id ? { id } : {}), done: [resolve] });
      this.#enqueueUrgent(key);
    });
  }

  /**
   * For a reconcile of `key` that starts now: the request waiting for it, and `settle`, which answers
   * that request and those that joined it while the reconcile ran. Without a waiting request,
   * `settle` does nothing: a request made meanwhile is left for the reconcile it enqueued. A
   * reconcile that does not settle (it failed, or it waits for a child) leaves the request for the
   * next reconcile of the key.
   */
  take(key: string): { request: RollbackRequest | undefined; settle: (ok: boolean) => void } {
    const entry = this.#waiting.get(key);
    if (!entry) return { request: undefined, settle: () => {} };
    let settled = false;
    return {
      request: { trigger: entry.trigger, reason: entry.reason, ...(entry.alert ? { alert: entry.alert } : {}), ...(entry.id ? { id: entry.id } : {}) },
      settle: (ok) => {
        if (settled) return;
        settled = true;
        this.#waiting.delete(key);
        for (const f of entry.done) f(ok);
      },
    };
  }
}
