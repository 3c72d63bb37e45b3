// The ShadowRun decision: a pure function from what was observed to the next status and the
// ordered effects. No I/O, no clock: everything arrives in `ShadowObservation`.
//
// Order of effects (crash safety, DESIGN §2): the finalizer is added before the mirror exists, so a
// deletion always gets the chance to remove it; the status that explains the mirror is written
// before the mirror is added; on the way out (Passed, Failed, Cancelled, deletion) the mirror goes
// first, then status and the Event. A terminal run whose status does not yet record the removal
// removes it again (idempotent), so a crash between the two finishes on restart.
import { parseDuration } from '../../api/duration.ts';
import { ActionValues, type Action } from '../../api/common.ts';
import { ConditionType, Reason } from '../../api/conditions.ts';
import type { ShadowResult, ShadowRunPhase, ShadowRunSpec, ShadowRunStatus, Verdict } from '../../api/shadowrun.ts';
import { judge, type MetricResult } from '../../analysis/evaluate.ts';
import { removeCondition, setCondition } from '../../runtime/conditions.ts';
import { rfc3339 } from '../../runtime/clock.ts';

/** The finalizer that lets a deletion remove the mirror first. */
export const CLEANUP_FINALIZER = 'cutover.dev/cleanup';

export interface SpecProblem { field: string; message: string; reason: string }

export interface ShadowMirror { service: string; port: number; percent: number }

export interface ShadowObservation {
  now: number;
  generation: number;
  spec: ShadowRunSpec;
  status: ShadowRunStatus;
  annotations: Record<string, string>;
  /** metadata.deletionTimestamp is set. */
  deleting: boolean;
  /** metadata.finalizers holds CLEANUP_FINALIZER. */
  hasFinalizer: boolean;
  /** Run-time problems (missing route or Service, rejected query); empty when fine. */
  problems: SpecProblem[];
  /** The mirror the route shows now: null when none, undefined when the route could not be read. */
  routeMirror?: ShadowMirror | null | undefined;
  /** Results of an analysis run made for this reconcile: value = shadow, baseline = primary. */
  analysis?: MetricResult[] | undefined;
}

export type Effect =
  | { type: 'addFinalizer' }
  | { type: 'removeFinalizer' }
  | { type: 'setMirror'; percent: number }
  | { type: 'removeMirror' }
  | { type: 'writeStatus' }
  | { type: 'event'; eventType: 'Normal' | 'Warning'; reason: string; note: string };

export interface Plan {
  status: ShadowRunStatus;
  effects: Effect[];
  requeueAfterMs?: number | undefined;
}

const TERMINAL: ReadonlySet<ShadowRunPhase> = new Set(['Passed', 'Failed', 'Cancelled']);
const STALLED_RETRY_MS = 5000;

export function isTerminal(phase: ShadowRunPhase | undefined): boolean {
  return phase !== undefined && TERMINAL.has(phase);
}

const ms = (t: string | undefined): number | undefined => (t === undefined ? undefined : Date.parse(t));

/** Whether an analysis run is due now (the controller queries Prometheus only then). */
export function analysisDue(spec: ShadowRunSpec, status: ShadowRunStatus, now: number): boolean {
  if (!spec.analysis || status.phase !== 'Running') return false;
  const last = ms(status.lastAnalysisAt) ?? ms(status.startedAt);
  // The first run waits one interval after the mirror starts, so there is mirrored traffic to judge.
  return last === undefined || now - last >= parseDuration(spec.analysis.interval);
}

export function pendingActions(annotations: Record<string, string>, status: ShadowRunStatus): Array<{ action: Action; id: string }> {
  const out: Array<{ action: Action; id: string }> = [];
  for (const action of ActionValues) {
    const id = annotations[`cutover.dev/${action.toLowerCase()}`];
    if (id === undefined || id === '') continue;
    if (status.acknowledgedActions?.find((a) => a.action === action)?.id !== id) out.push({ action, id });
  }
  return out;
}

export function planShadowRun(o: ShadowObservation): Plan {
  return new Planner(o).run();
}

class Planner {
  readonly o: ShadowObservation;
  st: ShadowRunStatus;
  readonly effects: Effect[] = [];
  requeue: number | undefined;
  readonly nowText: string;

  constructor(o: ShadowObservation) {
    this.o = o;
    this.st = structuredClone(o.status ?? {});
    this.nowText = rfc3339(o.now);
  }

  run(): Plan {
    const o = this.o;
    const before = this.st.phase;

    if (o.deleting) return this.deletion();

    if (this.st.observedGeneration !== o.generation && (this.st.phase === undefined || this.st.phase === 'Pending' || isTerminal(this.st.phase))) {
      this.restart(before === undefined ? 'created' : `spec changed (generation ${o.generation})`);
    }

    const actions = pendingActions(o.annotations, this.st);
    const retry = actions.find((a) => a.action === 'Retry');
    if (retry) {
      this.ack(retry.action, retry.id);
      if (isTerminal(this.st.phase)) this.restart('retry requested');
    }
    if (isTerminal(this.st.phase)) {
      for (const a of actions) this.ack(a.action, a.id);
      this.terminal();
      return this.finish(before);
    }
    const abort = actions.find((a) => a.action === 'Abort');
    if (abort) {
      for (const a of actions) this.ack(a.action, a.id);
      this.end('Cancelled', undefined, `cancelled by request ${abort.id}`);
      return this.finish(before);
    }
    for (const a of actions) this.ack(a.action, a.id);

    if (o.problems.length > 0) {
      const p = o.problems[0]!;
      this.st.conditions = setCondition(this.st.conditions, { type: ConditionType.Stalled, status: 'True', reason: p.reason, message: `${p.field}: ${p.message}`, observedGeneration: o.generation }, o.now);
      this.requeue = STALLED_RETRY_MS;
      return this.finish(before);
    }
    this.st.conditions = removeCondition(this.st.conditions, ConditionType.Stalled);

    if (this.st.phase === 'Pending') this.start();
    else if (this.st.phase === 'Running') this.running();
    return this.finish(before);
  }

  // --- phases -------------------------------------------------------------------------------

  restart(reason: string): void {
    const keep = { acknowledgedActions: this.st.acknowledgedActions, conditions: removeCondition(this.st.conditions, ConditionType.Stalled) };
    this.st = { observedGeneration: this.o.generation, phase: 'Pending', message: reason, ...keep };
  }

  start(): void {
    const spec = this.o.spec;
    if (!this.o.hasFinalizer) this.effects.push({ type: 'addFinalizer' });
    const duration = parseDuration(spec.duration);
    this.st.phase = 'Running';
    this.st.startedAt = this.nowText;
    this.st.endsAt = rfc3339(this.o.now + duration);
    this.st.mirrorAppliedAt = this.nowText;
    delete this.st.mirrorRemovedAt; delete this.st.completedAt; delete this.st.verdict; delete this.st.lastAnalysisAt;
    this.st.analysis = { consecutiveFailures: 0, consecutiveInconclusive: 0 };
    this.st.message = `mirroring ${spec.percent}% of requests to ${spec.shadow.service} for ${spec.duration}`;
    this.effects.push({ type: 'writeStatus' }, { type: 'setMirror', percent: spec.percent });
    this.effects.push({ type: 'event', eventType: 'Normal', reason: 'MirrorStarted', note: this.st.message });
    this.requeue = Math.min(duration, spec.analysis ? parseDuration(spec.analysis.interval) : Infinity);
  }

  running(): void {
    const spec = this.o.spec;
    if (!this.o.hasFinalizer) this.effects.push({ type: 'addFinalizer' });
    if (this.o.analysis && spec.analysis) {
      if (this.recordAnalysis(this.o.analysis) === 'stop') return;
    }
    // Level-triggered: the route must show the mirror the status explains (e.g. after a restart).
    const m = this.o.routeMirror;
    if (m !== undefined && (m === null || m.percent !== spec.percent || m.port !== spec.shadow.port)) {
      this.effects.push({ type: 'setMirror', percent: spec.percent });
    }
    const endsAt = ms(this.st.endsAt) ?? this.o.now;
    if (this.o.now >= endsAt) {
      if (!spec.analysis) { this.end('Passed', 'Pass', `mirrored for ${spec.duration} with no analysis configured`); return; }
      if (this.lastRunPassed()) { this.end('Passed', 'Pass', `shadow judged against the primary for ${spec.duration}: all metrics passed`); return; }
      // Never pass on missing data: wait for a conclusive run (onInconclusive decides when it never comes).
      this.st.message = `duration over; waiting for a passing analysis run (${this.st.analysis?.consecutiveInconclusive ?? 0} inconclusive)`;
      this.requeue = this.untilNextAnalysis();
      return;
    }
    this.requeue = Math.min(endsAt - this.o.now, this.untilNextAnalysis());
  }

  terminal(): void {
    if (!this.st.mirrorRemovedAt && this.o.routeMirror !== undefined) {
      if (this.o.routeMirror !== null) this.effects.push({ type: 'removeMirror' });
      this.st.mirrorRemovedAt = this.nowText;
    }
  }

  deletion(): Plan {
    // Mirror first, then let the object go. No status write: the object is going away.
    if (this.o.hasFinalizer) {
      if (this.o.routeMirror) this.effects.push({ type: 'removeMirror' });
      if (this.o.routeMirror) this.effects.push({ type: 'event', eventType: 'Normal', reason: 'MirrorRemoved', note: 'deleted: mirror removed from the route' });
      this.effects.push({ type: 'removeFinalizer' });
    }
    return { status: this.st, effects: this.effects };
  }

  // --- transitions --------------------------------------------------------------------------

  end(phase: 'Passed' | 'Failed' | 'Cancelled', verdict: Verdict | undefined, why: string): void {
    this.st.phase = phase;
    if (verdict) this.st.verdict = verdict; else delete this.st.verdict;
    this.st.completedAt = this.nowText;
    this.st.message = why;
    // The mirror goes first (also when the route could not be read: removal is idempotent).
    if (this.o.routeMirror !== null) this.effects.push({ type: 'removeMirror' });
    this.st.mirrorRemovedAt = this.nowText;
    this.effects.push({ type: 'writeStatus' });
    this.effects.push({ type: 'event', eventType: phase === 'Passed' ? 'Normal' : 'Warning', reason: phase, note: why });
  }

  recordAnalysis(results: MetricResult[]): 'stop' | 'go' {
    const a = this.o.spec.analysis!;
    const counters = { consecutiveFailures: this.st.analysis?.consecutiveFailures ?? 0, consecutiveInconclusive: this.st.analysis?.consecutiveInconclusive ?? 0 };
    const j = judge(results, counters, { failureLimit: a.failureLimit, inconclusiveLimit: a.inconclusiveLimit, onInconclusive: a.onInconclusive });
    this.st.lastAnalysisAt = this.nowText;
    this.st.analysis = { ...j.counters };
    this.st.results = results.map((r) => this.toResult(r));
    if (j.verdict === 'Rollback') {
      this.end('Failed', j.outcome === 'Fail' ? 'Fail' : 'Inconclusive', j.outcome === 'Fail'
        ? `shadow failed ${j.counters.consecutiveFailures} consecutive checks: ${j.reason}`
        : `${j.counters.consecutiveInconclusive} inconclusive checks: ${j.reason}`);
      return 'stop';
    }
    if (j.verdict === 'Pause') this.st.message = `${j.counters.consecutiveInconclusive} inconclusive checks (still mirroring; the run cannot pass without data): ${j.reason}`;
    return 'go';
  }

  toResult(r: MetricResult): ShadowResult {
    const m = this.o.spec.analysis!.metrics.find((x) => x.name === r.name);
    const parts: string[] = [];
    if (m?.min !== undefined) parts.push(`>= ${m.min}`);
    if (m?.max !== undefined) parts.push(`<= ${m.max}`);
    if (m?.maxRatio !== undefined) parts.push(`ratio <= ${m.maxRatio}`);
    if (m?.maxDiffPoints !== undefined) parts.push(`diff <= ${m.maxDiffPoints} pp`);
    return {
      name: r.name, result: r.result, threshold: parts.join(', '), message: r.message, at: this.nowText,
      ...(r.baseline !== undefined && Number.isFinite(r.baseline) ? { primary: r.baseline } : {}),
      ...(r.value !== undefined && Number.isFinite(r.value) ? { shadow: r.value } : {}),
    };
  }

  lastRunPassed(): boolean {
    const last = this.st.results ?? [];
    return this.st.lastAnalysisAt !== undefined && last.length > 0 && last.every((r) => r.result === 'Pass');
  }

  untilNextAnalysis(): number {
    const a = this.o.spec.analysis;
    if (!a) return Infinity;
    const interval = parseDuration(a.interval);
    const last = ms(this.st.lastAnalysisAt) ?? ms(this.st.startedAt) ?? this.o.now - interval;
    return Math.max(50, last + interval - this.o.now);
  }

  ack(action: Action, id: string): void {
    const list = (this.st.acknowledgedActions ?? []).filter((a) => a.action !== action);
    list.push({ action, id, at: this.nowText });
    this.st.acknowledgedActions = list;
  }

  // --- conditions, events, the single status write --------------------------------------------

  finish(before: ShadowRunPhase | undefined): Plan {
    const o = this.o;
    this.st.observedGeneration = o.generation;
    const phase = this.st.phase ?? 'Pending';
    const stalled = this.st.conditions?.find((c) => c.type === ConditionType.Stalled && c.status === 'True');
    const msg = this.st.message ?? phase;
    const set = (type: string, status: 'True' | 'False', reason: string, message: string) => {
      this.st.conditions = setCondition(this.st.conditions, { type, status, reason, message, observedGeneration: o.generation }, o.now);
    };
    switch (phase) {
      case 'Passed':
        set(ConditionType.Ready, 'True', Reason.Passed, msg);
        this.st.conditions = removeCondition(removeCondition(this.st.conditions, ConditionType.Progressing), ConditionType.Degraded);
        break;
      case 'Failed':
      case 'Cancelled': {
        const reason = phase === 'Failed' ? (this.st.verdict === 'Inconclusive' ? Reason.AnalysisInconclusive : Reason.AnalysisFailed) : Reason.Cancelled;
        set(ConditionType.Ready, 'False', phase === 'Failed' ? Reason.Failed : Reason.Cancelled, msg);
        set(ConditionType.Degraded, 'True', reason, msg);
        this.st.conditions = removeCondition(this.st.conditions, ConditionType.Progressing);
        break;
      }
      default: {
        const reason = phase === 'Running' ? Reason.Shadowing : Reason.Initializing;
        set(ConditionType.Ready, 'False', stalled ? stalled.reason : reason, stalled ? stalled.message : msg);
        if (stalled) this.st.conditions = removeCondition(this.st.conditions, ConditionType.Progressing);
        else set(ConditionType.Progressing, 'True', reason, msg);
        const inconclusive = (this.st.analysis?.consecutiveInconclusive ?? 0) >= (o.spec.analysis?.inconclusiveLimit ?? Infinity);
        const failing = (this.st.analysis?.consecutiveFailures ?? 0) > 0;
        if (phase === 'Running' && (inconclusive || failing)) set(ConditionType.Degraded, 'True', failing ? Reason.AnalysisFailed : Reason.AnalysisInconclusive, msg);
        else this.st.conditions = removeCondition(this.st.conditions, ConditionType.Degraded);
      }
    }
    if (!this.effects.some((e) => e.type === 'writeStatus')) this.effects.push({ type: 'writeStatus' });
    if (stalled && !o.status.conditions?.some((c) => c.type === ConditionType.Stalled && c.status === 'True' && c.message === stalled.message)) {
      this.effects.push({ type: 'event', eventType: 'Warning', reason: stalled.reason, note: stalled.message });
    } else if (before !== this.st.phase && this.st.phase !== undefined && !this.effects.some((e) => e.type === 'event')) {
      this.effects.push({ type: 'event', eventType: 'Normal', reason: 'PhaseChanged', note: `${before ?? 'new'} → ${this.st.phase}: ${msg}` });
    }
    return { status: this.st, effects: this.effects, requeueAfterMs: this.requeue === undefined || !Number.isFinite(this.requeue) ? undefined : Math.max(10, Math.ceil(this.requeue)) };
  }
}
