// What the three pure planners (trafficshift/, shadowrun/, migrationslice/plan.ts) share: the status
// being planned (a copy of the observed one), the ordered effects, the requeue delay, manual actions
// and their acknowledgement, and the kstatus condition summaries. Each planner's phases stay in its
// own plan.ts. No I/O, no clock: like the planners, everything comes from the observation.
import { ActionValues, ROLLBACK_REQUEST_ANNOTATION, RollbackRequestSchema, type AcknowledgedAction, type AcknowledgedActionName, type Action, type Judge, type JudgeResult, type RollbackRequest } from '../../api/common.ts';
import { ConditionType, Reason } from '../../api/conditions.ts';
import type { JudgeDetail } from '../../analysis/judge.ts';
import { rfc3339 } from '../../runtime/clock.ts';
import { removeCondition, setCondition, type Condition } from '../../runtime/conditions.ts';

/** A problem that needs the user: the spec field to fix and what is wrong. Nothing is changed. */
export interface SpecProblem { field: string; message: string; reason: string }

/** How long a Stalled resource waits before it is looked at again. */
export const STALLED_RETRY_MS = 5000;

/** The finalizer that lets a deletion undo what the operator changed (mirror, route, flag). */
export const CLEANUP_FINALIZER = 'cutover.dev/cleanup';

export const ms = (t: string | undefined): number | undefined => (t === undefined ? undefined : Date.parse(t));

export interface PendingAction { action: Action; id: string }

/**
 * Manual actions (DESIGN §2: annotations, never spec edits): an annotation `cutover.dev/<action>`
 * whose value differs from the id acknowledged for that action in status.
 */
export function pendingActions(annotations: Record<string, string>, status: { acknowledgedActions?: AcknowledgedAction[] | undefined }): PendingAction[] {
  const out: PendingAction[] = [];
  for (const action of ActionValues) {
    const id = annotations[`cutover.dev/${action.toLowerCase()}`];
    if (id === undefined || id === '') continue;
    if (status.acknowledgedActions?.find((a) => a.action === action)?.id !== id) out.push({ action, id });
  }
  return out;
}

/**
 * A rollback request to act on: recorded on the object (ROLLBACK_REQUEST_ANNOTATION, durable) or
 * handed over in memory by this process's hook (the fast path; it carries the id of the record its
 * hook writes, so whichever arrives second is already acknowledged).
 */
export interface RollbackRequestSeen extends RollbackRequest {
  /** A request read from the annotation that cannot be used: the reason; it is acknowledged, not acted on. */
  invalid?: string;
}

/**
 * The recorded rollback request not yet acknowledged in status, if any. A value that is not a valid
 * request comes back with `invalid` (and an id derived from the value), to be acknowledged with a
 * Warning Event instead of rolling anything back.
 */
export function pendingRollbackRequest(annotations: Record<string, string>, status: { acknowledgedActions?: AcknowledgedAction[] | undefined }): RollbackRequestSeen | undefined {
  const raw = annotations[ROLLBACK_REQUEST_ANNOTATION];
  if (raw === undefined || raw === '') return undefined;
  const acked = status.acknowledgedActions?.find((a) => a.action === 'Rollback')?.id;
  let parsed: unknown;
  try { parsed = JSON.parse(raw); } catch { parsed = undefined; }
  const r = RollbackRequestSchema.safeParse(parsed);
  if (r.success) return acked === r.data.id ? undefined : r.data;
  const id = `invalid-${raw.length}-${raw.slice(0, 200)}`;
  if (acked === id) return undefined;
  const why = parsed === undefined ? 'not JSON' : r.error.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; ');
  return { id, trigger: 'Manual', reason: '', invalid: `annotation ${ROLLBACK_REQUEST_ANNOTATION} ignored: ${why} (expected {"id": "...", "trigger": "Alert|Webhook|Manual", "reason": "..."})` };
}

/** The judge's findings as status records them (finite numbers only). */
export function judgeStatus(d: JudgeDetail): JudgeResult {
  const finite = (n: number): number => (Number.isFinite(n) ? n : n > 0 ? Number.MAX_VALUE : -Number.MAX_VALUE);
  return {
    classification: d.classification,
    estimate: d.estimate,
    lower: finite(d.lower),
    upper: finite(d.upper),
    confidence: d.confidence,
    pValue: d.pValue,
    ...(Number.isFinite(d.meanRatio) ? { meanRatio: d.meanRatio } : {}),
    samples: d.samples,
    baselineSamples: d.baselineSamples,
    serialCorrelation: d.serialCorrelation,
    effectiveSamples: d.effectiveSamples,
    ...(d.score !== undefined ? { score: d.score } : {}),
  };
}

/** What a judged metric is held to, as status shows it: `judge increase, 98%, mean ratio <= 1.05`. */
export function judgeThreshold(j: Judge): string {
  const bounds: string[] = [];
  if (j.direction !== 'decrease') bounds.push(`mean ratio <= ${j.allowedIncrease ?? 1}`);
  if (j.direction !== 'increase') bounds.push(`mean ratio >= ${j.allowedDecrease ?? 1}`);
  return `judge ${j.direction}, ${Math.round(j.confidence * 1000) / 10}%, ${bounds.join(' and ')}${j.critical ? ', critical' : ''}`;
}

/** The threshold of a metric as status shows it (`>= min`, `<= max`, `ratio <= maxRatio`, the judge's). */
export function thresholdParts(m: { min?: number | undefined; max?: number | undefined; maxRatio?: number | undefined; maxDiffPoints?: number | undefined; judge?: Judge | undefined } | undefined): string[] {
  const parts: string[] = [];
  if (m?.judge !== undefined) parts.push(judgeThreshold(m.judge));
  if (m?.min !== undefined) parts.push(`>= ${m.min}`);
  if (m?.max !== undefined) parts.push(`<= ${m.max}`);
  if (m?.maxRatio !== undefined) parts.push(`ratio <= ${m.maxRatio}`);
  if (m?.maxDiffPoints !== undefined) parts.push(`diff <= ${m.maxDiffPoints} pp`);
  return parts;
}

/** The effects every planner has: its one status write, and Events (after it). */
export type StatusWrite = { type: 'writeStatus' };
export type EventEffect = { type: 'event'; eventType: 'Normal' | 'Warning'; reason: string; note: string };

/** A planner's answer: the next status and the effects to apply, in order. */
export interface PlanOf<S, E> {
  status: S;
  effects: E[];
  /** When to look again (ms from now); undefined: only on change. */
  requeueAfterMs?: number | undefined;
}

export interface Observed<S> { now: number; generation: number; status: S; annotations: Record<string, string> }
interface SharedStatus { acknowledgedActions?: AcknowledgedAction[] | undefined; conditions?: Condition[] | undefined }

export abstract class PlannerBase<O extends Observed<S>, S extends SharedStatus, E extends { type: string }> {
  readonly o: O;
  /** The next status, planned on a copy of the observed one. */
  st: S;
  /** In the order they are applied. */
  readonly effects: E[] = [];
  /** When to look again (ms from now); undefined: only on change. */
  requeue: number | undefined;
  readonly nowText: string;

  /** `nowText`: how this kind writes times (default RFC 3339 in seconds). */
  constructor(o: O, nowText = rfc3339(o.now)) {
    this.o = o;
    this.st = structuredClone(o.status ?? {}) as S;
    this.nowText = nowText;
  }

  /** Records `id` as handled for `action`, so the annotation is never acted on again. */
  ack(action: AcknowledgedActionName, id: string): void {
    const list = (this.st.acknowledgedActions ?? []).filter((a) => a.action !== action);
    list.push({ action, id, at: this.nowText });
    this.st.acknowledgedActions = list;
  }

  /**
   * The rollback request recorded on the object (its rollback-request annotation) that this run
   * acts on, if any. One that cannot be used, or that finds the run already over (`over`: it came
   * after the completion or a rollback, or it is the record of the rollback already done), is
   * acknowledged and changes nothing; an invalid one is named in the Warning Event returned.
   * Called before a retry, so such a request does not roll back the next run.
   */
  recordedRollback(over: boolean): { recorded: RollbackRequestSeen | undefined; warning: EventEffect | undefined } {
    const recorded = pendingRollbackRequest(this.o.annotations, this.st);
    if (!recorded || (recorded.invalid === undefined && !over)) return { recorded, warning: undefined };
    this.ack('Rollback', recorded.id);
    const warning: EventEffect | undefined = recorded.invalid !== undefined
      ? { type: 'event', eventType: 'Warning', reason: Reason.InvalidRollbackRequest, note: recorded.invalid.slice(0, 1024) }
      : undefined;
    return { recorded: undefined, warning };
  }

  /** A run-time problem: Stalled=True naming the field; looked at again after STALLED_RETRY_MS. */
  stallOn(p: SpecProblem): void {
    this.setCondition(ConditionType.Stalled, 'True', p.reason, `${p.field}: ${p.message}`);
    this.requeue = STALLED_RETRY_MS;
  }

  setCondition(type: string, status: 'True' | 'False', reason: string, message: string): void {
    this.st.conditions = setCondition(this.st.conditions, { type, status, reason, message, observedGeneration: this.o.generation }, this.o.now);
  }

  removeCondition(type: string): void {
    this.st.conditions = removeCondition(this.st.conditions, type);
  }

  stalledCondition(): Condition | undefined {
    return this.st.conditions?.find((c) => c.type === ConditionType.Stalled && c.status === 'True');
  }

  /** Done: Ready=True; Progressing (with Reconciling) and Degraded go. */
  markReady(reason: string, message: string): void {
    this.setCondition(ConditionType.Ready, 'True', reason, message);
    this.notProgressing();
    this.removeCondition(ConditionType.Degraded);
  }

  /** Failed, rolled back or cancelled: Ready=False, Degraded=True; Progressing (with Reconciling) goes. */
  markDegraded(readyReason: string, degradedReason: string, message: string): void {
    this.setCondition(ConditionType.Ready, 'False', readyReason, message);
    this.setCondition(ConditionType.Degraded, 'True', degradedReason, message);
    this.notProgressing();
  }

  /**
   * The conditions of a finished phase: Completed → Ready (markReady, reason Completed); RolledBack
   * or Failed → Degraded (markDegraded, Ready's reason the phase, Degraded's `degradedReason()`).
   * False, and nothing set, for a phase still in progress.
   */
  markOutcome(phase: string, degradedReason: () => string, message: string): boolean {
    if (phase === 'Completed') this.markReady(Reason.Completed, message);
    else if (phase === 'RolledBack' || phase === 'Failed') this.markDegraded(phase === 'RolledBack' ? Reason.RolledBack : Reason.Failed, degradedReason(), message);
    else return false;
    return true;
  }

  /**
   * Still working: Ready=False (the Stalled reason when stalled); unless stalled, Progressing=True
   * and kstatus' Reconciling=True with the same reason (a kstatus reader, Flux, sees InProgress).
   */
  markInProgress(reason: string, message: string, stalled: Condition | undefined): void {
    this.setCondition(ConditionType.Ready, 'False', stalled ? stalled.reason : reason, stalled ? stalled.message : message);
    if (stalled) {
      this.notProgressing();
    } else {
      this.setCondition(ConditionType.Progressing, 'True', reason, message);
      this.setCondition(ConditionType.Reconciling, 'True', reason, message);
    }
  }

  /** Progressing and Reconciling go together: kstatus calls Reconciling=True InProgress, before Stalled. */
  notProgressing(): void {
    this.removeCondition(ConditionType.Progressing);
    this.removeCondition(ConditionType.Reconciling);
  }

  /** The Warning Event of a Stalled condition the observed status did not have yet (once per message). */
  stallEvent(stalled: Condition | undefined): EventEffect | undefined {
    if (!stalled || this.o.status.conditions?.some((c) => c.type === ConditionType.Stalled && c.status === 'True' && c.message === stalled.message)) return undefined;
    return { type: 'event', eventType: 'Warning', reason: stalled.reason, note: stalled.message };
  }

  /** The one status write of a plan, at the end unless a transition already placed it. */
  ensureStatusWrite(): void {
    // Every planner's Effect union has { type: 'writeStatus' }.
    if (!this.effects.some((e) => e.type === 'writeStatus')) this.effects.push({ type: 'writeStatus' } as E);
  }

  /** `requeue` as a plan's requeueAfterMs: whole ms, at least 10; undefined when unset or infinite. */
  requeueAfterMs(): number | undefined {
    return this.requeue === undefined || !Number.isFinite(this.requeue) ? undefined : Math.max(10, Math.ceil(this.requeue));
  }
}
