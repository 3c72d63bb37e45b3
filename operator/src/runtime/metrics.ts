// One prom-client Registry for the process (prom-client's global `register` is not used). Helpers
// are get-or-create so that a module which creates its metrics twice (tests, two controllers)
// reuses the first instance instead of throwing.
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

/**
 * The metric `name` in `reg`, created by `create` the first time: prom-client refuses to register a
 * name twice, and a module may build its metrics more than once (tests, two controllers, one
 * provider per config reload). The one get-or-create of the operator; `counter`, `gauge` and
 * `histogram` below are its typed forms.
 */
function getOrCreate<M>(reg: Registry, name: string, create: (registers: Registry[]) => M): M {
  return (reg.getSingleMetric(name) as M | undefined) ?? create([reg]);
}

export function counter<L extends string = string>(spec: MetricSpec<L>): Counter<L> {
  return getOrCreate(spec.registry ?? registry, spec.name, (registers) =>
    new Counter<L>({ name: spec.name, help: spec.help, labelNames: spec.labelNames ?? [], registers }));
}

export function gauge<L extends string = string>(spec: GaugeSpec<L>): Gauge<L> {
  return getOrCreate(spec.registry ?? registry, spec.name, (registers) => new Gauge<L>({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames ?? [],
    registers,
    ...(spec.collect ? { collect: spec.collect } : {}),
  }));
}

export function histogram<L extends string = string>(spec: HistogramSpec<L>): Histogram<L> {
  return getOrCreate(spec.registry ?? registry, spec.name, (registers) => new Histogram<L>({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames ?? [],
    buckets: spec.buckets ?? DEFAULT_DURATION_BUCKETS,
    registers,
  }));
}

/**
 * State a module keeps once per registry next to its metrics (e.g. the live work queues a gauge's
 * `collect` reads): `create` runs the first time a registry is asked for.
 */
export function perRegistry<T>(create: (reg: Registry) => T): (reg: Registry) => T {
  const known = new WeakMap<Registry, T>();
  return (reg) => {
    let value = known.get(reg);
    if (value === undefined) known.set(reg, (value = create(reg)));
    return value;
  };
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
