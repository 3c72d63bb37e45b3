// The flag behind the service's own admin endpoint — the playbook's
//   curl -X POST …/admin/flags -H "Authorization: Bearer $ADMIN_TOKEN" -d '{"flag":"v2_enabled","enabled":true}'
// as a request template: {{value}} in the body becomes true/false (OnOff) or the percentage, the token
// comes from a Secret at every call (never logged, never in status), and the call is retried with
// exponential backoff on a network error, 408, 429 or 5xx (got's retry). The answer (status code,
// start of the body, attempts) goes to status. An endpoint cannot be read: the value to restore on
// rollback is the off value. A redirect is not followed (the token goes only where it was configured).
import got, { RequestError, TimeoutError } from 'got';
import type { FeatureFlag } from '../api/migrationslice.ts';
import { Reason } from '../api/conditions.ts';
import { parseDuration } from '../api/duration.ts';
import type { SecretKeyRef } from '../api/secret-ref.ts';
import { FlagWriteError, offValue, redactUrl, type FlagAnswer, type FlagProvider, type FlagReading } from './provider.ts';

/** Reads one key of a Secret; undefined when the Secret or the key does not exist. */
export type SecretValueReader = (namespace: string, ref: SecretKeyRef) => Promise<string | undefined>;

export interface HttpFlagProviderOptions {
  readSecret: SecretValueReader;
  /** First backoff, doubled for each retry, at most maxDelayMs. Default 250 ms. */
  baseDelayMs?: number;
  /** Default 2 s. */
  maxDelayMs?: number;
  userAgent?: string;
}

const RETRY_STATUS = [408, 429, ...Array.from({ length: 100 }, (_, i) => 500 + i)];
const BODY_KEPT = 200;

/** {{value}} in the template replaced by the value (a JSON literal: true, false, 10). */
export function renderFlagBody(template: string, value: string): string {
  return template.replace(/\{\{ *value *\}\}/g, value);
}

export class HttpFlagProvider implements FlagProvider {
  readonly #o: HttpFlagProviderOptions;
  constructor(o: HttpFlagProviderOptions) { this.#o = o; }

  async read(namespace: string, flag: FeatureFlag): Promise<FlagReading> {
    const ref = flag.http!.tokenSecretRef;
    if (ref && (await this.#o.readSecret(namespace, ref)) === undefined) {
      return { problem: { field: 'spec.featureFlag.http.tokenSecretRef', message: `Secret ${namespace}/${ref.name} has no key ${JSON.stringify(ref.key)} (or does not exist)`, reason: Reason.SecretNotFound } };
    }
    return {};
  }

  async set(namespace: string, flag: FeatureFlag, value: string, signal?: AbortSignal): Promise<FlagAnswer> {
    const h = flag.http!;
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': this.#o.userAgent ?? 'cutover' };
    if (h.tokenSecretRef) {
      const token = await this.#o.readSecret(namespace, h.tokenSecretRef);
      if (token === undefined) throw new FlagWriteError('spec.featureFlag.http.tokenSecretRef', Reason.SecretNotFound, `Secret ${namespace}/${h.tokenSecretRef.name} has no key ${JSON.stringify(h.tokenSecretRef.key)} (or does not exist)`);
      headers.authorization = `Bearer ${token}`;
    }
    const where = `${h.method} ${redactUrl(h.url)}`;
    const timeoutMs = parseDuration(h.timeout);
    const base = this.#o.baseDelayMs ?? 250;
    const max = this.#o.maxDelayMs ?? 2000;
    let status: number;
    let text: string;
    let attempts: number;
    try {
      const res = await got(h.url, {
        method: h.method,
        headers,
        body: renderFlagBody(h.body, value),
        timeout: { request: timeoutMs },
        ...(signal ? { signal } : {}),
        throwHttpErrors: false,
        followRedirect: false,
        responseType: 'text',
        retry: {
          limit: h.retries,
          // Setting a flag to a value is idempotent: the same request again is safe.
          methods: ['POST', 'PUT', 'PATCH'],
          statusCodes: RETRY_STATUS,
          maxRetryAfter: Number.POSITIVE_INFINITY,
          calculateDelay: ({ attemptCount, retryAfter, computedValue }) => (computedValue === 0 ? 0
            : retryAfter !== undefined && retryAfter > 0 ? Math.min(retryAfter, max) : Math.min(max, base * 2 ** (attemptCount - 1))),
        },
      });
      status = res.statusCode;
      text = res.body;
      attempts = res.retryCount + 1;
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (!(err instanceof RequestError)) throw err;
      const n = (err.request?.retryCount ?? 0) + 1;
      const why = err instanceof TimeoutError ? `did not answer within ${h.timeout}` : `unreachable: ${err.code || err.message}`;
      throw new FlagWriteError('spec.featureFlag.http.url', Reason.FlagNotSet, `${where} ${why} (${n} attempt${n === 1 ? '' : 's'})`);
    }
    const body = text.replace(/\s+/g, ' ').trim().slice(0, BODY_KEPT);
    const answer: FlagAnswer = { status, attempts, ...(body ? { body } : {}) };
    if (status < 200 || status >= 300) {
      const field = status === 401 || status === 403 ? 'spec.featureFlag.http.tokenSecretRef' : 'spec.featureFlag.http';
      throw new FlagWriteError(field, Reason.FlagNotSet, `${where} answered HTTP ${status} (${attempts} attempt${attempts === 1 ? '' : 's'})${body ? `: ${body}` : ''}`, answer);
    }
    return answer;
  }

  restore(namespace: string, flag: FeatureFlag, _previous: string | undefined, signal?: AbortSignal): Promise<FlagAnswer> {
    return this.set(namespace, flag, offValue(flag), signal);
  }
}
