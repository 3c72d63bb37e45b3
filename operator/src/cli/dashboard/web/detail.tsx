// A cutover's page: what it is doing, why it did what it did, and the actions a user may take.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import {
  acknowledgement, actionsFor, actionEffect, ago, analysisOf, arr, judgeLine, num, rec, refuseAction, resultPoints, rollbackCard, stepsView, str, summarize, timelineMarks, weightHistory,
  type ActionName, type CutoverObject, type ResultPoint,
} from '../model.ts';
import { DURATION_PATTERN, parseDuration } from '../../../api/duration.ts';
import { MetricChart, WeightChart, type MetricSeries } from './charts.tsx';
import { Link } from './nav.tsx';
import { PhaseBadge, WeightBar } from './overview.tsx';
import { useTick, type StreamState } from './stream.ts';

const fmtTime = (t: number | string | undefined): string => {
  const ms = typeof t === 'string' ? Date.parse(t) : t;
  return ms === undefined || !Number.isFinite(ms) ? '-' : new Date(ms).toLocaleTimeString(undefined, { hour12: false });
};
const fmtNum = (v: number | undefined): string => (v === undefined ? '-' : Math.abs(v) >= 100 || v === 0 ? String(Math.round(v * 100) / 100) : v.toPrecision(3));
const fmtLeft = (ms: number): string => (ms >= 120_000 ? ago(ms) : `${Math.ceil(ms / 1000)}s`);

export function DetailPage(props: { focus: string; state: StreamState }) {
  const { focus, state } = props;
  const now = useTick(1000);
  const detail = state.detail?.key === focus ? state.detail : undefined;
  const [kind, namespace, name] = focus.split('/') as [string, string, string];
  if (!detail) return <p>Loading {focus}…</p>;
  if (detail.missing || !detail.object) return <section><h1>{name}</h1><p class="note" role="alert">{kind} {namespace}/{name} does not exist (or you may not see it).</p><Link href="/">← all cutovers</Link></section>;
  const o = detail.object;
  const s = summarize(o, now);
  const results = mergeResults(detail.seen.results, resultPoints(o));
  const wh = weightHistory(o, detail.events, detail.seen.weights, now);
  const marks = timelineMarks(o, detail.owner, detail.seen.flags);
  const card = rollbackCard(o);
  const st = rec(o.status);
  return (
    <article aria-labelledby="title">
      <p class="crumbs"><Link href="/">← all cutovers</Link></p>
      <h1 id="title">{name} <span class="sub">{kind} · {namespace}</span></h1>
      <div class="summary">
        <PhaseBadge phase={s.phase} attention={s.attention} />
        <span>Weight <strong data-testid="weight">{s.weightText}</strong></span>
        <WeightBar weight={s.weight} text="" />
        {s.step !== '-' && <span>Step <strong>{s.step}</strong></span>}
        {s.owner && <span>Owner <strong>{s.owner}</strong></span>}
        <span class="msg" data-testid="message">{s.message}</span>
      </div>
      {!state.readOnly && <Actions o={o} auth={state.actionAuth} />}
      {card && <RollbackCardView card={card} />}
      <Steps o={o} now={now} />
      <section aria-labelledby="h-weight"><h2 id="h-weight">{kind === 'ShadowRun' ? 'Mirror' : 'Weight over time'}</h2>
        {kind === 'ShadowRun' ? <p>Mirroring {num(rec(o.spec).percent) ?? '-'}% of requests to the shadow; users are served by the primary only.</p> : <WeightChart points={wh.points} observed={detail.seen.observed} marks={marks} rollbackAt={wh.rollbackAt} observedError={detail.observedError} />}
      </section>
      <Metrics o={o} results={results} />
      {kind === 'MigrationSlice' && <SliceInfo o={o} />}
      {kind === 'ShadowRun' && <ShadowInfo o={o} />}
      <Conditions o={o} />
      <section aria-labelledby="h-events"><h2 id="h-events">Recent Events</h2>
        {detail.events.length === 0 ? <p class="empty">None (Events expire after an hour by default).</p> : (
          <table data-testid="events"><thead><tr><th scope="col">Time</th><th scope="col">Type</th><th scope="col">Reason</th><th scope="col">Message</th></tr></thead>
            <tbody>{[...detail.events].reverse().slice(0, 20).map((e, i) => <tr key={i} class={e.type === 'Warning' ? 'warn' : ''}><td>{fmtTime(e.at)}</td><td>{e.type}</td><td>{e.reason}</td><td>{e.message}{e.count && e.count > 1 ? ` (×${e.count})` : ''}</td></tr>)}</tbody>
          </table>
        )}
      </section>
      <p class="foot">Updated {fmtTime(detail.at)} · generation {o.metadata.generation ?? '-'} · observed {num(st.observedGeneration) ?? "-"}</p>
    </article>
  );
}

function mergeResults(a: ResultPoint[], b: ResultPoint[]): ResultPoint[] {
  const m = new Map<string, ResultPoint>();
  for (const r of [...a, ...b]) m.set(`${r.name}@${r.t}`, r);
  return [...m.values()].sort((x, y) => x.t - y.t);
}

interface Pending { action: ActionName; id?: string; annotation?: string; error?: string; reason?: string; sending: boolean }

/** Promote, abort, pause, resume, retry: a confirmation naming the effect, then the operator's acknowledgement. */
function Actions(props: { o: CutoverObject; auth: boolean }) {
  const { o } = props;
  const [authToken, setAuthToken] = useState(() => sessionStorage.getItem('cutover-dashboard-token') ?? '');
  const phase = str(rec(o.status).phase);
  const [asking, setAsking] = useState<ActionName | undefined>();
  const [pending, setPending] = useState<Pending | undefined>();
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => { if (asking) dialog.current?.showModal(); else dialog.current?.close(); }, [asking]);
  const ack = pending?.id ? acknowledgement(o, pending.action, pending.id) : undefined;
  const token = document.querySelector('meta[name="cutover-token"]')?.getAttribute('content') ?? '';
  const send = async (action: ActionName) => {
    setAsking(undefined);
    setPending({ action, sending: true });
    try {
      if (props.auth) sessionStorage.setItem('cutover-dashboard-token', authToken);
      const auth: Record<string, string> = props.auth ? { Authorization: `Bearer ${authToken}` } : {};
      const res = await fetch('/api/action', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Cutover-Token': token, ...auth }, body: JSON.stringify({ kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name, action }) });
      const body = await res.json() as { id?: string; annotation?: string; error?: string; reason?: string };
      setPending(res.ok ? { action, id: body.id, annotation: body.annotation, sending: false } : { action, error: body.error ?? `HTTP ${res.status}`, reason: body.reason, sending: false });
    } catch (err) {
      setPending({ action, error: (err as Error).message, sending: false });
    }
  };
  return (
    <section class="actions" aria-label="Actions">
      {actionsFor(o.kind).map((a) => {
        const why = refuseAction(o.kind, phase, a);
        return <button key={a} type="button" class={a === 'Abort' ? 'danger' : ''} disabled={Boolean(why)} title={why ?? actionEffect(o, a)} onClick={() => setAsking(a)} data-testid={`action-${a}`}>{a}</button>;
      })}
      <dialog ref={dialog} onClose={() => setAsking(undefined)} data-testid="confirm" aria-labelledby="confirm-title">
        {asking && (
          <form method="dialog" onSubmit={(e) => { e.preventDefault(); void send(asking); }}>
            <h2 id="confirm-title">{asking} {o.kind} {o.metadata.namespace}/{o.metadata.name}?</h2>
            <p data-testid="confirm-effect">This will {actionEffect(o, asking)}.</p>
            {props.auth
              ? <><p class="small">Written as the annotation cutover.dev/{asking.toLowerCase()} by this in-cluster dashboard's ServiceAccount, for whoever holds the dashboard token.</p>
                <label>Dashboard token <input type="password" required autocomplete="off" value={authToken} onInput={(e) => setAuthToken((e.target as HTMLInputElement).value)} data-testid="action-token" /></label></>
              : <p class="small">Written as the annotation cutover.dev/{asking.toLowerCase()} with your own credentials, as <code>kubectl cutover {asking.toLowerCase()}</code> does.</p>}
            <div class="buttons">
              <button type="button" autofocus onClick={() => setAsking(undefined)}>Cancel</button>
              <button type="submit" class={asking === 'Abort' ? 'danger' : 'primary'} data-testid="confirm-ok">{asking}</button>
            </div>
          </form>
        )}
      </dialog>
      {pending && (
        <p class={`action-status ${pending.error ? 'bad' : ack ? 'good' : ''}`} role={pending.error ? 'alert' : 'status'} data-testid="action-status">
          {pending.sending ? `Sending ${pending.action}…`
            : pending.error ? <>{pending.action} refused{pending.reason ? ` (${pending.reason})` : ''}: <span data-testid="action-error">{pending.error}</span></>
            : ack ? <>{pending.action} acknowledged{ack.at ? ` at ${fmtTime(ack.at)}` : ''}: <strong>{ack.phase}</strong>{ack.detail ? ` — ${ack.detail}` : ''}</>
            : `${pending.action} requested (${pending.annotation}=${pending.id}); waiting for the operator to acknowledge…`}
        </p>
      )}
    </section>
  );
}

function RollbackCardView(props: { card: NonNullable<ReturnType<typeof rollbackCard>> }) {
  const { card } = props;
  return (
    <section class="card bad" aria-labelledby="h-rollback" data-testid="rollback-card">
      <h2 id="h-rollback">Rolled back{card.at ? ` at ${fmtTime(card.at)}` : ''}</h2>
      <dl>
        <dt>Trigger</dt><dd data-testid="rollback-trigger">{card.trigger}{card.alert ? ` — alert ${card.alert}` : ''}</dd>
        <dt>Reason</dt><dd data-testid="rollback-reason">{card.reason}</dd>
        {card.fromWeight !== undefined && <><dt>From</dt><dd>weight {card.fromWeight}%{card.fromStep !== undefined ? `, step ${card.fromStep + 1}` : ''}</dd></>}
        {card.failing.map((f) => (
          <><dt>Failing value</dt><dd data-testid="rollback-failing"><strong>{f.name} = {fmtNum(f.value)}</strong>{f.baseline !== undefined ? ` (legacy ${fmtNum(f.baseline)})` : ''} against {f.threshold ?? '?'}{f.message ? ` — ${f.message}` : ''}</dd></>
        ))}
      </dl>
      {card.restored.length > 0 && (
        <>
          <h3>Restore order</h3>
          <ol data-testid="restore-order">
            {card.restored.map((r) => <li key={r.part}>{r.part} <span class="small">at {fmtTime(r.at)}{card.at ? ` (+${Math.max(0, r.at - card.at)} ms)` : ''}</span></li>)}
          </ol>
        </>
      )}
    </section>
  );
}

function Steps(props: { o: CutoverObject; now: number }) {
  const steps = stepsView(props.o, props.now);
  if (steps.length === 0) return null;
  return (
    <section aria-labelledby="h-steps"><h2 id="h-steps">Steps</h2>
      <ol class="steps" data-testid="steps">
        {steps.map((st) => (
          <li key={st.index} class={`step ${st.state}`} aria-current={st.state === 'current' ? 'step' : undefined}>
            <span class="w">{st.weight}%</span>
            <span class="p">{st.pause ? `pause ${st.pause}` : 'no pause'}</span>
            <span class="state">{st.state === 'current' ? (st.leftMs !== undefined ? `now · ${fmtLeft(st.leftMs)} left` : 'now') : st.state === 'rolled-back' ? 'rolled back here' : st.state}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}

interface MetricsAnswer { start: number; end: number; metrics: MetricSeries[] }

/**
 * Range queries for the charts, fetched when the page opens and again when a new analysis result
 * arrives on the stream (at most every 5 s): no timer polls Prometheus.
 */
function Metrics(props: { o: CutoverObject; results: ResultPoint[] }) {
  const { o, results } = props;
  const { metrics: specs, interval } = analysisOf(o);
  const intervalMs = interval && DURATION_PATTERN.test(interval) ? parseDuration(interval) : undefined;
  const [answer, setAnswer] = useState<MetricsAnswer | { error: string } | undefined>();
  const lastResultAt = results.at(-1)?.t ?? 0;
  const lastFetch = useRef(0);
  const started = Date.parse(str(rec(o.status).startedAt) ?? o.metadata.creationTimestamp ?? '') || Date.now() - 3600_000;
  useEffect(() => {
    if (specs.length === 0) return;
    const wait = Math.max(0, lastFetch.current + 5000 - Date.now());
    const t = setTimeout(() => {
      lastFetch.current = Date.now();
      const end = Math.max(Date.now(), lastResultAt) / 1000;
      const q = new URLSearchParams({ kind: o.kind ?? '', namespace: o.metadata.namespace ?? '', name: o.metadata.name ?? '', start: String(Math.floor(started / 1000) - 30), end: String(Math.ceil(end)) });
      fetch(`/api/metrics?${q}`).then(async (r) => setAnswer(r.ok ? await r.json() as MetricsAnswer : { error: ((await r.json()) as { error: string }).error }), (err: Error) => setAnswer({ error: err.message }));
    }, wait);
    return () => clearTimeout(t);
  }, [lastResultAt, o.metadata.uid, specs.length]);
  if (specs.length === 0) return null;
  const range: [number, number] = answer && 'metrics' in answer ? [answer.start, answer.end] : [Math.floor(started / 1000) - 30, Math.ceil(Math.max(started, lastResultAt) / 1000)];
  return (
    <section aria-labelledby="h-metrics"><h2 id="h-metrics">Analysis{num(rec(rec(o.status).analysis).score) !== undefined && <span class="badge neutral" data-testid="judge-score"> judge score {num(rec(rec(o.status).analysis).score)}</span>}</h2>
      {answer && 'error' in answer && <p class="note" role="alert">{answer.error}</p>}
      {specs.map((m) => {
        const series = answer && 'metrics' in answer ? answer.metrics.find((x) => x.name === m.name) : undefined;
        const mine = results.filter((r) => r.name === m.name);
        const last = mine.at(-1);
        return (
          <div class="metric" key={m.name}>
            <h3>{m.name} {last && <span class={`badge ${last.result === 'Pass' ? 'good' : last.result === 'Fail' ? 'bad' : 'neutral'}`}>{last.result} {fmtNum(last.value)} {last.threshold}</span>}</h3>
            {last?.judge && <p class="judge" data-testid="judge">Judge — {judgeLine(last.judge)}</p>}
            {series?.error && <p class="note">{series.error}</p>}
            <MetricChart metric={series ?? m} results={mine} range={range} intervalMs={intervalMs} />
            {(series?.query ?? m.query) && <Query text={series?.query ?? m.query!} label="query" />}
            {(series?.baselineQuery ?? m.baselineQuery) && <Query text={series?.baselineQuery ?? m.baselineQuery!} label="legacy query" />}
            {mine.length > 0 && (
              <details><summary>Analysis results ({mine.length})</summary>
                <table data-testid="results"><thead><tr><th scope="col">Time</th><th scope="col">Value</th><th scope="col">Legacy</th><th scope="col">Threshold</th><th scope="col">Result</th><th scope="col">Why</th></tr></thead>
                  <tbody>{[...mine].reverse().slice(0, 100).map((r) => <tr key={r.t}><td>{fmtTime(r.t)}</td><td>{fmtNum(r.value)}</td><td>{fmtNum(r.baseline)}</td><td>{r.threshold}</td><td class={`r-${r.result}`}>{r.result}</td><td>{r.message ?? ''}</td></tr>)}</tbody>
                </table>
              </details>
            )}
          </div>
        );
      })}
    </section>
  );
}

function Query(props: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div class="query">
      <span class="small">{props.label}</span>
      <pre><code>{props.text}</code></pre>
      <button type="button" onClick={() => { void navigator.clipboard?.writeText(props.text).then(() => setCopied(true)); }}>{copied ? 'Copied' : 'Copy'}</button>
    </div>
  );
}

function Conditions(props: { o: CutoverObject }) {
  const conds = arr(rec(props.o.status).conditions);
  if (conds.length === 0) return null;
  return (
    <section aria-labelledby="h-cond"><h2 id="h-cond">Conditions</h2>
      <table><thead><tr><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Reason</th><th scope="col">Message</th><th scope="col">Since</th></tr></thead>
        <tbody>{conds.map((c) => <tr key={str(c.type)}><td>{str(c.type)}</td><td>{str(c.status)}</td><td>{str(c.reason)}</td><td>{str(c.message)}</td><td>{fmtTime(str(c.lastTransitionTime))}</td></tr>)}</tbody>
      </table>
    </section>
  );
}

function SliceInfo(props: { o: CutoverObject }) {
  const spec = rec(props.o.spec);
  const st = rec(props.o.status);
  const children = rec(st.children);
  const ns = props.o.metadata.namespace ?? '';
  const flag = rec(spec.featureFlag);
  const history = useMemo(() => [...arr(st.history)].reverse(), [st.history]);
  return (
    <section aria-labelledby="h-slice"><h2 id="h-slice">Migration slice</h2>
      <dl>
        <dt>Owner</dt><dd>{str(spec.owner)}</dd>
        <dt>Rollback plan</dt><dd class="pre">{str(spec.rollbackPlan)}</dd>
        {str(flag.configMap) && <><dt>Feature flag</dt><dd>ConfigMap {str(flag.configMap)} key {str(flag.key)}: {rec(st.featureFlag).enabled === true ? 'on' : 'off'}</dd></>}
        {str(rec(children.shadowRun).name) && <><dt>Shadow stage</dt><dd><Link href={`/c/ShadowRun/${ns}/${str(rec(children.shadowRun).name)}`}>{str(rec(children.shadowRun).name)}</Link> {str(rec(children.shadowRun).phase)}</dd></>}
        {str(rec(children.trafficShift).name) && <><dt>Shift stage</dt><dd><Link href={`/c/TrafficShift/${ns}/${str(rec(children.trafficShift).name)}`}>{str(rec(children.trafficShift).name)}</Link> {str(rec(children.trafficShift).phase)}</dd></>}
      </dl>
      {arr(st.triggers).length > 0 && <><h3>Start triggers</h3><ul>{arr(st.triggers).map((t) => <li key={str(t.name)}>{str(t.name)}: {fmtNum(num(t.value))} {t.met ? 'met' : 'not met'}{str(t.message) ? ` — ${str(t.message)}` : ''}</li>)}</ul></>}
      {history.length > 0 && <><h3>History</h3><table><tbody>{history.map((h, i) => <tr key={i}><td>{fmtTime(str(h.at))}</td><td>{str(h.phase)}</td><td>{str(h.reason)}</td><td>{str(h.message)}</td></tr>)}</tbody></table></>}
    </section>
  );
}

function ShadowInfo(props: { o: CutoverObject }) {
  const st = rec(props.o.status);
  const results = arr(st.results);
  const parity = rec(st.parity);
  const samples = arr(parity.samples);
  return (
    <section aria-labelledby="h-shadow"><h2 id="h-shadow">Primary and shadow</h2>
      {str(st.verdict) && <p>Verdict: <strong>{str(st.verdict)}</strong></p>}
      {results.length > 0 ? (
        <table data-testid="shadow-results"><thead><tr><th scope="col">Metric</th><th scope="col">Primary</th><th scope="col">Shadow</th><th scope="col">Threshold</th><th scope="col">Result</th><th scope="col">Why</th></tr></thead>
          <tbody>{results.map((r) => <tr key={str(r.name)}><td>{str(r.name)}</td><td>{fmtNum(num(r.primary))}</td><td>{fmtNum(num(r.shadow))}</td><td>{str(r.threshold) ?? ''}</td><td class={`r-${str(r.result) ?? ''}`}>{str(r.result) ?? ''}</td><td>{str(r.message) ?? ''}</td></tr>)}</tbody>
        </table>
      ) : <p class="empty">No side-by-side values yet.</p>}
      {num(parity.compared) !== undefined && (
        <>
          <h3>Parity</h3>
          <p>{num(parity.compared)} responses compared, {num(parity.mismatched) ?? 0} differed{num(parity.mismatchRatio) !== undefined ? ` (${fmtNum(100 * num(parity.mismatchRatio)!)}%)` : ''}.</p>
          {samples.length > 0 && (
            <table><thead><tr><th scope="col">Time</th><th scope="col">Request</th><th scope="col">Primary</th><th scope="col">Shadow</th><th scope="col">Difference</th></tr></thead>
              <tbody>{samples.map((x, i) => <tr key={i}><td>{fmtTime(str(x.at))}</td><td>{str(x.method) ?? ''} {str(x.path)}</td><td>{num(x.primaryStatus) ?? '-'}</td><td>{num(x.shadowStatus) ?? '-'}</td><td>{str(x.difference) ?? ''}</td></tr>)}</tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}
