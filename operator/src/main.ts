// The operator process: configuration, the Kubernetes client, informers, controllers, the HTTP server.
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, type OperatorConfig } from './config.ts';
import { createLogger, type Logger } from './runtime/logger.ts';
import { gauge, registry } from './runtime/metrics.ts';
import { realClock } from './runtime/clock.ts';
import { CONFIG_MAP, EventRecorder, HTTP_ROUTE, Informer, KubeClient, LeaderElector, MIGRATION_SLICE, SHADOW_RUN, TRAFFIC_SHIFT, isForbidden, isKubeApiError, isNotFound, type KubeObject, type ResourceType } from './kube/index.ts';
import { MultiStore } from './controllers/shared/store.ts';
import { TrafficShiftController, type TrafficShiftObject } from './controllers/trafficshift/controller.ts';
import { ShiftMetrics } from './controllers/trafficshift/metrics.ts';
import { ShadowRunController, type ConfigMapObject, type ShadowRunObject } from './controllers/shadowrun/controller.ts';
import { PARITY_SUMMARY_LABEL } from './parity/workload.ts';
import { ShadowMetrics } from './controllers/shadowrun/metrics.ts';
import { MigrationSliceController, type MigrationSliceObject } from './controllers/migrationslice/controller.ts';
import { SliceMetrics } from './controllers/migrationslice/metrics.ts';
import { GatewayApiRouter } from './traffic/gateway-api.ts';
import { CachedRouteClient } from './traffic/router.ts';
import { PrometheusProvider } from './analysis/prometheus.ts';
import { WebCheckProvider } from './analysis/webcheck.ts';
import { HookServer } from './hooks/server.ts';
import { Notifier, kubeSecretReader } from './notify/notifier.ts';

const REQUIRED_KINDS: ResourceType[] = [TRAFFIC_SHIFT, SHADOW_RUN, MIGRATION_SLICE];

/**
 * The CRDs are installed and the operator may list its kinds where it watches. Probed with a list
 * that matches nothing (served from the watch cache), not by reading the CRDs: the chart's RBAC
 * grants no access to CustomResourceDefinitions, and in namespaced mode nothing cluster-wide at all.
 */
/**
 * Retries a startup request while the API server is up but not ready (5xx, 429 — e.g. "storage is
 * (re)initializing" right after a CRD is installed) for up to 30 s, and while nothing answers for a
 * few seconds only, so that "no cluster" still fails fast with a clear message.
 */
async function untilAnswered<T>(request: () => Promise<T>, log: Logger): Promise<T> {
  const start = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (err) {
      const code = isKubeApiError(err) ? err.code : undefined;
      const notReady = code !== undefined && (code === 429 || code >= 500);
      const noAnswer = code === undefined || code === 0;
      const budget = notReady ? 30_000 : noAnswer ? 3_000 : 0;
      if (Date.now() - start >= budget) throw err;
      log.info({ attempt, err: (err as Error).message }, 'API server not ready yet; retrying');
      await sleep(Math.min(2000, 200 * attempt));
    }
  }
}

async function checkCluster(client: KubeClient, cfg: OperatorConfig, log: Logger): Promise<void> {
  const namespaces = cfg.namespaces.length ? cfg.namespaces : [undefined];
  for (const type of REQUIRED_KINDS) {
    const crd = `${type.plural}.${type.group}`;
    await Promise.all(namespaces.map(async (namespace) => {
      try {
        await untilAnswered(() => client.list(type, { namespace, labelSelector: 'cutover.dev/startup-check=none', pageSize: 1, resourceVersion: '0' }), log);
      } catch (err) {
        const where = namespace ? `in namespace ${namespace}` : 'in all namespaces';
        if (isNotFound(err)) throw new Error(`the CustomResourceDefinition ${crd} is not installed: run "kubectl apply --server-side -f crds/" (or install the Helm chart) first`);
        if (isForbidden(err)) throw new Error(`not allowed to list ${crd} ${where}: grant the operator's RBAC (charts/cutover, or see its README) or pass --namespaces: ${(err as Error).message}`);
        throw new Error(`cannot reach the Kubernetes API server at ${client.server}: ${(err as Error).message}`);
      }
    }));
  }
  log.info({ server: client.server }, 'cluster reachable, CRDs installed');
}

function informers<T extends KubeObject>(client: KubeClient, cfg: OperatorConfig, log: Logger, type: ResourceType = TRAFFIC_SHIFT, labelSelector?: string): { store: MultiStore<T>; all: Array<Informer<T>> } {
  const sel = labelSelector ? { labelSelector } : {};
  const list = cfg.namespaces.length === 0
    ? [{ namespace: undefined, informer: new Informer<T>(client, type, { logger: log, ...sel }) }]
    : cfg.namespaces.map((ns) => ({ namespace: ns, informer: new Informer<T>(client, type, { namespace: ns, logger: log, ...sel }) }));
  return { store: new MultiStore<T>(list), all: list.map((l) => l.informer) };
}

export async function main(argv = process.argv.slice(2), env = process.env): Promise<void> {
  const cfg = loadConfig(argv, env);
  const log = createLogger({ level: cfg.logLevel, name: 'cutover' });
  const client = KubeClient.load(cfg.kubeconfig ? { kubeconfig: cfg.kubeconfig } : {});
  await checkCluster(client, cfg, log);

  const events = new EventRecorder(client, { logger: log, reportingInstance: cfg.identity });
  const shifts = informers<TrafficShiftObject>(client, cfg, log);
  const runs = informers<ShadowRunObject>(client, cfg, log, SHADOW_RUN);
  const slices = informers<MigrationSliceObject>(client, cfg, log, MIGRATION_SLICE);
  // Routes: read from a watch-fed cache (no GET per analysis tick) and watched so that a GitOps
  // re-apply that resets the weights is answered within one reconcile. Not awaited for readiness:
  // a cluster without the Gateway API CRDs still runs the other routers (reads fall back to GETs).
  const routes = informers<KubeObject>(client, cfg, log, HTTP_ROUTE);
  // The parity comparators' summary ConfigMaps (only those: a label selector), so a comparator's
  // write re-reconciles its run at once. Not awaited for readiness: reads fall back to GETs.
  const summaries = informers<ConfigMapObject>(client, cfg, log, CONFIG_MAP, `${PARITY_SUMMARY_LABEL}=true`);
  const router = new GatewayApiRouter(new CachedRouteClient(client, HTTP_ROUTE.plural, routes.store));
  const prometheus = new PrometheusProvider({ defaultAddress: cfg.prometheusUrl, registry });
  const web = new WebCheckProvider({ readSecret: kubeSecretReader(client), registry });
  const notifier = new Notifier({ readSecret: kubeSecretReader(client), githubApiUrl: cfg.githubApiUrl, logger: log.child({ component: 'notify' }), registry });
  const trafficShifts = new TrafficShiftController({
    client, informer: shifts.store, router, prometheus, web, defaultPrometheusUrl: cfg.prometheusUrl,
    events, clock: realClock, logger: log.child({ controller: 'trafficshift' }), metrics: new ShiftMetrics(registry), concurrency: cfg.concurrency,
    notifier, namespaces: cfg.namespaces,
  });
  const shadowRuns = new ShadowRunController({
    client, informer: runs.store, router, prometheus, web, defaultPrometheusUrl: cfg.prometheusUrl,
    events, clock: realClock, logger: log.child({ controller: 'shadowrun' }), metrics: new ShadowMetrics(registry), concurrency: cfg.concurrency,
    paritySummaries: summaries.store,
    parityPlacement: cfg.parityImage ? {
      image: cfg.parityImage,
      imagePullPolicy: cfg.parityImagePullPolicy,
      nodeSelector: cfg.parityPodTemplate?.nodeSelector,
      tolerations: cfg.parityPodTemplate?.tolerations,
      resources: cfg.parityPodTemplate?.resources,
      podLabels: cfg.parityPodTemplate?.podLabels,
      networkPolicy: cfg.parityPodTemplate?.networkPolicy,
      imagePullSecrets: cfg.parityPodTemplate?.imagePullSecrets,
    } : undefined,
  });
  shadowRuns.watchParitySummaries(summaries.store);
  const migrationSlices = new MigrationSliceController({
    client, informer: slices.store, shadowRuns: runs.store, trafficShifts: shifts.store,
    router, prometheus, web, defaultPrometheusUrl: cfg.prometheusUrl,
    events, clock: realClock, logger: log.child({ controller: 'migrationslice' }), metrics: new SliceMetrics(registry), concurrency: cfg.concurrency,
    notifier,
  });
  const allInformers: Array<{ start(): void; stop(): Promise<void>; synced: Promise<void> }> = [...shifts.all, ...runs.all, ...slices.all];
  trafficShifts.watchRoutes(routes.store);

  const server = new HookServer({
    host: cfg.host, port: cfg.port, logger: log.child({ component: 'hooks' }), registry,
    ready: () => shifts.store.hasSynced && runs.store.hasSynced && slices.store.hasSynced,
    // A standby does not act on hooks (the leader does): it answers 503 so the caller retries.
    acting: () => !cfg.leaderElect || Boolean(elector?.isLeader),
    alertmanagerToken: cfg.alertmanagerToken, webhookSecret: cfg.webhookSecret,
    targets: [trafficShifts, migrationSlices],
  });
  const port = await server.listen();
  log.info({ port, namespaces: cfg.namespaces.length ? cfg.namespaces : 'all', prometheus: cfg.prometheusUrl }, 'serving /healthz /readyz /metrics /hooks');

  let stopping = false;
  for (const i of allInformers) i.start();
  for (const i of [...routes.all, ...summaries.all]) i.start();
  await Promise.all(allInformers.map((i) => i.synced));
  const startControllers = () => {
    trafficShifts.start();
    shadowRuns.start();
    migrationSlices.start();
    log.info({ identity: cfg.identity }, 'controllers started');
  };
  const leaderGauge = gauge({ name: 'cutover_leader_is_leader', help: '1 while this replica holds the leader Lease (always 1 without leader election).', registry });
  const election = new AbortController();
  let elector: LeaderElector | undefined;
  let electionDone: Promise<void> | undefined;
  if (cfg.leaderElect) {
    leaderGauge.set(0);
    elector = new LeaderElector(client, {
      namespace: cfg.leaderElectionNamespace, name: cfg.leaderElectionId, identity: cfg.identity,
      leaseDurationMs: cfg.leaseDurationMs, renewDeadlineMs: cfg.renewDeadlineMs, retryPeriodMs: cfg.retryPeriodMs,
      logger: log.child({ component: 'leader-election' }),
      onStartedLeading: () => { leaderGauge.set(1); startControllers(); },
      onStoppedLeading: () => {
        leaderGauge.set(0);
        if (stopping) return;
        // Lost the Lease: another replica may already be acting. Stop reconciling at once and exit;
        // the Deployment restarts this pod as a standby.
        log.error({ identity: cfg.identity }, 'lost leadership: exiting');
        process.exit(1);
      },
    });
    electionDone = elector.run(election.signal);
    log.info({ identity: cfg.identity, lease: `${cfg.leaderElectionNamespace}/${cfg.leaderElectionId}`, leaseDurationMs: cfg.leaseDurationMs, renewDeadlineMs: cfg.renewDeadlineMs, retryPeriodMs: cfg.retryPeriodMs }, 'leader election: campaigning');
  } else {
    leaderGauge.set(1);
    startControllers();
  }

  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: finishing in-flight reconciles');
    await Promise.all([migrationSlices.stop(), shadowRuns.stop(), trafficShifts.stop()]);
    // In-flight reconciles are done: hand the Lease over at once (releaseOnStop).
    election.abort();
    await electionDone;
    await Promise.all([...allInformers, ...routes.all, ...summaries.all].map((i) => i.stop()));
    await events.flush().catch(() => {});
    await Promise.race([notifier.flush(), sleep(5000)]); // notifications in flight, briefly
    await server.close();
    client.close();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

if (import.meta.main) {
  main().catch((err: unknown) => {
    process.stderr.write(`cutover: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
