// The repository README's "## Metrics" section documents every metric of
// charts/cutover/metrics-contract.json with its type and exactly its labels (the contract itself is
// checked against a live /metrics in test/integration/metrics.test.ts), and names the PrometheusRule.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../testbed/paths.ts';

interface ContractMetric { name: string; type: string; labels: string[] }
const contract = (JSON.parse(readFileSync(join(REPO_ROOT, 'charts', 'cutover', 'metrics-contract.json'), 'utf8')) as { metrics: ContractMetric[] }).metrics;

function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n${heading}\n`);
  if (start < 0) return '';
  const next = markdown.indexOf('\n## ', start + heading.length + 2);
  return markdown.slice(start, next < 0 ? undefined : next);
}

describe('README ## Metrics', () => {
  const metrics = section(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8'), '## Metrics');

  it('has one table row per contract metric, with its type and labels', () => {
    expect(metrics).not.toBe('');
    const rows = new Map<string, string[]>();
    for (const line of metrics.split('\n')) {
      const cells = line.split('|').map((c) => c.trim());
      const name = /^`([a-zA-Z_:][\w:]*)`$/.exec(cells[1] ?? '')?.[1];
      if (name) rows.set(name, cells);
    }
    const problems: string[] = [];
    for (const m of contract) {
      const row = rows.get(m.name);
      if (!row) { problems.push(`${m.name}: no row`); continue; }
      if (row[2] !== m.type) problems.push(`${m.name}: type ${row[2]}, contract ${m.type}`);
      const labels = [...(row[3] ?? '').matchAll(/`(\w+)`/g)].map((x) => x[1]);
      if (labels.join(',') !== m.labels.join(',')) problems.push(`${m.name}: labels ${labels.join(',')}, contract ${m.labels.join(',')}`);
      if ((row[4] ?? '').length < 10) problems.push(`${m.name}: no meaning`);
    }
    for (const name of rows.keys()) if (!contract.some((m) => m.name === name)) problems.push(`${name}: documented but not in the contract`);
    expect(problems).toEqual([]);
  });

  it('points at the PrometheusRule that alerts on Stalled cutovers and on rollbacks', () => {
    expect(metrics).toContain('charts/cutover/templates/prometheusrule.yaml');
    const rule = readFileSync(join(REPO_ROOT, 'charts', 'cutover', 'templates', 'prometheusrule.yaml'), 'utf8');
    for (const alert of ['CutoverStalled', 'CutoverRolledBack']) {
      expect(metrics).toContain(alert);
      expect(rule).toContain(`alert: ${alert}`);
    }
  });
});
