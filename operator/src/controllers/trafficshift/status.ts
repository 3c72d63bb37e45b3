// The conditions of a TrafficShift for its planned status (kstatus conventions, api/conditions.ts):
// Ready summarises; Progressing with Reconciling while it moves; Degraded after a rollback, a
// failure or a pause that is not the user's; a Stalled condition set by the planner wins Ready's
// reason. Pure; called once per plan, by the planner's finish.
import { ConditionType, Reason } from '../../api/conditions.ts';
import type { RollbackTrigger, TrafficShiftStatus } from '../../api/trafficshift.ts';
import type { Condition } from '../../runtime/conditions.ts';
import type { PlannerBase } from '../shared/planner.ts';

type Conditions = Pick<PlannerBase<never, never, never>, 'markOutcome' | 'markInProgress' | 'setCondition' | 'removeCondition'>;

/** Sets the conditions for `st`'s phase through the planner `p`; `msg` explains them. */
export function setShiftConditions(p: Conditions, st: TrafficShiftStatus, msg: string, stalled: Condition | undefined): void {
  const phase = st.phase ?? 'Pending';
  if (p.markOutcome(phase, () => (phase === 'RolledBack' ? rollbackReason(st.rollback?.trigger) : Reason.Failed), msg)) return;
  const progressingReason = phase === 'Pending' ? (st.workersReady === false ? Reason.WaitingForWorkers : Reason.Initializing) : phase === 'Paused' ? Reason.StepPaused : Reason.StepInProgress;
  p.markInProgress(progressingReason, msg, stalled);
  if (phase === 'Paused' && st.pauseReason !== 'Manual') p.setCondition(ConditionType.Degraded, 'True', st.pauseReason === 'Inconclusive' ? Reason.AnalysisInconclusive : Reason.AnalysisFailed, msg);
  else p.removeCondition(ConditionType.Degraded);
}

/** The Degraded reason of a rollback, by its trigger. */
export function rollbackReason(trigger: RollbackTrigger | undefined): string {
  switch (trigger) {
    case 'Alert': return Reason.AlertFired;
    case 'Manual': return Reason.ManualRollback;
    case 'Webhook': return Reason.WebhookRollback;
    case 'Deadline': return Reason.DeadlineExceeded;
    default: return Reason.MetricThresholdBreached;
  }
}
