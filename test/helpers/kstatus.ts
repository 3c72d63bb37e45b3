// kstatus as sigs.k8s.io/cli-utils computes it (the library Flux's and kpt's health checks build
// on), for tests: the real Go code, not a re-statement of its rules. test/testbed/kstatus/main.go
// is built once per cli-utils version (and per edit of the program) into the cache by
// `build.sh kstatus`, on first use: nothing is resolved when this module loads.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, REPO_ROOT } from '../testbed/paths.ts';

export const CLI_UTILS_VERSION = process.env.CLI_UTILS_VERSION ?? 'v0.37.2';
const MAIN = join(REPO_ROOT, 'test', 'testbed', 'kstatus', 'main.go');
const BUILD_SCRIPT = join(REPO_ROOT, 'test', 'testbed', 'build', 'build.sh');

/** What kstatus says of one object (see main.go). */
export interface KstatusResult {
  /** status.Compute: `InProgress`, `Current`, `Failed`, `Terminating`, … */
  status: string;
  message: string;
  /** The verdict of kstatus' standard conditions alone (Reconciling, Stalled, observedGeneration), without the Ready fallback. */
  standard: string;
}

/** The cache directory build.sh uses: the cli-utils version and the program's hash (as build.sh computes it). */
function binDir(): string {
  const sum = createHash('sha256').update(readFileSync(MAIN)).digest('hex').slice(0, 12);
  return join(CACHE_DIR, 'bin', `kstatus-${CLI_UTILS_VERSION}-${sum}`);
}

let built: Promise<string> | undefined;

/** Builds the kstatus program when it is not in the cache yet (minutes the first time), and returns its path. */
export function ensureKstatus(): Promise<string> {
  built ??= (async () => {
    const dir = binDir();
    if (!existsSync(join(dir, '.complete'))) {
      await new Promise<void>((resolve, reject) => {
        const child = execFile('bash', [BUILD_SCRIPT, 'kstatus'], { env: { ...process.env, CLI_UTILS_VERSION, CUTOVER_CACHE_DIR: CACHE_DIR }, maxBuffer: 16 << 20 });
        // Progress lines as they come: a cold build shows what it builds and for how long.
        child.stderr?.on('data', (d: Buffer) => process.stderr.write(d));
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${BUILD_SCRIPT} kstatus exited ${code}`))));
        child.on('error', reject);
      });
      if (!existsSync(join(dir, '.complete'))) throw new Error(`build.sh kstatus finished but ${dir}/.complete is missing`);
    }
    return join(dir, 'kstatus');
  })();
  built.catch(() => { built = undefined; });
  return built;
}

/** kstatus of `obj` (as `kubectl get -o json` returns it). */
export async function kstatus(obj: unknown): Promise<KstatusResult> {
  const bin = await ensureKstatus();
  return new Promise((resolve, reject) => {
    const child = execFile(bin, [], { maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`kstatus: ${stderr || err.message}`));
      else resolve(JSON.parse(stdout) as KstatusResult);
    });
    child.stdin?.end(JSON.stringify(obj));
  });
}
