// The PromQL the README gives for worker cutovers on a BullMQ queue (README › Worker cutovers › Queue
// metrics (BullMQ)), with the operator's `{{namespace}}` template, for the test worker's series
// (worker.ts) and BullMQ's own exporter. test/e2e/queue.test.ts runs each against the testbed's
// Prometheus; test/unit/testbed/queue.test.ts checks the README shows them as written here.
export const QUEUE_QUERIES = {
  /** Share of the new consumers' jobs that failed (0..1); `or vector(0)`: no failure is 0, not "no data". */
  newFailureRate: '(sum(rate(worker_jobs_total{namespace="{{namespace}}",queue="scores",version="new",status="failed"}[1m])) or vector(0))\n'
    + '/ sum(rate(worker_jobs_total{namespace="{{namespace}}",queue="scores",version="new"}[1m]))',
  /** The same for the legacy consumers: the baselineQuery of a relative check. */
  legacyFailureRate: '(sum(rate(worker_jobs_total{namespace="{{namespace}}",queue="scores",version="legacy",status="failed"}[1m])) or vector(0))\n'
    + '/ sum(rate(worker_jobs_total{namespace="{{namespace}}",queue="scores",version="legacy"}[1m]))',
  /** p95 processing time of the new consumers' jobs, seconds. */
  newP95Seconds: 'histogram_quantile(0.95, sum by (le) (rate(worker_job_duration_seconds_bucket{namespace="{{namespace}}",queue="scores",version="new"}[1m])))',
  /** Jobs waiting in the queue (BullMQ's exporter; every consumer exports the same value: max, not sum). */
  waiting: 'max(bullmq_job_count{namespace="{{namespace}}",queue="scores",state="waiting"})',
  /** How fast the waiting jobs grow, jobs/s (≤ 0: the consumers keep up). */
  waitingGrowth: 'max(deriv(bullmq_job_count{namespace="{{namespace}}",queue="scores",state="waiting"}[2m]))',
} as const;

/** A query with `{{namespace}}` replaced, as the operator renders it. */
export const renderQuery = (q: string, namespace: string): string => q.replaceAll('{{namespace}}', namespace);
