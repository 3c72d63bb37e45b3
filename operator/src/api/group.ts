// API group, version and kind names: the public contract (DESIGN §1).
export const GROUP = 'cutover.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export const Kind = {
  TrafficShift: 'TrafficShift',
  ShadowRun: 'ShadowRun',
  MigrationSlice: 'MigrationSlice',
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** Plural resource names, as used in API paths (`/apis/cutover.dev/v1alpha1/namespaces/x/trafficshifts`). */
export const Plural: Readonly<Record<Kind, string>> = {
  TrafficShift: 'trafficshifts',
  ShadowRun: 'shadowruns',
  MigrationSlice: 'migrationslices',
};

/** Field manager for every server-side apply made by the operator (DESIGN §2). */
export const FIELD_MANAGER = 'cutover';
