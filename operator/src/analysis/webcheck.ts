// Web check provider: one HTTP(S) call per measurement (got, with its retry), the JSON answer read
// at a JSONPath singular query (./jsonpath.ts). The value is judged by the metric's thresholds like
// a Prometheus value (./evaluate.ts).
//
// Contract (DESIGN §2 "never promote on missing data"):
//   a 2xx JSON answer with a finite number (or a string holding one) at jsonPath → value
//   a timeout, a non-2xx answer (after the retries), an unreachable server, a body that is not JSON,
//   a missing path, a value that is not a number, an unreadable Secret      → inconclusive
//   a template error in url/body, a Secret or key that does not exist          → rejected
//
// Secrets: header values and bodies read from Secrets are sent and forgotten. No message this
// provider returns, and so no status, Event or log line built from it, holds a header value, a
// request body or a response body (an endpoint may echo what it was sent).
import got, { HTTPError, RequestError, TimeoutError } from 'got';
import type { SecretKeyRef } from '../api/secret-ref.ts';
import type { WebCheck } from '../api/webcheck.ts';
import { parseDuration } from '../api/duration.ts';
import { counter, histogram, registry as defaultRegistry, type Counter, type Histogram, type Registry } from '../runtime/metrics.ts';
import { JsonPathError, parseSingularPath, selectPath, type PathSegment } from './jsonpath.ts';
import { inconclusiveSample, rejectedSample, valueSample, type MetricProvider, type MetricSample } from './provider.ts';
import { renderTemplate, TemplateError, type TemplateVars } from './template.ts';

/** Reads one key of a Secret; undefined when the Secret or the key does not exist. */
export type SecretValueReader = (namespace: string, ref: SecretKeyRef) => Promise<string | undefined>;

/** What the provider measures: a metric's `web` block, in the namespace of its resource. */
export interface WebCheckSpec {
  namespace: string;
  web: WebCheck;
}

export interface WebCheckProviderOptions {
  /** Reads header values and bodies from Secrets (the kube layer's reader in the operator). */
  readSecret: SecretValueReader;
  /** Delay before the first retry, doubled for each further one, at most 1 s. Default 100 ms. */
  retryDelayMs?: number;
  /**
   * How long a Secret's value read for a check is reused (per namespace, Secret and key): a shift
   * checking every 30 s does not read its Secret from the API server each time; a rotated value is
   * picked up within this time. Default 30 s; 0 reads at every check. A missing Secret is not cached.
   */
  secretTtlMs?: number;
  /** Clock of the Secret cache (tests). Default performance.now. */
  now?: () => number;
  registry?: Registry;
}

export const WEB_DURATION_METRIC = 'cutover_web_check_duration_seconds';
export const WEB_REQUESTS_METRIC = 'cutover_web_check_requests_total';

/** The statuses retried (got's list less 413 and Cloudflare's: what a retry can fix). */
const RETRY_STATUS = [408, 429, 500, 502, 503, 504];

/** A JSON number, or a string holding exactly one (some services quote decimals). */
const NUMERIC_STRING = /^\s*-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/;

interface ProviderMetrics {
  duration: Histogram<'result'>;
  requests: Counter<'code'>;
}

function providerMetrics(registry: Registry): ProviderMetrics {
  return {
    duration: histogram({
      name: WEB_DURATION_METRIC,
      help: 'Duration of web checks, retries included, by result (value, inconclusive, rejected).',
      labelNames: ['result'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registry,
    }),
    requests: counter({
      name: WEB_REQUESTS_METRIC,
      help: 'HTTP requests sent by web checks (retries included), by answer: the status code, or timeout / error when none came.',
      labelNames: ['code'],
      registry,
    }),
  };
}

class SecretMissing extends Error {}

export class WebCheckProvider implements MetricProvider<WebCheckSpec> {
  readonly name = 'web';
  readonly #readSecret: SecretValueReader;
  readonly #retryDelayMs: number;
  readonly #secretTtlMs: number;
  readonly #now: () => number;
  readonly #secrets = new Map<string, { value: string; until: number }>();
  readonly #metrics: ProviderMetrics;

  constructor(options: WebCheckProviderOptions) {
    this.#readSecret = options.readSecret;
    this.#retryDelayMs = options.retryDelayMs ?? 100;
    this.#secretTtlMs = options.secretTtlMs ?? 30_000;
    this.#now = options.now ?? (() => performance.now());
    this.#metrics = providerMetrics(options.registry ?? defaultRegistry);
  }

  async query(spec: WebCheckSpec, vars: TemplateVars, signal?: AbortSignal): Promise<MetricSample> {
    signal?.throwIfAborted();
    const started = performance.now();
    const sample = await this.#measure(spec, vars, signal);
    this.#metrics.duration.observe({ result: sample.kind }, (performance.now() - started) / 1000);
    return sample;
  }

  async #measure({ namespace, web }: WebCheckSpec, vars: TemplateVars, signal?: AbortSignal): Promise<MetricSample> {
    let url: string;
    let body: string | undefined;
    let path: PathSegment[];
    try {
      url = renderTemplate(web.url, vars);
      body = web.body === undefined ? undefined : renderTemplate(web.body, vars);
      path = parseSingularPath(web.jsonPath);
    } catch (err) {
      if (err instanceof TemplateError || err instanceof JsonPathError) return rejectedSample(err.message);
      throw err;
    }
    if (!/^https?:\/\/\S+$/.test(url)) return rejectedSample(`url ${JSON.stringify(url)} is not an http(s) URL`);

    const headers: Record<string, string> = {};
    try {
      for (const h of web.headers ?? []) {
        headers[h.name] = h.valueFrom ? await this.#secret(namespace, h.valueFrom.secretKeyRef, `header ${h.name}`) : (h.value ?? '');
      }
      if (web.bodyFrom) body = await this.#secret(namespace, web.bodyFrom.secretKeyRef, 'bodyFrom');
    } catch (err) {
      if (err instanceof SecretMissing) return rejectedSample(err.message);
      signal?.throwIfAborted();
      // The API's message names the Secret and the reason (forbidden, unreachable), never its data.
      return inconclusiveSample(`cannot read a Secret of the web check: ${(err as Error).message}`);
    }

    const timeoutMs = parseDuration(web.timeout);
    const deadline = AbortSignal.timeout(timeoutMs);
    const where = `${web.method} ${redactUrl(url)}`;
    let statusCode: number;
    let text: string;
    let contentType: string | undefined;
    try {
      const response = await got(url, {
        method: web.method,
        headers,
        ...(body !== undefined ? { body } : {}),
        signal: signal ? AbortSignal.any([signal, deadline]) : deadline,
        timeout: { request: timeoutMs },
        retry: {
          limit: web.retries,
          // A web check is a read (a comparison, a count): its POST is retried like its GET.
          methods: ['GET', 'POST'],
          statusCodes: RETRY_STATUS,
          calculateDelay: ({ computedValue, attemptCount }) => (computedValue === 0 ? 0 : Math.min(computedValue, this.#retryDelayMs * 2 ** (attemptCount - 1), 1000)),
        },
        hooks: {
          beforeRetry: [(error) => { this.#metrics.requests.inc({ code: codeOf(error) }); }],
        },
        followRedirect: false, // a redirect is not the answer; and header values never go to another host
        responseType: 'text',
      });
      statusCode = response.statusCode;
      text = response.body;
      contentType = response.headers['content-type'];
      this.#metrics.requests.inc({ code: String(statusCode) });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (!(err instanceof RequestError)) throw err;
      this.#metrics.requests.inc({ code: codeOf(err) });
      const attempts = (err.request?.retryCount ?? 0) + 1;
      const tries = `${attempts} attempt${attempts === 1 ? '' : 's'}`;
      if (err instanceof TimeoutError || deadline.aborted) return inconclusiveSample(`${where} did not answer within ${web.timeout} (${tries})`);
      if (err instanceof HTTPError) return inconclusiveSample(`${where} answered HTTP ${err.response.statusCode} (${tries})`);
      return inconclusiveSample(`${where} unreachable: ${err.code || 'request failed'} (${tries})`);
    }
    if (statusCode < 200 || statusCode >= 300) return inconclusiveSample(`${where} answered HTTP ${statusCode}, expected 2xx`);

    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      return inconclusiveSample(`${where} answered HTTP ${statusCode} with a body that is not JSON (${contentType ?? 'no content-type'}, ${Buffer.byteLength(text)} bytes)`);
    }
    const selected = selectPath(doc, path);
    if (!selected.found) return inconclusiveSample(`${where}: the answer has no ${selected.missing} (jsonPath ${web.jsonPath})`);
    return numberAt(selected.value, web.jsonPath);
  }

  async #secret(namespace: string, ref: SecretKeyRef, what: string): Promise<string> {
    const key = `${namespace}/${ref.name}/${ref.key}`;
    const now = this.#now();
    const cached = this.#secrets.get(key);
    if (cached && cached.until > now) return cached.value;
    this.#secrets.delete(key);
    const value = await this.#readSecret(namespace, ref);
    if (value === undefined) throw new SecretMissing(`${what}: Secret ${namespace}/${ref.name} has no key ${JSON.stringify(ref.key)} (or does not exist)`);
    if (this.#secretTtlMs > 0) {
      // Expired entries go when read again; bound the map for namespaces that stopped checking.
      if (this.#secrets.size >= 10_000) this.#secrets.clear();
      this.#secrets.set(key, { value, until: now + this.#secretTtlMs });
    }
    return value;
  }
}

/** The value at the path as a sample: a finite number, or why it is not one (its type, not its content). */
export function numberAt(value: unknown, jsonPath: string): MetricSample {
  if (typeof value === 'number') {
    return Number.isFinite(value) ? valueSample(value) : inconclusiveSample(`${jsonPath} is not a finite number`);
  }
  if (typeof value === 'string' && NUMERIC_STRING.test(value)) return valueSample(Number(value));
  const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : typeof value === 'string' ? 'a string that is not a number' : `a ${typeof value}`;
  return inconclusiveSample(`${jsonPath} is ${kind}, not a number`);
}

/** The URL as shown in messages: without user info (credentials) and query string values. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    for (const k of [...new Set(u.searchParams.keys())]) u.searchParams.set(k, '…');
    return u.toString().replace(/%E2%80%A6/g, '…');
  } catch {
    return '(invalid url)';
  }
}

function codeOf(err: RequestError): string {
  if (err instanceof HTTPError) return String(err.response.statusCode);
  if (err instanceof TimeoutError) return 'timeout';
  return 'error';
}
