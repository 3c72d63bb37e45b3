// The layering rule for planners (eslint.config.js, DESIGN §4): a controller's plan.ts, and what
// is split out of it, imports nothing that does I/O. Each forbidden import is linted as if it were
// in a planner file and must be reported; the same imports are allowed in a reconciler.
import { globSync } from 'node:fs';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

async function restricted(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

const FORBIDDEN = [
  "import { KubeClient } from '../../kube/index.ts';",
  "import { isConflict } from '../../kube/errors.ts';",
  "import { readFileSync } from 'node:fs';",
  "import { setTimeout } from 'node:timers/promises';",
  "import http from 'http';",
  "import got from 'got';",
  "import { PrometheusProvider } from '../../analysis/prometheus.ts';",
  "import { KubeConfig } from '@kubernetes/client-node';",
];

describe('planners import nothing that does I/O', () => {
  it.each(FORBIDDEN)('%s is reported in a planner', async (line) => {
    for (const file of ['operator/src/controllers/trafficshift/plan.ts', 'operator/src/controllers/migrationslice/triggers.ts', 'operator/src/controllers/shared/planner.ts']) {
      expect(await restricted(`${line}\nexport {};\n`, file), file).toHaveLength(1);
    }
  });

  it('the pure modules a planner uses are allowed', async () => {
    const code = [
      "import { Reason } from '../../api/conditions.ts';",
      "import { judge } from '../../analysis/evaluate.ts';",
      "import { setCondition } from '../../runtime/conditions.ts';",
      "import { PlannerBase } from '../shared/planner.ts';",
      'export {};',
    ].join('\n');
    expect(await restricted(code, 'operator/src/controllers/trafficshift/plan.ts')).toEqual([]);
  });

  it('a reconciler may do I/O (only client-node stays restricted to kube/)', async () => {
    expect(await restricted(`${FORBIDDEN.slice(0, 7).join('\n')}\nexport {};\n`, 'operator/src/controllers/trafficshift/controller.ts')).toEqual([]);
    expect(await restricted(`${FORBIDDEN[7]}\nexport {};\n`, 'operator/src/controllers/trafficshift/controller.ts')).toHaveLength(1);
  });

  it('the rule covers every planner file (plan.ts and the files split out of it)', async () => {
    const files = globSync('operator/src/controllers/**/{plan,planner,persistence,status,triggers}.ts');
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const file of files) {
      const config = (await eslint.calculateConfigForFile(file)) as { rules?: Record<string, unknown> };
      expect(JSON.stringify(config.rules?.['no-restricted-imports']), file).toContain('A planner is pure');
    }
  });
});
