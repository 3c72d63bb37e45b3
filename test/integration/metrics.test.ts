// The metrics contract (charts/cutover/metrics-contract.json, which the README, the dashboard and the
// PrometheusRule rely on) against a live operator's /metrics, both ways:
//   - every metric in the contract is exported, with its type and exactly its labels;
//   - every cutover_*, controller_runtime_*, workqueue_* and rest_client_* metric exported is in the
//     contract (so the documentation cannot fall behind the code).
// A tiny TrafficShift runs first, so the labelled metrics have series, not only # HELP lines.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectlOk, testbed, uniqueName } from '../helpers/cluster.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { createScenario, shiftYaml, waitPhase, type Scenario } from '../helpers/scenario.ts';
import { REPO_ROOT } from '../testbed/paths.ts';

interface ContractMetric { name: string; type: 'counter' | 'gauge' | 'histogram' | 'summary'; labels: string[]; help: string; source?: string }
const contract = (JSON.parse(readFileSync(join(REPO_ROOT, 'charts', 'cutover', 'metrics-contract.json'), 'utf8')) as { metrics: ContractMetric[] }).metrics;
const OWN_PREFIXES = /^(cutover_|controller_runtime_|workqueue_|rest_client_)/;
/** Series that only exist after a specific event this test does not cause; their # HELP/# TYPE are still checked. */
const EVENT_ONLY: Record<string, string> = {
  cutover_rollbacks_total: 'a rollback',
  cutover_analysis_judge: 'a metric with a judge block (test/e2e/judge.test.ts)',
  cutover_migrationslice_weight: 'a MigrationSlice',
  cutover_shadow_metric_value: 'a ShadowRun',
  cutover_shadow_verdicts_total: 'a finished ShadowRun',
  cutover_parity_requests: 'a ShadowRun with parity',
  cutover_parity_skipped: 'a ShadowRun with parity',
  cutover_parity_endpoint_mismatch_ratio: 'a ShadowRun with parity',
  cutover_parity_result: 'a ShadowRun with parity',
  cutover_parity_breaker_paused: 'a ShadowRun with parity',
  cutover_notifications_total: 'spec.notify on a resource',
  cutover_web_check_duration_seconds: 'a web check',
  cutover_web_check_requests_total: 'a web check',
  workqueue_retries_total: 'a reconcile retried with backoff',
};

interface Exposition { types: Map<string, string>; helps: Map<string, string>; series: Map<string, Array<Record<string, string>>> }

function parse(text: string): Exposition {
  const types = new Map<string, string>();
  const helps = new Map<string, string>();
  const series = new Map<string, Array<Record<string, string>>>();
  for (const line of text.split('\n')) {
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'HELP' ? helps : types).set(meta[2]!, meta[3]!);
      continue;
    }
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? \S+/.exec(line);
    if (!sample) continue;
    const labels: Record<string, string> = {};
    for (const m of (sample[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!;
    const list = series.get(sample[1]!) ?? [];
    list.push(labels);
    series.set(sample[1]!, list);
  }
  return { types, helps, series };
}

/** The series of a metric family: a histogram NAME is NAME_bucket, NAME_sum and NAME_count. */
function seriesOf(exp: Exposition, m: ContractMetric): Array<Record<string, string>> {
  if (m.type !== 'histogram') return exp.series.get(m.name) ?? [];
  return ['_bucket', '_sum', '_count'].flatMap((s) => (exp.series.get(m.name + s) ?? []).map((l) => { const { le: _le, ...rest } = l; return rest; }));
}

const NS = uniqueName('metrics');
let operator: OperatorProcess;
let scenario: Scenario;
let exposition: Exposition;

beforeAll(async () => {
  scenario = await createScenario({ prefix: 'metrics', ns: NS });
  operator = await startOperator(testbed(), { name: 'metrics', namespaces: [NS], env: { CUTOVER_ALERTMANAGER_TOKEN: 'metrics-test-token' } });
  const load = scenario.startLoad(40);
  await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(scenario, 'tiny', { steps: [[50, '1s'], [100, '1s']], interval: '1s' }));
  const done = await waitPhase(scenario, 'tiny', ['Completed', 'RolledBack', 'Failed'], 120_000);
  await load.stop();
  expect(done.status?.phase).toBe('Completed');
  // One unauthenticated hook call (401, changes nothing) so the hook counter has a series.
  const hook = await fetch(`${operator.url}/hooks/alertmanager`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  expect(hook.status).toBe(401);
  exposition = parse(await (await fetch(`${operator.url}/metrics`)).text());
});

afterAll(async () => {
  await operator?.stop();
  await scenario?.cleanup();
});

describe('metrics contract vs. a live operator', () => {
  it('exports every metric in metrics-contract.json, with # HELP and the contract type', () => {
    const missing = contract.filter((m) => !exposition.helps.has(m.name)).map((m) => m.name);
    expect(missing).toEqual([]);
    const wrongType = contract.filter((m) => exposition.types.get(m.name) !== m.type).map((m) => `${m.name}: ${exposition.types.get(m.name)} (contract: ${m.type})`);
    expect(wrongType).toEqual([]);
  });

  it('every metric of its own that the operator exports is in the contract (and so documented)', () => {
    const listed = new Set(contract.map((m) => m.name));
    const undocumented = [...exposition.types.keys()].filter((n) => OWN_PREFIXES.test(n) && !listed.has(n));
    expect(undocumented).toEqual([]);
  });

  it('after a tiny shift, each metric has series with exactly the contract labels', () => {
    const problems: string[] = [];
    for (const m of contract) {
      const series = seriesOf(exposition, m);
      if (series.length === 0) {
        if (!EVENT_ONLY[m.name]) problems.push(`${m.name}: no series`);
        continue;
      }
      const want = [...m.labels].sort().join(',');
      for (const labels of series) {
        const got = Object.keys(labels).sort().join(',');
        if (got !== want) { problems.push(`${m.name}: labels {${got}}, contract {${want}}`); break; }
      }
    }
    expect(problems).toEqual([]);
  });

  it('the values describe the shift that ran', () => {
    const find = (name: string, match: Record<string, string>) => exposition.series.get(name)?.find((l) => Object.entries(match).every(([k, v]) => l[k] === v));
    expect(find('cutover_trafficshift_weight', { namespace: NS, name: 'tiny' })).toBeDefined();
    expect(find('cutover_resource_phase', { kind: 'TrafficShift', namespace: NS, name: 'tiny', phase: 'Completed' })).toBeDefined();
    expect(find('cutover_analysis_results_total', { namespace: NS, name: 'tiny', metric: 'error-rate', result: 'Pass' })).toBeDefined();
    expect(find('cutover_analysis_metric_threshold', { namespace: NS, name: 'tiny', metric: 'error-rate', bound: 'max' })).toBeDefined();
    expect(find('cutover_analysis_metric_result', { kind: 'TrafficShift', namespace: NS, name: 'tiny', metric: 'error-rate', result: 'Pass' })).toBeDefined();
    expect(find('cutover_hook_requests_total', { hook: 'alertmanager', code: '401' })).toBeDefined();
    expect(find('controller_runtime_reconcile_total', { controller: 'trafficshift', result: 'success' })).toBeDefined();
  });
});
