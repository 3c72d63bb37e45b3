// A TrafficShift gated by a web check, end to end: the operator as a separate process on the host
// (test/helpers/operator.ts spawns `node operator/src/main.ts`), so a verification service on
// 127.0.0.1 is reachable from it; the real API server holds the Secret the check authenticates with.
// The service plays the playbook's "no-regression v1↔v2" script: it answers the delta of v2 vs v1.
//   - small delta: the shift completes; every call carried the Secret's token;
//   - large delta: rolled back by Metric, the failing value in the rollback reason, weights back;
//   - the Secret missing: Stalled naming the check, nothing promoted; created: the shift completes;
//   - the token is in no status, Event or log line; /metrics shows the check's value, threshold, result.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRAFFIC_SHIFT } from '../../operator/src/kube/resources.ts';
import { eventually, getJson, kubectlOk, sleep, testbed, uniqueName } from '../helpers/cluster.ts';
import { json, startCheckServer, type CheckServer } from '../helpers/check-server.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { createScenario, shiftYaml, waitPhase, type Scenario, type ShiftObject } from '../helpers/scenario.ts';
import { reconcileOnceMore } from '../helpers/watch.ts';

const TOKEN = `wc-${Math.random().toString(36).slice(2, 14)}`;
const NS = { small: uniqueName('wc-small'), large: uniqueName('wc-large'), nosecret: uniqueName('wc-nosecret') };
/** The delta v2 vs v1 the verification service reports, per namespace. */
const DELTA: Record<string, number> = { [NS.small]: 0.012, [NS.large]: 0.31, [NS.nosecret]: 0.01 };

let operator: OperatorProcess;
let checks: CheckServer;
const scenarios: Scenario[] = [];

beforeAll(async () => {
  checks = await startCheckServer((req) => {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return json({ error: 'unauthorised' }, 401);
    const ns = /^\/compare\/([^/?]+)\?/.exec(req.url)?.[1] ?? '';
    return DELTA[ns] === undefined ? json({ error: 'unknown' }, 404) : json({ cohorts: 12, v1: { mean: 100 }, v2: { mean: 100 * (1 + DELTA[ns]!) }, delta: DELTA[ns] });
  });
  operator = await startOperator(testbed(), { name: 'webcheck', namespaces: Object.values(NS) });
});

afterAll(async () => {
  await operator?.stop();
  await checks?.close();
  for (const s of scenarios) await s.cleanup();
});

const createSecret = (ns: string) => kubectlOk(['create', 'secret', 'generic', 'cohortlens-check', '-n', ns, `--from-literal=bearer=Bearer ${TOKEN}`]);

async function gatedShift(ns: string, o: { secret?: boolean } = {}): Promise<Scenario> {
  const s = await createScenario({ prefix: 'wc', ns });
  scenarios.push(s);
  if (o.secret !== false) await createSecret(ns);
  await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'cohortlens-v2', {
    steps: [[10, '3s'], [50, '3s'], [100, '3s']], interval: '1s', failureLimit: 2,
    metrics: `      - name: no-regression
        web:
          url: ${checks.url}/compare/{{namespace}}?new={{canary.service}}&old={{stable.service}}
          headers:
            - name: Authorization
              valueFrom: {secretKeyRef: {name: cohortlens-check, key: bearer}}
          jsonPath: $.delta
          timeout: 2s
          retries: 1
        max: 0.05`,
  }));
  return s;
}

/** Everything a user can read about the shift: its status and its Events, as JSON text. */
async function visible(ns: string): Promise<string> {
  const ts = await getJson(['get', 'trafficshift', 'cohortlens-v2', '-n', ns]);
  const events = await getJson(['get', 'events.events.k8s.io', '-n', ns]);
  return JSON.stringify([ts, events]);
}

describe('TrafficShift gated by a web check', () => {
  it('the service reports a small delta: 10 → 50 → 100, Completed', async () => {
    const s = await gatedShift(NS.small);
    const done = await waitPhase(s, 'cohortlens-v2', ['Completed', 'RolledBack', 'Failed'], 90_000);
    expect(done.status?.phase, JSON.stringify(done.status)).toBe('Completed');
    expect(await s.routeWeights()).toEqual({ [s.stable]: 0, [s.canary]: 100 });
    const mine = checks.requests.filter((r) => r.url.startsWith(`/compare/${NS.small}?`));
    expect(mine.length).toBeGreaterThanOrEqual(3); // at least one passing check per step
    expect(mine[0]?.url).toBe(`/compare/${NS.small}?new=${s.canary}&old=${s.stable}`);
    expect(mine.every((r) => r.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(done.status?.analysis?.lastResults?.[0]).toMatchObject({ name: 'no-regression', result: 'Pass', value: 0.012 });
    expect(await visible(NS.small)).not.toContain(TOKEN);
  });

  it('the service reports a large delta: RolledBack by Metric at the first step, the value in the reason', async () => {
    const s = await gatedShift(NS.large);
    const done = await waitPhase(s, 'cohortlens-v2', ['Completed', 'RolledBack', 'Failed'], 90_000);
    expect(done.status?.phase, JSON.stringify(done.status)).toBe('RolledBack');
    expect(done.status?.rollback).toMatchObject({ trigger: 'Metric', reason: expect.stringContaining('no-regression 0.31 > 0.05') as unknown });
    expect(await s.routeWeights()).toEqual({ [s.stable]: 100, [s.canary]: 0 });
    expect(done.status?.analysis?.lastResults?.[0]).toMatchObject({ name: 'no-regression', result: 'Fail', value: 0.31 });
    expect(await visible(NS.large)).not.toContain(TOKEN);
  });

  it('the Secret is missing: Stalled naming the web check, no promotion; created, the shift goes on and completes', async () => {
    const s = await gatedShift(NS.nosecret, { secret: false });
    const stalledShift = await eventually('Stalled condition', async () => {
      const t = await s.shift<ShiftObject>('cohortlens-v2');
      return t.status?.conditions?.find((c) => c.type === 'Stalled' && c.status === 'True') ? t : undefined;
    }, 30_000);
    const stalled = stalledShift.status!.conditions!.find((c) => c.type === 'Stalled')!;
    expect(stalled.reason).toBe('QueryError');
    expect(stalled.message).toBe(`spec.analysis.metrics[0].web: the web check cannot run: no-regression: header Authorization: Secret ${NS.nosecret}/cohortlens-check has no key "bearer" (or does not exist)`);
    // Past the end of a first step's pause (3 s), if one started, and one more reconcile: still at the first one.
    const stepStartedAt = stalledShift.status?.stepStartedAt;
    if (stepStartedAt) await sleep(Date.parse(stepStartedAt) + 3000 - Date.now());
    await reconcileOnceMore(operator, 'trafficshift', TRAFFIC_SHIFT, NS.nosecret, 'cohortlens-v2');
    const held = await s.shift<ShiftObject>('cohortlens-v2');
    expect(held.status?.currentStep ?? 0).toBe(0);
    expect((await s.routeWeights())[s.canary]).toBeLessThanOrEqual(10);
    expect(checks.requests.filter((r) => r.url.startsWith(`/compare/${NS.nosecret}?`))).toEqual([]);

    await createSecret(NS.nosecret);
    const done = await waitPhase(s, 'cohortlens-v2', ['Completed', 'RolledBack', 'Failed'], 90_000);
    expect(done.status?.phase, JSON.stringify(done.status)).toBe('Completed');
    expect(done.status?.conditions?.find((c) => c.type === 'Stalled')).toBeUndefined();
  });

  it('/metrics shows each check’s value, threshold and result; the token is in no log line', async () => {
    const text = await (await fetch(`${operator.url}/metrics`)).text();
    const line = (name: string, labels: string) => new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(text)?.[1];
    const who = (ns: string) => `kind="TrafficShift",namespace="${ns}",name="cohortlens-v2",metric="no-regression"`;
    expect(line('cutover_analysis_metric_value', who(NS.small))).toBe('0.012');
    expect(line('cutover_analysis_metric_value', who(NS.large))).toBe('0.31');
    expect(line('cutover_analysis_metric_threshold', `${who(NS.large)},bound="max"`)).toBe('0.05');
    expect(line('cutover_analysis_metric_result', `${who(NS.large)},result="Fail"`)).toBe('1');
    expect(line('cutover_analysis_metric_result', `${who(NS.small)},result="Pass"`)).toBe('1');
    expect(Number(line('cutover_web_check_requests_total', 'code="200"'))).toBeGreaterThanOrEqual(5);
    const log = operator.logText();
    expect(log).toContain('no-regression'); // the log does speak of the check…
    expect(log).not.toContain(TOKEN); // …never of its Secret
  });
});
