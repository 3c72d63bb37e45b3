// TrafficShift reconciler: observe → plan (pure, ./plan.ts) → apply → status.
import { createHash } from 'node:crypto';
import { parseDuration } from '../../api/duration.ts';
import { TrafficShiftSpecSchema, type TrafficShift, type TrafficShiftStatus, type RollbackTrigger } from '../../api/trafficshift.ts';
import { EventReason, Reason } from '../../api/conditions.ts';
import type { MetricResult } from '../../analysis/evaluate.ts';
import { observeAnalysis } from '../shared/analysis.ts';
import { RouteProblemError, type TrafficRef } from '../../traffic/router.ts';
import { DEPLOYMENT, MIGRATION_SLICE, objectKey, OnceEvents, TRAFFIC_SHIFT, type EventInput, type KubeObject } from '../../kube/index.ts';
import type { Store } from '../shared/store.ts';
import { KindController, invalidSpec, stalledStatus, type ControllerDeps } from '../shared/kind.ts';
import { matchAlert, recordRollbackRequest, rollbackRequestChanged, RollbackRequests } from '../shared/rollbacks.ts';
import { pendingRollbackRequest } from '../shared/planner.ts';
import type { RollbackRequest as RecordedRollback } from '../../api/common.ts';
import type { Controller, ReconcileContext, ReconcileResult } from '../../runtime/controller.ts';
import { analysisDue, analysisSpread, deploymentsToObserve, stepEndAt, isTerminal, planTrafficShift, type Effect, type ShiftObservation } from './plan.ts';
import { memoOf, statusPersistence, withMemo, type AnalysisMemo } from './persistence.ts';
import { ShiftMetrics } from './metrics.ts';
import { phaseChangeOf, type PhaseChange } from '../../notify/change.ts';

/** A StepStarted Event under its deterministic name. */
type StepEventInput = EventInput & { name: string };

export type TrafficShiftObject = KubeObject & Omit<TrafficShift, 'metadata'> & { metadata: KubeObject['metadata'] };

export interface TrafficShiftControllerDeps extends ControllerDeps<TrafficShiftObject> {
  metrics: ShiftMetrics;
  /** Told of every phase change after its status write; must return at once (notify/notifier.ts). */
  notifier?: { phaseChanged(change: PhaseChange): void };
  /** The namespaces the operator watches; empty or absent: all (where `start` lists StepStarted Events). */
  namespaces?: readonly string[];
}

export const TRAFFICSHIFT_CONTROLLER = 'trafficshift';

export class TrafficShiftController {
  readonly controller: Controller;
  readonly #d: TrafficShiftControllerDeps;
  readonly #kind: KindController<TrafficShiftObject>;
  /** The StepStarted Event of each shift's current step, exactly once (see #ensureStepEvent). */
  readonly #stepEvents: OnceEvents;
  /** `namespace/route` → keys of the TrafficShifts that name the route (see watchRoutes). */
  readonly #routeUsers = new Map<string, Set<string>>();
  /** Analysis bookkeeping not yet in status (see AnalysisMemo in ./persistence.ts), per key. */
  readonly #memo = new Map<string, AnalysisMemo>();
  /** Shifts this process has analysed, and when the one after a catch-up may run (analysisSpread). */
  readonly #analysedHere = new Set<string>();
  readonly #analysisNotBefore = new Map<string, number>();
  /** Rollbacks requested out of band (alert hooks), consumed by the next reconcile of the key. */
  readonly #rollbacks: RollbackRequests;
  /** `key/generation` of the shifts whose split workers this process has checked against their status. */
  readonly #verified = new Set<string>();

  constructor(deps: TrafficShiftControllerDeps) {
    this.#d = deps;
    this.#kind = new KindController({
      name: TRAFFICSHIFT_CONTROLLER, type: TRAFFIC_SHIFT, deps, reconcile: (key, ctx) => this.reconcile(key, ctx),
      forget: (key) => { this.#memo.delete(key); this.#analysedHere.delete(key); this.#analysisNotBefore.delete(key); this.#stepEvents.forget(key); for (const v of this.#verified) if (v.startsWith(`${key}/`)) this.#verified.delete(v); },
    });
    this.controller = this.#kind.controller;
    this.#stepEvents = new OnceEvents(deps.events, { active: () => !this.controller.stopped, logger: deps.logger });
    // Ahead of the routine reconciles (analysis ticks of every other shift) already queued.
    this.#rollbacks = new RollbackRequests((key) => this.controller.enqueueUrgent(key));
    // A rollback recorded on the object (by a hook of another replica, or by the owner slice) is
    // as urgent as one handed over in memory.
    deps.informer.addHandler({ onUpdate: (a, b) => { if (rollbackRequestChanged(a, b)) this.controller.enqueueUrgent(objectKey(b)); } });
  }

  /**
   * Re-asserts the weights at once when someone else rewrites a route (DESIGN §2, GitOps): the
   * Gateway API `spec.rules` list is atomic, so a GitOps tool that applies the route from Git with
   * force replaces the weights with Git's. On every spec change of a route (a new generation) the
   * live TrafficShifts that use it are reconciled, and the planner puts back the weight their
   * status names — within one reconcile, not at the next step or analysis tick.
   */
  watchRoutes(routes: Pick<Store<KubeObject>, 'addHandler'>): void {
    const enqueueUsers = (route: KubeObject) => {
      for (const key of this.#routeUsers.get(objectKey(route)) ?? []) {
        const ts = this.current(key);
        if (ts && !isTerminal(ts.status?.phase)) this.controller.enqueue(key);
      }
    };
    // route → the shifts that name it, kept by the shift informer (a step of 1,000 shifts changes
    // 1,000 routes: a scan of every shift per route event would be quadratic).
    const routeOf = (ts: TrafficShiftObject) => {
      const name = ts.spec?.route?.httpRoute?.name;
      return name ? objectKey({ metadata: { namespace: ts.metadata.namespace, name } }) : undefined;
    };
    const index = (ts: TrafficShiftObject, add: boolean) => {
      const r = routeOf(ts);
      if (!r) return;
      const users = this.#routeUsers.get(r) ?? new Set<string>();
      if (add) users.add(objectKey(ts)); else users.delete(objectKey(ts));
      if (users.size > 0) this.#routeUsers.set(r, users); else this.#routeUsers.delete(r);
    };
    this.#d.informer.addHandler({
      onAdd: (ts) => index(ts, true),
      onUpdate: (a, b) => { if (routeOf(a) !== routeOf(b)) { index(a, false); index(b, true); } },
      onDelete: (ts) => index(ts, false),
    });
    routes.addHandler({
      onAdd: enqueueUsers,
      onUpdate: (a, b) => { if (a.metadata.generation !== b.metadata.generation) enqueueUsers(b); },
      onDelete: enqueueUsers,
    });
  }

  /**
   * Starts reconciling, and at the same moment reads which StepStarted Events exist (one paginated
   * LIST, kube/events.ts OnceEvents.prime): the recovery after a start (#ensureStepEvent) then writes
   * only the missing ones instead of a paced POST per live shift. Reconciles do not wait for it;
   * the recovery writes do (bounded), and without it (RBAC, error) the recovery asks for every live
   * shift as before. Called once the informer has synced (main.ts), so each Event found is matched
   * against its shift's current step: only those are kept.
   */
  start(): void {
    const namespaces = this.#d.namespaces?.length ? this.#d.namespaces : [undefined];
    void this.#stepEvents.prime(this.#d.client, {
      namespaces,
      // Both are field selectors of events.k8s.io/v1 Events (the core Event's reason and
      // reportingComponent): the API server filters, only this operator's StepStarted come back.
      fieldSelector: `reason=${EventReason.StepStarted},reportingController=${this.#d.events.reportingController}`,
      keyOf: (ev) => {
        if (ev.regarding.kind !== TRAFFIC_SHIFT.kind || !ev.regarding.name) return undefined;
        const key = objectKey({ metadata: { namespace: ev.namespace, name: ev.regarding.name } });
        const obj = this.current(key);
        const st = obj?.status ?? {};
        if (!obj || (st.phase !== 'Progressing' && st.phase !== 'Paused')) return undefined;
        return stepEventName(obj, st) === ev.name ? key : undefined;
      },
    });
    this.controller.start();
  }
  async stop(): Promise<void> { await this.controller.stop(); }

  /** TrafficShifts whose spec.rollback.alerts match these labels and that can still roll back. */
  matchAlert(labels: Record<string, string>): string[] {
    return matchAlert(this.#d.informer.list(), labels, (ts) => (isTerminal(ts.status?.phase) ? undefined : ts.spec?.rollback?.alerts));
  }

  /**
   * Rolls `key` back as soon as its reconcile can run (never concurrently with another reconcile of
   * the same key). Resolves true when the route is back at stable, false when there was nothing to
   * roll back.
   */
  requestRollback(key: string, trigger: RollbackTrigger, reason: string, alert?: string, id?: string): Promise<boolean> {
    return this.#rollbacks.request(key, trigger, reason, alert, id);
  }

  /** Records a rollback request on the TrafficShift (durable: survives a crash or a failover). */
  recordRollback(key: string, request: RecordedRollback): Promise<void> {
    return recordRollbackRequest(this.#d.client, TRAFFIC_SHIFT, key, request);
  }

  has(key: string): boolean { return this.current(key) !== undefined; }

  current(key: string): TrafficShiftObject | undefined {
    return this.#kind.current(key);
  }

  async reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult | void> {
    const d = this.#d;
    const { request, settle } = this.#rollbacks.take(key);
    const obj = this.current(key);
    if (!obj || obj.metadata.deletionTimestamp) { settle(false); return; }
    const now = d.clock.now();
    const generation = obj.metadata.generation ?? 1;
    const status: TrafficShiftStatus = withMemo(obj.status ?? {}, this.#memo.get(key));

    const parsed = TrafficShiftSpecSchema.safeParse(obj.spec);
    if (!parsed.success) {
      // Admission should have refused it; a CRD installed without its schema or an older version may not.
      await this.#writeStatus(obj, stalledStatus(status, generation, now, invalidSpec(parsed.error.issues[0]!)), ctx);
      settle(false);
      return;
    }
    const spec = parsed.data;
    const namespace = obj.metadata.namespace ?? 'default';
    // A shift that moves only work (split workers) has no route: the router is not asked.
    const ref: TrafficRef | undefined = spec.route && spec.stable && spec.canary ? {
      namespace,
      route: spec.route,
      stable: { service: spec.stable.service, port: spec.stable.port, field: 'spec.stable' },
      canary: { service: spec.canary.service, port: spec.canary.port, field: 'spec.canary' },
    } : undefined;

    // ---- observe ------------------------------------------------------------------------------
    const o: ShiftObservation = { now, generation, spec, status, annotations: obj.metadata.annotations ?? {}, problems: [], deployments: {} };
    const slice = obj.metadata.ownerReferences?.find((r) => r.controller && r.kind === MIGRATION_SLICE.kind && r.apiVersion.startsWith(`${MIGRATION_SLICE.group}/`));
    if (slice) o.ownerSlice = slice.name;
    if (request && !isTerminal(status.phase)) o.rollbackRequest = request;
    // Split workers are checked against the status once per process (a restart mid-step).
    const verifyKey = `${key}/${generation}`;
    if ((spec.workers ?? []).some((w) => w.split) && !this.#verified.has(verifyKey)) o.verifyWorkers = true;
    // A rollback to do now (in hand, or recorded on the object): nothing else is observed first (route first, fast).
    const recorded = pendingRollbackRequest(o.annotations, status);
    const rollingBack = Boolean(o.rollbackRequest) || (recorded !== undefined && recorded.invalid === undefined && !isTerminal(status.phase));
    const freshStart = status.observedGeneration !== generation || status.phase === undefined || status.phase === 'Pending';
    const live = !isTerminal(status.phase) || freshStart || hasPending(o.annotations, status);
    if (live && !rollingBack) {
      if (freshStart && ref) {
        const problem = await d.router.verify(ref);
        if (problem) o.problems.push({ ...problem, reason: problem.field.startsWith('spec.route') ? Reason.RouteNotFound : Reason.ServiceNotFound });
      }
      if (o.problems.length === 0 && ref) {
        try {
          o.routeCanaryWeight = (await d.router.getWeights(ref)).canary;
        } catch (err) {
          if (!(err instanceof RouteProblemError)) throw err;
          o.problems.push({ ...err.problem, reason: Reason.RouteNotFound });
        }
      }
      await this.#observeDeployments(namespace, deploymentsToObserve(o), o);
      if (freshStart && o.problems.length === 0 && spec.analysis) {
        // A query Prometheus rejects (bad PromQL, unknown template variable) is a spec problem:
        // found before the first weight change, so a Stalled shift has changed nothing (DESIGN §2).
        // Results are discarded: no traffic has reached the canary yet.
        await this.#analyse(namespace, spec, obj, o, ctx.signal);
      }
      const notBefore = this.#analysisNotBefore.get(key);
      if (notBefore !== undefined) o.analysisNotBefore = notBefore;
      if (o.problems.length === 0 && analysisDue(spec, status, now, notBefore)) {
        // The first analysis of this process for a shift an earlier process had analysed: a catch-up
        // after a start, run now; the next one waits up to an interval more (analysisSpread).
        const catchUp = !this.#analysedHere.has(key) && status.lastAnalysisAt !== undefined;
        o.analysis = await this.#analyse(namespace, spec, obj, o, ctx.signal);
        this.#analysedHere.add(key);
        if (catchUp && spec.analysis) {
          // Never past the end of the current step: a step does not end without a passing run in it.
          const interval = parseDuration(spec.analysis.interval);
          const stepEnd = stepEndAt(spec, status) ?? Infinity;
          this.#analysisNotBefore.set(key, Math.min(now + interval + analysisSpread(obj.metadata.uid ?? key, interval), Math.max(now + interval, stepEnd)));
          o.analysisNotBefore = this.#analysisNotBefore.get(key);
        } else {
          this.#analysisNotBefore.delete(key);
          o.analysisNotBefore = undefined;
        }
      }
    } else if (!rollingBack) {
      // A Completed shift's legacy workers, or a rollback waiting for the legacy consumers.
      await this.#observeDeployments(namespace, deploymentsToObserve(o), o);
    }

    // The current step's Event, if an earlier process may have died before writing it; before the
    // plan, which may move on to the next step at once.
    const recovering = live && !rollingBack ? this.#ensureStepEvent(obj, obj.status ?? {}, spec.steps.length, ctx) : undefined;

    // ---- plan -----------------------------------------------------------------------------------
    const plan = planTrafficShift(o);
    // The plan moves past the step whose Event is being recovered (a restart after the pause ran
    // out): that Event lands first. Paced in the background, a crash right after the status write
    // below would lose it for good, since the next start only recovers the step it then finds.
    if (recovering && (plan.status.currentStep !== obj.status?.currentStep || plan.status.phase !== obj.status?.phase)) {
      await this.#stepEvents.writeNow(objectKey(obj), recovering);
    }
    ctx.logger.debug({ phase: plan.status.phase, step: plan.status.currentStep, effects: plan.effects.map((e) => e.type) }, 'planned');

    // ---- apply, in the plan's order ----------------------------------------------------------------
    let written = obj;
    for (const e of plan.effects) {
      written = await this.#apply(e, written, namespace, ref, plan.status, ctx);
    }
    if (o.verifyWorkers && Object.keys(o.deployments).length > 0) this.#verified.add(verifyKey);
    d.metrics.observe(written.metadata.namespace ?? '', written.metadata.name ?? '', plan.status, o.analysis, spec);
    if (plan.status.phase === 'RolledBack' && status.phase !== 'RolledBack') d.metrics.rollback(namespace, obj.metadata.name ?? '', plan.status.rollback?.trigger ?? 'Metric');
    if (plan.status.phase !== status.phase && plan.status.phase !== undefined && spec.notify && d.notifier) {
      d.notifier.phaseChanged(phaseChangeOf('TrafficShift', written.metadata, status.phase, plan.status, now, spec.notify, { weight: plan.status.currentWeight, step: plan.status.currentStep, steps: spec.steps.length }));
    }
    settle(Boolean(o.rollbackRequest) && plan.status.phase === 'RolledBack');
    return plan.requeueAfterMs !== undefined ? { requeueAfter: plan.requeueAfterMs } : undefined;
  }

  async #observeDeployments(namespace: string, wanted: ReturnType<typeof deploymentsToObserve>, o: ShiftObservation): Promise<void> {
    for (const { name, field, worker } of wanted) {
      const dep = await this.#d.client.get<KubeObject & { spec?: { replicas?: number }; status?: { readyReplicas?: number } }>(DEPLOYMENT, namespace, name);
      o.deployments[name] = { name, exists: Boolean(dep), replicas: dep?.spec?.replicas ?? 0, readyReplicas: dep?.status?.readyReplicas ?? 0 };
      if (!dep && !isTerminal(o.status.phase)) {
        o.problems.push({ field: `spec.workers[${worker}].${field}`, message: `Deployment ${namespace}/${name} not found`, reason: Reason.DeploymentNotFound });
      }
    }
  }

  #analyse(namespace: string, spec: ShiftObservation['spec'], obj: TrafficShiftObject, o: ShiftObservation, signal: AbortSignal): Promise<MetricResult[]> {
    const analysis = spec.analysis!;
    const split = (spec.workers ?? []).find((w) => w.split);
    const vars = {
      namespace, name: obj.metadata.name ?? '',
      ...(spec.stable && spec.canary ? { 'stable.service': spec.stable.service, 'canary.service': spec.canary.service } : {}),
      // The first split worker's Deployments, for queue metrics labelled by Deployment.
      ...(split ? { 'canary.deployment': split.deployment, 'stable.deployment': split.legacy!.deployment } : {}),
      interval: analysis.interval,
    };
    return observeAnalysis({ provider: this.#d.prometheus, web: this.#d.web, namespace, defaultAddress: this.#d.defaultPrometheusUrl, metrics: analysis.metrics, vars, scoreThresholds: analysis.scoreThresholds, signal }, o.problems);
  }

  async #apply(e: Effect, obj: TrafficShiftObject, namespace: string, ref: TrafficRef | undefined, next: TrafficShiftStatus, ctx: ReconcileContext): Promise<TrafficShiftObject> {
    const d = this.#d;
    switch (e.type) {
      case 'setWeights':
        if (!ref) return obj; // the planner asks only when spec.route is set
        await d.router.setWeights(ref, { stable: 100 - e.canary, canary: e.canary });
        ctx.logger.info({ canary: e.canary }, 'route weights set');
        return obj;
      case 'scale':
        await d.client.mergePatch(DEPLOYMENT, namespace, e.deployment, { spec: { replicas: e.replicas } }, { subresource: 'scale' });
        ctx.logger.info({ deployment: e.deployment, replicas: e.replicas }, 'scaled');
        return obj;
      case 'event': {
        const name = e.reason === EventReason.StepStarted ? stepEventName(obj, next) : undefined;
        if (name) {
          this.#writeStepEvent(obj, name, e.note, false);
          ctx.logger.info({ reason: e.reason, note: e.note }, 'event');
        } else {
          this.#kind.event(obj, e, ctx.logger);
        }
        return obj;
      }
      case 'writeStatus':
        return this.#writeStatus(obj, next, ctx);
    }
  }

  /**
   * The StepStarted Event of the current step, when this process has not seen it written: Events
   * follow the status write, so a crash between the two loses one. The first reconcile of a live
   * shift after a start writes it under its deterministic name; if the first write had landed the
   * API answers AlreadyExists and nothing changes, so every step has exactly one StepStarted.
   * In the background and paced (kube/events.ts OnceEvents): a reconcile (a rollback above all)
   * must not wait for it, nor the API server take 1,000 writes at the moment it is busiest. The
   * Events that exist were read at start (`start`, OnceEvents.prime): `known` is true for them, so
   * only the missing ones are written, a short queue.
   */
  #ensureStepEvent(obj: TrafficShiftObject, st: TrafficShiftStatus, steps: number, ctx: ReconcileContext): StepEventInput | undefined {
    if (st.phase !== 'Progressing' && st.phase !== 'Paused') return undefined;
    const name = stepEventName(obj, st);
    if (!name || this.#stepEvents.known(objectKey(obj), name)) return undefined;
    const i = st.currentStep ?? 0;
    const note = `step ${i + 1}/${steps}: canary weight ${st.currentWeight ?? 0}% (recorded after an operator restart)`;
    const input = this.#writeStepEvent(obj, name, note, true);
    ctx.logger.debug({ step: i, name }, 'step event re-ensured after a start');
    return input;
  }

  /** Writes a StepStarted Event under its deterministic name, once per step of a run (OnceEvents). */
  #writeStepEvent(obj: TrafficShiftObject, name: string, note: string, paced: boolean): StepEventInput {
    const input: StepEventInput = { regarding: obj, type: 'Normal', reason: EventReason.StepStarted, action: EventReason.StepStarted, note, name };
    this.#stepEvents.write(objectKey(obj), input, paced);
    return input;
  }

  async #writeStatus(obj: TrafficShiftObject, planned: TrafficShiftStatus, ctx: ReconcileContext): Promise<TrafficShiftObject> {
    const key = objectKey(obj);
    // A failure of an earlier reconcile stays shown until this one succeeds (shared/kind.ts).
    const next = this.#kind.planned(obj, planned);
    const how = statusPersistence(obj.status ?? {}, next);
    if (how === 'unchanged') return obj;
    if (how === 'memo') {
      // Only the analysis bookkeeping moved (an analysis run with the same verdicts): keep it in
      // memory, write nothing (idle API traffic, DESIGN §6).
      const memo = memoOf(next);
      if (memo) this.#memo.set(key, memo);
      return obj;
    }
    const updated = await this.#kind.applyStatus(obj, next, ctx.logger);
    this.#memo.delete(key);
    return updated;
  }
}

function hasPending(annotations: Record<string, string>, status: TrafficShiftStatus): boolean {
  const retry = annotations['cutover.dev/retry'];
  return retry !== undefined && status.acknowledgedActions?.find((a) => a.action === 'Retry')?.id !== retry;
}

/**
 * `<shift>.step<N>.<hash>`: one name per step of one run (a run starts at `status.startedAt`; a
 * retry or a new generation from Pending starts a new one), the same in every operator process.
 */
export function stepEventName(obj: KubeObject, st: TrafficShiftStatus): string | undefined {
  if (st.currentStep === undefined || !st.startedAt) return undefined;
  const run = createHash('sha256').update(`${obj.metadata.uid ?? ''}/${st.startedAt}`).digest('hex').slice(0, 10);
  return `${(obj.metadata.name ?? 'shift').slice(0, 200)}.step${st.currentStep + 1}.${run}`;
}
