// The statistical judge end to end (issue 16): the operator as a separate process, the real API
// server, real backends behind the gateway, the real Prometheus answering range queries. A new
// service as fast as the legacy one completes; one 100 ms slower at p50 is rolled back by the
// judge, with the estimate and interval in the reason and in status.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, kubectlOk, promQuery, testbed, uniqueName } from '../helpers/cluster.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { createScenario, shiftYaml, waitPhase, type Scenario, type ShiftObject } from '../helpers/scenario.ts';

let operator: OperatorProcess;
const scenarios: Scenario[] = [];
const NS: Record<string, string> = Object.fromEntries(['judge-healthy', 'judge-slow'].map((p) => [p, uniqueName(p)]));

beforeAll(async () => {
  operator = await startOperator(testbed(), { name: 'judge', namespaces: Object.values(NS) });
});

afterAll(async () => {
  await operator?.stop();
  for (const s of scenarios) await s.cleanup();
});

async function scenario(opts: Parameters<typeof createScenario>[0]): Promise<Scenario> {
  const s = await createScenario({ ...opts, ns: NS[opts.prefix] });
  scenarios.push(s);
  return s;
}

// Points one step apart over rate windows as long as the step (Prometheus scrapes every 1 s here):
// neighbours share little data, so the judge's serial-correlation correction costs little. The
// legacy has been serving since before the shift, so its sample reaches further back.
const p50 = (service: string) => `histogram_quantile(0.5, sum(rate(http_request_duration_seconds_bucket{namespace="{{namespace}}",service="{{${service}.service}}"}[5s])) by (le))`;
const JUDGED = `      - name: p50-judged
        prometheus:
          query: '${p50('canary')}'
          baselineQuery: '${p50('stable')}'
        judge: {window: 1m, baselineWindow: 2m, step: 5s, confidence: 0.98, direction: increase, allowedIncrease: 1.1}`;

type JudgedShift = Omit<ShiftObject, 'status'> & {
  status?: Omit<NonNullable<ShiftObject['status']>, 'analysis'> & {
    analysis?: { score?: number; lastResults?: Array<{ name: string; result: string; judge?: { classification: string; estimate: number; lower: number; upper: number; pValue: number; meanRatio?: number; samples: number; baselineSamples: number; effectiveSamples?: number; serialCorrelation?: number; score?: number } }> };
  };
};

describe('statistical judge end to end', () => {
  it('a new service as fast as the legacy one: Completed, the judge passing with its numbers in status', async () => {
    const s = await scenario({ prefix: 'judge-healthy' });
    const load = s.startLoad(40);
    // The legacy serves before the cutover starts, as it would: wait until Prometheus holds 30 s of
    // its p50 (6 points at the judge's step), so that its 2-minute baseline outnumbers the new side.
    const legacyP50 = p50('stable').replaceAll('{{namespace}}', s.ns).replaceAll('{{stable.service}}', s.stable);
    await eventually('30 s of the legacy p50 in Prometheus', async () => {
      const [r] = await promQuery(`count_over_time((${legacyP50})[2m:5s])`);
      return (r?.value ?? 0) >= 6;
    }, 120_000, 1_000);
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'listings-read', { steps: [[10, '20s'], [100, '10s']], inconclusiveLimit: 30, metrics: JUDGED }));
    const done = await waitPhase(s, 'listings-read', ['Completed', 'RolledBack', 'Failed'], 180_000);
    await load.stop();
    expect(done.status?.phase, JSON.stringify(done.status)).toBe('Completed');
    const shift = await s.shift<JudgedShift>('listings-read');
    const r = shift.status?.analysis?.lastResults?.find((x) => x.name === 'p50-judged');
    expect(r?.result).toBe('Pass');
    expect(r?.judge?.classification).toBe('Pass');
    expect(r?.judge?.samples).toBeGreaterThanOrEqual(5);
    expect(r?.judge?.baselineSamples).toBeGreaterThan(r!.judge!.samples);
    expect(r?.judge?.effectiveSamples).toBeGreaterThan(0);
    expect(r?.judge?.effectiveSamples).toBeLessThanOrEqual(r!.judge!.samples);
    expect(shift.status?.analysis?.score).toBe(100);
  });

  it('a new service 100 ms slower: RolledBack by the judge, estimate and interval in the reason', async () => {
    const s = await scenario({ prefix: 'judge-slow', canary: { latencyMs: 100 } });
    const load = s.startLoad(40);
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'listings-read', { steps: [[10, '60s'], [100, '60s']], inconclusiveLimit: 30, metrics: JUDGED }));
    const done = await waitPhase(s, 'listings-read', ['RolledBack', 'Completed', 'Failed'], 180_000);
    await load.stop();
    expect(done.status?.phase, JSON.stringify(done.status)).toBe('RolledBack');
    expect(done.status?.rollback?.trigger).toBe('Metric');
    expect(done.status?.rollback?.reason).toMatch(/p50-judged new is higher than legacy: shift \+0\.\d+ \[98% CI \+0\.\d+, \+0\.\d+\], p=[\d.e-]+, mean ratio [\d.]+x, \d+ vs \d+ samples( \(serial correlation [\d.]+: worth [\d.]+ vs [\d.]+ independent\))? > allowed 1\.1x/);
    expect(await s.routeWeights()).toEqual({ [s.stable]: 100, [s.canary]: 0 });
    const shift = await s.shift<JudgedShift>('listings-read');
    const j = shift.status?.analysis?.lastResults?.find((x) => x.name === 'p50-judged')?.judge;
    expect(j?.classification).toBe('High');
    expect(j!.lower).toBeGreaterThan(0);
    expect(j!.estimate).toBeGreaterThan(0.05);
    expect(j!.pValue).toBeLessThan(0.02);
    // The same findings as Prometheus metrics on the operator's /metrics.
    const metrics = await (await fetch(`${operator.url}/metrics`)).text();
    const prefix = `cutover_analysis_judge{kind="TrafficShift",namespace="${s.ns}",name="listings-read",metric="p50-judged"`;
    expect(metrics).toContain(`${prefix},stat="high"} 1`);
    expect(metrics).toMatch(new RegExp(`${prefix.replace(/[{}.]/g, '\\$&')},stat="estimate"\\} 0\\.\\d+`));
    expect(metrics).toContain('cutover_analysis_metric_threshold{kind="TrafficShift",namespace="' + s.ns + '",name="listings-read",metric="p50-judged",bound="allowedIncrease"} 1.1');
  });
});
