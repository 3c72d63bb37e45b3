// A real HTTP server on 127.0.0.1 (port 0) standing in for a playbook's verification service: the
// test sets what it answers; every request it received is recorded (method, path, headers, body),
// so retries are counted by the server itself.
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** What to answer: a status and body, or `hang` (never answer, until the server closes). */
export type Answer = { status?: number; body: string; contentType?: string; headers?: Record<string, string> } | { hang: true };

export type Responder = (req: ReceivedRequest, n: number) => Answer;

export interface CheckServer {
  url: string;
  requests: ReceivedRequest[];
  /** Replaces the responder; `n` counts requests from 1 since the server started. */
  answer(responder: Responder): void;
  close(): Promise<void>;
}

export const json = (value: unknown, status = 200): Answer => ({ status, body: JSON.stringify(value), contentType: 'application/json' });

export async function startCheckServer(responder: Responder = () => json({})): Promise<CheckServer> {
  let respond = responder;
  const requests: ReceivedRequest[] = [];
  const hanging = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const received: ReceivedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(received);
      const a = respond(received, requests.length);
      if ('hang' in a) {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      res.writeHead(a.status ?? 200, { 'content-type': a.contentType ?? 'text/plain', ...a.headers });
      res.end(a.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    answer(r) { respond = r; },
    close: () => new Promise<void>((resolve) => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
