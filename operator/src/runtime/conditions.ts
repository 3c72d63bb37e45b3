// kstatus conditions over plain objects. Pure functions: they return new arrays and never mutate,
// so the planner can compute the next status and the reconciler can compare it with the old one.
import type { Condition, ConditionStatus } from '../api/conditions.ts';
import { rfc3339 } from './clock.ts';

// One Condition type: the status schema's (api/conditions.ts, metav1.Condition), so what the
// planners compute is what the CRD admits.
export type { Condition, ConditionStatus };

/** What a caller states about a condition; the transition time is worked out by `setCondition`. */
export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message?: string;
  observedGeneration?: number;
}

/**
 * Sets `input` in `conditions` and returns the new list (order kept; a new type is appended).
 * `lastTransitionTime` is `now` when the condition is new or its status flips, and is kept
 * otherwise, even if reason, message or observedGeneration change.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  input: ConditionInput,
  now: number | Date,
): Condition[] {
  const list = conditions ?? [];
  const at = rfc3339(typeof now === 'number' ? now : now.getTime());
  const index = list.findIndex((c) => c.type === input.type);
  const previous = index >= 0 ? list[index] : undefined;
  const next: Condition = {
    type: input.type,
    status: input.status,
    ...(input.observedGeneration !== undefined ? { observedGeneration: input.observedGeneration } : {}),
    lastTransitionTime: previous && previous.status === input.status ? previous.lastTransitionTime : at,
    reason: input.reason,
    message: input.message ?? '',
  };
  if (index < 0) return [...list, next];
  const copy = [...list];
  copy[index] = next;
  return copy;
}

/** Returns the list without a condition of `type` (same content if there was none). */
export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}

export function getCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return (conditions ?? []).find((c) => c.type === type);
}

export function isTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return getCondition(conditions, type)?.status === 'True';
}

export function isFalse(conditions: readonly Condition[] | undefined, type: string): boolean {
  return getCondition(conditions, type)?.status === 'False';
}

/**
 * True when two status objects differ in any field, compared as JSON: object key order does not
 * matter, array order does, and a key whose value is `undefined` counts as absent (it is not sent).
 * Used to write status only when it changed.
 */
export function statusChanged(previous: unknown, next: unknown): boolean {
  return !jsonEqual(previous, next);
}

/** Deep equality with JSON semantics (see `statusChanged`). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') {
    // undefined vs missing is handled by the caller (object branch); NaN is not JSON.
    return false;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => jsonEqual(item, b[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const aKeys = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bKeys = Object.keys(bo).filter((k) => bo[k] !== undefined);
  if (aKeys.length !== bKeys.length) return false;
  return aKeys.every((k) => Object.prototype.hasOwnProperty.call(bo, k) && jsonEqual(ao[k], bo[k]));
}
