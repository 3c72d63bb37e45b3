// ShadowRun reconciler: observe → plan (pure, ./plan.ts) → apply → status.
import { ShadowRunSpecSchema, type ShadowRun, type ShadowRunSpec, type ShadowRunStatus } from '../../api/shadowrun.ts';
import { Reason } from '../../api/conditions.ts';
import type { MetricResult } from '../../analysis/evaluate.ts';
import { observeAnalysis } from '../shared/analysis.ts';
import type { TemplateVars } from '../../analysis/template.ts';
import { RouteProblemError, type TrafficRef } from '../../traffic/router.ts';
import { CONFIG_MAP, DEPLOYMENT, SERVICE, SHADOW_RUN, apiVersionOf, isAlreadyExists, resourceType, type KubeObject, type ResourceType } from '../../kube/index.ts';
import { MIRROR_PORT, PARITY_CONFIG_LABEL, PARITY_RUN_ANNOTATION, PARITY_RUN_LABEL, comparatorName, comparatorObjects, configStamp, runLabelValue, serviceUrl, type ComparatorPlacement, type RunIdentity } from '../../parity/workload.ts';
import type { ComparatorConfig } from '../../parity/server.ts';
import { parityResult, parityStatus, parityVerdict, readSummaryData } from '../../parity/status.ts';
import type { Store } from '../shared/store.ts';
import { KindController, invalidSpec, stalledStatus, type ControllerDeps } from '../shared/kind.ts';
import type { Controller, ReconcileContext, ReconcileResult } from '../../runtime/controller.ts';
import { CLEANUP_FINALIZER, analysisDue, isTerminal, planShadowRun, type Effect, type ShadowObservation } from './plan.ts';
import { ShadowMetrics } from './metrics.ts';

export type ShadowRunObject = KubeObject & Omit<ShadowRun, 'metadata'> & { metadata: KubeObject['metadata'] };

export interface ShadowRunControllerDeps extends ControllerDeps<ShadowRunObject> {
  metrics: ShadowMetrics;
  /** Where the parity comparators run (the operator's --parity-* settings); none: parity is Stalled. */
  parityPlacement?: ComparatorPlacement | undefined;
  /** The comparators' summary ConfigMaps (a watch); without it they are read with a GET. */
  paritySummaries?: Store<ConfigMapObject> | undefined;
}

export type ConfigMapObject = KubeObject & { data?: Record<string, string> };

const SERVICE_ACCOUNT = resourceType('', 'v1', 'serviceaccounts', 'ServiceAccount');
const ROLE = resourceType('rbac.authorization.k8s.io', 'v1', 'roles', 'Role');
const ROLE_BINDING = resourceType('rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding');
const NETWORK_POLICY = resourceType('networking.k8s.io', 'v1', 'networkpolicies', 'NetworkPolicy');
const TYPES: Record<string, ResourceType> = { ConfigMap: CONFIG_MAP, ServiceAccount: SERVICE_ACCOUNT, Role: ROLE, RoleBinding: ROLE_BINDING, NetworkPolicy: NETWORK_POLICY, Service: SERVICE, Deployment: DEPLOYMENT };

export const SHADOWRUN_CONTROLLER = 'shadowrun';

/** The router's view of a run: the primary is the stable side, the shadow the canary side. */
export function shadowRef(namespace: string, spec: Pick<ShadowRunSpec, 'route' | 'primary' | 'shadow'>): TrafficRef {
  return {
    namespace,
    route: spec.route,
    stable: { service: spec.primary.service, port: spec.primary.port, field: 'spec.primary' },
    canary: { service: spec.shadow.service, port: spec.shadow.port, field: 'spec.shadow' },
  };
}

export class ShadowRunController {
  readonly controller: Controller;
  readonly #d: ShadowRunControllerDeps;
  readonly #kind: KindController<ShadowRunObject>;

  constructor(deps: ShadowRunControllerDeps) {
    this.#d = deps;
    this.#kind = new KindController({ name: SHADOWRUN_CONTROLLER, type: SHADOW_RUN, deps, reconcile: (key, ctx) => this.reconcile(key, ctx) });
    this.controller = this.#kind.controller;
  }

  start(): void { this.controller.start(); }
  async stop(): Promise<void> { await this.controller.stop(); }

  current(key: string): ShadowRunObject | undefined {
    return this.#kind.current(key);
  }

  async reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult | void> {
    const d = this.#d;
    const obj = this.current(key);
    if (!obj) return;
    const now = d.clock.now();
    const generation = obj.metadata.generation ?? 1;
    const status: ShadowRunStatus = obj.status ?? {};
    const deleting = Boolean(obj.metadata.deletionTimestamp);
    const hasFinalizer = (obj.metadata.finalizers ?? []).includes(CLEANUP_FINALIZER);
    if (deleting && !hasFinalizer) return;

    const parsed = ShadowRunSpecSchema.safeParse(obj.spec);
    if (!parsed.success) {
      if (deleting) { await this.#kind.patchFinalizer(obj, CLEANUP_FINALIZER, false); return; }
      await this.#kind.writeStatus(obj, stalledStatus(status, generation, now, invalidSpec(parsed.error.issues[0]!)), ctx.logger);
      return;
    }
    const spec = parsed.data;
    const ref = shadowRef(obj.metadata.namespace ?? 'default', spec);
    // With parity the mirror goes to the run's comparator, which calls the shadow itself.
    const comparator = comparatorName(obj.metadata.name ?? '');
    const mirrorRef: TrafficRef = spec.parity ? { ...ref, canary: { service: comparator, port: MIRROR_PORT, field: 'spec.parity' } } : ref;

    // ---- observe ------------------------------------------------------------------------------
    const o: ShadowObservation = {
      now, generation, spec, status, annotations: obj.metadata.annotations ?? {}, deleting, hasFinalizer, problems: [],
      mirrorTarget: { service: mirrorRef.canary.service, port: mirrorRef.canary.port },
    };
    if (spec.parity && !d.parityPlacement && !deleting && !isTerminal(status.phase)) {
      o.problems.push({ field: 'spec.parity', message: 'this operator runs no parity comparators: it was started without --parity-image (the Helm chart sets it to its own image)', reason: Reason.ParityNotConfigured });
    }
    const fresh = status.observedGeneration !== generation || status.phase === undefined || status.phase === 'Pending';
    if (fresh && !deleting && !isTerminal(status.phase)) {
      const problem = await d.router.verify(ref);
      if (problem) o.problems.push({ ...problem, reason: problem.field.startsWith('spec.route') ? Reason.RouteNotFound : Reason.ServiceNotFound });
    }
    if (o.problems.length === 0 && (deleting || !isTerminal(status.phase) || !status.mirrorRemovedAt || fresh)) {
      try {
        const m = await d.router.getMirror(mirrorRef);
        o.routeMirror = m ? { service: m.service, port: m.port, percent: m.percent } : null;
      } catch (err) {
        if (!(err instanceof RouteProblemError)) throw err;
        if (!deleting && !isTerminal(status.phase)) o.problems.push({ ...err.problem, reason: Reason.RouteNotFound });
      }
    }
    // Before a mirror is added (the run starts, or the route lost or changed the mirror the status
    // explains), the gateway must say it can carry it out: otherwise Stalled and nothing is written.
    const m = o.routeMirror;
    const mirrorWanted = !deleting && !isTerminal(status.phase) && (fresh || (m !== undefined && (m === null || m.percent !== spec.percent || m.port !== mirrorRef.canary.port)));
    if (o.problems.length === 0 && mirrorWanted) {
      const problem = await d.router.mirrorSupport(ref, spec.percent);
      if (problem) o.problems.push({ ...problem, reason: Reason.MirrorNotSupported });
    }
    if (spec.parity && o.problems.length === 0 && !deleting && (status.phase === 'Running' || (isTerminal(status.phase) && !fresh))) {
      const observed = readSummaryData(await this.#summaryData(ref.namespace, comparator));
      const verdict = parityVerdict(spec.parity, observed.summary);
      const deployments = await this.#comparatorDeployments(ref.namespace, obj.metadata.name ?? '');
      const config = this.#comparatorConfig(this.#runIdentity(obj), spec);
      const stamp = config && d.parityPlacement ? configStamp(config, d.parityPlacement) : '';
      o.parity = {
        status: parityStatus(spec.parity, observed, verdict, comparator),
        // The comparator of the current config runs, and no other.
        deploymentPresent: deployments.some((x) => x.stamp === stamp && x.replicas > 0) && deployments.every((x) => x.stamp === stamp || x.replicas === 0),
        comparatorRunning: deployments.some((x) => x.replicas > 0),
      };
      if (status.phase === 'Running' && analysisDue(spec, status, now)) {
        o.analysis = [...(spec.analysis ? await this.#analyse(ref, spec, obj, o, ctx.signal) : []), parityResult(verdict)];
        if (o.problems.length > 0) o.analysis = [];
      }
    } else if (o.problems.length === 0 && !deleting && analysisDue(spec, status, now)) {
      o.analysis = await this.#analyse(ref, spec, obj, o, ctx.signal);
    }

    // ---- plan -----------------------------------------------------------------------------------
    const plan = planShadowRun(o);
    ctx.logger.debug({ phase: plan.status.phase, effects: plan.effects.map((e) => e.type) }, 'planned');

    // ---- apply, in the plan's order ----------------------------------------------------------------
    let written = obj;
    for (const e of plan.effects) written = await this.#apply(e, written, mirrorRef, spec, plan.status, ctx);
    if (!deleting) {
      d.metrics.observe(ref.namespace, obj.metadata.name ?? '', plan.status, o.analysis, spec);
      if (spec.parity) d.metrics.parity(ref.namespace, obj.metadata.name ?? '', plan.status.parity);
      if (plan.status.verdict && isTerminal(plan.status.phase) && !isTerminal(status.phase)) d.metrics.verdict(ref.namespace, obj.metadata.name ?? '', plan.status.verdict);
    }
    return plan.requeueAfterMs !== undefined ? { requeueAfter: plan.requeueAfterMs } : undefined;
  }

  /**
   * Each metric's query is the shadow's value; the primary's is `baselineQuery` when there is one,
   * otherwise the same query rendered for the primary (shown side by side, not judged).
   */
  #analyse(ref: TrafficRef, spec: ShadowRunSpec, obj: ShadowRunObject, o: ShadowObservation, signal: AbortSignal): Promise<MetricResult[]> {
    const analysis = spec.analysis!;
    const vars: TemplateVars = {
      namespace: ref.namespace, name: obj.metadata.name ?? '', interval: analysis.interval,
      'primary.service': ref.stable.service, 'shadow.service': ref.canary.service,
      // The TrafficShift vocabulary works too, so a MigrationSlice can use one query for both stages.
      'stable.service': ref.stable.service, 'canary.service': ref.canary.service,
    };
    const baselineVars: TemplateVars = { ...vars, 'shadow.service': ref.stable.service, 'canary.service': ref.stable.service };
    return observeAnalysis({ provider: this.#d.prometheus, web: this.#d.web, namespace: ref.namespace, defaultAddress: this.#d.defaultPrometheusUrl, metrics: analysis.metrics, vars, baselineVars, signal }, o.problems);
  }

  /** The data of a run's summary ConfigMap: from the watch when there is one, else a GET. */
  async #summaryData(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    const store = this.#d.paritySummaries;
    if (store?.hasSynced) return store.get(namespace, name)?.data;
    return (await this.#d.client.get<ConfigMapObject>(CONFIG_MAP, namespace, name))?.data;
  }

  #runIdentity(obj: ShadowRunObject): RunIdentity {
    return { namespace: obj.metadata.namespace ?? 'default', name: obj.metadata.name ?? '', uid: obj.metadata.uid ?? '', apiVersion: apiVersionOf(SHADOW_RUN), kind: SHADOW_RUN.kind };
  }

  #comparatorConfig(run: RunIdentity, spec: ShadowRunSpec): ComparatorConfig | undefined {
    if (!spec.parity) return undefined;
    return {
      namespace: run.namespace, name: run.name,
      legacy: serviceUrl(run.namespace, spec.primary.service, spec.primary.port),
      candidate: serviceUrl(run.namespace, spec.shadow.service, spec.shadow.port),
      candidateService: spec.shadow.service,
      parity: spec.parity,
    };
  }

  /** The run's comparator Deployments (any config) and their replicas. */
  async #comparatorDeployments(namespace: string, run: string): Promise<Array<{ name: string; stamp: string; replicas: number }>> {
    const l = await this.#d.client.list<KubeObject & { spec?: { replicas?: number } }>(DEPLOYMENT, { namespace, labelSelector: `${PARITY_RUN_LABEL}=${runLabelValue(run)},app.kubernetes.io/name=cutover-parity` });
    return l.items.map((d) => ({ name: d.metadata.name ?? '', stamp: d.metadata.labels?.[PARITY_CONFIG_LABEL] ?? '', replicas: d.spec?.replicas ?? 1 }));
  }

  async #scale(namespace: string, name: string, replicas: number): Promise<void> {
    await this.#d.client.mergePatch(DEPLOYMENT, namespace, name, { spec: { replicas } }, { subresource: 'scale' });
  }

  /**
   * Creates the comparator objects that do not exist yet, owned by the run, and makes the
   * Deployment of the current config the one running (scale subresource). Never a patch, update or
   * delete of a Deployment, Service or Role: the operator's RBAC grants create and scale only.
   * `fresh` (the run starts): the summary ConfigMap's counts of an earlier run are cleared first.
   */
  async #ensureComparator(obj: ShadowRunObject, spec: ShadowRunSpec, fresh: boolean): Promise<void> {
    const run = this.#runIdentity(obj);
    const placement = this.#d.parityPlacement;
    const config = this.#comparatorConfig(run, spec);
    if (!placement || !config) return;
    const client = this.#d.client;
    const stamp = configStamp(config, placement);
    // Other configs' comparators stop first: one writer of the summary at a time.
    for (const d of await this.#comparatorDeployments(run.namespace, run.name)) {
      if (d.stamp !== stamp && d.replicas > 0) await this.#scale(run.namespace, d.name, 0);
    }
    for (const o of comparatorObjects(run, config, placement)) {
      const name = String(o.metadata.name);
      if (o.kind === 'ConfigMap' && fresh) {
        const cm = await client.get<ConfigMapObject>(CONFIG_MAP, run.namespace, name);
        if (cm && cm.metadata.ownerReferences?.some((r) => r.uid === run.uid) && cm.data && Object.keys(cm.data).length > 0) {
          await client.mergePatch(CONFIG_MAP, run.namespace, name, { data: null });
        }
      }
      try {
        await client.create(TYPES[o.kind]!, o as KubeObject);
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        // The Deployment of this config from an earlier run of the same spec, scaled to 0 at its end.
        if (o.kind === 'Deployment') {
          const d = await client.get<KubeObject & { spec?: { replicas?: number } }>(DEPLOYMENT, run.namespace, name);
          if (d && (d.spec?.replicas ?? 1) === 0) await this.#scale(run.namespace, name, 1);
        }
      }
    }
  }

  /** Stops the comparator: its Deployments scaled to 0. The rest stays until the run is deleted (owned by it); the summary feeds the report. */
  async #removeComparator(obj: ShadowRunObject): Promise<void> {
    const ns = obj.metadata.namespace ?? 'default';
    for (const d of await this.#comparatorDeployments(ns, obj.metadata.name ?? '')) if (d.replicas > 0) await this.#scale(ns, d.name, 0);
  }

  /** Re-reconciles the run a summary ConfigMap belongs to whenever the comparator writes it. */
  watchParitySummaries(store: Store<ConfigMapObject>): void {
    const enqueue = (cm: ConfigMapObject): void => {
      const run = cm.metadata.annotations?.[PARITY_RUN_ANNOTATION];
      if (run && cm.metadata.namespace) this.controller.enqueue(`${cm.metadata.namespace}/${run}`);
    };
    store.addHandler({ onAdd: enqueue, onUpdate: (_a, b) => enqueue(b), onDelete: () => {} });
  }

  async #apply(e: Effect, obj: ShadowRunObject, ref: TrafficRef, spec: ShadowRunSpec, next: ShadowRunStatus, ctx: ReconcileContext): Promise<ShadowRunObject> {
    const d = this.#d;
    switch (e.type) {
      case 'addFinalizer':
        return this.#kind.patchFinalizer(obj, CLEANUP_FINALIZER, true);
      case 'removeFinalizer':
        await this.#kind.patchFinalizer(obj, CLEANUP_FINALIZER, false);
        return obj;
      case 'setMirror':
        await d.router.setMirror(ref, { service: ref.canary.service, port: ref.canary.port, percent: e.percent });
        ctx.logger.info({ shadow: spec.shadow.service, mirror: ref.canary.service, percent: e.percent }, 'mirror set');
        return obj;
      case 'ensureComparator':
        await this.#ensureComparator(obj, spec, e.fresh);
        return obj;
      case 'removeComparator':
        await this.#removeComparator(obj);
        return obj;
      case 'removeMirror':
        try {
          await d.router.setMirror(ref, null);
          ctx.logger.info({ shadow: spec.shadow.service }, 'mirror removed');
        } catch (err) {
          // A route that is gone has no mirror left to remove.
          if (!(err instanceof RouteProblemError)) throw err;
          ctx.logger.info({ problem: err.message }, 'mirror not removed: route gone');
        }
        return obj;
      case 'event':
        this.#kind.event(obj, e, ctx.logger);
        return obj;
      case 'writeStatus':
        return this.#kind.writeStatus(obj, next, ctx.logger);
    }
  }
}
