// Alert hooks end to end: a real Prometheus alert rule on the new backend's error rate (as the
// gateway counts it) → the real Alertmanager, whose webhook receiver calls the operator with a
// bearer token → the operator rolls the TrafficShift back at once, even at 100% during the last
// step's pause. Plus what must NOT change anything: resolved alerts, repeated alerts, callers
// without the token.
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRAFFIC_SHIFT } from '../../operator/src/kube/resources.ts';
import { eventually, kubectlOk, testbed, uniqueName } from '../helpers/cluster.ts';
import { cutoverReceiverConfig } from '../helpers/alertmanager.ts';
import { startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { createScenario, ERROR_RATE_QUERY, recordWeights, render, shiftYaml, waitPhase, type Scenario, type ShiftObject } from '../helpers/scenario.ts';
import { reconcileOnceMore } from '../helpers/watch.ts';
import { setAlertmanagerConfig, setPrometheusRules } from '../testbed/testbed.ts';

const TOKEN = 'e2e-alertmanager-token-7f3a9c';
const ALERT = 'ListingsApiErrors';
let operator: OperatorProcess;
const scenarios: Scenario[] = [];
const ruleFiles: string[] = [];
const timings: Record<string, unknown> = {};
// The operator under test watches only these namespaces (other suites may run operators on the same testbed).
const NS: Record<string, string> = Object.fromEntries(['al-real', 'al-timed', 'al-noop'].map((p) => [p, uniqueName(p)]));

beforeAll(async () => {
  operator = await startOperator(testbed(), { name: 'alerts', namespaces: Object.values(NS), env: { CUTOVER_ALERTMANAGER_TOKEN: TOKEN } });
  await setAlertmanagerConfig(testbed(), cutoverReceiverConfig(`${operator.url}/hooks/alertmanager`, TOKEN));
});

afterAll(async () => {
  await operator?.stop();
  for (const f of ruleFiles) await setPrometheusRules(testbed(), f, null);
  for (const s of scenarios) await s.cleanup();
  mkdirSync('test/results', { recursive: true });
  writeFileSync('test/results/alert-to-stable.json', `${JSON.stringify({ test: 'alert-to-stable', ...timings }, null, 2)}\n`);
});

async function scenario(prefix: string): Promise<Scenario> {
  const s = await createScenario({ prefix, ns: NS[prefix] });
  scenarios.push(s);
  return s;
}

/** spec.rollback.alerts for the scenario: its namespace and the new service. */
function alertsYaml(s: Scenario): string {
  return `  rollback:
    alerts:
      - matchLabels: {namespace: ${s.ns}, service: ${s.canary}}`;
}

/** A lenient metric, so that only the alert can roll back (the trigger must be Alert, not Metric). */
const LENIENT = `      - name: error-rate
        prometheus:
          query: '${ERROR_RATE_QUERY}'
        max: 0.99`;

function payload(s: Scenario, status: 'firing' | 'resolved', fingerprint: string, startsAt: string): string {
  return JSON.stringify({
    version: '4', status, receiver: 'cutover', groupKey: `{}:{alertname="${ALERT}"}`, truncatedAlerts: 0,
    groupLabels: { alertname: ALERT }, commonLabels: {}, commonAnnotations: {}, externalURL: testbed().alertmanagerUrl,
    alerts: [{ status, labels: { alertname: ALERT, namespace: s.ns, service: s.canary, severity: 'page' }, annotations: {}, startsAt, endsAt: status === 'resolved' ? new Date().toISOString() : '0001-01-01T00:00:00Z', generatorURL: '', fingerprint }],
  });
}

function hook(body: string, token: string | undefined): Promise<Response> {
  return fetch(`${operator.url}/hooks/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body });
}

describe('Alertmanager → operator → stable', () => {
  it('a real alert on the new backend\'s error rate rolls back at 100% during the last step\'s pause (trigger Alert, alert name in the reason)', async () => {
    const info = testbed();
    const s = await scenario('al-real');
    const rule = `alerts-${s.ns}`;
    ruleFiles.push(rule);
    await setPrometheusRules(info, rule, `groups:
  - name: ${rule}
    rules:
      - alert: ${ALERT}
        expr: ${render(ERROR_RATE_QUERY, { namespace: s.ns, 'canary.service': s.canary })} > 0.05
        labels: {namespace: ${s.ns}, service: ${s.canary}, severity: page}
        annotations: {summary: "listings-api 5xx above 5%"}
`);
    const load = s.startLoad(50);
    const rec = recordWeights(s);
    await rec.ready;
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'listings-read', { steps: [[10, '2s'], [100, '10m']], metrics: LENIENT, extra: alertsYaml(s) }));
    await eventually('the last step (100%) in its pause', async () => {
      const ts = await s.shift<ShiftObject>('listings-read');
      return ts.status?.phase === 'Progressing' && ts.status.currentWeight === 100 && ts.status.currentStep === 1;
    }, 120_000);
    expect(await s.routeWeights()).toEqual({ [s.stable]: 0, [s.canary]: 100 });
    const faultAt = Date.now();
    await s.setCanary({ errorRate: 0.5 });
    const done = await waitPhase(s, 'listings-read', ['RolledBack', 'Completed', 'Failed'], 90_000);
    await rec.stop();
    await load.stop();
    await s.setCanary({ errorRate: 0 });

    expect(done.status?.phase).toBe('RolledBack');
    expect(done.status?.rollback?.trigger).toBe('Alert');
    expect(done.status?.rollback?.reason).toContain(ALERT);
    expect((done.status?.rollback as { alert?: string } | undefined)?.alert).toBe(ALERT);
    expect(done.status?.conditions?.find((c) => c.type === 'Degraded')?.reason).toBe('AlertFired');
    expect(await s.routeWeights()).toEqual({ [s.stable]: 100, [s.canary]: 0 });

    // The rollback as recorded on the object: requested (rollback.at), then the route written back
    // to stable (rollback.routeRestoredAt), both in status, at the API server's second precision.
    const rb = done.status!.rollback as { at: string; fromWeight?: number; routeRestoredAt?: string };
    expect(rb.fromWeight).toBe(100);
    expect(rb.routeRestoredAt).toBeDefined();
    expect(Date.parse(rb.routeRestoredAt!)).toBeGreaterThanOrEqual(Date.parse(rb.at));
    expect(Date.parse(rb.at)).toBeGreaterThanOrEqual(Math.floor(faultAt / 1000) * 1000);
    const seenAt = rec.changes.filter((c) => c.weight === 0).at(-1)?.at;
    timings.realAlertmanager = {
      faultInjectedAt: new Date(faultAt).toISOString(),
      rollbackRequestedAt: rb.at,
      routeRestoredAt: rb.routeRestoredAt,
      weightsSeenByPollAt: seenAt ? new Date(seenAt).toISOString() : null,
      faultToWeightsSeenMs: seenAt ? seenAt - faultAt : null,
      note: 'fault → rollback includes the 10 s rate window, rule evaluation (1 s), Alertmanager group_wait (1 s); the status stamps have second precision (hook → weights in milliseconds: hookCall below)',
    };
    console.log(`fault → stable weights seen by polling: ${String((timings.realAlertmanager as { faultToWeightsSeenMs: number | null }).faultToWeightsSeenMs)} ms`);

    // Alertmanager's own view: the alert fired for this namespace.
    const alerts = await (await fetch(`${info.alertmanagerUrl}/api/v2/alerts?filter=namespace%3D%22${s.ns}%22`)).json() as Array<{ labels: Record<string, string>; fingerprint: string; startsAt: string }>;
    const fired = alerts.find((a) => a.labels.alertname === ALERT);
    expect(fired).toBeDefined();

    // The same alert delivered again (Alertmanager re-sends on repeat_interval, or after a restart
    // of the hook): nothing more happens.
    const before = await s.shift<ShiftObject & { metadata: { resourceVersion: string } }>('listings-read');
    const again = await hook(payload(s, 'firing', fired!.fingerprint, fired!.startsAt), TOKEN);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ rolledBack: [] });
    // One more reconcile (which would act on a rollback the hook had recorded): nothing written
    // since before the second delivery but the test's own touch.
    const [touched] = await reconcileOnceMore(operator, 'trafficshift', TRAFFIC_SHIFT, s.ns, 'listings-read');
    const after = await s.shift<ShiftObject & { metadata: { resourceVersion: string } }>('listings-read');
    expect(after.metadata.resourceVersion).toBe(touched);
    expect(after.status).toEqual(before.status);
  });

  it('the hook measured from the caller: POST of the Alertmanager payload → 200 after the weights are back at stable', async () => {
    const s = await scenario('al-timed');
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'listings-read', { steps: [[10, '10m'], [100, '10m']], metrics: LENIENT, extra: alertsYaml(s) }));
    await eventually('first step', async () => (await s.shift<ShiftObject>('listings-read')).status?.currentWeight === 10, 60_000);
    const samples: number[] = [];
    const t0 = performance.now();
    const r = await hook(payload(s, 'firing', 'timed-1', new Date().toISOString()), TOKEN);
    const tookMs = performance.now() - t0;
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ rolledBack: [`${s.ns}/listings-read`] });
    // The answer comes after the route write returned: the API server already has stable 100%.
    expect(await s.routeWeights()).toEqual({ [s.stable]: 100, [s.canary]: 0 });
    samples.push(tookMs);
    const ts = await s.shift<ShiftObject>('listings-read');
    expect(ts.status?.phase).toBe('RolledBack');
    expect(ts.status?.rollback?.trigger).toBe('Alert');
    expect(ts.status?.rollback?.reason).toBe(`alert ${ALERT} firing`);
    timings.hookCall = { postToResponseWithWeightsAtStableMs: Math.round(tookMs * 10) / 10, note: 'one shift, idle operator; the response is sent after the route apply returned' };
  });
});

describe('what changes nothing', () => {
  let s: Scenario;
  beforeAll(async () => {
    s = await scenario('al-noop');
    s.startLoad(20, 300); // analysis needs traffic: without it the shift would pause on "no data"
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(s, 'listings-read', { steps: [[10, '10m'], [100, '10m']], metrics: LENIENT, extra: alertsYaml(s) }));
    await eventually('first step', async () => (await s.shift<ShiftObject>('listings-read')).status?.currentWeight === 10, 60_000);
  });

  async function unchanged(): Promise<void> {
    // One more reconcile: it would carry out a rollback the hook had recorded on the object.
    await reconcileOnceMore(operator, 'trafficshift', TRAFFIC_SHIFT, s.ns, 'listings-read');
    const ts = await s.shift<ShiftObject>('listings-read');
    expect(ts.status?.phase).toBe('Progressing');
    expect(ts.status?.currentWeight).toBe(10);
    expect(ts.status?.rollback).toBeUndefined();
    expect(await s.routeWeights()).toEqual({ [s.stable]: 90, [s.canary]: 10 });
  }

  it('a resolved alert', async () => {
    const r = await hook(payload(s, 'resolved', 'noop-1', new Date(Date.now() - 60_000).toISOString()), TOKEN);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ rolledBack: [] });
    await unchanged();
  });

  it.each([
    ['no token', undefined],
    ['a wrong token', 'not-the-token'],
  ])('a matching firing alert with %s: 401', async (_what, token) => {
    const r = await hook(payload(s, 'firing', `noop-${String(token)}`, new Date().toISOString()), token);
    expect(r.status).toBe(401);
    await unchanged();
  });

  it('a firing alert for another service', async () => {
    const body = payload(s, 'firing', 'noop-other', new Date().toISOString()).replaceAll(`"service":"${s.canary}"`, '"service":"somebody-else"');
    const r = await hook(body, TOKEN);
    expect(r.status).toBe(200);
    await unchanged();
  });

  it('malformed JSON: 400 with a reason', async () => {
    const r = await hook('{"alerts": [', TOKEN);
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: string }).error).toMatch(/malformed JSON/);
    await unchanged();
  });
});
