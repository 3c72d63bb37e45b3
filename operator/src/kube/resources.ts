// Plain descriptions of Kubernetes objects and resource types. Nothing here comes from
// @kubernetes/client-node: the rest of the operator sees only these shapes.
import { GROUP, Kind, Plural, VERSION } from '../api/group.ts';

/** Where a kind lives in the API. */
export interface ResourceType {
  /** API group; '' for the core group. */
  group: string;
  version: string;
  /** Lower-case plural used in URLs, e.g. `trafficshifts`. */
  plural: string;
  kind: string;
  namespaced: boolean;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ManagedFieldsEntry {
  manager?: string;
  operation?: 'Apply' | 'Update';
  apiVersion?: string;
  time?: string;
  fieldsType?: string;
  fieldsV1?: Record<string, unknown>;
  subresource?: string;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  managedFields?: ManagedFieldsEntry[];
}

/** Any Kubernetes object. Kind-specific types extend it with their `spec`/`status`. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** A reference to an object, as used by Events (`regarding`) and owner references. */
export interface ObjectReference {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  resourceVersion?: string;
  fieldPath?: string;
}

export function apiVersionOf(type: ResourceType): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

export function resourceType(
  group: string,
  version: string,
  plural: string,
  kind: string,
  namespaced = true,
): ResourceType {
  return Object.freeze({ group, version, plural, kind, namespaced });
}

// The operator's own kinds (names from the API contract, api/group.ts).
export const TRAFFIC_SHIFT = resourceType(GROUP, VERSION, Plural.TrafficShift, Kind.TrafficShift);
export const SHADOW_RUN = resourceType(GROUP, VERSION, Plural.ShadowRun, Kind.ShadowRun);
export const MIGRATION_SLICE = resourceType(GROUP, VERSION, Plural.MigrationSlice, Kind.MigrationSlice);

// What the operator reads and writes.
export const HTTP_ROUTE = resourceType('gateway.networking.k8s.io', 'v1', 'httproutes', 'HTTPRoute');
export const SERVICE = resourceType('', 'v1', 'services', 'Service');
/** Deployments; scale them through the `scale` subresource (see `DEPLOYMENT_SCALE_SUBRESOURCE`). */
export const DEPLOYMENT = resourceType('apps', 'v1', 'deployments', 'Deployment');
export const DEPLOYMENT_SCALE_SUBRESOURCE = 'scale';
export const CONFIG_MAP = resourceType('', 'v1', 'configmaps', 'ConfigMap');
export const SECRET = resourceType('', 'v1', 'secrets', 'Secret');
/** OpenFeature Operator's FeatureFlag (flagd reads it): a MigrationSlice's flag provider. */
export const FEATURE_FLAG = resourceType('core.openfeature.dev', 'v1beta1', 'featureflags', 'FeatureFlag');
export const EVENT = resourceType('events.k8s.io', 'v1', 'events', 'Event');
export const LEASE = resourceType('coordination.k8s.io', 'v1', 'leases', 'Lease');
export const ENDPOINT_SLICE = resourceType('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice');
export const NAMESPACE = resourceType('', 'v1', 'namespaces', 'Namespace', false);
export const CUSTOM_RESOURCE_DEFINITION = resourceType(
  'apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition', false,
);

/** The workqueue/informer key of an object: `namespace/name`, or `name` if cluster-scoped. */
export function objectKey(obj: { metadata: { namespace?: string; name?: string } }): string {
  const name = obj.metadata.name ?? '';
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${name}` : name;
}

/** Splits a `namespace/name` key; a key without `/` is a cluster-scoped name. */
export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: undefined, name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** A reference to `obj` (for Events); `type` fills apiVersion/kind when the object lacks them. */
export function referenceTo(obj: KubeObject, type?: ResourceType): ObjectReference {
  return {
    apiVersion: obj.apiVersion ?? (type ? apiVersionOf(type) : undefined),
    kind: obj.kind ?? type?.kind,
    ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
    name: obj.metadata.name,
    uid: obj.metadata.uid,
    resourceVersion: obj.metadata.resourceVersion,
  };
}

/** An owner reference to `owner` marking it as the controller (children are garbage collected). */
export function controllerReference(owner: KubeObject, type?: ResourceType): OwnerReference {
  const apiVersion = owner.apiVersion ?? (type ? apiVersionOf(type) : undefined);
  const kind = owner.kind ?? type?.kind;
  if (!apiVersion || !kind || !owner.metadata.name || !owner.metadata.uid) {
    throw new Error('controllerReference needs the owner\'s apiVersion, kind, name and uid');
  }
  return { apiVersion, kind, name: owner.metadata.name, uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true };
}
