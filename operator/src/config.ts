// Operator configuration: flags, each with an environment variable, validated with zod.
import { parseArgs } from 'node:util';
import * as z from 'zod';
import { DURATION_HINT, DURATION_PATTERN, parseDuration } from './api/duration.ts';

/** A Go-style duration flag (`15s`, `500ms`) as milliseconds, > 0. */
const durationMs = z.string().regex(DURATION_PATTERN, DURATION_HINT).transform(parseDuration).pipe(z.number().positive('must be more than 0'));

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
  // client-go's defaults: the Lease is valid 15 s after its last renewal; the leader gives up after
  // failing to renew for 10 s; candidates and the leader try every 2 s.
  leaseDurationMs: durationMs.default(15_000),
  renewDeadlineMs: durationMs.default(10_000),
  retryPeriodMs: durationMs.default(2_000),
  identity: z.string().min(1),
  alertmanagerToken: z.string().optional(),
  webhookSecret: z.string().optional(),
  concurrency: z.coerce.number().int().min(1).max(256).default(64),
  githubApiUrl: z.string().regex(/^https?:\/\/\S+$/, 'must be an http(s) URL').default('https://api.github.com'),
  parityImage: z.string().min(1).optional(),
  parityImagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
  parityPodTemplate: z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `must be JSON: ${(err as Error).message}` });
        return z.NEVER;
      }
    })
    .pipe(z.strictObject({
      nodeSelector: z.record(z.string(), z.string()).optional(),
      tolerations: z.array(z.record(z.string(), z.unknown())).optional(),
      resources: z.record(z.string(), z.unknown()).optional(),
      podLabels: z.record(z.string(), z.string()).optional(),
      networkPolicy: z.strictObject({ apiServerPorts: z.array(z.int().min(1).max(65535)).min(1) }).optional(),
      imagePullSecrets: z.array(z.strictObject({ name: z.string().min(1) })).optional(),
    }))
    .optional(),
}).refine((c) => c.renewDeadlineMs < c.leaseDurationMs, { path: ['renewDeadlineMs'], message: 'must be shorter than --leader-election-lease-duration' })
  .refine((c) => c.retryPeriodMs < c.renewDeadlineMs, { path: ['retryPeriodMs'], message: 'must be shorter than --leader-election-renew-deadline' });
export type OperatorConfig = z.infer<typeof ConfigSchema>;

/** What the user sets for each field: errors name these, never the internal field names. */
const SETTING: Readonly<Record<keyof OperatorConfig, string>> = {
  kubeconfig: '--kubeconfig (KUBECONFIG)',
  namespaces: '--namespaces (WATCH_NAMESPACES)',
  prometheusUrl: '--prometheus-url (CUTOVER_PROMETHEUS_URL)',
  logLevel: '--log-level (LOG_LEVEL)',
  host: '--host (HOST)',
  port: '--port (PORT)',
  leaderElect: '--leader-elect (LEADER_ELECT)',
  leaderElectionNamespace: '--leader-election-namespace (POD_NAMESPACE)',
  leaderElectionId: '--leader-election-id',
  leaseDurationMs: '--leader-election-lease-duration (LEADER_ELECTION_LEASE_DURATION)',
  renewDeadlineMs: '--leader-election-renew-deadline (LEADER_ELECTION_RENEW_DEADLINE)',
  retryPeriodMs: '--leader-election-retry-period (LEADER_ELECTION_RETRY_PERIOD)',
  identity: 'POD_NAME',
  alertmanagerToken: 'CUTOVER_ALERTMANAGER_TOKEN',
  webhookSecret: 'CUTOVER_WEBHOOK_HMAC_SECRET',
  concurrency: '--concurrency (CUTOVER_CONCURRENCY)',
  githubApiUrl: '--github-api-url (CUTOVER_GITHUB_API_URL)',
  parityImage: '--parity-image (CUTOVER_PARITY_IMAGE)',
  parityImagePullPolicy: '--parity-image-pull-policy (CUTOVER_PARITY_IMAGE_PULL_POLICY)',
  parityPodTemplate: '--parity-pod-template (CUTOVER_PARITY_POD_TEMPLATE)',
};

export const USAGE = `usage: cutover [flags]   (each flag also reads the environment variable named)
  --kubeconfig PATH                 KUBECONFIG; default ~/.kube/config, then in-cluster
  --namespaces a,b                  WATCH_NAMESPACES; default all namespaces
  --prometheus-url URL              CUTOVER_PROMETHEUS_URL; default http://prometheus.monitoring:9090
  --log-level LEVEL                 LOG_LEVEL; trace|debug|info|warn|error; default info
  --host ADDR --port N              HOST, PORT; /healthz /readyz /metrics /hooks/*; default 0.0.0.0:8080
  --leader-elect[=false]            LEADER_ELECT; default false (the Helm chart turns it on)
  --leader-election-namespace NS    POD_NAMESPACE
  --leader-election-id NAME         default cutover-leader
  --leader-election-lease-duration D   LEADER_ELECTION_LEASE_DURATION; a standby takes over this long after the
                                    leader's last renewal; default 15s
  --leader-election-renew-deadline D   LEADER_ELECTION_RENEW_DEADLINE; the leader stops reconciling if it could not
                                    renew for this long; default 10s (shorter than the lease duration)
  --leader-election-retry-period D     LEADER_ELECTION_RETRY_PERIOD; between acquire/renew attempts; default 2s
  --concurrency N                   parallel reconciles per controller; default 64 (reconciles wait on I/O)
  --github-api-url URL              CUTOVER_GITHUB_API_URL; spec.notify.github target; default https://api.github.com
                                    (GitHub Enterprise: https://HOST/api/v3)
  --parity-image IMAGE              CUTOVER_PARITY_IMAGE; the image of the parity comparators (this operator's image:
                                    the chart sets it); unset: a ShadowRun with parity is Stalled
  --parity-image-pull-policy P      CUTOVER_PARITY_IMAGE_PULL_POLICY; Always|IfNotPresent|Never
  --parity-pod-template JSON        CUTOVER_PARITY_POD_TEMPLATE; {nodeSelector, tolerations, resources, podLabels,
                                    imagePullSecrets, networkPolicy: {apiServerPorts}} of the comparator pods (with networkPolicy
                                    each comparator gets a NetworkPolicy)
  hook secrets: CUTOVER_ALERTMANAGER_TOKEN (bearer token), CUTOVER_WEBHOOK_HMAC_SECRET (HMAC key)`;

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): OperatorConfig {
  const { values } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      kubeconfig: { type: 'string' }, namespaces: { type: 'string' }, 'prometheus-url': { type: 'string' },
      'log-level': { type: 'string' }, host: { type: 'string' }, port: { type: 'string' },
      'leader-elect': { type: 'string' }, 'leader-election-namespace': { type: 'string' }, 'leader-election-id': { type: 'string' },
      'leader-election-lease-duration': { type: 'string' }, 'leader-election-renew-deadline': { type: 'string' }, 'leader-election-retry-period': { type: 'string' },
      concurrency: { type: 'string' }, 'github-api-url': { type: 'string' }, help: { type: 'boolean' },
      'parity-image': { type: 'string' }, 'parity-image-pull-policy': { type: 'string' }, 'parity-pod-template': { type: 'string' },
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
    leaseDurationMs: pick(values['leader-election-lease-duration'], env.LEADER_ELECTION_LEASE_DURATION),
    renewDeadlineMs: pick(values['leader-election-renew-deadline'], env.LEADER_ELECTION_RENEW_DEADLINE),
    retryPeriodMs: pick(values['leader-election-retry-period'], env.LEADER_ELECTION_RETRY_PERIOD),
    identity: pick(env.POD_NAME, `${(env.HOSTNAME ?? 'cutover')}-${process.pid}`),
    alertmanagerToken: pick(env.CUTOVER_ALERTMANAGER_TOKEN),
    webhookSecret: pick(env.CUTOVER_WEBHOOK_HMAC_SECRET),
    concurrency: pick(values.concurrency, env.CUTOVER_CONCURRENCY),
    githubApiUrl: pick(values['github-api-url'], env.CUTOVER_GITHUB_API_URL),
    parityImage: pick(values['parity-image'], env.CUTOVER_PARITY_IMAGE),
    parityImagePullPolicy: pick(values['parity-image-pull-policy'], env.CUTOVER_PARITY_IMAGE_PULL_POLICY),
    parityPodTemplate: pick(values['parity-pod-template'], env.CUTOVER_PARITY_POD_TEMPLATE),
  });
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    const field = i.path[0];
    const setting = typeof field === 'string' && field in SETTING ? SETTING[field as keyof OperatorConfig] : i.path.join('.');
    throw new Error(`invalid configuration: ${setting}: ${i.message}\n${USAGE}`);
  }
  return parsed.data;
}
