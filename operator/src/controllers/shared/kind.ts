// What the three reconcilers share around their planners: the work queue fed by their kind's
// informer; the copy of each object the controller itself wrote last (an informer can lag behind
// that write by a few ms, and planning on the older copy could repeat a step, see kube/freshness.ts);
// the status write (server-side apply of the status subresource, field manager `cutover`: the
// operator never writes a spec, DESIGN §2); the finalizer patch; planned Events; the Stalled
// status of a spec the schema refuses; and what a user sees of a failed reconcile (./failure.ts).
import type { PrometheusQuerySpec } from '../../analysis/prometheus.ts';
import type { MetricProvider, RangeMetricProvider } from '../../analysis/provider.ts';
import type { WebCheckSpec } from '../../analysis/webcheck.ts';
import { ConditionType, Reason } from '../../api/conditions.ts';
import { formatPath } from '../../api/validate.ts';
import { apiVersionOf, newerObject, objectKey, splitKey, type EventRecorder, type KubeClient, type KubeObject, type ResourceType } from '../../kube/index.ts';
import { realClock, type Clock } from '../../runtime/clock.ts';
import { Controller, type ReconcileContext, type ReconcileResult, type Reconciler } from '../../runtime/controller.ts';
import { removeCondition, setCondition, statusChanged, type Condition } from '../../runtime/conditions.ts';
import { activeFailure, failureOf, overlayFailure, showsFailure, withFailure, type ActiveFailure } from './failure.ts';
import type { Logger } from '../../runtime/logger.ts';
import type { EventEffect, SpecProblem } from './planner.ts';
import type { Store } from './store.ts';
import type { TrafficRouter } from '../../traffic/router.ts';

/** What a kind's controller is given (its deps): the client, its informer, logger, Events, metrics. */
export interface KindDeps<T extends KubeObject> {
  client: KubeClient;
  informer: Store<T>;
  logger: Logger;
  events: EventRecorder;
  /** Per-object series, forgotten when the object is deleted. */
  metrics: { forget(namespace: string, name: string): void };
  concurrency?: number | undefined;
  /** For the transition times of a failure's conditions; default the system clock. */
  clock?: Clock | undefined;
}

/** What each of the three controllers is given: KindDeps, the routers, Prometheus and a clock. */
export interface ControllerDeps<T extends KubeObject> extends KindDeps<T> {
  router: TrafficRouter;
  /** The metric provider (analysis/prometheus.ts in the operator), by its interface. */
  prometheus: RangeMetricProvider<PrometheusQuerySpec>;
  /** The web check provider (analysis/webcheck.ts in the operator), by its interface. */
  web: MetricProvider<WebCheckSpec>;
  defaultPrometheusUrl: string;
  clock: Clock;
}

export interface KindControllerOptions<T extends KubeObject> {
  /** The controller's name (metrics label, log field). */
  name: string;
  type: ResourceType;
  deps: KindDeps<T>;
  reconcile: Reconciler;
  /** More to forget when an object is deleted (in-memory bookkeeping). */
  forget?: ((key: string) => void) | undefined;
}

/** The objects of one kind as its controller sees them, and the controller's writes to them. */
export class KindController<T extends KubeObject> {
  readonly controller: Controller;
  readonly #o: KindControllerOptions<T>;
  /** The objects this controller wrote last, so a reconcile never plans on an older cached copy. */
  readonly #written = new Map<string, T>();
  /**
   * Per key, while its reconcile runs: the failure its status showed at the start (from an earlier
   * reconcile), and the status its planner asked for (see `planned`).
   */
  readonly #running = new Map<string, { failure: ActiveFailure | undefined; planned: object | undefined }>();

  constructor(o: KindControllerOptions<T>) {
    this.#o = o;
    const { deps } = o;
    this.controller = new Controller({ name: o.name, concurrency: deps.concurrency ?? 4, logger: deps.logger, reconcile: (key, ctx) => this.#reconcile(key, ctx) });
    deps.informer.addHandler({
      onAdd: (obj) => this.controller.enqueue(objectKey(obj)),
      onUpdate: (a, b) => { if (a.metadata.resourceVersion !== b.metadata.resourceVersion) this.controller.enqueue(objectKey(b)); },
      onDelete: (obj) => {
        const key = objectKey(obj);
        this.#written.delete(key);
        o.forget?.(key);
        deps.metrics.forget(obj.metadata.namespace ?? '', obj.metadata.name ?? '');
      },
    });
  }

  /**
   * The kind's reconcile, and what a user sees when it throws (./failure.ts): Ready=False naming
   * the failure, Stalled=True when only the user can fix it, and one Warning Event per distinct
   * failure (not one per retry: none when the status already showed it). The error is rethrown, so
   * the key is retried with backoff. Caught here, once, for every effect of every kind.
   */
  async #reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult | void> {
    const start = this.current(key);
    const run = { failure: activeFailure(start?.status as { conditions?: Condition[] } | undefined), planned: undefined as object | undefined };
    this.#running.set(key, run);
    let out: ReconcileResult | void;
    try {
      out = await this.#o.reconcile(key, ctx);
    } catch (err) {
      if (!ctx.signal.aborted) await this.#failed(key, start, err, ctx);
      throw err;
    } finally {
      this.#running.delete(key);
    }
    // Recovered: the conditions as the planner computed them (the failure's were kept until now).
    if (run.failure && run.planned) {
      const obj = this.current(key);
      if (obj && statusChanged(obj.status ?? {}, run.planned)) await this.applyStatus(obj, run.planned, ctx.logger);
    }
    return out;
  }

  async #failed(key: string, start: T | undefined, err: unknown, ctx: ReconcileContext): Promise<void> {
    const f = failureOf(err);
    const obj = this.current(key);
    if (!f || !obj) return;
    const status = (obj.status ?? {}) as { conditions?: Condition[] };
    const next = withFailure(status, f, obj.metadata.generation ?? 1, (this.#o.deps.clock ?? realClock).now());
    try {
      if (statusChanged(status, next)) await this.applyStatus(obj, next as { phase?: string }, ctx.logger);
    } catch (writeErr) {
      ctx.logger.error({ err: writeErr, reason: f.reason }, 'the status of a failed reconcile could not be written');
    }
    if (!showsFailure(start?.status as { conditions?: Condition[] } | undefined, f)) {
      this.event(obj, { type: 'event', eventType: 'Warning', reason: f.reason, note: f.message }, ctx.logger);
    }
  }

  /**
   * The status to write for a plan (each status write of a reconcile passes through here): while
   * the object shows a failure of an earlier reconcile, with that failure's conditions (see
   * overlayFailure in ./failure.ts); the planned status itself is written once the reconcile
   * has succeeded.
   */
  planned<S extends object>(obj: T, next: S): S {
    const run = this.#running.get(objectKey(obj));
    if (!run?.failure) return next;
    run.planned = next;
    return overlayFailure(next as { conditions?: Condition[] }, run.failure) as S;
  }

  /**
   * The newer of the informer's copy and the one this controller wrote last; undefined: gone.
   * Once the informer has caught up with a write, the written copy is dropped: at 10,000 objects
   * keeping each one's last write would hold a second copy of every object.
   */
  current(key: string): T | undefined {
    const { namespace, name } = splitKey(key);
    const written = this.#written.get(key);
    const newest = newerObject(this.#o.deps.informer.get(namespace, name), written);
    if (written && newest !== written) this.#written.delete(key);
    return newest;
  }

  /** Server-side apply of `status` to the status subresource; the answer is the newest copy. */
  async applyStatus(obj: T, status: { phase?: string | undefined }, logger: Logger): Promise<T> {
    const { type } = this.#o;
    const updated = await this.#o.deps.client.apply<T>(type, {
      apiVersion: apiVersionOf(type), kind: type.kind,
      metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace },
      status,
    } as KubeObject, { subresource: 'status', force: true });
    this.#written.set(objectKey(obj), updated);
    logger.debug({ phase: status.phase, resourceVersion: updated.metadata.resourceVersion }, 'status written');
    return updated;
  }

  /** Writes `next` only when it differs from the object's status. */
  async writeStatus(obj: T, planned: { phase?: string | undefined }, logger: Logger): Promise<T> {
    const next = this.planned(obj, planned);
    if (!statusChanged(obj.status ?? {}, next)) return obj;
    return this.applyStatus(obj, next, logger);
  }

  /** A planned Event about `obj` (recorded in the background: an Event never holds a reconcile up). */
  event(obj: T, e: EventEffect, logger: Logger): void {
    this.#o.deps.events.record({ regarding: obj, type: e.eventType, reason: e.reason, action: e.reason, note: e.note });
    logger.info({ reason: e.reason, note: e.note }, 'event');
  }

  /**
   * Adds or removes `finalizer`. The resourceVersion makes the patch conditional: a concurrent
   * change answers 409 and the reconcile is retried on a fresh read.
   */
  async patchFinalizer(obj: T, finalizer: string, add: boolean): Promise<T> {
    const current = obj.metadata.finalizers ?? [];
    const finalizers = add ? [...current.filter((f) => f !== finalizer), finalizer] : current.filter((f) => f !== finalizer);
    const updated = await this.#o.deps.client.mergePatch<T>(this.#o.type, obj.metadata.namespace, obj.metadata.name ?? '', { metadata: { finalizers, resourceVersion: obj.metadata.resourceVersion } });
    if (add) this.#written.set(objectKey(obj), updated);
    return updated;
  }
}

/**
 * The problem of a spec the schema refuses, naming the field as admission does
 * (`spec.steps[1].weight`, api/validate.ts formatPath).
 */
export function invalidSpec(issue: { path: ReadonlyArray<PropertyKey>; message: string }): SpecProblem {
  return { field: formatPath(issue.path, 'spec'), message: issue.message, reason: Reason.InvalidSpec };
}

/** A spec the schema refuses (a CRD installed without its schema): Stalled and Ready=False name the field. */
export function stalledStatus<S extends { observedGeneration?: number | undefined; phase?: string | undefined; conditions?: Condition[] | undefined }>(
  status: S, generation: number, now: number, p: SpecProblem,
): S {
  const msg = `${p.field}: ${p.message}`;
  let conditions = setCondition(status.conditions, { type: ConditionType.Stalled, status: 'True', reason: p.reason, message: msg, observedGeneration: generation }, now);
  conditions = setCondition(conditions, { type: ConditionType.Ready, status: 'False', reason: p.reason, message: msg, observedGeneration: generation }, now);
  // kstatus reads Reconciling=True before Stalled: a stalled object is not reconciling.
  conditions = removeCondition(removeCondition(conditions, ConditionType.Progressing), ConditionType.Reconciling);
  return { ...status, observedGeneration: generation, phase: status.phase ?? 'Pending', conditions };
}
