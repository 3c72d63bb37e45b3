// `kubectl cutover` end to end: the real kubectl finds the plugin on PATH (as `kubectl-cutover`,
// the name npm links from package.json `bin`) and runs it against the testbed, with the operator
// acknowledging each action.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, getJson, kubectlOk, testbed, uniqueName } from '../helpers/cluster.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { createScenario, ERROR_RATE_QUERY, shiftYaml, waitPhase, type Scenario, type ShiftObject } from '../helpers/scenario.ts';
import { REPO_ROOT } from '../testbed/paths.ts';

const NS: Record<string, string> = Object.fromEntries(['cli-a', 'cli-b'].map((p) => [p, uniqueName(p)]));
let operator: OperatorProcess;
let pluginDir: string;
const scenarios: Scenario[] = [];
const LENIENT = `      - name: error-rate
        prometheus:
          query: '${ERROR_RATE_QUERY}'
        max: 0.5`;

interface Run { code: number; stdout: string; stderr: string }

function env(): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${testbed().binDir}:${pluginDir}:${process.env.PATH ?? ''}`, KUBECONFIG: testbed().kubeconfig };
}

/** `kubectl cutover ARGS` with the testbed's kubectl and the plugin on PATH. */
function cutover(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile('kubectl', ['cutover', ...args], { env: env(), timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  pluginDir = mkdtempSync(join(tmpdir(), 'cutover-plugin-'));
  symlinkSync(join(REPO_ROOT, 'operator', 'bin', 'kubectl-cutover.js'), join(pluginDir, 'kubectl-cutover'));
  operator = await startOperator(testbed(), { name: 'kubectl-plugin', namespaces: Object.values(NS) });
});

afterAll(async () => {
  await operator?.stop();
  for (const s of scenarios) await s.cleanup();
  rmSync(pluginDir, { recursive: true, force: true });
});

async function scenarioWithShift(prefix: string, name: string): Promise<Scenario> {
  const s = await createScenario({ prefix, ns: NS[prefix] });
  scenarios.push(s);
  s.startLoad(20, 300); // analysis needs traffic (no data is inconclusive); stopped by cleanup
  await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, name, { steps: [[10, '10m'], [50, '10m'], [100, '10m']], metrics: LENIENT }));
  await eventually('first step', async () => (await s.shift<ShiftObject>(name)).status?.currentWeight === 10, 60_000);
  return s;
}

describe('kubectl cutover', () => {
  let a: Scenario;
  beforeAll(async () => { a = await scenarioWithShift('cli-a', 'listings-read'); });

  it('kubectl finds the plugin on PATH', async () => {
    const r = await new Promise<Run>((resolve) => execFile('kubectl', ['plugin', 'list'], { env: env() }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr })));
    expect(r.stdout).toContain(join(pluginDir, 'kubectl-cutover'));
  });

  it('get: a readable table of the namespace\'s cutover resources; -A adds the namespace', async () => {
    const r = await cutover(['get', '-n', a.ns]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+PHASE\s+WEIGHT\s+STEP\s+OWNER\s+AGE\s+MESSAGE$/);
    expect(lines[1]).toMatch(/^trafficshift\/listings-read\s+Progressing\s+10%\s+1\/3\s+-\s+\d+s\s+step 1\/3: weight 10$/);
    const all = await cutover(['get', '-A']);
    expect(all.stdout.split('\n')[0]).toMatch(/^NAMESPACE\s+NAME/);
    expect(all.stdout).toMatch(new RegExp(`^${a.ns}\\s+trafficshift/listings-read`, 'm'));
    // --kubeconfig after the plugin name works too (kubectl passes it through).
    const flag = await new Promise<Run>((resolve) => execFile('kubectl', ['cutover', 'get', '-n', a.ns, '--kubeconfig', testbed().kubeconfig], { env: { ...env(), KUBECONFIG: '/nonexistent' } }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr })));
    expect(flag.code).toBe(0);
    expect(flag.stdout).toContain('trafficshift/listings-read');
  });

  it('status: steps, weight, analysis against thresholds, conditions, events', async () => {
    // The first run can be Inconclusive (the gateway's series not scraped yet); wait for a passing one.
    await eventually('a passing analysis result', async () => (await a.shift<ShiftObject>('listings-read')).status?.analysis?.lastResults?.[0]?.result === 'Pass', 30_000);
    const r = await cutover(['status', 'listings-read', '-n', a.ns]);
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toContain(`TrafficShift ${a.ns}/listings-read`);
    expect(out).toMatch(/Phase:\s+Progressing — step 1\/3: weight 10/);
    expect(out).toContain('Weight:    [##------------------] 10% canary, 90% stable');
    expect(out).toMatch(/▶ {2}1 {3}10% {2}pause 10m {3}started \d+s ago/);
    expect(out).toMatch(/^ {5}2 {3}50% {2}pause 10m$/m);
    expect(out).toMatch(/error-rate\s+[\d.e-]+\s+-\s+-\s+<= 0\.5\s+Pass/);
    expect(out).toMatch(/Ready\s+False\s+StepInProgress/);
    expect(out).toMatch(/Normal\s+StepStarted/);
  });

  it('status --watch redraws when the resource changes; pause then resume, each acknowledged', async () => {
    const watch = spawn('kubectl', ['cutover', 'status', 'listings-read', '-n', a.ns, '--watch'], { env: env() });
    let seen = '';
    watch.stdout.on('data', (c: Buffer) => { seen += c.toString(); });
    await eventually('first drawing', async () => seen.includes('Phase:'), 20_000, 100);

    const pause = await cutover(['pause', 'listings-read', '-n', a.ns]);
    expect(pause.code).toBe(0);
    expect(pause.stdout).toMatch(/^trafficshift\.cutover\.dev\/listings-read pause acknowledged: Paused — paused: paused by request \S+$/m);
    expect((await a.shift<ShiftObject>('listings-read')).status?.phase).toBe('Paused');
    await eventually('the watch shows Paused', async () => /---\n[\s\S]*Phase:\s+Paused \(Manual\)/.test(seen), 20_000, 100);
    watch.kill('SIGINT');
    const code = await new Promise<number | null>((r) => watch.on('exit', (c) => r(c)));
    expect(code).toBe(0);

    const again = await cutover(['pause', 'listings-read', '-n', a.ns]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already Paused');

    const resume = await cutover(['resume', 'listings-read', '-n', a.ns]);
    expect(resume.code).toBe(0);
    expect(resume.stdout).toMatch(/resume acknowledged: Progressing/);
    expect(await a.routeWeights()).toEqual({ [a.stable]: 90, [a.canary]: 10 });
  });

  it('promote: skips the remaining steps to 100%, Completed', async () => {
    const r = await cutover(['promote', 'listings-read', '-n', a.ns]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/promote acknowledged: Completed/);
    expect(await a.routeWeights()).toEqual({ [a.stable]: 0, [a.canary]: 100 });
    const done = await a.shift<ShiftObject>('listings-read');
    expect(done.status?.phase).toBe('Completed');
  });

  it('actions never touch spec: generation unchanged, kubectl-cutover owns only its annotations', async () => {
    const ts = await getJson<{ metadata: { generation: number; managedFields: Array<{ manager: string; operation: string; subresource?: string; fieldsV1: Record<string, unknown> }> } }>(['get', 'trafficshift', 'listings-read', '-n', a.ns, '--show-managed-fields']);
    expect(ts.metadata.generation).toBe(1);
    const mine = ts.metadata.managedFields.filter((m) => m.manager === 'kubectl-cutover');
    expect(mine.length).toBeGreaterThan(0);
    for (const m of mine) {
      expect(Object.keys(m.fieldsV1)).toEqual(['f:metadata']);
      expect(Object.keys(m.fieldsV1['f:metadata'] as object)).toEqual(['f:annotations']);
    }
  });

  it('clear errors: unknown name, nothing to retry, unknown --kind', async () => {
    const missing = await cutover(['status', 'nope', '-n', a.ns]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`no TrafficShift, ShadowRun or MigrationSlice "nope" in namespace ${a.ns}`);
    const retry = await cutover(['retry', 'listings-read', '-n', a.ns]);
    expect(retry.code).toBe(1);
    expect(retry.stderr).toContain('only a RolledBack or Failed TrafficShift can be retried; this one is Completed');
    const kind = await cutover(['status', 'listings-read', '-n', a.ns, '--kind', 'rollout']);
    expect(kind.code).toBe(2);
    expect(kind.stderr).toContain('unknown --kind "rollout"');
  });
});

describe('kubectl cutover abort and retry', () => {
  it('abort rolls back at once with trigger Manual; retry runs it again from the first step', async () => {
    const b = await scenarioWithShift('cli-b', 'search');
    const abort = await cutover(['abort', 'search', '-n', b.ns, '--kind', 'ts']);
    expect(abort.code).toBe(0);
    expect(abort.stdout).toMatch(/abort acknowledged: RolledBack — rolled back \(Manual\): aborted by request \S+/);
    expect(await b.routeWeights()).toEqual({ [b.stable]: 100, [b.canary]: 0 });
    const rolled = await b.shift<ShiftObject>('search');
    expect(rolled.status?.rollback?.trigger).toBe('Manual');

    const retry = await cutover(['retry', 'search', '-n', b.ns]);
    expect(retry.code).toBe(0);
    expect(retry.stdout).toMatch(/retry acknowledged: (Pending|Progressing)/);
    const again = await waitPhase(b, 'search', ['Progressing'], 60_000);
    expect(again.status?.currentWeight).toBe(10);
    expect(await b.routeWeights()).toEqual({ [b.stable]: 90, [b.canary]: 10 });
  });
});
