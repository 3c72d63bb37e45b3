// Prometheus metric provider: instant queries against the HTTP API (`POST /api/v1/query`), and
// range queries (`POST /api/v1/query_range`) for the statistical judge.
//
// Contract (DESIGN §2 "never promote on missing data"):
//   scalar, or a vector with exactly one sample, holding a finite number → value
//   empty vector, several series, NaN, ±Inf, a Prometheus error (5xx, 422), a timeout or an
//   unreachable server                                                      → inconclusive
//   a query Prometheus rejects (HTTP 400 bad_data), a range-vector or string result, an unknown
//   template variable, an invalid address                                    → rejected
//
// Identical queries to the same address that are in flight at the same time share one HTTP
// request: with hundreds of shifts analysing the same service every interval, Prometheus sees each
// distinct query once per round. Range queries end at now rounded down to their step, so the same
// range asked within one step is shared too.

import { setTimeout as sleep } from 'node:timers/promises';
import got, { RequestError, TimeoutError } from 'got';
import { counter, histogram, registry as defaultRegistry, type Counter, type Histogram, type Registry } from '../runtime/metrics.ts';
import { inconclusiveSample, rejectedSample, valueSample, type RangeMetricProvider, type MetricSample, type QueryRange, type SeriesSample } from './provider.ts';
import { renderTemplate, TemplateError, type TemplateVars } from './template.ts';

/** The `prometheus` block of an analysis metric (only the fields this provider reads). */
export interface PrometheusQuerySpec {
  /** Overrides the operator-wide default address, e.g. `http://prometheus.monitoring:9090`. */
  address?: string | undefined;
  /** PromQL with `{{…}}` placeholders (see template.ts). */
  query: string;
}

export interface PrometheusProviderOptions {
  /** Address used when a spec has none (operator configuration). */
  defaultAddress: string;
  /** Budget for one measurement, retries included. Default 5000 ms. */
  timeoutMs?: number;
  /** Extra attempts after a network error or a 5xx. Default 2. */
  retries?: number;
  /** Delay before the first retry, doubled for each further one. Default 100 ms. */
  retryDelayMs?: number;
  /** Where the provider's metrics are registered. Default: the process registry (runtime/metrics.ts). */
  registry?: Registry;
}

export type PrometheusQueryResult = 'value' | 'inconclusive' | 'rejected';

export const DEDUPLICATED_METRIC = 'cutover_prometheus_queries_deduplicated_total';
export const DURATION_METRIC = 'cutover_prometheus_query_duration_seconds';

interface ProviderMetrics {
  deduplicated: Counter;
  duration: Histogram<'result'>;
}

// Several providers (tests, or one per config reload) may share a registry: the metrics are
// get-or-create (runtime/metrics.ts).
function providerMetrics(registry: Registry): ProviderMetrics {
  return {
    deduplicated: counter({
      name: DEDUPLICATED_METRIC,
      help: 'Prometheus queries answered by an identical query already in flight (no extra request sent).',
      registry,
    }),
    duration: histogram({
      name: DURATION_METRIC,
      help: 'Duration of Prometheus instant queries, retries included, by result (value, inconclusive, rejected).',
      labelNames: ['result'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registry,
    }),
  };
}

/** The JSON envelope of the Prometheus HTTP API. */
interface ApiResponse {
  status?: unknown;
  data?: { resultType?: unknown; result?: unknown };
  errorType?: unknown;
  error?: unknown;
}

type Attempt<T> = { done: T } | { retry: string };

/** An instant or a range query: where it goes, what it sends, how its `data` is read. */
interface Request<T extends MetricSample | SeriesSample> {
  path: 'api/v1/query' | 'api/v1/query_range';
  form: Record<string, string>;
  interpret: (data: ApiResponse['data']) => T;
}

const INSTANT: Omit<Request<MetricSample>, 'form'> = { path: 'api/v1/query', interpret: interpretData };
const RANGE: Omit<Request<SeriesSample>, 'form'> = { path: 'api/v1/query_range', interpret: interpretMatrix };

export class PrometheusProvider implements RangeMetricProvider<PrometheusQuerySpec> {
  readonly name = 'prometheus';
  readonly #defaultAddress: string;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #retryDelayMs: number;
  readonly #metrics: ProviderMetrics;
  readonly #inFlight = new Map<string, Promise<MetricSample | SeriesSample>>();

  constructor(options: PrometheusProviderOptions) {
    this.#defaultAddress = options.defaultAddress;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#retries = options.retries ?? 2;
    this.#retryDelayMs = options.retryDelayMs ?? 100;
    this.#metrics = providerMetrics(options.registry ?? defaultRegistry);
  }

  async query(spec: PrometheusQuerySpec, vars: TemplateVars, signal?: AbortSignal): Promise<MetricSample> {
    let promql: string;
    try {
      promql = renderTemplate(spec.query, vars);
    } catch (err) {
      if (err instanceof TemplateError) return rejectedSample(err.message);
      throw err;
    }
    return this.instantQuery(spec.address ?? this.#defaultAddress, promql, signal);
  }

  /**
   * Runs an already rendered PromQL query. Callers asking for the same address and query while a
   * request is in flight get its result. `signal` only stops this caller's wait; the shared request
   * keeps its own deadline so other callers are not affected.
   */
  instantQuery(address: string, promql: string, signal?: AbortSignal): Promise<MetricSample> {
    return this.#shared(address, { ...INSTANT, form: { query: promql } }, signal);
  }

  async queryRange(spec: PrometheusQuerySpec, vars: TemplateVars, range: QueryRange, signal?: AbortSignal): Promise<SeriesSample> {
    let promql: string;
    try {
      promql = renderTemplate(spec.query, vars);
    } catch (err) {
      if (err instanceof TemplateError) return rejectedSample(err.message) as SeriesSample;
      throw err;
    }
    return this.rangeQuery(spec.address ?? this.#defaultAddress, promql, range, Date.now(), signal);
  }

  /**
   * Runs an already rendered PromQL range query over the `range.windowSeconds` before `nowMs`
   * (rounded down to the step), one point per `range.stepSeconds`. Shared like `instantQuery`.
   */
  rangeQuery(address: string, promql: string, range: QueryRange, nowMs: number, signal?: AbortSignal): Promise<SeriesSample> {
    const step = range.stepSeconds;
    const end = Math.floor(nowMs / 1000 / step) * step;
    const form = { query: promql, start: String(end - range.windowSeconds), end: String(end), step: String(step) };
    return this.#shared(address, { ...RANGE, form }, signal);
  }

  #shared<T extends MetricSample | SeriesSample>(address: string, request: Request<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    const base = normaliseAddress(address);
    if (base === null) return Promise.resolve(rejectedSample(`invalid Prometheus address "${address}"`) as T);
    const key = `${base}\n${request.path}\n${JSON.stringify(request.form)}`;
    let shared = this.#inFlight.get(key) as Promise<T> | undefined;
    if (shared) {
      this.#metrics.deduplicated.inc();
    } else {
      shared = this.#measure(base, request).finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, shared);
    }
    return untilAborted(shared, signal);
  }

  /** Number of distinct queries currently in flight (for tests and debugging). */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  async #measure<T extends MetricSample | SeriesSample>(base: string, request: Request<T>): Promise<T> {
    const started = performance.now();
    const sample = await this.#withRetries(base, request);
    this.#metrics.duration.observe({ result: sample.kind }, (performance.now() - started) / 1000);
    return sample;
  }

  async #withRetries<T extends MetricSample | SeriesSample>(base: string, request: Request<T>): Promise<T> {
    const deadline = performance.now() + this.#timeoutMs;
    const url = new URL(request.path, base).toString();
    let lastProblem = '';
    for (let attempt = 0; attempt <= this.#retries; attempt++) {
      if (attempt > 0) {
        const delay = Math.min(this.#retryDelayMs * 2 ** (attempt - 1), deadline - performance.now());
        if (delay > 0) await sleep(delay);
      }
      const remaining = Math.floor(deadline - performance.now());
      if (remaining <= 0) break;
      const outcome = await this.#attempt(url, base, request, remaining);
      if ('done' in outcome) return outcome.done;
      lastProblem = outcome.retry;
    }
    const tries = this.#retries + 1;
    return inconclusiveSample(lastProblem
      ? `${lastProblem} (gave up after ${tries} attempt${tries === 1 ? '' : 's'} within ${this.#timeoutMs} ms)`
      : `Prometheus ${base} did not answer within ${this.#timeoutMs} ms`) as T;
  }

  async #attempt<T extends MetricSample | SeriesSample>(url: string, base: string, request: Request<T>, timeoutMs: number): Promise<Attempt<T>> {
    let statusCode: number;
    let text: string;
    try {
      const response = await got.post(url, {
        form: request.form,
        timeout: { request: timeoutMs },
        retry: { limit: 0 }, // retries are ours: one deadline across attempts
        throwHttpErrors: false,
        followRedirect: false,
        responseType: 'text',
      });
      statusCode = response.statusCode;
      text = response.body;
    } catch (err) {
      if (err instanceof TimeoutError) {
        return { done: inconclusiveSample(`Prometheus ${base} did not answer within ${this.#timeoutMs} ms`) as T };
      }
      if (err instanceof RequestError) return { retry: `Prometheus ${base} unreachable: ${err.code || err.message}` };
      throw err;
    }

    const body = parseJson(text);
    if (statusCode >= 200 && statusCode < 300 && body?.status === 'success') {
      return { done: request.interpret(body.data) };
    }
    const detail = body && typeof body.error === 'string'
      ? `${typeof body.errorType === 'string' ? body.errorType : 'error'}: ${body.error}`
      : `HTTP ${statusCode}`;
    if (statusCode === 400 && body?.errorType === 'bad_data') {
      return { done: rejectedSample(`Prometheus rejected the query: ${body.error as string}`) as T };
    }
    if (statusCode >= 500) return { retry: `Prometheus ${base} error (HTTP ${statusCode}) ${detail}` };
    return { done: inconclusiveSample(`Prometheus ${base} error (HTTP ${statusCode}) ${detail}`) as T };
  }
}

/** Maps the `data` of a successful instant query to a sample. Exported for unit tests. */
export function interpretData(data: ApiResponse['data']): MetricSample {
  const resultType = data?.resultType;
  const result = data?.result;
  if (resultType === 'scalar' && Array.isArray(result)) return parseSampleValue(result[1]);
  if (resultType === 'vector' && Array.isArray(result)) {
    if (result.length === 0) return inconclusiveSample('no data: the query returned an empty vector');
    if (result.length > 1) {
      return inconclusiveSample(`the query returned ${result.length} series, expected 1 (aggregate it, e.g. with sum())`);
    }
    const only = result[0] as { value?: unknown } | undefined;
    return parseSampleValue(Array.isArray(only?.value) ? only.value[1] : undefined);
  }
  if (resultType === 'matrix') {
    return rejectedSample('the query returns a range vector; an instant query must return one number (use e.g. rate() over the range)');
  }
  if (resultType === 'string') return rejectedSample('the query returns a string, not a number');
  return inconclusiveSample(`unexpected Prometheus result type ${JSON.stringify(resultType)}`);
}

/**
 * Maps the `data` of a successful range query to a series: one series expected (none gives no
 * values), NaN and ±Inf points dropped (Kayenta's `nanStrategy: remove`). Exported for unit tests.
 */
export function interpretMatrix(data: ApiResponse['data']): SeriesSample {
  const resultType = data?.resultType;
  const result = data?.result;
  if (resultType !== 'matrix' || !Array.isArray(result)) {
    if (resultType === 'string') return rejectedSample('the query returns a string, not a number') as SeriesSample;
    return inconclusiveSample(`unexpected Prometheus range result type ${JSON.stringify(resultType)}`) as SeriesSample;
  }
  if (result.length === 0) return { kind: 'values', values: [] };
  if (result.length > 1) {
    return inconclusiveSample(`the query returned ${result.length} series, expected 1 (aggregate it, e.g. with sum())`) as SeriesSample;
  }
  const points = (result[0] as { values?: unknown } | undefined)?.values;
  if (!Array.isArray(points)) return inconclusiveSample('malformed Prometheus range result (no values)') as SeriesSample;
  const values: number[] = [];
  for (const p of points) {
    const raw: unknown = Array.isArray(p) ? p[1] : undefined;
    const v = typeof raw === 'string' ? Number(raw) : NaN;
    if (Number.isFinite(v)) values.push(v);
  }
  return { kind: 'values', values };
}

// Prometheus encodes sample values as strings: "0.034", "NaN", "+Inf", "-Inf".
function parseSampleValue(raw: unknown): MetricSample {
  if (typeof raw !== 'string') return inconclusiveSample('malformed Prometheus sample (no value)');
  if (raw === 'NaN') return inconclusiveSample('value is NaN (no requests in the window?)');
  if (raw === '+Inf' || raw === 'Inf' || raw === '-Inf') return inconclusiveSample(`value is ${raw}`);
  const value = Number(raw);
  if (!Number.isFinite(value)) return inconclusiveSample(`value ${JSON.stringify(raw)} is not a finite number`);
  return valueSample(value);
}

function parseJson(text: string): ApiResponse | null {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' ? (parsed as ApiResponse) : null;
  } catch {
    return null;
  }
}

/** `http(s)://host[:port][/prefix]` → the same with exactly one trailing slash; null if invalid. */
function normaliseAddress(address: string): string | null {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  url.search = '';
  url.hash = '';
  return url.toString().replace(/\/*$/, '/');
}

function untilAborted<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => { signal.removeEventListener('abort', onAbort); resolve(value); },
      (err: unknown) => { signal.removeEventListener('abort', onAbort); reject(err); },
    );
  });
}
