// Resilience: bad input. A corpus of >= 100 invalid manifests of the three kinds — mutations
// generated from the zod schemas (every field of the valid fixtures: wrong type, removed, empty,
// out of range, huge) plus hand-written cases (unknown routers, malformed durations, bad PromQL,
// references to missing objects). Each is rejected at admission with a message naming the field,
// or — when only the running operator can tell — ends Stalled with a reason naming it. The
// operator never crashes or restarts, and nothing else in the namespace changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { MigrationSliceSpecSchema, ShadowRunSpecSchema, TrafficShiftSpecSchema } from '../../operator/src/api/index.ts';
import { TRAFFIC_SHIFT } from '../../operator/src/kube/resources.ts';
import { eventually, getJson, kubectl, kubectlOk, testbed, uniqueName } from '../helpers/cluster.ts';
import { processIdentity, startOperator, type OperatorProcess } from '../helpers/operator.ts';
import { createScenario, ERROR_RATE_QUERY, type Scenario } from '../helpers/scenario.ts';
import { reconcileOnceMore } from '../helpers/watch.ts';
import { invalidShadowRunsAndSlices, invalidTrafficShifts, minimalMigrationSlice, minimalTrafficShift, validMigrationSlice, validShadowRun, validTrafficShift } from '../unit/api/fixtures.ts';

type Obj = Record<string, unknown>;
interface Case { name: string; manifest: Obj; field?: string | undefined }

const NS = uniqueName('rs-input');
let operator: OperatorProcess;
/** The operator process as it started: a crash or restart changes it (see processIdentity). */
let started: Awaited<ReturnType<typeof processIdentity>>;
let s: Scenario;

const schemas: Record<string, z.ZodType> = { TrafficShift: TrafficShiftSpecSchema, ShadowRun: ShadowRunSpecSchema, MigrationSlice: MigrationSliceSpecSchema };

/** Every leaf and object below spec, with its path. */
function paths(v: unknown, at: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [];
  if (Array.isArray(v)) v.forEach((x, i) => { out.push([...at, i]); out.push(...paths(x, [...at, i])); });
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) { out.push([...at, k]); out.push(...paths(x, [...at, k])); }
  return out;
}

function mutate(manifest: Obj, path: Array<string | number>, how: (old: unknown) => unknown | typeof REMOVE): Obj {
  const m = structuredClone(manifest) as Obj;
  let o = m.spec as Record<string | number, unknown>;
  for (const p of path.slice(0, -1)) o = o[p] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  const next = how(o[last]);
  if (next === REMOVE) { if (Array.isArray(o)) o.splice(last as number, 1); else delete o[last]; } else o[last] = next;
  return m;
}
const REMOVE = Symbol('remove');

const fieldName = (path: PropertyKey[]) => ['spec', ...path].map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '').replace(/\.\[/g, '[');

/** Mutations the zod schema rejects; the expected field is the first issue's path. */
function generated(): Case[] {
  const bases: Array<[string, Obj]> = [['TrafficShift', validTrafficShift('gen')], ['TrafficShift', minimalTrafficShift('gen')], ['ShadowRun', validShadowRun('gen')], ['MigrationSlice', validMigrationSlice('gen')], ['MigrationSlice', minimalMigrationSlice('gen')]];
  const kinds: Array<[string, (old: unknown) => unknown]> = [
    ['wrong type', (o) => (typeof o === 'string' ? 12345 : typeof o === 'number' ? 'twelve' : typeof o === 'boolean' ? 'yes' : Array.isArray(o) ? { not: 'a list' } : 'not-an-object')],
    ['removed', () => REMOVE],
    ['empty', (o) => (typeof o === 'string' ? '' : typeof o === 'number' ? -1 : Array.isArray(o) ? [] : {})],
    ['huge', (o) => (typeof o === 'string' ? 'x'.repeat(70_000) : typeof o === 'number' ? 1e12 : o)],
  ];
  const seen = new Set<string>();
  const out: Case[] = [];
  for (const [kind, base] of bases) {
    for (const path of paths(base.spec)) {
      for (const [what, how] of kinds) {
        const m = mutate(base, path, how);
        const parsed = schemas[kind]!.safeParse(m.spec);
        if (parsed.success) continue;
        const key = `${kind}|${fieldName(path)}|${what}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const issue = parsed.error.issues[0]!;
        out.push({ name: `${kind} ${fieldName(path)} ${what}`, manifest: m, field: fieldName(issue.path) });
      }
    }
  }
  // Every field × every mutation is ~570 manifests; a deterministic spread of 100 keeps the file
  // short (kubectl per case) while still touching every kind and most fields.
  const step = Math.max(1, out.length / 100);
  return Array.from({ length: Math.min(100, out.length) }, (_, i) => out[Math.floor(i * step)]!);
}

function shift(name: string, spec: (s: Obj) => void): Obj {
  const m = minimalTrafficShift(name) as Obj & { spec: Obj };
  m.spec.route = { httpRoute: { name: 'listings' } };
  m.spec.stable = { service: 'monolith', port: 8080 };
  m.spec.canary = { service: 'listings-api', port: 8080 };
  m.spec.steps = [{ weight: 10, pause: '10m' }, { weight: 100, pause: '10m' }];
  m.spec.analysis = { interval: '1s', failureLimit: 1, inconclusiveLimit: 50, metrics: [{ name: 'error-rate', prometheus: { query: ERROR_RATE_QUERY }, max: 0.05 }] };
  spec(m.spec);
  return m;
}

/** Valid at admission, wrong at run time: the operator must end them Stalled naming the field. */
const runtime: Array<Case & { field: string }> = [
  { name: 'missing HTTPRoute', manifest: shift('rt-no-route', (s) => { s.route = { httpRoute: { name: 'nope' } }; }), field: 'spec.route.httpRoute.name' },
  { name: 'rule index out of range', manifest: shift('rt-rule', (s) => { s.route = { httpRoute: { name: 'listings', ruleIndex: 5 } }; }), field: 'spec.route.httpRoute.ruleIndex' },
  { name: 'missing canary Service', manifest: shift('rt-no-svc', (s) => { s.canary = { service: 'ghost', port: 8080 }; }), field: 'spec.canary' },
  { name: 'stable port not in the route', manifest: shift('rt-port', (s) => { s.stable = { service: 'monolith', port: 9999 }; }), field: 'spec.stable.port' },
  { name: 'bad PromQL', manifest: shift('rt-promql', (s) => { (s.analysis as { metrics: Array<{ prometheus: { query: string } }> }).metrics[0]!.prometheus.query = 'sum(rate(http_requests_total[1m]'; }), field: 'spec.analysis.metrics[0].prometheus.query' },
  { name: 'unknown template variable', manifest: shift('rt-tmpl', (s) => { (s.analysis as { metrics: Array<{ prometheus: { query: string } }> }).metrics[0]!.prometheus.query = 'up{service="{{nope.service}}"}'; }), field: 'spec.analysis.metrics[0].prometheus.query' },
  { name: 'missing worker Deployment', manifest: shift('rt-worker', (s) => { s.workers = [{ deployment: 'ghost-worker', replicas: 2 }]; }), field: 'spec.workers[0].deployment' },
];

/** Hand-written admission cases beyond the shared fixtures. */
const handWritten: Case[] = [
  { name: 'unknown router', manifest: shift('hw-router', (s) => { s.route = { gateway: { name: 'x' } }; }), field: 'spec.route' },
  { name: 'pause "soon"', manifest: shift('hw-pause', (s) => { s.steps = [{ weight: 10, pause: 'soon' }]; }), field: 'spec.steps[0].pause' },
  { name: 'pause with fraction', manifest: shift('hw-pause2', (s) => { s.steps = [{ weight: 10, pause: '1.5.3m' }]; }), field: 'spec.steps[0].pause' },
  { name: 'weight as string', manifest: shift('hw-weight', (s) => { s.steps = [{ weight: '10', pause: '1m' }]; }), field: 'spec.steps[0].weight' },
  { name: 'weight fractional', manifest: shift('hw-weight2', (s) => { s.steps = [{ weight: 10.5, pause: '1m' }]; }), field: 'spec.steps[0].weight' },
  { name: 'steps unordered', manifest: shift('hw-order', (s) => { s.steps = [{ weight: 10, pause: '1m' }, { weight: 100, pause: '1m' }, { weight: 50, pause: '1m' }]; }), field: 'spec.steps' },
  { name: 'huge query', manifest: shift('hw-huge', (s) => { (s.analysis as { metrics: Array<{ prometheus: { query: string } }> }).metrics[0]!.prometheus.query = `up${' '.repeat(200_000)}`; }), field: 'spec.analysis.metrics[0].prometheus.query' },
  { name: 'onInconclusive Promote', manifest: shift('hw-promote', (s) => { (s.analysis as Obj).onInconclusive = 'Promote'; }), field: 'spec.analysis.onInconclusive' },
  { name: 'prometheus address not a URL', manifest: shift('hw-addr', (s) => { (s.analysis as { metrics: Array<{ prometheus: Obj }> }).metrics[0]!.prometheus.address = 'prometheus:9090'; }), field: 'spec.analysis.metrics[0].prometheus.address' },
];

const corpus: Case[] = [
  ...generated(),
  ...handWritten,
  ...[...invalidTrafficShifts, ...invalidShadowRunsAndSlices].map((c) => ({ name: `fixture ${c.kind}: ${c.name}`, manifest: c.manifest, field: c.field })),
];

let routeBefore: string;

beforeAll(async () => {
  operator = await startOperator(testbed(), { name: 'resilience-input', namespaces: [NS] });
  started = await processIdentity(operator);
  s = await createScenario({ prefix: 'rs-input', ns: NS });
  const r = await getJson<{ metadata: { resourceVersion: string } }>(['get', 'httproute', 'listings', '-n', NS]);
  routeBefore = r.metadata.resourceVersion;
});

afterAll(async () => {
  await operator?.stop();
  await s?.cleanup();
});

async function apply(m: Obj): Promise<{ code: number; out: string }> {
  const withNs = { ...m, metadata: { ...(m.metadata as Obj), namespace: NS } };
  const r = await kubectl(['apply', '--server-side', '--field-manager=rs-input', '-f', '-'], JSON.stringify(withNs));
  return { code: r.code, out: `${r.stdout}${r.stderr}` };
}

describe('bad input: rejected at admission naming the field, or Stalled naming it', () => {
  it(`the corpus has at least 100 invalid manifests of the three kinds (${corpus.length + runtime.length})`, () => {
    expect(corpus.length + runtime.length).toBeGreaterThanOrEqual(100);
    for (const k of ['TrafficShift', 'ShadowRun', 'MigrationSlice']) expect(corpus.some((c) => c.manifest.kind === k)).toBe(true);
  });

  it('every admission case is rejected with a message naming the field (or, if admitted, ends Stalled)', { timeout: 240_000 }, async () => {
    const admitted: Case[] = [];
    const unnamed: string[] = [];
    // A few kubectl processes at a time: the machine has 2 cores.
    let next = 0;
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (next < corpus.length) {
        const c = corpus[next++]!;
        const r = await apply(c.manifest);
        if (r.code === 0) { admitted.push(c); continue; }
        const leaf = c.field?.split('.').at(-1)?.replace(/\[\d+\]$/, '') ?? '';
        if (!r.out.includes(c.field ?? '') && !(leaf && r.out.includes(leaf))) unnamed.push(`${c.name}: expected ${c.field}, got: ${r.out.slice(0, 300)}`);
      }
    }));
    expect(unnamed, unnamed.join('\n')).toEqual([]);
    // The zod schema and the CRD can differ on a few edge cases (e.g. prefaulted defaults); an
    // admitted manifest must then be stopped by the operator: Stalled, naming a field.
    for (const c of admitted) {
      const kind = String(c.manifest.kind).toLowerCase();
      const name = String((c.manifest.metadata as Obj).name);
      const obj = await eventually(`${c.name}: Stalled`, async () => {
        const o = await getJson<{ status?: { conditions?: Array<{ type: string; status: string; message: string }> } }>(['get', kind, name, '-n', NS]);
        return o.status?.conditions?.find((x) => x.type === 'Stalled' && x.status === 'True') ? o : undefined;
      }, 20_000, 500).catch(() => undefined);
      expect(obj, `${c.name} was admitted and not Stalled`).toBeDefined();
      await kubectl(['delete', kind, name, '-n', NS, '--wait=false']);
    }
    console.log(`admission corpus: ${corpus.length} cases, ${corpus.length - admitted.length} rejected at admission, ${admitted.length} admitted then Stalled`);
  });

  it('run-time problems: Stalled with a reason naming the field; the route never changes', { timeout: 120_000 }, async () => {
    await kubectlOk(['apply', '--server-side', '-f', '-'], runtime.map((c) => JSON.stringify({ ...c.manifest, metadata: { ...(c.manifest.metadata as Obj), namespace: NS } })).join('\n---\n'));
    for (const c of runtime) {
      const name = String((c.manifest.metadata as Obj).name);
      const ts = await eventually(`${c.name}: Stalled`, async () => {
        const o = await getJson<{ status?: { phase?: string; currentWeight?: number; conditions?: Array<{ type: string; status: string; reason: string; message: string }> } }>(['get', 'trafficshift', name, '-n', NS]);
        return o.status?.conditions?.find((x) => x.type === 'Stalled' && x.status === 'True') ? o : undefined;
      }, 30_000, 300);
      const cond = ts.status!.conditions!.find((x) => x.type === 'Stalled')!;
      expect(cond.message, c.name).toContain(c.field);
      expect(cond.reason, c.name).toMatch(/NotFound|QueryError|Invalid/);
      expect(ts.status?.phase, c.name).toBe('Pending');
      expect(ts.status?.currentWeight, c.name).toBeUndefined();
    }
    // One more reconcile of each, and still nothing changed.
    await reconcileOnceMore(operator, 'trafficshift', TRAFFIC_SHIFT, NS, runtime.map((c) => String((c.manifest.metadata as Obj).name)));
    const r = await getJson<{ metadata: { resourceVersion: string }; spec: { rules: Array<{ backendRefs: Array<{ weight: number }> }> } }>(['get', 'httproute', 'listings', '-n', NS]);
    expect(r.metadata.resourceVersion).toBe(routeBefore);
    expect(r.spec.rules[0]!.backendRefs.map((b) => b.weight)).toEqual([100, 0]);
  });

  it('the operator never crashed or restarted', async () => {
    // The same process that started (pid and its own process_start_time_seconds), never exited.
    expect(await processIdentity(operator)).toEqual(started);
    expect(operator.exitStatus()).toBeUndefined();
    expect(operator.logText()).not.toMatch(/"level":"fatal"|uncaughtException|unhandledRejection/);
    const ready = await fetch(`${operator.url}/readyz`);
    expect(ready.status).toBe(200);
  });
});
