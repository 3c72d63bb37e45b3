// The dashboard's live state: one list-watch per kind (through the kube layer's Informer, so it
// resumes, relists on 410 and backs off like the operator's), over every namespace the user may
// list — all of them when their RBAC allows it, else the kubeconfig context's namespace. Each change
// is handed to the subscribers (the server-sent-event streams); the weights and analysis results seen
// while the dashboard runs are kept per object (bounded) for the charts.
import { Informer, isForbidden, isNotFound, MIGRATION_SLICE, SHADOW_RUN, TRAFFIC_SHIFT, type KubeClient, type KubeObject, type ResourceType } from '../../kube/index.ts';
import { keyOf, resultPoints, weightOf, type CutoverObject, type ResultPoint, type WeightPoint } from './model.ts';

export const KIND_TYPES: readonly ResourceType[] = [TRAFFIC_SHIFT, SHADOW_RUN, MIGRATION_SLICE];

/** Where each kind is watched, or why it is not. */
export interface Scope { kind: string; namespace?: string; allNamespaces: boolean; error?: string }

export type Change = { type: 'upsert'; key: string; obj: CutoverObject } | { type: 'delete'; key: string; obj: CutoverObject };

interface Seen { weights: WeightPoint[]; results: Map<string, ResultPoint> }

const MAX_WEIGHTS = 500;
const MAX_RESULTS = 2000;

export class DashboardStore {
  readonly #client: KubeClient;
  readonly #namespace: string;
  readonly #informers: Array<Informer<KubeObject>> = [];
  readonly #subscribers = new Set<(c: Change) => void>();
  readonly #seen = new Map<string, Seen>();
  readonly #now: () => number;
  scopes: Scope[] = [];

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
          this.#emit({ type: 'delete', key, obj });
        },
      });
      inf.start();
      this.#informers.push(inf);
    }
    await Promise.all(this.#informers.map((i) => i.synced));
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
    let seen = this.#seen.get(key);
    if (!seen) { seen = { weights: [], results: new Map() }; this.#seen.set(key, seen); }
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
  seen(key: string): { weights: WeightPoint[]; results: ResultPoint[] } {
    const s = this.#seen.get(key);
    return { weights: [...(s?.weights ?? [])], results: [...(s?.results.values() ?? [])].sort((a, b) => a.t - b.t) };
  }

  async stop(): Promise<void> {
    this.#subscribers.clear();
    await Promise.all(this.#informers.map((i) => i.stop()));
  }
}
