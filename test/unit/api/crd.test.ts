import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import * as z from 'zod';
import { buildCrd, crdDefinitions, renderCrds, toStructural, StructuralSchemaError, type JsonSchema } from '../../../operator/src/api/crd.ts';
import { CRD_DIR } from '../../../operator/src/api/gen-crds.ts';

type Node = Record<string, unknown>;

/** Every schema node of a CRD, with its path. */
function* walk(node: Node, path: string): Generator<[string, Node]> {
  yield [path, node];
  const props = node.properties as Record<string, Node> | undefined;
  if (props) for (const [k, v] of Object.entries(props)) yield* walk(v, `${path}.${k}`);
  if (node.items) yield* walk(node.items as Node, `${path}[]`);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') yield* walk(node.additionalProperties as Node, `${path}{}`);
}

function schemaOf(kind: string): Node {
  const def = crdDefinitions.find((d) => d.kind === kind);
  if (!def) throw new Error(kind);
  const crd = buildCrd(def) as { spec: { versions: Array<{ schema: { openAPIV3Schema: Node } }> } };
  return (crd.spec.versions[0] as { schema: { openAPIV3Schema: Node } }).schema.openAPIV3Schema;
}

function at(root: Node, path: string): Node {
  let node = root;
  for (const seg of path.split('.')) {
    if (seg === '[]') node = node.items as Node;
    else node = (node.properties as Record<string, Node>)[seg] as Node;
    if (!node) throw new Error(`no schema at ${path}`);
  }
  return node;
}

describe('generated CRDs', () => {
  it('match crds/ (run `npm run gen:crds` after changing operator/src/api)', () => {
    for (const { file, content } of renderCrds()) {
      const path = join(CRD_DIR, file);
      const onDisk = existsSync(path) ? readFileSync(path, 'utf8') : '<missing>';
      expect(onDisk === content, `crds/${file} is out of date: run \`npm run gen:crds\` and commit the result`).toBe(true);
    }
  });

  it('are deterministic', () => {
    expect(renderCrds()).toEqual(renderCrds());
  });

  it('parse back as YAML with one CRD per file', () => {
    for (const { content } of renderCrds()) {
      const doc = load(content) as Node;
      expect(doc.apiVersion).toBe('apiextensions.k8s.io/v1');
      expect(doc.kind).toBe('CustomResourceDefinition');
    }
  });

  describe.each(crdDefinitions.map((d) => [d.kind] as const))('%s', (kind) => {
    const root = schemaOf(kind);

    it('is structural: every node typed, no $ref/oneOf/anyOf/allOf/not, no additionalProperties beside properties', () => {
      for (const [path, node] of walk(root, '')) {
        expect(typeof node.type, `${path} has no type`).toBe('string');
        for (const banned of ['$ref', 'oneOf', 'anyOf', 'allOf', 'not', 'const', 'nullable', '$schema']) {
          expect(banned in node, `${path} uses ${banned}`).toBe(false);
        }
        expect(node.additionalProperties === false, `${path} has additionalProperties: false`).toBe(false);
        if (node.properties) expect(node.additionalProperties, `${path}`).toBeUndefined();
      }
    });

    it('bounds every list and every string used by a CEL rule (cost estimation)', () => {
      for (const [path, node] of walk(root, '')) {
        if (node.type === 'array' && path.startsWith('.spec')) expect(node.maxItems, `${path} needs maxItems`).toBeTypeOf('number');
        if (node.type === 'string' && Array.isArray(node['x-kubernetes-validations'])) {
          expect(node.maxLength, `${path} needs maxLength`).toBeTypeOf('number');
        }
      }
    });

    it('keys conditions by type', () => {
      const conditions = at(root, 'status.conditions');
      expect(conditions['x-kubernetes-list-type']).toBe('map');
      expect(conditions['x-kubernetes-list-map-keys']).toEqual(['type']);
      expect((conditions.items as Node).required).toEqual(['type', 'status', 'lastTransitionTime', 'reason', 'message']);
    });
  });

  it('declares names, categories, printer columns and the status subresource', () => {
    const expected: Record<string, { short: string; columns: string[] }> = {
      TrafficShift: { short: 'ts', columns: ['Phase', 'Weight', 'Step', 'Age'] },
      ShadowRun: { short: 'sr', columns: ['Phase', 'Verdict', 'Age'] },
      MigrationSlice: { short: 'ms', columns: ['Owner', 'Phase', 'Weight', 'Age'] },
    };
    for (const def of crdDefinitions) {
      const crd = buildCrd(def) as Node & { spec: Node & { names: Node; versions: Node[] } };
      const exp = expected[def.kind];
      if (!exp) throw new Error(def.kind);
      expect(crd.spec.names.shortNames).toEqual([exp.short]);
      expect(crd.spec.names.categories).toEqual(['cutover']);
      const version = crd.spec.versions[0] as Node & { additionalPrinterColumns: Array<{ name: string; priority?: number }> };
      expect(version.subresources).toEqual({ status: {} });
      expect(version.additionalPrinterColumns.filter((c) => !c.priority).map((c) => c.name)).toEqual(exp.columns);
    }
  });

  it('carries the admission rules next to their fields', () => {
    const ts = schemaOf('TrafficShift');
    const steps = at(ts, 'spec.steps');
    expect(at(ts, 'spec.steps.[].weight')).toMatchObject({ type: 'integer', minimum: 0, maximum: 100 });
    expect(JSON.stringify(steps['x-kubernetes-validations'])).toContain('isSorted');
    expect(JSON.stringify(at(ts, 'spec.route')['x-kubernetes-validations'])).toContain('!has(self.ingress)');
    expect(at(ts, 'spec.steps.[].pause').pattern).toBeTypeOf('string');
    expect(at(ts, 'spec.analysis.failureLimit')).toMatchObject({ minimum: 1 });
    expect(at(ts, 'spec.analysis.onInconclusive')).toMatchObject({ default: 'Pause', enum: ['Pause', 'Rollback'] });
    expect(at(ts, 'spec.rollback.automatic')).toMatchObject({ default: true });
    const sr = schemaOf('ShadowRun');
    expect(at(sr, 'spec.percent')).toMatchObject({ type: 'integer', minimum: 1, maximum: 100 });
    expect(at(sr, 'spec.duration')['x-kubernetes-validations']).toBeDefined();
    const ms = schemaOf('MigrationSlice');
    expect(at(ms, 'spec').required).toEqual(expect.arrayContaining(['owner', 'rollbackPlan']));
    expect(at(ms, 'spec.owner')).toMatchObject({ minLength: 1 });
  });
});

describe('toStructural', () => {
  const rejected: Array<[string, JsonSchema, RegExp]> = [
    ['a union', z.toJSONSchema(z.union([z.string(), z.number()]), { target: 'openapi-3.0' }) as JsonSchema, /anyOf/],
    ['an untyped node', { type: 'object', properties: { x: {} } }, /\.x: every node needs a type/],
    ['a $ref', { type: 'object', properties: { x: { $ref: '#/x' } } }, /\$ref/],
  ];
  it.each(rejected)('refuses %s', (_name, schema, message) => {
    expect(() => toStructural(schema)).toThrow(StructuralSchemaError);
    expect(() => toStructural(schema)).toThrow(message);
  });

  it('turns const into enum and drops zod\'s safe-integer bounds and additionalProperties: false', () => {
    const json = z.toJSONSchema(z.strictObject({ k: z.literal('x'), n: z.int() }), { target: 'openapi-3.0', io: 'input' }) as JsonSchema;
    expect(toStructural(json)).toEqual({
      type: 'object',
      required: ['k', 'n'],
      properties: { k: { type: 'string', enum: ['x'] }, n: { type: 'integer' } },
    });
  });
});
