// Valid and invalid manifests of the three kinds, shared by the unit tests (zod) and the
// admission test against the real API server (CRD schema + CEL): both layers must agree.
import { API_VERSION } from '../../../operator/src/api/index.ts';

type Obj = Record<string, unknown>;
// Test fixtures are edited freely; a loose type keeps the mutations short.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

export interface InvalidCase {
  name: string;
  kind: 'TrafficShift' | 'ShadowRun' | 'MigrationSlice';
  manifest: Obj;
  /** The field both the API server and the zod parser must name, e.g. `spec.steps[1].weight`. */
  field: string;
  /** Text both must say, when the case is about a clear message (refused promises). */
  message?: string;
}

function meta(name: string): Obj {
  return { name };
}

export function validTrafficShift(name = 'listings-read'): Obj {
  return {
    apiVersion: API_VERSION,
    kind: 'TrafficShift',
    metadata: meta(name),
    spec: {
      route: { httpRoute: { name: 'listings', ruleIndex: 0 } },
      stable: { service: 'monolith', port: 8080 },
      canary: { service: 'listings-api', port: 8080 },
      steps: [
        { weight: 10, pause: '5m' },
        { weight: 50, pause: '30m' },
        { weight: 100, pause: '1h' },
      ],
      analysis: {
        interval: '30s',
        failureLimit: 2,
        inconclusiveLimit: 3,
        onInconclusive: 'Pause',
        metrics: [
          {
            name: 'error-rate',
            prometheus: {
              address: 'http://prometheus.monitoring:9090',
              query:
                'sum(rate(http_requests_total{service="{{canary.service}}",code=~"5.."}[1m])) / sum(rate(http_requests_total{service="{{canary.service}}"}[1m]))',
            },
            max: 0.01,
          },
          {
            name: 'p95-vs-legacy',
            prometheus: {
              query: 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{service="{{canary.service}}"}[1m])))',
              baselineQuery: 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{service="{{stable.service}}"}[1m])))',
            },
            maxRatio: 1.1,
          },
        ],
      },
      workers: [{ deployment: 'score-worker', replicas: 3, legacy: { deployment: 'monolith-worker', replicas: 0 } }],
      rollback: { automatic: true, alerts: [{ matchLabels: { service: 'listings-api' } }] },
      progressDeadline: '10m',
      notify: {
        github: { owner: 'acme', repo: 'shop', environment: 'production', tokenSecret: { name: 'github-token', key: 'token' }, openIssueOnRollback: true },
        webhooks: [{ url: 'https://hooks.example.com/cutover', secretRef: { name: 'hook-secret', key: 'hmac' } }],
      },
    },
  };
}

export function minimalTrafficShift(name = 'orders-v2'): Obj {
  return {
    apiVersion: API_VERSION,
    kind: 'TrafficShift',
    metadata: meta(name),
    spec: {
      route: { httpRoute: { name: 'orders' } },
      stable: { service: 'orders-v1', port: 80 },
      canary: { service: 'orders-v2', port: 80 },
      steps: [{ weight: 100, pause: '0s' }],
    },
  };
}

export function validShadowRun(name = 'search-shadow'): Obj {
  return {
    apiVersion: API_VERSION,
    kind: 'ShadowRun',
    metadata: meta(name),
    spec: {
      route: { httpRoute: { name: 'search' } },
      primary: { service: 'monolith', port: 8080 },
      shadow: { service: 'search-api', port: 8080 },
      percent: 100,
      duration: '168h',
      analysis: {
        interval: '1m',
        metrics: [
          {
            name: 'error-rate-diff',
            prometheus: {
              query: 'sum(rate(http_requests_total{service="{{shadow.service}}",code=~"5.."}[5m])) / sum(rate(http_requests_total{service="{{shadow.service}}"}[5m]))',
              baselineQuery:
                'sum(rate(http_requests_total{service="{{primary.service}}",code=~"5.."}[5m])) / sum(rate(http_requests_total{service="{{primary.service}}"}[5m]))',
            },
            maxDiffPoints: 0.005,
          },
          { name: 'p95', prometheus: { query: 'histogram_quantile(0.95, rate(x[5m]))' }, max: 0.5 },
        ],
      },
    },
  };
}

export function validMigrationSlice(name = 'score-worker-extraction'): Obj {
  return {
    apiVersion: API_VERSION,
    kind: 'MigrationSlice',
    metadata: meta(name),
    spec: {
      owner: 'team-scoring',
      rollbackPlan: 'Set weight back to the monolith, scale score-worker to 0 and monolith-worker back to 2; the flag score.extracted goes back to false.',
      legacy: { service: 'monolith', port: 8080 },
      target: { service: 'score-api', port: 8080 },
      route: { httpRoute: { name: 'score', ruleIndex: 1 } },
      workers: [{ deployment: 'score-worker', replicas: 3, legacy: { deployment: 'monolith-worker', replicas: 0 } }],
      featureFlag: { configMap: 'flags', key: 'score.extracted' },
      shadow: { percent: 50, duration: '168h', analysis: { metrics: [{ name: 'errors', prometheus: { query: 'q' }, max: 0.01 }] } },
      shift: {
        steps: [
          { weight: 10, pause: '24h' },
          { weight: 50, pause: '24h' },
          { weight: 100, pause: '24h' },
        ],
        analysis: { metrics: [{ name: 'p95', prometheus: { query: 'q' }, max: 0.5 }] },
        rollback: { alerts: [{ matchLabels: { alertname: 'ScoreWorkerDown' } }] },
      },
      startWhen: [{ name: 'score-batch-duration', prometheus: { query: 'max(score_batch_duration_seconds)' }, above: 1800, for: '10m' }],
      retireLegacyAfter: '72h',
    },
  };
}

export function minimalMigrationSlice(name = 'dispute-processor'): Obj {
  return {
    apiVersion: API_VERSION,
    kind: 'MigrationSlice',
    metadata: meta(name),
    spec: {
      owner: 'alice@example.com',
      rollbackPlan: 'Route back to v1.',
      legacy: { service: 'api-v1', port: 80 },
      target: { service: 'api-v2', port: 80 },
      route: { httpRoute: { name: 'api' } },
      shift: { steps: [{ weight: 10, pause: '5m' }, { weight: 100, pause: '5m' }] },
    },
  };
}

/** A TrafficShift whose latency is judged statistically against legacy (issue 16). */
export function judgedTrafficShift(name = 'listings-judged'): Obj {
  const m = validTrafficShift(name) as Loose;
  m.spec.analysis.metrics.push({
    name: 'p50-judged',
    prometheus: {
      query: 'histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{service="{{canary.service}}"}[30s])))',
      baselineQuery: 'histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{service="{{stable.service}}"}[30s])))',
    },
    judge: { window: '5m', baselineWindow: '1h', step: '15s', confidence: 0.98, direction: 'increase', allowedIncrease: 1.05, critical: true },
  }, {
    name: 'throughput-judged',
    prometheus: { query: 'sum(rate(orders_total{service="{{canary.service}}"}[1m]))', baselineQuery: 'sum(rate(orders_total{service="{{stable.service}}"}[1m]))' },
    judge: { direction: 'decrease', allowedDecrease: 0.9 },
  });
  m.spec.analysis.scoreThresholds = { pass: 90, marginal: 75 };
  return m as Obj;
}

/** A TrafficShift gated by web checks (api/webcheck.ts) next to a Prometheus metric. */
export function webCheckTrafficShift(name = 'cohortlens-v2'): Obj {
  const m = minimalTrafficShift(name) as Loose;
  m.spec.analysis = {
    interval: '30s',
    metrics: [
      {
        name: 'no-regression',
        web: {
          url: 'http://cohortlens-check.{{namespace}}:8080/compare?new={{canary.service}}',
          jsonPath: '$.delta',
          headers: [
            { name: 'Accept', value: 'application/json' },
            { name: 'Authorization', valueFrom: { secretKeyRef: { name: 'check-token', key: 'bearer' } } },
          ],
          timeout: '3s',
          retries: 1,
        },
        max: 0.05,
      },
      {
        name: 'row-counts',
        web: {
          url: 'https://db-compare.example.com/counts',
          method: 'POST',
          body: '{"tables": ["orders", "users"]}',
          jsonPath: "$.results[0]['count ratio']",
        },
        min: 0.999,
        max: 1.001,
      },
      {
        name: 'secret-body',
        web: { url: 'https://db-compare.example.com/q', method: 'POST', bodyFrom: { secretKeyRef: { name: 'q', key: 'body' } }, jsonPath: '$[-1]' },
        max: 1,
      },
      { name: 'error-rate', prometheus: { query: 'vector(0)' }, max: 0.01 },
    ],
  };
  return m;
}

export const validManifests: ReadonlyArray<{ name: string; manifest: Obj }> = [
  { name: 'TrafficShift, every field (DESIGN §1)', manifest: validTrafficShift() },
  { name: 'TrafficShift, judged metrics with a score', manifest: judgedTrafficShift() },
  { name: 'TrafficShift gated by web checks', manifest: webCheckTrafficShift() },
  { name: 'TrafficShift, minimal', manifest: minimalTrafficShift() },
  { name: 'ShadowRun', manifest: validShadowRun() },
  { name: 'ShadowRun, a judged metric without baselineQuery', manifest: ((m) => { const l = m as Loose; delete l.spec.analysis.metrics[1].max; l.spec.analysis.metrics[1].judge = { window: '30m', step: '1m', direction: 'increase', allowedIncrease: 1.25 }; return m; })(validShadowRun('search-shadow-judged')) },
  { name: 'MigrationSlice, the score worker extraction', manifest: validMigrationSlice() },
  { name: 'MigrationSlice, minimal', manifest: minimalMigrationSlice() },
  { name: 'MigrationSlice, an OpenFeature flag that follows the steps', manifest: ((m) => { (m as Loose).spec.featureFlag = { openFeature: { name: 'score-routing', flag: 'score-events-to-worker' }, mode: 'Percentage' }; return m; })(validMigrationSlice('score-openfeature')) },
  { name: 'MigrationSlice, an HTTP flag endpoint on at step 1', manifest: ((m) => { (m as Loose).spec.featureFlag = { http: { url: 'http://score-api.shop:8080/admin/flags', tokenSecretRef: { name: 'score-admin', key: 'token' }, body: '{"flag":"v2_enabled","enabled":{{value}}}' }, onAtStep: 1 }; return m; })(validMigrationSlice('score-http-flag')) },
];

function invalid(
  kind: InvalidCase['kind'],
  base: () => Obj,
  name: string,
  field: string,
  mutate: (spec: Loose) => void,
  message?: string,
): InvalidCase {
  const manifest = base() as Loose;
  manifest.metadata.name = `bad-${name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')}`.slice(0, 63).replace(/-$/, '');
  mutate(manifest.spec);
  return { name, kind, manifest, field, ...(message !== undefined ? { message } : {}) };
}

const ts = (name: string, field: string, mutate: (spec: Loose) => void, message?: string) => invalid('TrafficShift', validTrafficShift, name, field, mutate, message);
const sr = (name: string, field: string, mutate: (spec: Loose) => void, message?: string) => invalid('ShadowRun', validShadowRun, name, field, mutate, message);
const ms = (name: string, field: string, mutate: (spec: Loose) => void, message?: string) => invalid('MigrationSlice', validMigrationSlice, name, field, mutate, message);

const ONLY_HTTPROUTE = 'only spec.route.httpRoute (Gateway API) is supported in this version';
const ONE_RULE = 'exactly one of ignore, round, relative, sort, keyBy must be set';
const TWO_RULES = { maxMismatchRatio: 0.01, deviations: [{ path: '$.requestId', ignore: true as const, round: 2, reason: 'a new id per request' }] };

const web = (name: string, field: string, mutate: (spec: Loose) => void, message?: string) => invalid('TrafficShift', webCheckTrafficShift, name, field, mutate, message);

export const invalidWebChecks: readonly InvalidCase[] = [
  web('both prometheus and web', 'spec.analysis.metrics[0]', (s) => (s.analysis.metrics[0].prometheus = { query: 'vector(0)' }), 'exactly one of prometheus and web must be set'),
  web('neither prometheus nor web', 'spec.analysis.metrics[0]', (s) => delete s.analysis.metrics[0].web, 'exactly one of prometheus and web must be set'),
  web('web url not http', 'spec.analysis.metrics[0].web.url', (s) => (s.analysis.metrics[0].web.url = 'file:///etc/passwd')),
  web('web jsonPath wildcard', 'spec.analysis.metrics[0].web.jsonPath', (s) => (s.analysis.metrics[0].web.jsonPath = '$.results[*].delta')),
  web('web jsonPath descendant', 'spec.analysis.metrics[0].web.jsonPath', (s) => (s.analysis.metrics[0].web.jsonPath = '$..delta')),
  web('web jsonPath without $', 'spec.analysis.metrics[0].web.jsonPath', (s) => (s.analysis.metrics[0].web.jsonPath = 'delta')),
  web('web method PUT', 'spec.analysis.metrics[0].web.method', (s) => (s.analysis.metrics[0].web.method = 'PUT')),
  web('web body with GET', 'spec.analysis.metrics[0].web.method', (s) => (s.analysis.metrics[0].web.body = '{}'), 'a body needs method: POST'),
  web('web body and bodyFrom', 'spec.analysis.metrics[2].web.bodyFrom', (s) => (s.analysis.metrics[2].web.body = '{}'), 'set body or bodyFrom, not both'),
  web('web header value and valueFrom', 'spec.analysis.metrics[0].web.headers[1]', (s) => (s.analysis.metrics[0].web.headers[1].value = 'x'), 'exactly one of value and valueFrom must be set'),
  web('web header without value', 'spec.analysis.metrics[0].web.headers[0]', (s) => delete s.analysis.metrics[0].web.headers[0].value, 'exactly one of value and valueFrom must be set'),
  web('web header name with a space', 'spec.analysis.metrics[0].web.headers[0].name', (s) => (s.analysis.metrics[0].web.headers[0].name = 'X Token')),
  web('web headers repeated', 'spec.analysis.metrics[0].web.headers', (s) => (s.analysis.metrics[0].web.headers[1].name = 'accept'), 'header names must be unique'),
  web('web timeout zero', 'spec.analysis.metrics[0].web.timeout', (s) => (s.analysis.metrics[0].web.timeout = '0s')),
  web('web retries negative', 'spec.analysis.metrics[0].web.retries', (s) => (s.analysis.metrics[0].web.retries = -1)),
  web('web retries above 10', 'spec.analysis.metrics[0].web.retries', (s) => (s.analysis.metrics[0].web.retries = 11)),
  web('web secretKeyRef without key', 'spec.analysis.metrics[0].web.headers[1].valueFrom.secretKeyRef.key', (s) => delete s.analysis.metrics[0].web.headers[1].valueFrom.secretKeyRef.key),
  web('web check with maxRatio (no baseline)', 'spec.analysis.metrics[0].prometheus.baselineQuery', (s) => (s.analysis.metrics[0].maxRatio = 1.05), 'maxRatio needs prometheus.baselineQuery'),
];

// Statistical judge (issue 16): metrics[2] and [3] of judgedTrafficShift are judged.
const tj = (name: string, field: string, mutate: (spec: Loose) => void, message?: string) => invalid('TrafficShift', judgedTrafficShift, name, field, mutate, message);
const judgeCases: readonly InvalidCase[] = [
  tj('judge without baselineQuery', 'spec.analysis.metrics[2].prometheus.baselineQuery', (s) => delete s.analysis.metrics[2].prometheus.baselineQuery, 'judge needs prometheus.baselineQuery'),
  tj('judge with a threshold too', 'spec.analysis.metrics[2].judge', (s) => (s.analysis.metrics[2].max = 0.5), 'decided by the judge alone'),
  tj('judge confidence 1', 'spec.analysis.metrics[2].judge.confidence', (s) => (s.analysis.metrics[2].judge.confidence = 1)),
  tj('judge direction unknown', 'spec.analysis.metrics[2].judge.direction', (s) => (s.analysis.metrics[2].judge.direction = 'up')),
  tj('judge window below 5 steps', 'spec.analysis.metrics[2].judge.window', (s) => (s.analysis.metrics[2].judge.window = '1m'), 'at least 5 steps'),
  tj('judge window above 500 steps', 'spec.analysis.metrics[2].judge.window', (s) => (s.analysis.metrics[2].judge.window = '3h'), 'at most 500 steps'),
  tj('judge baselineWindow shorter than window', 'spec.analysis.metrics[2].judge.baselineWindow', (s) => (s.analysis.metrics[2].judge.baselineWindow = '4m'), 'at least window'),
  tj('judge baselineWindow above 500 steps', 'spec.analysis.metrics[2].judge.baselineWindow', (s) => (s.analysis.metrics[2].judge.baselineWindow = '3h'), 'at most 500 steps'),
  tj('judge baselineWindow not a duration', 'spec.analysis.metrics[2].judge.baselineWindow', (s) => (s.analysis.metrics[2].judge.baselineWindow = 'an hour')),
  tj('judge step below 1s', 'spec.analysis.metrics[2].judge.step', (s) => (s.analysis.metrics[2].judge.step = '500ms'), 'at least 1s'),
  tj('judge allowedIncrease below 1', 'spec.analysis.metrics[2].judge.allowedIncrease', (s) => (s.analysis.metrics[2].judge.allowedIncrease = 0.9)),
  tj('judge allowedIncrease with direction decrease', 'spec.analysis.metrics[3].judge.allowedIncrease', (s) => (s.analysis.metrics[3].judge.allowedIncrease = 1.2), 'no effect with direction decrease'),
  tj('judge allowedDecrease with direction increase', 'spec.analysis.metrics[2].judge.allowedDecrease', (s) => (s.analysis.metrics[2].judge.allowedDecrease = 0.8), 'no effect with direction increase'),
  tj('judge critical without scoreThresholds', 'spec.analysis.scoreThresholds', (s) => delete s.analysis.scoreThresholds, 'judge.critical needs scoreThresholds'),
  tj('score marginal above pass', 'spec.analysis.scoreThresholds.marginal', (s) => (s.analysis.scoreThresholds = { pass: 70, marginal: 80 })),
  tj('score above 100', 'spec.analysis.scoreThresholds.pass', (s) => (s.analysis.scoreThresholds.pass = 101)),
  ts('scoreThresholds without a judged metric', 'spec.analysis.scoreThresholds', (s) => (s.analysis.scoreThresholds = { pass: 90, marginal: 75 }), 'needs at least one metric with a judge block'),
];

export const invalidTrafficShifts: readonly InvalidCase[] = [
  ...judgeCases,
  ts('weight above 100', 'spec.steps[1].weight', (s) => (s.steps[1].weight = 150)),
  ts('negative weight', 'spec.steps[0].weight', (s) => (s.steps[0].weight = -5)),
  ts('weights decreasing', 'spec.steps', (s) => (s.steps = [{ weight: 50, pause: '1m' }, { weight: 10, pause: '1m' }])),
  ts('weights repeated', 'spec.steps', (s) => (s.steps = [{ weight: 50, pause: '1m' }, { weight: 50, pause: '1m' }])),
  ts('no steps', 'spec.steps', (s) => (s.steps = [])),
  ts('no router', 'spec.route', (s) => (s.route = {})),
  ts('two routers', 'spec.route', (s) => (s.route = { httpRoute: { name: 'a' }, ingress: { name: 'a' } })),
  ts('ingress router (not implemented)', 'spec.route.ingress', (s) => (s.route = { ingress: { name: 'orders' } }), ONLY_HTTPROUTE),
  ts('virtualService router (not implemented)', 'spec.route.virtualService', (s) => (s.route = { virtualService: { name: 'api', route: 'http-primary' } }), ONLY_HTTPROUTE),
  ts('pause not a duration', 'spec.steps[0].pause', (s) => (s.steps[0].pause = '5 minutes')),
  ts('pause in days', 'spec.steps[2].pause', (s) => (s.steps[2].pause = '3d')),
  ts('interval without unit', 'spec.analysis.interval', (s) => (s.analysis.interval = '30')),
  ts('interval zero', 'spec.analysis.interval', (s) => (s.analysis.interval = '0s')),
  ts('failureLimit zero', 'spec.analysis.failureLimit', (s) => (s.analysis.failureLimit = 0)),
  ts('inconclusiveLimit zero', 'spec.analysis.inconclusiveLimit', (s) => (s.analysis.inconclusiveLimit = 0)),
  ts('onInconclusive Promote', 'spec.analysis.onInconclusive', (s) => (s.analysis.onInconclusive = 'Promote')),
  ts('metric without threshold', 'spec.analysis.metrics[0]', (s) => delete s.analysis.metrics[0].max),
  ts('maxRatio without baselineQuery', 'spec.analysis.metrics[1].prometheus.baselineQuery', (s) => delete s.analysis.metrics[1].prometheus.baselineQuery),
  ts('min above max', 'spec.analysis.metrics[0].min', (s) => (s.analysis.metrics[0].min = 0.5)),
  ts('duplicate metric names', 'spec.analysis.metrics', (s) => (s.analysis.metrics[1].name = 'error-rate')),
  ts('metric without query', 'spec.analysis.metrics[0].prometheus.query', (s) => delete s.analysis.metrics[0].prometheus.query),
  ts('port zero', 'spec.stable.port', (s) => (s.stable.port = 0)),
  ts('canary missing', 'spec.canary', (s) => delete s.canary),
  ts('canary equals stable', 'spec.canary', (s) => (s.canary = { service: 'monolith', port: 8080 })),
  ts('service name not DNS', 'spec.canary.service', (s) => (s.canary.service = 'Listings_API')),
  ts('empty alert selector', 'spec.rollback.alerts[0].matchLabels', (s) => (s.rollback.alerts[0].matchLabels = {})),
  ts('legacy worker is the worker', 'spec.workers[0].legacy.deployment', (s) => (s.workers[0].legacy.deployment = 'score-worker')),
  ts('negative replicas', 'spec.workers[0].replicas', (s) => (s.workers[0].replicas = -1)),
  ts('progressDeadline zero', 'spec.progressDeadline', (s) => (s.progressDeadline = '0m')),
  ts('webhook not http', 'spec.notify.webhooks[0].url', (s) => (s.notify.webhooks[0].url = 'ftp://hooks.example.com')),
  ts('unknown field in a step', 'spec.steps[0].wieght', (s) => (s.steps[0] = { wieght: 10, weight: 10, pause: '1m' })),
];

export const invalidShadowRunsAndSlices: readonly InvalidCase[] = [
  sr('judge with maxDiffPoints too', 'spec.analysis.metrics[0].judge', (s) => (s.analysis.metrics[0].judge = { direction: 'increase' }), 'decided by the judge alone'),
  sr('judge critical in a ShadowRun', 'spec.analysis.metrics[1].judge.critical', (s) => { delete s.analysis.metrics[1].max; s.analysis.metrics[1].judge = { critical: true }; }, 'which a ShadowRun does not have'),
  ms('owner missing', 'spec.owner', (s) => delete s.owner),
  ms('owner empty', 'spec.owner', (s) => (s.owner = '')),
  ms('rollbackPlan missing', 'spec.rollbackPlan', (s) => delete s.rollbackPlan),
  ms('rollbackPlan empty', 'spec.rollbackPlan', (s) => (s.rollbackPlan = '')),
  ms('shift weights decreasing', 'spec.shift.steps', (s) => (s.shift.steps = [{ weight: 100, pause: '1h' }, { weight: 10, pause: '1h' }])),
  ms('shift weight above 100', 'spec.shift.steps[2].weight', (s) => (s.shift.steps[2].weight = 101)),
  ms('shadow percent zero', 'spec.shadow.percent', (s) => (s.shadow.percent = 0)),
  ms('shadow duration zero', 'spec.shadow.duration', (s) => (s.shadow.duration = '0h')),
  ms('trigger without bound', 'spec.startWhen[0]', (s) => delete s.startWhen[0].above),
  ms('retireLegacyAfter in days', 'spec.retireLegacyAfter', (s) => (s.retireLegacyAfter = '7d')),
  ms('target equals legacy', 'spec.target', (s) => (s.target = { service: 'monolith', port: 8080 })),
  ms('feature flag key with a space', 'spec.featureFlag.key', (s) => (s.featureFlag.key = 'score extracted')),
  ms('feature flag with two providers', 'spec.featureFlag', (s) => (s.featureFlag.openFeature = { name: 'score-routing', flag: 'score' }), 'exactly one of configMap, openFeature and http must be set'),
  ms('feature flag with no provider', 'spec.featureFlag', (s) => (s.featureFlag = { mode: 'Percentage' }), 'exactly one of configMap, openFeature and http must be set'),
  ms('feature flag configMap without key', 'spec.featureFlag.key', (s) => delete s.featureFlag.key, 'key is required with configMap, and only with it'),
  ms('feature flag onAtStep with Percentage', 'spec.featureFlag.onAtStep', (s) => { s.featureFlag.mode = 'Percentage'; s.featureFlag.onAtStep = 1; }, 'onAtStep applies to mode OnOff only'),
  ms('feature flag onAtStep past the last step', 'spec.featureFlag.onAtStep', (s) => (s.featureFlag.onAtStep = 3), 'featureFlag.onAtStep must be the index of a step of shift.steps'),
  ms('feature flag http body without {{value}}', 'spec.featureFlag.http.body', (s) => (s.featureFlag = { http: { url: 'http://a/admin/flags', body: '{"enabled":true}' } }), 'body must contain {{value}}'),
  ms('feature flag mode unknown', 'spec.featureFlag.mode', (s) => (s.featureFlag.mode = 'Sometimes')),
  ms('two routers', 'spec.route', (s) => (s.route = { httpRoute: { name: 'a' }, virtualService: { name: 'a', route: 'b' } })),
  sr('percent zero', 'spec.percent', (s) => (s.percent = 0)),
  sr('percent above 100', 'spec.percent', (s) => (s.percent = 101)),
  sr('duration zero', 'spec.duration', (s) => (s.duration = '0s')),
  sr('duration not a duration', 'spec.duration', (s) => (s.duration = 'forever')),
  sr('no router', 'spec.route', (s) => (s.route = {})),
  sr('maxDiffPoints without baselineQuery', 'spec.analysis.metrics[0].prometheus.baselineQuery', (s) => delete s.analysis.metrics[0].prometheus.baselineQuery),
  sr('shadow equals primary', 'spec.shadow', (s) => (s.shadow = { service: 'monolith', port: 8080 })),
  sr('parity deviation with two rules', 'spec.parity.deviations[0]', (s) => (s.parity = TWO_RULES), ONE_RULE),
  sr('ingress router (not implemented)', 'spec.route.ingress', (s) => (s.route = { ingress: { name: 'search' } }), ONLY_HTTPROUTE),
  ms('shadow stage parity deviation with two rules', 'spec.shadow.parity.deviations[0]', (s) => (s.shadow.parity = TWO_RULES), ONE_RULE),
  ms('virtualService router (not implemented)', 'spec.route.virtualService', (s) => (s.route = { virtualService: { name: 'api', route: 'http-primary' } }), ONLY_HTTPROUTE),
];
