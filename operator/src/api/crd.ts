// Generates the CustomResourceDefinitions from the zod schemas. Generic: it walks the JSON Schema
// that zod produces and turns it into a Kubernetes *structural* schema, failing loudly on anything
// the API server would reject (a $ref, a oneOf, an untyped node) instead of emitting it.
import * as z from 'zod';
import { dump } from 'js-yaml';
import { GROUP, Kind, Plural, VERSION } from './group.ts';
import { MigrationSliceSpecSchema, MigrationSliceStatusSchema } from './migrationslice.ts';
import { ShadowRunSpecSchema, ShadowRunStatusSchema } from './shadowrun.ts';
import { TrafficShiftSpecSchema, TrafficShiftStatusSchema } from './trafficshift.ts';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface CrdDefinition {
  kind: Kind;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  printerColumns: PrinterColumn[];
}

const AGE: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export const CATEGORIES = ['cutover'];

export const crdDefinitions: readonly CrdDefinition[] = [
  {
    kind: Kind.TrafficShift,
    plural: Plural.TrafficShift,
    singular: 'trafficshift',
    shortNames: ['ts'],
    description: 'TrafficShift shifts traffic from a stable to a canary backend step by step, analyses each step, and promotes or rolls back.',
    spec: TrafficShiftSpecSchema,
    status: TrafficShiftStatusSchema,
    printerColumns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Weight', type: 'integer', jsonPath: '.status.currentWeight', description: 'Canary weight' },
      { name: 'Step', type: 'integer', jsonPath: '.status.currentStep', description: 'Index in spec.steps' },
      { name: 'Canary', type: 'string', jsonPath: '.spec.canary.service', priority: 1 },
      AGE,
    ],
  },
  {
    kind: Kind.ShadowRun,
    plural: Plural.ShadowRun,
    singular: 'shadowrun',
    shortNames: ['sr'],
    description: 'ShadowRun mirrors live traffic to a new backend and judges it, with no user impact.',
    spec: ShadowRunSpecSchema,
    status: ShadowRunStatusSchema,
    printerColumns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Verdict', type: 'string', jsonPath: '.status.verdict' },
      { name: 'Percent', type: 'integer', jsonPath: '.spec.percent', priority: 1 },
      { name: 'Ends', type: 'date', jsonPath: '.status.endsAt', priority: 1 },
      AGE,
    ],
  },
  {
    kind: Kind.MigrationSlice,
    plural: Plural.MigrationSlice,
    singular: 'migrationslice',
    shortNames: ['ms'],
    description: 'MigrationSlice is one slice of a migration, end to end: owner, rollback plan, shadow stage, traffic shift, workers and retirement of the legacy side.',
    spec: MigrationSliceSpecSchema,
    status: MigrationSliceStatusSchema,
    printerColumns: [
      { name: 'Owner', type: 'string', jsonPath: '.spec.owner' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Weight', type: 'integer', jsonPath: '.status.currentWeight', description: 'Canary weight' },
      AGE,
    ],
  },
];

export type JsonSchema = { [key: string]: unknown };

/** OpenAPI v3 keywords the API server accepts in a structural CRD schema. */
const ALLOWED_KEYWORDS = new Set([
  'type',
  'format',
  'description',
  'default',
  'enum',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'required',
  'properties',
  'additionalProperties',
  'items',
  'x-kubernetes-validations',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-int-or-string',
  'x-kubernetes-embedded-resource',
]);

/** Key order in the output: readable and stable. */
const KEY_ORDER = [...ALLOWED_KEYWORDS];

const TYPES = new Set(['object', 'array', 'string', 'integer', 'number', 'boolean']);

export class StructuralSchemaError extends Error {
  override name = 'StructuralSchemaError';
}

/**
 * Converts one node of zod's JSON Schema (OpenAPI 3.0 target, input side) to a structural schema.
 * `path` is used in error messages only.
 */
export function toStructural(node: JsonSchema, path = ''): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    switch (key) {
      case '$schema':
        break;
      case 'const':
        out.enum = [value];
        break;
      case 'additionalProperties':
        // zod emits `false` for strict objects; structural schemas forbid it (pruning does the job).
        if (value !== false) out.additionalProperties = toStructural(value as JsonSchema, `${path}{}`);
        break;
      case 'minimum':
        if (value !== Number.MIN_SAFE_INTEGER) out.minimum = value;
        break;
      case 'maximum':
        if (value !== Number.MAX_SAFE_INTEGER) out.maximum = value;
        break;
      case 'properties': {
        const props: JsonSchema = {};
        for (const [name, child] of Object.entries(value as Record<string, JsonSchema>)) {
          props[name] = toStructural(child, `${path}.${name}`);
        }
        out.properties = props;
        break;
      }
      case 'items':
        out.items = toStructural(value as JsonSchema, `${path}[]`);
        break;
      default:
        if (!ALLOWED_KEYWORDS.has(key)) {
          throw new StructuralSchemaError(`${path || '<root>'}: keyword "${key}" is not allowed in a structural CRD schema`);
        }
        out[key] = value;
    }
  }
  if (typeof out.type !== 'string' || !TYPES.has(out.type)) {
    if (out['x-kubernetes-int-or-string'] !== true && out['x-kubernetes-preserve-unknown-fields'] !== true) {
      throw new StructuralSchemaError(`${path || '<root>'}: every node needs a type, got ${JSON.stringify(out.type)}`);
    }
  }
  if (out.properties !== undefined && out.additionalProperties !== undefined) {
    throw new StructuralSchemaError(`${path || '<root>'}: properties and additionalProperties are exclusive`);
  }
  if (out.type === 'array' && out.items === undefined) {
    throw new StructuralSchemaError(`${path || '<root>'}: an array needs items`);
  }
  if (Array.isArray(out.required) && out.required.length === 0) delete out.required;
  return orderKeys(out);
}

function orderKeys(node: JsonSchema): JsonSchema {
  const ordered: JsonSchema = {};
  for (const key of KEY_ORDER) if (key in node) ordered[key] = node[key];
  return ordered;
}

/** The structural OpenAPI schema of a zod schema, as the API server would see it. */
export function structuralSchemaOf(schema: z.ZodType, path = ''): JsonSchema {
  const json = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'throw' }) as JsonSchema;
  return toStructural(json, path);
}

/** The whole CustomResourceDefinition object for one kind. */
export function buildCrd(def: CrdDefinition): JsonSchema {
  const openAPIV3Schema: JsonSchema = {
    type: 'object',
    description: def.description,
    properties: {
      apiVersion: { type: 'string', description: 'APIVersion of this object: cutover.dev/v1alpha1.' },
      kind: { type: 'string', description: `Kind of this object: ${def.kind}.` },
      metadata: { type: 'object' },
      spec: structuralSchemaOf(def.spec, 'spec'),
      status: structuralSchemaOf(def.status, 'status'),
    },
    required: ['spec'],
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${def.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/name': 'cutover', 'app.kubernetes.io/part-of': 'cutover' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: CATEGORIES,
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: def.printerColumns,
          schema: { openAPIV3Schema },
        },
      ],
    },
  };
}

export function crdFileName(def: CrdDefinition): string {
  return `${GROUP}_${def.plural}.yaml`;
}

const HEADER = '# Generated by `npm run gen:crds` from operator/src/api. DO NOT EDIT.\n';

/** YAML text of one CRD; byte-for-byte stable for the same schemas. */
export function renderCrd(def: CrdDefinition): string {
  return `${HEADER}---\n${dump(buildCrd(def), { noRefs: true, lineWidth: -1 })}`;
}

/** Every CRD file: name (relative to crds/) and content. */
export function renderCrds(): Array<{ file: string; content: string }> {
  return crdDefinitions.map((def) => ({ file: crdFileName(def), content: renderCrd(def) }));
}
