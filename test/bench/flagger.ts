// Side by side with Flagger v1.44 (DESIGN §6). Step 1, done: build Flagger from the Go module proxy
// into the shared cache (test/testbed/build/build.sh flagger, serialised by the build lock).
// Step 2, NOT done yet: run it on the testbed (gatewayapi:v1 provider, a MetricTemplate on the same
// Prometheus, Deployments on KWOK nodes) next to Cutover with the same 20% fault. Until step 2
// exists this part reports exactly how far it got, and why, instead of a number.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, REPO_ROOT } from '../testbed/paths.ts';
import type { TestbedInfo } from '../testbed/testbed.ts';
import { log } from './lib.ts';

export interface FlaggerResult { rows: Array<{ what: string; value: string; target?: string }>; notes: string[] }

export const FLAGGER_VERSION = process.env.FLAGGER_VERSION ?? 'v1.44.0';
export const FLAGGER_DIR = join(CACHE_DIR, 'bin', `flagger-${FLAGGER_VERSION}`);

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20, env: { ...process.env, FLAGGER_VERSION } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
    });
  });
}

/** Builds Flagger once (cached); bounded so that the bench stays bounded. */
export async function ensureFlagger(timeoutMs = 20 * 60_000): Promise<string> {
  if (existsSync(join(FLAGGER_DIR, '.complete'))) return join(FLAGGER_DIR, 'flagger');
  log(`flagger: building ${FLAGGER_VERSION} with go install (cached in ${FLAGGER_DIR}; at most ${Math.round(timeoutMs / 60_000)} min)`);
  const t0 = Date.now();
  const r = await run('bash', [join(REPO_ROOT, 'test', 'testbed', 'build', 'build.sh'), 'flagger'], timeoutMs);
  if (r.code !== 0 || !existsSync(join(FLAGGER_DIR, '.complete'))) {
    const tail = r.stderr.trim().split('\n').slice(-3).join(' | ');
    throw new Error(`go install github.com/fluxcd/flagger/cmd/flagger@${FLAGGER_VERSION} did not finish (exit ${r.code} after ${Math.round((Date.now() - t0) / 1000)} s): ${tail}`);
  }
  return join(FLAGGER_DIR, 'flagger');
}

export async function flaggerBench(_info: TestbedInfo): Promise<FlaggerResult> {
  const bin = await ensureFlagger();
  const v = await run(bin, ['-version'], 10_000);
  throw new Error(`Flagger ${(v.stdout || v.stderr).trim() || FLAGGER_VERSION} is built (${bin}), but the side-by-side run on the testbed is not implemented yet (issue 7 follow-up): no Flagger numbers, no ratios`);
}
