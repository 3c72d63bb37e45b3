// The comparator of one run as Kubernetes objects (pure): a Deployment running the operator's image
// with the comparator entrypoint, a Service the route's RequestMirror points at, the ConfigMap the
// comparator keeps its summary in (the operator watches it), and the comparator's identity: a
// ServiceAccount whose Role allows get/patch on that one ConfigMap and nothing else. All of
// them live in the run's namespace (the route's backendRef needs no ReferenceGrant, and the
// comparator holds no right outside it) and are owned by the run (ownerReferences: deleting the run
// deletes them).
import type { ComparatorConfig } from './server.ts';

/** A short stable hash (FNV-1a, 2 × 32 bits, hex): names and config stamps, not security. */
export function shortHash(text: string, hexChars = 16): string {
  let out = '';
  for (const seed of [0x811c9dc5, 0x01000193 ^ 0x5bd1e995]) {
    let h = seed >>> 0;
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    out += h.toString(16).padStart(8, '0');
  }
  return out.slice(0, hexChars);
}

/** Ports of the comparator container: mirrored requests, and /healthz /metrics /summary /report. */
export const MIRROR_PORT = 8080;
export const ADMIN_PORT = 9090;
/** The ConfigMap key holding the serialized ParitySummary; `state.json` holds the breaker state. */
export const SUMMARY_KEY = 'summary.json';
export const STATE_KEY = 'state.json';
/** Label on every comparator object: the run's name (or its hash when too long for a label). */
export const PARITY_RUN_LABEL = 'cutover.dev/parity-run';
/** Label on the summary ConfigMap only: what the operator's ConfigMap watch selects. */
export const PARITY_SUMMARY_LABEL = 'cutover.dev/parity-summary';
/** Annotation on the summary ConfigMap: the run it belongs to (names may be longer than a label value). */
export const PARITY_RUN_ANNOTATION = 'cutover.dev/shadowrun';
/** The field manager the comparator writes its summary with. */
export const COMPARATOR_FIELD_MANAGER = 'cutover-parity';

/** Where and how the comparator pods run: the operator's --parity-* settings (the chart sets them). */
export interface ComparatorPlacement {
  image: string;
  imagePullPolicy?: string | undefined;
  nodeSelector?: Record<string, string> | undefined;
  tolerations?: unknown[] | undefined;
  resources?: Record<string, unknown> | undefined;
  /** Extra labels on the comparator pods (e.g. what a NetworkPolicy selects). */
  podLabels?: Record<string, string> | undefined;
  /** Pull secrets (in the run's namespace) for the image. */
  imagePullSecrets?: Array<{ name: string }> | undefined;
  /** Give each comparator a NetworkPolicy (the API server's endpoint ports for its egress). */
  networkPolicy?: { apiServerPorts: number[] } | undefined;
}

export interface RunIdentity {
  namespace: string;
  name: string;
  uid: string;
  apiVersion: string;
  kind: string;
}

const DNS_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/**
 * The name of a run's comparator objects: `cutover-parity-<run>`, or, when that is not a valid
 * Service name (DNS-1035, and short enough for the Deployment's `-<config stamp>` suffix: 54
 * characters), a shortened name with a hash of the run's name.
 */
export function comparatorName(run: string): string {
  const plain = `cutover-parity-${run}`;
  if (plain.length <= 54 && DNS_1035.test(plain)) return plain;
  const hash = shortHash(run, 8);
  const stem = run.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 28).replace(/-+$/, '').replace(/^-+/, '');
  return `cutover-parity-${stem ? `${stem}-` : ''}${hash}`;
}

/** A stamp of what the comparator pods run (config and placement): part of the Deployment's name. */
export function configStamp(config: ComparatorConfig, placement: ComparatorPlacement): string {
  return shortHash(`${JSON.stringify(config)}\n${JSON.stringify(placement)}`, 8);
}

/**
 * The comparator Deployment of one config: `<comparatorName>-<stamp>`. A run whose parity changes
 * gets a new Deployment and the old one is scaled to 0 (the operator creates Deployments and
 * scales them; it never patches, updates or deletes one).
 */
export function comparatorDeploymentName(run: string, stamp: string): string {
  return `${comparatorName(run)}-${stamp}`;
}

/** Label on the comparator pods and Deployment: the config stamp. */
export const PARITY_CONFIG_LABEL = 'cutover.dev/parity-config';

/** A label value naming the run (label values: 63 characters at most). */
export function runLabelValue(run: string): string {
  return run.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(run) ? run : shortHash(run, 16);
}

type Obj = { apiVersion: string; kind: string; metadata: Record<string, unknown>; [k: string]: unknown };

function meta(run: RunIdentity, name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    namespace: run.namespace,
    labels: { 'app.kubernetes.io/name': 'cutover-parity', 'app.kubernetes.io/managed-by': 'cutover', [PARITY_RUN_LABEL]: runLabelValue(run.name) },
    ownerReferences: [{ apiVersion: run.apiVersion, kind: run.kind, name: run.name, uid: run.uid, controller: true, blockOwnerDeletion: true }],
    ...extra,
  };
}

/** The summary ConfigMap as the operator applies it: metadata only (its data belongs to the comparator). */
export function summaryConfigMap(run: RunIdentity): Obj {
  const name = comparatorName(run.name);
  const m = meta(run, name);
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { ...m, labels: { ...(m.labels as Record<string, string>), [PARITY_SUMMARY_LABEL]: 'true' }, annotations: { [PARITY_RUN_ANNOTATION]: run.name } },
  };
}

/** The comparator's ServiceAccount, its Role (one ConfigMap, by name) and the RoleBinding. */
export function identityObjects(run: RunIdentity): Obj[] {
  const name = comparatorName(run.name);
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(run, name), automountServiceAccountToken: true },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: meta(run, name),
      rules: [{ apiGroups: [''], resources: ['configmaps'], resourceNames: [name], verbs: ['get', 'patch'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta(run, name),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: run.namespace }],
    },
  ];
}

/** The labels that select a run's comparator pods (Service, Deployment and NetworkPolicy alike). */
function comparatorSelector(run: RunIdentity): Record<string, string> {
  return { [PARITY_RUN_LABEL]: runLabelValue(run.name), 'app.kubernetes.io/name': 'cutover-parity' };
}

/** The Service the route's RequestMirror points at while parity is on. */
export function comparatorService(run: RunIdentity): Obj {
  const name = comparatorName(run.name);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(run, name),
    spec: {
      selector: comparatorSelector(run),
      ports: [
        { name: 'mirror', port: MIRROR_PORT, targetPort: 'mirror', protocol: 'TCP' },
        { name: 'admin', port: ADMIN_PORT, targetPort: 'admin', protocol: 'TCP' },
      ],
    },
  };
}

/**
 * The comparator Deployment: one replica (one writer of the summary; Recreate, so two never write
 * at once), named by its config stamp, the operator's image with the comparator entrypoint, the run's config as JSON in the
 * environment, non-root with a read-only root filesystem.
 */
export function comparatorDeployment(run: RunIdentity, config: ComparatorConfig, placement: ComparatorPlacement): Obj {
  const name = comparatorName(run.name);
  const stamp = configStamp(config, placement);
  const base = meta(run, comparatorDeploymentName(run.name, stamp));
  const m = { ...base, labels: { ...(base.labels as Record<string, string>), [PARITY_CONFIG_LABEL]: stamp } };
  const podLabels = { ...(placement.podLabels ?? {}), ...m.labels };
  const configJson = JSON.stringify(config);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: m,
    spec: {
      replicas: 1,
      strategy: { type: 'Recreate' },
      selector: { matchLabels: { ...comparatorSelector(run), [PARITY_CONFIG_LABEL]: stamp } },
      template: {
        // The common scrape convention: the comparator's cutover_parity_*_total counters and replay latencies.
        metadata: { labels: podLabels, annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(ADMIN_PORT), 'prometheus.io/path': '/metrics' } },
        spec: {
          serviceAccountName: name,
          automountServiceAccountToken: true,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 10,
          ...(placement.nodeSelector ? { nodeSelector: placement.nodeSelector } : {}),
          ...(placement.tolerations ? { tolerations: placement.tolerations } : {}),
          ...(placement.imagePullSecrets?.length ? { imagePullSecrets: placement.imagePullSecrets } : {}),
          securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'comparator',
              image: placement.image,
              ...(placement.imagePullPolicy ? { imagePullPolicy: placement.imagePullPolicy } : {}),
              // The image's bundle of comparator-main.ts (operator/build.ts).
              command: ['node', '--max-semi-space-size=2', 'dist/comparator-main.mjs'],
              args: ['--port', String(MIRROR_PORT), '--admin-port', String(ADMIN_PORT), '--summary-configmap', `${run.namespace}/${name}`],
              env: [
                { name: 'CUTOVER_PARITY_CONFIG_JSON', value: configJson },
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              ],
              ports: [
                { name: 'mirror', containerPort: MIRROR_PORT, protocol: 'TCP' },
                { name: 'admin', containerPort: ADMIN_PORT, protocol: 'TCP' },
              ],
              readinessProbe: { httpGet: { path: '/healthz', port: 'admin' }, periodSeconds: 2 },
              livenessProbe: { httpGet: { path: '/healthz', port: 'admin' }, periodSeconds: 10, failureThreshold: 3 },
              resources: placement.resources ?? { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false, capabilities: { drop: ['ALL'] } },
            },
          ],
        },
      },
    },
  };
}

/**
 * The comparator's NetworkPolicy: in, the mirror port (from the gateway, wherever it runs) and the
 * admin port (probes, Prometheus); out, DNS, the API server (its summary) and the pods of the run's
 * namespace (the legacy and the new service behind their Services) — nothing else.
 */
export function comparatorNetworkPolicy(run: RunIdentity, apiServerPorts: readonly number[]): Obj {
  const name = comparatorName(run.name);
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta(run, name),
    spec: {
      podSelector: { matchLabels: comparatorSelector(run) },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ ports: [{ port: MIRROR_PORT, protocol: 'TCP' }, { port: ADMIN_PORT, protocol: 'TCP' }] }],
      egress: [
        { ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] },
        { ports: apiServerPorts.map((port) => ({ port, protocol: 'TCP' })) },
        { to: [{ podSelector: {} }] },
      ],
    },
  };
}

/** Every object of a run's comparator, in the order they are applied (identity first, the pods last). */
export function comparatorObjects(run: RunIdentity, config: ComparatorConfig, placement: ComparatorPlacement): Obj[] {
  return [
    summaryConfigMap(run), ...identityObjects(run),
    ...(placement.networkPolicy ? [comparatorNetworkPolicy(run, placement.networkPolicy.apiServerPorts)] : []),
    comparatorService(run), comparatorDeployment(run, config, placement),
  ];
}

/** Base URL of a Service in the cluster, by its DNS name. */
export function serviceUrl(namespace: string, service: string, port: number): string {
  return `http://${service}.${namespace}.svc:${port}`;
}
