// Schemas shared by TrafficShift, ShadowRun and MigrationSlice.
import * as z from 'zod';
import { DURATION_PATTERN, parseDuration } from './duration.ts';
import { SecretKeyRefSchema } from './secret-ref.ts';
import { WebCheckSchema, type WebCheck } from './webcheck.ts';
import { HTTP_URL, dnsLabel, duration, listMap, resourceName, serviceName, timestamp, withRules } from './k8s-schema.ts';

// ---------------------------------------------------------------------------------------------
// Metadata (the API server validates it; we only read it)

export const ObjectMetaSchema = z.looseObject({
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  generation: z.number().int().optional(),
  resourceVersion: z.string().optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  finalizers: z.array(z.string()).optional(),
  ownerReferences: z
    .array(
      z.looseObject({
        apiVersion: z.string(),
        kind: z.string(),
        name: z.string(),
        uid: z.string(),
        controller: z.boolean().optional(),
        blockOwnerDeletion: z.boolean().optional(),
      }),
    )
    .optional(),
});
export type ObjectMeta = z.infer<typeof ObjectMetaSchema>;

// ---------------------------------------------------------------------------------------------
// Backends and routes

export const ServiceRefSchema = z
  .strictObject({
    service: serviceName().describe('Name of a Service in the same namespace.'),
    port: z.int().min(1).max(65535).describe('Service port.'),
  })
  .describe('A Service and port in the namespace of this resource.');
export type ServiceRef = z.infer<typeof ServiceRefSchema>;

export const HTTPRouteRefSchema = z.strictObject({
  name: resourceName().describe('Name of a Gateway API HTTPRoute in the same namespace.'),
  ruleIndex: z.int().min(0).max(63).default(0).describe('Index of the rule in spec.rules whose backends are weighted.'),
});
export type HTTPRouteRef = z.infer<typeof HTTPRouteRefSchema>;

export const IngressRefSchema = z.strictObject({
  name: resourceName().describe('Name of the stable Ingress; the operator manages a canary Ingress beside it.'),
});
export type IngressRef = z.infer<typeof IngressRefSchema>;

export const VirtualServiceRefSchema = z.strictObject({
  name: resourceName().describe('Name of an Istio VirtualService in the same namespace.'),
  route: z.string().min(1).max(253).describe('Name of the HTTP route in the VirtualService.'),
});
export type VirtualServiceRef = z.infer<typeof VirtualServiceRefSchema>;

export const RouterKinds = ['httpRoute', 'ingress', 'virtualService'] as const;
export type RouterKind = (typeof RouterKinds)[number];

/** The routers this version implements (operator/src/traffic): the Gateway API one only. */
export const SUPPORTED_ROUTERS_MESSAGE = 'only spec.route.httpRoute (Gateway API) is supported in this version';

// `ingress` and `virtualService` stay in the schema (their shape is settled, see DESIGN §1) but are
// refused at admission until a router implements them: a resource naming them would otherwise be
// accepted and stall at run time. The CEL rules say which router is supported.
export const RouteSchema = withRules(
  z
    .strictObject({
      httpRoute: HTTPRouteRefSchema.optional().describe('Gateway API HTTPRoute.'),
      ingress: IngressRefSchema.optional().describe('NGINX-style canary Ingress. Not supported in this version: refused at admission.'),
      virtualService: VirtualServiceRefSchema.optional().describe('Istio VirtualService. Not supported in this version: refused at admission.'),
    })
    .describe(`The router whose weights (and mirror) are managed; ${SUPPORTED_ROUTERS_MESSAGE}.`),
  [
    {
      cel: '!has(self.ingress)',
      message: `no Ingress router exists yet; ${SUPPORTED_ROUTERS_MESSAGE}`,
      fieldPath: '.ingress',
      reason: 'FieldValueForbidden',
      check: (r) => r.ingress === undefined,
    },
    {
      cel: '!has(self.virtualService)',
      message: `no Istio VirtualService router exists yet; ${SUPPORTED_ROUTERS_MESSAGE}`,
      fieldPath: '.virtualService',
      reason: 'FieldValueForbidden',
      check: (r) => r.virtualService === undefined,
    },
    {
      cel: 'has(self.httpRoute)',
      message: `httpRoute must be set: ${SUPPORTED_ROUTERS_MESSAGE}`,
      reason: 'FieldValueRequired',
      check: (r) => r.httpRoute !== undefined,
    },
  ],
);
export type Route = z.infer<typeof RouteSchema>;

/** Which router a route uses (the CRD guarantees exactly one is set). */
export function routerKind(route: Route): RouterKind {
  const kind = RouterKinds.find((k) => route[k] !== undefined);
  if (!kind) throw new Error('route has no router set');
  return kind;
}

export { SecretKeyRefSchema, type SecretKeyRef } from './secret-ref.ts';

// ---------------------------------------------------------------------------------------------
// Steps

export const MAX_STEPS = 20;

export const StepSchema = z.strictObject({
  weight: z.int().min(0).max(100).describe('Percentage of requests sent to the canary during this step.'),
  pause: duration().describe('How long the step lasts (analysis runs throughout) before the next one, e.g. 5m.'),
});
export type Step = z.infer<typeof StepSchema>;

export const StepsSchema = withRules(
  z.array(StepSchema).min(1).max(MAX_STEPS).describe('Weights must be strictly increasing. The last step ends the shift.'),
  [
    {
      cel: 'self.all(a, self.exists_one(b, b.weight == a.weight)) && self.map(s, s.weight).isSorted()',
      message: 'step weights must be strictly increasing, e.g. 10, 50, 100',
      check: (steps) => steps.every((s, i) => i === 0 || s.weight > (steps[i - 1] as Step).weight),
    },
  ],
);

// ---------------------------------------------------------------------------------------------
// Analysis

const promQuery = () => z.string().min(1).max(8192);

export const PrometheusQuerySchema = z.strictObject({
  address: z
    .string()
    .max(2048)
    .regex(HTTP_URL, { message: 'must be an http:// or https:// URL' })
    .optional()
    .describe("Prometheus base URL; the operator's default when omitted."),
  query: promQuery().describe(
    'PromQL returning one number. Templates: {{namespace}}, {{stable.service}}, {{canary.service}}, {{primary.service}}, {{shadow.service}}, {{interval}}.',
  ),
  baselineQuery: promQuery()
    .optional()
    .describe('PromQL for the same measure on the legacy side; required by maxRatio and maxDiffPoints.'),
});
export type PrometheusQuery = z.infer<typeof PrometheusQuerySchema>;

// ---------------------------------------------------------------------------------------------
// Statistical judge (issue 16): a metric compared with its baseline by a Mann-Whitney U test over
// a window of samples, instead of one value against a threshold. Evaluation: analysis/judge.ts.

export const JudgeDirectionValues = ['increase', 'decrease', 'either'] as const;
export type JudgeDirection = (typeof JudgeDirectionValues)[number];

/** The fewest points per side a window must hold (at 0.98 nothing below 5 can be significant). */
export const JUDGE_MIN_STEPS = 5;
/** The most points per side: the interval sorts all pairwise differences (500² = 250,000). */
export const JUDGE_MAX_STEPS = 500;

const JUDGE_DESCRIPTION =
  'Judge the metric statistically: prometheus.query (the new service) and prometheus.baselineQuery (legacy) are range-queried over the window at step, and the two samples compared with a Mann-Whitney U test. Fails when the new service is significantly worse in the direction judged and its mean ratio exceeds the allowed effect.';

const durationOk = (field: string) => `self.${field}.matches(r'${DURATION_PATTERN.source}')`;
const seconds = (text: string): number => Math.floor(parseDuration(text) / 1000);

export const JudgeSchema = withRules(
  z.strictObject({
    window: duration({ positive: true })
      .default('5m')
      .describe('How far back both samples reach, ending now: one point per step and side, e.g. 5m at 15s is 20 points.'),
    baselineWindow: duration({ positive: true })
      .optional()
      .describe('How far back the legacy sample reaches, ending now; default: window. A legacy in steady state can give a longer baseline (e.g. 1h) than the new service has had traffic: its distribution and its serial correlation are then known better, and a regression is detected sooner with fewer false alarms. Keep it within one traffic regime (no daily peak inside it).'),
    step: duration({ positive: true }).default('15s').describe('Resolution of the range queries, at least 1s, e.g. 15s.'),
    confidence: z
      .number()
      .min(0.8)
      .max(0.999)
      .default(0.98)
      .describe('Confidence of the test and of the interval for the shift (0.98: a 2% chance to call noise a difference).'),
    direction: z
      .enum(JudgeDirectionValues)
      .default('either')
      .describe('Which difference is a regression: increase (latency, errors), decrease (throughput, hit rate) or either.'),
    allowedIncrease: z
      .number()
      .min(1)
      .max(1000)
      .optional()
      .describe('Largest tolerated mean(new) / mean(legacy) for a significant increase, e.g. 1.1 = 10% more; default 1 (none).'),
    allowedDecrease: z
      .number()
      .gt(0)
      .max(1)
      .optional()
      .describe('Smallest tolerated mean(new) / mean(legacy) for a significant decrease, e.g. 0.9 = 10% less; default 1 (none).'),
    critical: z
      .boolean()
      .default(false)
      .describe('A regression of this metric fails the analysis run whatever the score of the others (needs analysis.scoreThresholds).'),
  }),
  [
    {
      cel: `!${durationOk('step')} || duration(self.step) >= duration('1s')`,
      message: 'step must be at least 1s',
      fieldPath: '.step',
      check: (j) => !DURATION_PATTERN.test(j.step) || parseDuration(j.step) >= 1000,
    },
    {
      cel: `!${durationOk('window')} || !${durationOk('step')} || duration(self.window).getSeconds() >= ${JUDGE_MIN_STEPS} * duration(self.step).getSeconds()`,
      message: `window must hold at least ${JUDGE_MIN_STEPS} steps (fewer points per side can never be significant at 0.98)`,
      fieldPath: '.window',
      check: (j) => !DURATION_PATTERN.test(j.window) || !DURATION_PATTERN.test(j.step) || seconds(j.window) >= JUDGE_MIN_STEPS * seconds(j.step),
    },
    {
      cel: `!${durationOk('window')} || !${durationOk('step')} || duration(self.window).getSeconds() <= ${JUDGE_MAX_STEPS} * duration(self.step).getSeconds()`,
      message: `window must hold at most ${JUDGE_MAX_STEPS} steps (lengthen step or shorten window)`,
      fieldPath: '.window',
      check: (j) => !DURATION_PATTERN.test(j.window) || !DURATION_PATTERN.test(j.step) || seconds(j.window) <= JUDGE_MAX_STEPS * seconds(j.step),
    },
    {
      cel: `!has(self.baselineWindow) || !${durationOk('window')} || !${durationOk('baselineWindow')} || duration(self.baselineWindow) >= duration(self.window)`,
      message: 'baselineWindow must be at least window (a shorter legacy sample only loses information)',
      fieldPath: '.baselineWindow',
      check: (j) => j.baselineWindow === undefined || !DURATION_PATTERN.test(j.window) || !DURATION_PATTERN.test(j.baselineWindow) || parseDuration(j.baselineWindow) >= parseDuration(j.window),
    },
    {
      cel: `!has(self.baselineWindow) || !${durationOk('baselineWindow')} || !${durationOk('step')} || duration(self.baselineWindow).getSeconds() <= ${JUDGE_MAX_STEPS} * duration(self.step).getSeconds()`,
      message: `baselineWindow must hold at most ${JUDGE_MAX_STEPS} steps (lengthen step or shorten baselineWindow)`,
      fieldPath: '.baselineWindow',
      check: (j) => j.baselineWindow === undefined || !DURATION_PATTERN.test(j.baselineWindow) || !DURATION_PATTERN.test(j.step) || seconds(j.baselineWindow) <= JUDGE_MAX_STEPS * seconds(j.step),
    },
    {
      cel: "!has(self.allowedIncrease) || self.direction != 'decrease'",
      message: 'allowedIncrease has no effect with direction decrease (an increase is never a regression then)',
      fieldPath: '.allowedIncrease',
      reason: 'FieldValueForbidden',
      check: (j) => j.allowedIncrease === undefined || j.direction !== 'decrease',
    },
    {
      cel: "!has(self.allowedDecrease) || self.direction != 'increase'",
      message: 'allowedDecrease has no effect with direction increase (a decrease is never a regression then)',
      fieldPath: '.allowedDecrease',
      reason: 'FieldValueForbidden',
      check: (j) => j.allowedDecrease === undefined || j.direction !== 'increase',
    },
  ],
);
export type Judge = z.infer<typeof JudgeSchema>;

/** Rules of a metric with a judge block (TrafficShift metrics). */
const judgedMetricRules = [
  {
    cel: '!has(self.judge) || (has(self.prometheus) && has(self.prometheus.baselineQuery))',
    message: 'judge needs prometheus.baselineQuery (the legacy side to compare with)',
    fieldPath: '.prometheus.baselineQuery',
    reason: 'FieldValueRequired' as const,
    check: (m: MetricBase) => m.judge === undefined || m.prometheus?.baselineQuery !== undefined,
  },
  {
    cel: '!has(self.judge) || !(has(self.min) || has(self.max) || has(self.maxRatio) || has(self.maxDiffPoints))',
    message: 'a judged metric is decided by the judge alone: move min, max, maxRatio and maxDiffPoints to a metric of their own',
    fieldPath: '.judge',
    check: (m: MetricBase) => m.judge === undefined || (m.min === undefined && m.max === undefined && m.maxRatio === undefined && m.maxDiffPoints === undefined),
  },
  {
    cel: '!has(self.maxDiffPoints) || (has(self.prometheus) && has(self.prometheus.baselineQuery))',
    message: 'maxDiffPoints needs prometheus.baselineQuery (the legacy side to compare with)',
    fieldPath: '.prometheus.baselineQuery',
    reason: 'FieldValueRequired' as const,
    check: (m: MetricBase) => m.maxDiffPoints === undefined || m.prometheus?.baselineQuery !== undefined,
  },
];

export const ScoreThresholdsSchema = withRules(
  z.strictObject({
    pass: z.number().min(0).max(100).describe('Score at or above which the judged metrics pass, e.g. 90.'),
    marginal: z.number().min(0).max(100).describe('Score at or above which (and below pass) the run is inconclusive, e.g. 75.'),
  }),
  [
    {
      cel: 'self.marginal <= self.pass',
      message: 'marginal must not be greater than pass',
      fieldPath: '.marginal',
      check: (t) => t.marginal <= t.pass,
    },
  ],
);
export type ScoreThresholds = z.infer<typeof ScoreThresholdsSchema>;

type ScoredAnalysis = { metrics: ReadonlyArray<{ judge?: Judge | undefined }>; scoreThresholds?: ScoreThresholds | undefined };

const scoreRules = [
  {
    cel: '!has(self.scoreThresholds) || self.metrics.exists(m, has(m.judge))',
    message: 'scoreThresholds needs at least one metric with a judge block (only judged metrics are scored)',
    fieldPath: '.scoreThresholds',
    reason: 'FieldValueForbidden' as const,
    check: (a: ScoredAnalysis) => a.scoreThresholds === undefined || a.metrics.some((m) => m.judge !== undefined),
  },
  {
    cel: 'has(self.scoreThresholds) || !self.metrics.exists(m, has(m.judge) && m.judge.critical)',
    message: 'judge.critical needs scoreThresholds: without a score every judged metric already fails on its own',
    fieldPath: '.scoreThresholds',
    reason: 'FieldValueRequired' as const,
    check: (a: ScoredAnalysis) => a.scoreThresholds !== undefined || !a.metrics.some((m) => m.judge?.critical === true),
  },
];

const metricBaseShape = {
  name: dnsLabel().describe('Unique name of the check, e.g. error-rate.'),
  prometheus: PrometheusQuerySchema.optional().describe('A Prometheus query. Exactly one of prometheus and web.'),
  web: WebCheckSchema.optional().describe('A web check (api/webcheck.ts): an HTTP call whose JSON answer at jsonPath is the value. Exactly one of prometheus and web.'),
  min: z.number().optional().describe('Fail when the value is below.'),
  max: z.number().optional().describe('Fail when the value is above.'),
  maxRatio: z
    .number()
    .positive()
    .optional()
    .describe('Fail when value / baseline is above (e.g. 1.1: at most 10% worse than legacy).'),
};

type MetricBase = {
  prometheus?: PrometheusQuery | undefined;
  web?: WebCheck | undefined;
  min?: number | undefined;
  max?: number | undefined;
  maxRatio?: number | undefined;
  maxDiffPoints?: number | undefined;
  judge?: Judge | undefined;
};

function metricRules<T extends MetricBase>(thresholds: ReadonlyArray<keyof MetricBase & string>) {
  const list = thresholds.join(', ');
  return [
    {
      cel: 'has(self.prometheus) != has(self.web)',
      message: 'exactly one of prometheus and web must be set',
      check: (m: T) => (m.prometheus !== undefined) !== (m.web !== undefined),
    },
    {
      cel: thresholds.map((t) => `has(self.${t})`).join(' || '),
      message: `at least one threshold (${list}) must be set`,
      check: (m: T) => thresholds.some((t) => m[t] !== undefined),
    },
    {
      cel: '!has(self.min) || !has(self.max) || self.min <= self.max',
      message: 'min must not be greater than max',
      fieldPath: '.min',
      check: (m: T) => m.min === undefined || m.max === undefined || m.min <= m.max,
    },
    {
      cel: '!has(self.maxRatio) || (has(self.prometheus) && has(self.prometheus.baselineQuery))',
      message: 'maxRatio needs prometheus.baselineQuery (the legacy side to compare with)',
      fieldPath: '.prometheus.baselineQuery',
      reason: 'FieldValueRequired' as const,
      check: (m: T) => m.maxRatio === undefined || m.prometheus?.baselineQuery !== undefined,
    },
  ];
}

/** A bound on the difference of two ratios, in percentage points (TrafficShift and ShadowRun metrics). */
const maxDiffPoints = (description: string) => z.number().min(0).optional().describe(description);

export const MetricSchema = withRules(
  z.strictObject({
    ...metricBaseShape,
    maxDiffPoints: maxDiffPoints(
      'Fail when (new − legacy) × 100 is above, in percentage points: for failure ratios (0.03 vs 0.01) the difference is 2 points. Unlike maxRatio it stays defined when the legacy side fails nothing.',
    ),
    judge: JudgeSchema.optional().describe(JUDGE_DESCRIPTION),
  }),
  [...metricRules<MetricBase>(['min', 'max', 'maxRatio', 'maxDiffPoints', 'judge']), ...judgedMetricRules],
);
export type Metric = z.infer<typeof MetricSchema>;

/** ShadowRun metrics may also bound the difference shadow − primary. */
export const ShadowMetricSchema = withRules(
  z.strictObject({
    ...metricBaseShape,
    maxDiffPoints: maxDiffPoints(
      'Fail when (shadow − primary) × 100 is above, in percentage points: for error ratios (0.012 vs 0.010) the difference is 0.2 points, so 0.5 allows half a point more errors than the primary.',
    ),
    judge: JudgeSchema.optional().describe(
      'Judge the metric statistically: the shadow (prometheus.query) against the primary (prometheus.baselineQuery, or the same query for the primary), range-queried over the window at step and compared with a Mann-Whitney U test.',
    ),
  }),
  [
    ...metricRules<MetricBase>(['min', 'max', 'maxRatio', 'maxDiffPoints', 'judge']),
    {
      cel: '!has(self.judge) || !(has(self.min) || has(self.max) || has(self.maxRatio) || has(self.maxDiffPoints))',
      message: 'a judged metric is decided by the judge alone: move min, max, maxRatio and maxDiffPoints to a metric of their own',
      fieldPath: '.judge',
      check: (m) => m.judge === undefined || (m.min === undefined && m.max === undefined && m.maxRatio === undefined && m.maxDiffPoints === undefined),
    },
    {
      cel: '!has(self.judge) || has(self.prometheus)',
      message: 'judge needs a Prometheus query (a web check gives one value, not a series to judge)',
      fieldPath: '.judge',
      reason: 'FieldValueForbidden',
      check: (m) => m.judge === undefined || m.prometheus !== undefined,
    },
    {
      cel: '!has(self.judge) || !self.judge.critical',
      message: 'judge.critical needs analysis.scoreThresholds, which a ShadowRun does not have: every judged shadow metric already fails on its own',
      fieldPath: '.judge.critical',
      reason: 'FieldValueForbidden',
      check: (m) => m.judge?.critical !== true,
    },
    {
      cel: '!has(self.maxDiffPoints) || (has(self.prometheus) && has(self.prometheus.baselineQuery))',
      message: 'maxDiffPoints needs prometheus.baselineQuery (the primary side to compare with)',
      fieldPath: '.prometheus.baselineQuery',
      reason: 'FieldValueRequired',
      check: (m) => m.maxDiffPoints === undefined || m.prometheus?.baselineQuery !== undefined,
    },
  ],
);
export type ShadowMetric = z.infer<typeof ShadowMetricSchema>;

export const OnInconclusiveValues = ['Pause', 'Rollback'] as const;
export type OnInconclusive = (typeof OnInconclusiveValues)[number];

export const MAX_METRICS = 20;

function analysisSchema<M extends z.ZodObject>(metric: M) {
  return z.strictObject({
    interval: duration({ positive: true }).default('30s').describe('Time between two checks.'),
    failureLimit: z
      .int()
      .min(1)
      .max(100)
      .default(2)
      .describe('Consecutive failed checks that trigger a rollback.'),
    inconclusiveLimit: z
      .int()
      .min(1)
      .max(100)
      .default(3)
      .describe('Consecutive inconclusive checks (no data, NaN, provider error) that trigger onInconclusive.'),
    onInconclusive: z
      .enum(OnInconclusiveValues)
      .default('Pause')
      .describe('What to do after inconclusiveLimit: Pause or Rollback. Never promotes.'),
    metrics: listMap(metric, 'name', MAX_METRICS).min(1).describe('Checks run at every interval.'),
  });
}

export const AnalysisSchema = withRules(
  analysisSchema(MetricSchema).extend({
    scoreThresholds: ScoreThresholdsSchema.optional().describe(
      'Judge the judged metrics (those with a judge block) together by their score, 0–100 = the share of them that pass: at least pass passes, at least marginal is inconclusive, below fails. Without it every judged metric passes or fails on its own.',
    ),
  }),
  scoreRules,
);
export type Analysis = z.infer<typeof AnalysisSchema>;

export const ShadowAnalysisSchema = analysisSchema(ShadowMetricSchema);
export type ShadowAnalysis = z.infer<typeof ShadowAnalysisSchema>;

// ---------------------------------------------------------------------------------------------
// Workers, rollback, notifications

export const WorkerSplitSchema = z.strictObject({
  totalReplicas: z
    .int()
    .min(1)
    .max(10000)
    .describe(
      'Consumers of the queue, legacy and new together. At a step of weight w the new Deployment runs ceil(w% x totalReplicas) (at least 1 above weight 0) and the legacy one the rest; at 100 the legacy runs 0.',
    ),
});
export type WorkerSplit = z.infer<typeof WorkerSplitSchema>;

export const WorkerSchema = withRules(
  z.strictObject({
    deployment: resourceName().describe('Deployment of the extracted (new) worker.'),
    replicas: z
      .int()
      .min(0)
      .max(10000)
      .optional()
      .describe('Replicas, scaled up and Ready before the first weight change. Exactly one of replicas and split.'),
    split: WorkerSplitSchema.optional().describe(
      'The share of the work follows the steps: the legacy and the new consumers read the same queue and the replicas are split by the step weight; both are Ready before the analysis of each step starts. Needs legacy. Exactly one of replicas and split.',
    ),
    legacy: z
      .strictObject({
        deployment: resourceName().describe('Deployment of the legacy worker.'),
        replicas: z.int().min(0).max(10000).optional().describe('Replicas applied after completion; undone on rollback. Required without split; with split the legacy runs totalReplicas minus the new ones, so it is refused.'),
      })
      .optional(),
  }),
  [
    {
      cel: '!has(self.legacy) || self.legacy.deployment != self.deployment',
      message: 'legacy.deployment must differ from deployment',
      fieldPath: '.legacy.deployment',
      check: (w) => w.legacy === undefined || w.legacy.deployment !== w.deployment,
    },
    {
      cel: 'has(self.replicas) != has(self.split)',
      message: 'exactly one of replicas and split must be set',
      fieldPath: '.replicas',
      check: (w) => (w.replicas !== undefined) !== (w.split !== undefined),
    },
    {
      cel: '!has(self.split) || has(self.legacy)',
      message: 'split needs legacy: the Deployment whose consumers the new ones replace',
      fieldPath: '.split',
      check: (w) => w.split === undefined || w.legacy !== undefined,
    },
    {
      cel: '!has(self.split) || !has(self.legacy) || !has(self.legacy.replicas)',
      message: 'legacy.replicas is not used with split (the legacy runs totalReplicas minus the new replicas)',
      fieldPath: '.legacy.replicas',
      check: (w) => w.split === undefined || w.legacy?.replicas === undefined,
    },
    {
      cel: 'has(self.split) || !has(self.legacy) || has(self.legacy.replicas)',
      message: 'legacy.replicas is required without split',
      fieldPath: '.legacy.replicas',
      check: (w) => w.split !== undefined || w.legacy === undefined || w.legacy.replicas !== undefined,
    },
  ],
);
export type Worker = z.infer<typeof WorkerSchema>;

export const WorkersSchema = listMap(WorkerSchema, 'deployment', 50).describe(
  'Extracted workers moved with the cutover: scaled up before the first step (replicas), or their share of the work following the steps (split).',
);

/** New and legacy replicas of a split worker at a step weight (README › Worker cutovers). */
export function splitReplicas(totalReplicas: number, weight: number): { replicas: number; legacy: number } {
  if (weight <= 0) return { replicas: 0, legacy: totalReplicas };
  const n = Math.min(totalReplicas, Math.max(1, Math.ceil((weight * totalReplicas) / 100 - 1e-9)));
  return { replicas: n, legacy: totalReplicas - n };
}

export const AlertMatchSchema = z.strictObject({
  matchLabels: z
    .record(z.string().max(317), z.string().max(1024))
    .refine((labels) => Object.keys(labels).length > 0, { message: 'must have at least one label' })
    .meta({ minProperties: 1, maxProperties: 32 })
    .describe('Labels an Alertmanager alert must all carry to roll back at once.'),
});
export type AlertMatch = z.infer<typeof AlertMatchSchema>;

export const RollbackPolicySchema = z.strictObject({
  automatic: z
    .boolean()
    .default(true)
    .describe('Roll back when analysis fails. When false, a failed analysis pauses instead; alerts still roll back.'),
  alerts: z.array(AlertMatchSchema).max(20).optional().describe('Alerts that roll back at once.'),
});
export type RollbackPolicy = z.infer<typeof RollbackPolicySchema>;

export const NotifySchema = z.strictObject({
  github: z
    .strictObject({
      owner: z.string().min(1).max(100),
      repo: z.string().min(1).max(100),
      environment: z.string().min(1).max(255).describe('GitHub deployment environment.'),
      tokenSecret: SecretKeyRefSchema.describe('Secret key holding a GitHub token.'),
      ref: z
        .string()
        .min(1)
        .max(255)
        .optional()
        .describe("Git ref (branch, tag or commit SHA) the GitHub Deployment names; default the repository's default branch."),
      openIssueOnRollback: z.boolean().default(false),
    })
    .optional(),
  webhooks: z
    .array(
      z.strictObject({
        url: z
          .string()
          .max(2048)
          .regex(HTTP_URL, { message: 'must be an http:// or https:// URL' }),
        secretRef: SecretKeyRefSchema.optional().describe('Secret key used to sign the payload (HMAC-SHA256).'),
      }),
    )
    .max(10)
    .optional(),
});
export type Notify = z.infer<typeof NotifySchema>;

// ---------------------------------------------------------------------------------------------
// Status pieces

export const MetricResultValues = ['Pass', 'Fail', 'Inconclusive'] as const;
export type MetricResultValue = (typeof MetricResultValues)[number];

export const JudgeClassificationValues = ['Pass', 'High', 'Low'] as const;

/** What the statistical judge found for one metric (two-sided test of new − legacy). */
export const JudgeResultSchema = z.object({
  classification: z.enum(JudgeClassificationValues).describe('High / Low: significantly higher / lower than legacy beyond the allowed effect.'),
  estimate: z.number().describe('Hodges–Lehmann estimate of the shift new − legacy.'),
  lower: z.number().describe('Lower bound of the confidence interval for the shift.'),
  upper: z.number().describe('Upper bound of the confidence interval for the shift.'),
  confidence: z.number(),
  pValue: z.number(),
  meanRatio: z.number().optional().describe('mean(new) / mean(legacy); absent when the legacy mean is 0.'),
  samples: z.int().min(0).describe('Points of the new service.'),
  baselineSamples: z.int().min(0).describe('Points of the legacy side.'),
  serialCorrelation: z.number().optional().describe('Lag-1 autocorrelation of the points (pooled, bias-corrected, 0–0.9) that the test corrected for.'),
  effectiveSamples: z.number().optional().describe('Points of the new service worth as independent ones: samples / ((1 + r) / (1 − r)).'),
  score: z.number().optional().describe('Score of the run over all judged metrics (0–100).'),
});
export type JudgeResult = z.infer<typeof JudgeResultSchema>;

export const MetricResultSchema = z.object({
  name: z.string(),
  value: z.number().optional().describe('Absent when there was no data.'),
  baseline: z.number().optional(),
  threshold: z.string().describe('The threshold as text, e.g. "<= 0.01" or "ratio <= 1.1".'),
  result: z.enum(MetricResultValues),
  message: z.string().optional(),
  judge: JudgeResultSchema.optional().describe('Set for a judged metric that had enough samples.'),
  at: timestamp(),
});
export type MetricResult = z.infer<typeof MetricResultSchema>;

export const AnalysisStatusSchema = z.object({
  consecutiveFailures: z.int().min(0).default(0),
  consecutiveInconclusive: z.int().min(0).default(0),
  score: z.number().min(0).max(100).optional().describe('Score of the last run over the judged metrics (0–100), when any was conclusive.'),
  lastResults: z.array(MetricResultSchema).max(MAX_METRICS).optional(),
});
export type AnalysisStatus = z.infer<typeof AnalysisStatusSchema>;

/** Manual actions requested with annotations (DESIGN §2: never spec edits). */
export const ActionValues = ['Promote', 'Abort', 'Pause', 'Resume', 'Retry'] as const;
export type Action = (typeof ActionValues)[number];

/**
 * Annotation that requests an action; its value is an opaque request id (a timestamp will do).
 * `kubectl annotate ts/listings cutover.dev/promote=$(date +%s) --overwrite`
 */
export const ActionAnnotation: Readonly<Record<Action, string>> = {
  Promote: 'cutover.dev/promote',
  Abort: 'cutover.dev/abort',
  Pause: 'cutover.dev/pause',
  Resume: 'cutover.dev/resume',
  Retry: 'cutover.dev/retry',
};

/**
 * A rollback requested out of band — by the Alertmanager or the signed hook, or by a MigrationSlice
 * of its TrafficShift — recorded on the object before the request is answered, so that it survives
 * a crash or a leader failover (DESIGN §2: progress lives in the API, not in memory). The value is
 * JSON: `{"id": "...", "trigger": "Alert" | "Webhook" | "Manual", "reason": "...", "alert": "..."}`;
 * acknowledged in status.acknowledgedActions as action `Rollback` with its id.
 */
export const ROLLBACK_REQUEST_ANNOTATION = 'cutover.dev/rollback-request';
export const RollbackRequestTriggerValues = ['Alert', 'Webhook', 'Manual'] as const;
export const RollbackRequestSchema = z.object({
  id: z.string().min(1).max(256),
  trigger: z.enum(RollbackRequestTriggerValues),
  reason: z.string().max(4096),
  alert: z.string().max(1024).optional(),
});
export type RollbackRequest = z.infer<typeof RollbackRequestSchema>;

/** Actions acknowledged in status: the manual ones, and `Rollback` (ROLLBACK_REQUEST_ANNOTATION). */
export const AcknowledgedActionValues = [...ActionValues, 'Rollback'] as const;
export type AcknowledgedActionName = (typeof AcknowledgedActionValues)[number];

/**
 * Last request id handled per action. An annotation whose value equals the acknowledged id was
 * already handled, so a restart never runs an action twice.
 */
export const AcknowledgedActionSchema = z.object({
  action: z.enum(AcknowledgedActionValues),
  id: z.string().max(256),
  at: timestamp(),
});
export type AcknowledgedAction = z.infer<typeof AcknowledgedActionSchema>;

export const AcknowledgedActionsSchema = listMap(AcknowledgedActionSchema, 'action', AcknowledgedActionValues.length);
