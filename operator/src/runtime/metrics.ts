// One prom-client Registry for the process. Helpers are get-or-create so that a module which
// creates its metrics twice (tests, two controllers) reuses the first instance instead of throwing.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, exponentialBuckets } from 'prom-client';

export { Registry } from 'prom-client';
export type { Counter, Gauge, Histogram } from 'prom-client';

/** The registry served on /metrics. Default Node.js process metrics are on. */
export const registry: Registry = new Registry();
collectDefaultMetrics({ register: registry });

export interface MetricSpec<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
  registry?: Registry;
}

export interface HistogramSpec<L extends string> extends MetricSpec<L> {
  buckets?: number[];
}

export interface GaugeSpec<L extends string> extends MetricSpec<L> {
  /** Called at scrape time to refresh the value(s). */
  collect?: (this: Gauge<L>) => void | Promise<void>;
}

export function counter<L extends string = string>(spec: MetricSpec<L>): Counter<L> {
  const reg = spec.registry ?? registry;
  const existing = reg.getSingleMetric(spec.name);
  if (existing) return existing as Counter<L>;
  return new Counter<L>({ name: spec.name, help: spec.help, labelNames: spec.labelNames ?? [], registers: [reg] });
}

export function gauge<L extends string = string>(spec: GaugeSpec<L>): Gauge<L> {
  const reg = spec.registry ?? registry;
  const existing = reg.getSingleMetric(spec.name);
  if (existing) return existing as Gauge<L>;
  return new Gauge<L>({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames ?? [],
    registers: [reg],
    ...(spec.collect ? { collect: spec.collect } : {}),
  });
}

export function histogram<L extends string = string>(spec: HistogramSpec<L>): Histogram<L> {
  const reg = spec.registry ?? registry;
  const existing = reg.getSingleMetric(spec.name);
  if (existing) return existing as Histogram<L>;
  return new Histogram<L>({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames ?? [],
    buckets: spec.buckets ?? DEFAULT_DURATION_BUCKETS,
    registers: [reg],
  });
}

/** Seconds, 1 ms … 60 s. */
export const DEFAULT_DURATION_BUCKETS: number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** client-go workqueue buckets: 10 ns … 1000 s, ×10. */
export const WORKQUEUE_DURATION_BUCKETS: number[] = exponentialBuckets(10e-9, 10, 12);

/** controller-runtime reconcile_time_seconds buckets. */
export const RECONCILE_TIME_BUCKETS: number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0,
  1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
