// The codebase typechecks (TypeScript strict) and lints (including the layering rule: only
// operator/src/kube/** may import @kubernetes/client-node).
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` });
    });
  });
}

describe('static checks', () => {
  it('npm run typecheck is clean', async () => {
    const r = await run('node_modules/.bin/tsc', ['-p', 'tsconfig.json']);
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  }, 180_000);

  it('npm run lint is clean', async () => {
    const r = await run('node_modules/.bin/eslint', ['.']);
    expect(r.out.trim()).toBe('');
    expect(r.code).toBe(0);
  }, 180_000);
});
