// The testbed gateway's GatewayClass and its one Gateway, as a Gateway API implementation publishes
// them: the class names the controller and lists, in status.supportedFeatures, the features the data
// plane (./routing.ts) carries out. The operator reads that list before it adds a mirror (a class
// that does not list HTTPRouteRequestMirror gets none), so the list must be true: every name here is
// a feature of sigs.k8s.io/gateway-api pkg/features (v1.4.1) that routing.ts implements.
//
// The data plane serves every HTTPRoute whatever its parentRefs (see README.md, Scope); routes in
// tests name the Gateway below so that the operator can find the class through it.

export const GATEWAY_CLASS_NAME = 'cutover-testbed';
export const GATEWAY_CONTROLLER = 'cutover.dev/testbed-gateway';
export const GATEWAY_NAMESPACE = 'cutover-testbed';
export const GATEWAY_NAME = 'testbed';

/** Sorted by name, as the GatewayClass status requires. */
export const SUPPORTED_FEATURES: readonly string[] = [
  'HTTPRoute', // core: hostnames, path/header matches, weighted Service backendRefs, RequestHeaderModifier
  'HTTPRouteMethodMatching',
  'HTTPRouteQueryParamMatching',
  'HTTPRouteRequestMirror',
  'HTTPRouteRequestMultipleMirrors', // every RequestMirror filter of a rule is carried out
  'HTTPRouteRequestPercentageMirror', // requestMirror.percent and .fraction
  'HTTPRouteResponseHeaderModification',
];

/** `parentRefs` for a test route attached to the testbed Gateway (YAML flow style). */
export const TESTBED_PARENT_REFS = `[{name: ${GATEWAY_NAME}, namespace: ${GATEWAY_NAMESPACE}}]`;

/** Namespace, GatewayClass and Gateway (every namespace's routes may attach). */
export function gatewayManifests(): string {
  return `apiVersion: v1
kind: Namespace
metadata: {name: ${GATEWAY_NAMESPACE}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: ${GATEWAY_CLASS_NAME}}
spec:
  controllerName: ${GATEWAY_CONTROLLER}
  description: The testbed's data plane (test/testbed/dataplane/gateway.ts).
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${GATEWAY_NAME}, namespace: ${GATEWAY_NAMESPACE}}
spec:
  gatewayClassName: ${GATEWAY_CLASS_NAME}
  listeners:
    - name: http
      protocol: HTTP
      port: 80
      allowedRoutes: {namespaces: {from: All}}
`;
}

/** The class status the controller writes: Accepted, and the supported features. */
export function gatewayClassStatus(generation: number, now = new Date()): object {
  return {
    status: {
      conditions: [{
        type: 'Accepted', status: 'True', reason: 'Accepted', message: 'handled by the testbed gateway',
        observedGeneration: generation, lastTransitionTime: now.toISOString().replace(/\.\d+Z$/, 'Z'),
      }],
      supportedFeatures: SUPPORTED_FEATURES.map((name) => ({ name })),
    },
  };
}
