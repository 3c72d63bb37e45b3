// Operator configuration: flags, each with an environment variable, validated with zod.
import { parseArgs } from 'node:util';
import * as z from 'zod';

const ConfigSchema = z.object({
  kubeconfig: z.string().optional(),
  namespaces: z.array(z.string().min(1)).default([]),
  prometheusUrl: z.string().regex(/^https?:\/\/\S+$/, 'must be an http(s) URL').default('http://prometheus.monitoring:9090'),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  host: z.string().default('0.0.0.0'),
  port: z.coerce.number().int().min(0).max(65535).default(8080),
  leaderElect: z.boolean().default(false),
  leaderElectionNamespace: z.string().default('default'),
  leaderElectionId: z.string().default('cutover-leader'),
  identity: z.string().min(1),
  alertmanagerToken: z.string().optional(),
  webhookSecret: z.string().optional(),
  concurrency: z.coerce.number().int().min(1).max(64).default(4),
  githubApiUrl: z.string().regex(/^https?:\/\/\S+$/, 'must be an http(s) URL').default('https://api.github.com'),
});
export type OperatorConfig = z.infer<typeof ConfigSchema>;

export const USAGE = `usage: cutover [flags]   (each flag also reads the environment variable named)
  --kubeconfig PATH                 KUBECONFIG; default ~/.kube/config, then in-cluster
  --namespaces a,b                  WATCH_NAMESPACES; default all namespaces
  --prometheus-url URL              CUTOVER_PROMETHEUS_URL; default http://prometheus.monitoring:9090
  --log-level LEVEL                 LOG_LEVEL; trace|debug|info|warn|error; default info
  --host ADDR --port N              HOST, PORT; /healthz /readyz /metrics /hooks/*; default 0.0.0.0:8080
  --leader-elect[=false]            LEADER_ELECT; default false (the Helm chart turns it on)
  --leader-election-namespace NS    POD_NAMESPACE
  --leader-election-id NAME         default cutover-leader
  --concurrency N                   parallel reconciles per controller; default 4
  --github-api-url URL              CUTOVER_GITHUB_API_URL; spec.notify.github target; default https://api.github.com
                                    (GitHub Enterprise: https://HOST/api/v3)
  hook secrets: CUTOVER_ALERTMANAGER_TOKEN (bearer token), CUTOVER_WEBHOOK_HMAC_SECRET (HMAC key)`;

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): OperatorConfig {
  const { values } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      kubeconfig: { type: 'string' }, namespaces: { type: 'string' }, 'prometheus-url': { type: 'string' },
      'log-level': { type: 'string' }, host: { type: 'string' }, port: { type: 'string' },
      'leader-elect': { type: 'string' }, 'leader-election-namespace': { type: 'string' }, 'leader-election-id': { type: 'string' },
      concurrency: { type: 'string' }, 'github-api-url': { type: 'string' }, help: { type: 'boolean' },
    },
  });
  if (values.help) { console.log(USAGE); process.exit(0); }
  const bool = (v: string | undefined) => (v === undefined ? undefined : !['false', '0', 'no', ''].includes(v.toLowerCase()));
  const pick = <T>(...xs: Array<T | undefined>) => xs.find((x) => x !== undefined && x !== '');
  const namespaces = pick(values.namespaces, env.WATCH_NAMESPACES);
  const parsed = ConfigSchema.safeParse({
    kubeconfig: pick(values.kubeconfig, env.KUBECONFIG),
    namespaces: namespaces ? namespaces.split(',').map((s) => s.trim()).filter(Boolean) : undefined,
    prometheusUrl: pick(values['prometheus-url'], env.CUTOVER_PROMETHEUS_URL),
    logLevel: pick(values['log-level'], env.LOG_LEVEL),
    host: pick(values.host, env.HOST),
    port: pick(values.port, env.PORT),
    leaderElect: pick(bool(values['leader-elect']), bool(env.LEADER_ELECT)),
    leaderElectionNamespace: pick(values['leader-election-namespace'], env.POD_NAMESPACE),
    leaderElectionId: values['leader-election-id'],
    identity: pick(env.POD_NAME, `${(env.HOSTNAME ?? 'cutover')}-${process.pid}`),
    alertmanagerToken: pick(env.CUTOVER_ALERTMANAGER_TOKEN),
    webhookSecret: pick(env.CUTOVER_WEBHOOK_HMAC_SECRET),
    concurrency: pick(values.concurrency, env.CUTOVER_CONCURRENCY),
    githubApiUrl: pick(values['github-api-url'], env.CUTOVER_GITHUB_API_URL),
  });
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new Error(`invalid configuration: ${i.path.join('.')}: ${i.message}\n${USAGE}`);
  }
  return parsed.data;
}
