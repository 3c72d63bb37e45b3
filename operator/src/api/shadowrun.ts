// ShadowRun — mirror live traffic to the new service and judge it, with no user impact (DESIGN §1).
import * as z from 'zod';
import {
  AcknowledgedActionsSchema,
  AnalysisStatusSchema,
  JudgeResultSchema,
  MetricResultValues,
  ObjectMetaSchema,
  RouteSchema,
  ServiceRefSchema,
  ShadowAnalysisSchema,
} from './common.ts';
import { ConditionsSchema } from './conditions.ts';
import { API_VERSION } from './group.ts';
import { duration, timestamp, withRules } from './k8s-schema.ts';

/** A JSON path as the parity rules write it: `$`, then `.field`, `[]` or `[*]` (any element), e.g. `$.items[].price`. */
export const PARITY_JSON_PATH = /^\$(\.[A-Za-z0-9_@-]+|\[\*?\])*$/;
/** An endpoint as the parity rules write it: a method and a path template, e.g. `GET /listings/:id` or `POST /search`. */
export const PARITY_ENDPOINT = /^(GET|HEAD|OPTIONS|POST|PUT|PATCH|DELETE) \/[^\s]*$/;

const jsonPath = () => z.string().min(1).max(512).regex(PARITY_JSON_PATH, { message: 'must be a JSON path like $.items[].price ($, .field, [] or [*])' });
const endpointTemplate = () => z.string().min(3).max(512).regex(PARITY_ENDPOINT, { message: 'must be a method and a path template, e.g. GET /listings/:id' });

const DEVIATION_RULES = ['ignore', 'round', 'relative', 'sort', 'keyBy'] as const;

/** A known deviation: one rule at one JSON path, with the reason it is acceptable. Counted in the report each time it absorbs a difference. */
export const ParityDeviationSchema = withRules(
  z.strictObject({
    path: jsonPath().describe('Where the rule applies, e.g. $.score or $.items[].price; [] and [*] match any element.'),
    ignore: z.literal(true).optional().describe('The value (and everything under it) is not compared.'),
    round: z.int().min(0).max(12).optional().describe('Numbers are compared after rounding to this many decimals.'),
    relative: z.number().gt(0).max(1).optional().describe('Numbers are equal when they differ by at most this share of the larger one (0.05: within 5%).'),
    sort: z.literal(true).optional().describe('An array compared without regard to order.'),
    keyBy: z.string().min(1).max(128).optional().describe('An array of objects matched by this field instead of by position.'),
    reason: z.string().min(1).max(512).describe('Why the deviation is acceptable; shown in the report.'),
  }),
  [
    {
      cel: `${DEVIATION_RULES.map((r) => `(has(self.${r}) ? 1 : 0)`).join(' + ')} == 1`,
      message: `exactly one of ${DEVIATION_RULES.join(', ')} must be set`,
      check: (d) => DEVIATION_RULES.filter((r) => d[r] !== undefined).length === 1,
    },
  ],
);
export type ParityDeviation = z.infer<typeof ParityDeviationSchema>;

export const ParityNoiseSchema = z
  .strictObject({
    fraction: z.number().gt(0).max(1).default(0.2).describe('Share of compared requests the legacy is asked a second time, to measure noise.'),
    relativeThreshold: z
      .number()
      .min(0)
      .max(100)
      .default(20)
      .describe("A field counts only when |raw − noise| / (raw + noise) × 100 is above this (Diffy's default 20)."),
    absoluteThreshold: z
      .number()
      .min(0)
      .max(100)
      .default(0.03)
      .describe("A field counts only when |raw − noise| / compared × 100 is above this (Diffy's default 0.03)."),
  })
  .describe('Noise measured by asking the legacy twice (Diffy): a field that differs between two legacy answers about as often as between legacy and new is noise.');
export type ParityNoise = z.infer<typeof ParityNoiseSchema>;

export const ParitySchema = z
  .strictObject({
    maxMismatchRatio: z
      .number()
      .min(0)
      .max(1)
      .default(0)
      .describe('Largest share of compared responses per endpoint that may differ (after noise and known deviations) for the run to pass.'),
    minCompared: z.int().min(1).max(1_000_000).default(50).describe('Compared requests an endpoint needs for a verdict; fewer make the run Inconclusive.'),
    noise: ParityNoiseSchema.prefault({}),
    endpoints: z
      .array(endpointTemplate())
      .max(200)
      .optional()
      .describe('Endpoint templates requests are counted under, e.g. GET /listings/:id; other paths are bucketed by heuristics (numeric, UUID and hex segments become :id).'),
    deviations: z.array(ParityDeviationSchema).max(64).optional().describe('Known deviations, each with a reason; every suppression is counted in the report.'),
    compareHeaders: z
      .array(z.string().min(1).max(256).regex(/^[A-Za-z0-9-]+$/))
      .max(32)
      .default(['content-type', 'cache-control', 'location'])
      .describe('Response headers compared (case-insensitive).'),
    allowMethods: z
      .array(endpointTemplate())
      .max(32)
      .optional()
      .describe('Read-only endpoints with a non-idempotent method that may be replayed, e.g. POST /search. GET, HEAD and OPTIONS always are; anything else never.'),
    maxLegacyRps: z.number().gt(0).max(10_000).default(10).describe('Replays the legacy receives per second from this run at most; more are shed, not queued.'),
    maxInFlight: z.int().min(1).max(1024).default(32).describe('Replays in flight at most; more are shed.'),
    timeout: duration({ positive: true }).default('5s').describe('Time limit of one replay.'),
    credentials: z
      .enum(['forward', 'strip'])
      .default('forward')
      .describe('forward: Authorization and Cookie go to both services (replays count against per-user quotas); strip: removed. Always redacted in anything kept.'),
    redactJsonPaths: z.array(jsonPath()).max(32).optional().describe('Body fields redacted in samples and reports, in addition to Authorization, Cookie and Set-Cookie.'),
    maxRequestBodyBytes: z.int().min(0).max(16 * 1024 * 1024).default(256 * 1024).describe('Larger requests are skipped.'),
    maxResponseBodyBytes: z
      .int()
      .min(0)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024)
      .describe('Larger responses are compared by status, length and hash only, and counted as truncated.'),
  })
  .describe("Compare the shadow's answers with the primary's, field by field: the route's mirror goes to a comparator the operator runs for the run, which replays each mirrored read to both and judges the differences, noise measured (Diffy's method).");
export type Parity = z.infer<typeof ParitySchema>;
export type ParityInput = z.input<typeof ParitySchema>;

export const ShadowRunSpecSchema = withRules(
  z.strictObject({
    route: RouteSchema,
    primary: ServiceRefSchema.describe('The legacy backend that keeps serving users.'),
    shadow: ServiceRefSchema.describe('The new backend that receives mirrored requests; its responses are dropped.'),
    percent: z.int().min(1).max(100).describe('Share of requests mirrored to the shadow.'),
    duration: duration({ positive: true }).describe('How long to mirror, e.g. 168h for 7 days.'),
    analysis: ShadowAnalysisSchema.optional(),
    parity: ParitySchema.optional(),
  }),
  [
    {
      cel: 'self.primary.service != self.shadow.service || self.primary.port != self.shadow.port',
      message: 'shadow must differ from primary',
      fieldPath: '.shadow',
      check: (s) => s.primary.service !== s.shadow.service || s.primary.port !== s.shadow.port,
    },
  ],
);
export type ShadowRunSpec = z.infer<typeof ShadowRunSpecSchema>;
export type ShadowRunSpecInput = z.input<typeof ShadowRunSpecSchema>;

export const ShadowRunPhaseValues = ['Pending', 'Running', 'Passed', 'Failed', 'Cancelled'] as const;
export type ShadowRunPhase = (typeof ShadowRunPhaseValues)[number];

export const VerdictValues = MetricResultValues;
export type Verdict = (typeof VerdictValues)[number];

/** One metric, primary and shadow side by side. */
export const ShadowResultSchema = z.object({
  name: z.string(),
  primary: z.number().optional(),
  shadow: z.number().optional(),
  threshold: z.string().optional(),
  result: z.enum(MetricResultValues),
  message: z.string().optional(),
  judge: JudgeResultSchema.optional().describe('Set for a judged metric that had enough samples (shift = shadow − primary).'),
  at: timestamp().optional(),
});
export type ShadowResult = z.infer<typeof ShadowResultSchema>;

export const ParityEndpointStatusSchema = z.object({
  endpoint: z.string().max(600),
  compared: z.int().min(0),
  mismatched: z.int().min(0),
  mismatchRatio: z.number().min(0).max(1),
  result: z.enum(MetricResultValues),
});

export const ParityStatusSchema = z.object({
  compared: z.int().min(0).default(0),
  mismatched: z.int().min(0).default(0),
  mismatchRatio: z.number().min(0).max(1).optional(),
  noiseCompared: z.int().min(0).optional().describe('Requests the legacy answered twice (the noise sample).'),
  result: z.enum(MetricResultValues).optional().describe('The parity verdict from the latest summary: Pass, Fail or Inconclusive (missing data never passes).'),
  reason: z.string().max(2048).optional(),
  updatedAt: timestamp().optional().describe("When the comparator last wrote its summary."),
  comparator: z.string().max(253).optional().describe('The comparator Deployment, Service and summary ConfigMap of this run (in its namespace).'),
  skipped: z
    .array(z.object({ reason: z.string().max(64), count: z.int().min(0) }))
    .max(16)
    .optional()
    .describe('Mirrored requests not compared, by reason (method: never replayed; rate_limited, breaker: the legacy protected).'),
  breaker: z.string().max(1024).optional().describe('Set while legacy replays are paused by the breaker: why.'),
  endpoints: z.array(ParityEndpointStatusSchema).max(50).optional().describe('Per endpoint bucket (the 50 with most requests); the full list is in the report.'),
  samples: z
    .array(
      z.object({
        method: z.string().optional(),
        path: z.string().max(2048),
        primaryStatus: z.int().optional(),
        shadowStatus: z.int().optional(),
        difference: z.string().max(1024).optional(),
        at: timestamp(),
      }),
    )
    .max(10)
    .optional()
    .describe('The most recent real mismatches (redacted).'),
});
export type ParityStatus = z.infer<typeof ParityStatusSchema>;

export const ShadowRunStatusSchema = z.object({
  observedGeneration: z.int().min(0).optional(),
  phase: z.enum(ShadowRunPhaseValues).optional(),
  message: z.string().max(4096).optional(),
  startedAt: timestamp().optional(),
  endsAt: timestamp().optional(),
  completedAt: timestamp().optional(),
  lastAnalysisAt: timestamp().optional(),
  mirrorAppliedAt: timestamp().optional(),
  mirrorRemovedAt: timestamp().optional(),
  analysis: AnalysisStatusSchema.optional(),
  results: z.array(ShadowResultSchema).max(20).optional(),
  parity: ParityStatusSchema.optional(),
  verdict: z.enum(VerdictValues).optional(),
  acknowledgedActions: AcknowledgedActionsSchema.optional(),
  conditions: ConditionsSchema.optional(),
});
export type ShadowRunStatus = z.infer<typeof ShadowRunStatusSchema>;

export const ShadowRunSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('ShadowRun'),
  metadata: ObjectMetaSchema,
  spec: ShadowRunSpecSchema,
  status: ShadowRunStatusSchema.optional(),
});
export type ShadowRun = z.infer<typeof ShadowRunSchema>;
export type ShadowRunInput = z.input<typeof ShadowRunSchema>;
