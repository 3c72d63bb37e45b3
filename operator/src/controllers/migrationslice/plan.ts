// The MigrationSlice decision: a pure function from what was observed (the slice, its children,
// its triggers, its feature flag) to the next status and the ordered effects.
//
//   Pending ──(startWhen met)──▶ Shadowing ──(ShadowRun Passed)──▶ Shifting ──▶ Stabilizing ──▶ Completed
//      │                            │ ShadowRun Failed/Cancelled        │ TrafficShift RolledBack
//      │                            ▼                                   ▼
//      └────────── alert/abort ──▶ Failed / RolledBack ◀────────────────┘
//
// The slice does not move traffic itself: its children do (a ShadowRun mirrors, a TrafficShift
// shifts, scales workers and rolls back). The slice orders them, flips the feature flag, keeps
// the history, and undoes what it started when it is rolled back or deleted before completion.
// Its startWhen triggers are judged in ./triggers.ts.
// Status is written before a child is created, so a restart adopts the child instead of creating
// a second one; a child the status does not know of is a leftover of an earlier run and is removed.
//
// Rollback order (DESIGN §2): route → feature flag → workers → status and Events. The route is the
// TrafficShift child's part: whatever triggers the rollback (its own metric breach or deadline, an
// alert, an abort of the slice, a deletion), the child sets the route back to stable 100% and records
// it in its status. A shift owned by a slice stops there: it leaves its workers to the slice
// (`ownerSlice` in trafficshift/plan.ts). The slice then turns the flag off and restores the workers
// from the child's worker records (`status.workers`: replicas before scaling), and writes its status
// (`status.rollback` with a stamp per part) and Events last. The slice's status is written once,
// after its effects: a restart before that write finds the child RolledBack and does the flag and
// the workers again, in the same order (both idempotent); after it, nothing is repeated. Nothing
// here writes a spec of the slice's own kinds; workers go through the scale subresource.
//
// The feature flag (spec.featureFlag; providers in flags/): before the TrafficShift is created, the
// flag's state is kept in status (previousValue, written first: a crash cannot lose it) and the flag
// is set to its starting value; a flag that cannot be set (or that another live slice drives) stalls
// the slice there, before any work moves. The controller applies the write and, when it fails, plans
// again with `flagError` (the plan stays pure). While the shift runs the flag follows it (OnOff: on
// from step onAtStep; Percentage: the child's currentWeight); on rollback or deletion it is restored.
import { parseDuration } from '../../api/duration.ts';
import { ConditionType, EventReason, Reason } from '../../api/conditions.ts';
import {
  MAX_HISTORY,
  type FeatureFlag,
  type MigrationSlicePhase,
  type MigrationSliceSpec,
  type MigrationSliceStatus,
} from '../../api/migrationslice.ts';
import type { ShadowRunPhase, Verdict } from '../../api/shadowrun.ts';
import type { RollbackStatus, RollbackTrigger, TrafficShiftPhase, WorkerStatus } from '../../api/trafficshift.ts';
import type { RollbackRequest as RecordedRollback } from '../../api/common.ts';
import { PlannerBase, STALLED_RETRY_MS, ms, pendingActions, type EventEffect, type PlanOf, type SpecProblem, type StatusWrite } from '../shared/planner.ts';
import { workerRestoreEffects } from '../trafficshift/plan.ts';
import { checkTriggers, TRIGGER_POLL_MS, type TriggerSample } from './triggers.ts';
import type { Step } from '../../api/common.ts';
import { describeFlag, offValue, type FlagAnswer } from '../../flags/provider.ts';

export { CLEANUP_FINALIZER } from '../shared/planner.ts';

interface ChildBase {
  name: string;
  /** Its controller ownerReference is this slice. */
  ownedByUs: boolean;
  deleting: boolean;
  /** The child's Stalled condition, when True. */
  stalled?: { reason: string; message: string } | undefined;
  message?: string | undefined;
}
export interface ObservedShadowRun extends ChildBase { phase?: ShadowRunPhase | undefined; verdict?: Verdict | undefined }
export interface ObservedTrafficShift extends ChildBase {
  phase?: TrafficShiftPhase | undefined;
  currentStep?: number | undefined;
  currentWeight?: number | undefined;
  rollbackReason?: string | undefined;
  /** The child's rollback record: what triggered it, and which parts it has done. */
  rollback?: Pick<RollbackStatus, 'trigger' | 'fromWeight' | 'routeRestoredAt' | 'workersRestoredAt' | 'completedAt'> | undefined;
  /** The child's worker records (replicas before it scaled them): what a rollback restores. */
  workers?: WorkerStatus[] | undefined;
  /** The id of the rollback request recorded on the child (its cutover.dev/rollback-request), if any. */
  rollbackRequestId?: string | undefined;
}

export interface SliceObservation {
  now: number;
  generation: number;
  name: string;
  spec: MigrationSliceSpec;
  status: MigrationSliceStatus;
  annotations: Record<string, string>;
  deleting: boolean;
  hasFinalizer: boolean;
  problems: SpecProblem[];
  /** The children by their names (`<slice>-shadow`, `<slice>-shift`); undefined: not found. */
  shadowRun?: ObservedShadowRun | undefined;
  trafficShift?: ObservedTrafficShift | undefined;
  /** startWhen measured in this reconcile (only when a check was due). */
  triggers?: TriggerSample[] | undefined;
  /**
   * The feature flag's state as its provider read it (the value a rollback restores; undefined:
   * absent, or an http endpoint). Read only until the slice has set the flag in this run.
   */
  flagValue?: string | undefined;
  /** Another live MigrationSlice drives the same flag: its name. */
  flagConflict?: string | undefined;
  /** Setting the flag to `value` failed in this reconcile (the controller plans again with it). */
  flagError?: { value: string; field: string; reason: string; message: string; answer?: FlagAnswer | undefined } | undefined;
  /** A rollback requested out of band and handed over in memory by this process's hook (fast path). */
  rollbackRequest?: { trigger: RollbackTrigger; reason: string; alert?: string | undefined; id?: string | undefined } | undefined;
}

export type ChildKind = 'ShadowRun' | 'TrafficShift';

export type Effect =
  | { type: 'addFinalizer' }
  | { type: 'removeFinalizer' }
  | { type: 'createChild'; kind: ChildKind }
  | { type: 'deleteChild'; kind: ChildKind }
  | { type: 'abortChild'; kind: ChildKind; id: string }
  /**
   * Asks the child TrafficShift to roll back, through the API (its cutover.dev/rollback-request
   * annotation); the slice looks again when the child's status changes, never awaiting its controller.
   */
  | { type: 'requestChildRollback'; request: RecordedRollback }
  | { type: 'restoreRoute' }
  | { type: 'removeMirror' }
  /** Sets the flag (flags/ provider); 'start' before the child exists, 'follow' as the shift moves. */
  | { type: 'setFlag'; value: string; purpose: 'start' | 'follow' }
  /** Puts the flag back as it was (`previous` from status), or its off value. */
  | { type: 'restoreFlag'; previous?: string | undefined }
  /** An intermediate status write (the flag's previous value, before the flag is first set). */
  | { type: 'writeStatusNow'; status: MigrationSliceStatus }
  | { type: 'scale'; deployment: string; replicas: number }
  | StatusWrite
  | EventEffect;

export type Plan = PlanOf<MigrationSliceStatus, Effect> & {
  /**
   * The plan only asked the child TrafficShift to roll back (or waits for it to): the status is left
   * as it was, and a rollback request in hand stays pending until a later reconcile finishes it.
   */
  waitingForChild?: boolean;
};

const TERMINAL: ReadonlySet<MigrationSlicePhase> = new Set(['Completed', 'RolledBack', 'Failed']);
const LIVE_SHIFT: ReadonlySet<TrafficShiftPhase> = new Set(['Pending', 'Progressing', 'Paused']);
const CHILD_WAIT_MS = 500;

export function isTerminal(phase: MigrationSlicePhase | undefined): boolean {
  return phase !== undefined && TERMINAL.has(phase);
}

export const childName = (slice: string, kind: ChildKind): string => `${slice}-${kind === 'ShadowRun' ? 'shadow' : 'shift'}`;

/** Whether the startWhen triggers should be measured now. */
export function triggersDue(spec: MigrationSliceSpec, status: MigrationSliceStatus, generation: number): boolean {
  if (!spec.startWhen?.length) return false;
  if (status.observedGeneration !== generation) return status.phase === undefined || status.phase === 'Pending' || isTerminal(status.phase);
  return status.phase === 'Pending' && !status.triggeredAt;
}

export function planMigrationSlice(o: SliceObservation): Plan {
  return new Planner(o).run();
}

class Planner extends PlannerBase<SliceObservation, MigrationSliceStatus, Effect> {
  /** Events go after every other effect (after the status write). */
  readonly events: Effect[] = [];
  /** Stalled on the slice itself (a run-time problem, a child it cannot own). */
  stalled: { reason: string; message: string } | undefined;
  /** A child's Stalled condition, surfaced on the slice. */
  childStalled: { reason: string; message: string } | undefined;

  run(): Plan {
    const o = this.o;
    const before = this.st.phase;
    if (o.deleting) return this.deletion();

    if (this.st.observedGeneration !== o.generation && (this.st.phase === undefined || this.st.phase === 'Pending' || isTerminal(this.st.phase))) {
      this.restart(before === undefined ? Reason.Created : Reason.SpecChanged, before === undefined ? 'slice created' : `spec changed (generation ${o.generation})`);
    }

    // A recorded request that cannot be used, or that finds the run over, changes nothing
    // (shared/planner.ts recordedRollback; before a retry, so it does not roll back the next run).
    const { recorded, warning } = this.recordedRollback(isTerminal(this.st.phase));
    if (warning) this.events.push(warning);

    const actions = pendingActions(o.annotations, this.st);
    const retry = actions.find((a) => a.action === 'Retry');
    if (retry) {
      this.ack(retry.action, retry.id);
      if (this.st.phase === 'RolledBack' || this.st.phase === 'Failed') this.restart(Reason.RetryRequested, `retry requested (${retry.id})`);
    }
    if (isTerminal(this.st.phase)) {
      for (const a of actions) this.ack(a.action, a.id);
      this.terminal();
      return this.finish(before);
    }
    const abort = actions.find((a) => a.action === 'Abort');
    const child = o.trafficShift;
    const request = o.rollbackRequest ?? recorded;
    const requestId = recorded?.id ?? request?.id;
    if ((request || abort) && child?.ownedByUs && child.phase === 'Completed' && (this.st.phase === 'Shifting' || this.st.phase === 'Stabilizing')) {
      // The shift completed before this slice saw it: the cutover is done, and a rollback or abort
      // that arrives now is too late (a TrafficShift cannot roll back after its last step's pause;
      // a slice rolled back here would say RolledBack with all traffic on the target).
      for (const a of actions) this.ack(a.action, a.id);
      if (requestId) this.ack('Rollback', requestId);
      const what = request ? `rollback (${request.trigger}: ${request.reason})` : `abort ${abort!.id}`;
      this.events.push({ type: 'event', eventType: 'Warning', reason: EventReason.RollbackTooLate, note: `${what} arrived after TrafficShift ${child.name} completed; traffic stays on ${newSide(o.spec)}`.slice(0, 1024) });
      this.shifting();
      return this.finish(before);
    }
    if (request) {
      // The child's request carries the slice's request id: asked once, however many reconciles wait.
      if (!this.rollback(request.trigger, request.reason, request.alert, `slice-${requestId ?? `${request.trigger}-${this.nowText}`}`)) return this.waitForChild();
      for (const a of actions) this.ack(a.action, a.id);
      if (requestId) this.ack('Rollback', requestId);
      return this.finish(before);
    }
    if (abort) {
      if (!this.rollback('Manual', `aborted by request ${abort.id}`, undefined, `slice-abort-${abort.id}`)) return this.waitForChild();
      for (const a of actions) this.ack(a.action, a.id);
      return this.finish(before);
    }
    for (const a of actions) this.ack(a.action, a.id);

    if (o.problems.length > 0) {
      const p = o.problems[0]!;
      this.stalled = { reason: p.reason, message: `${p.field}: ${p.message}` };
      this.requeue = STALLED_RETRY_MS;
      return this.finish(before);
    }

    if (!o.hasFinalizer) this.effects.push({ type: 'addFinalizer' });
    switch (this.st.phase) {
      case 'Pending': this.pending(); break;
      case 'Shadowing': this.shadowing(); break;
      case 'Shifting':
      case 'Stabilizing': this.shifting(); break;
      default: break;
    }
    return this.finish(before);
  }

  // --- phases -------------------------------------------------------------------------------

  restart(reason: string, message: string): void {
    const keep = { acknowledgedActions: this.st.acknowledgedActions, conditions: this.st.conditions, history: this.st.history };
    this.st = { observedGeneration: this.o.generation, ...keep };
    this.transition('Pending', reason, message);
  }

  pending(): void {
    // Leftovers of an earlier run (the status names no child) go before anything new starts.
    for (const [kind, child] of [['ShadowRun', this.o.shadowRun], ['TrafficShift', this.o.trafficShift]] as const) {
      if (!child) continue;
      if (!child.ownedByUs) { this.childConflict(kind, child.name); return; }
      if (!child.deleting) this.effects.push({ type: 'deleteChild', kind });
      this.st.message = `waiting for ${kind} ${child.name} of an earlier run to be deleted`;
      this.requeue = CHILD_WAIT_MS;
      return;
    }
    const triggers = this.o.spec.startWhen ?? [];
    if (triggers.length > 0 && !this.st.triggeredAt) {
      const met = this.checkTriggers();
      if (!met) { this.requeue = TRIGGER_POLL_MS; return; }
      this.st.triggeredAt = this.nowText;
      this.events.push({ type: 'event', eventType: 'Normal', reason: EventReason.Triggered, note: `startWhen trigger ${met} met` });
    }
    if (this.o.spec.shadow) this.startShadow();
    else this.startShift('no shadow stage');
  }

  /** Folds the measured triggers into status (./triggers.ts); returns the name of a trigger that is met, if any. */
  checkTriggers(): string | undefined {
    const c = checkTriggers(this.o.spec.startWhen ?? [], this.o.triggers, this.st.triggers ?? [], this.o.now, this.nowText);
    if (c.triggers) this.st.triggers = c.triggers;
    this.st.message = c.message;
    return c.met;
  }

  startShadow(): void {
    const name = childName(this.o.name, 'ShadowRun');
    this.st.startedAt ??= this.nowText;
    this.st.children = { ...this.st.children, shadowRun: { name } };
    this.transition('Shadowing', Reason.ShadowStarted, `mirroring ${this.o.spec.shadow!.percent}% of requests to ${newSide(this.o.spec)} for ${this.o.spec.shadow!.duration} (ShadowRun ${name})`);
    this.effects.push({ type: 'writeStatus' }, { type: 'createChild', kind: 'ShadowRun' });
  }

  shadowing(): void {
    const child = this.o.shadowRun;
    const known = this.st.children?.shadowRun;
    if (!child) {
      if (known?.phase === undefined) { this.effects.push({ type: 'createChild', kind: 'ShadowRun' }); return; }
      this.fail(Reason.ChildDeleted, `ShadowRun ${known.name} was deleted before its verdict`);
      return;
    }
    if (!child.ownedByUs) { this.childConflict('ShadowRun', child.name); return; }
    this.st.children = { ...this.st.children, shadowRun: { name: child.name, ...(child.phase ? { phase: child.phase } : {}), ...(child.verdict ? { verdict: child.verdict } : {}) } };
    this.childStalled = child.stalled ? { reason: child.stalled.reason, message: `ShadowRun ${child.name}: ${child.stalled.message}` } : undefined;
    switch (child.phase) {
      case 'Passed': this.startShift(`shadow passed: ${child.message ?? 'verdict Pass'}`); return;
      case 'Failed': this.fail(Reason.ShadowFailed, `shadow stage failed, no user traffic moved: ${child.message ?? `verdict ${child.verdict ?? 'Fail'}`}`); return;
      case 'Cancelled': this.fail(Reason.ShadowCancelled, `ShadowRun ${child.name} was cancelled: ${child.message ?? ''}`); return;
      default: this.st.message = `shadowing: ShadowRun ${child.name} ${child.phase ?? 'Pending'}${child.message ? `: ${child.message}` : ''}`;
    }
  }

  startShift(why: string): void {
    const flag = this.o.spec.featureFlag;
    if (flag && !this.flagSetBeforeShift(flag)) return;
    const name = childName(this.o.name, 'TrafficShift');
    this.st.startedAt ??= this.nowText;
    this.st.children = { ...this.st.children, trafficShift: { name } };
    this.transition('Shifting', Reason.ShiftStarted, `${why}; shifting ${this.o.spec.route ? 'traffic' : 'work'} to ${newSide(this.o.spec)} (TrafficShift ${name})${flag ? `, feature flag ${describeFlag(flag)}=${this.st.featureFlag?.value ?? ''}` : ''}`);
    this.effects.push({ type: 'writeStatus' }, { type: 'createChild', kind: 'TrafficShift' });
  }

  /**
   * Before any work moves: the flag's previous state kept in status, then the flag set to its
   * starting value. False (Stalled, nothing created) when another slice drives it or it cannot be set.
   */
  flagSetBeforeShift(flag: FeatureFlag): boolean {
    if (this.o.flagConflict && !this.st.featureFlag?.enabled) {
      this.stalled = { reason: Reason.FlagConflict, message: `spec.featureFlag: ${describeFlag(flag)} is driven by MigrationSlice ${this.o.flagConflict}; this slice starts when that one has completed, rolled back or been deleted` };
      this.st.message = `waiting: the feature flag is driven by MigrationSlice ${this.o.flagConflict}`;
      this.requeue = STALLED_RETRY_MS;
      return false;
    }
    const initial = desiredFlagValue(flag, this.o.spec.shift.steps, undefined);
    const ff = this.st.featureFlag;
    if (ff?.enabled && ff.value === initial && !ff.error) return true;
    if (!ff) {
      // Kept first, in its own write: a crash after the flag is set cannot lose what to restore.
      this.st.featureFlag = { enabled: false, at: this.nowText, ...(this.o.flagValue !== undefined ? { previousValue: this.o.flagValue } : {}) };
      this.effects.push({ type: 'writeStatusNow', status: { ...structuredClone(this.st), observedGeneration: this.o.generation } });
    }
    const failed = this.o.flagError;
    if (failed && failed.value === initial) {
      this.st.featureFlag = { ...this.st.featureFlag!, error: failed.message.slice(0, 1024), ...(failed.answer ? { answer: failed.answer } : {}) };
      this.stalled = { reason: failed.reason, message: `${failed.field}: ${failed.message}; nothing moved` };
      this.st.message = `the feature flag could not be set: ${failed.message}`.slice(0, 4096);
      this.requeue = STALLED_RETRY_MS;
      return false;
    }
    const { error: _error, answer: _answer, ...kept } = this.st.featureFlag!;
    this.st.featureFlag = { ...kept, enabled: true, value: initial, at: this.nowText };
    this.effects.push({ type: 'setFlag', value: initial, purpose: 'start' });
    return true;
  }

  /** While the shift runs: the flag follows the child (OnOff from onAtStep, Percentage by weight). */
  followFlag(child: ObservedTrafficShift): void {
    const flag = this.o.spec.featureFlag;
    const ff = this.st.featureFlag;
    if (!flag || !ff?.enabled) return;
    const want = desiredFlagValue(flag, this.o.spec.shift.steps, child);
    // A status from an operator before status.featureFlag.value: it had set "true".
    const current = ff.value ?? 'true';
    if (current === want && !ff.error) return;
    const failed = this.o.flagError;
    if (failed && failed.value === want) {
      this.st.featureFlag = { ...ff, error: failed.message.slice(0, 1024), ...(failed.answer ? { answer: failed.answer } : {}) };
      this.stalled = { reason: failed.reason, message: `${failed.field}: ${failed.message}; the flag stays at ${ff.value ?? 'its previous value'} while the shift is at ${child.currentWeight ?? 0}%` };
      this.requeue = STALLED_RETRY_MS;
      return;
    }
    const { error: _error, answer: _answer, ...kept } = ff;
    this.st.featureFlag = { ...kept, value: want, at: this.nowText };
    this.effects.push({ type: 'setFlag', value: want, purpose: 'follow' });
  }

  /** The flag back as it was before this run (rollback, failure, deletion); idempotent. */
  restoreFlag(): void {
    const ff = this.st.featureFlag;
    if (!this.o.spec.featureFlag || !ff?.enabled) return;
    const flag = this.o.spec.featureFlag;
    const restored = flag.configMap && ff.previousValue !== undefined ? ff.previousValue : offValue(flag);
    const { error: _error, ...kept } = ff;
    this.st.featureFlag = { ...kept, enabled: false, value: restored, at: this.nowText };
    this.effects.push({ type: 'restoreFlag', ...(ff.previousValue !== undefined ? { previous: ff.previousValue } : {}) });
  }

  shifting(): void {
    const child = this.o.trafficShift;
    const known = this.st.children?.trafficShift;
    if (!child) {
      if (known?.phase === undefined) { this.effects.push({ type: 'createChild', kind: 'TrafficShift' }); return; }
      this.rolledBackByChild(`TrafficShift ${known.name} was deleted before completion`, Reason.ChildDeleted);
      return;
    }
    if (!child.ownedByUs) { this.childConflict('TrafficShift', child.name); return; }
    // The worker records are kept here too: a rollback restores them even if the child is deleted.
    const fromChild: WorkerStatus[] = [];
    for (const w of child.workers ?? []) {
      if (w.previousReplicas === undefined) continue;
      fromChild.push({ deployment: w.deployment, previousReplicas: w.previousReplicas, ...(w.split ? { split: true, ...(w.legacyDeployment ? { legacyDeployment: w.legacyDeployment } : {}), ...(w.legacyPreviousReplicas !== undefined ? { legacyPreviousReplicas: w.legacyPreviousReplicas } : {}) } : {}) });
    }
    const recorded = fromChild.length > 0 ? fromChild : this.st.children?.trafficShift?.workers ?? [];
    this.st.children = {
      ...this.st.children,
      trafficShift: {
        name: child.name,
        ...(child.phase ? { phase: child.phase } : {}),
        ...(child.currentStep !== undefined ? { currentStep: child.currentStep } : {}),
        ...(child.currentWeight !== undefined ? { currentWeight: child.currentWeight } : {}),
        ...(recorded.length > 0 ? { workers: recorded } : {}),
      },
    };
    if (child.currentWeight !== undefined) this.st.currentWeight = child.currentWeight;
    this.childStalled = child.stalled ? { reason: child.stalled.reason, message: `TrafficShift ${child.name}: ${child.stalled.message}` } : undefined;
    const steps = this.o.spec.shift.steps;
    switch (child.phase) {
      case 'Completed':
        this.followFlag(child);
        this.transition('Completed', Reason.Completed, `traffic fully on ${newSide(this.o.spec)}: ${child.message ?? 'TrafficShift completed'}`);
        this.st.completedAt = this.nowText;
        if (this.o.spec.retireLegacyAfter) this.requeue = parseDuration(this.o.spec.retireLegacyAfter);
        this.terminal();
        return;
      case 'RolledBack': this.rolledBackByChild(child.rollbackReason ?? child.message ?? 'TrafficShift rolled back', Reason.RolledBack); return;
      case 'Failed': this.fail(Reason.ShiftFailed, `TrafficShift ${child.name} failed: ${child.message ?? ''}`); return;
      default: {
        this.followFlag(child);
        const last = steps.length - 1;
        const stabilizing = child.phase === 'Progressing' && child.currentStep === last && (child.currentWeight ?? 0) === steps[last]!.weight;
        if (stabilizing && this.st.phase !== 'Stabilizing') {
          this.transition('Stabilizing', Reason.Stabilizing, `${steps[last]!.weight}% on ${newSide(this.o.spec)}, stabilizing for ${steps[last]!.pause} (rollback still possible)`);
        } else {
          this.st.message = `TrafficShift ${child.name} ${child.phase ?? 'Pending'}${child.currentWeight !== undefined ? ` at ${child.currentWeight}%` : ''}${child.message ? `: ${child.message}` : ''}`;
        }
      }
    }
  }

  terminal(): void {
    const flag = this.o.spec.featureFlag;
    const undone = this.st.phase === 'RolledBack' || this.st.phase === 'Failed';
    if (undone && this.st.rollback && !this.st.rollback.completedAt) this.finishRollback();
    else if (undone && flag && this.st.featureFlag?.enabled) {
      // Failed (no rollback record), or a slice rolled back before status.rollback existed.
      this.restoreFlag();
    }
    if (this.st.phase === 'Completed' && this.o.spec.retireLegacyAfter && !this.st.legacyRetiredAt) {
      const due = (ms(this.st.completedAt) ?? this.o.now) + parseDuration(this.o.spec.retireLegacyAfter);
      if (this.o.now < due) { this.requeue = due - this.o.now; return; }
      this.st.legacyRetiredAt = this.nowText;
      const scale: Effect[] = [];
      for (const w of this.o.spec.workers ?? []) if (w.legacy && !w.split) scale.push({ type: 'scale', deployment: w.legacy.deployment, replicas: w.legacy.replicas ?? 0 });
      this.effects.push({ type: 'writeStatus' }, ...scale);
      this.events.push({ type: 'event', eventType: 'Normal', reason: EventReason.LegacyRetired, note: `retireLegacyAfter ${this.o.spec.retireLegacyAfter} elapsed: ${scale.map((e) => e.type === 'scale' ? `${e.deployment}=${e.replicas}` : '').join(', ') || 'no legacy workers'}` });
    }
  }

  deletion(): Plan {
    if (!this.o.hasFinalizer) return { status: this.st, effects: [] };
    const phase = this.st.phase;
    if (phase !== 'Completed') {
      const ts = this.o.trafficShift;
      const shifted = this.st.children?.trafficShift !== undefined || ts !== undefined;
      // Route, flag, workers (DESIGN §2); the children go last: the shift's status holds the worker
      // records, and until the finalizer is removed a restart does all of it again.
      if (ts?.ownedByUs && ts.phase !== undefined && LIVE_SHIFT.has(ts.phase)) {
        // The child rolls its route back first (and records it); the rest follows when it has.
        this.askChildToRollBack({ id: 'slice-deleted', trigger: 'Manual', reason: 'MigrationSlice deleted before completion' });
        return this.waitForChild();
      }
      if (shifted) this.effects.push({ type: 'restoreRoute' });
      if (this.o.spec.shadow) this.effects.push({ type: 'removeMirror' });
      if (this.o.spec.featureFlag && this.st.featureFlag?.enabled) this.effects.push({ type: 'restoreFlag', ...(this.st.featureFlag.previousValue !== undefined ? { previous: this.st.featureFlag.previousValue } : {}) });
      // A terminal slice has restored its workers already (or never scaled any).
      if (!isTerminal(phase)) this.effects.push(...workerRestoreEffects(this.restorableWorkers(), !this.o.trafficShift));
      if (ts?.ownedByUs) this.effects.push({ type: 'deleteChild', kind: 'TrafficShift' });
      if (this.o.shadowRun?.ownedByUs) this.effects.push({ type: 'deleteChild', kind: 'ShadowRun' });
      if (shifted || this.o.spec.shadow) this.events.push({ type: 'event', eventType: 'Warning', reason: EventReason.Deleted, note: `deleted in phase ${phase ?? 'Pending'}: ${this.o.spec.legacy ? `route left at ${this.o.spec.legacy.service} 100%` : 'work left with the legacy consumers'}, mirror removed` });
    }
    // The Event goes before the finalizer: once it is removed the object may be gone.
    return { status: this.st, effects: [...this.effects, ...this.events, { type: 'removeFinalizer' }] };
  }

  // --- transitions --------------------------------------------------------------------------

  transition(phase: MigrationSlicePhase, reason: string, message: string): void {
    const from = this.st.phase;
    this.st.phase = phase;
    this.st.message = message;
    const history = [...(this.st.history ?? []), { phase, at: this.nowText, reason, message: message.slice(0, 4096) }];
    this.st.history = history.slice(Math.max(0, history.length - MAX_HISTORY));
    if (from === phase) return;
    const warning = phase === 'RolledBack' || phase === 'Failed';
    this.events.push({ type: 'event', eventType: warning ? 'Warning' : 'Normal', reason: phase, note: message });
  }

  /** The plan of a reconcile that only asks the child TrafficShift to roll back, or waits for it. */
  waitForChild(): Plan {
    this.requeue = CHILD_WAIT_MS;
    return { status: this.o.status, effects: this.effects.filter((e) => e.type === 'requestChildRollback'), requeueAfterMs: this.requeueAfterMs(), waitingForChild: true };
  }

  /** Records the rollback request on the child TrafficShift, unless it already holds this one. */
  askChildToRollBack(request: RecordedRollback): void {
    if (this.o.trafficShift?.rollbackRequestId === request.id) return;
    this.effects.push({ type: 'requestChildRollback', request });
  }

  /**
   * Alert, webhook or manual abort of the slice. While its TrafficShift child is live, the slice asks
   * it to roll back (through the API) and returns false: the child sets the route back to stable and
   * records it; the slice looks again when the child's status changes. Then (true) the slice turns
   * the flag off and restores the workers, then status and Events.
   */
  rollback(trigger: RollbackTrigger, reason: string, alert: string | undefined, childRequestId: string): boolean {
    const ts = this.o.trafficShift;
    const sr = this.o.shadowRun;
    const effects: Effect[] = [];
    let routed = false;
    if (ts?.ownedByUs && ts.phase !== undefined && LIVE_SHIFT.has(ts.phase)) {
      const childTrigger = trigger === 'Alert' || trigger === 'Webhook' ? trigger : 'Manual';
      this.askChildToRollBack({ id: childRequestId, trigger: childTrigger, reason, ...(alert ? { alert } : {}) });
      return false;
    } else if (this.st.children?.trafficShift && !ts) {
      effects.push({ type: 'restoreRoute' });
      routed = true;
    }
    if (sr?.ownedByUs && (sr.phase === undefined || sr.phase === 'Pending' || sr.phase === 'Running')) effects.push({ type: 'abortChild', kind: 'ShadowRun', id: `slice-${this.nowText}` });
    this.effects.push(...effects);
    const routeRestoredAt = routed ? this.nowText : ts?.rollback?.routeRestoredAt;
    this.st.rollback = {
      trigger, reason: reason.slice(0, 4096), at: this.nowText,
      ...(alert ? { alert: alert.slice(0, 1024) } : {}),
      ...(ts?.currentWeight !== undefined ? { fromWeight: ts.currentWeight } : {}),
      ...(routeRestoredAt ? { routeRestoredAt } : {}),
    };
    if (ts?.currentWeight !== undefined) this.st.children = { ...this.st.children, trafficShift: { ...this.st.children?.trafficShift, name: ts.name, phase: 'RolledBack', currentWeight: 0 } };
    this.st.currentWeight = 0;
    this.finishRollback();
    this.effects.push({ type: 'writeStatus' });
    this.transition('RolledBack', trigger === 'Alert' ? Reason.AlertFired : trigger === 'Manual' ? Reason.ManualRollback : trigger === 'Webhook' ? Reason.WebhookRollback : Reason.RolledBack, `rolled back (${trigger}): ${reason}`);
    return true;
  }

  /**
   * The child rolled back on its own (metric breach, its alert, its deadline) and has set the route
   * back; or it was deleted, and the slice sets the route back itself. Then flag and workers.
   */
  rolledBackByChild(reason: string, historyReason: string): void {
    const ts = this.o.trafficShift;
    if (!ts) this.effects.push({ type: 'restoreRoute' });
    const routeRestoredAt = ts ? ts.rollback?.routeRestoredAt : this.nowText;
    const fromWeight = ts ? ts.rollback?.fromWeight : this.st.currentWeight;
    this.st.rollback = {
      trigger: ts?.rollback?.trigger ?? 'Manual', reason: reason.slice(0, 4096), at: this.nowText,
      ...(fromWeight !== undefined ? { fromWeight } : {}),
      ...(routeRestoredAt ? { routeRestoredAt } : {}),
    };
    this.st.currentWeight = 0;
    this.transition('RolledBack', historyReason, `rolled back: ${reason}`);
    this.terminal();
  }

  /**
   * The slice's parts of a rollback, once the route is back at stable: the feature flag off, then
   * the workers its TrafficShift scaled, restored from the child's records. Idempotent: parts stamped
   * in `status.rollback` are not repeated.
   */
  finishRollback(): void {
    const rb = this.st.rollback!;
    // Split workers: the child brings the legacy consumers back and Ready, then scales the new ones
    // down; the flag follows (issue 15's order). The slice looks again when the child's status changes.
    const ts = this.o.trafficShift;
    if (ts?.ownedByUs && ts.phase === 'RolledBack' && !ts.rollback?.completedAt && (ts.workers ?? []).some((w) => w.split)) {
      this.st.message = 'rolling back: waiting for the TrafficShift to bring the legacy consumers back before the feature flag';
      return;
    }
    if (!rb.featureFlagRestoredAt && this.o.spec.featureFlag && this.st.featureFlag?.enabled) {
      this.restoreFlag();
      rb.featureFlagRestoredAt = this.nowText;
    }
    if (!rb.workersRestoredAt) {
      const scale = workerRestoreEffects(this.restorableWorkers(), !this.o.trafficShift);
      this.effects.push(...scale);
      const byChild = this.o.trafficShift?.rollback?.workersRestoredAt;
      if (scale.length > 0 || byChild) rb.workersRestoredAt = scale.length > 0 ? this.nowText : byChild;
    }
    rb.completedAt = this.nowText;
  }

  /**
   * The child's worker records, when the slice is the one to restore them: the child is ours, it is
   * rolling back or rolled back (not Completed), and it did not restore them itself (a shift rolled
   * back by an operator version before `ownerSlice`); or the child is gone and the slice kept a copy.
   */
  restorableWorkers(): WorkerStatus[] {
    const ts = this.o.trafficShift;
    // The child is gone (deleted mid-shift): the copy of its records in this slice's status.
    if (!ts) return this.st.children?.trafficShift?.workers ?? [];
    if (!ts.ownedByUs || ts.phase === 'Completed' || ts.rollback?.workersRestoredAt) return [];
    return ts.workers ?? [];
  }

  fail(reason: string, message: string): void {
    this.transition('Failed', reason, message);
    this.terminal();
  }

  childConflict(kind: ChildKind, name: string): void {
    this.stalled = { reason: Reason.ChildConflict, message: `${kind} ${name} exists and is not owned by this MigrationSlice: rename or delete it` };
    this.requeue = STALLED_RETRY_MS;
  }

  // --- conditions and the single status write -----------------------------------------------

  finish(before: MigrationSlicePhase | undefined): Plan {
    const o = this.o;
    this.st.observedGeneration = o.generation;
    const phase = this.st.phase ?? 'Pending';
    const why = isTerminal(phase) ? undefined : this.stalled ?? this.childStalled;
    if (why) this.setCondition(ConditionType.Stalled, 'True', why.reason, why.message);
    else this.removeCondition(ConditionType.Stalled);
    const stalled = this.stalledCondition();
    const msg = this.st.message ?? phase;
    const last = this.st.history?.at(-1);
    if (!this.markOutcome(phase, () => (last?.phase === phase && /^[A-Za-z]+$/.test(last.reason) ? last.reason : phase), msg)) {
      const reason = phase === 'Pending' ? ((o.spec.startWhen?.length ?? 0) > 0 && !this.st.triggeredAt ? Reason.WaitingForTrigger : Reason.Initializing)
        : phase === 'Shadowing' ? Reason.Shadowing : phase === 'Stabilizing' ? Reason.Stabilizing : Reason.Shifting;
      this.markInProgress(reason, msg, stalled);
      this.removeCondition(ConditionType.Degraded);
    }
    this.ensureStatusWrite();
    const stallEvent = this.stallEvent(stalled);
    if (stallEvent) this.events.push(stallEvent);
    void before;
    return { status: this.st, effects: [...this.effects, ...this.events], requeueAfterMs: this.requeueAfterMs() };
  }
}

/** What the slice moves to, in words: the target Service, or the new consumers of a slice without a route. */
export function newSide(spec: Pick<MigrationSliceSpec, 'target' | 'workers'>): string {
  if (spec.target) return spec.target.service;
  const split = (spec.workers ?? []).filter((w) => w.split).map((w) => w.deployment);
  return split.length > 0 ? `the consumers of ${split.join(', ')}` : 'the new backend';
}

/**
 * The value the flag should have: OnOff "true" from step `onAtStep` on (0: as soon as the shift
 * starts), "false" before; Percentage the child's current weight ("0" before its first step, the
 * last step's weight once it completed).
 */
export function desiredFlagValue(
  flag: FeatureFlag,
  steps: readonly Step[],
  child: Pick<ObservedTrafficShift, 'phase' | 'currentStep' | 'currentWeight'> | undefined,
): string {
  const completed = child?.phase === 'Completed';
  if (flag.mode === 'Percentage') return String(completed ? (steps.at(-1)?.weight ?? 100) : (child?.currentWeight ?? 0));
  const at = flag.onAtStep ?? 0;
  if (at === 0 || completed) return 'true';
  return child?.currentStep !== undefined && child.currentStep >= at ? 'true' : 'false';
}
