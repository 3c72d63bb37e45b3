// The comparator's Kubernetes objects and what the operator makes of its summary ConfigMap.
import { describe, expect, it } from 'vitest';
import { ParitySchema } from '../../../operator/src/api/shadowrun.ts';
import { ParityStatusSchema } from '../../../operator/src/api/shadowrun.ts';
import { comparatorDeploymentName, comparatorName, comparatorObjects, configStamp, runLabelValue } from '../../../operator/src/parity/workload.ts';
import { parityResult, parityStatus, parityVerdict, readSummaryData } from '../../../operator/src/parity/status.ts';
import { emptySummary, recordComparison, recordSkip } from '../../../operator/src/parity/summary.ts';
import { compareAnswers, type Answer } from '../../../operator/src/parity/diff.ts';

const run = { namespace: 'shop', name: 'listings', uid: 'u-1', apiVersion: 'cutover.dev/v1alpha1', kind: 'ShadowRun' };
const parity = ParitySchema.parse({ maxMismatchRatio: 0.01, minCompared: 2, redactJsonPaths: ['$.email'] });
const config = { namespace: 'shop', name: 'listings', legacy: 'http://monolith.shop.svc:8080', candidate: 'http://listings-api.shop.svc:8080', parity };

describe('comparator objects', () => {
  it('names are valid Service names, hashed when too long or not DNS-1035', () => {
    expect(comparatorName('listings')).toBe('cutover-parity-listings');
    const long = comparatorName('a'.repeat(80));
    expect(long.length).toBeLessThanOrEqual(54);
    expect(comparatorDeploymentName('a'.repeat(80), 'abcdef12').length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^[a-z]([-a-z0-9]*[a-z0-9])?$/);
    expect(comparatorName('v1.read')).toMatch(/^cutover-parity-v1-read-[0-9a-f]{8}$/);
    expect(comparatorName('a'.repeat(80))).not.toBe(comparatorName(`${'a'.repeat(79)}b`));
    expect(runLabelValue('x'.repeat(70))).toHaveLength(16);
  });

  it('one ConfigMap-only Role, owned by the run; the pod runs the comparator entrypoint non-root on the placement given', () => {
    const objs = comparatorObjects(run, config, { image: 'reg/cutover:1', imagePullPolicy: 'Never', nodeSelector: { n: '1' }, tolerations: [{ key: 't', operator: 'Exists' }] });
    expect(objs.map((o) => o.kind)).toEqual(['ConfigMap', 'ServiceAccount', 'Role', 'RoleBinding', 'Service', 'Deployment']);
    for (const o of objs) expect(o.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'ShadowRun', name: 'listings', uid: 'u-1', controller: true })]);
    const role = objs.find((o) => o.kind === 'Role')!;
    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['configmaps'], resourceNames: ['cutover-parity-listings'], verbs: ['get', 'patch'] }]);
    const cm = objs.find((o) => o.kind === 'ConfigMap')!;
    expect(cm.data).toBeUndefined();
    const d = objs.find((o) => o.kind === 'Deployment')! as unknown as { spec: { replicas: number; strategy: { type: string }; template: { spec: { nodeSelector: object; serviceAccountName: string; containers: Array<{ image: string; command: string[]; args: string[]; env: Array<{ name: string; value?: string }>; securityContext: { readOnlyRootFilesystem: boolean } }> } } } };
    expect(d.spec.replicas).toBe(1);
    expect((d as unknown as { metadata: { name: string } }).metadata.name).toBe(`cutover-parity-listings-${configStamp(config, { image: 'reg/cutover:1', imagePullPolicy: 'Never', nodeSelector: { n: '1' }, tolerations: [{ key: 't', operator: 'Exists' }] })}`);
    expect(d.spec.strategy.type).toBe('Recreate');
    const c = d.spec.template.spec.containers[0]!;
    expect(c.image).toBe('reg/cutover:1');
    expect(c.command).toContain('dist/comparator-main.mjs');
    expect(c.args).toEqual(expect.arrayContaining(['--summary-configmap', 'shop/cutover-parity-listings']));
    expect(JSON.parse(c.env.find((e) => e.name === 'CUTOVER_PARITY_CONFIG_JSON')!.value!)).toEqual(config);
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(d.spec.template.spec.nodeSelector).toEqual({ n: '1' });
    expect(d.spec.template.spec.serviceAccountName).toBe('cutover-parity-listings');
  });
});

const answer = (body: unknown, status = 200): Answer => ({ status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), length: 1, sha256: 'x' });

describe('status.parity from the summary ConfigMap', () => {
  it('counts, verdict, endpoints and redacted samples; valid for the CRD schema', () => {
    const s = emptySummary('2026-11-22T10:00:00.123Z');
    for (let i = 0; i < 3; i++) {
      const raw = compareAnswers(answer({ price: 10, email: 'a@b.c' }), answer({ price: i === 0 ? 11 : 10, email: 'x@y.z' }));
      recordComparison(s, { endpoint: 'GET /listings/:id', raw, sample: (d) => ({ at: `2026-11-22T10:00:0${i}.5Z`, request: { method: 'GET', path: `/listings/${i}`, headers: {} }, legacy: { status: 200, headers: {} }, candidate: { status: 200, headers: {} }, difference: `${d.field}: …` }) }, '2026-11-22T10:00:03.000Z');
    }
    recordSkip(s, 'method', '2026-11-22T10:00:04.000Z');
    const observed = readSummaryData({ 'summary.json': JSON.stringify(s), 'state.json': JSON.stringify({ breakerOpen: true, breakerReason: '5 of 10 failed', at: 'x' }) });
    const v = parityVerdict(parity, observed.summary);
    const st = parityStatus(parity, observed, v, 'cutover-parity-listings');
    expect(ParityStatusSchema.safeParse(st).success).toBe(true);
    expect(st).toMatchObject({ compared: 3, result: 'Fail', breaker: '5 of 10 failed', skipped: [{ reason: 'method', count: 1 }], updatedAt: '2026-11-22T10:00:04Z' });
    expect(st.samples?.map((x) => x.difference)).toContain('$.email: [redacted]');
    expect(st.samples?.every((x) => !/\.\d+Z$/.test(x.at))).toBe(true);
    expect(parityResult(v)).toMatchObject({ name: 'parity', result: 'Fail' });
  });

  it('no summary yet, or one of another version: Inconclusive, never Pass', () => {
    expect(parityVerdict(parity, readSummaryData(undefined).summary).result).toBe('Inconclusive');
    const other = readSummaryData({ 'summary.json': JSON.stringify({ version: 99, endpoints: {} }) });
    expect(other.summary).toBeUndefined();
    expect(other.unreadable).toContain('version 99');
  });
});
