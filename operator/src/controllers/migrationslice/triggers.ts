// A MigrationSlice's startWhen triggers: each measured value against its bounds, how long it has
// held (`for`), what status shows of them, and the message while the slice waits. Pure, like the
// planner (./plan.ts) that calls it; the controller measures the triggers.
import { parseDuration } from '../../api/duration.ts';
import type { MigrationSliceSpec, TriggerStatus } from '../../api/migrationslice.ts';
import { ms } from '../shared/planner.ts';

/** How often a waiting slice measures its triggers again. */
export const TRIGGER_POLL_MS = 2000;
/** Trigger values are written to status at most this often while nothing changes (API load). */
export const TRIGGER_STATUS_REFRESH_MS = 30_000;

/** One trigger measured by the controller; no `value`: nothing was measured (`message` says why). */
export interface TriggerSample { name: string; value?: number | undefined; message: string }

type Trigger = NonNullable<MigrationSliceSpec['startWhen']>[number];

export interface TriggerCheck {
  /** The list for status.triggers; undefined: unchanged (nothing was measured in this reconcile). */
  triggers: TriggerStatus[] | undefined;
  /** The name of a trigger that is met and has held long enough, if any. */
  met: string | undefined;
  /** status.message while waiting. */
  message: string;
}

/**
 * Folds the triggers measured now (`samples`; undefined when no check was due) into the status'
 * list `prev`. A trigger is met while its value is within its bounds, and fires once it has been
 * met for its `for`.
 */
export function checkTriggers(startWhen: readonly Trigger[], samples: readonly TriggerSample[] | undefined, prev: readonly TriggerStatus[], now: number, nowText: string): TriggerCheck {
  if (!samples) {
    const held = prev.find((t) => t.met && heldLongEnough(startWhen, t, now));
    return { triggers: undefined, met: held?.name, message: waitingMessage(startWhen, prev) };
  }
  const next: TriggerStatus[] = [];
  const fresh: TriggerStatus[] = [];
  for (const t of startWhen) {
    const s = samples.find((x) => x.name === t.name);
    const value = s?.value;
    const met = value !== undefined && (t.above === undefined || value > t.above) && (t.below === undefined || value < t.below);
    const old = prev.find((p) => p.name === t.name);
    const since = met ? (old?.met && old.since ? old.since : nowText) : undefined;
    const entry: TriggerStatus = { name: t.name, met, at: nowText, ...(value !== undefined ? { value } : {}), ...(since ? { since } : {}), message: s?.message ?? 'not measured' };
    // Values alone are refreshed now and then, not at every poll (one status write per change).
    const stale = !old || old.met !== met || (old.value === undefined) !== (value === undefined) || (ms(old.at) ?? 0) + TRIGGER_STATUS_REFRESH_MS <= now;
    fresh.push(entry);
    next.push(stale ? entry : old);
  }
  const held = fresh.find((t) => t.met && heldLongEnough(startWhen, t, now));
  // When a trigger fires, status shows the values that fired it.
  const triggers = held ? fresh : next;
  return { triggers, met: held?.name, message: waitingMessage(startWhen, triggers) };
}

function heldLongEnough(startWhen: readonly Trigger[], t: TriggerStatus, now: number): boolean {
  const spec = startWhen.find((x) => x.name === t.name);
  const need = spec?.for ? parseDuration(spec.for) : 0;
  const since = ms(t.since);
  return since !== undefined && now - since >= need;
}

function waitingMessage(startWhen: readonly Trigger[], list: readonly TriggerStatus[]): string {
  const parts = startWhen.map((t) => {
    const s = list.find((x) => x.name === t.name);
    const want = [t.above !== undefined ? `> ${t.above}` : '', t.below !== undefined ? `< ${t.below}` : ''].filter(Boolean).join(' and ');
    const now = s?.value !== undefined ? String(Number(s.value.toPrecision(4))) : 'no data';
    const held = s?.met && t.for ? `, held since ${s.since} (needs ${t.for})` : '';
    return `${t.name} is ${now} (needs ${want}${t.for ? ` for ${t.for}` : ''}${held})`;
  });
  return `waiting for a startWhen trigger: ${parts.join('; ')}`;
}
