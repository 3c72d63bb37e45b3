import { describe, it, expect } from 'vitest';
import {
  ValidationError,
  assertTrafficShift,
  formatPath,
  parseMigrationSlice,
  parseResource,
  parseShadowRun,
  parseTrafficShift,
  parseTrafficShiftSpec,
  routerKind,
  type FieldIssue,
} from '../../../operator/src/api/index.ts';
import { invalidShadowRunsAndSlices, invalidTrafficShifts, invalidWebChecks, validManifests, validMigrationSlice, validShadowRun, minimalTrafficShift } from './fixtures.ts';

/** True when an issue is about `field` itself or something inside it. */
function names(issue: FieldIssue, field: string): boolean {
  return issue.path === field || issue.path.startsWith(`${field}.`) || issue.path.startsWith(`${field}[`);
}

describe('valid manifests parse', () => {
  it.each(validManifests.map((v) => [v.name, v.manifest] as const))('%s', (_name, manifest) => {
    const result = parseResource(manifest);
    expect(result.ok ? '' : result.message).toBe('');
  });
});

describe('invalid manifests are rejected with the field named', () => {
  const cases = [...invalidTrafficShifts, ...invalidShadowRunsAndSlices, ...invalidWebChecks];
  it.each(cases.map((c) => [`${c.kind}: ${c.name}`, c] as const))('%s', (_name, c) => {
    const result = parseResource(c.manifest);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.some((i) => names(i, c.field)), `expected an issue on ${c.field}, got:\n${result.message}`).toBe(true);
    if (c.message) expect(result.message).toContain(c.message);
  });

  it('has at least 15 TrafficShift cases and 10 ShadowRun/MigrationSlice cases', () => {
    expect(invalidTrafficShifts.length).toBeGreaterThanOrEqual(15);
    expect(invalidShadowRunsAndSlices.length).toBeGreaterThanOrEqual(10);
  });
});

describe('defaults', () => {
  it('fills the analysis and rollback defaults the CRD declares', () => {
    const manifest = minimalTrafficShift() as { spec: Record<string, unknown> };
    manifest.spec.analysis = { metrics: [{ name: 'errors', prometheus: { query: 'q' }, max: 0.01 }] };
    const result = parseTrafficShift(manifest);
    if (!result.ok) throw new Error(result.message);
    expect(result.value.spec.analysis).toMatchObject({ interval: '30s', failureLimit: 2, inconclusiveLimit: 3, onInconclusive: 'Pause' });
    expect(result.value.spec.rollback).toEqual({ automatic: true });
  });

  it('defaults httpRoute.ruleIndex to 0', () => {
    const manifest = minimalTrafficShift() as { spec: Record<string, unknown> };
    manifest.spec.route = { httpRoute: { name: 'listings' } };
    const result = parseTrafficShift(manifest);
    if (!result.ok) throw new Error(result.message);
    expect(result.value.spec.route?.httpRoute?.ruleIndex).toBe(0);
    expect(routerKind(result.value.spec.route!)).toBe('httpRoute');
  });

  it('keeps the MigrationSlice shift rollback default', () => {
    const result = parseMigrationSlice(validMigrationSlice());
    if (!result.ok) throw new Error(result.message);
    expect(result.value.spec.shift.rollback.automatic).toBe(true);
  });
});

describe('friendly errors', () => {
  const messages: Array<[string, (spec: Record<string, unknown> & { steps: Array<Record<string, unknown>> }) => void, string]> = [
    ['weight too big', (s) => ((s.steps[0] as Record<string, unknown>).weight = 150), 'spec.steps[0].weight: must be at most 100 (got 150)'],
    ['weight not a number', (s) => ((s.steps[0] as Record<string, unknown>).weight = 'ten'), 'spec.steps[0].weight: must be a number (got "ten")'],
    ['bad duration', (s) => ((s.steps[0] as Record<string, unknown>).pause = '5 min'), 'spec.steps[0].pause: must be a duration such as 30s, 5m, 1h30m or 250ms (got "5 min")'],
    ['missing field', (s) => delete s.stable, 'spec.stable: is required with route'],
    ['unknown field', (s) => (s.stabel = {}), 'spec.stabel: unknown field'],
    ['enum', (s) => (s.analysis = { onInconclusive: 'Promote', metrics: [{ name: 'a', prometheus: { query: 'q' }, max: 1 }] }), 'spec.analysis.onInconclusive: must be one of "Pause", "Rollback" (got "Promote")'],
  ];
  it.each(messages)('%s', (_name, mutate, expected) => {
    const manifest = minimalTrafficShift() as { spec: Record<string, unknown> & { steps: Array<Record<string, unknown>> } };
    mutate(manifest.spec);
    const result = parseTrafficShift(manifest);
    expect(result.ok ? '' : result.message).toBe(expected);
  });

  it('parses a bare spec with paths rooted at spec', () => {
    const result = parseTrafficShiftSpec({ route: {}, stable: { service: 'a', port: 1 }, canary: { service: 'b', port: 1 }, steps: [{ weight: 1, pause: '1s' }] });
    expect(result.ok ? [] : result.issues).toEqual([{ path: 'spec.route', message: 'httpRoute must be set: only spec.route.httpRoute (Gateway API) is supported in this version' }]);
  });

  it('assert helpers throw a ValidationError listing every issue', () => {
    const manifest = minimalTrafficShift() as { spec: Record<string, unknown> };
    manifest.spec.steps = [{ weight: 50, pause: '1m' }, { weight: 20, pause: 'x' }];
    let error: unknown;
    try {
      assertTrafficShift(manifest);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.path).sort()).toEqual(['spec.steps', 'spec.steps[1].pause']);
    expect((error as Error).message).toMatch(/^invalid TrafficShift:\nspec\.steps/);
  });

  it('rejects an unknown kind', () => {
    const result = parseResource({ kind: 'Rollout' });
    expect(result.ok ? '' : result.message).toBe('kind: must be one of "TrafficShift", "ShadowRun", "MigrationSlice" (got "Rollout")');
  });

  const paths: Array<[PropertyKey[], string]> = [
    [['spec', 'steps', 1, 'weight'], 'spec.steps[1].weight'],
    [['spec', 'rollback', 'alerts', 0, 'matchLabels', 'app.kubernetes.io/name'], 'spec.rollback.alerts[0].matchLabels["app.kubernetes.io/name"]'],
    [[], ''],
  ];
  it.each(paths)('formatPath(%j) is %s', (path, expected) => {
    expect(formatPath(path)).toBe(expected);
  });
});

describe('status', () => {
  it('accepts a status written by the controller', () => {
    const manifest = validShadowRun() as Record<string, unknown>;
    manifest.status = {
      observedGeneration: 2,
      phase: 'Running',
      startedAt: '2025-01-01T00:00:00Z',
      endsAt: '2025-01-08T00:00:00Z',
      results: [{ name: 'error-rate-diff', primary: 0.001, shadow: 0.002, threshold: 'diff <= 0.005', result: 'Pass' }],
      verdict: 'Pass',
      conditions: [{ type: 'Ready', status: 'False', reason: 'Shadowing', message: 'mirroring 100%', lastTransitionTime: '2025-01-01T00:00:00Z', observedGeneration: 2 }],
    };
    const result = parseShadowRun(manifest);
    expect(result.ok ? '' : result.message).toBe('');
  });

  it('rejects an unknown phase', () => {
    const manifest = minimalTrafficShift() as Record<string, unknown>;
    manifest.status = { phase: 'Promoted' };
    const result = parseTrafficShift(manifest);
    expect(result.ok ? [] : result.issues.map((i) => i.path)).toEqual(['status.phase']);
  });
});
