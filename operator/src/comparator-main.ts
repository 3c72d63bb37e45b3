// The parity comparator process (issue 14): one per ShadowRun with parity, the target of the
// route's RequestMirror. Same image as the operator, its own entrypoint:
//   node operator/src/comparator-main.ts (--config FILE | CUTOVER_PARITY_CONFIG_JSON=...) [--port 8080] [--admin-port 9090]
//        [--summary-configmap NAMESPACE/NAME | --summary-file FILE] [--persist-every 3s]
// The config is a ComparatorConfig (operator/src/parity/server.ts) as JSON. In a cluster the operator
// creates the comparator's Deployment (operator/src/parity/workload.ts): the config comes from the
// environment and the counts are kept in the run's summary ConfigMap, which the operator watches; a
// restarted comparator reads them back and carries on.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseDuration } from './api/duration.ts';
import { CONFIG_MAP, KubeClient, isNotFound } from './kube/index.ts';
import { ComparatorConfigSchema, parseSummary, startComparatorServer, type SummaryStore } from './parity/server.ts';
import { COMPARATOR_FIELD_MANAGER, STATE_KEY, SUMMARY_KEY } from './parity/workload.ts';
import { createLogger, type Logger } from './runtime/logger.ts';

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: process.env.CUTOVER_PARITY_CONFIG },
    host: { type: 'string', default: process.env.HOST ?? '0.0.0.0' },
    port: { type: 'string', default: process.env.PORT ?? '8080' },
    'admin-port': { type: 'string', default: process.env.ADMIN_PORT ?? '9090' },
    'summary-file': { type: 'string', default: process.env.CUTOVER_PARITY_SUMMARY_FILE },
    'summary-configmap': { type: 'string', default: process.env.CUTOVER_PARITY_SUMMARY_CONFIGMAP },
    'persist-every': { type: 'string', default: process.env.CUTOVER_PARITY_PERSIST_EVERY ?? '3s' },
    kubeconfig: { type: 'string', default: process.env.KUBECONFIG },
    'log-level': { type: 'string', default: process.env.LOG_LEVEL ?? 'info' },
  },
});

const log = createLogger({ level: values['log-level'], name: 'cutover-parity' });
const configText = values.config ? readFileSync(values.config, 'utf8') : process.env.CUTOVER_PARITY_CONFIG_JSON;
if (!configText) {
  log.fatal('--config FILE (CUTOVER_PARITY_CONFIG) or CUTOVER_PARITY_CONFIG_JSON is required: the comparator config as JSON');
  process.exit(2);
}
const parsed = ComparatorConfigSchema.safeParse(JSON.parse(configText));
if (!parsed.success) {
  log.fatal({ issues: parsed.error.issues }, 'invalid comparator config');
  process.exit(2);
}

/** The summary kept in the run's ConfigMap (created by the operator; this process writes its data only). */
function configMapStore(ref: string, logger: Logger): SummaryStore {
  const [namespace, name] = ref.split('/');
  if (!namespace || !name) throw new Error(`--summary-configmap must be NAMESPACE/NAME, got ${ref}`);
  const client = KubeClient.load({ ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}), fieldManager: COMPARATOR_FIELD_MANAGER, userAgent: 'cutover-parity', maxConnections: 2 });
  return {
    async load() {
      try {
        const cm = await client.get<{ metadata: object; data?: Record<string, string> }>(CONFIG_MAP, namespace, name);
        return parseSummary(cm?.data?.[SUMMARY_KEY], logger, ref);
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async save(summary, state) {
      await client.mergePatch(CONFIG_MAP, namespace, name, { data: { [SUMMARY_KEY]: summary, [STATE_KEY]: state } });
    },
  };
}

const server = await startComparatorServer(parsed.data, {
  host: values.host,
  port: Number(values.port),
  adminPort: Number(values['admin-port']),
  persistEveryMs: parseDuration(values['persist-every']),
  ...(values['summary-configmap'] ? { store: configMapStore(values['summary-configmap'], log) } : values['summary-file'] ? { summaryFile: values['summary-file'] } : {}),
  logger: log,
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    log.info({ signal }, 'stopping: finishing replays and writing the summary');
    server.close().then(() => process.exit(0), (err: unknown) => {
      log.error({ err: (err as Error).message }, 'stop failed');
      process.exit(1);
    });
  });
}
