// The kube layer's public surface: the only way the operator talks to the Kubernetes API.
export { USER_AGENT } from './transport.ts';
export { type WatchEvent, type WatchEventType, type WatchOptions } from './watch.ts';
export {
  KubeClient,
  type KubeClientOptions,
  type GetOptions,
  type ListOptions,
  type ListResult,
  type WriteOptions,
  type ApplyOptions,
  type DeleteOptions,
  type JsonPatchOperation,
} from './client.ts';
export {
  KubeApiError,
  isKubeApiError,
  isNotFound,
  isConflict,
  isAlreadyExists,
  isGone,
  isInvalid,
  isTooManyRequests,
  isForbidden,
  isUnauthorized,
  isTransient,
  retryAfterMs,
  requestTarget,
  describeRequest,
  apiMessage,
  type RequestTarget,
  type StatusDetails,
} from './errors.ts';
export { Informer, type InformerHandlers, type InformerOptions } from './informer.ts';
export {
  EventRecorder,
  OnceEvents,
  REPORTING_CONTROLLER,
  type EventInput,
  type EventObject,
  type EventRecorderOptions,
  type OnceEventsOptions,
  type EventType,
} from './events.ts';
export {
  apiVersionOf,
  controllerReference,
  objectKey,
  referenceTo,
  resourceType,
  splitKey,
  TRAFFIC_SHIFT,
  SHADOW_RUN,
  MIGRATION_SLICE,
  HTTP_ROUTE,
  SERVICE,
  DEPLOYMENT,
  DEPLOYMENT_SCALE_SUBRESOURCE,
  CONFIG_MAP,
  SECRET,
  EVENT,
  LEASE,
  ENDPOINT_SLICE,
  NAMESPACE,
  CUSTOM_RESOURCE_DEFINITION,
  type KubeObject,
  type ManagedFieldsEntry,
  type ObjectMeta,
  type ObjectReference,
  type OwnerReference,
  type ResourceType,
} from './resources.ts';
export { LeaderElector, type LeaderElectionOptions, type LeaseObject, type LeaseSpec } from './lease.ts';
export { newerObject } from './freshness.ts';
