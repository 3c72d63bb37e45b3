// The parity report in the playbook's shape ("compared flows, match rate, known deviations,
// go/no-go"): built from a run's summary and verdict, rendered as text, Markdown or JSON. Pure.
// Everything kept is redacted again here (Authorization, Cookie, Set-Cookie and redactJsonPaths),
// so a summary written by an older comparator cannot leak through the report.
import type { MetricResultValue } from '../api/common.ts';
import { redactBody, redactHeaders } from './redact.ts';
import type { ParitySummary, Sample, SampleAnswer, SkipReason } from './summary.ts';
import { judgeRun, type VerdictOptions } from './verdict.ts';

export interface ReportMeta {
  namespace: string;
  name: string;
  /** The team or person answerable for the cutover (a MigrationSlice's owner). */
  owner?: string;
  /** When the report is made, RFC 3339. */
  date: string;
  redactJsonPaths?: readonly string[];
}

export interface ComparedFlow {
  endpoint: string;
  compared: number;
  noiseCompared: number;
  mismatched: number;
  /** 1 − mismatched / compared; absent when nothing was compared. */
  matchRate?: number;
  truncated: number;
  serverErrors: number;
  result: MetricResultValue;
}

export interface KnownDeviation {
  endpoint: string;
  path: string;
  rule: string;
  reason: string;
  count: number;
}

export interface DifferingField {
  endpoint: string;
  field: string;
  raw: number;
  noise: number;
  relative: number;
  absolute: number;
  classification: 'real' | 'noise';
  samples: Sample[];
}

export interface ParityReport {
  run: { namespace: string; name: string };
  date: string;
  owner?: string;
  period: { from: string; to: string };
  decision: 'Go' | 'No-Go';
  result: MetricResultValue;
  reason: string;
  thresholds: { maxMismatchRatio: number; minCompared: number; relativeThreshold: number; absoluteThreshold: number };
  compared: number;
  mismatched: number;
  flows: ComparedFlow[];
  knownDeviations: KnownDeviation[];
  differingFields: DifferingField[];
  skipped: Partial<Record<SkipReason, number>>;
}

function redactAnswer(a: SampleAnswer, paths: readonly string[]): SampleAnswer {
  const body = redactBody(a.body, paths);
  return { status: a.status, headers: redactHeaders(a.headers), ...(body !== undefined ? { body } : {}) };
}

function redactSample(s: Sample, paths: readonly string[]): Sample {
  return {
    at: s.at,
    request: { method: s.request.method, path: s.request.path, headers: redactHeaders(s.request.headers) },
    legacy: redactAnswer(s.legacy, paths),
    candidate: redactAnswer(s.candidate, paths),
    difference: s.difference,
  };
}

export function buildReport(summary: ParitySummary, opts: VerdictOptions, meta: ReportMeta): ParityReport {
  const verdict = judgeRun(summary, opts);
  const paths = meta.redactJsonPaths ?? [];
  const flows: ComparedFlow[] = verdict.endpoints.map((e) => ({
    endpoint: e.endpoint,
    compared: e.compared,
    noiseCompared: e.noiseCompared,
    mismatched: e.mismatched,
    ...(e.compared > 0 ? { matchRate: 1 - e.mismatchRatio } : {}),
    truncated: e.truncated,
    serverErrors: e.serverErrors,
    result: e.result,
  }));
  const knownDeviations: KnownDeviation[] = [];
  const differingFields: DifferingField[] = [];
  for (const e of verdict.endpoints) {
    const ep = summary.endpoints[e.endpoint];
    if (!ep) continue;
    for (const d of Object.values(ep.deviations)) knownDeviations.push({ endpoint: e.endpoint, path: d.path, rule: d.rule, reason: d.reason, count: d.count });
    for (const f of e.fields) {
      differingFields.push({
        endpoint: e.endpoint,
        field: f.field,
        raw: f.raw,
        noise: f.noise,
        relative: round2(f.relative),
        absolute: round2(f.absolute),
        classification: f.real ? 'real' : 'noise',
        samples: (ep.fields[f.field]?.samples ?? []).map((s) => redactSample(s, paths)),
      });
    }
  }
  const go = verdict.result === 'Pass';
  const reason = verdict.result === 'Inconclusive' ? `inconclusive, missing data never passes: ${verdict.reason}` : verdict.reason;
  return {
    run: { namespace: meta.namespace, name: meta.name },
    date: meta.date,
    ...(meta.owner !== undefined ? { owner: meta.owner } : {}),
    period: { from: summary.startedAt, to: summary.updatedAt },
    decision: go ? 'Go' : 'No-Go',
    result: verdict.result,
    reason,
    thresholds: { maxMismatchRatio: opts.maxMismatchRatio, minCompared: opts.minCompared, relativeThreshold: opts.noise.relativeThreshold, absoluteThreshold: opts.noise.absoluteThreshold },
    compared: verdict.compared,
    mismatched: verdict.mismatched,
    flows,
    knownDeviations,
    differingFields,
    skipped: { ...summary.skipped },
  };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function pct(x: number | undefined): string {
  return x === undefined ? '-' : `${(x * 100).toFixed(2)}%`;
}

function answerLine(a: SampleAnswer): string {
  return `${a.status}${a.body !== undefined ? ` ${a.body}` : ''}`;
}

function skippedLine(r: ParityReport): string {
  const parts = Object.entries(r.skipped).map(([k, v]) => `${k} ${v}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

export function renderText(r: ParityReport): string {
  const out: string[] = [];
  out.push(`Parity report: ${r.run.namespace}/${r.run.name}`);
  out.push(`Date:      ${r.date}`);
  out.push(`Owner:     ${r.owner ?? '-'}`);
  out.push(`Period:    ${r.period.from} → ${r.period.to}`);
  out.push(`Decision:  ${r.decision}: ${r.reason}`);
  out.push(`Compared:  ${r.compared} requests, ${r.mismatched} differ; skipped: ${skippedLine(r)}`);
  out.push('', 'Compared flows');
  const w = Math.max(8, ...r.flows.map((f) => f.endpoint.length));
  out.push(`  ${'ENDPOINT'.padEnd(w)}  COMPARED  DIFFER  MATCH RATE  RESULT`);
  for (const f of r.flows) out.push(`  ${f.endpoint.padEnd(w)}  ${String(f.compared).padStart(8)}  ${String(f.mismatched).padStart(6)}  ${pct(f.matchRate).padStart(10)}  ${f.result}`);
  out.push('', 'Known deviations');
  if (r.knownDeviations.length === 0) out.push('  none');
  for (const d of r.knownDeviations) out.push(`  ${d.endpoint}  ${d.path}  ${d.rule}  ×${d.count}  (${d.reason})`);
  out.push('', 'Differing fields (raw = legacy vs new, noise = legacy vs legacy on the sample)');
  if (r.differingFields.length === 0) out.push('  none');
  for (const f of r.differingFields) {
    out.push(`  ${f.endpoint}  ${f.field}  raw ${f.raw}  noise ${f.noise}  relative ${f.relative}%  absolute ${f.absolute}%  → ${f.classification}`);
    for (const s of f.samples) {
      out.push(`    ${s.at} ${s.request.method} ${s.request.path}: ${s.difference}`);
      out.push(`      legacy: ${answerLine(s.legacy)}`);
      out.push(`      new:    ${answerLine(s.candidate)}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** `|` and line breaks would break a Markdown table cell. */
function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function code(s: string): string {
  const t = s.replace(/\r?\n/g, ' ');
  return t.includes('`') ? `\`\` ${t} \`\`` : `\`${t}\``;
}

export function renderMarkdown(r: ParityReport): string {
  const out: string[] = [];
  out.push(`# Parity report: ${r.run.namespace}/${r.run.name}`, '');
  out.push(`- **Date:** ${r.date}`);
  out.push(`- **Owner:** ${r.owner ?? '-'}`);
  out.push(`- **Period:** ${r.period.from} → ${r.period.to}`);
  out.push(`- **Compared:** ${r.compared} requests, ${r.mismatched} differ (skipped: ${skippedLine(r)})`);
  out.push(`- **Decision:** **${r.decision}**: ${cell(r.reason)}`, '');
  out.push('## Compared flows', '', '| Endpoint | Compared | Differ | Match rate | Result |', '|---|---:|---:|---:|---|');
  for (const f of r.flows) out.push(`| ${code(f.endpoint)} | ${f.compared} | ${f.mismatched} | ${pct(f.matchRate)} | ${f.result} |`);
  out.push('', '## Known deviations', '');
  if (r.knownDeviations.length === 0) out.push('None.');
  else {
    out.push('| Endpoint | Path | Rule | Reason | Count |', '|---|---|---|---|---:|');
    for (const d of r.knownDeviations) out.push(`| ${code(d.endpoint)} | ${code(d.path)} | ${d.rule} | ${cell(d.reason)} | ${d.count} |`);
  }
  out.push('', '## Differing fields', '');
  if (r.differingFields.length === 0) out.push('None.');
  else {
    out.push('| Endpoint | Field | Raw | Noise | Relative | Absolute | Verdict |', '|---|---|---:|---:|---:|---:|---|');
    for (const f of r.differingFields) out.push(`| ${code(f.endpoint)} | ${code(f.field)} | ${f.raw} | ${f.noise} | ${f.relative}% | ${f.absolute}% | ${f.classification} |`);
    for (const f of r.differingFields.filter((x) => x.samples.length > 0)) {
      out.push('', `### ${cell(f.endpoint)} ${code(f.field)}`, '');
      for (const s of f.samples) {
        out.push(`- ${s.at} ${code(`${s.request.method} ${s.request.path}`)}: ${code(s.difference)}`);
        out.push(`  - legacy: ${code(answerLine(s.legacy))}`);
        out.push(`  - new: ${code(answerLine(s.candidate))}`);
      }
    }
  }
  return `${out.join('\n')}\n`;
}

export function renderJson(r: ParityReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}
