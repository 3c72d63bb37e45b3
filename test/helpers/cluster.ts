// Small helpers for tests that talk to the testbed through the real kubectl.
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { isDeepStrictEqual } from 'node:util';
import { inject } from 'vitest';
import type { TestbedInfo } from '../testbed/testbed.ts';

export function testbed(): TestbedInfo { return inject('testbed'); }

export interface KubectlResult { code: number; stdout: string; stderr: string }

/** Runs the testbed's kubectl; never throws, so a test can assert on a rejection. */
export function kubectl(args: string[], input?: string, env: NodeJS.ProcessEnv = {}): Promise<KubectlResult> {
  const info = testbed();
  return new Promise((resolve) => {
    const child = execFile('kubectl', ['--kubeconfig', info.kubeconfig, ...args], {
      maxBuffer: 64 << 20,
      env: { ...process.env, PATH: `${info.binDir}:${process.env.PATH ?? ''}`, ...env },
    }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** kubectl that must succeed; returns stdout. */
export async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

export async function getJson<T = Record<string, unknown>>(args: string[]): Promise<T> {
  return JSON.parse(await kubectlOk([...args, '-o', 'json'])) as T;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes; the error names `what`. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined | false | null>, timeoutMs = 60_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) { last = err; }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

/**
 * Polls `read` until its value deep-equals `expected`. The wait is the assertion: on timeout the
 * error says what was expected and what was last seen (or the last error).
 */
export async function eventuallyEqual<T>(what: string, read: () => Promise<T>, expected: T, timeoutMs = 60_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let seen: { value: T } | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await read();
      if (isDeepStrictEqual(value, expected)) return value;
      seen = { value };
      lastError = undefined;
    } catch (err) { lastError = err; }
    if (Date.now() > deadline) {
      const last = lastError !== undefined ? `the last read failed: ${String(lastError)}` : `last seen ${seen ? JSON.stringify(seen.value) : 'nothing'}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: expected ${JSON.stringify(expected)}, ${last}`);
    }
    await sleep(everyMs);
  }
}

/** Instant query against the testbed's Prometheus; returns the vector's samples. */
export async function promQuery(query: string): Promise<Array<{ metric: Record<string, string>; value: number }>> {
  const url = `${testbed().prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`;
  const body = await (await fetch(url)).json() as { status: string; error?: string; data: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  if (body.status !== 'success') throw new Error(`prometheus: ${body.error}`);
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e4).toString(36)}`;
}

/**
 * One HTTP GET on a connection of its own (no keep-alive pool), bounded by `timeoutMs`. For
 * addresses that only kube-proxy's rules make local, such as a ClusterIP from the host: a try made
 * before the rule exists leaves by the default route, and whatever answers out there (this
 * machine's egress proxy answered 404) must not be reused by the next try through a pooled
 * connection, as fetch would.
 */
export function getFresh(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { connection: 'close' }, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err: Error & { code?: string }) => reject(new Error(`${err.message}${err.code ? ` (${err.code})` : ''}`)));
    req.end();
  });
}
