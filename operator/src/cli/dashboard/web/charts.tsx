// Charts (uPlot): weight over time (desired and observed) with workers, flag flips, alerts and the
// rollback instant marked on its time axis, and each metric with its threshold line and the
// analysis results as points (pass / fail / inconclusive).
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { valueAt, type Mark, type MarkKind, type ResultPoint, type WeightPoint } from '../model.ts';

const C = { canary: '#2563eb', observed: '#0f766e', stable: '#64748b', fail: '#dc2626', pass: '#16a34a', inconclusive: '#9ca3af', threshold: '#b45309', baseline: '#7c3aed', grid: '#e5e7eb' };

/**
 * A uPlot chart in a div: built when `shape` changes (series, thresholds), fed new data with
 * setData when only the data changes (no rebuild, no flicker), resized with its container.
 */
function useChart(build: (el: HTMLElement, width: number, data: uPlot.AlignedData) => uPlot, shape: string, data: uPlot.AlignedData) {
  const ref = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | undefined>(undefined);
  const dataKey = JSON.stringify(data);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const c = build(el, el.clientWidth || 600, data);
    chart.current = c;
    const ro = new ResizeObserver(() => { if (Math.abs(c.width - el.clientWidth) > 2) c.setSize({ width: el.clientWidth, height: c.height }); });
    ro.observe(el);
    return () => { ro.disconnect(); c.destroy(); chart.current = undefined; };
  }, [shape]);
  useEffect(() => { chart.current?.setData(data); }, [dataKey]);
  return ref;
}

const axis = (label?: string): uPlot.Axis => ({ stroke: '#374151', grid: { stroke: C.grid, width: 1 }, ticks: { stroke: C.grid, width: 1 }, ...(label ? { label } : {}) });

/** Grey bands behind the series for the given x ranges (read at each draw, so they follow new data). */
function shade(spans: { current: Array<[number, number]> }, color: string): uPlot.Plugin {
  return {
    hooks: {
      drawClear: (u) => {
        const ctx = u.ctx;
        ctx.save();
        ctx.fillStyle = color;
        for (const [a, b] of spans.current) {
          const x0 = Math.max(u.bbox.left, u.valToPos(a, 'x', true));
          const x1 = Math.min(u.bbox.left + u.bbox.width, u.valToPos(b, 'x', true));
          if (x1 > x0) ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
        }
        ctx.restore();
      },
    },
  };
}

export const MARK_COLOR: Record<MarkKind, string> = { workers: '#0e7490', flag: '#9333ea', alert: '#c2410c', rollback: C.fail };
const MARK_TEXT: Record<MarkKind, string> = { workers: 'workers', flag: 'flag', alert: 'alert', rollback: 'rollback' };

/** Vertical lines with labels for the marks (read at each draw); labels on staggered rows so they do not overlap. */
function marks(list: { current: Mark[] }): uPlot.Plugin {
  return {
    hooks: {
      draw: (u) => {
        const ctx = u.ctx;
        const px = devicePixelRatio;
        list.current.forEach((m, i) => {
          const x = Math.round(u.valToPos(m.t / 1000, 'x', true));
          if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
          const color = MARK_COLOR[m.kind];
          ctx.save();
          ctx.strokeStyle = color;
          ctx.lineWidth = (m.kind === 'rollback' ? 2 : 1.5) * px;
          ctx.setLineDash(m.kind === 'rollback' ? [6 * px, 4 * px] : [2 * px, 3 * px]);
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.fillStyle = color;
          ctx.font = `${11 * px}px system-ui, sans-serif`;
          ctx.textAlign = 'left'; // uPlot leaves its axis labels' alignment on the context
          ctx.textBaseline = 'alphabetic';
          const text = m.label;
          const w = ctx.measureText(text).width;
          const right = x + 4 * px + w > u.bbox.left + u.bbox.width;
          ctx.fillText(text, right ? x - 4 * px - w : x + 4 * px, u.bbox.top + (13 + 13 * (i % 5)) * px);
          ctx.restore();
        });
      },
    },
  };
}

const fmtClock = (t: number): string => new Date(t).toLocaleTimeString(undefined, { hour12: false });

/**
 * Weight over time: the canary weight the status asked for (desired, from the StepStarted Events and
 * status) and the weight the route carried (observed, from a watch of the HTTPRoute), stepped, on
 * one time axis with the workers scaled, the flag flips, the alert and the rollback instant marked;
 * the marks are listed under the chart as text too.
 */
export function WeightChart(props: { points: WeightPoint[]; observed: WeightPoint[]; marks: Mark[]; rollbackAt?: number | undefined; observedError?: string | undefined }) {
  const { points, observed, rollbackAt } = props;
  const markList = useRef<Mark[]>([]);
  markList.current = props.marks;
  const xs = [...new Set([...points, ...observed, ...props.marks].map((p) => p.t))].sort((a, b) => a - b);
  const canary = xs.map((t) => valueAt(points, t));
  const seen = xs.map((t) => (t > (points.at(-1)?.t ?? Infinity) ? null : valueAt(observed, t)));
  const stable = canary.map((w) => (w === null ? null : 100 - w));
  const ref = useChart((el, width, data) => new uPlot({
    width, height: 240,
    scales: { x: { time: true }, y: { range: [0, 100] } },
    axes: [axis(), { ...axis('weight %'), values: (_u, v) => v.map((x) => `${x}%`) }],
    series: [
      {},
      { label: 'canary (desired)', stroke: C.canary, width: 2, paths: uPlot.paths.stepped!({ align: 1 }), fill: 'rgba(37,99,235,0.08)' },
      { label: 'canary (observed on the route)', stroke: C.observed, width: 2, dash: [2, 2], paths: uPlot.paths.stepped!({ align: 1 }) },
      { label: 'stable', stroke: C.stable, width: 1, dash: [4, 4], paths: uPlot.paths.stepped!({ align: 1 }) },
    ],
    plugins: [marks(markList)],
  }, data, el), 'weight', [xs.map((t) => t / 1000), canary, seen, stable]);
  return (
    <>
      <div ref={ref} class="chart" data-testid="weight-chart" data-rollback-at={rollbackAt ?? ''} data-desired-points={points.length} data-observed-weights={observed.map((p) => p.weight).join(',')} data-observed={JSON.stringify(observed.map((p) => [p.t, p.weight]))}
        role="img" aria-label={`Canary weight over time, desired and observed${props.marks.length ? `, with ${props.marks.map((m) => m.label).join('; ')} marked` : ''}`} />
      {props.observedError && <p class="small">{props.observedError}</p>}
      {props.marks.length > 0 && (
        <ol class="marks" data-testid="weight-marks" aria-label="On the time axis">
          {props.marks.map((m, i) => (
            <li key={i} data-kind={m.kind} data-t={m.t}>
              <span class="swatch" style={{ background: MARK_COLOR[m.kind] }} aria-hidden="true" />
              <span class="small">{fmtClock(m.t)}</span> <strong>{MARK_TEXT[m.kind]}</strong> {m.label}
            </li>
          ))}
        </ol>
      )}
    </>
  );
}

export interface MetricSeries {
  name: string;
  query?: string;
  baselineQuery?: string;
  min?: number;
  max?: number;
  maxRatio?: number;
  series?: Array<[number, number]>;
  baseline?: Array<[number, number]>;
  error?: string;
}

/**
 * One metric over time. For a relative check (maxRatio) the chart shows the ratio new/legacy against
 * maxRatio; otherwise the value against min/max. Analysis results are points at their time. `range`
 * (seconds) is the time shown: from the cutover's start to the last query.
 */
export function MetricChart(props: { metric: MetricSeries; results: ResultPoint[]; range: [number, number]; intervalMs?: number | undefined }) {
  const { metric, results, range } = props;
  // Inconclusive periods: the interval that each inconclusive result judged, shaded grey.
  const spans = useRef<Array<[number, number]>>([]);
  const interval = (props.intervalMs ?? 30_000) / 1000;
  spans.current = results.filter((r) => r.result === 'Inconclusive').map((r) => [r.t / 1000 - interval, r.t / 1000]);
  const ratio = metric.maxRatio !== undefined;
  const threshold = ratio ? metric.maxRatio : metric.max ?? metric.min;
  const baseline = new Map((metric.baseline ?? []).map(([t, v]) => [t, v]));
  const values = new Map<number, number>();
  for (const [t, v] of metric.series ?? []) {
    if (!ratio) values.set(t, v);
    else if (baseline.get(t)) values.set(t, v / baseline.get(t)!);
  }
  const pointValue = (r: ResultPoint): number | undefined => (r.value === undefined ? undefined : ratio ? (r.baseline ? r.value / r.baseline : undefined) : r.value);
  // The range's ends are on the x axis too, so the threshold line spans the whole time of the cutover.
  const xsSet = new Set<number>([range[0], range[1], ...values.keys(), ...results.map((r) => r.t / 1000), ...(ratio ? [] : [...baseline.keys()])]);
  const xs = [...xsSet].sort((a, b) => a - b);
  const byT = new Map<number, ResultPoint[]>();
  for (const r of results) byT.set(r.t / 1000, [...(byT.get(r.t / 1000) ?? []), r]);
  const pts = (kind: string) => xs.map((x) => {
    const r = byT.get(x)?.find((p) => p.result === kind);
    if (!r) return null;
    return pointValue(r) ?? threshold ?? 0; // an inconclusive result has no value: drawn on the threshold line
  });
  const data: uPlot.AlignedData = [
    xs,
    xs.map((x) => values.get(x) ?? null),
    ...(ratio || !metric.baseline ? [] : [xs.map((x) => baseline.get(x) ?? null)]),
    xs.map(() => threshold ?? null),
    pts('Pass'), pts('Fail'), pts('Inconclusive'),
  ];
  const counts = { Pass: results.filter((r) => r.result === 'Pass').length, Fail: results.filter((r) => r.result === 'Fail').length, Inconclusive: results.filter((r) => r.result === 'Inconclusive').length };
  const thresholdLabel = ratio ? `threshold: ratio ≤ ${metric.maxRatio}` : metric.max !== undefined ? `threshold ≤ ${metric.max}` : metric.min !== undefined ? `threshold ≥ ${metric.min}` : 'no threshold';
  const point = (stroke: string, label: string): uPlot.Series => ({ label, stroke, fill: stroke, paths: () => null, points: { show: true, size: 9, stroke, fill: stroke } });
  const shape = JSON.stringify([metric.name, ratio, threshold, Boolean(metric.baseline)]);
  const ref = useChart((el, width, d) => new uPlot({
    width, height: 220,
    scales: { x: { time: true }, y: { range: (_u, lo, hi) => [Math.min(0, lo ?? 0), Math.max(hi ?? 1, (threshold ?? 0) * 1.25) || 1] } },
    axes: [axis(), axis(ratio ? 'new / legacy' : metric.name)],
    series: [
      {},
      { label: ratio ? 'ratio new/legacy' : 'value (new)', stroke: C.canary, width: 2, spanGaps: true },
      ...(ratio || !metric.baseline ? [] : [{ label: 'legacy', stroke: C.baseline, width: 1, spanGaps: true } as uPlot.Series]),
      { label: thresholdLabel, stroke: C.threshold, width: 2, dash: [8, 4], spanGaps: true, points: { show: false } },
      point(C.pass, 'pass'), point(C.fail, 'fail'), point(C.inconclusive, 'inconclusive'),
    ],
    plugins: [shade(spans, 'rgba(156,163,175,0.25)')],
  }, d, el), shape, data);
  return (
    <div ref={ref} class="chart" data-testid="metric-chart" data-metric={metric.name} data-threshold={threshold ?? ''}
      data-pass={counts.Pass} data-fail={counts.Fail} data-inconclusive={counts.Inconclusive} data-samples={values.size}
      role="img" aria-label={`${metric.name} over time, ${thresholdLabel}, ${counts.Pass} passed, ${counts.Fail} failed, ${counts.Inconclusive} inconclusive analysis results`} />
  );
}
