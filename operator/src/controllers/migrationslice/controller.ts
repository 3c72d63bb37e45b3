// MigrationSlice reconciler: observe (the slice, its children, triggers, flag) → plan (pure,
// ./plan.ts) → apply → status. Children are a ShadowRun and a TrafficShift carrying an
// ownerReference to the slice; their controllers do the traffic work.
import { MigrationSliceSpecSchema, type MigrationSlice, type MigrationSliceSpec, type MigrationSliceStatus } from '../../api/migrationslice.ts';
import type { RollbackStatus, RollbackTrigger, WorkerStatus } from '../../api/trafficshift.ts';
import { ROLLBACK_REQUEST_ANNOTATION, type RollbackRequest as RecordedRollback } from '../../api/common.ts';
import { ConditionType, Reason } from '../../api/conditions.ts';
import type { TemplateVars } from '../../analysis/template.ts';
import { RouteProblemError, type TrafficRef } from '../../traffic/router.ts';
import {
  DEPLOYMENT, MIGRATION_SLICE, SHADOW_RUN, TRAFFIC_SHIFT,
  controllerReference, isAlreadyExists, objectKey,
  type KubeObject,
} from '../../kube/index.ts';
import type { Store } from '../shared/store.ts';
import { KindController, invalidSpec, stalledStatus, type ControllerDeps } from '../shared/kind.ts';
import { matchAlert, recordRollbackRequest, rollbackRequestChanged, RollbackRequests } from '../shared/rollbacks.ts';
import type { Controller, ReconcileContext, ReconcileResult } from '../../runtime/controller.ts';
import type { ShadowRunObject } from '../shadowrun/controller.ts';
import type { TrafficShiftObject } from '../trafficshift/controller.ts';
import {
  CLEANUP_FINALIZER, childName, isTerminal, planMigrationSlice, triggersDue,
  type ChildKind, type Effect, type ObservedShadowRun, type ObservedTrafficShift, type SliceObservation,
} from './plan.ts';
import type { TriggerSample } from './triggers.ts';
import { SliceMetrics } from './metrics.ts';
import { phaseChangeOf, type PhaseChange } from '../../notify/change.ts';
import { kubeSecretReader } from '../../notify/notifier.ts';
import { flagProviders, flagIdentity, FlagWriteError, type FlagProviders } from '../../flags/index.ts';
import type { FeatureFlag } from '../../api/migrationslice.ts';

export type MigrationSliceObject = KubeObject & Omit<MigrationSlice, 'metadata'> & { metadata: KubeObject['metadata'] };

export interface MigrationSliceControllerDeps extends ControllerDeps<MigrationSliceObject> {
  shadowRuns: Store<ShadowRunObject>;
  trafficShifts: Store<TrafficShiftObject>;
  metrics: SliceMetrics;
  /**
   * Told of every phase change of a slice with spec.notify, after its status write; must return at
   * once (notify/notifier.ts). The slice notifies for itself: its TrafficShift is created without
   * notify, so one slice run is one GitHub Deployment.
   */
  notifier?: { phaseChanged(change: PhaseChange): void };
  /** The feature flag providers (flags/); default: ConfigMap, OpenFeature and HTTP on this client. */
  flags?: FlagProviders;
}

export const MIGRATIONSLICE_CONTROLLER = 'migrationslice';
const SLICE_LABEL = 'cutover.dev/migration-slice';

export class MigrationSliceController {
  readonly controller: Controller;
  readonly #d: MigrationSliceControllerDeps;
  readonly #kind: KindController<MigrationSliceObject>;
  readonly #rollbacks: RollbackRequests;
  readonly #flags: FlagProviders;

  constructor(deps: MigrationSliceControllerDeps) {
    this.#d = deps;
    this.#flags = deps.flags ?? flagProviders(deps.client, kubeSecretReader(deps.client));
    this.#kind = new KindController({ name: MIGRATIONSLICE_CONTROLLER, type: MIGRATION_SLICE, deps, reconcile: (key, ctx) => this.reconcile(key, ctx) });
    this.controller = this.#kind.controller;
    this.#rollbacks = new RollbackRequests((key) => this.controller.enqueueUrgent(key));
    // A child's change wakes its slice up.
    const owner = (o: KubeObject) => {
      const ref = o.metadata.ownerReferences?.find((r) => r.controller && r.kind === MIGRATION_SLICE.kind);
      if (ref) this.controller.enqueue(objectKey({ metadata: { namespace: o.metadata.namespace, name: ref.name } }));
    };
    for (const store of [deps.shadowRuns, deps.trafficShifts] as Array<Store<KubeObject>>) {
      store.addHandler({ onAdd: owner, onUpdate: (_a, b) => owner(b), onDelete: owner });
    }
    // A rollback recorded on the slice (by a hook of another replica) is as urgent as one in memory.
    deps.informer.addHandler({ onUpdate: (a, b) => { if (rollbackRequestChanged(a, b)) this.controller.enqueueUrgent(objectKey(b)); } });
  }

  start(): void { this.controller.start(); }
  async stop(): Promise<void> { await this.controller.stop(); }

  // --- RollbackTarget (alert hooks) -----------------------------------------------------------

  /** Live slices whose spec.shift.rollback.alerts match these labels. */
  matchAlert(labels: Record<string, string>): string[] {
    return matchAlert(this.#d.informer.list(), labels, (s) => (isTerminal(s.status?.phase) || s.metadata.deletionTimestamp ? undefined : s.spec?.shift?.rollback?.alerts));
  }

  /** Rolls the slice back (route by its TrafficShift, then flag, then workers); resolves true when done. */
  requestRollback(key: string, trigger: RollbackTrigger, reason: string, alert?: string, id?: string): Promise<boolean> {
    return this.#rollbacks.request(key, trigger, reason, alert, id);
  }

  /** Records a rollback request on the MigrationSlice (durable: survives a crash or a failover). */
  recordRollback(key: string, request: RecordedRollback): Promise<void> {
    return recordRollbackRequest(this.#d.client, MIGRATION_SLICE, key, request);
  }

  has(key: string): boolean { return this.current(key) !== undefined; }

  current(key: string): MigrationSliceObject | undefined {
    return this.#kind.current(key);
  }

  // --- reconcile --------------------------------------------------------------------------------

  async reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult | void> {
    const d = this.#d;
    const { request, settle } = this.#rollbacks.take(key);
    const obj = this.current(key);
    if (!obj) { settle(false); return; }
    const now = d.clock.now();
    const generation = obj.metadata.generation ?? 1;
    const status: MigrationSliceStatus = obj.status ?? {};
    const deleting = Boolean(obj.metadata.deletionTimestamp);
    const hasFinalizer = (obj.metadata.finalizers ?? []).includes(CLEANUP_FINALIZER);
    if (deleting && !hasFinalizer) { settle(false); return; }
    const namespace = obj.metadata.namespace ?? 'default';
    const name = obj.metadata.name ?? '';

    const parsed = MigrationSliceSpecSchema.safeParse(obj.spec);
    if (!parsed.success) {
      settle(false);
      if (deleting) { await this.#kind.patchFinalizer(obj, CLEANUP_FINALIZER, false); return; }
      await this.#kind.writeStatus(obj, stalledStatus(status, generation, now, invalidSpec(parsed.error.issues[0]!)), ctx.logger);
      return;
    }
    const spec = parsed.data;
    // A slice that moves only work (split workers) has no route: the router is not asked.
    const ref = sliceRef(namespace, spec);

    // ---- observe ------------------------------------------------------------------------------
    const o: SliceObservation = { now, generation, name, spec, status, annotations: obj.metadata.annotations ?? {}, deleting, hasFinalizer, problems: [] };
    if (request && !isTerminal(status.phase) && !deleting) o.rollbackRequest = request;
    o.shadowRun = await this.#observeChild(obj, 'ShadowRun', status.children?.shadowRun !== undefined) as ObservedShadowRun | undefined;
    const needsRecords = (spec.workers?.length ?? 0) > 0 && !isTerminal(status.phase);
    o.trafficShift = await this.#observeChild(obj, 'TrafficShift', status.children?.trafficShift !== undefined, needsRecords) as ObservedTrafficShift | undefined;
    // The flag is read until this run has set it: its state then is what a rollback restores.
    // (A terminal slice too: a retry starts a new run in this reconcile; a completed one keeps its flag.)
    const newRun = status.observedGeneration !== generation;
    if (spec.featureFlag && !deleting && !o.rollbackRequest && (newRun || (!status.featureFlag?.enabled && status.phase !== 'Completed'))) {
      const read = await this.#flags.for(spec.featureFlag).read(namespace, spec.featureFlag, ctx.signal);
      if (read.problem) o.problems.push(read.problem);
      else if (read.previous !== undefined) o.flagValue = read.previous;
      o.flagConflict = this.#flagConflict(obj, spec.featureFlag);
    }
    const fresh = status.observedGeneration !== generation || status.phase === undefined || status.phase === 'Pending';
    if (fresh && !deleting && !o.rollbackRequest && (status.phase === undefined || !isTerminal(status.phase) || status.observedGeneration !== generation)) {
      const problem = ref ? await d.router.verify(ref) : undefined;
      if (problem) o.problems.push({ ...problem, reason: problem.field.startsWith('spec.route') ? Reason.RouteNotFound : Reason.ServiceNotFound });
    }
    if (o.problems.length === 0 && !deleting && !o.rollbackRequest && triggersDue(spec, status, generation)) {
      o.triggers = await this.#measureTriggers(namespace, ref, spec, name, o, ctx.signal);
    }

    // ---- plan -----------------------------------------------------------------------------------
    const plan = planMigrationSlice(o);
    ctx.logger.debug({ phase: plan.status.phase, effects: plan.effects.map((e) => e.type) }, 'planned');

    // ---- apply --------------------------------------------------------------------------------------
    let written = obj;
    for (const e of plan.effects) {
      try {
        written = await this.#apply(e, written, namespace, ref, spec, plan.status, ctx);
      } catch (err) {
        if (e.type !== 'setFlag' || !(err instanceof FlagWriteError)) throw err;
        // The flag cannot be set: nothing after it is applied (no child is created before the flag
        // is set); the slice is planned again knowing it, and that plan's status and Events written.
        ctx.logger.warn({ field: err.field, value: e.value, err: err.message }, 'feature flag not set');
        settle(false);
        const again = planMigrationSlice({ ...o, status: written.status ?? status, flagError: { value: e.value, field: err.field, reason: err.reason, message: err.message, answer: err.answer } });
        for (const f of again.effects) if (f.type === 'writeStatus' || f.type === 'event') written = await this.#apply(f, written, namespace, ref, spec, again.status, ctx);
        if (!deleting) d.metrics.observe(namespace, name, again.status);
        return again.requeueAfterMs !== undefined ? { requeueAfter: again.requeueAfterMs } : undefined;
      }
    }
    // A request in hand is answered when the slice's rollback is done (its status written); while
    // the child rolls back, or after a failed effect (thrown above), it waits for a later reconcile.
    if (!plan.waitingForChild) settle(Boolean(o.rollbackRequest) && plan.status.phase === 'RolledBack');
    if (!deleting) {
      d.metrics.observe(namespace, name, plan.status);
      if (plan.status.phase === 'RolledBack' && status.phase !== 'RolledBack') d.metrics.rollback(namespace, name, plan.status.rollback?.trigger ?? o.rollbackRequest?.trigger ?? 'Metric');
      if (plan.status.phase !== status.phase && plan.status.phase !== undefined && spec.notify && d.notifier) {
        const ts = plan.status.children?.trafficShift;
        d.notifier.phaseChanged(phaseChangeOf('MigrationSlice', written.metadata, status.phase, plan.status, now, spec.notify,
          ts ? { weight: plan.status.currentWeight ?? ts.currentWeight, step: ts.currentStep, steps: spec.shift.steps.length } : {}));
      }
    }
    return plan.requeueAfterMs !== undefined ? { requeueAfter: plan.requeueAfterMs } : undefined;
  }

  async #observeChild(slice: MigrationSliceObject, kind: ChildKind, known: boolean, needsRecords = false): Promise<ObservedShadowRun | ObservedTrafficShift | undefined> {
    const ns = slice.metadata.namespace ?? '';
    const name = childName(slice.metadata.name ?? '', kind);
    const type = kind === 'ShadowRun' ? SHADOW_RUN : TRAFFIC_SHIFT;
    const store = (kind === 'ShadowRun' ? this.#d.shadowRuns : this.#d.trafficShifts) as Store<KubeObject>;
    // Just created, the informer may not have it yet: the status names it, so ask the API server.
    let child = store.get(ns, name) ?? (known ? await this.#d.client.get(type, ns, name) : undefined);
    // A rollback restores the workers from the shift's records, written before it scales anything:
    // while the cached copy has none yet (a cache a moment behind), the API server is asked.
    if (child && needsRecords && !(child.status as { workers?: unknown[] } | undefined)?.workers?.length) child = await this.#d.client.get(type, ns, name) ?? child;
    if (!child) return undefined;
    const st = (child.status ?? {}) as {
      phase?: string; message?: string; verdict?: string; currentStep?: number; currentWeight?: number;
      rollback?: Partial<RollbackStatus>;
      workers?: WorkerStatus[];
      conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
    };
    const stalledCond = st.conditions?.find((c) => c.type === ConditionType.Stalled && c.status === 'True');
    const base = {
      name,
      ownedByUs: Boolean(child.metadata.ownerReferences?.some((r) => r.controller && r.uid === slice.metadata.uid)),
      deleting: Boolean(child.metadata.deletionTimestamp),
      ...(stalledCond ? { stalled: { reason: stalledCond.reason, message: stalledCond.message } } : {}),
      ...(st.message ? { message: st.message } : {}),
    };
    if (kind === 'ShadowRun') return { ...base, phase: st.phase as ObservedShadowRun['phase'], verdict: st.verdict as ObservedShadowRun['verdict'] };
    return {
      ...base, phase: st.phase as ObservedTrafficShift['phase'], currentStep: st.currentStep, currentWeight: st.currentWeight,
      ...(st.rollback?.reason ? { rollbackReason: `${st.rollback.trigger ?? 'Metric'}: ${st.rollback.reason}` } : {}),
      ...(st.rollback?.trigger ? {
        rollback: {
          trigger: st.rollback.trigger,
          ...(st.rollback.fromWeight !== undefined ? { fromWeight: st.rollback.fromWeight } : {}),
          ...(st.rollback.routeRestoredAt ? { routeRestoredAt: st.rollback.routeRestoredAt } : {}),
          ...(st.rollback.workersRestoredAt ? { workersRestoredAt: st.rollback.workersRestoredAt } : {}),
          ...(st.rollback.completedAt ? { completedAt: st.rollback.completedAt } : {}),
        },
      } : {}),
      ...(st.workers ? { workers: st.workers } : {}),
      ...(childRequestId(child) ? { rollbackRequestId: childRequestId(child) } : {}),
    };
  }

  /**
   * Another MigrationSlice that drives the same flag (flags/provider.ts flagIdentity): it has set
   * it and not yet restored it, or it is about to (its status keeps the flag's previous value) and
   * is older than this one. A completed slice leaves the flag to whoever comes next.
   */
  #flagConflict(me: MigrationSliceObject, flag: FeatureFlag): string | undefined {
    const mine = flagIdentity(me.metadata.namespace ?? '', flag);
    const myFlag = me.status?.featureFlag;
    if (myFlag?.enabled && me.status?.observedGeneration === me.metadata.generation) return undefined;
    for (const other of this.#d.informer.list()) {
      if (other.metadata.uid === me.metadata.uid) continue;
      const theirs = other.spec?.featureFlag as FeatureFlag | undefined;
      if (!theirs || flagIdentity(other.metadata.namespace ?? '', theirs) !== mine) continue;
      const st = other.status;
      if (!st?.featureFlag || st.phase === 'Completed') continue;
      if (!st.featureFlag.enabled && isTerminal(st.phase)) continue;
      if (!st.featureFlag.enabled && myFlag && !olderThan(other, me)) continue;
      return other.metadata.namespace === me.metadata.namespace ? other.metadata.name : objectKey(other);
    }
    return undefined;
  }

  async #measureTriggers(namespace: string, ref: TrafficRef | undefined, spec: MigrationSliceSpec, name: string, o: SliceObservation, signal: AbortSignal): Promise<TriggerSample[]> {
    const vars = templateVars(namespace, ref, spec, name);
    return Promise.all((spec.startWhen ?? []).map(async (t, i): Promise<TriggerSample> => {
      const sample = await this.#d.prometheus.query({ address: t.prometheus.address ?? this.#d.defaultPrometheusUrl, query: t.prometheus.query }, vars, signal);
      if (sample.kind === 'value') return { name: t.name, value: sample.value, message: `${t.name} = ${Number(sample.value.toPrecision(4))}` };
      if (sample.kind === 'rejected') o.problems.push({ field: `spec.startWhen[${i}].prometheus.query`, message: `Prometheus rejected the query: ${sample.reason}`, reason: Reason.QueryError });
      return { name: t.name, message: `${t.name}: ${sample.reason}` };
    }));
  }

  async #apply(e: Effect, obj: MigrationSliceObject, namespace: string, ref: TrafficRef | undefined, spec: MigrationSliceSpec, next: MigrationSliceStatus, ctx: ReconcileContext): Promise<MigrationSliceObject> {
    const d = this.#d;
    const ns = namespace;
    const name = obj.metadata.name ?? '';
    switch (e.type) {
      case 'addFinalizer': return this.#kind.patchFinalizer(obj, CLEANUP_FINALIZER, true);
      case 'removeFinalizer': await this.#kind.patchFinalizer(obj, CLEANUP_FINALIZER, false); return obj;
      case 'createChild': {
        const child = e.kind === 'ShadowRun' ? shadowRunFor(obj, spec) : trafficShiftFor(obj, spec);
        try {
          await d.client.create(e.kind === 'ShadowRun' ? SHADOW_RUN : TRAFFIC_SHIFT, child);
          ctx.logger.info({ child: `${e.kind}/${child.metadata.name}` }, 'child created');
        } catch (err) {
          if (!isAlreadyExists(err)) throw err; // an informer behind our own create: adopted next time
        }
        return obj;
      }
      case 'deleteChild':
        await d.client.delete(e.kind === 'ShadowRun' ? SHADOW_RUN : TRAFFIC_SHIFT, ns, childName(name, e.kind), { propagationPolicy: 'Background' });
        ctx.logger.info({ child: `${e.kind}/${childName(name, e.kind)}` }, 'child deleted');
        return obj;
      case 'abortChild':
        await d.client.mergePatch(e.kind === 'ShadowRun' ? SHADOW_RUN : TRAFFIC_SHIFT, ns, childName(name, e.kind), { metadata: { annotations: { 'cutover.dev/abort': e.id } } });
        return obj;
      case 'requestChildRollback':
        await recordRollbackRequest(d.client, TRAFFIC_SHIFT, objectKey({ metadata: { namespace: ns, name: childName(name, 'TrafficShift') } }), e.request);
        ctx.logger.info({ trigger: e.request.trigger, id: e.request.id }, 'child TrafficShift asked to roll back');
        return obj;
      case 'restoreRoute':
        if (ref) await tolerateMissingRoute(() => d.router.setWeights(ref, { stable: 100, canary: 0 }));
        ctx.logger.info({ stable: spec.legacy?.service }, 'route at stable 100%');
        return obj;
      case 'removeMirror':
        if (ref) await tolerateMissingRoute(() => d.router.setMirror(ref, null));
        return obj;
      case 'setFlag': {
        const flag = spec.featureFlag!;
        const answer = await this.#flags.for(flag).set(ns, flag, e.value, ctx.signal);
        if (answer && next.featureFlag) next.featureFlag = { ...next.featureFlag, answer };
        ctx.logger.info({ flag: flagIdentity(ns, flag), value: e.value, purpose: e.purpose, ...(answer ? { status: answer.status, attempts: answer.attempts } : {}) }, 'feature flag set');
        return obj;
      }
      case 'restoreFlag': {
        const flag = spec.featureFlag!;
        const answer = await this.#flags.for(flag).restore(ns, flag, e.previous, ctx.signal);
        if (answer && next.featureFlag) next.featureFlag = { ...next.featureFlag, answer };
        ctx.logger.info({ flag: flagIdentity(ns, flag), value: next.featureFlag?.value }, 'feature flag restored');
        return obj;
      }
      case 'writeStatusNow':
        return this.#kind.writeStatus(obj, e.status, ctx.logger);
      case 'scale':
        await d.client.mergePatch(DEPLOYMENT, ns, e.deployment, { spec: { replicas: e.replicas } }, { subresource: 'scale' });
        return obj;
      case 'event':
        this.#kind.event(obj, e, ctx.logger);
        return obj;
      case 'writeStatus':
        return this.#kind.writeStatus(obj, next, ctx.logger);
    }
  }
}

/** The slice's route as the routers see it: legacy is the stable side, target the canary side. */
export function sliceRef(namespace: string, spec: Pick<MigrationSliceSpec, 'route' | 'legacy' | 'target'>): TrafficRef | undefined {
  if (!spec.route || !spec.legacy || !spec.target) return undefined;
  return {
    namespace,
    route: spec.route,
    stable: { service: spec.legacy.service, port: spec.legacy.port, field: 'spec.legacy' },
    canary: { service: spec.target.service, port: spec.target.port, field: 'spec.target' },
  };
}

function templateVars(namespace: string, ref: TrafficRef | undefined, spec: MigrationSliceSpec, name: string): TemplateVars {
  const split = (spec.workers ?? []).find((w) => w.split);
  return {
    namespace, name,
    ...(ref ? {
      'stable.service': ref.stable.service, 'primary.service': ref.stable.service,
      'canary.service': ref.canary.service, 'shadow.service': ref.canary.service,
    } : {}),
    ...(split ? { 'canary.deployment': split.deployment, 'stable.deployment': split.legacy!.deployment } : {}),
  };
}

function childMeta(slice: MigrationSliceObject, kind: ChildKind): KubeObject['metadata'] {
  return {
    name: childName(slice.metadata.name ?? '', kind),
    namespace: slice.metadata.namespace,
    labels: { [SLICE_LABEL]: slice.metadata.name ?? '', 'app.kubernetes.io/managed-by': 'cutover' },
    ownerReferences: [controllerReference(slice, MIGRATION_SLICE)],
  };
}

/** The ShadowRun of the slice's shadow stage. */
export function shadowRunFor(slice: MigrationSliceObject, spec: MigrationSliceSpec): KubeObject {
  const s = spec.shadow!;
  return {
    apiVersion: 'cutover.dev/v1alpha1', kind: 'ShadowRun', metadata: childMeta(slice, 'ShadowRun'),
    spec: {
      route: spec.route, primary: spec.legacy, shadow: spec.target, percent: s.percent, duration: s.duration,
      ...(s.analysis ? { analysis: s.analysis } : {}), ...(s.parity ? { parity: s.parity } : {}),
    },
  };
}

/**
 * The TrafficShift of the slice's shift stage. With retireLegacyAfter the slice retires the legacy
 * workers itself (later), so the shift gets the workers without their legacy part.
 */
export function trafficShiftFor(slice: MigrationSliceObject, spec: MigrationSliceSpec): KubeObject {
  const sh = spec.shift;
  // A split worker keeps its legacy: the split moves both.
  const workers = spec.workers?.map((w) => (spec.retireLegacyAfter && !w.split ? { deployment: w.deployment, replicas: w.replicas } : w));
  return {
    apiVersion: 'cutover.dev/v1alpha1', kind: 'TrafficShift', metadata: childMeta(slice, 'TrafficShift'),
    spec: {
      ...(spec.route ? { route: spec.route } : {}), ...(spec.legacy ? { stable: spec.legacy } : {}), ...(spec.target ? { canary: spec.target } : {}), steps: sh.steps,
      ...(sh.analysis ? { analysis: sh.analysis } : {}),
      ...(workers?.length ? { workers } : {}),
      rollback: sh.rollback,
      ...(sh.progressDeadline ? { progressDeadline: sh.progressDeadline } : {}),
    },
  };
}

async function tolerateMissingRoute(f: () => Promise<void>): Promise<void> {
  try { await f(); } catch (err) { if (!(err instanceof RouteProblemError)) throw err; }
}


function olderThan(a: KubeObject, b: KubeObject): boolean {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  return ta !== tb ? ta < tb : (a.metadata.name ?? '') < (b.metadata.name ?? '');
}

/** The id of the rollback request recorded on a child, if its annotation holds one. */
function childRequestId(child: KubeObject): string | undefined {
  const raw = child.metadata.annotations?.[ROLLBACK_REQUEST_ANNOTATION];
  if (!raw) return undefined;
  try {
    const id = (JSON.parse(raw) as { id?: unknown }).id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}
