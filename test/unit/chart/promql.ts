// Finds the metric names a PromQL expression (or a Grafana variable query) reads. Not a full parser:
// it removes what cannot hold a metric name (strings, label matchers, ranges, grouping clauses,
// Grafana variables) and keeps the identifiers that are not functions or keywords.

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan', 'atan2']);

export function metricNames(expr: string): string[] {
  let e = expr;
  // Grafana variable queries: label_values(METRIC{...}, label) and query_result(EXPR).
  const lv = /^\s*label_values\(\s*(.*),\s*[\w.]+\s*\)\s*$/s.exec(e);
  if (lv) e = lv[1]!;
  else if (/^\s*label_values\(\s*[\w.]+\s*\)\s*$/.test(e)) return [];
  const qr = /^\s*query_result\((.*)\)\s*$/s.exec(e);
  if (qr) e = qr[1]!;
  e = e
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // string literals
    .replace(/\{[^{}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges and subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // grouping label lists
    .replace(/\$\{?\w+\}?/g, ' ') // Grafana variables outside strings
    .replace(/\boffset\s+-?[\dsmhdwy]+/g, ' ');
  const names = new Set<string>();
  for (const m of e.matchAll(/(?<![\w.:])([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    const [, name, call] = m;
    if (call || KEYWORDS.has(name!.toLowerCase())) continue;
    names.add(name!);
  }
  return [...names];
}

export interface ContractMetric { name: string; type: 'counter' | 'gauge' | 'histogram' | 'summary'; labels: string[]; help: string }

/** The series names a contract entry puts on /metrics (a histogram: _bucket, _sum, _count). */
export function seriesNames(m: ContractMetric): string[] {
  if (m.type === 'histogram') return [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`];
  if (m.type === 'summary') return [m.name, `${m.name}_sum`, `${m.name}_count`];
  return [m.name];
}
