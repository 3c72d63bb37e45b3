// `kubectl cutover dashboard` in a real browser: Debian's headless Chromium driven by playwright-core
// (never a downloaded browser), against the dashboard run by the real kubectl as a plugin, the
// operator, the gateway splitting real requests and the real Prometheus.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, getJson, kubectl, kubectlOk, testbed, uniqueName } from '../helpers/cluster.ts';
import { impersonatingKubeconfig, startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { createScenario, ERROR_RATE_QUERY, shiftYaml, waitPhase, type Scenario, type ShiftObject } from '../helpers/scenario.ts';
import { applyWorkers, workersYaml } from '../helpers/workers.ts';
import { ensureChromium, REPO_ROOT } from '../testbed/paths.ts';
import { freePort, killPid } from '../testbed/procs.ts';

const NS = { faulty: uniqueName('dash-faulty'), moving: uniqueName('dash-moving'), live: uniqueName('dash-live') };
const viewer = uniqueName('dash-viewer');
const SHOTS = join(REPO_ROOT, 'docs', 'screenshots');
const LENIENT = `      - name: error-rate
        prometheus:
          query: '${ERROR_RATE_QUERY}'
        max: 0.5`;

let operator: OperatorProcess;
let pluginDir: string;
let userDataDir: string;
let browser: BrowserContext;
const scenarios: Record<string, Scenario> = {};
const dashboards: ChildProcessWithoutNullStreams[] = [];
let adminUrl: string;
/** Uncaught errors in any page: each test ends by asserting there were none. */
const pageErrors: string[] = [];

/** `kubectl cutover dashboard` as a user runs it; resolves the URL it prints. */
async function startDashboard(kubeconfig: string, extraArgs: string[] = [], env: Record<string, string> = {}): Promise<string> {
  const port = await freePort();
  const child = spawn('kubectl', ['cutover', 'dashboard', '--port', String(port), '--prometheus-url', testbed().prometheusUrl, ...extraArgs], {
    env: { ...process.env, PATH: `${testbed().binDir}:${pluginDir}:${process.env.PATH ?? ''}`, KUBECONFIG: kubeconfig, ...env },
  });
  dashboards.push(child);
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
  return eventually(`the dashboard prints its URL (output so far: ${out})`, async () => {
    if (child.exitCode !== null) throw new Error(`dashboard exited ${child.exitCode}: ${out}`);
    return /Cutover dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1];
  }, 60_000, 100);
}

async function open(url: string): Promise<Page> {
  const page = await browser.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${page.url()}: ${err.message}`));
  await page.goto(url);
  return page;
}

type FaultyShift = ShiftObject & { status?: { workers?: Array<{ scaledAt?: string }>; rollback?: { trigger: string; reason: string; at: string; workersRestoredAt?: string } } };
const faultyShift = () => scenarios.faulty!.shift<FaultyShift>('checkout');

const rowKeys = async (page: Page): Promise<Array<{ key: string; group: string }>> => {
  const rows = page.getByTestId('row');
  return Promise.all((await rows.all()).map(async (r) => ({ key: (await r.getAttribute('data-key'))!, group: (await r.getAttribute('data-group'))! })));
};

beforeAll(async () => {
  const executablePath = await ensureChromium();
  pluginDir = mkdtempSync(join(tmpdir(), 'cutover-plugin-'));
  symlinkSync(join(REPO_ROOT, 'operator', 'bin', 'kubectl-cutover.js'), join(pluginDir, 'kubectl-cutover'));
  userDataDir = mkdtempSync(join(tmpdir(), 'cutover-chromium-'));
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath, headless: true, viewport: { width: 1366, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  operator = await startOperator(testbed(), { name: 'dashboard', namespaces: Object.values(NS) });
  adminUrl = await startDashboard(testbed().kubeconfig);
  // A faulty new service (30% errors): rolled back by the error-rate check. A healthy one held at 10%.
  const [faulty, moving] = await Promise.all([
    createScenario({ prefix: 'dash-faulty', ns: NS.faulty, canary: { errorRate: 0.3 } }),
    createScenario({ prefix: 'dash-moving', ns: NS.moving }),
  ]);
  scenarios.faulty = faulty;
  scenarios.moving = moving;
  faulty.startLoad(40, 600);
  moving.startLoad(20, 600);
  // The faulty shift scales a worker first (score-worker 0 → 3, restored on rollback): marked on its time axis.
  await applyWorkers(faulty.ns);
  await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(faulty, 'checkout', { steps: [[10, '60s'], [50, '60s'], [100, '60s']], extra: workersYaml }));
  await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(moving, 'listings', { steps: [[10, '30m'], [50, '30m'], [100, '30m']], metrics: LENIENT }));
  await waitPhase(faulty, 'checkout', ['RolledBack']);
  await eventually('the moving shift at its first step', async () => (await moving.shift<ShiftObject>('listings')).status?.currentWeight === 10, 60_000);
}, 600_000);

afterAll(async () => {
  await browser?.close();
  for (const d of dashboards) if (d.pid) await killPid(d.pid, 5000);
  await operator?.stop();
  for (const s of Object.values(scenarios)) await s.cleanup();
  await kubectl(['delete', 'clusterrole,clusterrolebinding', viewer, '--ignore-not-found']);
  if (pluginDir) rmSync(pluginDir, { recursive: true, force: true });
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

describe('kubectl cutover dashboard', () => {
  afterEach(() => { expect(pageErrors).toEqual([]); });

  it('a moving shift\'s weight changes on screen within 2 s of its status change', async () => {
    // The page is open before the shift exists: it appears, then follows every step, from the stream.
    const page = await open(`${adminUrl}c/TrafficShift/${NS.live}/listings`);
    await page.getByText('does not exist').waitFor();
    // In the page (a string: this file is compiled without the DOM's types): each new weight text and when it appeared.
    await page.evaluate(`(() => {
      const seen = [];
      window.weights = seen;
      new MutationObserver(() => {
        const text = document.querySelector('[data-testid=weight]')?.textContent ?? '';
        if (text && seen.at(-1)?.text !== text) seen.push({ text, at: Date.now() });
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    })()`);
    const live = await createScenario({ prefix: 'dash-live', ns: NS.live });
    scenarios.live = live;
    live.startLoad(20, 300);
    await kubectlOk(['apply', '--server-side', '-f', '-'], shiftYaml(live, 'listings', { steps: [[10, '4s'], [50, '4s'], [100, '4s']], metrics: LENIENT }));
    // The status changes as the API server's watch delivers them, with the time each arrived.
    const watch = spawn('kubectl', ['--kubeconfig', testbed().kubeconfig, 'get', 'trafficshift', 'listings', '-n', NS.live, '--watch', '-o', 'jsonpath={.status.currentWeight} {.status.phase}{"\\n"}'], { env: { ...process.env, PATH: `${testbed().binDir}:${process.env.PATH ?? ''}` } });
    const statusChanges: Array<{ weight: number; at: number }> = [];
    let buf = '';
    watch.stdout.on('data', (c: Buffer) => {
      const at = Date.now();
      buf += c.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const [w] = buf.slice(0, i).trim().split(' ');
        buf = buf.slice(i + 1);
        if (w && Number(w) !== statusChanges.at(-1)?.weight) statusChanges.push({ weight: Number(w), at });
      }
    });
    try {
      await waitPhase(live, 'listings', ['Completed', 'RolledBack', 'Failed']);
      await page.locator('[data-testid=weight]', { hasText: '100%' }).waitFor();
    } finally {
      watch.kill();
    }
    expect((await live.shift<ShiftObject>('listings')).status?.phase).toBe('Completed');
    const onScreen = await page.evaluate('window.weights') as Array<{ text: string; at: number }>;
    const lags: Record<number, number> = {};
    for (const w of [50, 100]) {
      const changed = statusChanges.find((c) => c.weight === w);
      const shown = onScreen.find((s) => s.text === `${w}%`);
      expect(changed, `status reached ${w}% (watch saw ${JSON.stringify(statusChanges)})`).toBeDefined();
      expect(shown, `the page showed ${w}% (page saw ${JSON.stringify(onScreen)})`).toBeDefined();
      lags[w] = shown!.at - changed!.at;
    }
    console.log(`status change → on screen: ${JSON.stringify(lags)} ms`);
    for (const lag of Object.values(lags)) expect(lag).toBeLessThan(2000);
    // The steps timeline shows all three done; the weight chart is drawn.
    expect(await page.locator('[data-testid=steps] li.done').count()).toBe(3);
    await expect.poll(() => page.locator('[data-testid=weight-chart] canvas').count()).toBeGreaterThan(0);
    await page.close();
  });

  it('the overview lists the seeded cutovers of every namespace, the rolled-back one first', async () => {
    const page = await open(adminUrl);
    const keys = { faulty: `TrafficShift/${NS.faulty}/checkout`, moving: `TrafficShift/${NS.moving}/listings`, live: `TrafficShift/${NS.live}/listings` };
    // First of all, unfiltered: the rolled-back one.
    await eventually('the rolled-back shift first', async () => (await rowKeys(page))[0]?.key === keys.faulty, 20_000, 100);
    // The shared testbed may hold others' cutovers, and each group renders only the rows near the
    // viewport: the order of the three is checked among the seeded namespaces.
    await page.getByTestId('search').fill('dash-');
    await eventually('all three rows', async () => {
      const rows = await rowKeys(page);
      return Object.values(keys).every((k) => rows.some((r) => r.key === k));
    }, 20_000, 100);
    const rows = await rowKeys(page);
    const at = (k: string) => rows.findIndex((r) => r.key === k);
    expect(rows[0]).toEqual({ key: keys.faulty, group: 'attention' });
    expect(rows[at(keys.moving)]!.group).toBe('moving');
    expect(rows[at(keys.live)]!.group).toBe('done');
    expect(at(keys.faulty)).toBeLessThan(at(keys.moving));
    expect(at(keys.moving)).toBeLessThan(at(keys.live));
    const faultyRow = page.locator(`[data-key="${keys.faulty}"]`);
    await expect.poll(() => faultyRow.textContent()).toMatch(/RolledBack.*ago/);
    // Search narrows to the seeded namespaces (the shared testbed may hold others').
    await page.getByTestId('search').fill('dash-');
    await expect.poll(async () => (await rowKeys(page)).every((r) => r.key.includes('/dash-'))).toBe(true);
    await page.getByTestId('search').fill(NS.moving);
    await expect.poll(async () => (await rowKeys(page)).map((r) => r.key)).toEqual([keys.moving]);
    await page.getByTestId('search').fill('dash-');
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, 'dashboard-overview.png'), fullPage: true });
    await page.close();
  });

  it('a faulty shift\'s page: the rollback card with the failing value and the restore order; the metric chart with its threshold line and the analysis results', async () => {
    const page = await open(`${adminUrl}c/TrafficShift/${NS.faulty}/checkout`);
    const card = page.getByTestId('rollback-card');
    await card.waitFor();
    expect(await page.getByTestId('rollback-trigger').textContent()).toBe('Metric');
    expect(await page.getByTestId('rollback-reason').textContent()).toMatch(/^error-rate 0\.\d+ > 0\.05/);
    expect(await page.getByTestId('rollback-failing').first().textContent()).toMatch(/^error-rate = 0\.\d+ against <= 0\.05/);
    const order = await page.getByTestId('restore-order').locator('li').allTextContents();
    expect(order[0]).toMatch(/^route to stable at /);
    expect(order.at(-1)).toMatch(/^rollback complete at /);
    // The metric chart: the series from Prometheus (the same rendered query), the threshold line, the result points.
    const chart = page.locator('[data-testid=metric-chart][data-metric=error-rate]');
    await expect.poll(() => chart.getAttribute('data-samples'), { timeout: 20_000 }).not.toBe('0');
    expect(await chart.getAttribute('data-threshold')).toBe('0.05');
    expect(Number(await chart.getAttribute('data-fail'))).toBeGreaterThanOrEqual(2); // failureLimit 2: the two failures that rolled it back
    const legend = await chart.locator('.u-legend').textContent();
    expect(legend).toContain('threshold ≤ 0.05');
    expect(legend).toContain('fail');
    expect(await page.locator('.query code').first().textContent()).toContain(`namespace="${NS.faulty}",service="listings-api"`);
    // The weight chart: desired and observed weight over time (the route, watched, went 0 → 10 → 0),
    // with the worker scaled, the rollback instant and the workers restored marked on the same axis.
    const weightChart = page.getByTestId('weight-chart');
    expect(await weightChart.getAttribute('data-rollback-at')).not.toBe('');
    await expect.poll(() => weightChart.getAttribute('data-observed-weights')).toBe('0,10,0');
    const marks = page.getByTestId('weight-marks').locator('li');
    const markTexts = async () => Promise.all((await marks.all()).map(async (m) => `${await m.getAttribute('data-kind')}: ${(await m.textContent())!.replace(/^[\d:]+ \w+ /, '')}`));
    await expect.poll(markTexts).toEqual(['workers: score-worker 0→3', 'rollback: rollback (Metric)', 'workers: workers restored: score-worker→0']);
    const times = await Promise.all((await marks.all()).map(async (m) => Number(await m.getAttribute('data-t'))));
    const shift = await faultyShift();
    expect(times).toEqual([Date.parse(shift.status!.workers![0]!.scaledAt as string), Date.parse(shift.status!.rollback!.at), Date.parse(shift.status!.rollback!.workersRestoredAt!)]);
    // The route was observed at 0 again no earlier than the rollback's route restore.
    const observed = JSON.parse((await weightChart.getAttribute('data-observed'))!) as Array<[number, number]>;
    expect(observed.at(-1)![0]).toBeGreaterThanOrEqual(Date.parse(shift.status!.rollback!.at) - 1000);
    expect(await weightChart.locator('.u-legend').textContent()).toContain('canary (observed on the route)');
    // The Events include the RolledBack warning.
    await expect.poll(() => page.getByTestId('events').textContent()).toContain('RolledBack');
    await page.screenshot({ path: join(SHOTS, 'dashboard-cutover.png'), fullPage: true });
    await page.close();
  });

  it('a user whose RBAC forbids patching sees the API server\'s refusal, and nothing changes', async () => {
    await kubectlOk(['apply', '--server-side', '-f', '-'], `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ${viewer}}
rules:
  - apiGroups: [cutover.dev]
    resources: [trafficshifts, shadowruns, migrationslices]
    verbs: [get, list, watch]
  - apiGroups: [""]
    resources: [events]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ${viewer}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ${viewer}}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: ${viewer}}]
`);
    const kubeconfig = impersonatingKubeconfig(testbed(), viewer, join(testbed().dir, 'kubeconfigs', `${viewer}.yaml`));
    const url = await startDashboard(kubeconfig);
    const before = await getJson<ShiftObject>(['get', 'trafficshift', 'listings', '-n', NS.moving]);
    const page = await open(`${url}c/TrafficShift/${NS.moving}/listings`);
    await page.getByTestId('action-Abort').click();
    expect(await page.getByTestId('confirm-effect').textContent()).toBe('This will route back to monolith 100% now, then restore flag and workers (RolledBack, trigger Manual).');
    await page.getByTestId('confirm-ok').click();
    const error = page.getByTestId('action-error');
    await error.waitFor();
    expect(await error.textContent()).toBe(`trafficshifts.cutover.dev "listings" is forbidden: User "${viewer}" cannot patch resource "trafficshifts" in API group "cutover.dev" in the namespace "${NS.moving}"`);
    expect(await page.getByTestId('action-status').textContent()).toMatch(/^Abort refused \(Forbidden\): /);
    const after = await getJson<ShiftObject>(['get', 'trafficshift', 'listings', '-n', NS.moving]);
    expect(after.metadata.annotations?.['cutover.dev/abort']).toBeUndefined();
    expect(after.metadata.generation).toBe(before.metadata.generation);
    expect(after.status?.phase).toBe('Progressing');
    expect(await scenarios.moving!.routeWeights()).toEqual({ monolith: 90, 'listings-api': 10 });
    await page.close();
  });

  it('answers only its own page: another Host (DNS rebinding), an action without the page\'s token, any action when --read-only: refused, nothing written', async () => {
    const port = new URL(adminUrl).port;
    const rebound = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/api/stream', headers: { host: `evil.example:${port}` } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.on('error', reject);
      req.end();
    });
    expect(rebound).toBe(403);
    const body = JSON.stringify({ kind: 'TrafficShift', namespace: NS.moving, name: 'listings', action: 'Abort' });
    const noToken = await fetch(`${adminUrl}api/action`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    expect(noToken.status).toBe(403);
    expect(((await noToken.json()) as { error: string }).error).toContain('X-Cutover-Token');
    const page = await (await fetch(adminUrl)).text();
    expect(page).toMatch(/<meta name="cutover-token" content="[\w-]{20,}">/);
    // --read-only: no action buttons, and the server refuses an action even with the page's token.
    const ro = await startDashboard(testbed().kubeconfig, ['--read-only']);
    const roPage = await open(`${ro}c/TrafficShift/${NS.moving}/listings`);
    await roPage.locator('header .badge', { hasText: 'read-only' }).waitFor();
    await roPage.locator('[data-testid=weight]', { hasText: '10%' }).waitFor();
    expect(await roPage.getByTestId('action-Abort').count()).toBe(0);
    const token = /<meta name="cutover-token" content="([\w-]+)">/.exec(await (await fetch(ro)).text())![1]!;
    const refused = await fetch(`${ro}api/action`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Cutover-Token': token }, body });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: string }).error).toContain('read-only');
    await roPage.close();
    const shift = await getJson<ShiftObject>(['get', 'trafficshift', 'listings', '-n', NS.moving]);
    expect(shift.metadata.annotations?.['cutover.dev/abort']).toBeUndefined();
    expect(shift.status?.phase).toBe('Progressing');
  });

  it('as the Helm chart runs it in a pod (--behind-port-forward, actions on): any loopback port, no other Host; an action needs the dashboard token, then it is acknowledged', async () => {
    const secret = 'dashboard-token-for-the-test-0123456789';
    const url = await startDashboard(testbed().kubeconfig, ['--behind-port-forward'], { CUTOVER_DASHBOARD_TOKEN: secret });
    const port = new URL(url).port;
    const status = (host: string) => new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', headers: { host } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.on('error', reject);
      req.end();
    });
    // kubectl port-forward's local port is not the pod's: any port on a loopback name is answered, nothing else.
    expect(await status('localhost:18080')).toBe(200);
    expect(await status('127.0.0.1:3100')).toBe(200);
    expect(await status(`evil.example:${port}`)).toBe(403);
    const html = await (await fetch(url)).text();
    const token = /<meta name="cutover-token" content="([\w-]+)">/.exec(html)![1]!;
    const act = (action: string, auth?: string) => fetch(`${url}api/action`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Cutover-Token': token, ...(auth ? { Authorization: auth } : {}) },
      body: JSON.stringify({ kind: 'TrafficShift', namespace: NS.moving, name: 'listings', action }),
    });
    const before = await getJson<ShiftObject>(['get', 'trafficshift', 'listings', '-n', NS.moving]);
    for (const auth of [undefined, 'Bearer wrong', `Basic ${secret}`]) {
      const refused = await act('Pause', auth);
      expect(refused.status, String(auth)).toBe(401);
      expect(((await refused.json()) as { error: string }).error).toContain('dashboard token');
    }
    const unchanged = await getJson<ShiftObject>(['get', 'trafficshift', 'listings', '-n', NS.moving]);
    expect(unchanged.metadata.annotations).toEqual(before.metadata.annotations);
    // With the token: written and acknowledged by the operator (pause, then resume: the shift carries on).
    for (const action of ['Pause', 'Resume']) {
      // Resume is refused (409) until the dashboard's own watch has seen the pause.
      const ok = await eventually(`${action} accepted`, async () => { const r = await act(action, `Bearer ${secret}`); return r.status === 409 ? undefined : r; }, 10_000, 100);
      expect(ok.status).toBe(202);
      const { id } = await ok.json() as { id: string };
      await eventually(`${action} ${id} acknowledged`, async () => {
        const acks = (await getJson<{ status?: { acknowledgedActions?: Array<{ action: string; id: string }> } }>(['get', 'trafficshift', 'listings', '-n', NS.moving])).status?.acknowledgedActions ?? [];
        return acks.some((a) => a.action === action && a.id === id);
      }, 30_000, 200);
    }
    expect((await getJson<ShiftObject>(['get', 'trafficshift', 'listings', '-n', NS.moving])).status?.phase).toBe('Progressing');
  });

  it('abort from the page rolls the shift back, and the page shows the acknowledgement', async () => {
    const page = await open(`${adminUrl}c/TrafficShift/${NS.moving}/listings`);
    await page.locator('[data-testid=weight]', { hasText: '10%' }).waitFor();
    await page.getByTestId('action-Abort').click();
    await page.getByTestId('confirm-ok').click();
    const status = page.getByTestId('action-status');
    // The acknowledgement and the rollback may arrive in separate status writes: wait for both on the page.
    await page.locator('[data-testid=action-status]', { hasText: /acknowledged.*RolledBack/ }).waitFor({ timeout: 30_000 });
    expect(await status.textContent()).toMatch(/^Abort acknowledged at [\d:]+: RolledBack — rolled back \(Manual\): /);
    const done = await scenarios.moving!.shift<ShiftObject>('listings');
    expect(done.status?.phase).toBe('RolledBack');
    expect(done.status?.rollback?.trigger).toBe('Manual');
    expect(await scenarios.moving!.routeWeights()).toEqual({ monolith: 100, 'listings-api': 0 });
    await page.getByTestId('rollback-card').waitFor();
    await page.locator('[data-testid=weight]', { hasText: '0%' }).waitFor();
    await page.close();
  });
});
