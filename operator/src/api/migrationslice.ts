// MigrationSlice — one slice of a migration, end to end: owner, rollback plan, optional shadow
// stage, shift stage, triggers, retirement of the legacy side (DESIGN §1).
import * as z from 'zod';
import {
  AcknowledgedActionsSchema,
  AnalysisSchema,
  NotifySchema,
  ObjectMetaSchema,
  RollbackPolicySchema,
  RouteSchema,
  ServiceRefSchema,
  MAX_STEPS,
  ShadowAnalysisSchema,
  StepsSchema,
  WorkersSchema,
} from './common.ts';
import { ConditionsSchema } from './conditions.ts';
import { API_VERSION } from './group.ts';
import { HTTP_URL, dnsLabel, duration, resourceName, timestamp, withRules } from './k8s-schema.ts';
import { SecretKeyRefSchema } from './secret-ref.ts';
import { ParitySchema, ShadowRunPhaseValues, VerdictValues } from './shadowrun.ts';
import { RollbackStatusSchema, TrafficShiftPhaseValues, WorkerStatusSchema } from './trafficshift.ts';

export const FeatureFlagModeValues = ['OnOff', 'Percentage'] as const;
export type FeatureFlagMode = (typeof FeatureFlagModeValues)[number];
export const HttpFlagMethodValues = ['POST', 'PUT', 'PATCH'] as const;

/** The flag's values as the operator writes them: "true"/"false" (OnOff) or "0".."100" (Percentage). */
export const FLAG_ON = 'true';
export const FLAG_OFF = 'false';

export const OpenFeatureFlagSchema = z.strictObject({
  name: resourceName().describe('FeatureFlag (core.openfeature.dev/v1beta1) in the same namespace.'),
  flag: z.string().min(1).max(253).regex(/^[-._a-zA-Z0-9]+$/, { message: 'must be a flag key' }).describe('Key in spec.flagSpec.flags.'),
  onVariant: z.string().min(1).max(253).default('on').describe('Variant of the flag that means on (the new consumers / the new path).'),
  offVariant: z.string().min(1).max(253).default('off').describe('Variant that means off (legacy).'),
});
export type OpenFeatureFlag = z.infer<typeof OpenFeatureFlagSchema>;

export const HttpFlagSchema = withRules(
  z.strictObject({
    url: z.string().max(2048).regex(HTTP_URL, { message: 'must be an http:// or https:// URL' }).describe('The service\'s flag endpoint, e.g. http://score-api.shop:8080/admin/flags.'),
    method: z.enum(HttpFlagMethodValues).default('POST'),
    tokenSecretRef: SecretKeyRefSchema.optional().describe('Sent as `Authorization: Bearer <token>`; read at every call, never shown.'),
    body: z
      .string()
      .min(1)
      .max(8192)
      .describe('Request body (JSON); {{value}} becomes true/false (OnOff) or the percentage (Percentage), e.g. {"flag":"v2_enabled","enabled":{{value}}}.'),
    timeout: duration({ positive: true }).default('5s').describe('Per attempt.'),
    retries: z.int().min(0).max(10).default(4).describe('Retries on a network error, 408, 429 or 5xx, with exponential backoff.'),
  }),
  [
    {
      cel: "self.body.matches('[{][{] *value *[}][}]')",
      message: 'body must contain {{value}}',
      fieldPath: '.body',
      check: (h) => /\{\{ *value *\}\}/.test(h.body),
    },
  ],
);
export type HttpFlag = z.infer<typeof HttpFlagSchema>;

export const FeatureFlagSchema = withRules(
  z.strictObject({
    configMap: resourceName().optional().describe('Provider: a ConfigMap in the same namespace (with key).'),
    key: z.string().min(1).max(253).regex(/^[-._a-zA-Z0-9]+$/, { message: 'must be a valid ConfigMap key' }).optional(),
    openFeature: OpenFeatureFlagSchema.optional().describe('Provider: an OpenFeature FeatureFlag that flagd reads.'),
    http: HttpFlagSchema.optional().describe('Provider: the service\'s own admin endpoint.'),
    mode: z.enum(FeatureFlagModeValues).default('OnOff').describe(
      'OnOff: "true" from step onAtStep on, "false" before. Percentage: the TrafficShift\'s current weight ("0".."100"; OpenFeature: a fractional split between onVariant and offVariant).',
    ),
    onAtStep: z.int().min(0).max(MAX_STEPS - 1).optional().describe('OnOff only: index of the step at which the flag turns on (default 0: when traffic starts moving).'),
  }).describe(
    'The flag the slice drives; exactly one provider (configMap+key, openFeature, http). Set before the first step moves anything (a flag that cannot be set stalls the slice there), follows the steps, and is restored on rollback to the value it had (status.featureFlag.previousValue). A flag another MigrationSlice drives is refused.',
  ),
  [
    {
      cel: '(has(self.configMap) ? 1 : 0) + (has(self.openFeature) ? 1 : 0) + (has(self.http) ? 1 : 0) == 1',
      message: 'exactly one of configMap, openFeature and http must be set',
      check: (f) => [f.configMap, f.openFeature, f.http].filter((p) => p !== undefined).length === 1,
    },
    {
      cel: 'has(self.configMap) == has(self.key)',
      message: 'key is required with configMap, and only with it',
      fieldPath: '.key',
      check: (f) => (f.configMap !== undefined) === (f.key !== undefined),
    },
    {
      cel: '!has(self.onAtStep) || !has(self.mode) || self.mode == \'OnOff\'',
      message: 'onAtStep applies to mode OnOff only',
      fieldPath: '.onAtStep',
      check: (f) => f.onAtStep === undefined || f.mode === 'OnOff',
    },
  ],
);
export type FeatureFlag = z.infer<typeof FeatureFlagSchema>;

export const ShadowStageSchema = z.strictObject({
  percent: z.int().min(1).max(100).describe('Share of requests mirrored to the target.'),
  duration: duration({ positive: true }).describe('How long to mirror, e.g. 168h.'),
  analysis: ShadowAnalysisSchema.optional(),
  parity: ParitySchema.optional(),
});
export type ShadowStage = z.infer<typeof ShadowStageSchema>;

export const ShiftStageSchema = z.strictObject({
  steps: StepsSchema,
  analysis: AnalysisSchema.optional(),
  rollback: RollbackPolicySchema.prefault({}),
  progressDeadline: duration({ positive: true }).optional(),
});
export type ShiftStage = z.infer<typeof ShiftStageSchema>;

export const StartTriggerSchema = withRules(
  z.strictObject({
    name: dnsLabel().describe('Name of the trigger, e.g. score-batch-duration.'),
    prometheus: z.strictObject({
      address: z
        .string()
        .max(2048)
        .regex(HTTP_URL, { message: 'must be an http:// or https:// URL' })
        .optional(),
      query: z.string().min(1).max(8192),
    }),
    above: z.number().optional().describe('Met when the value is above.'),
    below: z.number().optional().describe('Met when the value is below.'),
    for: duration().optional().describe('How long the condition must hold, e.g. 1h.'),
  }),
  [
    {
      cel: 'has(self.above) || has(self.below)',
      message: 'at least one of above or below must be set',
      check: (t) => t.above !== undefined || t.below !== undefined,
    },
  ],
);
export type StartTrigger = z.infer<typeof StartTriggerSchema>;

export const MigrationSliceSpecSchema = withRules(
  z.strictObject({
    owner: z.string().min(1).max(253).describe('Who owns this slice (a person or a team). Required.'),
    rollbackPlan: z.string().min(1).max(16384).describe('How to roll back, in words. Required.'),
    legacy: ServiceRefSchema.optional().describe('The legacy backend (becomes the stable side). Required with route.'),
    target: ServiceRefSchema.optional().describe('The replacement (becomes the canary / shadow side). Required with route.'),
    route: RouteSchema.optional().describe('The route whose weights move. Optional when the slice moves only work: a worker with split.'),
    workers: WorkersSchema.optional(),
    featureFlag: FeatureFlagSchema.optional(),
    shadow: ShadowStageSchema.optional().describe('Optional shadow stage, run as a ShadowRun before shifting.'),
    shift: ShiftStageSchema.describe('Shift stage, run as a TrafficShift.'),
    startWhen: z
      .array(StartTriggerSchema)
      .max(10)
      .optional()
      .describe('The slice waits in Pending until any one trigger is met.'),
    retireLegacyAfter: duration()
      .optional()
      .describe('After completion, how long before legacy workers are scaled to their legacy replicas.'),
    notify: NotifySchema.optional(),
  }),
  [
    {
      cel: '!has(self.legacy) || !has(self.target) || self.legacy.service != self.target.service || self.legacy.port != self.target.port',
      message: 'target must differ from legacy',
      fieldPath: '.target',
      check: (s) => !s.legacy || !s.target || s.legacy.service !== s.target.service || s.legacy.port !== s.target.port,
    },
    {
      cel: 'has(self.route) || (has(self.workers) && self.workers.exists(w, has(w.split)))',
      message: 'route is required unless a worker moves the work by split',
      fieldPath: '.route',
      check: (s) => s.route !== undefined || (s.workers ?? []).some((w) => w.split !== undefined),
    },
    {
      cel: '!has(self.route) || has(self.legacy)',
      message: 'is required with route',
      fieldPath: '.legacy',
      check: (s) => s.route === undefined || s.legacy !== undefined,
    },
    {
      cel: '!has(self.route) || has(self.target)',
      message: 'is required with route',
      fieldPath: '.target',
      check: (s) => s.route === undefined || s.target !== undefined,
    },
    {
      cel: 'has(self.route) || has(self.legacy) == has(self.target)',
      message: 'legacy and target go together',
      fieldPath: '.target',
      check: (s) => s.route !== undefined || (s.legacy === undefined) === (s.target === undefined),
    },
    {
      cel: '!has(self.retireLegacyAfter) || (has(self.workers) && self.workers.exists(w, !has(w.split) && has(w.legacy)))',
      message: 'retireLegacyAfter needs a worker with replicas and legacy (a split worker\'s legacy consumers are moved by the steps)',
      fieldPath: '.retireLegacyAfter',
      check: (s) => s.retireLegacyAfter === undefined || (s.workers ?? []).some((w) => w.split === undefined && w.legacy !== undefined),
    },
    {
      cel: '!has(self.shadow) || has(self.route)',
      message: 'a shadow stage mirrors a route: route is required',
      fieldPath: '.shadow',
      check: (s) => s.shadow === undefined || s.route !== undefined,
    },
    {
      cel: '!has(self.featureFlag) || !has(self.featureFlag.onAtStep) || self.featureFlag.onAtStep < size(self.shift.steps)',
      message: 'featureFlag.onAtStep must be the index of a step of shift.steps',
      fieldPath: '.featureFlag.onAtStep',
      check: (s) => s.featureFlag?.onAtStep === undefined || s.featureFlag.onAtStep < s.shift.steps.length,
    },
  ],
);
export type MigrationSliceSpec = z.infer<typeof MigrationSliceSpecSchema>;
export type MigrationSliceSpecInput = z.input<typeof MigrationSliceSpecSchema>;

export const MigrationSlicePhaseValues = [
  'Pending',
  'Shadowing',
  'Shifting',
  'Stabilizing',
  'Completed',
  'RolledBack',
  'Failed',
] as const;
export type MigrationSlicePhase = (typeof MigrationSlicePhaseValues)[number];

export const HistoryEntrySchema = z.object({
  phase: z.enum(MigrationSlicePhaseValues),
  at: timestamp(),
  reason: z.string().max(1024),
  message: z.string().max(4096).optional(),
});
export type HistoryEntry = z.infer<typeof HistoryEntrySchema>;

/** Kept bounded: the controller drops the oldest entries beyond this. */
export const MAX_HISTORY = 50;

export const ChildrenStatusSchema = z.object({
  shadowRun: z
    .object({
      name: z.string(),
      phase: z.enum(ShadowRunPhaseValues).optional(),
      verdict: z.enum(VerdictValues).optional(),
    })
    .optional(),
  trafficShift: z
    .object({
      name: z.string(),
      phase: z.enum(TrafficShiftPhaseValues).optional(),
      currentStep: z.int().min(0).optional(),
      currentWeight: z.int().min(0).max(100).optional(),
      workers: z.array(WorkerStatusSchema.pick({ deployment: true, previousReplicas: true, split: true, legacyDeployment: true, legacyPreviousReplicas: true })).max(64).optional()
        .describe('Replicas of the workers before the TrafficShift scaled them, copied from its status: a rollback restores them even if the TrafficShift is gone.'),
    })
    .optional(),
});
export type ChildrenStatus = z.infer<typeof ChildrenStatusSchema>;

export const TriggerStatusSchema = z.object({
  name: z.string(),
  value: z.number().optional(),
  met: z.boolean(),
  since: timestamp().optional().describe('When the condition started to hold (for `for`).'),
  at: timestamp(),
  message: z.string().optional(),
});
export type TriggerStatus = z.infer<typeof TriggerStatusSchema>;

export const MigrationSliceStatusSchema = z.object({
  observedGeneration: z.int().min(0).optional(),
  phase: z.enum(MigrationSlicePhaseValues).optional(),
  message: z.string().max(4096).optional(),
  currentWeight: z.int().min(0).max(100).optional().describe('Canary weight of the TrafficShift child.'),
  startedAt: timestamp().optional(),
  triggeredAt: timestamp().optional().describe('When a startWhen trigger was met.'),
  completedAt: timestamp().optional(),
  legacyRetiredAt: timestamp().optional(),
  triggers: z.array(TriggerStatusSchema).max(10).optional(),
  featureFlag: z
    .object({
      enabled: z.boolean().describe('The operator has set the flag in this run and restores it on rollback.'),
      value: z.string().max(64).optional().describe('The value the operator set last: "true"/"false", or a percentage.'),
      previousValue: z.string().max(16384).optional().describe('Value before the operator set it (OpenFeature: the flag\'s defaultVariant and targeting, as JSON); absent if the key was absent or cannot be read (http).'),
      at: timestamp(),
      answer: z.object({ status: z.int(), body: z.string().max(256).optional(), attempts: z.int().min(1) }).optional()
        .describe('http: the endpoint\'s answer to the last call (status code, start of the body, attempts).'),
      error: z.string().max(1024).optional().describe('Why the last attempt to set the flag failed.'),
    })
    .optional(),
  children: ChildrenStatusSchema.optional(),
  rollback: RollbackStatusSchema.optional().describe(
    'The slice\'s rollback, in the order of its parts: route (by its TrafficShift), feature flag, workers.',
  ),
  history: z.array(HistoryEntrySchema).max(MAX_HISTORY).optional(),
  acknowledgedActions: AcknowledgedActionsSchema.optional(),
  conditions: ConditionsSchema.optional(),
});
export type MigrationSliceStatus = z.infer<typeof MigrationSliceStatusSchema>;

export const MigrationSliceSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('MigrationSlice'),
  metadata: ObjectMetaSchema,
  spec: MigrationSliceSpecSchema,
  status: MigrationSliceStatusSchema.optional(),
});
export type MigrationSlice = z.infer<typeof MigrationSliceSchema>;
export type MigrationSliceInput = z.input<typeof MigrationSliceSchema>;
