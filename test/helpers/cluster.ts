// Small helpers for tests that talk to the testbed through the real kubectl.
import { execFile } from 'node:child_process';
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
