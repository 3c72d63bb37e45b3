// The parity comparator of one run: the gateway's RequestMirror target. It answers every mirrored
// request at once (204; the gateway drops mirror answers anyway) and then, off the user's path,
// replays idempotent requests to the legacy (La), the new service (N) and, on a noise sample, the
// legacy again (Lb), in that order as Diffy does; it scores diff(La, N) as raw and diff(La, Lb) as
// noise into a bounded summary. The legacy is protected: a token bucket of maxLegacyRps (shed,
// never queued), at most maxInFlight replays, a timeout per call, and a breaker. Writes are never
// replayed anywhere. Credentials are forwarded or stripped per the run, and always redacted in
// what is kept.
import { createHash } from 'node:crypto';
import { Agent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseDuration } from '../api/duration.ts';
import type { Parity } from '../api/shadowrun.ts';
import type { Clock } from '../runtime/clock.ts';
import { silentLogger, type Logger } from '../runtime/logger.ts';
import { counter, gauge, histogram, registry as defaultRegistry, type Registry } from '../runtime/metrics.ts';
import { BucketRateLimiter } from '../runtime/ratelimit.ts';
import { ReplayBreaker, type BreakerOptions, type BreakerState } from './breaker.ts';
import { NO_ANSWER, compareAnswers, type Answer, type DiffResult, type FieldDiff } from './diff.ts';
import { REDACTED, redactBody, redactHeaders, redactValue } from './redact.ts';
import { buildReport, type ParityReport, type ReportMeta } from './report.ts';
import { emptySummary, fitSummary, recordComparison, recordSkip, type ParitySummary, type Sample, type SampleAnswer, type SkipReason } from './summary.ts';
import { EndpointBuckets, matchTemplate, type VerdictOptions } from './verdict.ts';

/** Methods replayed without being named in allowMethods. */
export const IDEMPOTENT_METHODS: readonly string[] = ['GET', 'HEAD', 'OPTIONS'];

/** Hop-by-hop headers (RFC 9110 §7.6.1) and conditionals (a 304 against a 200 is not a finding) are not replayed. */
const DROPPED_HEADERS = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range', 'content-length', 'host', 'accept-encoding',
]);
const CREDENTIAL_HEADERS = ['authorization', 'cookie'];
/** Query parameters whose values look like secrets: redacted in kept samples. */
const SECRET_QUERY = /token|key|secret|password|passwd|signature|sig|auth|code|session/i;
const MAX_SAMPLE_HEADERS = 24;
const MAX_SAMPLE_PATH = 2048;

export const PARITY_HEADER = 'x-cutover-parity';

/** `api.example.com-shadow`, `api.example.com-shadow:8080` → without `-shadow` (Envoy marks mirrored requests so). */
export function stripShadowSuffix(host: string): string {
  return host.replace(/-shadow(?=(:\d+)?$)/, '');
}

export interface ComparatorOptions {
  namespace: string;
  name: string;
  /** Base URLs, e.g. http://listings-legacy.shop.svc:8080 */
  legacy: string;
  candidate: string;
  /** The new service's name, the `service` label of the cutover_parity_shadow_* series (default: the first label of the candidate's host name). */
  candidateService?: string;
  /** The run's parity, defaults applied (ParitySchema.parse). */
  parity: Parity;
  /** Monotonic time for the rate limit and the breaker. */
  clock?: Clock;
  /** Wall time for samples and the summary, RFC 3339. */
  now?: () => string;
  random?: () => number;
  breaker?: Partial<BreakerOptions>;
  registry?: Registry;
  logger?: Logger;
  /** Counts carried over from an earlier comparator of the same run (its serialized summary). */
  summary?: ParitySummary;
}

interface Replay {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

type CallResult = { ok: true; answer: Answer; latencyMs: number; stream: boolean } | { ok: false; error: string; latencyMs: number };

const monotonic: Clock = { now: () => performance.now() };

function metricsFor(reg: Registry) {
  const labels = ['namespace', 'shadowrun'] as const;
  return {
    compared: counter({ name: 'cutover_parity_compared_total', help: 'Requests compared legacy vs new, by endpoint bucket and outcome (differ: at least one field differed before noise filtering).', labelNames: [...labels, 'endpoint', 'outcome'], registry: reg }),
    fieldMismatches: counter({ name: 'cutover_parity_field_mismatches_total', help: 'Differing fields legacy vs new, by kind (status, header, body).', labelNames: [...labels, 'endpoint', 'kind'], registry: reg }),
    noiseCompared: counter({ name: 'cutover_parity_noise_compared_total', help: 'Requests the legacy answered twice to measure noise.', labelNames: [...labels, 'endpoint'], registry: reg }),
    skipped: counter({ name: 'cutover_parity_skipped_total', help: 'Mirrored requests not compared, by reason.', labelNames: [...labels, 'reason'], registry: reg }),
    replayDuration: histogram({ name: 'cutover_parity_replay_duration_seconds', help: 'Duration of one replay, by target (legacy, new).', labelNames: [...labels, 'target'], registry: reg }),
    legacyReplays: counter({ name: 'cutover_parity_legacy_replays_total', help: 'Replays sent to the legacy, by status class (2xx … 5xx, error).', labelNames: [...labels, 'code_class'], registry: reg }),
    breakerOpen: gauge({ name: 'cutover_parity_breaker_open', help: '1 while legacy replays are paused by the breaker.', labelNames: [...labels], registry: reg }),
    // The new service's side of the run: with parity on, the comparator (not the gateway) calls it,
    // once per mirrored request, so a ShadowRun's shadow metrics read these series (README, Response parity).
    shadowRequests: counter({ name: 'cutover_parity_shadow_requests_total', help: 'Calls the comparator made to the new (shadow) service, one per mirrored request, by status class (2xx … 5xx, error: no answer).', labelNames: [...labels, 'service', 'code_class'], registry: reg }),
    shadowDuration: histogram({ name: 'cutover_parity_shadow_request_duration_seconds', help: 'Duration of the comparator\'s calls to the new (shadow) service, from sending the request to the end of the answer.', labelNames: [...labels, 'service'], buckets: SHADOW_DURATION_BUCKETS, registry: reg }),
  };
}

/** The buckets of the shadow latency histogram: those of a typical gateway's request histogram, so that a p95 read here compares with the legacy's p95 read at the gateway. */
export const SHADOW_DURATION_BUCKETS: number[] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10];

/** `http://cohortlens-v2.ns.svc:8001` → `cohortlens-v2` (an IP address stays whole). */
export function serviceOfUrl(url: string): string {
  const host = new URL(url).hostname;
  return /^[\d.]+$|^\[/.test(host) ? host : (host.split('.')[0] ?? host);
}

function codeClass(r: CallResult): string {
  return r.ok ? `${Math.floor(r.answer.status / 100)}xx` : 'error';
}

function headerRecord(h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

function samplePath(path: string): string {
  const q = path.indexOf('?');
  let out = path;
  if (q >= 0) {
    const params = path
      .slice(q + 1)
      .split('&')
      .map((p) => {
        const eq = p.indexOf('=');
        const k = eq < 0 ? p : p.slice(0, eq);
        return eq >= 0 && SECRET_QUERY.test(decodeURIComponentSafe(k)) ? `${k}=${REDACTED}` : p;
      });
    out = `${path.slice(0, q)}?${params.join('&')}`;
  }
  return out.length > MAX_SAMPLE_PATH ? `${out.slice(0, MAX_SAMPLE_PATH)}…` : out;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function boundedHeaders(h: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(redactHeaders(h)).slice(0, MAX_SAMPLE_HEADERS)) out[k] = v.length > 256 ? `${v.slice(0, 256)}…` : v;
  return out;
}

function fmt(v: unknown): string {
  if (v === undefined) return '(absent)';
  const s = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

export class Comparator {
  readonly namespace: string;
  readonly name: string;
  readonly #legacy: URL;
  readonly #candidate: URL;
  readonly #candidateService: string;
  readonly #parity: Parity;
  readonly #timeoutMs: number;
  readonly #now: () => string;
  readonly #random: () => number;
  readonly #limiter: BucketRateLimiter;
  readonly #breaker: ReplayBreaker;
  readonly #buckets: EndpointBuckets;
  readonly #summary: ParitySummary;
  readonly #metrics: ReturnType<typeof metricsFor>;
  readonly #log: Logger;
  readonly #agent: Agent;
  readonly #pending = new Set<Promise<void>>();
  #inFlight = 0;
  #breakerWasOpen = false;
  #noiseOwed = false;

  constructor(opts: ComparatorOptions) {
    this.namespace = opts.namespace;
    this.name = opts.name;
    this.#legacy = new URL(opts.legacy);
    this.#candidate = new URL(opts.candidate);
    this.#candidateService = opts.candidateService ?? serviceOfUrl(opts.candidate);
    this.#parity = opts.parity;
    this.#timeoutMs = parseDuration(opts.parity.timeout);
    this.#now = opts.now ?? (() => new Date().toISOString());
    this.#random = opts.random ?? Math.random;
    const clock = opts.clock ?? monotonic;
    // Burst = one second's worth: never more than maxLegacyRps replays in any second from a full bucket.
    this.#limiter = new BucketRateLimiter(opts.parity.maxLegacyRps, Math.max(1, Math.floor(opts.parity.maxLegacyRps)), clock);
    this.#breaker = new ReplayBreaker(clock, opts.breaker);
    this.#buckets = new EndpointBuckets(opts.parity.endpoints ?? []);
    this.#summary = opts.summary ? structuredClone(opts.summary) : emptySummary(this.#now());
    // Endpoints already counted keep their bucket names across a restart.
    for (const ep of Object.keys(this.#summary.endpoints)) {
      const space = ep.indexOf(' ');
      if (space > 0) this.#buckets.bucket(ep.slice(0, space), ep.slice(space + 1));
    }
    this.#metrics = metricsFor(opts.registry ?? defaultRegistry);
    this.#log = (opts.logger ?? silentLogger).child({ shadowrun: `${opts.namespace}/${opts.name}`, component: 'parity' });
    this.#agent = new Agent({ keepAlive: true, maxSockets: opts.parity.maxInFlight * 2 });
  }

  /** The node:http request handler for mirrored requests. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const method = (req.method ?? 'GET').toUpperCase();
    const path = req.url ?? '/';
    const headers = headerRecord(req.headers);
    const answer = (): void => {
      if (!res.headersSent) res.writeHead(204).end();
    };
    // Answered once the request is read whole: answering earlier makes node:http drop the connection.
    const drop = (reason: SkipReason): void => {
      req.on('end', answer).on('error', answer).resume();
      this.#skip(reason);
    };
    if (headers.upgrade !== undefined || /\btext\/event-stream\b/i.test(headers.accept ?? '')) return drop('stream');
    // Never replayed, not even to the new service: mirrored writes must not reach anything.
    if (!this.#replayable(method, path)) return drop('method');
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      if (tooBig) return;
      size += c.length;
      if (size > this.#parity.maxRequestBodyBytes) {
        tooBig = true;
        chunks.length = 0;
      } else chunks.push(c);
    });
    req.on('error', () => answer());
    req.on('end', () => {
      answer();
      if (tooBig) return this.#skip('body');
      this.#track(this.#process({ method, path, headers, body: Buffer.concat(chunks) }));
    });
  };

  /** Resolves when every replay started so far has finished. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  /** A copy of the counts, redacted and bounded per endpoint and field. */
  summary(): ParitySummary {
    return structuredClone(this.#summary);
  }

  /** The summary as JSON, fitted to what a ConfigMap holds (fitSummary: samples go first, counts stay). */
  serialize(): string {
    return JSON.stringify(fitSummary(this.#summary));
  }

  breakerState(): BreakerState {
    return this.#breaker.state();
  }

  verdictOptions(): VerdictOptions {
    return { maxMismatchRatio: this.#parity.maxMismatchRatio, minCompared: this.#parity.minCompared, noise: this.#parity.noise };
  }

  report(meta: Omit<ReportMeta, 'namespace' | 'name' | 'redactJsonPaths'>): ParityReport {
    return buildReport(this.#summary, this.verdictOptions(), { ...meta, namespace: this.namespace, name: this.name, redactJsonPaths: this.#parity.redactJsonPaths ?? [] });
  }

  close(): void {
    this.#agent.destroy();
  }

  #labels(): { namespace: string; shadowrun: string } {
    return { namespace: this.namespace, shadowrun: this.name };
  }

  #skip(reason: SkipReason): void {
    recordSkip(this.#summary, reason, this.#now());
    this.#metrics.skipped.inc({ ...this.#labels(), reason });
  }

  #track(p: Promise<void>): void {
    const tracked = p.catch((err: unknown) => this.#log.error({ err: (err as Error).message }, 'parity replay failed')).finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }

  #replayable(method: string, path: string): boolean {
    if (IDEMPOTENT_METHODS.includes(method)) return true;
    return (this.#parity.allowMethods ?? []).some((t) => matchTemplate(t, method, path));
  }

  #replayHeaders(headers: Readonly<Record<string, string>>, target: URL): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) {
      if (DROPPED_HEADERS.has(k)) continue;
      if (this.#parity.credentials === 'strip' && CREDENTIAL_HEADERS.includes(k)) continue;
      out[k] = v;
    }
    out.host = headers.host !== undefined ? stripShadowSuffix(headers.host) : target.host;
    out['accept-encoding'] = 'identity';
    out[PARITY_HEADER] = `${this.namespace}/${this.name}`;
    return out;
  }

  async #process(r: Replay): Promise<void> {
    if (this.#inFlight >= this.#parity.maxInFlight) return this.#skip('in_flight');
    this.#inFlight += 1;
    try {
      const endpoint = this.#buckets.bucket(r.method, r.path);
      const breakerOpen = !this.#breaker.allow();
      this.#noteBreaker();
      // A noise sample needs two legacy replays: both tokens are taken up front, so that under a
      // tight maxLegacyRps the second replay is not starved by the first replays of later requests.
      // A sample refused for want of tokens is owed: the next requests are samples until one runs.
      const wantNoise = this.#noiseOwed || this.#random() < this.#parity.noise.fraction;
      let skip: SkipReason | undefined;
      if (breakerOpen) skip = 'breaker';
      else if (!this.#limiter.allowN(wantNoise ? 2 : 1)) {
        skip = 'rate_limited';
        if (wantNoise) this.#noiseOwed = true;
      } else if (wantNoise) this.#noiseOwed = false;
      if (skip) {
        // Not compared, but the new service still gets its one copy, as without parity.
        this.#skip(skip);
        await this.#call('new', this.#candidate, r);
        this.#summary.forwardedOnly += 1;
        return;
      }
      const la = await this.#call('legacy', this.#legacy, r);
      const n = await this.#call('new', this.#candidate, r);
      if (!la.ok || la.answer.status >= 500) return this.#skip('legacy_error');
      if ([401, 403, 429].includes(la.answer.status)) return this.#skip('legacy_refused');
      if (la.stream || (n.ok && n.stream)) return this.#skip('stream');
      let lb: CallResult | undefined;
      if (wantNoise && this.#breaker.allow()) lb = await this.#call('legacy', this.#legacy, r);
      const candidate: Answer = n.ok ? n.answer : { status: NO_ANSWER, headers: {}, length: 0, sha256: '' };
      const opts = { compareHeaders: this.#parity.compareHeaders, deviations: this.#parity.deviations ?? [] };
      const raw = compareAnswers(la.answer, candidate, opts);
      const noise = lb?.ok && lb.answer.status < 500 ? compareAnswers(la.answer, lb.answer, opts) : undefined;
      recordComparison(this.#summary, { endpoint, raw, ...(noise ? { noise } : {}), sample: (d) => this.#sample(r, la.answer, candidate, d) }, this.#now());
      this.#count(endpoint, raw, noise !== undefined);
    } finally {
      this.#inFlight -= 1;
    }
  }

  #count(endpoint: string, raw: DiffResult, noiseSampled: boolean): void {
    const l = { ...this.#labels(), endpoint };
    this.#metrics.compared.inc({ ...l, outcome: raw.fields.length > 0 ? 'differ' : 'match' });
    for (const kind of new Set(raw.fields.map((f) => (f.kind === 'status' || f.kind === 'header' ? f.kind : 'body')))) this.#metrics.fieldMismatches.inc({ ...l, kind });
    if (noiseSampled) this.#metrics.noiseCompared.inc(l);
  }

  #noteBreaker(): void {
    const s = this.#breaker.state();
    if (s.open !== this.#breakerWasOpen) {
      this.#breakerWasOpen = s.open;
      this.#metrics.breakerOpen.set(this.#labels(), s.open ? 1 : 0);
      if (s.open) this.#log.warn({ reason: s.reason }, 'legacy replays paused');
      else this.#log.info('legacy replays resumed');
    }
  }

  #sample(r: Replay, legacy: Answer, candidate: Answer, d: FieldDiff): Sample {
    const paths = this.#parity.redactJsonPaths ?? [];
    const keep = (a: Answer): SampleAnswer => {
      const body = redactBody(a.body, paths);
      const headers: Record<string, string> = {};
      for (const k of ['content-type', 'content-length', ...this.#parity.compareHeaders.map((h) => h.toLowerCase())]) {
        const v = a.headers[k];
        if (v !== undefined) headers[k] = v;
      }
      return { status: a.status, headers: boundedHeaders(headers), ...(body !== undefined ? { body } : {}) };
    };
    return {
      at: this.#now(),
      request: { method: r.method, path: samplePath(r.path), headers: boundedHeaders(r.headers) },
      legacy: keep(legacy),
      candidate: keep(candidate),
      difference: `${d.field} (${d.kind}): ${fmt(redactValue(d.field, d.legacy, paths))} → ${fmt(redactValue(d.field, d.candidate, paths))}`,
    };
  }

  #call(target: 'legacy' | 'new', base: URL, r: Replay): Promise<CallResult> {
    const started = performance.now();
    // The legacy's own latency, for the breaker: from the moment the request has a socket (time
    // waiting for a free connection in this process is the comparator's queue, not the legacy's)
    // to the answer's headers (reading the body is paced by this process's event loop).
    let onSocket: number | undefined;
    let answered: number | undefined;
    let settled = false;
    const done = (res: CallResult): CallResult => {
      if (settled) return res;
      settled = true;
      if (!res.ok) this.#log.debug({ target, err: res.error, latencyMs: Math.round(res.latencyMs) }, 'replay failed');
      this.#metrics.replayDuration.observe({ ...this.#labels(), target }, res.latencyMs / 1000);
      const own = (answered ?? performance.now()) - (onSocket ?? started);
      if (target === 'legacy') {
        this.#metrics.legacyReplays.inc({ ...this.#labels(), code_class: codeClass(res) });
        this.#breaker.record(res.ok && res.answer.status < 500, own);
        this.#noteBreaker();
      } else {
        if (res.ok) this.#breaker.recordPeer(own);
        const l = { ...this.#labels(), service: this.#candidateService };
        this.#metrics.shadowRequests.inc({ ...l, code_class: codeClass(res) });
        this.#metrics.shadowDuration.observe(l, res.latencyMs / 1000);
      }
      return res;
    };
    const limit = this.#parity.maxResponseBodyBytes;
    return new Promise<CallResult>((resolve) => {
      const url = new URL(r.path, base);
      const headers = this.#replayHeaders(r.headers, base);
      if (r.body.length > 0) headers['content-length'] = String(r.body.length);
      const req = httpRequest(url, { method: r.method, headers, agent: this.#agent, signal: AbortSignal.timeout(this.#timeoutMs) }, (res) => {
        answered = performance.now();
        const headers = headerRecord(res.headers);
        if (/\btext\/event-stream\b/i.test(headers['content-type'] ?? '')) {
          res.destroy();
          return resolve(done({ ok: true, answer: { status: res.statusCode ?? 0, headers, length: 0, sha256: '' }, latencyMs: performance.now() - started, stream: true }));
        }
        const hash = createHash('sha256');
        const chunks: Buffer[] = [];
        let length = 0;
        res.on('data', (c: Buffer) => {
          hash.update(c);
          length += c.length;
          if (length <= limit) chunks.push(c);
        });
        res.on('end', () => {
          const truncated = length > limit;
          const answer: Answer = { status: res.statusCode ?? 0, headers, length, sha256: hash.digest('hex'), ...(truncated ? { truncated: true } : { body: Buffer.concat(chunks).toString('utf8') }) };
          resolve(done({ ok: true, answer, latencyMs: performance.now() - started, stream: false }));
        });
        res.on('error', (err) => resolve(done({ ok: false, error: err.message, latencyMs: performance.now() - started })));
        res.on('close', () => {
          if (!res.complete) resolve(done({ ok: false, error: 'answer cut short', latencyMs: performance.now() - started }));
        });
      });
      req.once('socket', () => { onSocket = performance.now(); });
      req.on('error', (err) => resolve(done({ ok: false, error: err.message, latencyMs: performance.now() - started })));
      req.end(r.body.length > 0 ? r.body : undefined);
    });
  }
}
