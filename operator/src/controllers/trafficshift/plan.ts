// The TrafficShift decision: a pure function from what was observed to the next status and the
// ordered list of effects to carry out. No I/O, no clock: everything arrives in `ShiftObservation`.
// This file is the phase machine; the conditions of a phase are ./status.ts, and how a planned
// status is kept (written, or only the analysis memo in memory) is ./persistence.ts.
//
// Crash safety (DESIGN §2): all progress lives in status. On the way forward the status is written
// BEFORE the route, so no weight is ever written that the status does not explain; a restart
// re-applies the weight the status names. On the way back (rollback) the route goes first because
// it is the user-facing part, then the workers, then status and Events. A shift owned by a
// MigrationSlice (`ownerSlice`) restores only the route: DESIGN §2 puts the slice's feature flag
// between the route and the workers, so the slice turns its flag off and then restores the workers
// from this shift's worker records (see migrationslice/plan.ts).
import { parseDuration } from '../../api/duration.ts';
import { splitReplicas, type MetricResult as StatusMetricResult, type Worker } from '../../api/common.ts';
import { ConditionType, EventReason } from '../../api/conditions.ts';
import type {
  PauseReason,
  RollbackTrigger,
  TrafficShiftPhase,
  TrafficShiftSpec,
  TrafficShiftStatus,
  WorkerStatus,
} from '../../api/trafficshift.ts';
import { judge, type MetricResult } from '../../analysis/evaluate.ts';
import { rfc3339Milli } from '../../runtime/clock.ts';
import { setShiftConditions } from './status.ts';
import { PlannerBase, judgeStatus, ms, pendingActions, thresholdParts, type EventEffect, type PlanOf, type SpecProblem, type StatusWrite } from '../shared/planner.ts';

export interface ObservedDeployment { name: string; exists: boolean; replicas: number; readyReplicas: number }

export interface ShiftObservation {
  now: number;
  generation: number;
  spec: TrafficShiftSpec;
  status: TrafficShiftStatus;
  /** The resource's annotations (manual actions). */
  annotations: Record<string, string>;
  /** Run-time problems (missing route, Service, Deployment, rejected query); empty when fine. */
  problems: SpecProblem[];
  /** The canary weight the route shows now, when the route could be read. */
  routeCanaryWeight?: number | undefined;
  /** Worker and legacy Deployments named by spec.workers, as observed. */
  deployments: Record<string, ObservedDeployment>;
  /** Results of an analysis run made for this reconcile (only when one was due). */
  analysis?: MetricResult[] | undefined;
  /**
   * No analysis before this instant (ms), although one interval has passed: after a start, the
   * catch-up analysis of every live shift runs at once, and the next one comes up to one interval
   * later than usual, at a per-shift offset, so a restart does not leave all shifts analysing in the
   * same second of every interval (see analysisSpread).
   */
  analysisNotBefore?: number | undefined;
  /**
   * An immediate rollback requested out of band and handed over in memory by this process's hook
   * (the fast path); `id` is the id of the record the hook writes on the object.
   */
  rollbackRequest?: { trigger: RollbackTrigger; reason: string; alert?: string | undefined; id?: string | undefined } | undefined;
  /**
   * The MigrationSlice that owns this shift (its controller ownerReference), if any. On rollback
   * such a shift leaves the workers to the slice, which restores them after its feature flag.
   */
  ownerSlice?: string | undefined;
  /**
   * This process has not yet checked the split workers of this shift against its status (the
   * first reconcile after a start): their Deployments are observed once and put back to the split
   * the status names.
   */
  verifyWorkers?: boolean | undefined;
}

export type Effect =
  | { type: 'setWeights'; canary: number }
  | { type: 'scale'; deployment: string; replicas: number }
  | StatusWrite
  | EventEffect;

export type Plan = PlanOf<TrafficShiftStatus, Effect>;

const TERMINAL: ReadonlySet<TrafficShiftPhase> = new Set(['Completed', 'RolledBack', 'Failed']);
const WORKER_POLL_MS = 1000;

/**
 * The worker and legacy Deployments the plan will read in this reconcile (issue 18: a live
 * reconcile used to GET every one of them although the plan reads them only here):
 * - a shift starting (new, Pending, a new generation, or a retry): all of them — scaled up, waited for, and
 *   a missing one stalls the shift before anything moves;
 * - a Completed shift whose legacy consumers are not yet scaled: those legacy Deployments (the
 *   legacy is scaled after completion, idempotently, so a crash in between finishes it later);
 * - otherwise none: a step, an analysis or a rollback reads the records in status, not the cluster.
 * A shift completing in this reconcile has not observed its legacy yet: the plan requeues at once
 * and the Completed reconcile scales it.
 */
export function deploymentsToObserve(o: Pick<ShiftObservation, 'spec' | 'status' | 'generation' | 'annotations' | 'verifyWorkers'>): Array<{ name: string; field: string; worker: number }> {
  const { spec, status } = o;
  const out: Array<{ name: string; field: string; worker: number }> = [];
  const workers = spec.workers ?? [];
  const both = (w: Worker, i: number) => {
    out.push({ name: w.deployment, field: 'deployment', worker: i });
    if (w.legacy) out.push({ name: w.legacy.deployment, field: 'legacy.deployment', worker: i });
  };
  const starting = status.phase === undefined || status.phase === 'Pending' || status.observedGeneration !== o.generation
    || (isTerminal(status.phase) && pendingActions(o.annotations, status).some((a) => a.action === 'Retry'));
  if (starting) {
    workers.forEach(both);
  } else if (status.phase === 'RolledBack') {
    // A rollback of split workers waits for the legacy consumers to be Ready before the new go.
    if (status.rollback && !status.rollback.completedAt) workers.forEach((w, i) => { if (w.split) both(w, i); });
  } else if (status.phase === 'Completed') {
    workers.forEach((w, i) => {
      if (w.split) { if (status.workersReady === false || o.verifyWorkers) both(w, i); return; }
      if (w.legacy && !status.workers?.find((x) => x.deployment === w.deployment)?.legacyScaledAt) out.push({ name: w.legacy.deployment, field: 'legacy.deployment', worker: i });
    });
  } else if (status.workersReady === false || o.verifyWorkers) {
    // A step's split being put in place (new up, Ready, then legacy down), or checked after a start.
    workers.forEach((w, i) => { if (w.split) both(w, i); });
  }
  return out;
}

export function isTerminal(phase: TrafficShiftPhase | undefined): boolean {
  return phase !== undefined && TERMINAL.has(phase);
}

/** Whether an analysis run is due now (the controller queries Prometheus only then). */
export function analysisDue(spec: TrafficShiftSpec, status: TrafficShiftStatus, now: number, notBefore?: number): boolean {
  if (!spec.analysis) return false;
  if (notBefore !== undefined && now < notBefore) return false;
  const phase = status.phase;
  if (phase !== 'Progressing' && !(phase === 'Paused' && status.pauseReason === 'Inconclusive')) return false;
  // The step's analysis starts when its split workers are in place and Ready.
  if (status.workersReady === false) return false;
  const last = ms(status.lastAnalysisAt);
  return last === undefined || now - last >= parseDuration(spec.analysis.interval);
}

/**
 * The extra wait (ms, in [0, interval)) before the analysis that follows a restart's catch-up run,
 * from a hash of the shift's uid: spreads over one interval what a restart lined up. Without it, a
 * restart with 10,000 live shifts has them all analyse in the same few seconds of every interval
 * from then on, and a step due in those seconds waits behind them.
 */
export function analysisSpread(uid: string, intervalMs: number): number {
  let h = 2166136261;
  for (let i = 0; i < uid.length; i++) h = Math.imul(h ^ uid.charCodeAt(i), 16777619);
  return Math.floor(((h >>> 0) / 2 ** 32) * intervalMs);
}

/** When the current step's pause ends (ms), or undefined before the step has started. */
export function stepEndAt(spec: TrafficShiftSpec, status: TrafficShiftStatus): number | undefined {
  const step = spec.steps[status.currentStep ?? 0];
  const started = ms(status.stepStartedAt);
  return step && started !== undefined ? started + parseDuration(step.pause) : undefined;
}

export function planTrafficShift(o: ShiftObservation): Plan {
  return new Planner(o).run();
}

class Planner extends PlannerBase<ShiftObservation, TrafficShiftStatus, Effect> {
  constructor(o: ShiftObservation) {
    // Millisecond precision: step starts and analysis runs are a schedule (DESIGN §6: drift ≤ 1 s).
    super(o, rfc3339Milli(o.now));
  }

  run(): Plan {
    const o = this.o;
    const before = this.st.phase;

    // A new generation starts fresh (GitOps changed the spec); an unchanged re-apply does not.
    if (this.st.observedGeneration !== o.generation) {
      if (this.st.phase === undefined || isTerminal(this.st.phase) || this.st.phase === 'Pending') {
        this.restart(before === undefined ? 'created' : `spec changed (generation ${o.generation})`);
      } else {
        // Mid-flight spec change: keep the current step; new steps/analysis apply from now on.
        this.st.observedGeneration = o.generation;
        if ((this.st.currentStep ?? 0) >= o.spec.steps.length) this.st.currentStep = o.spec.steps.length - 1;
      }
    }

    // A recorded rollback request that cannot be used, or that finds the run already over, changes
    // nothing (shared/planner.ts recordedRollback) — before a retry, so it does not roll back the next run.
    const { recorded, warning } = this.recordedRollback(isTerminal(this.st.phase));
    if (warning) this.effects.push(warning);

    const actions = pendingActions(o.annotations, this.st);
    const retry = actions.find((a) => a.action === 'Retry');
    if (retry) {
      this.ack(retry.action, retry.id);
      if (this.st.phase === 'RolledBack' || this.st.phase === 'Failed') this.restart('retry requested');
    }

    if (isTerminal(this.st.phase)) {
      for (const a of actions) if (a.action !== 'Retry') this.ack(a.action, a.id);
      this.terminal();
      return this.finish(before);
    }

    // Out-of-band and manual rollbacks win over everything else, in any live phase.
    const request = o.rollbackRequest ?? recorded;
    if (request) {
      this.rollback(request.trigger, request.reason, request.alert);
      for (const a of actions) this.ack(a.action, a.id);
      // The record's id (what the annotation holds) or, without one yet, the id its hook is writing.
      const id = recorded?.id ?? request.id;
      if (id) this.ack('Rollback', id);
      return this.finish(before);
    }
    const abort = actions.find((a) => a.action === 'Abort');
    if (abort) {
      this.ack(abort.action, abort.id);
      for (const a of actions) this.ack(a.action, a.id);
      this.rollback('Manual', `aborted by request ${abort.id}`);
      return this.finish(before);
    }

    if (o.problems.length > 0) {
      // Stalled: the user must act; nothing is changed in the cluster.
      this.stallOn(o.problems[0]!);
      return this.finish(before);
    }
    this.removeCondition(ConditionType.Stalled);

    for (const a of actions) {
      if (a.action === 'Promote') { this.ack(a.action, a.id); this.complete('promoted by request'); return this.finish(before); }
      if (a.action === 'Pause') { this.ack(a.action, a.id); if (this.st.phase === 'Progressing' || this.st.phase === 'Pending') this.pause('Manual', `paused by request ${a.id}`); }
      if (a.action === 'Resume') { this.ack(a.action, a.id); if (this.st.phase === 'Paused') this.resume('resumed by request'); }
    }

    switch (this.st.phase) {
      case 'Pending': this.pending(); break;
      case 'Progressing': this.progressing(); break;
      case 'Paused': this.paused(); break;
      default: break;
    }
    return this.finish(before);
  }

  // --- phases -------------------------------------------------------------------------------

  restart(reason: string): void {
    const keep = { acknowledgedActions: this.st.acknowledgedActions, conditions: this.st.conditions };
    this.st = { observedGeneration: this.o.generation, phase: 'Pending', message: reason, ...keep };
    this.removeCondition(ConditionType.Stalled);
  }

  pending(): void {
    const workers = this.o.spec.workers ?? [];
    const ws: WorkerStatus[] = this.st.workers ? [...this.st.workers] : [];
    let allReady = true;
    for (const w of workers) {
      const d = this.o.deployments[w.deployment];
      if (!d?.exists) { allReady = false; continue; }
      let rec = ws.find((x) => x.deployment === w.deployment);
      if (!rec) { rec = { deployment: w.deployment, previousReplicas: d.replicas }; ws.push(rec); }
      rec.readyReplicas = d.readyReplicas;
      if (w.split) {
        // Nothing moves before the first step: the replicas found are what a rollback restores.
        const l = this.o.deployments[w.legacy!.deployment];
        if (!l?.exists) { allReady = false; continue; }
        rec.split = true;
        rec.legacyDeployment = w.legacy!.deployment;
        rec.legacyPreviousReplicas ??= l.replicas;
        rec.legacyReadyReplicas = l.readyReplicas;
        continue;
      }
      const want = w.replicas ?? 0;
      if (d.replicas !== want) {
        this.effects.push({ type: 'scale', deployment: w.deployment, replicas: want });
        rec.scaledAt ??= this.nowText;
      }
      if (d.replicas !== want || d.readyReplicas < want) allReady = false;
    }
    if (workers.length > 0) { this.st.workers = ws; this.st.workersReady = allReady; }
    if (!this.deadlineCheck()) return;
    if (!allReady) {
      this.st.message = `waiting for workers to be Ready: ${workers.filter((w) => !w.split).map((w) => `${w.deployment} ${this.o.deployments[w.deployment]?.readyReplicas ?? 0}/${w.replicas ?? 0}`).join(', ')}`;
      this.st.lastProgressAt ??= this.nowText;
      // The worker records (previous replicas) go to status before anything is scaled.
      if (this.effects.length > 0) this.effects.unshift({ type: 'writeStatus' });
      this.requeue = WORKER_POLL_MS;
      return;
    }
    this.startStep(0, 'workers Ready; first step');
  }

  /** `analysed`: this reconcile's analysis was already folded into status (resuming from a pause). */
  progressing(analysed = false): void {
    const spec = this.o.spec;
    const i = this.st.currentStep ?? 0;
    this.ensureRoute();
    if (!this.settleWorkers()) { this.deadlineCheck(); return; }
    if (!analysed && this.o.analysis && spec.analysis) {
      const verdict = this.recordAnalysis(this.o.analysis);
      if (verdict === 'stop') return;
    }
    if (!this.deadlineCheck()) return;
    const stepEnd = this.stepEnd();
    if (this.o.now >= stepEnd) {
      if (spec.analysis && !this.passedThisStep()) {
        // Never promote on missing data: wait for a passing run in this step.
        this.requeue = this.untilNextAnalysis();
        return;
      }
      if (i + 1 < spec.steps.length) this.startStep(i + 1, `step ${i + 1}/${spec.steps.length} done`);
      else this.complete(`last step's pause ended`);
      return;
    }
    this.requeue = Math.min(stepEnd - this.o.now, this.untilNextAnalysis());
  }

  paused(): void {
    if (!this.settleWorkers()) { this.deadlineCheck(); return; }
    if (this.st.pauseReason === 'Inconclusive' && this.o.analysis && this.o.spec.analysis) {
      const verdict = this.recordAnalysis(this.o.analysis);
      if (verdict === 'stop') return;
      const last = this.st.analysis?.lastResults ?? [];
      if (last.length > 0 && last.every((r) => r.result === 'Pass')) { this.resume('analysis conclusive again'); this.progressing(true); return; }
    }
    this.ensureRoute();
    if (!this.deadlineCheck()) return;
    if (this.st.pauseReason === 'Inconclusive') this.requeue = this.untilNextAnalysis();
  }

  terminal(): void {
    const spec = this.o.spec;
    if (this.st.phase === 'Completed') {
      // Legacy workers are scaled after completion (idempotent; finishes after a crash).
      const ws = this.st.workers ? [...this.st.workers] : [];
      let changed = false;
      if (this.st.workersReady === false || this.o.verifyWorkers) this.settleWorkers();
      for (const w of spec.workers ?? []) {
        if (!w.legacy || w.split) continue;
        const d = this.o.deployments[w.legacy.deployment];
        // Not observed in this reconcile (the shift completed in it): the next one reads it.
        if (!d) { this.requeue = 0; continue; }
        if (!d.exists) continue;
        let rec = ws.find((x) => x.deployment === w.deployment);
        if (!rec) { rec = { deployment: w.deployment }; ws.push(rec); }
        if (rec.legacyScaledAt) continue;
        rec.legacyDeployment = w.legacy.deployment;
        rec.legacyPreviousReplicas ??= d.replicas;
        rec.legacyScaledAt = this.nowText;
        changed = true;
        this.effects.push({ type: 'writeStatus' }, { type: 'scale', deployment: w.legacy.deployment, replicas: w.legacy.replicas ?? 0 });
      }
      if (changed) this.st.workers = ws;
    }
    if (this.st.phase === 'RolledBack' && this.st.rollback && !this.st.rollback.completedAt) {
      // A rollback interrupted by a crash: finish the parts not yet recorded.
      this.rollbackEffects();
    }
  }

  /** Level-triggered: the route must show the weight the status names (e.g. after a restart). */
  ensureRoute(): void {
    const want = this.st.currentWeight;
    if (!this.o.spec.route) return;
    if (want !== undefined && this.o.routeCanaryWeight !== undefined && this.o.routeCanaryWeight !== want) {
      this.effects.push({ type: 'setWeights', canary: want });
    }
  }

  // --- transitions --------------------------------------------------------------------------

  startStep(i: number, why: string): void {
    const step = this.o.spec.steps[i]!;
    const first = this.st.phase === 'Pending';
    this.st.phase = 'Progressing';
    this.st.currentStep = i;
    this.st.currentWeight = step.weight;
    this.st.stepStartedAt = this.nowText;
    this.st.lastProgressAt = this.nowText;
    if (first) this.st.startedAt = this.nowText;
    delete this.st.pausedAt; delete this.st.pauseReason;
    this.st.message = `step ${i + 1}/${this.o.spec.steps.length}: weight ${step.weight}`;
    this.st.analysis = { consecutiveFailures: 0, consecutiveInconclusive: 0, ...(this.st.analysis?.lastResults ? { lastResults: this.st.analysis.lastResults } : {}) };
    // Status first, then the route and the workers: no weight or replica count written that the status does not explain.
    this.effects.push({ type: 'writeStatus' });
    if (this.o.spec.route) this.effects.push({ type: 'setWeights', canary: step.weight });
    const moving = this.splitTo(step.weight);
    this.effects.push({ type: 'event', eventType: 'Normal', reason: EventReason.StepStarted, note: `step ${i + 1}/${this.o.spec.steps.length}: ${this.o.spec.route ? 'canary ' : ''}weight ${step.weight}%${this.splitNote()} (${why})` });
    this.requeue = moving ? WORKER_POLL_MS : Math.min(parseDuration(step.pause), this.o.spec.analysis ? parseDuration(this.o.spec.analysis.interval) : Infinity);
  }

  // --- split workers (README › Worker cutovers) ------------------------------------------------

  /** The split workers' records, with their specs. */
  splits(): Array<{ w: Worker; rec: WorkerStatus }> {
    const out: Array<{ w: Worker; rec: WorkerStatus }> = [];
    for (const w of this.o.spec.workers ?? []) {
      if (!w.split) continue;
      const rec = this.st.workers?.find((x) => x.deployment === w.deployment);
      if (rec) out.push({ w, rec });
    }
    return out;
  }

  splitNote(): string {
    const parts = this.splits().map(({ w, rec }) => `${w.deployment} ${rec.replicas ?? 0}, ${w.legacy!.deployment} ${rec.legacyReplicas ?? 0}`);
    return parts.length > 0 ? `; consumers ${parts.join('; ')}` : '';
  }

  /**
   * Records the split of `weight` in status (written before any scale) and scales up at once the
   * side that grows; the side that shrinks waits for the other to be Ready (settleWorkers), so the
   * queue never has fewer consumers than the step asks for. Returns whether anything must move.
   */
  splitTo(weight: number): boolean {
    const splits = this.splits();
    if (splits.length === 0) return false;
    let moving = false;
    this.st.workers = this.st.workers!.map((r) => ({ ...r }));
    for (const { w } of splits) {
      const rec = this.st.workers.find((x) => x.deployment === w.deployment)!;
      const want = splitReplicas(w.split!.totalReplicas, weight);
      const hadNew = rec.replicas ?? rec.previousReplicas ?? 0;
      const hadLegacy = rec.legacyReplicas ?? rec.legacyPreviousReplicas ?? 0;
      if (want.replicas !== hadNew || want.legacy !== hadLegacy) moving = true;
      rec.replicas = want.replicas;
      rec.legacyReplicas = want.legacy;
      if (want.replicas > hadNew) { this.effects.push({ type: 'scale', deployment: w.deployment, replicas: want.replicas }); rec.scaledAt ??= this.nowText; }
      if (want.legacy > hadLegacy) this.effects.push({ type: 'scale', deployment: w.legacy!.deployment, replicas: want.legacy });
    }
    if (moving) this.st.workersReady = false;
    return moving;
  }

  /**
   * Puts the split the status names in place, from the Deployments observed in this reconcile:
   * the growing side first, the shrinking side once the growing one is Ready. Returns true when
   * every split worker is in place and Ready (or there is nothing to check). When the split has
   * just been reached, the step's pause starts now: its analysis judges the new share of the work.
   */
  settleWorkers(): boolean {
    const splits = this.splits();
    if (splits.length === 0) return true;
    if (this.st.workersReady !== false && !this.o.verifyWorkers) return true;
    let ready = true;
    const scale: Effect[] = [];
    for (const { w, rec } of splits) {
      const n = this.o.deployments[w.deployment];
      const l = this.o.deployments[w.legacy!.deployment];
      // Not observed in this reconcile (the step started in it): the next one reads them.
      if (!n || !l) { ready = false; continue; }
      if (!n.exists || !l.exists) { ready = false; continue; }
      const tn = rec.replicas ?? 0;
      const tl = rec.legacyReplicas ?? 0;
      rec.readyReplicas = n.readyReplicas;
      rec.legacyReadyReplicas = l.readyReplicas;
      if (n.replicas < tn) scale.push({ type: 'scale', deployment: w.deployment, replicas: tn });
      if (l.replicas < tl) scale.push({ type: 'scale', deployment: w.legacy!.deployment, replicas: tl });
      const newUp = n.replicas >= tn && n.readyReplicas >= tn;
      const legacyUp = l.replicas >= tl && l.readyReplicas >= tl;
      if (n.replicas > tn && legacyUp) scale.push({ type: 'scale', deployment: w.deployment, replicas: tn });
      if (l.replicas > tl && newUp) scale.push({ type: 'scale', deployment: w.legacy!.deployment, replicas: tl });
      if (!(n.replicas === tn && l.replicas === tl && newUp && legacyUp)) ready = false;
    }
    const wasReady = this.st.workersReady !== false;
    this.effects.push(...scale);
    if (!ready) {
      this.st.workersReady = false;
      if (this.st.phase === 'Progressing' || this.st.phase === 'Paused') this.st.message = `step ${(this.st.currentStep ?? 0) + 1}/${this.o.spec.steps.length}: moving the work${this.splitNote()} (waiting for Ready)`;
      if (scale.length > 0 || wasReady) this.effects.unshift({ type: 'writeStatus' });
      this.requeue = WORKER_POLL_MS;
      return false;
    }
    if (!wasReady) {
      this.st.workersReady = true;
      this.st.lastProgressAt = this.nowText;
      if (this.st.phase === 'Progressing') {
        // The step's pause (and its analysis) starts when its share of the work has moved.
        this.st.stepStartedAt = this.nowText;
        this.st.message = `step ${(this.st.currentStep ?? 0) + 1}/${this.o.spec.steps.length}: weight ${this.st.currentWeight ?? 0}%${this.splitNote()} (Ready)`;
      }
      this.effects.push({ type: 'writeStatus' });
    }
    return true;
  }

  complete(why: string): void {
    const last = this.o.spec.steps[this.o.spec.steps.length - 1]!;
    const wasWeight = this.st.currentWeight;
    this.st.phase = 'Completed';
    this.st.completedAt = this.nowText;
    this.st.currentStep = this.o.spec.steps.length - 1;
    this.st.currentWeight = last.weight;
    delete this.st.pausedAt; delete this.st.pauseReason;
    this.st.message = `completed: ${why}`;
    this.effects.push({ type: 'writeStatus' });
    this.splitTo(last.weight);
    if (this.o.spec.route && (wasWeight !== last.weight || this.o.routeCanaryWeight !== last.weight)) this.effects.push({ type: 'setWeights', canary: last.weight });
    this.effects.push({ type: 'event', eventType: 'Normal', reason: EventReason.Completed, note: `completed at canary weight ${last.weight}%: ${why}` });
    this.terminal();
  }

  pause(reason: PauseReason, why: string): void {
    this.st.phase = 'Paused';
    this.st.pauseReason = reason;
    this.st.pausedAt = this.nowText;
    this.st.message = `paused: ${why}`;
    this.effects.push({ type: 'event', eventType: reason === 'Manual' ? 'Normal' : 'Warning', reason: EventReason.Paused, note: why });
  }

  resume(why: string): void {
    const pausedAt = ms(this.st.pausedAt);
    const started = ms(this.st.stepStartedAt);
    // The step timer stops while paused: shift the step start by the time spent paused.
    if (pausedAt !== undefined && started !== undefined) this.st.stepStartedAt = rfc3339Milli(started + Math.max(0, this.o.now - pausedAt));
    this.st.phase = this.st.currentStep === undefined ? 'Pending' : 'Progressing';
    delete this.st.pausedAt; delete this.st.pauseReason;
    this.st.lastProgressAt = this.nowText;
    this.st.message = `resumed: ${why}`;
    this.effects.push({ type: 'event', eventType: 'Normal', reason: EventReason.Resumed, note: why });
  }

  rollback(trigger: RollbackTrigger, reason: string, alert?: string): void {
    this.st.rollback = {
      trigger, reason, at: this.nowText, generation: this.o.generation,
      ...(this.st.currentStep !== undefined ? { fromStep: this.st.currentStep } : {}),
      ...(this.st.currentWeight !== undefined ? { fromWeight: this.st.currentWeight } : {}),
      ...(alert ? { alert } : {}),
    };
    this.st.phase = 'RolledBack';
    this.st.currentWeight = 0;
    delete this.st.pausedAt; delete this.st.pauseReason;
    this.st.message = `rolled back (${trigger}): ${reason}`;
    this.rollbackEffects();
  }

  /**
   * Route first (user-facing, fast), then workers, then status and the Event. With an owner slice
   * only the route: the slice turns its feature flag off, then restores the workers from
   * `status.workers` (route → flag → workers, DESIGN §2); `workersRestoredAt` stays unset here.
   */
  rollbackEffects(): void {
    const rb = this.st.rollback!;
    const effects: Effect[] = [];
    if (!rb.routeRestoredAt) {
      if (this.o.spec.route) effects.push({ type: 'setWeights', canary: 0 });
      rb.routeRestoredAt = this.nowText;
    }
    // Split workers: the legacy consumers back and Ready BEFORE the new ones are scaled down, so the
    // queue is never left without consumers. Done by the shift even under a slice.
    const splits = (this.st.workers ?? []).filter((w) => w.split && w.legacyDeployment);
    if (splits.length > 0 && !rb.legacyWorkersReadyAt) {
      let ready = true;
      for (const w of splits) {
        const want = w.legacyPreviousReplicas ?? 0;
        const l = this.o.deployments[w.legacyDeployment!];
        if (!l) { ready = false; if ((w.legacyReplicas ?? want) !== want) effects.push({ type: 'scale', deployment: w.legacyDeployment!, replicas: want }); continue; }
        if (!l.exists) continue; // deleted: nothing to wait for
        if (l.replicas !== want) effects.push({ type: 'scale', deployment: w.legacyDeployment!, replicas: want });
        if (l.replicas !== want || l.readyReplicas < want) ready = false;
      }
      if (!ready) {
        // Status first (the rollback is recorded, the route is back), then the legacy scale-up;
        // the next reconciles wait for it to be Ready.
        this.st.message = `rolling back (${rb.trigger}): ${rb.reason}; waiting for the legacy consumers to be Ready before the new ones scale down`;
        this.effects.push({ type: 'writeStatus' }, ...effects);
        this.requeue = WORKER_POLL_MS;
        return;
      }
      rb.legacyWorkersReadyAt = this.nowText;
      for (const w of splits) effects.push({ type: 'scale', deployment: w.deployment, replicas: w.previousReplicas ?? 0 });
    }
    const slice = this.o.ownerSlice;
    if (!rb.workersRestoredAt && (!slice || (splits.length > 0 && splits.length === (this.st.workers?.length ?? 0)))) {
      if (!slice) effects.push(...workerRestoreEffects(this.st.workers));
      rb.workersRestoredAt = this.nowText;
    }
    if (splits.length > 0) this.st.message = `rolled back (${rb.trigger}): ${rb.reason}`;
    rb.completedAt = this.nowText;
    effects.push({ type: 'writeStatus' });
    const left = slice && (this.st.workers?.length ?? 0) > 0 ? `; MigrationSlice ${slice} restores the workers after its feature flag` : '';
    effects.push({ type: 'event', eventType: 'Warning', reason: EventReason.RolledBack, note: `rolled back to stable (${rb.trigger}): ${rb.reason}${left}` });
    this.effects.push(...effects);
  }

  // --- analysis -----------------------------------------------------------------------------

  /** Folds an analysis run into status; returns 'stop' when it rolled back or paused. */
  recordAnalysis(results: MetricResult[]): 'stop' | 'go' {
    const a = this.o.spec.analysis!;
    const counters = { consecutiveFailures: this.st.analysis?.consecutiveFailures ?? 0, consecutiveInconclusive: this.st.analysis?.consecutiveInconclusive ?? 0 };
    const j = judge(results, counters, { failureLimit: a.failureLimit, inconclusiveLimit: a.inconclusiveLimit, onInconclusive: a.onInconclusive });
    this.st.lastAnalysisAt = this.nowText;
    const score = results.find((r) => r.judge?.score !== undefined)?.judge?.score;
    this.st.analysis = { ...j.counters, ...(score !== undefined ? { score } : {}), lastResults: results.map((r) => this.toStatusResult(r)) };
    if (j.verdict === 'Rollback') {
      if (j.outcome === 'Fail' && !this.o.spec.rollback.automatic) {
        if (this.st.phase !== 'Paused') this.pause('AnalysisFailed', `${j.reason} (automatic rollback is off)`);
        return 'stop';
      }
      this.rollback(j.outcome === 'Fail' ? 'Metric' : 'Metric', j.reason);
      return 'stop';
    }
    if (j.verdict === 'Pause' && this.st.phase !== 'Paused') {
      this.pause('Inconclusive', `${j.counters.consecutiveInconclusive} inconclusive analysis runs: ${j.reason}`);
      this.requeue = this.untilNextAnalysis();
      return 'stop';
    }
    return 'go';
  }

  toStatusResult(r: MetricResult): StatusMetricResult {
    const m = this.o.spec.analysis!.metrics.find((x) => x.name === r.name);
    return {
      name: r.name, result: r.result, threshold: thresholdParts(m).join(', '), message: r.message, at: this.nowText,
      ...(r.value !== undefined && Number.isFinite(r.value) ? { value: r.value } : {}),
      ...(r.baseline !== undefined && Number.isFinite(r.baseline) ? { baseline: r.baseline } : {}),
      ...(r.judge ? { judge: judgeStatus(r.judge) } : {}),
    };
  }

  passedThisStep(): boolean {
    const last = this.st.analysis?.lastResults ?? [];
    const at = ms(this.st.lastAnalysisAt);
    const started = ms(this.st.stepStartedAt) ?? 0;
    return at !== undefined && at >= started && last.length > 0 && last.every((r) => r.result === 'Pass');
  }

  untilNextAnalysis(): number {
    const a = this.o.spec.analysis;
    if (!a) return Infinity;
    const interval = parseDuration(a.interval);
    const last = ms(this.st.lastAnalysisAt) ?? this.o.now - interval;
    return Math.max(50, Math.max(last + interval, this.o.analysisNotBefore ?? 0) - this.o.now);
  }

  stepEnd(): number {
    return stepEndAt(this.o.spec, this.st) ?? this.o.now + parseDuration(this.o.spec.steps[this.st.currentStep ?? 0]!.pause);
  }

  /** progressDeadline: rolls back when no progress was made for that long. Returns false if it did. */
  deadlineCheck(): boolean {
    const d = this.o.spec.progressDeadline;
    if (!d) return true;
    const since = ms(this.st.lastProgressAt);
    if (since === undefined) return true;
    const stuck = this.st.phase === 'Pending' || (this.st.phase === 'Paused' && this.st.pauseReason !== 'Manual')
      || (this.st.phase === 'Progressing' && this.st.workersReady === false);
    if (stuck && this.o.now - since > parseDuration(d)) {
      this.rollback('Deadline', `no progress for ${d} (${this.st.message ?? this.st.phase})`);
      return false;
    }
    return true;
  }

  // --- conditions, events, the single status write --------------------------------------------

  finish(before: TrafficShiftPhase | undefined): Plan {
    const o = this.o;
    this.st.observedGeneration = o.generation;
    const phase = this.st.phase ?? 'Pending';
    const stalled = this.stalledCondition();
    const msg = this.st.message ?? phase;
    setShiftConditions(this, this.st, msg, stalled);
    // The status write: exactly once, where the transition placed it, or at the end; Events after it.
    this.ensureStatusWrite();
    const stallEvent = this.stallEvent(stalled);
    if (stallEvent) {
      this.effects.push(stallEvent);
    } else if (before !== this.st.phase && this.st.phase !== undefined && !this.effects.some((e) => e.type === 'event' && ([EventReason.RolledBack, EventReason.Completed, EventReason.Paused, EventReason.Resumed, EventReason.StepStarted] as string[]).includes(e.reason))) {
      this.effects.push({ type: 'event', eventType: 'Normal', reason: EventReason.PhaseChanged, note: `${before ?? 'new'} → ${this.st.phase}: ${msg}` });
    }
    const seen = new Set<string>();
    const effects = this.effects.filter((e) => {
      if (e.type !== 'writeStatus') return true;
      if (seen.has('w')) return false;
      seen.add('w');
      return true;
    });
    return { status: this.st, effects, requeueAfterMs: this.requeueAfterMs() };
  }
}

/**
 * Scales back what a shift scaled, from its worker records: each worker to the replicas it had
 * before, and a legacy Deployment that was already scaled (after completion) to its earlier count.
 * Used by a standalone shift's rollback and by its owner slice's (migrationslice/plan.ts).
 * `splitToo`: also split workers (legacy first), for a slice whose shift was deleted.
 */
export function workerRestoreEffects(workers: readonly WorkerStatus[] | undefined, splitToo = false): Array<Extract<Effect, { type: 'scale' }>> {
  const out: Array<Extract<Effect, { type: 'scale' }>> = [];
  for (const w of workers ?? []) {
    // Split workers are restored by their shift, legacy first (rollbackEffects); by the slice only
    // when the shift is gone (deleted mid-shift): legacy first too, without the shift's wait for Ready.
    if (w.split) {
      if (!splitToo) continue;
      if (w.legacyDeployment && w.legacyPreviousReplicas !== undefined) out.push({ type: 'scale', deployment: w.legacyDeployment, replicas: w.legacyPreviousReplicas });
      if (w.previousReplicas !== undefined) out.push({ type: 'scale', deployment: w.deployment, replicas: w.previousReplicas });
      continue;
    }
    if (w.previousReplicas !== undefined) out.push({ type: 'scale', deployment: w.deployment, replicas: w.previousReplicas });
    if (w.legacyDeployment && w.legacyPreviousReplicas !== undefined && w.legacyScaledAt) out.push({ type: 'scale', deployment: w.legacyDeployment, replicas: w.legacyPreviousReplicas });
  }
  return out;
}
