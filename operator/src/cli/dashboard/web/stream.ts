// The page's one live connection: a server-sent-event stream (the server feeds it from watches; the
// page never polls). Closed while the tab is hidden, opened again (with a fresh snapshot) when it
// is shown.
import { useEffect, useReducer } from 'preact/hooks';
import type { CutoverObject, EventItem, FlagPoint, ResultPoint, Summary, WeightPoint } from '../model.ts';

export interface Scope { kind: string; namespace?: string; allNamespaces: boolean; error?: string }
export interface Detail {
  key: string; object?: CutoverObject; missing?: boolean; events: EventItem[];
  /** Desired weights seen in status, the weights the route carried (observed), flag values, analysis results. */
  seen: { weights: WeightPoint[]; observed: WeightPoint[]; flags: FlagPoint[]; results: ResultPoint[] };
  /** The MigrationSlice that runs this TrafficShift, if any. */
  owner?: CutoverObject;
  /** Why there is no observed weight (e.g. no RBAC to list HTTPRoutes). */
  observedError?: string;
  at: number;
}
export type Connection = 'connecting' | 'live' | 'paused' | 'reconnecting';

export interface StreamState {
  connection: Connection;
  rows: Map<string, Summary>;
  scopes: Scope[];
  readOnly: boolean;
  /** Actions need the dashboard's token (an in-cluster dashboard acting with its ServiceAccount). */
  actionAuth: boolean;
  detail?: Detail;
  /** Bumped on every change, so views can react to "something arrived". */
  version: number;
}

type Msg =
  | { t: 'conn'; c: Connection }
  | { t: 'hello'; scopes: Scope[]; readOnly: boolean; actionAuth?: boolean }
  | { t: 'snapshot'; rows: Summary[] }
  | { t: 'changes'; upserts: Summary[]; deletes: string[] }
  | { t: 'detail'; detail: Detail };

function reduce(s: StreamState, m: Msg): StreamState {
  switch (m.t) {
    case 'conn': return { ...s, connection: m.c };
    case 'hello': return { ...s, scopes: m.scopes, readOnly: m.readOnly, actionAuth: Boolean(m.actionAuth) };
    case 'snapshot': return { ...s, rows: new Map(m.rows.map((r) => [r.key, r])), version: s.version + 1 };
    case 'changes': {
      const rows = new Map(s.rows);
      for (const k of m.deletes) rows.delete(k);
      for (const r of m.upserts) rows.set(r.key, r);
      return { ...s, rows, version: s.version + 1 };
    }
    case 'detail': return { ...s, detail: m.detail, version: s.version + 1 };
  }
}

export function useStream(focus: string | undefined): StreamState {
  const [state, dispatch] = useReducer(reduce, { connection: 'connecting', rows: new Map(), scopes: [], readOnly: true, actionAuth: false, version: 0 });
  useEffect(() => {
    let es: EventSource | undefined;
    const open = () => {
      if (es) return;
      dispatch({ t: 'conn', c: 'connecting' });
      es = new EventSource(`/api/stream${focus ? `?focus=${encodeURIComponent(focus)}` : ''}`);
      es.onopen = () => dispatch({ t: 'conn', c: 'live' });
      es.onerror = () => dispatch({ t: 'conn', c: 'reconnecting' }); // EventSource retries by itself
      es.addEventListener('hello', (e) => { const d = JSON.parse((e as MessageEvent<string>).data) as { scopes: Scope[]; readOnly: boolean; actionAuth?: boolean }; dispatch({ t: 'hello', ...d }); });
      es.addEventListener('snapshot', (e) => dispatch({ t: 'snapshot', rows: (JSON.parse((e as MessageEvent<string>).data) as { rows: Summary[] }).rows }));
      es.addEventListener('changes', (e) => { const d = JSON.parse((e as MessageEvent<string>).data) as { upserts: Summary[]; deletes: string[] }; dispatch({ t: 'changes', ...d }); });
      es.addEventListener('detail', (e) => dispatch({ t: 'detail', detail: JSON.parse((e as MessageEvent<string>).data) as Detail }));
    };
    const close = () => { es?.close(); es = undefined; };
    const onVisibility = () => {
      if (document.hidden) { close(); dispatch({ t: 'conn', c: 'paused' }); } else open();
    };
    if (document.hidden) dispatch({ t: 'conn', c: 'paused' }); else open();
    document.addEventListener('visibilitychange', onVisibility);
    return () => { document.removeEventListener('visibilitychange', onVisibility); close(); };
  }, [focus]);
  return state;
}

/** Re-renders every `ms` for ages and countdowns (a display clock; nothing is fetched). */
export function useTick(ms = 1000): number {
  const [now, set] = useReducer((_: number, n: number) => n, Date.now());
  useEffect(() => {
    const t = setInterval(() => set(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
