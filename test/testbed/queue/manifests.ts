// The queue of the worker-cutover tests as Kubernetes objects on the testbed's real node: Redis (a
// Deployment of Debian's redis-server behind the Service `redis`) and consumer Deployments of the
// test worker (worker.ts). Pure: strings of YAML, applied by queue/cluster.ts.
import { QUEUE_WORKER_IMAGE, REDIS_IMAGE } from '../images.ts';
import { REAL_NODE_LABEL, REAL_NODE_TAINT } from '../realnode.ts';

export const REDIS_SERVICE = 'redis';
export const REDIS_PORT = 6379;
/** Where the worker serves /metrics and /ready in its pod. */
export const WORKER_METRICS_PORT = 8080;
/** The label that selects a consumer Deployment's pods (its value: the Deployment's name). */
export const CONSUMER_LABEL = 'testbed.cutover.dev/queue-consumer';
/** The label that says which version of the consumer a pod runs (its value: `version`). */
export const VERSION_LABEL = 'app.kubernetes.io/version';
const MANAGED_BY = 'testbed.cutover.dev';

/** Redis as pods reach it: the Service's DNS name in `namespace`. */
export const redisUrlInCluster = (namespace: string): string => `redis://${REDIS_SERVICE}.${namespace}.svc.cluster.local:${REDIS_PORT}`;

const placement = `      nodeSelector: {${REAL_NODE_LABEL.key}: ${REAL_NODE_LABEL.value}}
      tolerations: [{key: ${REAL_NODE_TAINT.key}, operator: Equal, value: "${REAL_NODE_TAINT.value}", effect: ${REAL_NODE_TAINT.effect}}]
      enableServiceLinks: false
      automountServiceAccountToken: false`;

/**
 * The namespace, Redis (one pod, nothing persisted: the queue lives as long as the test) and its
 * Service. Redis listens on its pod IP (the Service's endpoint, and what the host reaches on the node's
 * bridge) and on its loopback; `noeviction`, as BullMQ requires.
 */
export function redisManifests(namespace: string): string {
  const labels = `{app.kubernetes.io/name: redis, app.kubernetes.io/managed-by: ${MANAGED_BY}}`;
  const args = ['--bind', '$(POD_IP)', '127.0.0.1', '--port', String(REDIS_PORT), '--protected-mode', 'no', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--dir', '/data'];
  return `apiVersion: v1
kind: Namespace
metadata: {name: ${namespace}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${REDIS_SERVICE}, namespace: ${namespace}, labels: ${labels}}
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector: {matchLabels: {app.kubernetes.io/name: redis}}
  template:
    metadata: {labels: ${labels}}
    spec:
${placement}
      terminationGracePeriodSeconds: 2
      containers:
      - name: redis
        image: ${REDIS_IMAGE}
        imagePullPolicy: Never
        args: ${JSON.stringify(args)}
        env: [{name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]
        ports: [{name: redis, containerPort: ${REDIS_PORT}}]
        readinessProbe: {tcpSocket: {port: ${REDIS_PORT}}, periodSeconds: 1}
        resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {memory: 256Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: ${REDIS_SERVICE}, namespace: ${namespace}, labels: ${labels}}
spec:
  selector: {app.kubernetes.io/name: redis}
  ports: [{name: redis, port: ${REDIS_PORT}, targetPort: redis, protocol: TCP}]
`;
}

export interface ConsumerOptions {
  namespace: string;
  /** The Deployment's name (e.g. monolith-worker, score-worker). */
  name: string;
  /** The version label and the `version` of every job it processes and of its metrics (e.g. legacy, new). */
  version: string;
  queue: string;
  replicas: number;
  /** Jobs processed at once per pod (default 1). */
  concurrency?: number;
  /** Share of jobs that throw, 0..1 (default 0), spread evenly over each pod's jobs. */
  failRatio?: number;
  /** Processing time per job, ms (default 0). */
  delayMs?: number;
  /**
   * Seconds between SIGTERM and SIGKILL (default 10). On SIGTERM the worker stops taking jobs and
   * lets its active ones finish: this must exceed the longest job (`delayMs`) or the jobs still active
   * at SIGKILL stay locked until BullMQ's stalled-job check (lockDuration, 30 s) hands them to another
   * consumer. It also bounds how long a scale-down of the new consumers (a rollback) takes.
   */
  terminationGracePeriodSeconds?: number;
  /** Redis as the pods reach it (default: the Service of `namespace`, redisUrlInCluster). */
  redisUrl?: string;
}

/**
 * A consumer Deployment: pods of the worker image on the real node, scraped through the
 * `prometheus.io/*` annotations (test/testbed/pod-scrape.ts keeps them as targets on the testbed),
 * Ready only while consuming (GET /ready), so `readyReplicas` is the number of processes consuming.
 */
export function consumerManifests(o: ConsumerOptions): string {
  const env: Array<Record<string, unknown>> = [
    { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: 'QUEUE_NAME', value: o.queue },
    { name: 'REDIS_URL', value: o.redisUrl ?? redisUrlInCluster(o.namespace) },
    { name: 'CONCURRENCY', value: String(o.concurrency ?? 1) },
    { name: 'FAIL_RATIO', value: String(o.failRatio ?? 0) },
    { name: 'DELAY_MS', value: String(o.delayMs ?? 0) },
    { name: 'WORKER_VERSION', value: o.version },
    { name: 'DEPLOYMENT_NAME', value: o.name },
    { name: 'LISTEN', value: `$(POD_IP):${WORKER_METRICS_PORT}` },
  ];
  const labels = `{${CONSUMER_LABEL}: ${o.name}, ${VERSION_LABEL}: "${o.version}", app.kubernetes.io/managed-by: ${MANAGED_BY}}`;
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${o.name}, namespace: ${o.namespace}, labels: ${labels}}
spec:
  replicas: ${o.replicas}
  selector: {matchLabels: {${CONSUMER_LABEL}: ${o.name}}}
  template:
    metadata:
      labels: ${labels}
      annotations: {prometheus.io/scrape: "true", prometheus.io/port: "${WORKER_METRICS_PORT}", prometheus.io/path: /metrics}
    spec:
${placement}
      terminationGracePeriodSeconds: ${o.terminationGracePeriodSeconds ?? 10}
      containers:
      - name: worker
        image: ${QUEUE_WORKER_IMAGE}
        imagePullPolicy: Never
        env: ${JSON.stringify(env)}
        ports: [{name: metrics, containerPort: ${WORKER_METRICS_PORT}}]
        readinessProbe: {httpGet: {path: /ready, port: ${WORKER_METRICS_PORT}}, periodSeconds: 1, failureThreshold: 2}
        resources: {requests: {cpu: 10m, memory: 48Mi}, limits: {memory: 256Mi}}
`;
}
