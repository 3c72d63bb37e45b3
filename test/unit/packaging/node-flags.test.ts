// The operator's Node flags are part of what ships (memory at scale, README › Performance): the
// image's ENTRYPOINT, `npm start`, and the operator processes of the tests, demo and bench agree.
// The chart sets no `command`, so the ENTRYPOINT runs (integration/chart.test.ts renders it).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPERATOR_NODE_FLAGS } from '../../helpers/operator.ts';
import { REPO_ROOT } from '../../testbed/paths.ts';

describe('operator Node flags', () => {
  it('the Dockerfile ENTRYPOINT runs the bundled operator with them', () => {
    const docker = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const entry = docker.match(/^ENTRYPOINT (\[.*\])$/m)?.[1];
    expect(entry, 'ENTRYPOINT line').toBeDefined();
    expect(JSON.parse(entry!)).toEqual(['node', ...OPERATOR_NODE_FLAGS, 'dist/main.mjs']);
  });

  it('npm start runs the bundled operator with them (built first when stale)', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe(['node', ...OPERATOR_NODE_FLAGS, 'dist/main.mjs'].join(' '));
    expect(pkg.scripts.prestart).toBe('node operator/build.ts --if-stale');
  });
});
