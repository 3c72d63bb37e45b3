// What the dashboard shows, as pure functions from API objects (and "now"): the overview's rows and
// their order (what needs someone first), a cutover's weight over time, its rollback card, its
// steps. Shared by the server and the browser bundle (no Node, no I/O), table-tested in unit tests.
import { parseDuration } from '../../api/duration.ts';
import type { TemplateVars } from '../../analysis/template.ts';

/** The loose shape read here: any of the three kinds, possibly partial. */
export interface CutoverObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name?: string; namespace?: string; uid?: string; resourceVersion?: string; generation?: number; creationTimestamp?: string; annotations?: Record<string, string>; ownerReferences?: Array<{ kind?: string; name?: string; controller?: boolean }> };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export interface EventItem { type?: string; reason?: string; message?: string; at?: string; count?: number }

type Rec = Record<string, unknown>;
export const rec = (v: unknown): Rec => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Rec : {});
export const arr = (v: unknown): Rec[] => (Array.isArray(v) ? v.map(rec) : []);
export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
export const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const time = (v: unknown): number | undefined => { const t = typeof v === 'string' ? Date.parse(v) : NaN; return Number.isFinite(t) ? t : undefined; };

export const KINDS = ['TrafficShift', 'ShadowRun', 'MigrationSlice'] as const;
export type Kind = (typeof KINDS)[number];

/** Overview groups, in display order. */
export type Group = 'attention' | 'moving' | 'done';
export const GROUPS: readonly Group[] = ['attention', 'moving', 'done'];

/** Why a row needs someone, most urgent first. */
export const ATTENTION = ['RolledBack', 'Failed', 'Stalled', 'Degraded', 'Paused', 'Waiting'] as const;
export type Attention = (typeof ATTENTION)[number];

export const DAY_MS = 24 * 3600_000;
const MOVING = new Set(['Pending', 'Progressing', 'Running', 'Shadowing', 'Shifting', 'Stabilizing']);

export interface Summary {
  key: string;
  kind: string;
  namespace: string;
  name: string;
  phase: string;
  group: Group;
  /** Set in the attention group: the first reason that applies. */
  attention?: Attention;
  /** When the situation began (rollback, pause, condition), for the order within a group and "for 3m". */
  since?: number;
  /** Canary weight (or mirror percent of a ShadowRun), when known. */
  weight?: number;
  weightText: string;
  step: string;
  owner?: string;
  createdAt?: number;
  message: string;
}

export function keyOf(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

function condition(o: CutoverObject, type: string): Rec | undefined {
  return arr(rec(o.status).conditions).find((c) => c.type === type);
}

/** Canary weight of a TrafficShift or MigrationSlice, the mirror percent of a ShadowRun. */
export function weightOf(o: CutoverObject): number | undefined {
  const s = rec(o.status);
  if (o.kind === 'ShadowRun') return num(rec(o.spec).percent);
  return num(s.currentWeight) ?? num(rec(rec(s.children).trafficShift).currentWeight);
}

export function stepOf(o: CutoverObject): string {
  const s = rec(o.status);
  if (o.kind === 'ShadowRun') return '-';
  const step = o.kind === 'TrafficShift' ? num(s.currentStep) : num(rec(rec(s.children).trafficShift).currentStep);
  const steps = arr(o.kind === 'TrafficShift' ? rec(o.spec).steps : rec(rec(o.spec).shift).steps).length;
  return step !== undefined && steps ? `${step + 1}/${steps}` : '-';
}

/** One overview row; `now` decides whether a rollback is recent (24 h). */
export function summarize(o: CutoverObject, now: number): Summary {
  const s = rec(o.status);
  const kind = o.kind ?? '';
  const namespace = o.metadata.namespace ?? '';
  const name = o.metadata.name ?? '';
  const phase = str(s.phase) ?? 'Pending';
  const stalled = condition(o, 'Stalled');
  const degraded = condition(o, 'Degraded');
  const ready = condition(o, 'Ready');
  const weight = weightOf(o);
  const rollbackAt = time(rec(s.rollback).at);
  const phaseSince = time(s.completedAt) ?? time(s.pausedAt) ?? time(ready?.lastTransitionTime);
  let attention: Attention | undefined;
  let since: number | undefined;
  if ((phase === 'RolledBack' || phase === 'Failed') && (rollbackAt ?? phaseSince ?? 0) > now - DAY_MS) {
    attention = phase;
    since = rollbackAt ?? phaseSince;
  } else if (stalled?.status === 'True') {
    attention = 'Stalled'; since = time(stalled.lastTransitionTime);
  } else if (degraded?.status === 'True' && !['RolledBack', 'Failed', 'Completed', 'Passed', 'Cancelled'].includes(phase)) {
    attention = 'Degraded'; since = time(degraded.lastTransitionTime);
  } else if (phase === 'Paused') {
    attention = 'Paused'; since = time(s.pausedAt);
  } else if (kind === 'MigrationSlice' && phase === 'Pending' && arr(rec(o.spec).startWhen).length > 0) {
    attention = 'Waiting'; since = time(o.metadata.creationTimestamp);
  }
  const group: Group = attention ? 'attention' : MOVING.has(phase) ? 'moving' : 'done';
  const message = str(stalled?.status === 'True' ? stalled.message : undefined) ?? str(s.message) ?? str(ready?.message) ?? '';
  return {
    key: keyOf(kind, namespace, name), kind, namespace, name, phase, group,
    ...(attention ? { attention } : {}),
    ...(since !== undefined ? { since } : group === 'done' && phaseSince !== undefined ? { since: phaseSince } : {}),
    ...(weight !== undefined ? { weight } : {}),
    weightText: weight === undefined ? '-' : kind === 'ShadowRun' ? `mirror ${weight}%` : `${weight}%`,
    step: stepOf(o),
    ...(str(rec(o.spec).owner) ? { owner: str(rec(o.spec).owner)! } : {}),
    ...(time(o.metadata.creationTimestamp) !== undefined ? { createdAt: time(o.metadata.creationTimestamp)! } : {}),
    message,
  };
}

/** Overview order: group; within attention the most urgent reason; then the most recent; then by name. */
export function compareSummaries(a: Summary, b: Summary): number {
  return GROUPS.indexOf(a.group) - GROUPS.indexOf(b.group)
    || (a.attention && b.attention ? ATTENTION.indexOf(a.attention) - ATTENTION.indexOf(b.attention) : 0)
    || (b.since ?? b.createdAt ?? 0) - (a.since ?? a.createdAt ?? 0)
    || a.namespace.localeCompare(b.namespace) || a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name);
}

export interface Filters { namespace?: string; kind?: string; owner?: string; search?: string }

export function matches(s: Summary, f: Filters): boolean {
  if (f.namespace && s.namespace !== f.namespace) return false;
  if (f.kind && s.kind !== f.kind) return false;
  if (f.owner && s.owner !== f.owner) return false;
  if (f.search) {
    const q = f.search.toLowerCase();
    if (![s.name, s.namespace, s.kind, s.phase, s.owner ?? '', s.message].some((x) => x.toLowerCase().includes(q))) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// A cutover's page

export interface WeightPoint { t: number; weight: number }

export interface WeightHistory {
  points: WeightPoint[];
  /** The instant the route went back to stable, when rolled back. */
  rollbackAt?: number;
}

const STEP_EVENT = /canary weight (\d+)%/;

/**
 * Weight over time: 0 at the start, each step's weight when its StepStarted Event says it was set,
 * the weights this dashboard saw in status, back to 0 when the route was restored, held until now.
 */
export function weightHistory(o: CutoverObject, events: readonly EventItem[], seen: readonly WeightPoint[], now: number): WeightHistory {
  const s = rec(o.status);
  const pts: WeightPoint[] = [];
  const started = time(s.startedAt) ?? time(o.metadata.creationTimestamp);
  if (started !== undefined) pts.push({ t: started, weight: 0 });
  for (const e of events) {
    const m = e.reason === 'StepStarted' ? STEP_EVENT.exec(e.message ?? '') : null;
    const t = time(e.at);
    if (m && t !== undefined) pts.push({ t, weight: Number(m[1]) });
  }
  pts.push(...seen);
  const rb = rec(s.rollback);
  const rollbackAt = time(rb.routeRestoredAt) ?? time(rb.at);
  if (rollbackAt !== undefined) pts.push({ t: rollbackAt, weight: 0 });
  pts.sort((a, b) => a.t - b.t);
  // A point seen after the rollback instant that still shows the old weight is the same state seen late.
  const out: WeightPoint[] = [];
  for (const p of pts) {
    if (rollbackAt !== undefined && p.t > rollbackAt && p.weight !== 0 && str(s.phase) === 'RolledBack') continue;
    if (out.length && out.at(-1)!.weight === p.weight) continue;
    out.push(p);
  }
  const current = weightOf(o);
  const last = out.at(-1);
  if (current !== undefined && (!last || last.weight !== current) && o.kind !== 'ShadowRun') out.push({ t: now, weight: current });
  else if (last && last.t < now) out.push({ t: now, weight: last.weight });
  return { points: out, ...(rollbackAt !== undefined ? { rollbackAt } : {}) };
}

/** Something that happened to a cutover, drawn on the weight chart's time axis. */
export type MarkKind = 'workers' | 'flag' | 'alert' | 'rollback';
export interface Mark { t: number; kind: MarkKind; label: string }

/** A feature flag's value as seen at a time (status.featureFlag of a MigrationSlice, seen live). */
export interface FlagPoint { t: number; enabled: boolean }

/**
 * The marks on a cutover's time axis, from its status (and its owner MigrationSlice's, for a
 * TrafficShift run by a slice: the slice turns the flag and, on rollback, restores the workers):
 * each worker scaled (status.workers[].scaledAt), the legacy workers scaled after completion, the
 * workers restored; each flag flip (status.featureFlag, the flip on at the shift's start, the
 * rollback's flag restore, and the flips seen live); the alert or webhook that asked for the
 * rollback; the rollback instant. Sorted by time; the same fact is never marked twice.
 */
export function timelineMarks(o: CutoverObject, owner?: CutoverObject, seenFlags: readonly FlagPoint[] = []): Mark[] {
  const marks: Mark[] = [];
  const add = (at: unknown, kind: MarkKind, label: string) => {
    const t = typeof at === 'number' ? at : time(at);
    if (t !== undefined && !marks.some((m) => m.kind === kind && m.t === t && m.label === label)) marks.push({ t, kind, label });
  };
  const spec = rec(o.spec);
  const s = rec(o.status);
  const specWorkers = arr(spec.workers);
  for (const w of arr(s.workers)) {
    const dep = str(w.deployment) ?? '';
    const want = specWorkers.find((x) => x.deployment === dep);
    const replicas = num(want?.replicas);
    add(w.scaledAt, 'workers', `${dep} ${num(w.previousReplicas) ?? '?'}→${replicas ?? '?'}`);
    const legacy = str(w.legacyDeployment);
    if (legacy) add(w.legacyScaledAt, 'workers', `${legacy} ${num(w.legacyPreviousReplicas) ?? '?'}→${num(rec(want?.legacy).replicas) ?? '?'}`);
  }
  const restoredWorkers = (x: CutoverObject, workers: Rec[]) => {
    const names = workers.flatMap((w) => (str(w.deployment) && num(w.previousReplicas) !== undefined ? [`${str(w.deployment)!}→${num(w.previousReplicas)!}`] : []));
    add(rec(rec(x.status).rollback).workersRestoredAt, 'workers', `workers restored${names.length ? `: ${names.join(', ')}` : ''}`);
  };
  if (o.kind === 'MigrationSlice') restoredWorkers(o, arr(rec(rec(s.children).trafficShift).workers));
  else if (!owner) restoredWorkers(o, arr(s.workers));
  // The flag: a MigrationSlice's own, or the owner slice's for its TrafficShift.
  const slice = o.kind === 'MigrationSlice' ? o : owner;
  if (slice) {
    const ss = rec(slice.status);
    const flag = rec(rec(slice.spec).featureFlag);
    const name = str(flag.configMap) ? `${str(flag.configMap)!}/${str(flag.key) ?? ''}` : 'flag';
    if (str(flag.configMap)) {
      // On when traffic started to move (history ShiftStarted), the current value since featureFlag.at.
      const shiftStarted = arr(ss.history).find((h) => h.reason === 'ShiftStarted');
      if (shiftStarted) add(shiftStarted.at, 'flag', `${name} on`);
      const ff = rec(ss.featureFlag);
      if (typeof ff.enabled === 'boolean') add(ff.at, 'flag', `${name} ${ff.enabled ? 'on' : 'off'}`);
      add(rec(ss.rollback).featureFlagRestoredAt, 'flag', `${name} off`);
      for (const f of seenFlags) add(f.t, 'flag', `${name} ${f.enabled ? 'on' : 'off'}`);
    }
    if (owner) restoredWorkers(owner, arr(rec(rec(ss.children).trafficShift).workers));
  }
  for (const x of owner ? [o, owner] : [o]) {
    const rb = rec(rec(x.status).rollback);
    const trigger = str(rb.trigger);
    if (trigger === 'Alert') add(rb.at, 'alert', `alert ${str(rb.alert) ?? ''}`.trim());
    else if (trigger === 'Webhook') add(rb.at, 'alert', 'webhook');
  }
  const rb = rec(s.rollback);
  if (str(rb.trigger)) add(rb.at, 'rollback', `rollback (${str(rb.trigger)!})`);
  // Marks with a duplicate label at different times (the same flip from two sources) keep the first.
  const out: Mark[] = [];
  // At the same instant: what asked, the rollback, then what it restored (route → flag → workers).
  const order: Record<MarkKind, number> = { alert: 0, rollback: 1, flag: 2, workers: 3 };
  for (const m of marks.sort((a, b) => a.t - b.t || order[a.kind] - order[b.kind])) {
    const prev = out.findLast((x) => x.kind === m.kind);
    if (prev && prev.label === m.label && m.kind === 'flag') continue;
    out.push(m);
  }
  return out;
}

/** A step-held value at time t: the last point at or before t, or null before the first. */
export function valueAt(points: readonly WeightPoint[], t: number): number | null {
  let v: number | null = null;
  for (const p of points) {
    if (p.t > t) break;
    v = p.weight;
  }
  return v;
}

export interface StepView { index: number; weight: number; pause?: string; state: 'done' | 'current' | 'rolled-back' | 'next'; leftMs?: number }

/** The steps of a TrafficShift (or a MigrationSlice's shift), the current one with the time left in it. */
export function stepsView(o: CutoverObject, now: number): StepView[] {
  const s = rec(o.status);
  const spec = o.kind === 'MigrationSlice' ? rec(rec(o.spec).shift) : rec(o.spec);
  const current = o.kind === 'MigrationSlice' ? num(rec(rec(s.children).trafficShift).currentStep) : num(s.currentStep);
  const phase = str(s.phase);
  const finished = phase === 'Completed';
  return arr(spec.steps).map((st, index) => {
    const pause = str(st.pause);
    const ended = phase === 'RolledBack' || phase === 'Failed';
    const state = finished || (current !== undefined && index < current) ? 'done' : current === index ? (ended ? 'rolled-back' : 'current') : 'next';
    let leftMs: number | undefined;
    const began = time(s.stepStartedAt);
    if (state === 'current' && pause && began !== undefined && o.kind === 'TrafficShift') {
      try {
        const elapsed = (time(s.pausedAt) ?? now) - began;
        leftMs = Math.max(0, parseDuration(pause) - elapsed);
      } catch { /* a bad duration is the operator's Stalled condition to report */ }
    }
    return { index, weight: num(st.weight) ?? 0, ...(pause ? { pause } : {}), state, ...(leftMs !== undefined ? { leftMs } : {}) };
  });
}

export interface RollbackCard {
  trigger: string;
  reason: string;
  at?: number;
  alert?: string;
  fromWeight?: number;
  fromStep?: number;
  /** The results that failed, value against threshold. */
  failing: Array<{ name: string; value?: number; baseline?: number; threshold?: string; message?: string }>;
  /** Parts restored, in the order they were done. */
  restored: Array<{ part: string; at: number }>;
}

export function rollbackCard(o: CutoverObject): RollbackCard | undefined {
  const s = rec(o.status);
  const rb = rec(s.rollback);
  const trigger = str(rb.trigger);
  if (!trigger) return undefined;
  const failing = arr(rec(s.analysis).lastResults).filter((r) => r.result === 'Fail').map((r) => ({
    name: str(r.name) ?? '', ...(num(r.value) !== undefined ? { value: num(r.value)! } : {}), ...(num(r.baseline) !== undefined ? { baseline: num(r.baseline)! } : {}),
    ...(str(r.threshold) ? { threshold: str(r.threshold)! } : {}), ...(str(r.message) ? { message: str(r.message)! } : {}),
  }));
  const parts: Array<[string, unknown]> = [['route to stable', rb.routeRestoredAt], ['feature flag off', rb.featureFlagRestoredAt], ['workers restored', rb.workersRestoredAt], ['rollback complete', rb.completedAt]];
  const restored = parts.flatMap(([part, at]) => (time(at) !== undefined ? [{ part, at: time(at)! }] : [])).sort((a, b) => a.at - b.at);
  return {
    trigger, reason: str(rb.reason) ?? '',
    ...(time(rb.at) !== undefined ? { at: time(rb.at)! } : {}),
    ...(str(rb.alert) ? { alert: str(rb.alert)! } : {}),
    ...(num(rb.fromWeight) !== undefined ? { fromWeight: num(rb.fromWeight)! } : {}),
    ...(num(rb.fromStep) !== undefined ? { fromStep: num(rb.fromStep)! } : {}),
    failing, restored,
  };
}

// ---------------------------------------------------------------------------------------------
// Metrics

export interface MetricSpecView {
  name: string;
  query?: string;
  baselineQuery?: string;
  address?: string;
  min?: number;
  max?: number;
  maxRatio?: number;
}

/** The analysis block of a resource (a MigrationSlice's shift stage has it under spec.shift). */
export function analysisOf(o: CutoverObject): { interval?: string; metrics: MetricSpecView[] } {
  const spec = rec(o.spec);
  const analysis = rec(o.kind === 'MigrationSlice' ? rec(spec.shift).analysis : spec.analysis);
  const metrics = arr(analysis.metrics).flatMap((m) => {
    const p = rec(m.prometheus);
    const name = str(m.name);
    if (!name) return [];
    return [{
      name,
      ...(str(p.query) ? { query: str(p.query)! } : {}),
      ...(str(p.baselineQuery) ? { baselineQuery: str(p.baselineQuery)! } : {}),
      ...(str(p.address) ? { address: str(p.address)! } : {}),
      ...(num(m.min) !== undefined ? { min: num(m.min)! } : {}),
      ...(num(m.max) !== undefined ? { max: num(m.max)! } : {}),
      ...(num(m.maxRatio) !== undefined ? { maxRatio: num(m.maxRatio)! } : {}),
    }];
  });
  return { ...(str(analysis.interval) ? { interval: str(analysis.interval)! } : {}), metrics };
}

/**
 * The template variables the operator fills for this resource's queries (the same as its
 * controllers: trafficshift/controller.ts and shadowrun/controller.ts), so the charts show exactly
 * the series the analysis judged.
 */
export function templateVarsOf(o: CutoverObject): TemplateVars {
  const spec = rec(o.spec);
  const namespace = o.metadata.namespace ?? '';
  const name = o.metadata.name ?? '';
  const interval = analysisOf(o).interval;
  if (o.kind === 'ShadowRun') {
    const primary = str(rec(spec.primary).service);
    const shadow = str(rec(spec.shadow).service);
    return { namespace, name, ...(interval ? { interval } : {}), ...(primary ? { 'primary.service': primary, 'stable.service': primary } : {}), ...(shadow ? { 'shadow.service': shadow, 'canary.service': shadow } : {}) };
  }
  const stable = o.kind === 'MigrationSlice' ? str(rec(spec.legacy).service) : str(rec(spec.stable).service);
  const canary = o.kind === 'MigrationSlice' ? str(rec(spec.target).service) : str(rec(spec.canary).service);
  return { namespace, name, ...(interval ? { interval } : {}), ...(stable ? { 'stable.service': stable } : {}), ...(canary ? { 'canary.service': canary } : {}) };
}

/** What the statistical judge found for a judged metric (status.analysis.lastResults[].judge). */
export interface JudgeView {
  classification: string; estimate: number; lower: number; upper: number; confidence?: number; pValue?: number;
  meanRatio?: number; samples?: number; baselineSamples?: number; effectiveSamples?: number; score?: number;
}

/** An analysis result as a point on a metric's chart. */
export interface ResultPoint { name: string; t: number; result: string; value?: number; baseline?: number; threshold?: string; message?: string; judge?: JudgeView }

function judgeView(v: unknown): JudgeView | undefined {
  const j = rec(v);
  const estimate = num(j.estimate);
  const lower = num(j.lower);
  const upper = num(j.upper);
  const classification = str(j.classification);
  if (estimate === undefined || lower === undefined || upper === undefined || !classification) return undefined;
  const out: JudgeView = { classification, estimate, lower, upper };
  for (const k of ['confidence', 'pValue', 'meanRatio', 'samples', 'baselineSamples', 'effectiveSamples', 'score'] as const) {
    const n = num(j[k]);
    if (n !== undefined) out[k] = n;
  }
  return out;
}

const sig = (v: number): string => (v === 0 ? '0' : Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? String(Number(v.toPrecision(3))) : v.toExponential(2));
const signedSig = (v: number): string => (v > 0 ? `+${sig(v)}` : sig(v));

/**
 * The judge's findings in one line, as `kubectl cutover status` gives them: the Hodges–Lehmann shift
 * with its interval, p-value, mean ratio, points (and what they are worth when correlated), score.
 */
export function judgeLine(j: JudgeView): string {
  const pct = j.confidence !== undefined ? `${Math.round(j.confidence * 1000) / 10}% CI ` : '';
  const parts = [`${j.classification}: shift ${signedSig(j.estimate)} [${pct}${signedSig(j.lower)}, ${signedSig(j.upper)}]`];
  if (j.pValue !== undefined) parts.push(`p=${sig(j.pValue)}`);
  if (j.meanRatio !== undefined) parts.push(`mean ratio ${sig(j.meanRatio)}x`);
  if (j.samples !== undefined) {
    const worth = j.effectiveSamples !== undefined && j.effectiveSamples < j.samples ? ` (~${Math.round(j.effectiveSamples * 10) / 10} independent)` : '';
    parts.push(`${j.samples}${j.baselineSamples !== undefined ? ` vs ${j.baselineSamples}` : ''} points${worth}`);
  }
  if (j.score !== undefined) parts.push(`score ${sig(j.score)}`);
  return parts.join(', ');
}

export function resultPoints(o: CutoverObject): ResultPoint[] {
  return arr(rec(rec(o.status).analysis).lastResults).flatMap((r) => {
    const t = time(r.at);
    const name = str(r.name);
    if (t === undefined || !name) return [];
    return [{
      name, t, result: str(r.result) ?? 'Inconclusive',
      ...(num(r.value) !== undefined ? { value: num(r.value)! } : {}), ...(num(r.baseline) !== undefined ? { baseline: num(r.baseline)! } : {}),
      ...(str(r.threshold) ? { threshold: str(r.threshold)! } : {}), ...(str(r.message) ? { message: str(r.message)! } : {}),
      ...(judgeView(r.judge) ? { judge: judgeView(r.judge)! } : {}),
    }];
  });
}

// ---------------------------------------------------------------------------------------------
// Actions

export const ACTIONS = ['Promote', 'Abort', 'Pause', 'Resume', 'Retry'] as const;
export type ActionName = (typeof ACTIONS)[number];
const TERMINAL = new Set(['Completed', 'RolledBack', 'Failed', 'Passed', 'Cancelled']);

/** The actions each kind's controller acts on (a ShadowRun or a MigrationSlice only aborts and retries). */
export function actionsFor(kind: string | undefined): readonly ActionName[] {
  return kind === 'TrafficShift' ? ACTIONS : ['Abort', 'Retry'];
}

/** Why an action makes no sense in this phase (so nothing is written), or undefined. Same rules as `kubectl cutover`. */
export function refuseAction(kind: string | undefined, phase: string | undefined, action: ActionName): string | undefined {
  const p = phase ?? 'Pending';
  if (action === 'Retry') return p === 'RolledBack' || p === 'Failed' ? undefined : `only a RolledBack or Failed ${kind} can be retried; this one is ${p}`;
  if (TERMINAL.has(p)) return `${kind} is ${p}: nothing to ${action.toLowerCase()}${p === 'RolledBack' || p === 'Failed' ? ' (use retry to run it again)' : ''}`;
  if (action === 'Resume' && p !== 'Paused') return `${kind} is ${p}, not Paused: nothing to resume`;
  if (action === 'Pause' && p === 'Paused') return `${kind} is already Paused`;
  return undefined;
}

/** The confirmation's words: what the action will do to this cutover. */
export function actionEffect(o: CutoverObject, action: ActionName): string {
  const spec = o.kind === 'MigrationSlice' ? rec(rec(o.spec).shift) : rec(o.spec);
  const stable = o.kind === 'MigrationSlice' ? str(rec(rec(o.spec).legacy).service) : o.kind === 'ShadowRun' ? str(rec(rec(o.spec).primary).service) : str(rec(spec.stable).service);
  const canary = o.kind === 'MigrationSlice' ? str(rec(rec(o.spec).target).service) : str(rec(spec.canary).service);
  const last = num(arr(spec.steps).at(-1)?.weight);
  switch (action) {
    case 'Abort':
      return o.kind === 'ShadowRun' ? `stop mirroring to ${str(rec(rec(o.spec).shadow).service) ?? 'the shadow'} (Cancelled)` : `route back to ${stable ?? 'stable'} 100% now, then restore flag and workers (RolledBack, trigger Manual)`;
    case 'Promote':
      return `skip the remaining steps: ${canary ?? 'canary'} ${last ?? 100}% now`;
    case 'Pause':
      return 'hold at the current weight; the step timer stops';
    case 'Resume':
      return 'continue from the current step; the step timer runs again';
    case 'Retry':
      return `run it again from the first step (${canary ?? 'canary'} ${num(arr(spec.steps)[0]?.weight) ?? 0}% first)`;
  }
}

/** The acknowledgement of request `id` in status, when it arrived. */
export function acknowledgement(o: CutoverObject, action: string, id: string): { at?: string; phase: string; detail: string } | undefined {
  const s = rec(o.status);
  const ack = arr(s.acknowledgedActions).find((a) => a.action === action && a.id === id);
  if (!ack) return undefined;
  const rb = rec(s.rollback);
  const phase = str(s.phase) ?? 'Pending';
  const detail = phase === 'RolledBack' && str(rb.trigger) ? `rolled back (${str(rb.trigger)}): ${str(rb.reason) ?? ''}` : str(s.message) ?? '';
  return { ...(str(ack.at) ? { at: str(ack.at)! } : {}), phase, detail };
}

/** kubectl-style age: 45s, 3m, 2h5m, 4d. */
export function ago(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 && d < 7 ? `${d}d${h % 24}h` : `${d}d`;
}
