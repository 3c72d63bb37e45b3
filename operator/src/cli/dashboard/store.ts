// The dashboard's live state: one list-watch per kind (through the kube layer's Informer, so it
// resumes, relists on 410 and backs off like the operator's), over every namespace the user may
// list — all of them when their RBAC allows it, else the kubeconfig context's namespace. Each change
// is handed to the subscribers (the server-sent-event streams); the weights and analysis results seen
// while the dashboard runs are kept per object (bounded) for the charts.
import { HTTP_ROUTE, Informer, isForbidden, isNotFound, MIGRATION_SLICE, SHADOW_RUN, TRAFFIC_SHIFT, type KubeClient, type KubeObject, type ResourceType } from '../../kube/index.ts';
import { ruleWeights, weightPercentages } from '../../traffic/httproute-rule.ts';
import type { JsonObject } from '../../traffic/router.ts';
import { arr, keyOf, num, rec, resultPoints, str, weightOf, type CutoverObject, type FlagPoint, type ResultPoint, type WeightPoint } from './model.ts';

export const KIND_TYPES: readonly ResourceType[] = [TRAFFIC_SHIFT, SHADOW_RUN, MIGRATION_SLICE];

/** Where each kind is watched, or why it is not. */
export interface Scope { kind: string; namespace?: string; allNamespaces: boolean; error?: string }

export type Change = { type: 'upsert'; key: string; obj: CutoverObject } | { type: 'delete'; key: string; obj: CutoverObject };

interface Seen { weights: WeightPoint[]; observed: WeightPoint[]; flags: FlagPoint[]; results: Map<string, ResultPoint> }

/** What the dashboard knows of a cutover beyond its object: for the charts. */
export interface SeenView { weights: WeightPoint[]; observed: WeightPoint[]; flags: FlagPoint[]; results: ResultPoint[] }

/** The HTTPRoute a TrafficShift or MigrationSlice weights, and its two Services. */
interface RouteRef { namespace: string; route: string; ruleIndex: number; stable: string; canary: string }

function routeRefOf(o: CutoverObject): RouteRef | undefined {
  if (o.kind === 'ShadowRun') return undefined;
  const spec = rec(o.spec);
  const http = rec(rec(spec.route).httpRoute);
  const route = str(http.name);
  const stable = str(rec(o.kind === 'MigrationSlice' ? spec.legacy : spec.stable).service);
  const canary = str(rec(o.kind === 'MigrationSlice' ? spec.target : spec.canary).service);
  if (!route || !stable || !canary) return undefined;
  return { namespace: o.metadata.namespace ?? '', route, ruleIndex: num(http.ruleIndex) ?? 0, stable, canary };
}

/** The canary's share (%) of the rule's stable + canary weights, as the route says now. */
function observedWeight(route: KubeObject, ref: RouteRef): number | undefined {
  const rule = arr(rec((route as { spec?: unknown }).spec).rules)[ref.ruleIndex];
  if (!rule) return undefined;
  const w = weightPercentages(ruleWeights(rule as JsonObject, { namespace: ref.namespace, stable: { service: ref.stable, port: 0 }, canary: { service: ref.canary, port: 0 } }));
  return w.stable + w.canary === 0 ? undefined : w.canary;
}

/** When the route last changed: its newest write (not a status write) per metadata.managedFields. */
function lastWriteAt(route: KubeObject): number | undefined {
  const times = (route.metadata.managedFields ?? []).filter((f) => f.subresource !== 'status').map((f) => Date.parse(String(f.time ?? ''))).filter(Number.isFinite);
  return times.length ? Math.max(...times) : undefined;
}

const MAX_WEIGHTS = 500;
const MAX_RESULTS = 2000;

export class DashboardStore {
  readonly #client: KubeClient;
  readonly #namespace: string;
  readonly #informers: Array<Informer<KubeObject>> = [];
  readonly #subscribers = new Set<(c: Change) => void>();
  readonly #seen = new Map<string, Seen>();
  readonly #now: () => number;
  /** HTTPRoutes, for the weight each cutover's route really carries (absent without RBAC to list them). */
  #routes: Informer<KubeObject> | undefined;
  /** Cutover keys by the route they weight (`namespace/route`). */
  readonly #byRoute = new Map<string, Set<string>>();
  readonly #routeOf = new Map<string, string>();
  scopes: Scope[] = [];
  /** Why the routes are not watched (no observed weight), when they are not. */
  routesError: string | undefined;

  constructor(client: KubeClient, opts: { namespace?: string; now?: () => number } = {}) {
    this.#client = client;
    this.#namespace = opts.namespace ?? client.defaultNamespace;
    this.#now = opts.now ?? Date.now;
  }

  /** Probes what the user may list, starts the watches, resolves when every one has listed once. */
  async start(allNamespaces = true): Promise<void> {
    for (const type of KIND_TYPES) {
      const scope = await this.#probe(type, allNamespaces);
      this.scopes.push(scope);
      if (scope.error) continue;
      const inf = new Informer<KubeObject>(this.#client, type, scope.allNamespaces ? {} : { namespace: scope.namespace! });
      inf.addHandler({
        onAdd: (o) => this.#changed(type, o),
        onUpdate: (_old, o) => this.#changed(type, o),
        onDelete: (o) => {
          const obj = { ...o, kind: type.kind } as CutoverObject;
          const key = keyOf(type.kind, o.metadata.namespace ?? '', o.metadata.name ?? '');
          this.#seen.delete(key);
          this.#indexRoute(key, undefined);
          this.#emit({ type: 'delete', key, obj });
        },
      });
      inf.start();
      this.#informers.push(inf);
    }
    // The routes, where the TrafficShifts are listed (a user who may not list them gets no observed line).
    const shifts = this.scopes.find((x) => x.kind === 'TrafficShift' && !x.error);
    const routeScope = shifts ? await this.#probe(HTTP_ROUTE, shifts.allNamespaces) : undefined;
    if (routeScope && !routeScope.error) {
      const routes = new Informer<KubeObject>(this.#client, HTTP_ROUTE, {
        ...(routeScope.allNamespaces ? {} : { namespace: routeScope.namespace! }),
        // Keep only who wrote when (for the time of the weight found at start), not the field sets.
        transform: (r) => ({ ...r, metadata: { ...r.metadata, managedFields: (r.metadata.managedFields ?? []).map((f) => ({ manager: f.manager, operation: f.operation, time: f.time, ...(f.subresource ? { subresource: f.subresource } : {}) })) } }),
      });
      routes.addHandler({ onAdd: (r) => this.#routeChanged(r), onUpdate: (_old, r) => this.#routeChanged(r) });
      routes.start();
      this.#routes = routes;
    } else this.routesError = routeScope?.error ?? 'no TrafficShift is listed';
    await Promise.all([...this.#informers, ...(this.#routes ? [this.#routes] : [])].map((i) => i.synced));
  }

  #routeChanged(route: KubeObject): void {
    const keys = this.#byRoute.get(`${route.metadata.namespace ?? ''}/${route.metadata.name ?? ''}`);
    for (const key of keys ?? []) {
      const [kind = '', namespace = '', name = ''] = key.split('/');
      const obj = this.get(kind, namespace, name);
      if (obj && this.#observe(key, obj, route)) this.#emit({ type: 'upsert', key, obj });
    }
  }

  /** Records the weight the cutover's route carries now, if it changed; true when it did. */
  #observe(key: string, obj: CutoverObject, route?: KubeObject): boolean {
    const ref = routeRefOf(obj);
    if (!ref || !this.#routes) return false;
    const r = route ?? this.#routes.get(ref.namespace, ref.route);
    if (!r) return false;
    const w = observedWeight(r, ref);
    const seen = this.#seenOf(key);
    const last = seen.observed.at(-1);
    if (w === undefined || last?.weight === w) return false;
    // A change seen live: now. The first weight found: since the route was last written (its weights
    // are that old at most), or since the cutover was created if the route is older.
    const created = Date.parse(obj.metadata.creationTimestamp ?? '');
    const t = last ? this.#now() : Math.min(this.#now(), Math.max(lastWriteAt(r) ?? this.#now(), Number.isFinite(created) ? created : 0));
    seen.observed.push({ t, weight: w });
    if (seen.observed.length > MAX_WEIGHTS) seen.observed.shift();
    return true;
  }

  #seenOf(key: string): Seen {
    let seen = this.#seen.get(key);
    if (!seen) { seen = { weights: [], observed: [], flags: [], results: new Map() }; this.#seen.set(key, seen); }
    return seen;
  }

  #indexRoute(key: string, obj: CutoverObject | undefined): void {
    const before = this.#routeOf.get(key);
    const ref = obj ? routeRefOf(obj) : undefined;
    const now = ref ? `${ref.namespace}/${ref.route}` : undefined;
    if (before === now) return;
    if (before) this.#byRoute.get(before)?.delete(key);
    if (now) {
      this.#routeOf.set(key, now);
      let set = this.#byRoute.get(now);
      if (!set) { set = new Set(); this.#byRoute.set(now, set); }
      set.add(key);
    } else this.#routeOf.delete(key);
  }

  async #probe(type: ResourceType, allNamespaces: boolean): Promise<Scope> {
    const tryList = async (namespace?: string): Promise<string | undefined> => {
      try {
        await this.#client.list(type, { ...(namespace ? { namespace } : {}), pageSize: 1, resourceVersion: '0' });
        return undefined;
      } catch (err) {
        if (isNotFound(err)) return `the ${type.kind} CRD is not installed`;
        if (isForbidden(err)) return (err as Error).message;
        throw err;
      }
    };
    if (allNamespaces) {
      const why = await tryList();
      if (!why) return { kind: type.kind, allNamespaces: true };
      if (why.endsWith('not installed')) return { kind: type.kind, allNamespaces: true, error: why };
    }
    const why = await tryList(this.#namespace);
    return { kind: type.kind, namespace: this.#namespace, allNamespaces: false, ...(why ? { error: why } : {}) };
  }

  #changed(type: ResourceType, o: KubeObject): void {
    const obj = { ...o, kind: type.kind } as CutoverObject;
    const key = keyOf(type.kind, o.metadata.namespace ?? '', o.metadata.name ?? '');
    const seen = this.#seenOf(key);
    this.#indexRoute(key, obj);
    this.#observe(key, obj);
    const flag = rec(rec(obj.status).featureFlag);
    if (typeof flag.enabled === 'boolean' && seen.flags.at(-1)?.enabled !== flag.enabled) {
      const at = Date.parse(String(flag.at ?? ''));
      seen.flags.push({ t: Number.isFinite(at) ? at : this.#now(), enabled: flag.enabled });
      if (seen.flags.length > MAX_WEIGHTS) seen.flags.shift();
    }
    const w = weightOf(obj);
    const last = seen.weights.at(-1);
    if (w !== undefined && type.kind !== 'ShadowRun' && last?.weight !== w) {
      // When the weight was set: the step's start when status says so (also for what was already
      // there when the dashboard started), else the moment this change was seen.
      const stepAt = Date.parse(String((obj.status as { stepStartedAt?: string } | undefined)?.stepStartedAt ?? ''));
      const t = Number.isFinite(stepAt) && (!last || stepAt > last.t) ? stepAt : last ? this.#now() : undefined;
      if (t !== undefined) seen.weights.push({ t, weight: w });
      if (seen.weights.length > MAX_WEIGHTS) seen.weights.shift();
    }
    for (const r of resultPoints(obj)) {
      seen.results.set(`${r.name}@${r.t}`, r);
      if (seen.results.size > MAX_RESULTS) seen.results.delete(seen.results.keys().next().value!);
    }
    this.#emit({ type: 'upsert', key, obj });
  }

  #emit(c: Change): void {
    for (const fn of this.#subscribers) fn(c);
  }

  subscribe(fn: (c: Change) => void): () => void {
    this.#subscribers.add(fn);
    return () => this.#subscribers.delete(fn);
  }

  all(): CutoverObject[] {
    return this.#informers.flatMap((inf) => inf.list().map((o) => ({ ...o, kind: inf.type.kind }) as CutoverObject));
  }

  get(kind: string, namespace: string, name: string): CutoverObject | undefined {
    const inf = this.#informers.find((i) => i.type.kind === kind);
    const o = inf?.get(namespace, name);
    return o ? { ...o, kind } as CutoverObject : undefined;
  }

  typeOf(kind: string): ResourceType | undefined {
    return KIND_TYPES.find((t) => t.kind === kind);
  }

  /** Weights and analysis results this process saw for the object, oldest first. */
  seen(key: string): SeenView {
    const s = this.#seen.get(key);
    return {
      weights: [...(s?.weights ?? [])], observed: [...(s?.observed ?? [])], flags: [...(s?.flags ?? [])],
      results: [...(s?.results.values() ?? [])].sort((a, b) => a.t - b.t),
    };
  }

  /** The cutover's controlling owner when it is a MigrationSlice this dashboard sees (its flag and worker restore). */
  ownerSlice(o: CutoverObject): CutoverObject | undefined {
    const ref = (o.metadata.ownerReferences ?? []).find((r) => r.controller && r.kind === 'MigrationSlice');
    return ref?.name ? this.get('MigrationSlice', o.metadata.namespace ?? '', ref.name) : undefined;
  }

  async stop(): Promise<void> {
    this.#subscribers.clear();
    await Promise.all([...this.#informers, ...(this.#routes ? [this.#routes] : [])].map((i) => i.stop()));
  }
}
