// Admission against the real API server: the generated CRDs (OpenAPI schema + CEL rules) must
// reject every invalid manifest with a message that names the field, and accept the valid ones.
// The same tables drive test/unit/api/schemas.test.ts, so zod and the API server agree.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { CRD_DIR } from '../../operator/src/api/gen-crds.ts';
import { invalidShadowRunsAndSlices, invalidTrafficShifts, invalidWebChecks, validManifests, minimalTrafficShift } from '../unit/api/fixtures.ts';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** kubectl from PATH with KUBECONFIG from the environment (set by test/testbed/global-setup.ts). */
function kubectl(args: string[], input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('kubectl', args, { env: process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

const namespace = `crd-admission-${process.pid}`;
const FIELD_MANAGER = 'crd-admission-test';

function apply(manifest: object): Promise<Run> {
  return kubectl(['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-n', namespace, '-f', '-'], JSON.stringify(manifest));
}

beforeAll(async () => {
  const crds = await kubectl(['apply', '--server-side', '--force-conflicts', '-f', CRD_DIR]);
  expect(crds.code, crds.stderr).toBe(0);
  const established = await kubectl(['wait', '--for=condition=Established', '--timeout=60s', '-f', CRD_DIR]);
  expect(established.code, established.stderr).toBe(0);
  const ns = await kubectl(['create', 'namespace', namespace]);
  expect(ns.code, ns.stderr).toBe(0);
});

afterAll(async () => {
  await kubectl(['delete', 'namespace', namespace, '--wait=false', '--ignore-not-found']);
});

describe('CRD admission rejects invalid resources, naming the field', () => {
  it('has enough cases', () => {
    expect(invalidTrafficShifts.length).toBeGreaterThanOrEqual(15);
    expect(invalidShadowRunsAndSlices.length).toBeGreaterThanOrEqual(10);
  });

  const cases = [...invalidTrafficShifts, ...invalidShadowRunsAndSlices, ...invalidWebChecks];
  it.each(cases.map((c) => [`${c.kind}: ${c.name}`, c] as const))('%s', async (_name, c) => {
    const result = await apply(c.manifest);
    expect(result.code, `expected a rejection, kubectl said:\n${result.stdout}${result.stderr}`).not.toBe(0);
    expect(result.stderr, `the error should name ${c.field}`).toContain(c.field);
    if (c.message) expect(result.stderr, 'the error should say what is supported').toContain(c.message);
    // Rejected at admission: nothing was stored.
    const get = await kubectl(['get', c.kind.toLowerCase(), (c.manifest.metadata as { name: string }).name, '-n', namespace, '--ignore-not-found', '-o', 'name']);
    expect(get.stdout.trim()).toBe('');
  });
});

describe('CRD admission accepts valid resources', () => {
  it.each(validManifests.map((v) => [v.name, v.manifest] as const))('%s', async (_name, manifest) => {
    const result = await apply(manifest);
    expect(result.code, result.stderr).toBe(0);
  });

  it('applies the defaults declared in the schema', async () => {
    const manifest = minimalTrafficShift('defaults') as { spec: Record<string, unknown> };
    manifest.spec.route = { httpRoute: { name: 'listings' } };
    manifest.spec.analysis = { metrics: [{ name: 'errors', prometheus: { query: 'q' }, max: 0.01 }] };
    expect((await apply(manifest)).code).toBe(0);
    const got = await kubectl(['get', 'trafficshift', 'defaults', '-n', namespace, '-o', 'json']);
    const spec = (JSON.parse(got.stdout) as { spec: Record<string, Record<string, unknown>> }).spec;
    expect(spec.rollback).toEqual({ automatic: true });
    expect(spec.analysis).toMatchObject({ interval: '30s', failureLimit: 2, inconclusiveLimit: 3, onInconclusive: 'Pause' });
    expect(spec.route).toEqual({ httpRoute: { name: 'listings', ruleIndex: 0 } });
  });

  it('lists every kind under the cutover category, with short names and printer columns', async () => {
    const all = await kubectl(['get', 'cutover', '-n', namespace, '-o', 'name']);
    expect(all.code, all.stderr).toBe(0);
    for (const kind of ['trafficshift', 'shadowrun', 'migrationslice']) expect(all.stdout).toContain(`${kind}.cutover.dev/`);
    const ts = await kubectl(['get', 'ts', '-n', namespace]);
    expect(ts.stdout.split('\n')[0]).toMatch(/NAME\s+PHASE\s+WEIGHT\s+STEP\s+AGE/);
    const ms = await kubectl(['get', 'ms', '-n', namespace]);
    expect(ms.stdout.split('\n')[0]).toMatch(/NAME\s+OWNER\s+PHASE\s+WEIGHT\s+AGE/);
    expect(ms.stdout).toContain('team-scoring');
    const sr = await kubectl(['get', 'sr', '-n', namespace]);
    expect(sr.stdout.split('\n')[0]).toMatch(/NAME\s+PHASE\s+VERDICT\s+AGE/);
  });

  it('accepts a status written through the status subresource', async () => {
    const status = {
      apiVersion: 'cutover.dev/v1alpha1',
      kind: 'TrafficShift',
      metadata: { name: 'defaults', namespace },
      status: {
        observedGeneration: 1,
        phase: 'Progressing',
        currentStep: 0,
        currentWeight: 10,
        stepStartedAt: '2025-01-01T00:00:00Z',
        analysis: { consecutiveFailures: 0, consecutiveInconclusive: 1, lastResults: [{ name: 'errors', threshold: '<= 0.01', result: 'Inconclusive', message: 'no data', at: '2025-01-01T00:00:30Z' }] },
        conditions: [{ type: 'Ready', status: 'False', observedGeneration: 1, lastTransitionTime: '2025-01-01T00:00:00Z', reason: 'StepInProgress', message: 'step 0 at 10%' }],
      },
    };
    const result = await kubectl(['apply', '--server-side', '--subresource=status', '--field-manager=cutover', '-f', '-'], JSON.stringify(status));
    expect(result.code, result.stderr).toBe(0);
    const got = await kubectl(['get', 'ts', 'defaults', '-n', namespace, '-o', 'jsonpath={.status.phase}/{.status.currentWeight}']);
    expect(got.stdout).toBe('Progressing/10');
  });
});
