// `kubectl cutover`: list, inspect and drive cutovers from the command line.
//
// Manual actions are annotations (`cutover.dev/<action>: <request id>`), never spec edits, so a
// GitOps tool never sees a diff in what it manages; the command then waits until the operator
// acknowledges the request id in `status.acknowledgedActions` and prints what happened.
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { ActionAnnotation, type Action } from '../api/common.ts';
import { CONFIG_MAP, KubeClient, MIGRATION_SLICE, SHADOW_RUN, TRAFFIC_SHIFT, isGone, isNotFound, resourceType, type KubeObject, type ResourceType } from '../kube/index.ts';
import { ParitySchema } from '../api/shadowrun.ts';
import { buildReport, renderJson, renderMarkdown, renderText } from '../parity/report.ts';
import { readSummaryData, verdictOptions } from '../parity/status.ts';
import { comparatorName } from '../parity/workload.ts';
import { getTable, shortKind, statusText, type CutoverObject, type EventLine } from './render.ts';
import { refuseAction } from './dashboard/model.ts';

export const USAGE = `kubectl cutover — progressive cutovers (TrafficShift, ShadowRun, MigrationSlice)

Usage:
  kubectl cutover get [-A]                 all cutover resources in a table
  kubectl cutover status NAME [--watch]    steps, weight, analysis against thresholds, history
  kubectl cutover promote NAME             skip the remaining steps (to the last step's weight)
  kubectl cutover abort NAME               roll back now (trigger Manual)
  kubectl cutover pause NAME               hold at the current step (the step timer stops)
  kubectl cutover resume NAME              continue a paused cutover
  kubectl cutover retry NAME               run a RolledBack or Failed cutover again
  kubectl cutover dashboard                a live web view of every cutover you may list, on
                                           http://127.0.0.1:3100/ (your kubeconfig, your RBAC)
  kubectl cutover report NAME [-o md|json] the parity report of a ShadowRun (or a MigrationSlice's shadow
                                           stage): compared flows, match rate, known deviations, differing
                                           fields with redacted samples, Go / No-Go with the reason

Flags:
  -n, --namespace NS     namespace (default: the kubeconfig context's)
  -A, --all-namespaces   get: every namespace
      --kind KIND        trafficshift|ts, shadowrun|sr, migrationslice|ms (when NAME is ambiguous)
      --kubeconfig PATH  kubeconfig file (default $KUBECONFIG, then ~/.kube/config)
      --context NAME     kubeconfig context
      --timeout DUR      how long an action waits for the operator, e.g. 30s (default 30s)
      --no-wait          write the action and return without waiting
  -w, --watch            status: redraw on every change until interrupted
      --port N           dashboard: port (default 3100; 0 picks a free one)
      --address ADDR     dashboard: address to listen on (default 127.0.0.1)
      --prometheus-url U dashboard: Prometheus for the metric charts (default $CUTOVER_PROMETHEUS_URL,
                         then each metric's prometheus.address)
      --read-only        dashboard: show, never act
      --behind-port-forward  dashboard in a pod (the Helm chart): answer to a loopback Host on any port
                         (kubectl port-forward); with actions, $CUTOVER_DASHBOARD_TOKEN is required and
                         every action must carry it (Authorization: Bearer)
  -o, --output FORMAT    report: text (default), md (Markdown, to paste into a parity report), json

Actions are annotations (cutover.dev/<action>=<request id>); the operator acknowledges each
request id in status.acknowledgedActions. Nothing in spec is changed.`;

export interface CliIO {
  out: (text: string) => void;
  err: (text: string) => void;
  now: () => number;
  isTTY: boolean;
  /** Aborted on Ctrl-C (ends --watch). */
  signal?: AbortSignal;
}

const KINDS: ReadonlyArray<{ type: ResourceType; names: string[] }> = [
  { type: TRAFFIC_SHIFT, names: ['trafficshift', 'trafficshifts', 'ts', 'trafficshift.cutover.dev'] },
  { type: SHADOW_RUN, names: ['shadowrun', 'shadowruns', 'sr', 'shadowrun.cutover.dev'] },
  { type: MIGRATION_SLICE, names: ['migrationslice', 'migrationslices', 'ms', 'migrationslice.cutover.dev'] },
];
const CORE_EVENT = resourceType('', 'v1', 'events', 'Event');
const ACTIONS: Record<string, Action> = { promote: 'Promote', abort: 'Abort', pause: 'Pause', resume: 'Resume', retry: 'Retry' };

class UsageError extends Error {}

/** Runs one command; resolves to the exit code. */
export async function main(argv: string[], io: CliIO = defaultIO()): Promise<number> {
  let values: ReturnType<typeof parse>['values'];
  let positionals: string[];
  try {
    ({ values, positionals } = parse(argv));
  } catch (err) {
    io.err(`error: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const [command, name, ...rest] = positionals;
  if (values.help || !command || command === 'help') { io.out(USAGE); return command || values.help ? 0 : 2; }
  try {
    if (rest.length > 0) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
    const kinds = values.kind ? [kindNamed(values.kind)] : KINDS.map((k) => k.type);
    const client = KubeClient.load({ ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}), ...(values.context ? { context: values.context } : {}), userAgent: 'kubectl-cutover', fieldManager: 'kubectl-cutover' });
    const namespace = values.namespace ?? client.defaultNamespace;
    try {
      if (command === 'get') {
        if (name) throw new UsageError('get takes no NAME: use `kubectl cutover status NAME`');
        return await get(client, kinds, values['all-namespaces'] ? undefined : namespace, io);
      }
      if (command === 'dashboard') {
        if (name) throw new UsageError('dashboard takes no NAME');
        return await dashboard(client, { ...values, namespace: values.namespace }, io);
      }
      if (!name) throw new UsageError(`${command} needs a NAME`);
      if (command === 'status') return await status(client, kinds, namespace, name, Boolean(values.watch), io);
      if (command === 'report') return await report(client, namespace, name, values.output ?? 'text', io);
      const action = ACTIONS[command];
      if (!action) throw new UsageError(`unknown command "${command}"`);
      return await act(client, kinds, namespace, name, action, { wait: !values['no-wait'], timeoutMs: parseTimeout(values.timeout ?? '30s') }, io);
    } finally {
      client.close();
    }
  } catch (err) {
    if (err instanceof UsageError) { io.err(`error: ${err.message}\nRun 'kubectl cutover help' for usage.`); return 2; }
    io.err(`error: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      namespace: { type: 'string', short: 'n' }, 'all-namespaces': { type: 'boolean', short: 'A' },
      kind: { type: 'string' }, kubeconfig: { type: 'string' }, context: { type: 'string' },
      timeout: { type: 'string' }, 'no-wait': { type: 'boolean' }, watch: { type: 'boolean', short: 'w' },
      output: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
      port: { type: 'string' }, address: { type: 'string' }, 'prometheus-url': { type: 'string' }, 'read-only': { type: 'boolean' }, 'behind-port-forward': { type: 'boolean' },
    },
  });
}

function kindNamed(kind: string): ResourceType {
  const k = KINDS.find((x) => x.names.includes(kind.toLowerCase()));
  if (!k) throw new UsageError(`unknown --kind "${kind}": use trafficshift (ts), shadowrun (sr) or migrationslice (ms)`);
  return k.type;
}

function parseTimeout(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
  if (!m) throw new UsageError(`bad --timeout "${text}": use e.g. 30s or 2m`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
}

async function listKind(client: KubeClient, type: ResourceType, namespace: string | undefined): Promise<CutoverObject[]> {
  try {
    const r = await client.list(type, namespace ? { namespace } : {});
    return r.items.map((i) => ({ ...i, kind: type.kind }) as CutoverObject);
  } catch (err) {
    if (isNotFound(err)) return []; // that CRD is not installed
    throw err;
  }
}

async function get(client: KubeClient, kinds: ResourceType[], namespace: string | undefined, io: CliIO): Promise<number> {
  const all = (await Promise.all(kinds.map((k) => listKind(client, k, namespace)))).flat();
  all.sort((a, b) => (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') || KINDS.findIndex((k) => k.type.kind === a.kind) - KINDS.findIndex((k) => k.type.kind === b.kind) || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  if (all.length === 0) { io.err(namespace ? `No cutover resources found in ${namespace} namespace.` : 'No cutover resources found.'); return 0; }
  io.out(getTable(all, io.now(), namespace === undefined).join('\n'));
  return 0;
}

/** The one resource called `name` among `kinds`; an error names the choices when ambiguous. */
async function find(client: KubeClient, kinds: ResourceType[], namespace: string, name: string): Promise<{ type: ResourceType; obj: CutoverObject }> {
  const found: Array<{ type: ResourceType; obj: CutoverObject }> = [];
  for (const type of kinds) {
    try {
      const obj = await client.get(type, namespace, name);
      if (obj) found.push({ type, obj: { ...obj, kind: type.kind } as CutoverObject });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  if (found.length === 0) throw new Error(`no ${kinds.length === 1 ? shortKind(kinds[0]!.kind) : 'TrafficShift, ShadowRun or MigrationSlice'} "${name}" in namespace ${namespace}`);
  if (found.length > 1) throw new UsageError(`"${name}" names ${found.map((f) => f.type.kind).join(' and ')} in ${namespace}: add --kind ${found.map((f) => shortKind(f.type.kind)).join('|')}`);
  return found[0]!;
}

async function eventsOf(client: KubeClient, namespace: string, obj: CutoverObject): Promise<EventLine[]> {
  try {
    const r = await client.list<KubeObject & { type?: string; reason?: string; message?: string; note?: string; count?: number; lastTimestamp?: string; eventTime?: string; firstTimestamp?: string; series?: { count?: number; lastObservedTime?: string } }>(CORE_EVENT, {
      namespace, fieldSelector: `involvedObject.name=${obj.metadata.name},involvedObject.kind=${obj.kind}`,
    });
    return r.items
      .map((e) => ({ type: e.type, reason: e.reason, message: e.message ?? e.note, count: e.series?.count ?? e.count, at: e.series?.lastObservedTime ?? e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata.creationTimestamp }))
      .sort((a, b) => Date.parse(a.at ?? '') - Date.parse(b.at ?? ''))
      .slice(-8);
  } catch {
    return []; // events are a courtesy: no RBAC for them is not an error
  }
}

async function status(client: KubeClient, kinds: ResourceType[], namespace: string, name: string, watch: boolean, io: CliIO): Promise<number> {
  const { type, obj } = await find(client, kinds, namespace, name);
  const draw = async (o: CutoverObject) => {
    const text = statusText(o, await eventsOf(client, namespace, o), io.now()).join('\n');
    io.out(watch && io.isTTY ? `\x1b[2J\x1b[H${text}` : text);
  };
  await draw(obj);
  if (!watch) return 0;
  // Redraw on every change (and every few seconds for the ages), until interrupted or deleted.
  let last = obj.metadata && (obj as KubeObject).metadata.resourceVersion;
  const signal = io.signal ?? new AbortController().signal;
  while (!signal.aborted) {
    await sleep(1000, undefined, { signal }).catch(() => {}); // Ctrl-C cuts the wait short
    if (signal.aborted) break;
    const now = await client.get(type, namespace, name);
    if (!now) { io.out(`${type.kind} ${namespace}/${name} was deleted`); return 0; }
    if (now.metadata.resourceVersion !== last) {
      last = now.metadata.resourceVersion;
      if (!io.isTTY) io.out('---');
      await draw({ ...now, kind: type.kind } as CutoverObject);
    }
  }
  return 0;
}

type ParityRun = KubeObject & { spec?: { parity?: unknown }; status?: { phase?: string } };

/**
 * The parity report of ShadowRun `name`, or of MigrationSlice `name`'s shadow stage (its child
 * `<name>-shadow`; the slice's owner is the report's owner), from the summary ConfigMap the run's
 * comparator keeps. Everything in it is redacted (report.ts redacts again).
 */
async function report(client: KubeClient, namespace: string, name: string, output: string, io: CliIO): Promise<number> {
  if (!['text', 'md', 'markdown', 'json'].includes(output)) throw new UsageError(`bad --output "${output}": use text, md or json`);
  let run = await client.get<ParityRun>(SHADOW_RUN, namespace, name);
  let owner: string | undefined;
  if (!run) {
    const slice = await client.get<KubeObject & { spec?: { owner?: string } }>(MIGRATION_SLICE, namespace, name).catch((err: unknown) => { if (isNotFound(err)) return undefined; throw err; });
    if (slice) {
      owner = slice.spec?.owner;
      run = await client.get<ParityRun>(SHADOW_RUN, namespace, `${name}-shadow`);
      if (!run) throw new Error(`MigrationSlice ${namespace}/${name} has no shadow stage run (${name}-shadow) yet`);
    }
  }
  if (!run) throw new Error(`no ShadowRun or MigrationSlice "${name}" in namespace ${namespace}`);
  const runName = run.metadata.name ?? name;
  if (owner === undefined) {
    const sliceRef = run.metadata.ownerReferences?.find((r) => r.kind === 'MigrationSlice');
    if (sliceRef) owner = (await client.get<KubeObject & { spec?: { owner?: string } }>(MIGRATION_SLICE, namespace, sliceRef.name).catch(() => undefined))?.spec?.owner;
  }
  const parsed = ParitySchema.safeParse(run.spec?.parity);
  if (run.spec?.parity === undefined || !parsed.success) throw new Error(`ShadowRun ${namespace}/${runName} has no parity: add spec.parity to compare answers`);
  const cm = await client.get<KubeObject & { data?: Record<string, string> }>(CONFIG_MAP, namespace, comparatorName(runName));
  const observed = readSummaryData(cm?.data);
  if (!observed.summary) throw new Error(`ShadowRun ${namespace}/${runName}: its comparator has reported nothing yet (ConfigMap ${comparatorName(runName)}${observed.unreadable ? `: ${observed.unreadable}` : ''})`);
  const r = buildReport(observed.summary, verdictOptions(parsed.data), {
    namespace, name: runName, date: new Date(io.now()).toISOString(), ...(owner !== undefined ? { owner } : {}), redactJsonPaths: parsed.data.redactJsonPaths ?? [],
  });
  const text = output === 'json' ? renderJson(r) : output === 'text' ? renderText(r) : renderMarkdown(r);
  io.out(text.replace(/\n$/, ''));
  return 0;
}


/** Why an action makes no sense in this phase (so nothing is written), or undefined. */
export function refuse(kind: string | undefined, phase: string | undefined, action: Action): string | undefined {
  return refuseAction(kind, phase, action);
}

async function act(client: KubeClient, kinds: ResourceType[], namespace: string, name: string, action: Action, opts: { wait: boolean; timeoutMs: number }, io: CliIO): Promise<number> {
  const { type, obj } = await find(client, kinds, namespace, name);
  const phase = (obj.status as { phase?: string } | undefined)?.phase;
  const why = refuse(type.kind, phase, action);
  if (why) { io.err(`error: ${why}`); return 1; }
  const annotation = ActionAnnotation[action];
  const id = `${new Date(io.now()).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${Math.floor(Math.random() * 1e6).toString(36)}`;
  // A merge patch of one annotation: metadata only, never spec, no resourceVersion precondition needed.
  await client.mergePatch(type, namespace, name, { metadata: { annotations: { [annotation]: id } } }, { fieldManager: 'kubectl-cutover' });
  const what = `${shortKind(type.kind)}.cutover.dev/${name}`;
  if (!opts.wait) { io.out(`${what} ${action.toLowerCase()} requested (${annotation}=${id})`); return 0; }
  // Wait for the acknowledgement on a watch of this one object, from the version the patch wrote: every
  // later change arrives as it happens. A stream the server ends, or one too old to resume (410), starts
  // again from a fresh read.
  type Acked = KubeObject & { status?: { phase?: string; message?: string; acknowledgedActions?: Array<{ action: string; id: string }>; rollback?: { trigger?: string; reason?: string } } };
  const acknowledged = (cur: Acked): boolean => {
    const st = cur.status;
    if (!st?.acknowledgedActions?.some((a) => a.action === action && a.id === id)) return false;
    const detail = st.phase === 'RolledBack' && st.rollback ? `rolled back (${st.rollback.trigger}): ${st.rollback.reason}` : st.message ?? '';
    io.out(`${what} ${action.toLowerCase()} acknowledged: ${st.phase ?? 'Pending'}${detail ? ` — ${detail}` : ''}`);
    return true;
  };
  const deleted = () => new Error(`${type.kind} ${namespace}/${name} was deleted`);
  const signal = AbortSignal.timeout(opts.timeoutMs);
  try {
    for (;;) {
      const cur = await client.get<Acked>(type, namespace, name);
      if (!cur) throw deleted();
      if (acknowledged(cur)) return 0;
      try {
        for await (const ev of client.watch<Acked>(type, { namespace, fieldSelector: `metadata.name=${name}`, resourceVersion: cur.metadata.resourceVersion, signal })) {
          if (ev.type === 'DELETED') throw deleted();
          if (ev.type !== 'BOOKMARK' && acknowledged(ev.object)) return 0;
        }
      } catch (err) {
        if (!isGone(err)) throw err;
      }
    }
  } catch (err) {
    if (!signal.aborted) throw err;
  }
  io.err(`error: ${what}: the operator did not acknowledge ${annotation}=${id} within ${opts.timeoutMs / 1000}s (is it running and watching ${namespace}?). The request stays in place and is handled when the operator gets to it.`);
  return 1;
}

/** `kubectl cutover dashboard`: serves until interrupted (Ctrl-C). */
async function dashboard(client: KubeClient, values: { port?: string; address?: string; 'prometheus-url'?: string; 'read-only'?: boolean; 'behind-port-forward'?: boolean; namespace?: string; context?: string }, io: CliIO): Promise<number> {
  const port = values.port === undefined ? 3100 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`bad --port "${values.port}"`);
  const behind = Boolean(values['behind-port-forward']);
  const actionToken = process.env.CUTOVER_DASHBOARD_TOKEN;
  // In a pod it acts with its ServiceAccount: no unauthenticated write path.
  if (behind && !values['read-only'] && !actionToken) throw new UsageError('--behind-port-forward without --read-only needs $CUTOVER_DASHBOARD_TOKEN (every action must carry it)');
  const prometheusUrl = values['prometheus-url'] ?? process.env.CUTOVER_PROMETHEUS_URL;
  const { startDashboard } = await import('./dashboard/server.ts');
  const d = await startDashboard({
    client, port, address: values.address ?? '127.0.0.1', readOnly: Boolean(values['read-only']),
    ...(behind ? { behindPortForward: true, ...(actionToken ? { actionToken } : {}) } : {}),
    ...(prometheusUrl ? { prometheusUrl } : {}), ...(values.namespace ? { namespace: values.namespace } : {}),
    context: values.context ?? client.contextName,
  });
  const scopes = d.store.scopes.map((s) => `${s.kind}: ${s.error ?? (s.allNamespaces ? 'all namespaces' : `namespace ${s.namespace}`)}`).join('; ');
  io.out(`Cutover dashboard: ${d.url}${values['read-only'] ? ' (read-only)' : ''}\n${scopes}\nCtrl-C stops it.`);
  // Ctrl-C or SIGTERM: close the streams and watches, then exit 0.
  await new Promise<void>((resolve) => {
    if (io.signal?.aborted) return resolve();
    io.signal?.addEventListener('abort', () => resolve(), { once: true });
    process.once('SIGTERM', () => resolve());
  });
  await d.close();
  return 0;
}

function defaultIO(): CliIO {
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  return {
    out: (t) => process.stdout.write(`${t}\n`),
    err: (t) => process.stderr.write(`${t}\n`),
    now: () => Date.now(),
    isTTY: Boolean(process.stdout.isTTY),
    signal: ac.signal,
  };
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
