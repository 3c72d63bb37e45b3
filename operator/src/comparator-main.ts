// The parity comparator process (issue 14): one per ShadowRun with parity, the target of the
// route's RequestMirror. Same image as the operator, its own entrypoint:
//   node operator/src/comparator-main.ts --config /etc/cutover-parity/config.json [--port 8080] [--admin-port 9090] [--summary-file /var/lib/cutover-parity/summary.json]
// The config file is a ComparatorConfig (operator/src/parity/server.ts) as JSON.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ComparatorConfigSchema, startComparatorServer } from './parity/server.ts';
import { createLogger } from './runtime/logger.ts';

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: process.env.CUTOVER_PARITY_CONFIG },
    host: { type: 'string', default: process.env.HOST ?? '0.0.0.0' },
    port: { type: 'string', default: process.env.PORT ?? '8080' },
    'admin-port': { type: 'string', default: process.env.ADMIN_PORT ?? '9090' },
    'summary-file': { type: 'string', default: process.env.CUTOVER_PARITY_SUMMARY_FILE },
    'log-level': { type: 'string', default: process.env.LOG_LEVEL ?? 'info' },
  },
});

const log = createLogger({ level: values['log-level'] });
if (!values.config) {
  log.fatal('--config (CUTOVER_PARITY_CONFIG) is required: the path of the comparator config JSON');
  process.exit(2);
}
const parsed = ComparatorConfigSchema.safeParse(JSON.parse(readFileSync(values.config, 'utf8')));
if (!parsed.success) {
  log.fatal({ issues: parsed.error.issues }, `invalid comparator config ${values.config}`);
  process.exit(2);
}
const server = await startComparatorServer(parsed.data, {
  host: values.host,
  port: Number(values.port),
  adminPort: Number(values['admin-port']),
  ...(values['summary-file'] ? { summaryFile: values['summary-file'] } : {}),
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
