// ShadowRun — mirror live traffic to the new service and judge it, with no user impact (DESIGN §1).
import * as z from 'zod';
import {
  AcknowledgedActionsSchema,
  AnalysisStatusSchema,
  MetricResultValues,
  ObjectMetaSchema,
  RouteSchema,
  ServiceRefSchema,
  ShadowAnalysisSchema,
} from './common.ts';
import { ConditionsSchema } from './conditions.ts';
import { API_VERSION } from './group.ts';
import { duration, timestamp, withRules, type Rule } from './k8s-schema.ts';

export const ParitySchema = z
  .strictObject({
    maxMismatchRatio: z
      .number()
      .min(0)
      .max(1)
      .default(0)
      .describe('Largest share of compared responses that may differ (status or body) for the run to pass.'),
    ignoreHeaders: z.array(z.string().min(1).max(256)).max(32).optional().describe('Response headers not compared.'),
    ignoreJsonPaths: z
      .array(z.string().min(1).max(512))
      .max(32)
      .optional()
      .describe('JSON paths ignored in response bodies, e.g. $.requestId.'),
  })
  .describe("Compare the shadow's responses with the primary's. Not implemented in this version: refused at admission.");
export type Parity = z.infer<typeof ParitySchema>;

/**
 * Parity comparison is specified (ParitySchema) but no code compares responses yet: a `parity` that
 * were admitted would be ignored and a run could pass without the comparison its author asked for.
 * Until it is implemented the CRDs refuse the field (ShadowRun spec.parity, a MigrationSlice's
 * spec.shadow.parity).
 */
export const PARITY_NOT_IMPLEMENTED = 'parity comparison is not implemented yet: remove parity (a run would pass without comparing responses); judge the shadow with analysis metrics instead';

export function refuseParity<T extends { parity?: Parity | undefined }>(): Rule<T> {
  return { cel: '!has(self.parity)', message: PARITY_NOT_IMPLEMENTED, fieldPath: '.parity', reason: 'FieldValueForbidden', check: (v) => v.parity === undefined };
}

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
    refuseParity(),
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
  at: timestamp().optional(),
});
export type ShadowResult = z.infer<typeof ShadowResultSchema>;

export const ParityStatusSchema = z.object({
  compared: z.int().min(0).default(0),
  mismatched: z.int().min(0).default(0),
  mismatchRatio: z.number().min(0).max(1).optional(),
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
    .describe('The most recent mismatches.'),
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
