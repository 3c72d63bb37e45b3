// Bounded, open-loop load generator (keep-alive) for the testbed gateway.
//
//   node test/testbed/dataplane/load.ts --url http://127.0.0.1:GATEWAY [--host HOSTNAME] [--path /x]
//        --rps N [--duration 30s] [--count MAX] [--method GET] [--header 'k: v']... [--body TEXT]
//        [--concurrency 256] [--timeout 10s]
//   stdout at the end: one JSON summary line (see LoadSummary). Stops by itself.
import { Agent, request as httpRequest } from 'node:http';
import { flag, numberFlag, parseDuration, parseFlags, requiredFlag, runMain } from './cli-util.ts';

export interface LoadOptions {
  /** Base URL of the gateway, e.g. http://127.0.0.1:8080 */
  url: string;
  /** Host header (the HTTPRoute hostname). Default: the URL's host. */
  host?: string;
  path?: string;
  /** The path of the n-th request (0-based), instead of one `path` for all (e.g. /listings/<n % 100>). */
  pathFor?: (n: number) => string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  rps: number;
  /** Stop sending after this long (default 10 s unless maxRequests is set). */
  durationMs?: number;
  /** Same as durationMs, as "30s" / "500ms" / "2m" or a number of ms. */
  duration?: string | number;
  /** Stop after this many requests. */
  maxRequests?: number;
  /** Alias of maxRequests. */
  max?: number;
  /** Max requests in flight; when reached, sending waits (the schedule catches up). Default 256. */
  concurrency?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface LoadSummary {
  sent: number;
  completed: number;
  /** Transport errors / timeouts (no HTTP status). */
  errors: number;
  byStatus: Record<string, number>;
  /** By the `service` field of JSON answers; "-" when absent. */
  byService: Record<string, number>;
  latencyMs: { p50: number; p95: number; p99: number; max: number; mean: number };
  elapsedMs: number;
  achievedRps: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export async function runLoad(opts: LoadOptions): Promise<LoadSummary> {
  if (!(opts.rps > 0)) throw new Error('rps must be > 0');
  const base = new URL(opts.url);
  const maxRequests = opts.maxRequests ?? opts.max ?? Number.POSITIVE_INFINITY;
  const durationMs =
    opts.durationMs ??
    (typeof opts.duration === 'string' ? parseDuration(opts.duration) : opts.duration) ??
    (maxRequests !== Number.POSITIVE_INFINITY ? Number.POSITIVE_INFINITY : 10_000);
  const concurrency = opts.concurrency ?? 256;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const path = opts.path ?? (base.pathname === '' ? '/' : base.pathname);
  const headers: Record<string, string> = { ...opts.headers, host: opts.host ?? base.host };
  if (opts.body !== undefined) headers['content-length'] = String(Buffer.byteLength(opts.body));

  const summary: LoadSummary = { sent: 0, completed: 0, errors: 0, byStatus: {}, byService: {}, latencyMs: { p50: 0, p95: 0, p99: 0, max: 0, mean: 0 }, elapsedMs: 0, achievedRps: 0 };
  const latencies: number[] = [];
  let inFlight = 0;
  let wakeSlot: (() => void) | null = null;
  const pending = new Set<Promise<void>>();

  let nth = 0;
  const one = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const reqPath = opts.pathFor ? opts.pathFor(nth++) : path;
      let settled = false;
      const settle = (status: number | null, service: string | null): void => {
        if (settled) return;
        settled = true;
        if (status === null) summary.errors++;
        else {
          summary.completed++;
          summary.byStatus[String(status)] = (summary.byStatus[String(status)] ?? 0) + 1;
          const s = service ?? '-';
          summary.byService[s] = (summary.byService[s] ?? 0) + 1;
          latencies.push(performance.now() - t0);
        }
        resolve();
      };
      const req = httpRequest({ host: base.hostname, port: base.port || 80, method: opts.method ?? 'GET', path: reqPath, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let service: string | null = null;
          try {
            const b = JSON.parse(Buffer.concat(chunks).toString()) as { service?: unknown };
            if (typeof b.service === 'string') service = b.service;
          } catch {
            // not JSON (e.g. the gateway's own 404/503 text)
          }
          settle(res.statusCode ?? 0, service);
        });
        res.on('error', () => settle(null, null));
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
      req.on('error', () => settle(null, null));
      req.end(opts.body);
    });

  const start = performance.now();
  while (!opts.signal?.aborted) {
    const elapsed = performance.now() - start;
    if (elapsed >= durationMs || summary.sent >= maxRequests) break;
    const due = Math.min(maxRequests, Math.floor((elapsed * opts.rps) / 1000) + 1);
    while (summary.sent < due && inFlight < concurrency) {
      summary.sent++;
      inFlight++;
      const p = one().then(() => {
        inFlight--;
        pending.delete(p);
        wakeSlot?.();
      });
      pending.add(p);
    }
    const nextAt = ((summary.sent) * 1000) / opts.rps;
    const wait = inFlight >= concurrency ? 50 : Math.max(0, Math.min(50, nextAt - (performance.now() - start)));
    await new Promise<void>((r) => {
      const t = setTimeout(() => {
        wakeSlot = null;
        r();
      }, wait);
      if (inFlight >= concurrency) {
        wakeSlot = () => {
          clearTimeout(t);
          wakeSlot = null;
          r();
        };
      }
    });
  }
  await Promise.all(pending);
  agent.destroy();
  summary.elapsedMs = Math.round(performance.now() - start);
  latencies.sort((a, b) => a - b);
  const round = (x: number): number => Math.round(x * 100) / 100;
  summary.latencyMs = {
    p50: round(percentile(latencies, 50)),
    p95: round(percentile(latencies, 95)),
    p99: round(percentile(latencies, 99)),
    max: round(latencies[latencies.length - 1] ?? 0),
    mean: round(latencies.length ? latencies.reduce((a, b) => a + b, 0) / latencies.length : 0),
  };
  summary.achievedRps = summary.elapsedMs > 0 ? round((summary.sent * 1000) / summary.elapsedMs) : 0;
  return summary;
}

if (import.meta.main) {
  runMain(async () => {
    const flags = parseFlags(process.argv.slice(2));
    const headers: Record<string, string> = {};
    for (const h of flags['header'] ?? []) {
      const i = h.indexOf(':');
      if (i <= 0) throw new Error(`--header must be "name: value", got ${JSON.stringify(h)}`);
      headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
    }
    const count = flag(flags, 'count') ?? flag(flags, 'max');
    const duration = flag(flags, 'duration');
    const summary = await runLoad({
      url: requiredFlag(flags, 'url'),
      host: flag(flags, 'host'),
      path: flag(flags, 'path'),
      method: flag(flags, 'method'),
      headers,
      body: flag(flags, 'body'),
      rps: numberFlag(flags, 'rps', 50),
      durationMs: duration !== undefined ? parseDuration(duration) : undefined,
      maxRequests: count !== undefined ? Number(count) : undefined,
      concurrency: numberFlag(flags, 'concurrency', 256),
      timeoutMs: flag(flags, 'timeout') !== undefined ? parseDuration(flag(flags, 'timeout')!) : undefined,
    });
    process.stdout.write(JSON.stringify(summary) + '\n');
  });
}
