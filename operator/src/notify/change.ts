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

/** What a phase change reads from a resource's status (TrafficShift and MigrationSlice alike). */
export interface PhaseStatus {
  phase?: string | undefined;
  message?: string | undefined;
  observedGeneration?: number | undefined;
  acknowledgedActions?: Array<{ action: string; id: string }> | undefined;
  rollback?: { trigger: string; reason: string } | undefined;
}

/**
 * The change from `from` to `st.phase` of one resource. Its run is the spec generation, plus the
 * retry request id once a retry was acknowledged (a GitHub Deployment per run).
 */
export function phaseChangeOf(
  kind: PhaseChange['kind'],
  meta: { namespace?: string | undefined; name?: string | undefined; uid?: string | undefined; generation?: number | undefined },
  from: string | undefined, st: PhaseStatus, now: number, notify: Notify,
  progress: Pick<PhaseChange, 'weight' | 'step' | 'steps'> = {},
): PhaseChange {
  const retry = st.acknowledgedActions?.find((a) => a.action === 'Retry')?.id;
  return {
    kind, namespace: meta.namespace ?? '', name: meta.name ?? '', uid: meta.uid ?? '',
    run: `g${st.observedGeneration ?? meta.generation ?? 1}${retry ? `-retry-${retry}` : ''}`,
    from, to: st.phase ?? 'Pending', message: st.message ?? '', ...progress,
    rollback: st.phase === 'RolledBack' && st.rollback ? { trigger: st.rollback.trigger, reason: st.rollback.reason } : undefined,
    at: new Date(now).toISOString(), notify,
  };
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
