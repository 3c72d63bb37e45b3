// Registers testbed backends (loopback servers) in the real API server as a selector-less Service
// plus an EndpointSlice, so that the testbed gateway (and the operator) see them like any workload.
//
// Loopback and EndpointSlices: the API server validates IPv4/IPv6 EndpointSlice addresses with
// ValidateNonSpecialIP, which rejects 127.0.0.0/8 and ::1 ("may not be in the loopback range"), as it
// does for core Endpoints. So the slice uses addressType FQDN with "<ip>.localhost" (RFC 6761 reserves
// *.localhost for loopback), e.g. "127.0.0.1.localhost"; the gateway maps it back to 127.0.0.1
// (routing.ts loopbackTarget). kube-proxy ignores FQDN slices, and the EndpointSlice controllers
// leave selector-less Services and slices with a foreign managed-by label alone.
import { KubernetesObjectApi, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { loadKubeConfig } from './reflector.ts';
import { loopbackFqdn } from './routing.ts';

export const FIELD_MANAGER = 'cutover-testbed';
export const MANAGED_BY = 'testbed.cutover.dev';

export interface BackendRegistration {
  namespace: string;
  service: string;
  /** The Service port (what HTTPRoute backendRefs name). */
  port: number;
  /** The backend's loopback port. */
  targetPort: number;
  /** Loopback address the backend listens on; default 127.0.0.1. */
  address?: string;
  /** EndpointSlice name; default = service name. Use distinct names to add several replicas. */
  slice?: string;
  /** Service port name; default "http". */
  portName?: string;
  /** Endpoint readiness; default true. */
  ready?: boolean;
}

function client(kubeconfigPath: string): KubernetesObjectApi {
  return KubernetesObjectApi.makeApiClient(loadKubeConfig(kubeconfigPath));
}

/** Server-side apply of any object (idempotent). */
export async function applyObject<T extends KubernetesObject>(kubeconfigPath: string | KubernetesObjectApi, obj: T): Promise<T> {
  const api = typeof kubeconfigPath === 'string' ? client(kubeconfigPath) : kubeconfigPath;
  return api.patch<T>(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
}

function isNotFound(err: unknown): boolean {
  return (err as { code?: number }).code === 404;
}

export function backendObjects(reg: BackendRegistration): { namespace: KubernetesObject; service: KubernetesObject; slice: KubernetesObject } {
  const portName = reg.portName ?? 'http';
  const labels = { 'app.kubernetes.io/managed-by': MANAGED_BY };
  return {
    namespace: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: reg.namespace } },
    service: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: reg.service, namespace: reg.namespace, labels },
      spec: { ports: [{ name: portName, port: reg.port, targetPort: reg.targetPort, protocol: 'TCP' }] },
    } as KubernetesObject,
    slice: {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: reg.slice ?? reg.service,
        namespace: reg.namespace,
        labels: { ...labels, 'kubernetes.io/service-name': reg.service, 'endpointslice.kubernetes.io/managed-by': MANAGED_BY },
      },
      addressType: 'FQDN',
      endpoints: [{ addresses: [loopbackFqdn(reg.address ?? '127.0.0.1')], conditions: { ready: reg.ready ?? true } }],
      ports: [{ name: portName, port: reg.targetPort, protocol: 'TCP' }],
    } as KubernetesObject,
  };
}

/** Creates or updates (server-side apply) the namespace, a selector-less Service and its EndpointSlice. */
export async function registerBackend(kubeconfigPath: string, reg: BackendRegistration): Promise<void> {
  const api = client(kubeconfigPath);
  const objs = backendObjects(reg);
  await applyObject(api, objs.namespace);
  await applyObject(api, objs.service);
  await applyObject(api, objs.slice);
}

/** Deletes the backend's EndpointSlice and (unless keepService) its Service; missing objects are fine. */
export async function unregisterBackend(kubeconfigPath: string, reg: { namespace: string; service: string; slice?: string; keepService?: boolean }): Promise<void> {
  const api = client(kubeconfigPath);
  const del = async (o: KubernetesObject): Promise<void> => {
    try {
      await api.delete(o);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  };
  await del({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: reg.slice ?? reg.service, namespace: reg.namespace } });
  if (!reg.keepService) await del({ apiVersion: 'v1', kind: 'Service', metadata: { name: reg.service, namespace: reg.namespace } });
}

/** Deletes a namespace (no wait); missing is fine. */
export async function deleteNamespace(kubeconfigPath: string, namespace: string): Promise<void> {
  try {
    await client(kubeconfigPath).delete({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
