// Rollbacks requested out of band (the alert hooks' RollbackTarget, hooks/server.ts): which
// resources an alert's labels match, and the requests waiting for their key's next reconcile.
// A request goes ahead of the routine reconciles already queued (enqueueUrgent) and is consumed
// by the next reconcile of its key, never concurrently with another reconcile of the same key.
import type { AlertMatch } from '../../api/common.ts';
import type { RollbackTrigger } from '../../api/trafficshift.ts';
import type { KubeObject } from '../../kube/index.ts';
import { keyOf } from './kind.ts';

export interface RollbackRequest { trigger: RollbackTrigger; reason: string; alert?: string }

/** Keys of the objects whose alert matchers (undefined: cannot roll back now) match `labels`. */
export function matchAlert<T extends KubeObject>(objects: Iterable<T>, labels: Record<string, string>, alertsOf: (o: T) => readonly AlertMatch[] | undefined): string[] {
  const keys: string[] = [];
  for (const o of objects) {
    const alerts = alertsOf(o) ?? [];
    if (alerts.some((a) => Object.entries(a.matchLabels).every(([k, v]) => labels[k] === v))) keys.push(keyOf(o));
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
  request(key: string, trigger: RollbackTrigger, reason: string, alert?: string): Promise<boolean> {
    return new Promise((resolve) => {
      const existing = this.#waiting.get(key);
      if (existing) { existing.done.push(resolve); return; }
      this.#waiting.set(key, { trigger, reason, ...(alert ? { alert } : {}), done: [resolve] });
      this.#enqueueUrgent(key);
    });
  }

  /**
   * For a reconcile of `key` that starts now: the request waiting for it, and `settle`, which answers
   * that request and those that joined it while the reconcile ran. Without a waiting request,
   * `settle` does nothing: a request made meanwhile is left for the reconcile it enqueued.
   */
  take(key: string): { request: RollbackRequest | undefined; settle: (ok: boolean) => void } {
    const entry = this.#waiting.get(key);
    if (!entry) return { request: undefined, settle: () => {} };
    let settled = false;
    return {
      request: { trigger: entry.trigger, reason: entry.reason, ...(entry.alert ? { alert: entry.alert } : {}) },
      settle: (ok) => {
        if (settled) return;
        settled = true;
        this.#waiting.delete(key);
        for (const f of entry.done) f(ok);
      },
    };
  }
}
