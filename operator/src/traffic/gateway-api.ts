// Gateway API HTTPRoute router: weights of the stable/canary backendRefs of one rule, and a
// RequestMirror filter for shadowing, written by server-side apply with field manager `cutover`.
//
// Why the whole `spec.rules` list is applied (and what that means for GitOps)
// ---------------------------------------------------------------------------
// In the HTTPRoute CRD (gateway-api v1.4.1) `spec.rules`, `rules[].backendRefs` and
// `rules[].filters` are all `x-kubernetes-list-type: atomic`. For server-side apply an atomic list
// is ONE field: it has no per-element identity, a manager owns all of it or none of it, and an
// applied list replaces the live list. There is no applied configuration that sets "the weight of
// backendRef 1 in rule 0" alone: `spec: {rules: [ {…} ]}` would replace every rule with one.
//
// So each write reads the route, computes the full rules list with only our change (see
// httproute-rule.ts: every other rule, match and filter is carried over as read), and applies
// `spec.rules` with `force: true` and the read `metadata.resourceVersion` as a precondition: a
// concurrent edit (a GitOps sync between our read and our write) makes the apply fail with 409
// and we re-read instead of writing back stale rules. Nothing else in the route is in our applied
// configuration, so parentRefs, hostnames, labels… stay owned by whoever wrote them. Writes are
// skipped when the route already says what we want, so a steady state costs no writes.
//
// Consequences, documented for users (docs/gitops):
// - After the first write, manager `cutover` owns `spec.rules` as a whole (force takes it over
//   from the manager that applied it, e.g. `argocd-controller` or `kustomize-controller`).
//   Cutover must never apply a configuration without `spec.rules` afterwards — SSA would delete
//   the rules it owns — so `removeManaged` re-applies the rules without the mirror instead of
//   "letting go"; ownership stays with `cutover`.
// - A GitOps tool that re-applies the route from Git replaces the weights with Git's (client-side
//   apply: when the rules in Git change, or on a forced/replace sync; SSA with force: on every
//   sync). Cutover is level-triggered: it sees the drift at its next reconcile and re-asserts the
//   weights its status explains (an Event names the other manager — see rulesManagers). To avoid
//   the tug-of-war: Argo CD — `ignoreDifferences` with jqPathExpressions
//   `.spec.rules[].backendRefs[].weight` and `.spec.rules[].filters[] | select(.type ==
//   "RequestMirror")` plus `syncOptions: [RespectIgnoreDifferences=true]`; Flux — give the
//   Cutover-managed split its own HTTPRoute (rules from several HTTPRoutes attached to one Gateway
//   merge) annotated `kustomize.toolkit.fluxcd.io/ssa: IfNotPresent`.
// - Argo Rollouts' gatewayapi plugin has the same constraint and solves it the blunt way: GET the
//   route, edit the weights, UPDATE the whole object (it owns the rules afterwards, too). Flagger
//   generates the HTTPRoute from the Canary spec and overwrites its spec on every change, which is
//   where "user filters lost" comes from. We keep the user's route and change only our values.

import {
  desiredRule,
  refersToService,
  backendRefs,
  ruleMirror,
  ruleWeights,
  weightPercentages,
  type HTTPRouteRule,
  type RuleBackends,
  type RuleChange,
} from './httproute-rule.ts';
import { FIELD_MANAGER } from '../api/group.ts';
import { isConflict } from '../kube/errors.ts';
import { HTTP_ROUTE, resourceType, SERVICE, type KubeObject } from '../kube/resources.ts';
import {
  RouteProblemError,
  RouteVerificationError,
  type JsonObject,
  type JsonValue,
  type MirrorTarget,
  type RouteClient,
  type RouteProblem,
  type TrafficRef,
  type TrafficRouter,
  type TrafficWeights,
} from './router.ts';

export const GATEWAY = resourceType('gateway.networking.k8s.io', 'v1', 'gateways', 'Gateway');
export const GATEWAY_CLASS = resourceType('gateway.networking.k8s.io', 'v1', 'gatewayclasses', 'GatewayClass', false);

/** Gateway API feature names (sigs.k8s.io/gateway-api pkg/features, v1.4.1) a mirror needs. */
export const Feature = {
  RequestMirror: 'HTTPRouteRequestMirror',
  /** `requestMirror.percent` / `fraction`: mirroring a share of the requests, not all of them. */
  PercentageMirror: 'HTTPRouteRequestPercentageMirror',
} as const;

/**
 * GatewayClass annotation for implementations that mirror but publish no
 * `status.supportedFeatures`: set to "true" by someone who knows the gateway mirrors (including
 * percentage mirrors when `percent` < 100). It is read only when the class publishes no list: a
 * published list is the implementation's own statement and wins.
 */
export const ASSUME_MIRROR_SUPPORT = 'cutover.dev/assume-mirror-support';

export interface GatewayApiRouterOptions {
  /** Attempts when the route changes between our read and our apply (409). Default 3. */
  attempts?: number;
}

interface LoadedRule {
  route: KubeObject;
  rules: JsonValue[];
  index: number;
  rule: HTTPRouteRule;
}

export class GatewayApiRouter implements TrafficRouter {
  readonly kind = 'HTTPRoute';
  readonly #client: RouteClient;
  readonly #attempts: number;

  constructor(client: RouteClient, options: GatewayApiRouterOptions = {}) {
    this.#client = client;
    this.#attempts = Math.max(1, options.attempts ?? 3);
  }

  /** The route and its rule, or the problem (missing route or rule) that a user must fix. */
  async #loadOrProblem(ref: TrafficRef): Promise<LoadedRule | RouteProblem> {
    try {
      return await this.#load(ref);
    } catch (err) {
      if (err instanceof RouteProblemError) return err.problem;
      throw err;
    }
  }

  async verify(ref: TrafficRef): Promise<RouteProblem | null> {
    const loaded = await this.#loadOrProblem(ref);
    if (!('rule' in loaded)) return loaded;
    const { rule, index } = loaded;
    const where = `HTTPRoute ${ref.namespace}/${routeName(ref)} rule ${index}`;
    const refs = backendRefs(rule);
    const stableField = ref.stable.field ?? 'spec.stable';
    const canaryField = ref.canary.field ?? 'spec.canary';

    const stableRefs = refs.filter((r) => refersToService(r, ref.stable.service, ref.namespace));
    if (stableRefs.length === 0) {
      const names = refs.map((r) => String(r.name)).join(', ') || 'nothing';
      return { field: `${stableField}.service`, message: `${where} has no backendRef to Service ${ref.stable.service} (it routes to ${names})` };
    }
    for (const [backend, field, matching] of [
      [ref.stable, stableField, stableRefs],
      [ref.canary, canaryField, refs.filter((r) => refersToService(r, ref.canary.service, ref.namespace))],
    ] as const) {
      const other = matching.find((r) => typeof r.port === 'number' && r.port !== backend.port);
      if (other) {
        return { field: `${field}.port`, message: `${where} sends Service ${backend.service} to port ${String(other.port)}, not ${backend.port}` };
      }
    }
    for (const [backend, field] of [[ref.stable, stableField], [ref.canary, canaryField]] as const) {
      if (!(await this.#client.get(SERVICE, ref.namespace, backend.service))) {
        return { field: `${field}.service`, message: `Service ${ref.namespace}/${backend.service} not found` };
      }
    }
    return null;
  }

  async getWeights(ref: TrafficRef): Promise<TrafficWeights> {
    const { rule } = await this.#load(ref);
    return weightPercentages(ruleWeights(rule, backendsOf(ref)));
  }

  async setWeights(ref: TrafficRef, weights: TrafficWeights): Promise<void> {
    await this.#change(ref, { weights }, (rule) => {
      const now = ruleWeights(rule, backendsOf(ref));
      // A canary backendRef that is absent reads as 0, which is what a 0 weight asks for.
      return now.stable === weights.stable && now.canary === weights.canary
        ? null
        : `weights are stable ${now.stable} / canary ${now.canary}, expected ${weights.stable} / ${weights.canary}`;
    });
  }

  async getMirror(ref: TrafficRef): Promise<MirrorTarget | null> {
    const { rule } = await this.#load(ref);
    return ruleMirror(rule, ref.canary.service, ref.namespace);
  }

  async setMirror(ref: TrafficRef, mirror: MirrorTarget | null): Promise<void> {
    const target = mirror?.service ?? ref.canary.service;
    await this.#change(ref, { mirror }, (rule) => {
      const now = ruleMirror(rule, target, ref.namespace);
      if (mirror === null) return now === null ? null : `a RequestMirror filter to ${target} is still present`;
      return now !== null && now.port === mirror.port && now.percent === mirror.percent
        ? null
        : `mirror is ${now ? `${now.service}:${now.port} at ${now.percent}%` : 'absent'}, expected ${mirror.service}:${mirror.port} at ${mirror.percent}%`;
    });
  }

  /**
   * Whether every parent Gateway of the route can mirror `percent`% of the requests, as its
   * GatewayClass says in `status.supportedFeatures`: `HTTPRouteRequestMirror`, and
   * `HTTPRouteRequestPercentageMirror` when percent < 100. Fail closed: a route without a parent
   * Gateway, a parent that is not a Gateway, a Gateway or GatewayClass that cannot be read, or a
   * class that publishes no list (unless annotated ASSUME_MIRROR_SUPPORT) is a problem. Why: some
   * implementations accept a RequestMirror filter they cannot carry out and fail the whole rule
   * (Traefik answers 500 for every request of the rule), so a mirror on such a gateway takes the
   * primary down for the users. Read-only.
   */
  async mirrorSupport(ref: TrafficRef, percent: number): Promise<RouteProblem | null> {
    const loaded = await this.#loadOrProblem(ref);
    if (!('rule' in loaded)) return loaded;
    const routeText = `HTTPRoute ${ref.namespace}/${routeName(ref)}`;
    const field = 'spec.route.httpRoute.name';
    const routeSpec = loaded.route.spec;
    const parents = isObject(routeSpec) && Array.isArray(routeSpec.parentRefs) ? routeSpec.parentRefs.filter(isObject) : [];
    if (parents.length === 0) {
      return { field, message: `${routeText} has no parentRefs: no Gateway to ask whether it supports RequestMirror, so no mirror is added` };
    }
    const needed: string[] = [Feature.RequestMirror, ...(percent < 100 ? [Feature.PercentageMirror] : [])];
    for (const parent of parents) {
      const group = typeof parent.group === 'string' ? parent.group : HTTP_ROUTE.group;
      const kind = typeof parent.kind === 'string' ? parent.kind : 'Gateway';
      const name = typeof parent.name === 'string' ? parent.name : '';
      const namespace = typeof parent.namespace === 'string' ? parent.namespace : ref.namespace;
      if (group !== GATEWAY.group || kind !== 'Gateway') {
        return { field, message: `${routeText} has a parent ${kind} ${name} (group ${group || 'core'}), not a Gateway: its supported features cannot be read, so no mirror is added` };
      }
      const gateway = await this.#client.get(GATEWAY, namespace, name);
      if (!gateway) return { field, message: `${routeText}'s parent Gateway ${namespace}/${name} not found: cannot check that it supports RequestMirror, so no mirror is added` };
      const className = isObject(gateway.spec) && typeof gateway.spec.gatewayClassName === 'string' ? gateway.spec.gatewayClassName : '';
      const gatewayClass = className ? await this.#client.get(GATEWAY_CLASS, '', className) : undefined;
      if (!gatewayClass) return { field, message: `GatewayClass ${className || '(none)'} of Gateway ${namespace}/${name} not found: cannot check that it supports RequestMirror, so no mirror is added` };
      const features = supportedFeatures(gatewayClass);
      if (features === undefined) {
        if (gatewayClass.metadata.annotations?.[ASSUME_MIRROR_SUPPORT] === 'true') continue;
        return {
          field,
          message: `GatewayClass ${className} (of Gateway ${namespace}/${name}) publishes no status.supportedFeatures, so whether it supports ${needed.join(' and ')} is unknown and no mirror is added; if it does, annotate the GatewayClass ${ASSUME_MIRROR_SUPPORT}=true`,
        };
      }
      const missing = needed.filter((f) => !features.includes(f));
      if (missing.length > 0) {
        const percentNote = missing.includes(Feature.PercentageMirror) && !missing.includes(Feature.RequestMirror) ? ' (it can mirror all requests: percent 100 needs only RequestMirror)' : '';
        return {
          field: missing.includes(Feature.RequestMirror) ? field : 'spec.percent',
          message: `GatewayClass ${className} (of Gateway ${namespace}/${name}) does not list ${missing.join(' and ')} in status.supportedFeatures${percentNote}: no mirror is added`,
        };
      }
    }
    return null;
  }

  async removeManaged(ref: TrafficRef): Promise<void> {
    await this.setMirror(ref, null);
  }

  /** Reads the route and the managed rule; throws RouteProblemError naming the field. */
  async #load(ref: TrafficRef, latest = false): Promise<LoadedRule> {
    const spec = ref.route.httpRoute;
    // The CRDs admit only spec.route.httpRoute (api/common.ts RouteSchema); a spec without it never parses.
    if (!spec) throw new Error('a route without spec.route.httpRoute reached the Gateway API router');
    const route = latest && this.#client.getLatest
      ? await this.#client.getLatest(HTTP_ROUTE, ref.namespace, spec.name)
      : await this.#client.get(HTTP_ROUTE, ref.namespace, spec.name);
    return this.#ruleOf(ref, route);
  }

  #ruleOf(ref: TrafficRef, route: KubeObject | undefined): LoadedRule {
    const spec = ref.route.httpRoute!;
    if (!route) {
      throw new RouteProblemError({ field: 'spec.route.httpRoute.name', message: `HTTPRoute ${ref.namespace}/${spec.name} not found` });
    }
    const routeSpec = route.spec;
    const rules = isObject(routeSpec) && Array.isArray(routeSpec.rules) ? routeSpec.rules : [];
    const index = spec.ruleIndex ?? 0;
    const rule = rules[index];
    if (!isObject(rule)) {
      throw new RouteProblemError({
        field: 'spec.route.httpRoute.ruleIndex',
        message: `HTTPRoute ${ref.namespace}/${spec.name} has ${rules.length} rule${rules.length === 1 ? '' : 's'}; index ${index} does not exist`,
      });
    }
    return { route, rules, index, rule };
  }

  /**
   * Read → compute → apply the full rules (only when something changes) → read back and check.
   * Retries from the read when the route changed under us (409 on the resourceVersion).
   */
  async #change(ref: TrafficRef, change: RuleChange, mismatch: (rule: HTTPRouteRule) => string | null): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      // The first read may come from a cache; after a 409 (the cache was stale) read the API.
      const { route, rules, index, rule } = await this.#load(ref, attempt > 1);
      const edit = desiredRule(rule, change, backendsOf(ref));
      if (!edit.changed) return;
      const applied: KubeObject = {
        apiVersion: route.apiVersion ?? 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: {
          name: routeName(ref),
          namespace: ref.namespace,
          ...(route.metadata.resourceVersion ? { resourceVersion: route.metadata.resourceVersion } : {}),
        },
        spec: { rules: rules.map((r, i) => (i === index ? edit.rule : r)) },
      };
      let result: KubeObject;
      try {
        result = await this.#client.apply(HTTP_ROUTE, applied, { fieldManager: FIELD_MANAGER, force: true });
      } catch (err) {
        if (isConflict(err) && attempt < this.#attempts) continue;
        throw err;
      }
      // Verify on the object the API server returned for the write: it is the stored state.
      const { rule: after } = this.#ruleOf(ref, result);
      const problem = mismatch(after);
      if (problem) {
        throw new RouteVerificationError(`HTTPRoute ${ref.namespace}/${routeName(ref)} rule ${index} after apply: ${problem}`);
      }
      return;
    }
  }
}

/**
 * Field managers that own `spec.rules` of a route, from its managedFields: who else is writing
 * the rules (for a drift Event: "weights changed by argocd-controller").
 */
export function rulesManagers(route: KubeObject): string[] {
  const owners: string[] = [];
  for (const entry of route.metadata.managedFields ?? []) {
    if (!isObject(entry) || typeof entry.manager !== 'string') continue;
    const spec = isObject(entry.fieldsV1) ? entry.fieldsV1['f:spec'] : undefined;
    if (isObject(spec) && spec['f:rules'] !== undefined && !owners.includes(entry.manager)) owners.push(entry.manager);
  }
  return owners;
}

function backendsOf(ref: TrafficRef): RuleBackends {
  return {
    namespace: ref.namespace,
    stable: { service: ref.stable.service, port: ref.stable.port },
    canary: { service: ref.canary.service, port: ref.canary.port },
  };
}

/**
 * A GatewayClass's `status.supportedFeatures` as names, or undefined when it publishes none.
 * Gateway API v1.4 lists objects `{name}`; v1.1–v1.3 listed plain strings: both are read.
 */
export function supportedFeatures(gatewayClass: KubeObject): string[] | undefined {
  const status = gatewayClass.status;
  const list = isObject(status) ? status.supportedFeatures : undefined;
  if (!Array.isArray(list)) return undefined;
  return list.flatMap((f) => (typeof f === 'string' ? [f] : isObject(f) && typeof f.name === 'string' ? [f.name] : []));
}

function routeName(ref: TrafficRef): string {
  return ref.route.httpRoute?.name ?? '';
}

function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
