// TrafficShift — shift traffic step by step, analyse, promote or roll back (DESIGN §1).
import * as z from 'zod';
import {
  AcknowledgedActionsSchema,
  AnalysisSchema,
  AnalysisStatusSchema,
  NotifySchema,
  ObjectMetaSchema,
  RollbackPolicySchema,
  RouteSchema,
  ServiceRefSchema,
  StepsSchema,
  WorkersSchema,
} from './common.ts';
import { ConditionsSchema } from './conditions.ts';
import { API_VERSION } from './group.ts';
import { duration, timestamp, withRules } from './k8s-schema.ts';

export const TrafficShiftSpecSchema = withRules(
  z.strictObject({
    route: RouteSchema.optional().describe('The route whose weights move. Optional when the shift moves only work: a worker with split.'),
    stable: ServiceRefSchema.optional().describe('The legacy backend (v1); gets 100 - weight. Required with route.'),
    canary: ServiceRefSchema.optional().describe('The new backend (v2); gets the step weight. Required with route.'),
    steps: StepsSchema,
    analysis: AnalysisSchema.optional().describe('Checks run during every step. Without it, steps only wait.'),
    workers: WorkersSchema.optional(),
    rollback: RollbackPolicySchema.prefault({}),
    progressDeadline: duration({ positive: true })
      .optional()
      .describe(
        'Longest time the shift may make no progress (workers not Ready, paused on inconclusive data) before it is rolled back with trigger Deadline.',
      ),
    notify: NotifySchema.optional(),
  }),
  [
    {
      cel: '!has(self.stable) || !has(self.canary) || self.stable.service != self.canary.service || self.stable.port != self.canary.port',
      message: 'canary must differ from stable',
      fieldPath: '.canary',
      check: (s) => !s.stable || !s.canary || s.stable.service !== s.canary.service || s.stable.port !== s.canary.port,
    },
    {
      cel: 'has(self.route) || (has(self.workers) && self.workers.exists(w, has(w.split)))',
      message: 'route is required unless a worker moves the work by split',
      fieldPath: '.route',
      check: (s) => s.route !== undefined || (s.workers ?? []).some((w) => w.split !== undefined),
    },
    {
      cel: '!has(self.route) || has(self.stable)',
      message: 'is required with route',
      fieldPath: '.stable',
      check: (s) => s.route === undefined || s.stable !== undefined,
    },
    {
      cel: '!has(self.route) || has(self.canary)',
      message: 'is required with route',
      fieldPath: '.canary',
      check: (s) => s.route === undefined || s.canary !== undefined,
    },
    {
      cel: 'has(self.route) || has(self.stable) == has(self.canary)',
      message: 'stable and canary go together',
      fieldPath: '.canary',
      check: (s) => s.route !== undefined || (s.stable === undefined) === (s.canary === undefined),
    },
  ],
);
export type TrafficShiftSpec = z.infer<typeof TrafficShiftSpecSchema>;
export type TrafficShiftSpecInput = z.input<typeof TrafficShiftSpecSchema>;

export const TrafficShiftPhaseValues = ['Pending', 'Progressing', 'Paused', 'Completed', 'RolledBack', 'Failed'] as const;
export type TrafficShiftPhase = (typeof TrafficShiftPhaseValues)[number];

export const RollbackTriggerValues = ['Metric', 'Alert', 'Manual', 'Webhook', 'Deadline'] as const;
export type RollbackTrigger = (typeof RollbackTriggerValues)[number];

export const PauseReasonValues = ['Manual', 'Inconclusive', 'AnalysisFailed'] as const;
export type PauseReason = (typeof PauseReasonValues)[number];

/**
 * A rollback in progress or done. The `*At` stamps record each part of the ordered rollback
 * (route first, then feature flag, then workers) so a restart resumes it instead of repeating it.
 */
export const RollbackStatusSchema = z.object({
  trigger: z.enum(RollbackTriggerValues),
  reason: z.string().max(4096),
  at: timestamp(),
  generation: z.int().min(0).optional().describe('Spec generation rolled back; a new generation re-runs.'),
  fromStep: z.int().min(0).optional(),
  fromWeight: z.int().min(0).max(100).optional(),
  alert: z.string().max(1024).optional().describe('Alert name or fingerprint when trigger is Alert.'),
  routeRestoredAt: timestamp().optional(),
  legacyWorkersReadyAt: timestamp().optional().describe('Split workers: when the legacy consumers were back and Ready (the new ones are scaled down after).'),
  featureFlagRestoredAt: timestamp().optional(),
  workersRestoredAt: timestamp().optional(),
  completedAt: timestamp().optional(),
});
export type RollbackStatus = z.infer<typeof RollbackStatusSchema>;

/** Replicas found before the operator scaled a worker, so a rollback can restore them. */
export const WorkerStatusSchema = z.object({
  deployment: z.string(),
  previousReplicas: z.int().min(0).optional(),
  readyReplicas: z.int().min(0).optional(),
  scaledAt: timestamp().optional().describe('When the operator scaled the worker to spec.workers[].replicas (the scale is written after this record).'),
  legacyDeployment: z.string().optional(),
  legacyPreviousReplicas: z.int().min(0).optional(),
  legacyScaledAt: timestamp().optional(),
  split: z.boolean().optional().describe('The worker\'s share of the work follows the steps (spec.workers[].split); its shift restores it on rollback.'),
  replicas: z.int().min(0).optional().describe('With split: the new replicas the current step asks for.'),
  legacyReplicas: z.int().min(0).optional().describe('With split: the legacy replicas the current step asks for.'),
  legacyReadyReplicas: z.int().min(0).optional(),
});
export type WorkerStatus = z.infer<typeof WorkerStatusSchema>;

export const TrafficShiftStatusSchema = z.object({
  observedGeneration: z.int().min(0).optional(),
  phase: z.enum(TrafficShiftPhaseValues).optional(),
  message: z.string().max(4096).optional(),
  currentStep: z.int().min(0).optional().describe('Index in spec.steps.'),
  currentWeight: z.int().min(0).max(100).optional().describe('Canary weight the route is set to.'),
  startedAt: timestamp().optional(),
  stepStartedAt: timestamp().optional(),
  pausedAt: timestamp().optional().describe('While Paused: when the pause began (the step timer stops).'),
  pauseReason: z.enum(PauseReasonValues).optional(),
  completedAt: timestamp().optional(),
  lastAnalysisAt: timestamp().optional(),
  lastProgressAt: timestamp().optional().describe('Measured against spec.progressDeadline.'),
  analysis: AnalysisStatusSchema.optional(),
  rollback: RollbackStatusSchema.optional(),
  workersReady: z.boolean().optional(),
  workers: z.array(WorkerStatusSchema).max(50).optional(),
  acknowledgedActions: AcknowledgedActionsSchema.optional(),
  conditions: ConditionsSchema.optional(),
});
export type TrafficShiftStatus = z.infer<typeof TrafficShiftStatusSchema>;

export const TrafficShiftSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('TrafficShift'),
  metadata: ObjectMetaSchema,
  spec: TrafficShiftSpecSchema,
  status: TrafficShiftStatusSchema.optional(),
});
export type TrafficShift = z.infer<typeof TrafficShiftSchema>;
export type TrafficShiftInput = z.input<typeof TrafficShiftSchema>;
