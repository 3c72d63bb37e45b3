// The comparator process of one run: the mirror port (every request is a mirrored copy) and an
// admin port (/healthz, /metrics, /summary, /report), kept apart so that a mirrored request to
// /metrics is compared like any other. With a summary file the counts survive a restart: it is read
// at start, rewritten every `persistEveryMs` and on close (atomically: write, then rename).
import { readFile, rename, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as z from 'zod';
import { HTTP_URL } from '../api/k8s-schema.ts';
import { ParitySchema } from '../api/shadowrun.ts';
import { silentLogger, type Logger } from '../runtime/logger.ts';
import { registry as defaultRegistry, type Registry } from '../runtime/metrics.ts';
import { Comparator, type ComparatorOptions } from './comparator.ts';
import { renderJson, renderMarkdown, renderText } from './report.ts';
import { SUMMARY_VERSION, type ParitySummary } from './summary.ts';

/** What the operator will put in the comparator's ConfigMap for one ShadowRun. */
export const ComparatorConfigSchema = z.strictObject({
  namespace: z.string().min(1),
  name: z.string().min(1),
  /** Base URLs of the two services, e.g. http://listings-legacy.shop.svc:8080 */
  legacy: z.string().regex(HTTP_URL),
  candidate: z.string().regex(HTTP_URL),
  /** The new service's Service name: the `service` label of the comparator's cutover_parity_shadow_* series. */
  candidateService: z.string().min(1).optional(),
  owner: z.string().optional(),
  parity: ParitySchema,
});
export type ComparatorConfig = z.infer<typeof ComparatorConfigSchema>;

export interface ComparatorServerOptions {
  host?: string;
  port?: number;
  adminPort?: number;
  summaryFile?: string;
  /** Where the counts are kept instead of a file (the comparator's ConfigMap in a cluster). */
  store?: SummaryStore;
  persistEveryMs?: number;
  registry?: Registry;
  logger?: Logger;
  /** Passed on to the Comparator (tests: clock, random). */
  comparator?: Partial<Pick<ComparatorOptions, 'clock' | 'random' | 'now' | 'breaker'>>;
}

/** Keeps the summary across restarts: read once at start, written every persistEveryMs and on close. */
export interface SummaryStore {
  load(): Promise<ParitySummary | undefined>;
  /** `summary`: the serialized (fitted) summary; `state`: the comparator's state as JSON (breaker). */
  save(summary: string, state: string): Promise<void>;
}

/** A store in a file (written atomically: write, then rename). */
export function fileStore(file: string, log: Logger): SummaryStore {
  return {
    load: () => readSummary(file, log),
    async save(summary) {
      const tmp = `${file}.tmp`;
      await writeFile(tmp, summary);
      await rename(tmp, file);
    },
  };
}

/** A summary as the store holds it: this version, or undefined (with a warning). */
export function parseSummary(text: string | undefined, log: Logger, where: string): ParitySummary | undefined {
  if (text === undefined || text === '') return undefined;
  try {
    const s = JSON.parse(text) as ParitySummary;
    if (s.version === SUMMARY_VERSION) return s;
    log.warn({ where, version: s.version }, 'summary of another version: starting from zero');
  } catch (err) {
    log.warn({ where, err: (err as Error).message }, 'unreadable summary: starting from zero');
  }
  return undefined;
}

export interface ComparatorServer {
  comparator: Comparator;
  mirrorUrl: string;
  adminUrl: string;
  /** Writes the summary file (when there is one). */
  persist(): Promise<void>;
  close(): Promise<void>;
}

async function readSummary(file: string, log: Logger): Promise<ParitySummary | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  return parseSummary(text, log, file);
}

async function listen(server: Server, host: string, port: number): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type }).end(body);
}

export async function startComparatorServer(config: ComparatorConfig, opts: ComparatorServerOptions = {}): Promise<ComparatorServer> {
  const log = opts.logger ?? silentLogger;
  const reg = opts.registry ?? defaultRegistry;
  const store = opts.store ?? (opts.summaryFile ? fileStore(opts.summaryFile, log) : undefined);
  const summary = store ? await store.load() : undefined;
  const comparator = new Comparator({
    namespace: config.namespace,
    name: config.name,
    legacy: config.legacy,
    candidate: config.candidate,
    ...(config.candidateService !== undefined ? { candidateService: config.candidateService } : {}),
    parity: config.parity,
    registry: reg,
    logger: log,
    ...opts.comparator,
    ...(summary ? { summary } : {}),
  });
  const meta = () => ({ date: new Date().toISOString(), ...(config.owner !== undefined ? { owner: config.owner } : {}) });
  const admin = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://admin');
    switch (url.pathname) {
      case '/healthz':
        return send(res, 200, 'ok\n');
      case '/metrics':
        return send(res, 200, await reg.metrics(), reg.contentType);
      case '/summary':
        return send(res, 200, comparator.serialize(), 'application/json');
      case '/report': {
        const r = comparator.report(meta());
        const format = url.searchParams.get('format') ?? 'text';
        if (format === 'json') return send(res, 200, renderJson(r), 'application/json');
        if (format === 'md') return send(res, 200, renderMarkdown(r), 'text/markdown; charset=utf-8');
        return send(res, 200, renderText(r));
      }
      default:
        return send(res, 404, 'not found\n');
    }
  };
  const mirrorServer = createServer(comparator.handle);
  const adminServer = createServer((req, res) => {
    admin(req, res).catch((err: unknown) => send(res, 500, `${(err as Error).message}\n`));
  });
  const host = opts.host ?? '0.0.0.0';
  const mirrorUrl = await listen(mirrorServer, host, opts.port ?? 8080);
  const adminUrl = await listen(adminServer, host, opts.adminPort ?? 9090);

  let lastSaved = '';
  const persist = async (): Promise<void> => {
    if (!store) return;
    const text = comparator.serialize();
    const b = comparator.breakerState();
    const state = JSON.stringify({ breakerOpen: b.open, ...(b.reason ? { breakerReason: b.reason } : {}) });
    // Nothing new: no write (an idle run costs the API server nothing).
    if (`${text}\n${state}` === lastSaved) return;
    await store.save(text, JSON.stringify({ ...(JSON.parse(state) as object), at: new Date().toISOString() }));
    lastSaved = `${text}\n${state}`;
  };
  const timer = store
    ? setInterval(() => {
        persist().catch((err: unknown) => log.error({ err: (err as Error).message }, 'summary not written'));
      }, opts.persistEveryMs ?? 10_000)
    : undefined;
  timer?.unref();
  log.info({ mirrorUrl, adminUrl, shadowrun: `${config.namespace}/${config.name}`, restored: summary !== undefined }, 'parity comparator listening');

  const close = async (): Promise<void> => {
    if (timer) clearInterval(timer);
    await Promise.all([mirrorServer, adminServer].map((s) => new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeIdleConnections();
    })));
    await comparator.idle();
    await persist();
    comparator.close();
  };
  return { comparator, mirrorUrl, adminUrl, persist, close };
}
