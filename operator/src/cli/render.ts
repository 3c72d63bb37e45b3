// Text output of `kubectl cutover`: pure functions from API objects (and "now") to lines, so that
// they are table-tested without a cluster.
import { ago } from './dashboard/model.ts';

/** The loose shape the renderer reads: any of the three kinds, possibly partial. */
export interface CutoverObject {
  kind?: string;
  metadata: { name?: string; namespace?: string; generation?: number; creationTimestamp?: string; annotations?: Record<string, string>; ownerReferences?: Array<{ kind?: string; name?: string; controller?: boolean }> };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export interface EventLine { type?: string; reason?: string; message?: string; at?: string; count?: number }

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Rec : {});
const arr = (v: unknown): Rec[] => (Array.isArray(v) ? v.map(rec) : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** kubectl-style age: 45s, 3m, 2h5m, 4d. */
export function age(from: string | undefined, now: number): string {
  const t = from ? Date.parse(from) : NaN;
  if (!Number.isFinite(t)) return '-';
  return ago(now - t);
}

/** Columns padded to the widest cell, separated by 3 spaces, like kubectl. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('   ').trimEnd();
  return [line(header), ...rows.map(line)];
}

function weightOf(o: CutoverObject): string {
  const s = rec(o.status);
  if (o.kind === 'ShadowRun') {
    const p = num(rec(o.spec).percent);
    return p !== undefined ? `mirror ${p}%` : '-';
  }
  const w = num(s.currentWeight);
  return w !== undefined ? `${w}%` : '-';
}

function stepOf(o: CutoverObject): string {
  const s = rec(o.status);
  if (o.kind !== 'TrafficShift') {
    const child = rec(rec(s.children).trafficShift);
    const step = num(child.currentStep);
    const steps = arr(rec(rec(o.spec).shift).steps).length;
    return step !== undefined && steps ? `${step + 1}/${steps}` : '-';
  }
  const step = num(s.currentStep);
  const steps = arr(rec(o.spec).steps).length;
  return step !== undefined && steps ? `${step + 1}/${steps}` : '-';
}

/** `kubectl cutover get`: every kind in one table. */
export function getTable(objects: CutoverObject[], now: number, allNamespaces: boolean): string[] {
  if (objects.length === 0) return [];
  const rows = objects.map((o) => {
    const s = rec(o.status);
    const phase = str(s.phase) ?? 'Pending';
    const ready = arr(s.conditions).find((c) => c.type === 'Ready');
    const stalled = arr(s.conditions).find((c) => c.type === 'Stalled' && c.status === 'True');
    const message = str(stalled?.message) ?? str(s.message) ?? str(ready?.message) ?? '';
    return [
      ...(allNamespaces ? [o.metadata.namespace ?? ''] : []),
      `${shortKind(o.kind)}/${o.metadata.name ?? ''}`,
      phase + (stalled ? ' (Stalled)' : ''),
      weightOf(o),
      stepOf(o),
      str(rec(o.spec).owner) ?? '-',
      age(o.metadata.creationTimestamp, now),
      message.length > 80 ? `${message.slice(0, 79)}…` : message,
    ];
  });
  return table([...(allNamespaces ? ['NAMESPACE'] : []), 'NAME', 'PHASE', 'WEIGHT', 'STEP', 'OWNER', 'AGE', 'MESSAGE'], rows);
}

export function shortKind(kind: string | undefined): string {
  switch (kind) {
    case 'TrafficShift': return 'trafficshift';
    case 'ShadowRun': return 'shadowrun';
    case 'MigrationSlice': return 'migrationslice';
    default: return (kind ?? 'unknown').toLowerCase();
  }
}

function bar(weight: number, width = 20): string {
  const n = Math.round((weight / 100) * width);
  return `[${'#'.repeat(n)}${'-'.repeat(width - n)}]`;
}

function fmt(v: unknown): string {
  const n = num(v);
  if (n === undefined) return '-';
  if (n !== 0 && Math.abs(n) < 0.001) return n.toExponential(2);
  return String(Math.round(n * 10_000) / 10_000);
}

function conditionsBlock(s: Rec, now: number): string[] {
  const cs = arr(s.conditions);
  if (cs.length === 0) return [];
  return ['Conditions:', ...table(['TYPE', 'STATUS', 'REASON', 'AGE', 'MESSAGE'], cs.map((c) => [str(c.type) ?? '', str(c.status) ?? '', str(c.reason) ?? '', age(str(c.lastTransitionTime), now), str(c.message) ?? ''])).map((l) => `  ${l}`)];
}

function actionsBlock(o: CutoverObject, s: Rec, now: number): string[] {
  const acked = arr(s.acknowledgedActions);
  const pending = Object.entries(o.metadata.annotations ?? {})
    .filter(([k]) => /^cutover\.dev\/(promote|abort|pause|resume|retry)$/.test(k))
    .filter(([k, v]) => !acked.some((a) => str(a.action)?.toLowerCase() === k.slice('cutover.dev/'.length) && a.id === v));
  if (acked.length === 0 && pending.length === 0) return [];
  return [
    'Actions:',
    ...acked.map((a) => `  ${str(a.action)} ${str(a.id)} acknowledged ${age(str(a.at), now)} ago`),
    ...pending.map(([k, v]) => `  ${k.slice('cutover.dev/'.length)} ${v} requested, not yet acknowledged`),
  ];
}

function eventsBlock(events: EventLine[], now: number): string[] {
  if (events.length === 0) return [];
  return ['Events:', ...table(['TYPE', 'REASON', 'AGE', 'MESSAGE'], events.map((e) => [e.type ?? '', e.reason ?? '', age(e.at, now), `${e.message ?? ''}${e.count && e.count > 1 ? ` (x${e.count})` : ''}`])).map((l) => `  ${l}`)];
}

function header(o: CutoverObject, s: Rec): string[] {
  const gen = o.metadata.generation;
  const observed = num(s.observedGeneration);
  const phase = str(s.phase) ?? 'Pending';
  return [
    `${o.kind} ${o.metadata.namespace}/${o.metadata.name}   generation ${gen ?? '-'}${observed !== undefined && observed !== gen ? ` (operator has seen ${observed})` : ''}`,
    `Phase:     ${phase}${str(s.pauseReason) ? ` (${str(s.pauseReason)})` : ''}${str(s.message) ? ` — ${str(s.message)}` : ''}`,
  ];
}

function analysisBlock(spec: Rec, s: Rec, now: number): string[] {
  const a = rec(spec.analysis);
  if (!spec.analysis) return ['Analysis:  none (steps only wait)'];
  const st = rec(s.analysis);
  const out = [
    `Analysis:  every ${str(a.interval) ?? '?'}; failures ${num(st.consecutiveFailures) ?? 0}/${num(a.failureLimit) ?? '?'} consecutive, inconclusive ${num(st.consecutiveInconclusive) ?? 0}/${num(a.inconclusiveLimit) ?? '?'} (then ${str(a.onInconclusive) ?? 'Pause'})${str(s.lastAnalysisAt) ? `; last recorded run ${age(str(s.lastAnalysisAt), now)} ago` : ''}`,
  ];
  const results = arr(st.lastResults);
  const metrics = arr(a.metrics);
  const rows = metrics.map((m) => {
    const r = results.find((x) => x.name === m.name);
    const threshold = str(r?.threshold) ?? [m.min !== undefined ? `>= ${fmt(m.min)}` : '', m.max !== undefined ? `<= ${fmt(m.max)}` : '', m.maxRatio !== undefined ? `ratio <= ${fmt(m.maxRatio)}` : ''].filter(Boolean).join(', ');
    const ratio = num(r?.value) !== undefined && num(r?.baseline) ? fmt(num(r!.value)! / num(r!.baseline)!) : '-';
    return [str(m.name) ?? '', fmt(r?.value), fmt(r?.baseline), ratio, threshold, str(r?.result) ?? 'not run', str(r?.message) ?? ''];
  });
  if (rows.length) out.push(...table(['METRIC', 'VALUE', 'BASELINE', 'RATIO', 'THRESHOLD', 'RESULT', 'MESSAGE'], rows).map((l) => `  ${l}`));
  out.push(...judgeBlock(a, st));
  return out;
}

/** `new/legacy` points, and what the new side's are worth as independent ones when correlated. */
function samplesCell(j: Rec): string {
  const n = num(j.samples) ?? 0;
  const eff = num(j.effectiveSamples);
  const worth = eff !== undefined && eff < n ? ` (r ${fmt(j.serialCorrelation)}: ~${Math.round(eff * 10) / 10} indep.)` : '';
  return `${n}/${num(j.baselineSamples) ?? 0}${worth}`;
}

/** The statistical judge: estimate, interval, p-value and score of each judged metric. */
function judgeBlock(a: Rec, st: Rec): string[] {
  const judged = arr(st.lastResults).filter((r) => r.judge !== undefined);
  const thresholds = rec(a.scoreThresholds);
  const score = num(st.score);
  if (judged.length === 0 && score === undefined) return [];
  const signed = (n: unknown): string => (num(n) !== undefined && num(n)! > 0 ? `+${fmt(n)}` : fmt(n));
  const rows = judged.map((r) => {
    const j = rec(r.judge);
    const pct = num(j.confidence) !== undefined ? `${Math.round(num(j.confidence)! * 1000) / 10}%` : '';
    return [
      str(r.name) ?? '', signed(j.estimate), `[${signed(j.lower)}, ${signed(j.upper)}] ${pct}`, fmt(j.pValue),
      num(j.meanRatio) !== undefined ? `${fmt(j.meanRatio)}x` : '-', samplesCell(j), str(j.classification) ?? '',
    ];
  });
  const limits = num(thresholds.pass) !== undefined ? ` (pass ${fmt(thresholds.pass)}, marginal ${fmt(thresholds.marginal)})` : ' (each judged metric decides alone: no scoreThresholds)';
  return [
    `Judge:     score ${score !== undefined ? fmt(score) : '-'}${limits}`,
    ...(rows.length ? table(['METRIC', 'SHIFT', 'INTERVAL', 'P', 'MEAN RATIO', 'SAMPLES', 'CLASS'], rows).map((l) => `  ${l}`) : []),
  ];
}

/** A part of a rollback: the status field that records it done, or who else does it. */
type RollbackPart = [label: string, how: { field: string } | { by: string }];

/** The rollback record: trigger, reason, and each part in the order it is done (DESIGN §2). */
function rollbackBlock(rb: Rec, now: number, parts: RollbackPart[]): string[] {
  if (!str(rb.trigger)) return [];
  const done = parts.map(([label, how]) => `${label} ${'by' in how ? `restored by ${how.by}` : str(rb[how.field]) ? 'restored' : 'not yet restored'}`);
  return [
    `Rollback:  ${str(rb.trigger)} ${age(str(rb.at), now)} ago — ${str(rb.reason)}${num(rb.fromWeight) !== undefined ? ` (from ${num(rb.fromWeight)}%, step ${(num(rb.fromStep) ?? 0) + 1})` : ''}`,
    `           ${done.join(', ')}${str(rb.completedAt) ? '; complete' : ''}`,
  ];
}

function trafficShiftStatus(o: CutoverObject, now: number): string[] {
  const spec = rec(o.spec);
  const s = rec(o.status);
  const route = rec(spec.route);
  const routeText = route.httpRoute ? `HTTPRoute ${str(rec(route.httpRoute).name)} rule ${num(rec(route.httpRoute).ruleIndex) ?? 0}` : route.ingress ? `Ingress ${str(rec(route.ingress).name)}` : route.virtualService ? `VirtualService ${str(rec(route.virtualService).name)}` : '-';
  const stable = rec(spec.stable);
  const canary = rec(spec.canary);
  const weight = num(s.currentWeight) ?? 0;
  const out = header(o, s);
  const splits = arr(spec.workers).filter((w) => w.split !== undefined);
  if (spec.route) {
    out.push(`Route:     ${routeText}: stable ${str(stable.service)}:${num(stable.port)} → canary ${str(canary.service)}:${num(canary.port)}`);
    out.push(`Weight:    ${bar(weight)} ${weight}% canary, ${100 - weight}% stable`);
  } else {
    out.push('Route:     none: this shift moves work (queue consumers), not requests');
  }
  if (splits.length) out.push(`Work:      ${bar(weight)} ${weight}% on the new consumers${s.workersReady === false ? ' (moving: waiting for Ready)' : ''}`);
  const steps = arr(spec.steps);
  const cur = num(s.currentStep);
  const phase = str(s.phase) ?? 'Pending';
  out.push('Steps:');
  steps.forEach((step, i) => {
    const done = phase === 'Completed' || (cur !== undefined && i < cur);
    const active = cur === i && (phase === 'Progressing' || phase === 'Paused');
    const mark = done ? '✓' : active ? (phase === 'Paused' ? '‖' : '▶') : phase === 'RolledBack' && cur === i ? '✗' : ' ';
    let detail = '';
    if (active && str(s.stepStartedAt)) {
      detail = `   started ${age(str(s.stepStartedAt), now)} ago`;
    }
    out.push(`  ${mark} ${String(i + 1).padStart(2)}  ${String(num(step.weight) ?? '?').padStart(3)}%  pause ${str(step.pause) ?? '-'}${detail}`);
  });
  out.push(...analysisBlock(spec, s, now));
  // A MigrationSlice's shift restores only the route; its slice does the flag and the workers.
  const slice = (o.metadata.ownerReferences ?? []).find((r) => r.kind === 'MigrationSlice' && r.controller);
  out.push(...rollbackBlock(rec(s.rollback), now, [
    ['route', { field: 'routeRestoredAt' }],
    ...(splits.length ? [['legacy consumers Ready', { field: 'legacyWorkersReadyAt' }] satisfies RollbackPart] : []),
    ['workers', slice && !splits.length ? { by: `MigrationSlice ${slice.name ?? '?'}` } : { field: 'workersRestoredAt' }],
  ]));
  const alerts = arr(rec(spec.rollback).alerts);
  if (alerts.length) out.push(`Alerts:    roll back at once on ${alerts.map((a) => `{${Object.entries(rec(a.matchLabels)).map(([k, v]) => `${k}=${String(v)}`).join(',')}}`).join(' or ')}`);
  const workers = arr(s.workers);
  if (workers.length) {
    out.push('Workers:', ...workers.map((w) => (w.split === true
      ? `  ${str(w.deployment)}: ${num(w.readyReplicas) ?? '?'}/${num(w.replicas) ?? 0} ready; legacy ${str(w.legacyDeployment)}: ${num(w.legacyReadyReplicas) ?? '?'}/${num(w.legacyReplicas) ?? num(w.legacyPreviousReplicas) ?? '?'} ready (before the cutover: ${num(w.previousReplicas) ?? '?'} and ${num(w.legacyPreviousReplicas) ?? '?'})`
      : `  ${str(w.deployment)}: ${num(w.readyReplicas) ?? '?'} ready (was ${num(w.previousReplicas) ?? '?'})${str(w.legacyDeployment) ? `; legacy ${str(w.legacyDeployment)} scaled ${str(w.legacyScaledAt) ? 'down' : 'not yet'}` : ''}`)));
  }
  return out;
}

function shadowRunStatus(o: CutoverObject, _now: number): string[] {
  const spec = rec(o.spec);
  const s = rec(o.status);
  const out = header(o, s);
  out.push(`Mirror:    ${num(spec.percent) ?? '?'}% of ${str(rec(spec.primary).service) ?? '?'} → ${str(rec(spec.shadow).service) ?? '?'} for ${str(spec.duration) ?? '?'}${str(s.endsAt) ? `, ends ${str(s.endsAt)}` : ''}`);
  if (str(s.verdict)) out.push(`Verdict:   ${str(s.verdict)}`);
  const results = arr(s.results);
  if (results.length) out.push('Results:', ...table(['METRIC', 'PRIMARY', 'SHADOW', 'THRESHOLD', 'RESULT', 'MESSAGE'], results.map((r) => [str(r.name) ?? '', fmt(r.primary), fmt(r.shadow), str(r.threshold) ?? '', str(r.result) ?? '', str(r.message) ?? ''])).map((l) => `  ${l}`));
  const parity = rec(s.parity);
  if (s.parity) {
    out.push(`Parity:    ${str(parity.result) ?? '-'}: ${num(parity.mismatched) ?? 0}/${num(parity.compared) ?? 0} compared responses differ${num(parity.noiseCompared) !== undefined ? ` (${num(parity.noiseCompared)} noise samples)` : ''}${str(parity.comparator) ? `; comparator ${str(parity.comparator)}` : ''}`);
    if (str(parity.reason)) out.push(`           ${str(parity.reason)}`);
    if (str(parity.breaker)) out.push(`           legacy replays paused: ${str(parity.breaker)}`);
    const skipped = arr(parity.skipped).map((x) => `${str(x.reason)} ${num(x.count) ?? 0}`);
    if (skipped.length) out.push(`           skipped: ${skipped.join(', ')}`);
    if (spec.parity !== undefined) out.push(`           kubectl cutover report ${str(o.metadata.name) ?? ''}${str(o.metadata.namespace) ? ` -n ${str(o.metadata.namespace)}` : ''} for the full report`);
  }
  return out;
}

function migrationSliceStatus(o: CutoverObject, now: number): string[] {
  const spec = rec(o.spec);
  const s = rec(o.status);
  const out = header(o, s);
  out.push(`Owner:     ${str(spec.owner) ?? '-'}`);
  out.push(`Legacy:    ${str(rec(spec.legacy).service) ?? '?'} → target ${str(rec(spec.target).service) ?? '?'}`);
  const children = rec(s.children);
  const sr = rec(children.shadowRun);
  const ts = rec(children.trafficShift);
  if (children.shadowRun) out.push(`ShadowRun: ${str(sr.name)} ${str(sr.phase) ?? ''}${str(sr.verdict) ? ` (${str(sr.verdict)})` : ''}`);
  if (children.trafficShift) out.push(`Shift:     ${str(ts.name)} ${str(ts.phase) ?? ''}${num(ts.currentWeight) !== undefined ? ` at ${num(ts.currentWeight)}%` : ''}`);
  const flag = rec(s.featureFlag);
  if (s.featureFlag) out.push(`Flag:      ${str(flag.value) ?? (flag.enabled === true ? 'on' : 'off')} since ${age(str(flag.at), now)} ago${str(flag.error) ? ` — not set: ${str(flag.error)}` : ''}`);
  const triggers = arr(s.triggers);
  if (triggers.length) out.push('Triggers:', ...triggers.map((t) => `  ${str(t.name)}: ${t.met === true ? 'met' : 'not met'} (value ${fmt(t.value)})${str(t.message) ? ` — ${str(t.message)}` : ''}`));
  out.push(...rollbackBlock(rec(s.rollback), now, [
    ['route', { field: 'routeRestoredAt' }],
    ...(spec.featureFlag ? [['flag', { field: 'featureFlagRestoredAt' }] as RollbackPart] : []),
    ['workers', { field: 'workersRestoredAt' }],
  ]));
  out.push(`Rollback plan: ${(str(spec.rollbackPlan) ?? '-').trim().split('\n').join('\n               ')}`);
  const history = arr(s.history);
  if (history.length) out.push('History:', ...table(['PHASE', 'AGE', 'REASON', 'MESSAGE'], history.map((h) => [str(h.phase) ?? '', age(str(h.at), now), str(h.reason) ?? '', str(h.message) ?? ''])).map((l) => `  ${l}`));
  return out;
}

/** `kubectl cutover status NAME`. */
export function statusText(o: CutoverObject, events: EventLine[], now: number): string[] {
  const s = rec(o.status);
  const body = o.kind === 'TrafficShift' ? trafficShiftStatus(o, now) : o.kind === 'ShadowRun' ? shadowRunStatus(o, now) : migrationSliceStatus(o, now);
  return [...body, ...actionsBlock(o, s, now), ...conditionsBlock(s, now), ...eventsBlock(events, now)];
}
