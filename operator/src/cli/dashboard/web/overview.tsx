// Every cutover the user may list: what needs someone first, then what is moving, then what is done.
// Each group's table renders only the rows in (and near) the viewport: with 1,000 cutovers the page
// stays as fast as with 30 (a change re-renders a few dozen rows, not a thousand).
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ago, compareSummaries, GROUPS, matches, type Filters, type Group, type Summary } from '../model.ts';
import { Link } from './nav.tsx';
import { useTick, type StreamState } from './stream.ts';

const GROUP_TITLE: Record<Group, string> = { attention: 'Needs attention', moving: 'Moving', done: 'Done' };
const ATTENTION_TEXT: Record<string, string> = { RolledBack: 'rolled back', Failed: 'failed', Stalled: 'stalled', Degraded: 'degraded', Paused: 'paused', Waiting: 'waiting for a trigger' };

export function detailHref(s: { kind: string; namespace: string; name: string }): string {
  return `/c/${s.kind}/${encodeURIComponent(s.namespace)}/${encodeURIComponent(s.name)}`;
}

export function PhaseBadge(props: { phase: string; attention?: string | undefined }) {
  const tone = ['RolledBack', 'Failed'].includes(props.phase) || props.attention === 'Stalled' ? 'bad'
    : props.phase === 'Paused' || props.attention ? 'warn'
    : ['Completed', 'Passed'].includes(props.phase) ? 'good' : 'info';
  return <span class={`badge ${tone}`}>{props.phase}{props.attention && props.attention !== props.phase ? ` · ${ATTENTION_TEXT[props.attention] ?? props.attention}` : ''}</span>;
}

export function WeightBar(props: { weight?: number | undefined; text: string }) {
  return (
    <span class="weight">
      {props.weight !== undefined && <span class="bar" aria-hidden="true"><span style={{ width: `${props.weight}%` }} /></span>}
      <span class="num">{props.text}</span>
    </span>
  );
}

export function Overview(props: { state: StreamState }) {
  const { state } = props;
  const now = useTick(1000);
  const [filters, setFilters] = useState<Filters>({});
  const rows = useMemo(() => [...state.rows.values()].sort(compareSummaries), [state.rows]);
  const shown = useMemo(() => rows.filter((r) => matches(r, filters)), [rows, filters]);
  const namespaces = useMemo(() => [...new Set(rows.map((r) => r.namespace))].sort(), [rows]);
  const owners = useMemo(() => [...new Set(rows.flatMap((r) => (r.owner ? [r.owner] : [])))].sort(), [rows]);
  const set = (k: keyof Filters) => (e: Event) => setFilters({ ...filters, [k]: (e.target as HTMLInputElement).value || undefined });
  const limited = state.scopes.filter((s) => !s.allNamespaces || s.error);
  return (
    <section aria-labelledby="overview-title">
      <h1 id="overview-title">Cutovers</h1>
      {limited.length > 0 && (
        <p class="note" data-testid="scope-note">
          {limited.map((s) => <span key={s.kind}>{s.kind}: {s.error ? s.error : `namespace ${s.namespace} only (you may not list all namespaces)`}. </span>)}
        </p>
      )}
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>Search <input type="search" placeholder="name, namespace, phase, message" value={filters.search ?? ''} onInput={set('search')} data-testid="search" /></label>
        <label>Namespace <select value={filters.namespace ?? ''} onChange={set('namespace')} data-testid="filter-namespace">
          <option value="">all</option>{namespaces.map((n) => <option key={n} value={n}>{n}</option>)}
        </select></label>
        <label>Kind <select value={filters.kind ?? ''} onChange={set('kind')} data-testid="filter-kind">
          <option value="">all</option>{['TrafficShift', 'ShadowRun', 'MigrationSlice'].map((k) => <option key={k} value={k}>{k}</option>)}
        </select></label>
        <label>Owner <select value={filters.owner ?? ''} onChange={set('owner')}>
          <option value="">all</option>{owners.map((o) => <option key={o} value={o}>{o}</option>)}
        </select></label>
        <span class="count" aria-live="polite">{shown.length} of {rows.length}</span>
      </form>
      {state.connection === 'connecting' && rows.length === 0 ? <p>Loading…</p> : rows.length === 0 ? <p class="empty">No cutover resources you may see.</p> : null}
      {GROUPS.map((g) => {
        const list = shown.filter((r) => r.group === g);
        if (list.length === 0) return null;
        return (
          <section key={g} class={`group group-${g}`} aria-labelledby={`g-${g}`} data-testid={`group-${g}`}>
            <h2 id={`g-${g}`}>{GROUP_TITLE[g]} <span class="count">{list.length}</span></h2>
            <table class="rows" aria-rowcount={list.length + 1}>
              <thead><tr aria-rowindex={1}><th scope="col">Name</th><th scope="col">Namespace</th><th scope="col">Kind</th><th scope="col">Phase</th><th scope="col">Weight</th><th scope="col">Step</th><th scope="col">Owner</th><th scope="col">Age</th><th scope="col">Message</th></tr></thead>
              <WindowedRows list={list} now={now} />
            </table>
          </section>
        );
      })}
    </section>
  );
}

/** Every row is this tall (style.css: one line per row), so a window's place is arithmetic. */
export const ROW_HEIGHT = 33;
/** Rows rendered beyond the viewport on each side (keyboard focus and fast scrolling find them there). */
const OVERSCAN = 15;

/** The rows of `list` that are in or near the viewport, with spacers for the others; follows scrolling. */
function WindowedRows(props: { list: Summary[]; now: number }) {
  const { list, now } = props;
  const body = useRef<HTMLTableSectionElement>(null);
  const [range, setRange] = useState<[number, number]>([0, 40]);
  const measure = () => {
    const el = body.current;
    if (!el) return;
    const top = el.getBoundingClientRect().top;
    const first = Math.max(0, Math.floor(-top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(list.length, Math.ceil((innerHeight - top) / ROW_HEIGHT) + OVERSCAN);
    const next: [number, number] = [Math.min(first, Math.max(0, last)), Math.max(0, last)];
    setRange((r) => (r[0] === next[0] && r[1] === next[1] ? r : next));
  };
  useLayoutEffect(measure, [list.length]);
  useEffect(() => {
    let frame = 0;
    const on = () => { if (!frame) frame = requestAnimationFrame(() => { frame = 0; measure(); }); };
    addEventListener('scroll', on, { passive: true });
    addEventListener('resize', on);
    // A group above this one that grows or shrinks moves this one: measured on the next frame too.
    const ro = new ResizeObserver(on);
    ro.observe(document.body);
    return () => { removeEventListener('scroll', on); removeEventListener('resize', on); ro.disconnect(); cancelAnimationFrame(frame); };
  }, [list.length]);
  const [from, to] = [Math.min(range[0], list.length), Math.min(range[1], list.length)];
  return (
    <tbody ref={body}>
      {from > 0 && <tr class="spacer" aria-hidden="true" style={{ height: `${from * ROW_HEIGHT}px` }} />}
      {list.slice(from, to).map((r, i) => <Row key={r.key} r={r} now={now} index={from + i + 2} />)}
      {to < list.length && <tr class="spacer" aria-hidden="true" style={{ height: `${(list.length - to) * ROW_HEIGHT}px` }} />}
    </tbody>
  );
}

function Row(props: { r: Summary; now: number; index: number }) {
  const { r, now } = props;
  return (
    <tr data-testid="row" data-key={r.key} data-group={r.group} data-phase={r.phase} aria-rowindex={props.index}>
      <th scope="row"><Link href={detailHref(r)}>{r.name}</Link></th>
      <td>{r.namespace}</td>
      <td>{r.kind}</td>
      <td><PhaseBadge phase={r.phase} attention={r.attention} />{r.since !== undefined && r.group !== 'moving' ? <span class="since"> {ago(now - r.since)} ago</span> : null}</td>
      <td><WeightBar weight={r.weight} text={r.weightText} /></td>
      <td>{r.step}</td>
      <td>{r.owner ?? '-'}</td>
      <td>{r.createdAt !== undefined ? ago(now - r.createdAt) : '-'}</td>
      <td class="msg" title={r.message}>{r.message}</td>
    </tr>
  );
}
