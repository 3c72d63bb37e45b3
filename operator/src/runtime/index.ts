// The runtime layer's public surface (no Kubernetes client types here).
export { realClock, FakeClock, rfc3339, rfc3339Milli, rfc3339Micro, type Clock } from './clock.ts';
export {
  setCondition,
  removeCondition,
  getCondition,
  isTrue,
  isFalse,
  statusChanged,
  jsonEqual,
  type Condition,
  type ConditionInput,
  type ConditionStatus,
} from './conditions.ts';
export {
  Controller,
  TerminalError,
  isTerminalError,
  newReconcileID,
  type ControllerOptions,
  type ReconcileContext,
  type ReconcileResult,
  type Reconciler,
} from './controller.ts';
export { createLogger, resolveLevel, silentLogger, type Logger, type LoggerOptions } from './logger.ts';
export {
  registry,
  Registry,
  counter,
  gauge,
  histogram,
  DEFAULT_DURATION_BUCKETS,
  type Counter,
  type Gauge,
  type Histogram,
  type MetricSpec,
  type HistogramSpec,
  type GaugeSpec,
} from './metrics.ts';
export {
  BucketRateLimiter,
  ItemExponentialFailureRateLimiter,
  MaxOfRateLimiter,
  defaultControllerRateLimiter,
  type ControllerRateLimiterOptions,
  type RateLimiter,
} from './ratelimit.ts';
export { WorkQueue, type WorkQueueOptions } from './workqueue.ts';
