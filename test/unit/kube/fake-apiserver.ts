// A scripted HTTP stand-in for the API server, for unit tests of the kube layer's wire behaviour
// (paths, headers, content types, error mapping, watch parsing). Real API semantics are tested in
// test/integration/kube against the real kube-apiserver.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
}

export type Handler = (req: RecordedRequest, res: ServerResponse) => void;

export class FakeApiServer {
  readonly requests: RecordedRequest[] = [];
  handler: Handler = (_req, res) => json(res, 404, { kind: 'Status', code: 404, reason: 'NotFound', message: 'not found' });
  #server: Server;
  #open = new Set<ServerResponse>();
  #dir: string | undefined;
  url = '';
  kubeconfig = '';

  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://x');
        const recorded: RecordedRequest = {
          method: req.method ?? 'GET',
          path: url.pathname,
          query: url.searchParams,
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        this.requests.push(recorded);
        this.#open.add(res);
        res.on('close', () => this.#open.delete(res));
        this.handler(recorded, res);
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const { port } = this.#server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    const dir = mkdtempSync(join(tmpdir(), 'cutover-fake-api-'));
    this.#dir = dir;
    this.kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      this.kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: fake, cluster: {server: "' + this.url + '"}}]',
        'users: [{name: fake, user: {token: fake-token}}]',
        'contexts: [{name: fake, context: {cluster: fake, user: fake, namespace: team-a}}]',
        'current-context: fake',
        '',
      ].join('\n'),
    );
  }

  /** Ends open (watch) responses. */
  closeStreams(): void {
    for (const res of this.#open) res.end();
  }

  async stop(): Promise<void> {
    for (const res of this.#open) res.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    // Its kubeconfig's directory goes with it (hundreds piled up in /tmp across runs).
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }
}

export function json(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(code, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** Starts a chunked watch stream; returns a function that writes one event line. */
export function startStream(res: ServerResponse): (event: unknown) => void {
  res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
  res.flushHeaders();
  return (event) => {
    res.write(`${JSON.stringify(event)}\n`);
  };
}

export function status(code: number, reason: string, message: string, details?: unknown): unknown {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message, ...(details ? { details } : {}) };
}
