// What the notifiers are told: one phase change of one cutover resource, with what a person needs to
// read it (where it is, why it changed) and the resource's `spec.notify`.
import type { Notify } from '../api/common.ts';

export interface PhaseChange {
  kind: 'TrafficShift' | 'MigrationSlice' | 'ShadowRun';
  namespace: string;
  name: string;
  uid: string;
  /**
   * One run of the resource: the spec generation, plus the retry request id when a RolledBack run
   * was retried. A GitHub Deployment is created per run.
   */
  run: string;
  /** Phase before; undefined for a resource seen for the first time. */
  from?: string | undefined;
  to: string;
  message: string;
  weight?: number | undefined;
  /** Index of the current step and the number of steps. */
  step?: number | undefined;
  steps?: number | undefined;
  rollback?: { trigger: string; reason: string } | undefined;
  /** RFC 3339 time of the change. */
  at: string;
  notify: Notify;
}

/** `TrafficShift shop/listings-read` */
export function subject(c: PhaseChange): string {
  return `${c.kind} ${c.namespace}/${c.name}`;
}

/** One line a person reads in a chat channel or a deployment status. */
export function summary(c: PhaseChange): string {
  const where = c.weight !== undefined ? ` (canary weight ${c.weight}%${c.step !== undefined && c.steps ? `, step ${c.step + 1}/${c.steps}` : ''})` : '';
  switch (c.to) {
    case 'RolledBack':
      return `${subject(c)} rolled back${c.rollback ? ` (${c.rollback.trigger}): ${c.rollback.reason}` : `: ${c.message}`}`;
    case 'Completed':
      return `${subject(c)} completed${where}`;
    case 'Failed':
      return `${subject(c)} failed: ${c.message}`;
    default:
      return `${subject(c)} ${c.from ?? 'new'} → ${c.to}${where}: ${c.message}`;
  }
}

/** Whether the change ends a run badly (a GitHub `failure`). */
export function isFailure(phase: string): boolean {
  return phase === 'RolledBack' || phase === 'Failed';
}

/** Whether the change ends a run well (a GitHub `success`). */
export function isSuccess(phase: string): boolean {
  return phase === 'Completed' || phase === 'Passed';
}
