// Outbound webhooks on phase changes: a Slack-compatible JSON body (`text` is what Slack and most
// chat tools show; `cutover` carries the structured change for other receivers), optionally signed
// the same way the operator's own /hooks/rollback expects: HMAC-SHA256 over `${timestamp}.${body}`
// in `X-Cutover-Signature: sha256=<hex>`, with `X-Cutover-Timestamp` (Unix seconds).
//
// Delivery retries with exponential backoff on network errors, timeouts, 408, 429 and 5xx; any
// other 4xx is the receiver refusing the message and is not retried.
import { createHmac } from 'node:crypto';
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
  maxDelayMs?: number;
  /** Per-attempt timeout; default 5 s. */
  timeoutMs?: number;
  userAgent?: string;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface DeliveryResult { ok: boolean; attempts: number; status?: number; error?: string }

/** POSTs `payload` to `url`, retrying as described above. Never throws: the result says how it went. */
export async function deliverWebhook(url: string, payload: unknown, secret: string | undefined, opts: DeliveryOptions = {}): Promise<DeliveryResult> {
  const attempts = Math.max(1, opts.attempts ?? 5);
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const body = JSON.stringify(payload);
  let last: DeliveryResult = { ok: false, attempts: 0 };
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let retryAfterMs: number | undefined;
    try {
      // Signed per attempt: a retry carries a fresh timestamp, so receivers with a replay window accept it.
      const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': opts.userAgent ?? 'cutover', ...(secret ? signatureHeaders(secret, body, now()) : {}) };
      const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(opts.timeoutMs ?? 5000), redirect: 'error' });
      await res.arrayBuffer().catch(() => undefined);
      last = { ok: res.ok, attempts: attempt, status: res.status };
      if (res.ok) return last;
      if (res.status < 500 && res.status !== 408 && res.status !== 429) return { ...last, error: `refused with HTTP ${res.status}` };
      const ra = Number(res.headers.get('retry-after'));
      if (Number.isFinite(ra) && ra > 0) retryAfterMs = ra * 1000;
      last.error = `HTTP ${res.status}`;
    } catch (err) {
      last = { ok: false, attempts: attempt, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
    }
    if (attempt < attempts) {
      const base = Math.min(opts.maxDelayMs ?? 30_000, (opts.baseDelayMs ?? 500) * 2 ** (attempt - 1));
      await sleep(retryAfterMs !== undefined ? Math.min(retryAfterMs, opts.maxDelayMs ?? 30_000) : base * (0.8 + Math.random() * 0.4));
    }
  }
  return last;
}
