// A reconcile that fails is seen on the object, not only in the operator's log (Flux's Stalling vs
// Generic errors; kopf): Ready=False with a reason naming the cause and a message naming the
// operation and the object, Stalled=True when only the user can fix it (a 403 from RBAC, a 422
// from validation or an admission policy), and one Warning Event per distinct failure. The key is
// still retried with backoff (runtime/controller.ts); the next reconcile that succeeds puts the
// conditions back as its planner computes them. KindController (./kind.ts) applies this, once,
// for every reconcile of the three kinds. Pure functions, no I/O.
import { ConditionType, Reason } from '../../api/conditions.ts';
import { CONFIG_MAP, FEATURE_FLAG, HTTP_ROUTE, apiMessage, describeRequest, isConflict, isKubeApiError, requestTarget } from '../../kube/index.ts';
import { FlagWriteError } from '../../flags/provider.ts';
import { getCondition, removeCondition, setCondition, type Condition } from '../../runtime/conditions.ts';
import { RouteProblemError, RouteVerificationError } from '../../traffic/router.ts';

/** What the user is shown of a failed reconcile. */
export interface Failure {
  reason: string;
  /** Names the operation and the object, then the API server's words. */
  message: string;
  /** Only the user can fix it: Stalled=True (a kstatus reader calls the object Failed). */
  stalled: boolean;
}

/** The Ready reasons a failure sets (a planner never sets them): how a status is known to carry one. */
const FAILURE_REASONS: ReadonlySet<string> = new Set([
  Reason.Forbidden, Reason.RouteWriteRejected, Reason.WriteRejected, Reason.RouteVerificationFailed,
  Reason.FeatureFlagWriteFailed, Reason.ReconcileError,
]);

const WRITES: ReadonlySet<string> = new Set(['create', 'update', 'patch', 'apply', 'delete']);

/**
 * The failure to show for an error a reconcile threw; undefined for a 409 Conflict (a stale read
 * or a concurrent write: retried at once, nothing the user can see or fix).
 */
export function failureOf(err: unknown): Failure | undefined {
  if (err instanceof RouteVerificationError) return { reason: Reason.RouteVerificationFailed, message: err.message, stalled: false };
  // A route deleted or changed between the read and the write.
  if (err instanceof RouteProblemError) return { reason: Reason.RouteNotFound, message: err.message, stalled: true };
  // A flag provider's own failure (an HTTP flag endpoint that keeps failing), e.g. while restoring it on rollback: retried.
  if (err instanceof FlagWriteError) return { reason: Reason.FeatureFlagWriteFailed, message: `${err.field}: ${err.message}`, stalled: false };
  if (!isKubeApiError(err)) return { reason: Reason.ReconcileError, message: err instanceof Error ? err.message : String(err), stalled: false };
  if (isConflict(err)) return undefined;
  const target = requestTarget(err.request);
  const message = `${describeRequest(err.request) ?? 'request'}: ${apiMessage(err)}`;
  const write = target !== undefined && WRITES.has(target.verb);
  const invalid = err.code === 422 || err.reason === 'Invalid';
  if (err.code === 403) return { reason: Reason.Forbidden, message, stalled: true };
  if (write && target.resource === HTTP_ROUTE.plural && invalid) return { reason: Reason.RouteWriteRejected, message, stalled: true };
  if (write && (target.resource === CONFIG_MAP.plural || target.resource === FEATURE_FLAG.plural)) return { reason: Reason.FeatureFlagWriteFailed, message, stalled: invalid };
  if (write && invalid) return { reason: Reason.WriteRejected, message, stalled: true };
  return { reason: Reason.ReconcileError, message, stalled: false };
}

/** The conditions of a failure a status carries (written by `withFailure`), if it carries one. */
export interface ActiveFailure { ready: Condition; stalled: Condition | undefined }

export function activeFailure(status: { conditions?: Condition[] | undefined } | undefined): ActiveFailure | undefined {
  const ready = getCondition(status?.conditions, ConditionType.Ready);
  if (!ready || ready.status !== 'False' || !FAILURE_REASONS.has(ready.reason)) return undefined;
  const stalled = getCondition(status?.conditions, ConditionType.Stalled);
  return { ready, stalled: stalled?.status === 'True' && stalled.reason === ready.reason ? stalled : undefined };
}

/** True when `status` already shows exactly this failure (its Event was recorded then). */
export function showsFailure(status: { conditions?: Condition[] | undefined } | undefined, f: Failure): boolean {
  const a = activeFailure(status);
  return a !== undefined && a.ready.reason === f.reason && a.ready.message === f.message && (a.stalled !== undefined) === f.stalled;
}

type WithConditions = { conditions?: Condition[] | undefined };

/**
 * `status` showing `f`: Ready=False naming it; when stalled, Stalled=True and no Progressing or
 * Reconciling (kstatus reads Reconciling=True before Stalled). Everything else is kept.
 */
export function withFailure<S extends WithConditions>(status: S, f: Failure, generation: number, now: number): S {
  const at = { observedGeneration: generation };
  let conditions = setCondition(status.conditions, { type: ConditionType.Ready, status: 'False', reason: f.reason, message: f.message, ...at }, now);
  if (f.stalled) {
    conditions = setCondition(conditions, { type: ConditionType.Stalled, status: 'True', reason: f.reason, message: f.message, ...at }, now);
    conditions = removeCondition(removeCondition(conditions, ConditionType.Progressing), ConditionType.Reconciling);
  } else if (FAILURE_REASONS.has(getCondition(conditions, ConditionType.Stalled)?.reason ?? '')) {
    // An earlier failure the user had to fix gave way to one a retry may fix.
    conditions = removeCondition(conditions, ConditionType.Stalled);
  }
  return { ...status, conditions };
}

/**
 * A planned status while the object still shows a failure of an earlier reconcile: the failure's
 * conditions stay until the reconcile has succeeded. Without it a retry would write the planner's
 * conditions, fail again and write the failure again: two writes and an immediate reconcile (the
 * write's watch event) per retry, instead of one quiet retry with backoff.
 */
export function overlayFailure<S extends WithConditions>(status: S, a: ActiveFailure): S {
  let conditions = replaceCondition(status.conditions, a.ready);
  if (a.stalled) {
    conditions = replaceCondition(conditions, a.stalled);
    conditions = removeCondition(removeCondition(conditions, ConditionType.Progressing), ConditionType.Reconciling);
  }
  return { ...status, conditions };
}

function replaceCondition(conditions: readonly Condition[] | undefined, c: Condition): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((x) => x.type === c.type);
  if (i >= 0) list[i] = c; else list.push(c);
  return list;
}
