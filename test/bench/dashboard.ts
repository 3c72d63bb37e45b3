// Part `dashboard`: the web dashboard's overview with 1,000 TrafficShifts, in a real browser (Debian's
// Chromium driven by playwright-core), against `kubectl cutover dashboard` run as a user runs it.
//   - 900 TrafficShifts that nothing reconciles (Pending) and 100 that a real operator steps every
//     few seconds (10 steps of 5 s, no analysis): ~20 status changes/s while it is measured;
//   - time to first render: page opened → first row on screen, and → the whole list counted (n loads);
//   - change to screen: a status change as the bench's own WATCH on the API server delivers it →
//     the new weight in that row on the page (MutationObserver in the page), for the rows rendered;
//   - search and the namespace filter: input → the list filtered (the count shown), per query.
// Measures and reports; asserts nothing.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { chromium, type Page } from 'playwright-core';
import { ensureChromium, REPO_ROOT } from '../testbed/paths.ts';
import { killPid } from '../testbed/procs.ts';
import type { TestbedInfo } from '../testbed/testbed.ts';
import { applyAll, deleteNamespaces, httpRoute, kube, log, now, percentile, serviceObjects, sleep, startOperator, trafficShift, uid, watch } from './lib.ts';

/** p50 / p95 / max of a set of durations (ms). */
export interface Pct { n: number; p50: number; p95: number; max: number }
const pct = (xs: number[]): Pct => {
  const r = (v: number) => Math.round(v);
  return { n: xs.length, p50: r(percentile(xs, 50)), p95: r(percentile(xs, 95)), max: xs.length ? r(Math.max(...xs)) : NaN };
};

export interface DashboardBenchResult {
  shifts: number;
  moving: number;
  /** Rows the overview had in the page at once (all of them, or the window it renders). */
  rowsInPage: number;
  firstRowMs: Pct;
  wholeListMs: Pct;
  changeToScreenMs: Pct;
  /** Status changes seen by the WATCH whose row was not rendered at the time (outside the window). */
  changesNotRendered: number;
  searchMs: Pct;
  namespaceFilterMs: Pct;
  errors: string[];
}

const PER_NS = 100;
const STEPS: Array<[number, string]> = Array.from({ length: 10 }, (_, i) => [(i + 1) * 10, '5s'] as [number, string]);
const LOADS = 5;
const MAX_CHANGES = 300;

interface ShiftView extends KubernetesObject { status?: { currentWeight?: number; phase?: string } }

export async function dashboardBench(info: TestbedInfo, opts: { shifts?: number } = {}): Promise<DashboardBenchResult> {
  const k = kube(info);
  const total = opts.shifts ?? 1000;
  const nss = Array.from({ length: Math.ceil(total / PER_NS) }, (_, i) => uid(`bench-dash${i}`));
  const [movingNs, ...staticNss] = nss as [string, ...string[]];
  const errors: string[] = [];
  log(`dashboard: ${total} TrafficShifts in ${nss.length} namespaces (${PER_NS} moving in ${movingNs})`);
  await applyAll(k, nss.map((n) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } })));
  await applyAll(k, serviceObjects(movingNs, ['monolith', 'listings-api']));
  await applyAll(k, Array.from({ length: PER_NS }, (_, i) => httpRoute(movingNs, `r-s-${i}`, 'monolith', 'listings-api')), 16);
  // The still ones first (older), the moving ones last: the newest are at the top of the list.
  const still = staticNss.flatMap((ns) => Array.from({ length: PER_NS }, (_, i) => trafficShift(ns, `s-${i}`, `r-s-${i}`, { steps: STEPS, noAnalysis: true })));
  await applyAll(k, still.slice(0, total - PER_NS), 16);

  const chromePath = await ensureChromium();
  const browser = await chromium.launch({ executablePath: chromePath, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  const dashboard = spawn(process.execPath, [join(REPO_ROOT, 'operator', 'bin', 'kubectl-cutover.js'), 'dashboard', '--port', '0', '--read-only', '--prometheus-url', info.prometheusUrl], { env: { ...process.env, KUBECONFIG: info.kubeconfig } });
  let dashOut = '';
  dashboard.stdout.on('data', (c: Buffer) => { dashOut += c.toString(); });
  dashboard.stderr.on('data', (c: Buffer) => { dashOut += c.toString(); });
  const watches: Array<{ stop(): void }> = [];
  let op: Awaited<ReturnType<typeof startOperator>> | undefined;
  try {
    const url = await (async () => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const m = /Cutover dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(dashOut);
        if (m) return m[1]!;
        if (dashboard.exitCode !== null || Date.now() > deadline) throw new Error(`dashboard did not start: ${dashOut}`);
        await sleep(100);
      }
    })();

    // The moving ones, stepped by a real operator; every status change as a WATCH delivers it.
    const changes: Array<{ key: string; weight: number; at: number }> = [];
    const lastWeight = new Map<string, number>();
    const w = watch<ShiftView>(k, `/apis/cutover.dev/v1alpha1/namespaces/${movingNs}/trafficshifts`, (e) => {
      const key = `TrafficShift/${movingNs}/${e.obj.metadata?.name ?? ''}`;
      const weight = e.obj.status?.currentWeight;
      if (weight === undefined || lastWeight.get(key) === weight) return;
      lastWeight.set(key, weight);
      changes.push({ key, weight, at: e.at });
    });
    watches.push(w);
    await w.ready;
    op = await startOperator(info, { name: 'bench-dashboard', namespaces: [movingNs], extraArgs: ['--log-level', 'info'] });
    await applyAll(k, Array.from({ length: PER_NS }, (_, i) => trafficShift(movingNs, `s-${i}`, `r-s-${i}`, { steps: STEPS, noAnalysis: true })), 16);
    while (changes.length < PER_NS) await sleep(200); // every moving shift at its first step
    log('dashboard: all in place; loading the overview');

    // Time to first render, LOADS fresh pages.
    const firstRow: number[] = [];
    const wholeList: number[] = [];
    const listed = async (page: Page) => Number((/of (\d+)/.exec((await page.locator('.filters .count').textContent()) ?? '') ?? [])[1] ?? 0);
    // bypassCSP: the dashboard's Content-Security-Policy (script-src 'self') would refuse the bench's
    // own probes (waitForFunction evaluates its predicate in the page); the page's scripts are the same.
    for (let i = 0; i < LOADS; i++) {
      const page = await browser.newPage({ viewport: { width: 1366, height: 900 }, bypassCSP: true });
      const t0 = now();
      await page.goto(url, { waitUntil: 'commit' });
      await page.locator('[data-testid=row]').first().waitFor({ timeout: 60_000 });
      firstRow.push(now() - t0);
      await page.waitForFunction(`Number((/of (\\d+)/.exec(document.querySelector('.filters .count')?.textContent ?? '') ?? [])[1] ?? 0) >= ${total}`, undefined, { timeout: 60_000, polling: 'raf' });
      wholeList.push(now() - t0);
      await page.close();
    }
    log(`dashboard: first row p50 ${Math.round(percentile(firstRow, 50))} ms`);

    // Change to screen: the page records each row's weight text when it changes.
    const page = await browser.newPage({ viewport: { width: 1366, height: 900 }, bypassCSP: true });
    await page.goto(url);
    await page.waitForFunction(`Number((/of (\\d+)/.exec(document.querySelector('.filters .count')?.textContent ?? '') ?? [])[1] ?? 0) >= ${total}`, undefined, { timeout: 60_000 });
    await page.evaluate(`(() => {
      const seen = [];
      const last = new Map();
      window.benchSeen = seen;
      const note = (tr, at) => {
        const key = tr.getAttribute('data-key');
        const text = tr.querySelector('.weight .num')?.textContent ?? '';
        if (last.get(key) !== text) { last.set(key, text); seen.push([key, text, at]); }
      };
      for (const tr of document.querySelectorAll('tr[data-testid=row]')) note(tr, Date.now());
      // Only the rows a mutation touched (a row added, or a text changed in one).
      new MutationObserver((records) => {
        const at = Date.now();
        const rows = new Set();
        for (const r of records) {
          const el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
          const tr = el?.closest('tr[data-testid=row]');
          if (tr) rows.add(tr);
          for (const n of r.addedNodes) if (n.nodeType === 1) for (const x of (n.matches('tr[data-testid=row]') ? [n] : n.querySelectorAll('tr[data-testid=row]'))) rows.add(x);
        }
        for (const tr of rows) note(tr, at);
      }).observe(document.querySelector('main'), { subtree: true, childList: true, characterData: true });
    })()`);
    const from = changes.length;
    const windowStart = now();
    while (changes.length - from < MAX_CHANGES && now() - windowStart < 60_000) await sleep(250);
    await sleep(1500); // the last ones reach the page
    const seen = await page.evaluate('window.benchSeen') as Array<[string, string, number]>;
    const rowsInPage = await page.locator('tr[data-testid=row]').count();
    const lags: number[] = [];
    let notRendered = 0;
    for (const c of changes.slice(from, from + MAX_CHANGES)) {
      const shown = seen.find(([key, text, at]) => key === c.key && text === `${c.weight}%` && at >= c.at - 1000);
      if (shown) lags.push(Math.max(0, shown[2] - c.at));
      else notRendered++;
    }
    log(`dashboard: change → screen p50 ${Math.round(percentile(lags, 50))} ms (n=${lags.length}, ${notRendered} not rendered)`);

    // Search and filter: input → the list shows the namespace's rows only.
    const search: number[] = [];
    const filter: number[] = [];
    // The count the page shows ("100 of 1000"), checked at every animation frame in the page.
    const count = async (expected: string) => {
      await page.waitForFunction(`(() => { const n = Number((/^(\\d+) of/.exec(document.querySelector('.filters .count')?.textContent ?? '') ?? [])[1] ?? -1); return ${expected}; })()`, undefined, { timeout: 30_000, polling: 'raf' });
    };
    for (const ns of nss) {
      let t0 = now();
      await page.getByTestId('search').fill(ns);
      await count(`n === ${PER_NS}`);
      search.push(now() - t0);
      t0 = now();
      await page.getByTestId('search').fill('');
      await count(`n >= ${total}`);
      search.push(now() - t0);
      t0 = now();
      await page.getByTestId('filter-namespace').selectOption(ns);
      await count(`n === ${PER_NS}`);
      filter.push(now() - t0);
      await page.getByTestId('filter-namespace').selectOption('');
      await count(`n >= ${total}`);
    }
    if (await listed(page) < total) errors.push('the overview lost rows');
    await page.close();
    return {
      shifts: total, moving: PER_NS, rowsInPage,
      firstRowMs: pct(firstRow), wholeListMs: pct(wholeList),
      changeToScreenMs: pct(lags), changesNotRendered: notRendered,
      searchMs: pct(search), namespaceFilterMs: pct(filter), errors,
    };
  } finally {
    for (const x of watches) x.stop();
    await browser.close().catch(() => {});
    if (dashboard.pid) await killPid(dashboard.pid, 5000);
    await op?.stop();
    await deleteNamespaces(k, nss);
  }
}
