// Outbound webhooks on phase changes: a Slack-compatible JSON body (`text` is what Slack and most
// chat tools show; `cutover` carries the structured change for other receivers), optionally signed
// the same way the operator's own /hooks/rollback expects: HMAC-SHA256 over `${timestamp}.${body}`
// in `X-Cutover-Signature: sha256=<hex>`, with `X-Cutover-Timestamp` (Unix seconds).
//
// Delivery retries with exponential backoff on network errors, timeouts, 408, 429 and 5xx, waiting
// as a Retry-After says (at most maxDelayMs); any other 4xx is the receiver refusing the message and
// is not retried.
import { createHmac } from 'node:crypto';
import got, { RequestError } from 'got';
import { isFailure, isSuccess, summary, type PhaseChange } from './change.ts';

export interface WebhookBody {
  text: string;
  cutover: {
    kind: string; namespace: string; name: string; uid: string; run: string;
    from: string | null; to: string; message: string; at: string;
    weight?: number; step?: number; steps?: number;
    rollback?: { trigger: string; reason: string };
  };
}

export function webhookBody(c: PhaseChange): WebhookBody {
  const icon = isFailure(c.to) ? ':rotating_light:' : isSuccess(c.to) ? ':white_check_mark:' : c.to === 'Paused' ? ':double_vertical_bar:' : ':arrows_counterclockwise:';
  return {
    text: `${icon} ${summary(c)}`,
    cutover: {
      kind: c.kind, namespace: c.namespace, name: c.name, uid: c.uid, run: c.run,
      from: c.from ?? null, to: c.to, message: c.message, at: c.at,
      ...(c.weight !== undefined ? { weight: c.weight } : {}),
      ...(c.step !== undefined ? { step: c.step } : {}),
      ...(c.steps !== undefined ? { steps: c.steps } : {}),
      ...(c.rollback ? { rollback: c.rollback } : {}),
    },
  };
}

/** Headers that sign `body` with `secret` at `nowMs`. */
export function signatureHeaders(secret: string, body: string, nowMs: number): Record<string, string> {
  const ts = String(Math.floor(nowMs / 1000));
  return {
    'x-cutover-timestamp': ts,
    'x-cutover-signature': `sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`,
  };
}

export interface DeliveryOptions {
  /** Attempts in all; default 5. */
  attempts?: number;
  /** First backoff; doubled each time, with ±20% jitter, at most maxDelayMs. Default 500 ms. */
  baseDelayMs?: number;
  /** Longest wait between attempts, also for a longer Retry-After; default 30 s. */
  maxDelayMs?: number;
  /** Per-attempt timeout; default 5 s. */
  timeoutMs?: number;
  userAgent?: string;
  now?: () => number;
}

export interface DeliveryResult { ok: boolean; attempts: number; status?: number; error?: string }

/** Retried answers: 408, 429 and every 5xx. */
const RETRY_STATUS = [408, 429, ...Array.from({ length: 100 }, (_, i) => 500 + i)];
/** Retried errors: got's network errors and timeouts, an unreachable host, and a redirect (never followed: a
 * signed body goes only where it was configured to). */
const RETRY_ERRORS = ['ETIMEDOUT', 'ECONNRESET', 'EADDRINUSE', 'ECONNREFUSED', 'EPIPE', 'ENOTFOUND', 'ENETUNREACH', 'EAI_AGAIN', 'EHOSTUNREACH', 'ERR_TOO_MANY_REDIRECTS'];

/** POSTs `payload` to `url`, retrying as described above (got's retry). Never throws: the result says how it went. */
export async function deliverWebhook(url: string, payload: unknown, secret: string | undefined, opts: DeliveryOptions = {}): Promise<DeliveryResult> {
  const attempts = Math.max(1, opts.attempts ?? 5);
  const now = opts.now ?? Date.now;
  const baseDelayMs = opts.baseDelayMs ?? 500;
  const maxDelayMs = opts.maxDelayMs ?? 30_000;
  const body = JSON.stringify(payload);
  try {
    const res = await got.post(url, {
      body,
      headers: { 'content-type': 'application/json', 'user-agent': opts.userAgent ?? 'cutover' },
      timeout: { request: opts.timeoutMs ?? 5000 },
      maxRedirects: 0,
      throwHttpErrors: false,
      retry: {
        limit: attempts - 1,
        methods: ['POST'],
        statusCodes: RETRY_STATUS,
        errorCodes: RETRY_ERRORS,
        // A Retry-After is honoured up to maxDelayMs, never a reason to give up (got's default cancels past it).
        maxRetryAfter: Number.POSITIVE_INFINITY,
        calculateDelay: ({ attemptCount, retryAfter }) => retryAfter !== undefined && retryAfter > 0
          ? Math.min(retryAfter, maxDelayMs)
          : Math.min(maxDelayMs, baseDelayMs * 2 ** (attemptCount - 1)) * (0.8 + Math.random() * 0.4),
      },
      hooks: {
        // Signed per attempt: a retry carries a fresh timestamp, so receivers with a replay window accept it.
        beforeRequest: [(o) => { if (secret) Object.assign(o.headers, signatureHeaders(secret, body, now())); }],
      },
    });
    const result = { ok: res.statusCode >= 200 && res.statusCode < 300, attempts: res.retryCount + 1, status: res.statusCode };
    if (result.ok) return result;
    return { ...result, error: RETRY_STATUS.includes(res.statusCode) ? `HTTP ${res.statusCode}` : `refused with HTTP ${res.statusCode}` };
  } catch (err) {
    const attempt = err instanceof RequestError ? (err.request?.retryCount ?? 0) + 1 : 1;
    return { ok: false, attempts: attempt, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
}
