// Every PromQL query the chart ships (Grafana dashboard, PrometheusRule) reads only metrics the
// operator exports, as listed in charts/cutover/metrics-contract.json, and the dashboard shows what
// an operator of Cutover needs to see.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../testbed/paths.ts';
import { metricNames, seriesNames, type ContractMetric } from './promql.ts';

const CHART = join(REPO_ROOT, 'charts', 'cutover');
const contract = JSON.parse(readFileSync(join(CHART, 'metrics-contract.json'), 'utf8')) as { metrics: ContractMetric[] };
const exported = new Set(contract.metrics.flatMap(seriesNames));

interface Panel { id?: number; title?: string; type: string; targets?: Array<{ expr?: string }>; panels?: Panel[]; datasource?: { uid?: string } }
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: string | { query: string } }> };
  annotations: { list: Array<{ name: string; expr?: string }> };
}
const dashboard = JSON.parse(readFileSync(join(CHART, 'dashboards', 'cutover.json'), 'utf8')) as Dashboard;

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

/** [where, expression] for every PromQL expression in the dashboard. */
function dashboardQueries(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const p of allPanels(dashboard.panels)) {
    for (const t of p.targets ?? []) if (t.expr) out.push([`panel "${p.title}"`, t.expr]);
  }
  for (const v of dashboard.templating.list) {
    if (v.type !== 'query' || !v.query) continue;
    out.push([`variable $${v.name}`, typeof v.query === 'string' ? v.query : v.query.query]);
  }
  for (const a of dashboard.annotations.list) if (a.expr) out.push([`annotation "${a.name}"`, a.expr]);
  return out;
}

/** [alert, expression] from the PrometheusRule template, with Helm actions replaced by a duration. */
function ruleQueries(): Array<[string, string]> {
  const text = readFileSync(join(CHART, 'templates', 'prometheusrule.yaml'), 'utf8');
  const out: Array<[string, string]> = [];
  let alert = '';
  for (const line of text.split('\n')) {
    const a = /^\s*- alert:\s*(\S+)/.exec(line);
    if (a) alert = a[1]!;
    const e = /^\s*expr:\s*(.+)$/.exec(line);
    if (e) out.push([`alert ${alert}`, e[1]!.replace(/\{\{[^}]*\}\}/g, '10m')]);
  }
  return out;
}

describe('metricNames (PromQL metric extraction)', () => {
  it.each([
    ['sum by (controller, result) (rate(controller_runtime_reconcile_total[$__rate_interval]))', ['controller_runtime_reconcile_total']],
    ['histogram_quantile(0.99, sum by (le) (rate(a_seconds_bucket{job=~"x|y", le!="+Inf"}[5m])))', ['a_seconds_bucket']],
    ['max(x) < 1 or absent(y_total) unless on(pod) group_left(node) z offset 5m', ['x', 'y_total', 'z']],
    ['label_values(cutover_resource_phase{namespace=~"$namespace"}, name)', ['cutover_resource_phase']],
    ['label_values(namespace)', []],
    ['m{status="True", msg="by (x) and y"} == 1e3', ['m']],
  ])('%s', (expr, names) => {
    expect(metricNames(expr).sort()).toEqual([...names].sort());
  });
});

describe('every query names a metric in metrics-contract.json', () => {
  const queries = [...dashboardQueries(), ...ruleQueries()];

  it('finds the queries (dashboard panels, variables, annotations; all four alerts)', () => {
    expect(dashboardQueries().length).toBeGreaterThan(15);
    expect(ruleQueries().map(([w]) => w)).toEqual(['alert CutoverStalled', 'alert CutoverRolledBack', 'alert CutoverNoLeader', 'alert CutoverReconcileErrors']);
  });

  it.each(queries)('%s: %s', (_where, expr) => {
    const names = metricNames(expr);
    expect(names.length, 'no metric found in the expression').toBeGreaterThan(0);
    for (const n of names) expect(exported, `${n} is not in metrics-contract.json`).toContain(n);
  });
});

describe('the dashboard shows what DESIGN and issue 6 ask for', () => {
  const used = new Set(dashboardQueries().flatMap(([, e]) => metricNames(e)));
  it.each([
    ['canary weights over time per cutover', 'cutover_trafficshift_weight'],
    ['phase', 'cutover_resource_phase'],
    ['analysis values', 'cutover_analysis_metric_value'],
    ['analysis thresholds', 'cutover_analysis_metric_threshold'],
    ['analysis results', 'cutover_analysis_results_total'],
    ['rollbacks by trigger', 'cutover_rollbacks_total'],
    ['reconcile rate', 'controller_runtime_reconcile_total'],
    ['reconcile errors', 'controller_runtime_reconcile_errors_total'],
    ['workqueue depth', 'workqueue_depth'],
    ['the leader', 'cutover_leader_is_leader'],
  ])('%s (%s)', (_what, metric) => {
    expect(used).toContain(metric);
  });

  it('has unique panel ids and queries the ${datasource} variable everywhere', () => {
    const panels = allPanels(dashboard.panels);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels.filter((x) => x.type !== 'row')) expect(p.datasource?.uid, `panel "${p.title}"`).toBe('${datasource}');
    expect(dashboard.uid).toBe('cutover-overview');
  });
});

describe('metrics-contract.json', () => {
  it('has unique, Prometheus-valid names; counters end in _total', () => {
    const names = contract.metrics.map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
    for (const m of contract.metrics) {
      expect(m.name).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
      if (m.type === 'counter') expect(m.name, m.name).toMatch(/_total$/);
      expect(m.help.length, `${m.name} has help text`).toBeGreaterThan(0);
    }
  });

  it('every metric is documented in the chart README', () => {
    const readme = readFileSync(join(CHART, 'README.md'), 'utf8');
    for (const m of contract.metrics) expect(readme, `README.md documents ${m.name}`).toContain(`\`${m.name}\``);
  });
});
