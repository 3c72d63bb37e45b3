// The deps of a controller for one reconcile in a unit test, in cert-manager's ExpectedActions style:
// a client over objects held in memory that logs every API call it is asked for, in order, as one
// line (`verb resource[/subresource] namespace/name`), and an Event recorder that logs into the same
// list. A test seeds the objects, drives one reconcile, and compares the list with the exact calls
// expected. Each recorder implements the part of the real class the controllers use (Pick), so a
// change of those signatures fails to compile here.
import type { PrometheusProvider } from '../../../operator/src/analysis/prometheus.ts';
import type { WebCheckProvider } from '../../../operator/src/analysis/webcheck.ts';
import { valueSample, type MetricSample } from '../../../operator/src/analysis/provider.ts';
import type { ControllerDeps } from '../../../operator/src/controllers/shared/kind.ts';
import type { Store } from '../../../operator/src/controllers/shared/store.ts';
import { GatewayApiRouter } from '../../../operator/src/traffic/gateway-api.ts';
import { FakeClock } from '../../../operator/src/runtime/clock.ts';
import { KubeApiError, type EventRecorder, type InformerHandlers, type KubeClient, type KubeObject, type ResourceType } from '../../../operator/src/kube/index.ts';
import type { EventInput } from '../../../operator/src/kube/events.ts';
import { silentLogger } from '../../../operator/src/runtime/logger.ts';
import type { ReconcileContext } from '../../../operator/src/runtime/controller.ts';

type Obj = KubeObject & Record<string, unknown>;

const keyOf = (type: ResourceType, namespace: string | undefined, name: string) => `${type.plural}|${type.namespaced ? namespace ?? '' : ''}|${name}`;
const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** The API calls of a reconcile, in order. */
export class ActionLog {
  readonly lines: string[] = [];
  /** The body of each write, by its line's index. */
  readonly bodies = new Map<number, unknown>();
  add(line: string, body?: unknown): void {
    if (body !== undefined) this.bodies.set(this.lines.length, structuredClone(body));
    this.lines.push(line);
  }
  /** The body of the first write whose line is `line`. */
  body<T = Obj>(line: string): T {
    const i = this.lines.indexOf(line);
    if (i < 0 || !this.bodies.has(i)) throw new Error(`no write ${line} in:\n${this.lines.join('\n')}`);
    return this.bodies.get(i) as T;
  }
}

type ClientCalls = Pick<KubeClient, 'get' | 'create' | 'apply' | 'mergePatch' | 'delete'>;

/**
 * The API server as a map of objects: reads answer from it, writes change it (a status apply sets
 * `status`; any other apply merges like a single field manager's; a merge patch of `scale` sets the
 * Deployment's replicas) and bump resourceVersion.
 */
export class RecordingClient implements ClientCalls {
  readonly log: ActionLog;
  readonly #objects = new Map<string, Obj>();
  #rv = 1000;

  constructor(log = new ActionLog()) { this.log = log; }

  /** Puts an object in place without recording a call. */
  seed(type: ResourceType, obj: Record<string, unknown>): Obj {
    const o = structuredClone(obj) as Obj;
    o.metadata = { uid: `uid-${String(o.metadata.name)}`, generation: 1, ...o.metadata, resourceVersion: String(++this.#rv) };
    o.apiVersion ??= type.group ? `${type.group}/${type.version}` : type.version;
    o.kind ??= type.kind;
    this.#objects.set(keyOf(type, o.metadata.namespace, o.metadata.name ?? ''), o);
    return structuredClone(o);
  }

  /** The object as the "API server" holds it now. */
  object<T = Obj>(type: ResourceType, namespace: string | undefined, name: string): T | undefined {
    const o = this.#objects.get(keyOf(type, namespace, name));
    return o === undefined ? undefined : structuredClone(o) as T;
  }

  async get<T extends KubeObject = KubeObject>(type: ResourceType, namespace: string | undefined, name: string): Promise<T | undefined> {
    this.#record('get', type, namespace, name);
    return this.object<T>(type, namespace, name);
  }

  async create<T extends KubeObject = KubeObject>(type: ResourceType, obj: T): Promise<T> {
    const { namespace, name = '' } = obj.metadata;
    this.#record('create', type, namespace, name, undefined, obj);
    if (this.#objects.has(keyOf(type, namespace, name))) throw new KubeApiError({ code: 409, reason: 'AlreadyExists', message: `${type.plural} "${name}" already exists` });
    return this.seed(type, obj) as unknown as T;
  }

  async apply<T extends KubeObject = KubeObject>(type: ResourceType, obj: KubeObject, opts: Parameters<KubeClient['apply']>[2] = {}): Promise<T> {
    const { namespace, name = '' } = obj.metadata;
    this.#record('apply', type, namespace, name, opts.subresource, obj);
    const current = this.#objects.get(keyOf(type, namespace, name));
    if (opts.subresource === 'status') {
      if (!current) throw notFound(type, name);
      return this.#store(type, { ...current, status: structuredClone(obj.status) }) as unknown as T;
    }
    const { metadata, ...rest } = obj;
    const merged = mergePatch(current ?? { metadata: {} }, rest) as Obj;
    merged.metadata = { ...(current?.metadata ?? {}), ...(metadata.labels ? { labels: metadata.labels } : {}), name, ...(namespace ? { namespace } : {}) };
    return this.#store(type, merged) as unknown as T;
  }

  async mergePatch<T extends KubeObject = KubeObject>(type: ResourceType, namespace: string | undefined, name: string, patch: unknown, opts: Parameters<KubeClient['mergePatch']>[4] = {}): Promise<T> {
    this.#record('patch', type, namespace, name, opts.subresource, patch);
    const current = this.#objects.get(keyOf(type, namespace, name));
    if (!current) throw notFound(type, name);
    return this.#store(type, mergePatch(current, patch) as Obj) as unknown as T;
  }

  async delete(type: ResourceType, namespace: string | undefined, name: string): Promise<boolean> {
    this.#record('delete', type, namespace, name);
    return this.#objects.delete(keyOf(type, namespace, name));
  }

  #store(type: ResourceType, obj: Obj): Obj {
    obj.metadata = { ...obj.metadata, resourceVersion: String(++this.#rv) };
    this.#objects.set(keyOf(type, obj.metadata.namespace, obj.metadata.name ?? ''), obj);
    return structuredClone(obj);
  }

  #record(verb: string, type: ResourceType, namespace: string | undefined, name: string, subresource?: string, body?: unknown): void {
    this.log.add(`${verb} ${type.plural}${subresource ? `/${subresource}` : ''} ${type.namespaced ? `${namespace ?? ''}/` : ''}${name}`, body);
  }
}

function notFound(type: ResourceType, name: string): KubeApiError {
  return new KubeApiError({ code: 404, reason: 'NotFound', message: `${type.plural} "${name}" not found` });
}

/** Events as the controller asks for them: `event <type> <reason> <namespace>/<name>` in the same log. */
export class RecordingEvents implements Pick<EventRecorder, 'record' | 'ensure' | 'flush'> {
  readonly #log: ActionLog;
  constructor(log: ActionLog) { this.#log = log; }
  record(input: EventInput): void {
    this.#log.add(`event ${input.type} ${input.reason} ${regarding(input)}`, { note: input.note });
  }
  async ensure(input: EventInput & { name: string }): Promise<boolean> {
    this.#log.add(`event ${input.type} ${input.reason} ${regarding(input)}`, { note: input.note, name: input.name });
    return true;
  }
  async flush(): Promise<void> {}
}

function regarding(input: EventInput): string {
  const r = input.regarding as { metadata?: { namespace?: string; name?: string }; namespace?: string; name?: string };
  return `${r.metadata?.namespace ?? r.namespace ?? ''}/${r.metadata?.name ?? r.name ?? ''}`;
}

/** Prometheus answering every query with one value (metric queries are not API calls: not logged). */
export class FixedPrometheus implements Pick<PrometheusProvider, 'query'> {
  readonly #sample: MetricSample;
  constructor(sample: MetricSample) { this.#sample = sample; }
  async query(): Promise<MetricSample> { return this.#sample; }
}

/** An informer's cache holding exactly the objects given. */
export class FixedStore<T extends KubeObject> implements Store<T> {
  readonly #objects: T[];
  readonly hasSynced = true;
  constructor(objects: T[] = []) { this.#objects = objects; }
  get(namespace: string | undefined, name: string): T | undefined {
    return this.#objects.find((o) => o.metadata.namespace === namespace && o.metadata.name === name);
  }
  list(): T[] { return [...this.#objects]; }
  addHandler(_handlers: InformerHandlers<T>): void {}
}

export function reconcileContext(key: string): ReconcileContext {
  return { key, reconcileID: 'test', logger: silentLogger, retries: 0, signal: new AbortController().signal };
}

/**
 * The deps every controller takes, over `api`: the recording client, Events into its log, the real
 * Gateway API router over the same client (route reads and writes are API calls too), a Prometheus
 * and a web check provider answering `sample`, and a clock stopped at `now`.
 */
export function recordedDeps<T extends KubeObject>(api: RecordingClient, objects: T[], now: number, sample: MetricSample = valueSample(0)): Omit<ControllerDeps<T>, 'metrics'> {
  return {
    client: api as unknown as KubeClient,
    informer: new FixedStore(objects),
    logger: silentLogger,
    events: new RecordingEvents(api.log) as unknown as EventRecorder,
    router: new GatewayApiRouter(api),
    prometheus: new FixedPrometheus(sample) as unknown as PrometheusProvider,
    web: new FixedPrometheus(sample) as unknown as WebCheckProvider,
    defaultPrometheusUrl: 'http://prometheus:9090',
    clock: new FakeClock(now),
  };
}
