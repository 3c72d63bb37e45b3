// The traffic router contract (DESIGN §3/§4), shaped like Argo Rollouts' TrafficRoutingReconciler
// (SetWeight, SetMirrorRoute, VerifyWeight, RemoveManagedRoutes) and Flagger's Router
// (GetRoutes/SetRoutes). One implementation per route kind; controllers depend on this file only.
//
// Routers talk to Kubernetes through RouteClient below, a deliberately small interface over the
// kube layer's own plain types (kube/resources.ts): operator/src/kube's KubeClient satisfies it,
// tests can fake it, and nothing here imports @kubernetes/client-node (DESIGN §4 layering).

import { newerObject } from '../kube/freshness.ts';
import { objectKey, type KubeObject, type ResourceType } from '../kube/resources.ts';
import type { ApplyOptions } from '../kube/index.ts';

// ---------------------------------------------------------------------------------------------
// Kubernetes access

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * The calls a router needs; operator/src/kube's KubeClient satisfies it as is. Contract:
 * - `get` resolves `undefined` when the object does not exist (404) and rejects on other errors.
 * - `apply` is a server-side apply (PATCH, `application/apply-patch+yaml`) of `obj` with the given
 *   field manager and force flag, resolving with the object the server returned. When `obj`
 *   carries `metadata.resourceVersion` the server uses it as a precondition; a stale one must
 *   reject with the kube layer's KubeApiError, code 409 (kube/errors.ts isConflict).
 */
export interface RouteClient {
  get(resource: ResourceType, namespace: string, name: string): Promise<KubeObject | undefined>;
  apply(resource: ResourceType, obj: KubeObject, options: ApplyOptions): Promise<KubeObject>;
  /**
   * A read that is never served from a cache. Optional: when `get` may be a cache (see
   * CachedRouteClient), routers use it to retry after a 409 on a stale resourceVersion.
   */
  getLatest?(resource: ResourceType, namespace: string, name: string): Promise<KubeObject | undefined>;
}

/** A read-only cache of objects kept by a watch (an informer), as routers need it. */
export interface ObjectCache {
  get(namespace: string | undefined, name: string): KubeObject | undefined;
  readonly hasSynced: boolean;
}

/**
 * Serves reads of one resource type from a watch-fed cache, so that routine reconciles (every
 * analysis tick of every shift) do not each GET the route; writes and `getLatest` go to the API.
 * A cache miss (not synced yet, or an object created a moment ago) falls back to a live read.
 */
export class CachedRouteClient implements RouteClient {
  readonly #client: RouteClient;
  readonly #plural: string;
  readonly #cache: ObjectCache;
  /** Our own last write per route, until the watch has caught up with it. */
  readonly #written = new Map<string, KubeObject>();

  constructor(client: RouteClient, plural: string, cache: ObjectCache) {
    this.#client = client;
    this.#plural = plural;
    this.#cache = cache;
  }

  async get(resource: ResourceType, namespace: string, name: string): Promise<KubeObject | undefined> {
    if (resource.plural === this.#plural && this.#cache.hasSynced) {
      const key = objectKey({ metadata: { namespace, name } });
      const hit = this.#cache.get(namespace, name);
      // The watch can lag our own write by a few ms; a router that compared against the older copy
      // would skip a write it needs (a rollback right after a step: "already 0" while the API says 10).
      const mine = this.#written.get(key);
      const newest = newerObject(hit, mine);
      if (mine && newest !== mine) this.#written.delete(key);
      if (newest) return structuredClone(newest);
    }
    return this.#client.get(resource, namespace, name);
  }

  getLatest(resource: ResourceType, namespace: string, name: string): Promise<KubeObject | undefined> {
    return this.#client.get(resource, namespace, name);
  }

  async apply(resource: ResourceType, obj: KubeObject, options: ApplyOptions): Promise<KubeObject> {
    const result = await this.#client.apply(resource, obj, options);
    if (resource.plural === this.#plural) this.#written.set(objectKey(result), result);
    return result;
  }
}

// ---------------------------------------------------------------------------------------------
// The router interface

/** A Service and port that receives traffic. `field` is the spec path that named it, for messages. */
export interface BackendService {
  service: string;
  port: number;
  /** e.g. `spec.stable` or `spec.primary`; defaults to `spec.stable` / `spec.canary`. */
  field?: string;
}

/** Exactly one router, as in the resources' `spec.route` (DESIGN §1). */
export interface RouteSpec {
  httpRoute?: { name: string; ruleIndex?: number | undefined } | undefined;
  ingress?: { name: string } | undefined;
  virtualService?: { name: string; route?: string | undefined } | undefined;
}

/** Everything a router needs to find the traffic split it manages. */
export interface TrafficRef {
  /** Namespace of the cutover resource; the route and Services live there. */
  namespace: string;
  route: RouteSpec;
  /** Legacy backend (TrafficShift `stable`, ShadowRun `primary`). */
  stable: BackendService;
  /** New backend (TrafficShift `canary`, ShadowRun `shadow`). */
  canary: BackendService;
}

/** Percent of requests per backend. Routers write them as backend weights; stable + canary = 100. */
export interface TrafficWeights {
  stable: number;
  canary: number;
}

/** Mirror a share of the requests to a backend; its responses are discarded by the data plane. */
export interface MirrorTarget {
  service: string;
  port: number;
  /** 0–100 */
  percent: number;
}

/** A problem found at run time, naming the spec field to fix (for the `Stalled` condition). */
export interface RouteProblem {
  field: string;
  message: string;
}

export function formatProblem(problem: RouteProblem): string {
  return `${problem.field}: ${problem.message}`;
}

/** Thrown by router methods when the route cannot be used; carries the problem for `Stalled`. */
export class RouteProblemError extends Error {
  override name = 'RouteProblemError';
  readonly problem: RouteProblem;
  constructor(problem: RouteProblem) {
    super(formatProblem(problem));
    this.problem = problem;
  }
}

/** Thrown when a read-back after a write does not show what was written (another writer won). */
export class RouteVerificationError extends Error {
  override name = 'RouteVerificationError';
}

export interface TrafficRouter {
  /** Route kind, for logs (`HTTPRoute`, `Ingress`, …). */
  readonly kind: string;
  /**
   * Checks that the route, the rule and the backends exist and can be managed. Returns the first
   * problem, naming the field (e.g. `spec.route.httpRoute.name: HTTPRoute shop/listings not
   * found`), or null. Read-only.
   */
  verify(ref: TrafficRef): Promise<RouteProblem | null>;
  /** Current split as the route states it. Throws RouteProblemError if the route is unusable. */
  getWeights(ref: TrafficRef): Promise<TrafficWeights>;
  /** Writes the split (no write when already so) and verifies it by reading back. */
  setWeights(ref: TrafficRef, weights: TrafficWeights): Promise<void>;
  /** Current mirror to the canary/shadow backend, or null. */
  getMirror(ref: TrafficRef): Promise<MirrorTarget | null>;
  /** Adds/updates (or with null removes) the mirror the router manages. Idempotent. */
  setMirror(ref: TrafficRef, mirror: MirrorTarget | null): Promise<void>;
  /**
   * Whether the data plane behind the route can carry out a mirror of `percent`% of the requests.
   * Returns the problem (for `Stalled`, reason MirrorNotSupported) or null. Read-only; called
   * before a mirror is added, so that nothing is written to a route whose gateway cannot mirror.
   */
  mirrorSupport(ref: TrafficRef, percent: number): Promise<RouteProblem | null>;
  /** Removes what the router added for this ref that is not a plain weight (the mirror). */
  removeManaged(ref: TrafficRef): Promise<void>;
}
