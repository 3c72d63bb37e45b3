// The markdown table printed at the end of `npm run bench` (and pasted into the README).
import type { BenchResults } from './run.ts';
import type { Dist } from './lib.ts';

const ms = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? 'n/a' : x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`);
const pct = (d: Dist | undefined) => (d && d.n > 0 ? `p50 ${ms(d.p50)} · p99 ${ms(d.p99)} · max ${ms(d.max)} (n=${d.n})` : 'n/a');
const ok = (met: boolean | undefined) => (met === undefined ? '' : met ? '✅' : '❌');

export function renderTable(r: BenchResults): string {
  const rows: string[][] = [];
  const a = r.alert && !('error' in r.alert) ? r.alert : undefined;
  if (r.alert && 'error' in r.alert) rows.push(['alert → stable', `failed: ${r.alert.error}`, 'p99 ≤ 250 ms', '']);
  if (a) {
    rows.push([`alert → stable, ${a.shifts} active shifts (hook POST → weights seen by a WATCH)`, pct(a.hookToStableMs), 'p99 ≤ 250 ms', ok(a.hookToStableMs.p99 <= 250)]);
    rows.push(['  same, one alert matching all 100 at once', pct(a.burstHookToStableMs), '', '']);
  }
  const b = r.breach && !('error' in r.breach) ? r.breach : undefined;
  if (r.breach && 'error' in r.breach) rows.push(['breach → rollback', `failed: ${r.breach.error}`, '', '']);
  if (b) rows.push([`breach → rollback (interval ${b.analysisInterval}, failureLimit ${b.failureLimit}, ${b.runs} runs)`, `p50 ${ms(b.breachToRollbackMs.p50)} · p99 ${ms(b.breachToRollbackMs.p99)} (n=${b.breachToRollbackMs.n})`, '≤ 7 s (interval + 2 s)', ok(b.breachToRollbackMs.n > 0 && b.breachToRollbackMs.p99 <= 7000)]);
  const y = r.readyz && !('error' in r.readyz) ? r.readyz : undefined;
  if (r.readyz && 'error' in r.readyz) rows.push(['/readyz under hook abuse', `failed: ${r.readyz.error}`, 'p95 ≤ 100 ms', '']);
  if (y) rows.push([`/readyz under hook abuse (${y.rate} refused hook requests/s, ≤ 40 in flight, ${y.seconds} s; ${y.fair} of ${y.probes} probes with a responsive control, ${y.failed} unanswered)`, `p50 ${ms(y.readyzMs.p50)} · p95 ${ms(y.readyzMs.p95)} · max ${ms(y.readyzMs.max)}`, 'p95 ≤ 100 ms', ok(y.failed === 0 && y.readyzMs.n > 0 && y.readyzMs.p95 <= 100)]);
  const s = r.scale && !('error' in r.scale) ? r.scale : undefined;
  if (r.scale && 'error' in r.scale) rows.push(['scale', `failed: ${r.scale.error}`, '', '']);
  if (s) {
    rows.push([`${s.shifts} TrafficShifts, one process: RSS idle / stepping (median, max)`, `${s.rssMb.idle} MB (max ${s.rssMb.idleMax}) / ${s.rssMb.stepping} MB (max ${s.rssMb.steppingMax})`, '≤ 256 MB', ok(Math.max(s.rssMb.idleMax, s.rssMb.steppingMax) <= 256)]);
    rows.push(['  API requests/s idle (analysis every 30 s) / stepping¹', `${s.apiRequestsPerSecond.idle} / ${s.apiRequestsPerSecond.stepping}`, 'idle ≤ 1/s', ok(s.apiRequestsPerSecond.idle <= 1)]);
    rows.push(['  Prometheus queries/s idle / stepping (de-duplicated share)', `${s.prometheus.idleQueriesPerSecond} / ${s.prometheus.steppingQueriesPerSecond} (${Math.round(s.prometheus.deduplicatedShare * 100)}% merged)`, '', '']);
    rows.push(['  step timing drift (next step seen − scheduled)', pct(s.stepDriftMs.observed), 'p99 ≤ 1 s', ok(s.stepDriftMs.observed.p99 <= 1000)]);
    rows.push([`restart: SIGKILL with ${s.restart.inFlight} in flight → all reconciled`, `${ms(s.restart.allReconciledAfterMs)} (ready ${ms(s.restart.readyAfterMs)})`, '≤ 15 s', ok(s.restart.allReconciledAfterMs <= 15_000)]);
    rows.push(['  repeated / skipped steps (Events; WATCH)', `${s.restart.repeatedSteps} / ${s.restart.skippedSteps}; ${s.restart.repeatedFromWatch} / ${s.restart.skippedFromWatch}`, '0 / 0', ok(s.restart.repeatedSteps + s.restart.skippedSteps + s.restart.repeatedFromWatch + s.restart.skippedFromWatch === 0)]);
  }
  const w = r.workers;
  if (w && 'error' in w) rows.push(['shifts with workers, idle', `failed: ${w.error}`, '', '']);
  if (w && !('error' in w)) rows.push([`${w.shifts} TrafficShifts with workers (2 Deployments each), idle: API requests/s (by verb)`, `${w.apiRequestsPerSecond} (${Object.entries(w.byVerb).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'})`, 'idle ≤ 1/s', ok(w.apiRequestsPerSecond <= 1)]);
  const f = r.flagger;
  if (f && 'error' in f) rows.push(['Flagger v1.44 side by side', `not measured: ${f.error}`, 'ratio', '']);
  if (f && !('error' in f)) for (const row of f.rows) rows.push([row.what, row.value, row.target ?? 'ratio', '']);
  const jb = r.judge;
  if (jb && 'error' in jb) rows.push(['statistical judge vs threshold', `failed: ${jb.error}`, '', '']);
  if (jb && !('error' in jb)) {
    for (const x of jb.rows) {
      rows.push([`${x.check}: false rollbacks (healthy) / detected (15% slower), ${jb.runs} runs`, `${x.falseRollbacks} / ${x.detected}${x.samplesMedian !== undefined ? ` (median ${x.samplesMedian} points per side)` : ''}`, x.check.startsWith('judge') ? '≤ 1 / ≥ 95%' : '', x.check.startsWith('judge') ? ok(x.falseRollbacks <= 1 && x.detected >= 0.95 * jb.runs) : '']);
    }
  }
  const head = `| what | measured | target (DESIGN §6) | |\n|---|---|---|---|`;
  const body = rows.map((x) => `| ${x.join(' | ')} |`).join('\n');
  const m = r.machine;
  const notes = [
    s ? `¹ ${s.apiRequestsPerSecond.source}. Cross-check from the API server (every client): idle ${s.apiRequestsPerSecond.apiserverCrossCheck.idle}/s, stepping ${s.apiRequestsPerSecond.apiserverCrossCheck.stepping}/s.` : '',
    f && !('error' in f) ? f.notes.join('\n\n') : '',
  ].filter(Boolean).join('\n\n');
  return `${head}\n${body}\n\nMachine: ${m.nproc} cores (${m.cpu}), ${m.memoryGb} GB RAM, Linux ${m.kernel}, Node ${m.node}; load average at start ${m.loadAvgAtStart}; commit ${r.commit}; ${r.startedAt}. Operator processes ran ${r.operator === 'source' ? 'the TypeScript sources (operator/src/main.ts)' : 'the bundle (dist/main.mjs), as shipped'}.\n\n${notes}\n`;
}
