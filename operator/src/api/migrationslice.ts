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
  ShadowAnalysisSchema,
  StepsSchema,
  WorkersSchema,
} from './common.ts';
import { ConditionsSchema } from './conditions.ts';
import { API_VERSION } from './group.ts';
import { HTTP_URL, dnsLabel, duration, resourceName, timestamp, withRules } from './k8s-schema.ts';
import { ParitySchema, ShadowRunPhaseValues, VerdictValues } from './shadowrun.ts';
import { RollbackStatusSchema, TrafficShiftPhaseValues, WorkerStatusSchema } from './trafficshift.ts';

export const FeatureFlagSchema = z
  .strictObject({
    configMap: resourceName().describe('ConfigMap in the same namespace.'),
    key: z.string().min(1).max(253).regex(/^[-._a-zA-Z0-9]+$/, { message: 'must be a valid ConfigMap key' }),
  })
  .describe('Set to "true" when traffic starts moving and to "false" on rollback (feature off); the value it had before is kept in status.featureFlag.previousValue.');
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
      workers: z.array(WorkerStatusSchema.pick({ deployment: true, previousReplicas: true })).max(64).optional()
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
      enabled: z.boolean(),
      previousValue: z.string().optional().describe('Value before the operator set it; absent if the key was absent.'),
      at: timestamp(),
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
