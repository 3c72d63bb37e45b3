// npm run bench [-- --only alert,breach,readyz,scale,scale10k,workers,flagger,judge,parity,dashboard] [--reuse-testbed]
// Runs the benchmarks of DESIGN §6 on the testbed (starts it, or reuses a running one; with
// --reuse-testbed only reuses one and stops if none is running and healthy, never starting or stopping one), writes
// test/bench/results/<date>.json and prints a markdown table. Measures and reports; never fails on
// a missed target (machines are noisy) — the table says which targets were met.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, freemem, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT, testbedDir } from '../testbed/paths.ts';
import { isHealthy, readState, startTestbed } from '../testbed/testbed.ts';
import { alertBench, type AlertResult } from './alert.ts';
import { breachBench, type BreachResult } from './breach.ts';
import { readyzBench, type ReadyzResult } from './readyz.ts';
import { scaleBench, type ScaleResult } from './scale.ts';
import { workersIdleBench, type WorkersIdleResult } from './workers.ts';
import { flaggerBench, type FlaggerResult } from './flagger.ts';
import { judgeBench, type JudgeBenchResult } from './judge.ts';
import { parityBench, type ParityBenchResult } from './parity.ts';
import { dashboardBench, type DashboardBenchResult } from './dashboard.ts';
import { log, setOperatorForm, type OperatorForm } from './lib.ts';
import { renderTable } from './report.ts';

const PARTS = ['alert', 'breach', 'readyz', 'scale', 'scale10k', 'workers', 'flagger', 'judge', 'parity', 'dashboard'] as const;
/** Parts that need no cluster: with only these, no testbed is started. */
const OFFLINE: readonly Part[] = ['judge'];
type Part = (typeof PARTS)[number];

export interface BenchResults {
  startedAt: string;
  finishedAt?: string;
  machine: { nproc: number; cpu: string; memoryGb: number; freeMemoryGb: number; kernel: string; node: string; loadAvgAtStart: string };
  commit: string;
  /** What the operator processes ran: the bundle (dist/main.mjs, as shipped) or the TypeScript sources. */
  operator: OperatorForm;
  parts: Part[];
  alert?: AlertResult | { error: string };
  breach?: BreachResult | { error: string };
  readyz?: ReadyzResult | { error: string };
  scale?: ScaleResult | { error: string };
  /** 10,000 TrafficShifts (issue 18), 10-minute steps staggered over 10 minutes as real cutovers are. */
  scale10k?: ScaleResult | { error: string };
  workers?: WorkersIdleResult | { error: string };
  flagger?: FlaggerResult | { error: string };
  judge?: JudgeBenchResult | { error: string };
  parity?: ParityBenchResult | { error: string };
  dashboard?: DashboardBenchResult | { error: string };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { only: { type: 'string' }, 'shifts': { type: 'string' }, 'large-shifts': { type: 'string' }, 'large-pause': { type: 'string' }, 'large-stagger': { type: 'string' }, 'large-interval': { type: 'string' }, 'large-window': { type: 'string' }, 'worker-shifts': { type: 'string' }, 'flagger-runs': { type: 'string' }, 'flagger-settings': { type: 'string' }, 'judge-runs': { type: 'string' }, 'dashboard-shifts': { type: 'string' }, operator: { type: 'string', default: 'bundle' }, 'reuse-testbed': { type: 'boolean' }, help: { type: 'boolean' } } });
  if (values.help) {
    console.log('usage: npm run bench [-- --only alert,breach,readyz,scale,scale10k,workers,flagger,judge,parity,dashboard] [--shifts 1000] [--large-shifts 10000] [--large-pause 600] [--large-stagger 600] [--large-interval 30s] [--large-window 300] [--worker-shifts 200] [--flagger-runs 3] [--flagger-settings fastest,defaults,tutorial|none] [--judge-runs 200] [--dashboard-shifts 1000] [--operator bundle|source] [--reuse-testbed]');
    return;
  }
  const parts = (values.only ? values.only.split(',').map((s) => s.trim()) : [...PARTS]) as Part[];
  for (const p of parts) if (!PARTS.includes(p)) throw new Error(`unknown part ${p}; parts: ${PARTS.join(', ')}`);
  if (values.operator !== 'bundle' && values.operator !== 'source') throw new Error(`--operator is bundle (dist/main.mjs, what ships; the default) or source (operator/src/main.ts), not ${values.operator}`);
  setOperatorForm(values.operator);
  const sh = (cmd: string, args: string[]) => { try { return execFileSync(cmd, args, { encoding: 'utf8' }).trim(); } catch { return 'unknown'; } };
  const results: BenchResults = {
    startedAt: new Date().toISOString(),
    machine: {
      nproc: Number(sh('nproc', [])), cpu: cpus()[0]?.model ?? 'unknown', memoryGb: Math.round(totalmem() / 2 ** 30 * 10) / 10,
      freeMemoryGb: Math.round(freemem() / 2 ** 30 * 10) / 10, kernel: sh('uname', ['-r']), node: process.version,
      loadAvgAtStart: sh('cat', ['/proc/loadavg']).split(' ').slice(0, 3).join(' '),
    },
    commit: sh('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD']),
    operator: values.operator,
    parts,
  };
  const dir = join(REPO_ROOT, 'test', 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${results.startedAt.replace(/[:]/g, '-').replace(/\..*/, '')}.json`);
  const save = () => writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  const offline = parts.every((p) => OFFLINE.includes(p));
  if (!offline && values['reuse-testbed']) {
    // A shared testbed: an unhealthy one would otherwise be stopped and started anew under its owner.
    const state = readState();
    if (!state || !(await isHealthy(state))) throw new Error(`--reuse-testbed: no healthy testbed running in ${testbedDir()}; not starting one`);
  }
  const tb = offline ? undefined : await startTestbed();
  log(`${tb ? `testbed ${tb.reused ? 'reused' : 'started'}` : 'no testbed needed'}; parts: ${parts.join(', ')}`);
  const t0 = Date.now();
  try {
    const run = async <K extends Part>(p: K, fn: () => Promise<NonNullable<BenchResults[K]>>) => {
      if (!parts.includes(p)) return;
      const s = Date.now();
      try { results[p] = await fn(); } catch (err) {
        log(`${p} failed: ${(err as Error).stack ?? String(err)}`);
        results[p] = { error: (err as Error).message } as NonNullable<BenchResults[K]>;
      }
      log(`${p} took ${Math.round((Date.now() - s) / 1000)} s`);
      save();
    };
    await run('judge', () => Promise.resolve(judgeBench(values['judge-runs'] ? { runs: Number(values['judge-runs']) } : {})));
    if (tb) {
      await run('alert', () => alertBench(tb.info));
      await run('breach', () => breachBench(tb.info));
      await run('readyz', () => readyzBench(tb.info));
      await run('scale', () => scaleBench(tb.info, { shifts: values.shifts ? Number(values.shifts) : 1000 }));
      // The large run: 10-minute steps with the shifts' step boundaries spread evenly over 10 minutes,
      // as cutovers started at different times are (~17 steps/s at 10,000, each a status write, a
      // route write and an Event), analysis every 30 s; 5 minutes of stepping, the SIGKILL, 2 minutes
      // more. The playbooks hold a step for an hour or days ("monitor for 1 hour", "50% → 100% over 3
      // days"), so 10 minutes is six times faster than the quickest of them. 2-minute steps (83 steps/s)
      // need more API server than this machine's 2 cores have (README › Performance).
      // --large-pause/--large-stagger/--large-interval/--large-window change those.
      await run('scale10k', () => scaleBench(tb.info, {
        shifts: values['large-shifts'] ? Number(values['large-shifts']) : 10_000,
        pauseSeconds: values['large-pause'] ? Number(values['large-pause']) : 600,
        staggerSeconds: values['large-stagger'] ? Number(values['large-stagger']) : 600,
        ...(values['large-window'] ? { windowSeconds: Number(values['large-window']) } : {}),
        steppingInterval: values['large-interval'] ?? '30s',
        idleInterval: values['large-interval'] ?? '30s',
      }));
      await run('workers', () => workersIdleBench(tb.info, { shifts: values['worker-shifts'] ? Number(values['worker-shifts']) : 200 }));
      const settings = values['flagger-settings'] === undefined ? undefined : values['flagger-settings'] === 'none' ? [] : values['flagger-settings'].split(',').map((x) => x.trim());
      await run('flagger', () => flaggerBench(tb.info, { ...(values['flagger-runs'] ? { runs: Number(values['flagger-runs']) } : {}), ...(settings ? { settings } : {}) }));
      await run('parity', () => parityBench(tb.info));
      await run('dashboard', () => dashboardBench(tb.info, values['dashboard-shifts'] ? { shifts: Number(values['dashboard-shifts']) } : {}));
    }
  } finally {
    results.finishedAt = new Date().toISOString();
    save();
    await tb?.stop();
  }
  log(`bench done in ${Math.round((Date.now() - t0) / 1000)} s; results in ${file}`);
  console.log(renderTable(results));
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
