// Every check's value, threshold and verdict on /metrics, for web checks as for Prometheus queries
// (the metrics key on the check's name, whatever measured it).
import { describe, expect, it } from 'vitest';
import { evaluateMetric } from '../../../operator/src/analysis/evaluate.ts';
import type { ShadowRunSpec } from '../../../operator/src/api/shadowrun.ts';
import type { TrafficShiftSpec } from '../../../operator/src/api/trafficshift.ts';
import { WebCheckSchema } from '../../../operator/src/api/webcheck.ts';
import { ShadowMetrics } from '../../../operator/src/controllers/shadowrun/metrics.ts';
import { ShiftMetrics } from '../../../operator/src/controllers/trafficshift/metrics.ts';
import { Registry } from '../../../operator/src/runtime/metrics.ts';

const web = WebCheckSchema.parse({ url: 'http://check.shop:8080/compare', jsonPath: '$.delta' });
const metric = { name: 'no-regression', web, min: -0.05, max: 0.05 };

async function series(registry: Registry, name: string) {
  return (await registry.getSingleMetric(name)!.get()).values.map((v) => ({ ...v.labels, value: v.value }));
}

describe('analysis metrics of a web check', () => {
  it('TrafficShift: value, thresholds and the current result', async () => {
    const registry = new Registry();
    const m = new ShiftMetrics(registry);
    const spec = { analysis: { metrics: [metric] } } as unknown as TrafficShiftSpec;
    const failed = evaluateMetric(metric, { value: { kind: 'value', value: 0.12 } });
    m.observe('shop', 'cohortlens-v2', { phase: 'Progressing' }, [failed], spec);
    const who = { kind: 'TrafficShift', namespace: 'shop', name: 'cohortlens-v2', metric: 'no-regression' };
    expect(await series(registry, 'cutover_analysis_metric_value')).toEqual([{ ...who, value: 0.12 }]);
    expect(await series(registry, 'cutover_analysis_metric_threshold')).toEqual([{ ...who, bound: 'min', value: -0.05 }, { ...who, bound: 'max', value: 0.05 }]);
    expect(await series(registry, 'cutover_analysis_metric_result')).toEqual([
      { ...who, result: 'Pass', value: 0 }, { ...who, result: 'Fail', value: 1 }, { ...who, result: 'Inconclusive', value: 0 },
    ]);
    expect(await series(registry, 'cutover_analysis_results_total')).toEqual([{ ...who, result: 'Fail', value: 1 }]);

    // The next run is inconclusive (the check's server answered 500): the state follows.
    m.observe('shop', 'cohortlens-v2', { phase: 'Progressing' }, [evaluateMetric(metric, { value: { kind: 'inconclusive', reason: 'HTTP 500' } })], spec);
    expect((await series(registry, 'cutover_analysis_metric_result')).filter((s) => s.value === 1)).toEqual([{ ...who, result: 'Inconclusive', value: 1 }]);
  });

  it('ShadowRun: thresholds (maxDiffPoints too) and the current result', async () => {
    const registry = new Registry();
    const m = new ShadowMetrics(registry);
    const spec = { analysis: { metrics: [metric, { name: 'errors', prometheus: { query: 'q', baselineQuery: 'b' }, maxDiffPoints: 0.5 }] } } as unknown as ShadowRunSpec;
    m.observe('shop', 'search', { phase: 'Running' }, [evaluateMetric(metric, { value: { kind: 'value', value: 0.01 } })], spec);
    const who = { kind: 'ShadowRun', namespace: 'shop', name: 'search' };
    expect(await series(registry, 'cutover_analysis_metric_threshold')).toEqual([
      { ...who, metric: 'no-regression', bound: 'min', value: -0.05 }, { ...who, metric: 'no-regression', bound: 'max', value: 0.05 },
      { ...who, metric: 'errors', bound: 'maxDiffPoints', value: 0.5 },
    ]);
    expect((await series(registry, 'cutover_analysis_metric_result')).filter((s) => s.value === 1)).toEqual([{ ...who, metric: 'no-regression', result: 'Pass', value: 1 }]);
    expect(await series(registry, 'cutover_shadow_metric_value')).toEqual([{ namespace: 'shop', name: 'search', metric: 'no-regression', side: 'shadow', value: 0.01 }]);
  });

  it('phase and conditions as state sets on the page, and a deleted shift leaves none of its series', async () => {
    const registry = new Registry();
    const m = new ShiftMetrics(registry);
    const spec = { analysis: { metrics: [metric] } } as unknown as TrafficShiftSpec;
    const status = { phase: 'Progressing', currentWeight: 10, conditions: [{ type: 'Ready', status: 'True' }, { type: 'Stalled', status: 'False' }] } as never;
    m.observe('shop', 'a', status, [evaluateMetric(metric, { value: { kind: 'value', value: 0.01 } })], spec);
    m.observe('shop', 'b', status, [evaluateMetric(metric, { value: { kind: 'value', value: 0.01 } })], spec);
    m.rollback('shop', 'a', 'analysis');
    const page = await registry.metrics();
    expect(page).toContain('cutover_resource_phase{kind="TrafficShift",namespace="shop",name="a",phase="Progressing"} 1');
    expect(page).toContain('cutover_resource_phase{kind="TrafficShift",namespace="shop",name="a",phase="Completed"} 0');
    expect(page).toContain('cutover_resource_condition{kind="TrafficShift",namespace="shop",name="a",type="Stalled",status="False"} 1');
    expect(page).toContain('cutover_resource_condition{kind="TrafficShift",namespace="shop",name="a",type="Stalled",status="True"} 0');
    m.observe('shop', 'a', { ...(status as object), phase: 'RolledBack' } as never, undefined, spec);
    expect((await series(registry, 'cutover_resource_phase')).filter((x) => (x as { name?: string }).name === 'a' && x.value === 1)).toEqual([{ kind: 'TrafficShift', namespace: 'shop', name: 'a', phase: 'RolledBack', value: 1 }]);

    m.forget('shop', 'a');
    await new Promise((r) => setImmediate(r));
    const after = await registry.metrics();
    expect(after).not.toMatch(/name="a"/);
    expect(after).toContain('cutover_resource_phase{kind="TrafficShift",namespace="shop",name="b",phase="Progressing"} 1');
    expect(after).toContain('cutover_analysis_metric_value{kind="TrafficShift",namespace="shop",name="b",metric="no-regression"} 0.01');
  });
});
