// The ShadowRun decision: a pure function from what was observed to the next status and the
// ordered effects. No I/O, no clock: everything arrives in `ShadowObservation`.
//
// Order of effects (crash safety, DESIGN §2): the finalizer is added before the mirror exists, so a
// deletion always gets the chance to remove it; the status that explains the mirror is written
// before the mirror is added; on the way out (Passed, Failed, Cancelled, deletion) the mirror goes
// first, then status and the Event. A terminal run whose status does not yet record the removal
// removes it again (idempotent), so a crash between the two finishes on restart.
import { parseDuration } from '../../api/duration.ts';
import { ConditionType, EventReason, Reason } from '../../api/conditions.ts';
import type { ParityStatus, ShadowResult, ShadowRunPhase, ShadowRunSpec, ShadowRunStatus, Verdict } from '../../api/shadowrun.ts';
import { judge, type MetricResult } from '../../analysis/evaluate.ts';
import { PARITY_RESULT_NAME } from '../../parity/status.ts';
import { removeCondition } from '../../runtime/conditions.ts';
import { rfc3339 } from '../../runtime/clock.ts';
import { PlannerBase, judgeStatus, ms, pendingActions, thresholdParts, type EventEffect, type PlanOf, type SpecProblem, type StatusWrite } from '../shared/planner.ts';

/** The finalizer that lets a deletion remove the mirror first. */
export { CLEANUP_FINALIZER } from '../shared/planner.ts';

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
  /** Results of an analysis run made for this reconcile: value = shadow, baseline = primary; with parity, its check too. */
  analysis?: MetricResult[] | undefined;
  /** Where the mirror points: the shadow Service, or with parity the run's comparator Service. */
  mirrorTarget?: { service: string; port: number } | undefined;
  /** With spec.parity: what the comparator reported, and whether its Deployment exists. */
  parity?: ParityObservation | undefined;
}

export interface ParityObservation {
  /** status.parity folded from the comparator's summary ConfigMap. */
  status: ParityStatus;
  /** The comparator of the run's current config runs, and no other (undefined: not looked at). */
  deploymentPresent?: boolean | undefined;
  /** Some comparator Deployment of the run has replicas (the end scales them to 0). */
  comparatorRunning?: boolean | undefined;
}

/** Without spec.analysis, how often the parity verdict is checked (its failureLimit etc. take their defaults). */
export const PARITY_CHECK_INTERVAL = '5s';
const DEFAULT_LIMITS = { failureLimit: 2, inconclusiveLimit: 3, onInconclusive: 'Pause' as const };

export type Effect =
  | { type: 'addFinalizer' }
  | { type: 'removeFinalizer' }
  | { type: 'setMirror'; percent: number }
  | { type: 'removeMirror' }
  /** Applies the run's comparator (ServiceAccount, Role, binding, summary ConfigMap, Service, Deployment). */
  | { type: 'ensureComparator'; fresh: boolean }
  /** Scales the comparator to 0; its objects stay until the run is deleted (the summary: the report). */
  | { type: 'removeComparator' }
  | StatusWrite
  | EventEffect;

export type Plan = PlanOf<ShadowRunStatus, Effect>;

const TERMINAL: ReadonlySet<ShadowRunPhase> = new Set(['Passed', 'Failed', 'Cancelled']);

export function isTerminal(phase: ShadowRunPhase | undefined): boolean {
  return phase !== undefined && TERMINAL.has(phase);
}

/** Whether an analysis run is due now (the controller queries Prometheus only then). */
export function analysisDue(spec: ShadowRunSpec, status: ShadowRunStatus, now: number): boolean {
  if ((!spec.analysis && !spec.parity) || status.phase !== 'Running') return false;
  const last = ms(status.lastAnalysisAt) ?? ms(status.startedAt);
  // The first run waits one interval after the mirror starts, so there is mirrored traffic to judge.
  return last === undefined || now - last >= checkInterval(spec);
}

/** Time between two checks: the analysis interval, or PARITY_CHECK_INTERVAL for parity alone. */
export function checkInterval(spec: ShadowRunSpec): number {
  return parseDuration(spec.analysis?.interval ?? PARITY_CHECK_INTERVAL);
}

function limits(spec: ShadowRunSpec): { failureLimit: number; inconclusiveLimit: number; onInconclusive: 'Pause' | 'Rollback' } {
  const a = spec.analysis;
  return a ? { failureLimit: a.failureLimit, inconclusiveLimit: a.inconclusiveLimit, onInconclusive: a.onInconclusive } : DEFAULT_LIMITS;
}

export function planShadowRun(o: ShadowObservation): Plan {
  return new Planner(o).run();
}

class Planner extends PlannerBase<ShadowObservation, ShadowRunStatus, Effect> {
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
      this.stallOn(o.problems[0]!);
      return this.finish(before);
    }
    this.removeCondition(ConditionType.Stalled);

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
    delete this.st.parity; delete this.st.results;
    this.st.message = spec.parity
      ? `mirroring ${spec.percent}% of requests to the parity comparator ${this.o.mirrorTarget?.service ?? ''}, which compares ${spec.shadow.service}'s answers with ${spec.primary.service}'s, for ${spec.duration}`
      : `mirroring ${spec.percent}% of requests to ${spec.shadow.service} for ${spec.duration}`;
    if (spec.parity) {
      this.st.parity = { compared: 0, mismatched: 0, result: 'Inconclusive', reason: 'the comparator has not reported yet', ...(this.o.mirrorTarget ? { comparator: this.o.mirrorTarget.service } : {}) };
      // The comparator exists before the mirror points at it.
      this.effects.push({ type: 'writeStatus' }, { type: 'ensureComparator', fresh: true }, { type: 'setMirror', percent: spec.percent });
    } else {
      this.effects.push({ type: 'writeStatus' }, { type: 'setMirror', percent: spec.percent });
    }
    this.effects.push({ type: 'event', eventType: 'Normal', reason: EventReason.MirrorStarted, note: this.st.message });
    this.requeue = Math.min(duration, spec.analysis || spec.parity ? checkInterval(spec) : Infinity);
  }

  running(): void {
    const spec = this.o.spec;
    if (!this.o.hasFinalizer) this.effects.push({ type: 'addFinalizer' });
    if (spec.parity) this.foldParity();
    if (this.o.analysis && (spec.analysis || spec.parity)) {
      if (this.recordAnalysis(this.o.analysis) === 'stop') return;
    }
    // Level-triggered: the comparator and the route's mirror the status explains (e.g. after a restart).
    if (spec.parity && this.o.parity?.deploymentPresent === false) this.effects.push({ type: 'ensureComparator', fresh: false });
    const m = this.o.routeMirror;
    const port = this.o.mirrorTarget?.port ?? spec.shadow.port;
    if (m !== undefined && (m === null || m.percent !== spec.percent || m.port !== port)) {
      this.effects.push({ type: 'setMirror', percent: spec.percent });
    }
    const endsAt = ms(this.st.endsAt) ?? this.o.now;
    if (this.o.now >= endsAt) {
      if (!spec.analysis && !spec.parity) { this.end('Passed', 'Pass', `mirrored for ${spec.duration} with no analysis configured`); return; }
      if (this.lastRunPassed()) {
        const what = spec.analysis && spec.parity ? 'all metrics and response parity passed' : spec.analysis ? 'all metrics passed' : `response parity passed (${this.st.parity?.reason ?? ''})`;
        this.end('Passed', 'Pass', `shadow judged against the primary for ${spec.duration}: ${what}`);
        return;
      }
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
    // After the mirror: a comparator left by a crash between the two is removed now.
    if (this.o.parity?.comparatorRunning) this.effects.push({ type: 'removeComparator' });
  }

  /**
   * status.parity from the comparator's latest summary, and an Event when its verdict changes.
   * The verdict counts in the run's outcome only at a check (recordAnalysis), like a metric.
   */
  foldParity(): void {
    const p = this.o.parity;
    if (!p) return;
    const before = this.st.parity?.result;
    this.st.parity = p.status;
    // The breaker, as a condition a user (and kubectl wait) can see: replays paused to spare the legacy.
    if (p.status.breaker) this.setCondition(ConditionType.ParityThrottled, 'True', Reason.LegacyProtected, `legacy replays paused: ${p.status.breaker}`);
    else this.removeCondition(ConditionType.ParityThrottled);
    const after = p.status.result;
    if (after !== undefined && before !== after && p.status.compared > 0) {
      this.effects.push({
        type: 'event',
        eventType: after === 'Fail' ? 'Warning' : 'Normal',
        reason: EventReason.ParityVerdictChanged,
        note: `parity ${before ?? 'unknown'} → ${after}: ${p.status.reason ?? ''}`.slice(0, 1024),
      });
    }
  }

  deletion(): Plan {
    // Mirror first, then let the object go. No status write: the object is going away.
    if (this.o.hasFinalizer) {
      if (this.o.routeMirror) this.effects.push({ type: 'removeMirror' });
      if (this.o.routeMirror) this.effects.push({ type: 'event', eventType: 'Normal', reason: EventReason.MirrorRemoved, note: 'deleted: mirror removed from the route' });
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
    // Then the comparator (its summary ConfigMap stays, for `kubectl cutover report`).
    if (this.o.spec.parity) this.effects.push({ type: 'removeComparator' });
    this.removeCondition(ConditionType.ParityThrottled);
    this.effects.push({ type: 'writeStatus' });
    this.effects.push({ type: 'event', eventType: phase === 'Passed' ? 'Normal' : 'Warning', reason: phase, note: why });
  }

  recordAnalysis(results: MetricResult[]): 'stop' | 'go' {
    const a = limits(this.o.spec);
    const counters = { consecutiveFailures: this.st.analysis?.consecutiveFailures ?? 0, consecutiveInconclusive: this.st.analysis?.consecutiveInconclusive ?? 0 };
    // Parity gathers its data over the run: an Inconclusive verdict (too few requests compared yet)
    // counts only once the duration is over; a Fail counts at once, like a failed metric.
    const over = this.o.now >= (ms(this.st.endsAt) ?? this.o.now);
    const judged = over ? results : results.filter((r) => !(r.name === PARITY_RESULT_NAME && r.result === 'Inconclusive'));
    const j = judged.length > 0
      ? judge(judged, counters, a)
      : { outcome: 'Inconclusive' as const, counters, verdict: 'Continue' as const, reason: 'parity: waiting for enough compared requests' };
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
    const p = this.o.spec.parity;
    if (r.name === PARITY_RESULT_NAME && p) {
      return { name: r.name, result: r.result, threshold: `mismatch ratio <= ${p.maxMismatchRatio} per endpoint, >= ${p.minCompared} compared`, message: r.message, at: this.nowText, ...(r.value !== undefined ? { shadow: r.value } : {}) };
    }
    const m = this.o.spec.analysis?.metrics.find((x) => x.name === r.name);
    const parts = thresholdParts(m);
    return {
      name: r.name, result: r.result, threshold: parts.join(', '), message: r.message, at: this.nowText,
      ...(r.baseline !== undefined && Number.isFinite(r.baseline) ? { primary: r.baseline } : {}),
      ...(r.value !== undefined && Number.isFinite(r.value) ? { shadow: r.value } : {}),
      ...(r.judge ? { judge: judgeStatus(r.judge) } : {}),
    };
  }

  lastRunPassed(): boolean {
    const last = this.st.results ?? [];
    return this.st.lastAnalysisAt !== undefined && last.length > 0 && last.every((r) => r.result === 'Pass');
  }

  untilNextAnalysis(): number {
    const a = this.o.spec.analysis;
    if (!a && !this.o.spec.parity) return Infinity;
    const interval = checkInterval(this.o.spec);
    const last = ms(this.st.lastAnalysisAt) ?? ms(this.st.startedAt) ?? this.o.now - interval;
    return Math.max(50, last + interval - this.o.now);
  }

  // --- conditions, events, the single status write --------------------------------------------

  finish(before: ShadowRunPhase | undefined): Plan {
    const o = this.o;
    this.st.observedGeneration = o.generation;
    const phase = this.st.phase ?? 'Pending';
    const stalled = this.stalledCondition();
    const msg = this.st.message ?? phase;
    switch (phase) {
      case 'Passed':
        this.markReady(Reason.Passed, msg);
        break;
      case 'Failed':
      case 'Cancelled': {
        const reason = phase === 'Failed' ? (this.st.verdict === 'Inconclusive' ? Reason.AnalysisInconclusive : Reason.AnalysisFailed) : Reason.Cancelled;
        this.markDegraded(phase === 'Failed' ? Reason.Failed : Reason.Cancelled, reason, msg);
        break;
      }
      default: {
        this.markInProgress(phase === 'Running' ? Reason.Shadowing : Reason.Initializing, msg, stalled);
        const inconclusive = (this.st.analysis?.consecutiveInconclusive ?? 0) >= (o.spec.analysis || o.spec.parity ? limits(o.spec).inconclusiveLimit : Infinity);
        const failing = (this.st.analysis?.consecutiveFailures ?? 0) > 0;
        if (phase === 'Running' && (inconclusive || failing)) this.setCondition(ConditionType.Degraded, 'True', failing ? Reason.AnalysisFailed : Reason.AnalysisInconclusive, msg);
        else this.removeCondition(ConditionType.Degraded);
      }
    }
    this.ensureStatusWrite();
    const stallEvent = this.stallEvent(stalled);
    if (stallEvent) {
      this.effects.push(stallEvent);
    } else if (before !== this.st.phase && this.st.phase !== undefined && !this.effects.some((e) => e.type === 'event')) {
      this.effects.push({ type: 'event', eventType: 'Normal', reason: EventReason.PhaseChanged, note: `${before ?? 'new'} → ${this.st.phase}: ${msg}` });
    }
    return { status: this.st, effects: this.effects, requeueAfterMs: this.requeueAfterMs() };
  }
}
