// The markdown table printed at the end of `npm run bench` (and pasted into the README).
import type { BenchResults } from './run.ts';
import type { Dist } from './lib.ts';
import { comparatorRows } from './parity.ts';

const ms = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? 'n/a' : x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`);
const pct = (d: Dist | undefined) => (d && d.n > 0 ? `p50 ${ms(d.p50)} · p99 ${ms(d.p99)} · max ${ms(d.max)} (n=${d.n})` : 'n/a');
const ok = (met: boolean | undefined) => (met === undefined ? '' : met ? '✅' : '❌');

function scaleRows(s: NonNullable<Exclude<BenchResults['scale'], { error: string }>>, target: { rssMb: number; restartMs: number }): string[][] {
  const st = s.settings;
  const rate = st?.stepsPerSecond !== undefined ? ` (${st.stepsPerSecond} steps/s)` : '';
  const how = st ? (st.staggerSeconds > 0 ? `, steps of ${st.pauseSeconds} s staggered over ${st.staggerSeconds} s${rate}, analysis every ${st.steppingInterval}` : `, steps of ${st.pauseSeconds} s in lockstep${rate}`) : '';
  const rows: string[][] = [];
  rows.push([`${s.shifts.toLocaleString('en')} TrafficShifts, one process${how}: RSS idle / stepping (median, max)`, `${s.rssMb.idle} MB (max ${s.rssMb.idleMax}) / ${s.rssMb.stepping} MB (max ${s.rssMb.steppingMax})`, `≤ ${target.rssMb} MB`, ok(Math.max(s.rssMb.idleMax, s.rssMb.steppingMax) <= target.rssMb)]);
  rows.push([`  API requests/s idle (analysis every ${st?.idleInterval ?? '30s'}) / stepping¹`, `${s.apiRequestsPerSecond.idle} / ${s.apiRequestsPerSecond.stepping}`, 'idle ≤ 1/s', ok(s.apiRequestsPerSecond.idle <= 1)]);
  rows.push(['  Prometheus queries/s idle / stepping (de-duplicated share)', `${s.prometheus.idleQueriesPerSecond} / ${s.prometheus.steppingQueriesPerSecond} (${Math.round(s.prometheus.deduplicatedShare * 100)}% merged)`, '', '']);
  rows.push(['  step timing drift (next step seen − scheduled)', pct(s.stepDriftMs.observed), 'p99 ≤ 1 s', ok(s.stepDriftMs.observed.p99 <= 1000)]);
  const bk = s.stepDriftMs.beforeKill;
  const ar = s.stepDriftMs.afterRestart;
  if (bk && ar && bk.n > 0 && ar.n > 0) rows.push(['    due before the kill / due after the restart had caught up', `p99 ${ms(bk.p99)} (n=${bk.n}) / p99 ${ms(ar.p99)} (n=${ar.n})`, '', '']);
  rows.push([`  restart: SIGKILL with ${s.restart.inFlight} in flight → all reconciled`, `${ms(s.restart.allReconciledAfterMs)} (ready ${ms(s.restart.readyAfterMs)})`, `≤ ${target.restartMs / 1000} s`, ok(s.restart.allReconciledAfterMs <= target.restartMs)]);
  rows.push(['  repeated / skipped steps (Events; WATCH)', `${s.restart.repeatedSteps} / ${s.restart.skippedSteps}; ${s.restart.repeatedFromWatch} / ${s.restart.skippedFromWatch}`, '0 / 0', ok(s.restart.repeatedSteps + s.restart.skippedSteps + s.restart.repeatedFromWatch + s.restart.skippedFromWatch === 0)]);
  const c = s.controlPlane;
  if (c) rows.push(['  the testbed\'s API server / etcd at this size, apart (RSS empty → idle → stepping; etcd database)', `API server ${c.apiserverRssMb.empty} → ${c.apiserverRssMb.idle} → ${c.apiserverRssMb.stepping} MB · etcd ${c.etcdRssMb.empty} → ${c.etcdRssMb.idle} → ${c.etcdRssMb.stepping} MB, database ${c.etcdDbMb.empty} → ${c.etcdDbMb.idle} MB`, 'reported', '']);
  const cpu = s.cpuCores;
  if (cpu) {
    const named: Record<string, string> = { operator: 'operator', 'kube-apiserver': 'API server', etcd: 'etcd', prometheus: 'Prometheus', 'kube-controller-manager': 'controller-manager', gateway: 'gateway', bench: 'bench' };
    const f = (w: Record<string, number>) => {
      const rest = Object.entries(w).filter(([k2]) => !(k2 in named)).reduce((a, [, v]) => a + (Number.isFinite(v) ? v : 0), 0);
      return [...Object.entries(named).filter(([k2]) => k2 in w).map(([k2, label]) => `${label} ${w[k2]}`), `other testbed ${Math.round(rest * 100) / 100}`].join(' · ');
    };
    rows.push([`  CPU in cores (of ${cpu.machineCores}), idle / stepping${cpu.afterRestart ? ' / after the restart' : ''}`, `${f(cpu.idle)} / ${f(cpu.stepping)}${cpu.afterRestart ? ` / ${f(cpu.afterRestart)}` : ''}`, 'reported', '']);
  }
  const l = s.operatorLoop;
  if (l) {
    const g = (w: { lagP99Ms: number; lagMaxMs: number; gcShare: number }) => `lag p99 ${w.lagP99Ms} ms, max ${w.lagMaxMs} ms, GC ${Math.round(w.gcShare * 1000) / 10}%`;
    rows.push([`  the operator's event loop, idle / stepping${l.afterRestart ? ' / after the restart' : ''}`, `${g(l.idle)} / ${g(l.stepping)}${l.afterRestart ? ` / ${g(l.afterRestart)}` : ''}`, 'reported', '']);
  }
  return rows;
}

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
  if (s) rows.push(...scaleRows(s, { rssMb: 256, restartMs: 15_000 }));
  const L = r.scale10k && !('error' in r.scale10k) ? r.scale10k : undefined;
  if (r.scale10k && 'error' in r.scale10k) rows.push(['scale, 10,000', `failed: ${r.scale10k.error}`, '', '']);
  if (L) rows.push(...scaleRows(L, { rssMb: 512, restartMs: 60_000 }));
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
  const p = r.parity;
  if (p && 'error' in p) rows.push(['parity comparator', `failed: ${p.error}`, '', '']);
  if (p && !('error' in p)) {
    rows.push([`parity comparator: compared requests/s at saturation (best of ${p.throughput.map((t) => t.offeredRps).join(', ')} req/s offered)`, `${p.saturationComparedPerSecond}/s`, 'reported', '']);
    rows.push(...comparatorRows(p));
    const g = p.gateway;
    if (g && 'error' in g) rows.push(['user latency at the gateway, parity on vs off', `failed: ${g.error}`, '', '']);
    if (g && !('error' in g)) {
      for (const x of g.runs) rows.push([`user latency at the gateway, ${g.rps} req/s, ${x.mode === 'none' ? 'no mirror' : x.mode === 'shadow' ? 'shadow without parity (mirror → new service)' : 'parity on (mirror → comparator, every read compared)'}, round ${x.round}`, `p50 ${x.p50.toFixed(1)} · p95 ${x.p95.toFixed(1)} · p99 ${x.p99.toFixed(1)} ms (n=${x.n}, ${x.errors + x.non200} not 200${x.comparedDuring !== undefined ? `; ${x.comparedDuring} compared` : ''})`, x.mode === 'parity' ? 'no added latency' : '', '']);
      const on = g.byMode.parity;
      const off = g.byMode.shadow;
      if (on && off) rows.push(['  parity on − off (shadow), mean of the rounds', `p50 ${(on.p50 - off.p50).toFixed(1)} ms · p95 ${(on.p95 - off.p95).toFixed(1)} ms · p99 ${(on.p99 - off.p99).toFixed(1)} ms`, '', '']);
    }
  }
  const d = r.dashboard;
  if (d && 'error' in d) rows.push(['web dashboard, 1,000 TrafficShifts', `failed: ${d.error}`, '', '']);
  if (d && !('error' in d)) {
    const dist = (x: { n: number; p50: number; p95: number; max: number }) => `p50 ${ms(x.p50)} · p95 ${ms(x.p95)} · max ${ms(x.max)} (n=${x.n})`;
    rows.push([`web dashboard overview, ${d.shifts} TrafficShifts (${d.moving} stepping): page opened → first row / whole list counted`, `${dist(d.firstRowMs)} / ${dist(d.wholeListMs)}`, '', '']);
    rows.push([`  status change (WATCH) → new weight on screen (${d.rowsInPage} rows in the page; ${d.changesNotRendered} changes outside it)`, dist(d.changeToScreenMs), '≤ 1 s (issue 17)', ok(d.changeToScreenMs.n > 0 && d.changeToScreenMs.p95 <= 1000)]);
    rows.push(['  search / namespace filter → list filtered', `${dist(d.searchMs)} / ${dist(d.namespaceFilterMs)}`, '', '']);
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
