// The cutover.dev/v1alpha1 API: schemas, types, constants, parse helpers. Import from here.
export * from './group.ts';
export * from './duration.ts';
export * from './conditions.ts';
export * from './common.ts';
export * from './trafficshift.ts';
export * from './shadowrun.ts';
export * from './migrationslice.ts';
export * from './validate.ts';
export { withRules, listMap, duration as durationSchema, timestamp, HTTP_URL, type Rule, type CelReason } from './k8s-schema.ts';
