// Conditions follow the Kubernetes/kstatus convention (metav1.Condition): `Ready` summarises,
// `Progressing` (with kstatus' `Reconciling`), `Degraded` and `Stalled` explain. Reasons are
// PascalCase constants, kept here so that controllers, the kubectl plugin and tests agree on the
// spelling.
import * as z from 'zod';
import { listMap, timestamp } from './k8s-schema.ts';

export const ConditionStatusValues = ['True', 'False', 'Unknown'] as const;
export type ConditionStatus = (typeof ConditionStatusValues)[number];

export const ConditionSchema = z.object({
  type: z
    .string()
    .min(1)
    .max(316)
    .regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/)
    .describe('Type of condition in CamelCase: Ready, Progressing, Degraded or Stalled.'),
  status: z.enum(ConditionStatusValues),
  observedGeneration: z.int().min(0).optional().describe('The .metadata.generation the condition was set for.'),
  lastTransitionTime: timestamp().describe('When the status last changed.'),
  reason: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
    .describe('PascalCase, machine-readable reason.'),
  message: z.string().max(32768).describe('Human-readable explanation.'),
});
export type Condition = z.infer<typeof ConditionSchema>;

export const ConditionsSchema = listMap(ConditionSchema, 'type', 16).describe(
  'Ready summarises; Progressing, Degraded and Stalled explain (kstatus conventions).',
);

/** Condition types. `Ready` is the one `kubectl wait --for=condition=Ready` waits for. */
export const ConditionType = {
  Ready: 'Ready',
  Progressing: 'Progressing',
  Degraded: 'Degraded',
  Stalled: 'Stalled',
  /** kstatus: True exactly while Progressing is True, so kstatus readers (Flux) see InProgress. */
  Reconciling: 'Reconciling',
  /** ShadowRun with parity: True while the comparator's breaker pauses legacy replays. */
  ParityThrottled: 'ParityThrottled',
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

/** Condition reasons (PascalCase), shared by the three kinds. */
export const Reason = {
  // progress
  Initializing: 'Initializing',
  WaitingForWorkers: 'WaitingForWorkers',
  WaitingForTrigger: 'WaitingForTrigger',
  StepInProgress: 'StepInProgress',
  StepPaused: 'StepPaused',
  Promoting: 'Promoting',
  Stabilizing: 'Stabilizing',
  Shadowing: 'Shadowing',
  Shifting: 'Shifting',
  RollingBack: 'RollingBack',
  // outcomes
  Succeeded: 'Succeeded',
  Completed: 'Completed',
  Passed: 'Passed',
  RolledBack: 'RolledBack',
  Failed: 'Failed',
  Cancelled: 'Cancelled',
  // analysis
  AnalysisPassed: 'AnalysisPassed',
  AnalysisFailed: 'AnalysisFailed',
  AnalysisInconclusive: 'AnalysisInconclusive',
  MetricThresholdBreached: 'MetricThresholdBreached',
  ProviderUnreachable: 'ProviderUnreachable',
  QueryError: 'QueryError',
  NoData: 'NoData',
  // triggers of a rollback or pause
  AlertFired: 'AlertFired',
  ManualRollback: 'ManualRollback',
  ManualPause: 'ManualPause',
  WebhookRollback: 'WebhookRollback',
  DeadlineExceeded: 'DeadlineExceeded',
  PausedInconclusive: 'PausedInconclusive',
  // a cutover.dev/rollback-request annotation that is not a valid request (Warning Event; ignored)
  InvalidRollbackRequest: 'InvalidRollbackRequest',
  // stalled: the user must act; nothing is changed in the cluster
  InvalidSpec: 'InvalidSpec',
  RouteNotFound: 'RouteNotFound',
  RouteRuleNotFound: 'RouteRuleNotFound',
  ServiceNotFound: 'ServiceNotFound',
  DeploymentNotFound: 'DeploymentNotFound',
  ConfigMapNotFound: 'ConfigMapNotFound',
  SecretNotFound: 'SecretNotFound',
  /** spec.featureFlag.openFeature names a FeatureFlag (or a flag in it) that does not exist. */
  FeatureFlagNotFound: 'FeatureFlagNotFound',
  /** The feature flag could not be set (its endpoint failed, refused, or the write was rejected). */
  FlagNotSet: 'FlagNotSet',
  /** Another MigrationSlice drives the same flag. */
  FlagConflict: 'FlagConflict',
  /** The route's gateway does not say it can mirror (GatewayClass status.supportedFeatures). */
  MirrorNotSupported: 'MirrorNotSupported',
  /** spec.parity, but the operator has no comparator image (--parity-image). */
  ParityNotConfigured: 'ParityNotConfigured',
  /** ParityThrottled=True: the legacy's replays failed or slowed down; the comparator pauses them. */
  LegacyProtected: 'LegacyProtected',
  ChildFailed: 'ChildFailed',
  ChildConflict: 'ChildConflict',
  // a MigrationSlice's history (status.history[].reason; the last one names Degraded)
  Created: 'Created',
  SpecChanged: 'SpecChanged',
  RetryRequested: 'RetryRequested',
  ShadowStarted: 'ShadowStarted',
  ShiftStarted: 'ShiftStarted',
  ShadowFailed: 'ShadowFailed',
  ShadowCancelled: 'ShadowCancelled',
  ShiftFailed: 'ShiftFailed',
  ChildDeleted: 'ChildDeleted',
  // a failure of a reconcile (controllers/shared/failure.ts): Ready=False, and Stalled=True when
  // only the user can fix it (a 403 from RBAC, a 422 from validation or an admission policy)
  Forbidden: 'Forbidden',
  RouteWriteRejected: 'RouteWriteRejected',
  WriteRejected: 'WriteRejected',
  RouteVerificationFailed: 'RouteVerificationFailed',
  FeatureFlagWriteFailed: 'FeatureFlagWriteFailed',
  // generic
  ReconcileError: 'ReconcileError',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

/**
 * Event reasons (events.k8s.io `reason`, also its `action`) the planners write. Besides these, an
 * Event names a phase it entered (ShadowRun, MigrationSlice: the phase is the reason), and a
 * failure or a stall its condition reason (Reason above).
 */
export const EventReason = {
  StepStarted: 'StepStarted',
  Paused: 'Paused',
  Resumed: 'Resumed',
  Completed: 'Completed',
  RolledBack: 'RolledBack',
  PhaseChanged: 'PhaseChanged',
  MirrorStarted: 'MirrorStarted',
  MirrorRemoved: 'MirrorRemoved',
  /** The parity verdict from the comparator's summary changed (Pass, Fail, Inconclusive). */
  ParityVerdictChanged: 'ParityVerdictChanged',
  Triggered: 'Triggered',
  RollbackTooLate: 'RollbackTooLate',
  LegacyRetired: 'LegacyRetired',
  Deleted: 'Deleted',
} as const;
export type EventReason = (typeof EventReason)[keyof typeof EventReason];
