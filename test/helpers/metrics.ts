// Reading a Prometheus text page (an operator's /metrics) in tests and the bench.

/** Sum of a metric's samples in Prometheus text format whose labels include `match`
 * (a value `!x`: the label is not x). */
export function metricSum(text: string, name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = line.match(/^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    if (Object.entries(match).every(([k2, v]) => (v.startsWith('!') ? labels[k2] !== v.slice(1) : labels[k2] === v))) sum += Number(m[4]);
  }
  return sum;
}
