// Adapts the kube layer's client to the small RouteClient interface the routers depend on.
import type { KubeClient, KubeObject as KubeLayerObject } from '../kube/index.ts';
import type { KubeObject, ResourceType, RouteClient } from './router.ts';

export function kubeRouteClient(client: KubeClient): RouteClient {
  const type = (r: ResourceType) => ({ ...r, namespaced: true });
  return {
    async get(resource, namespace, name) {
      const obj = await client.get(type(resource), namespace, name);
      return (obj as unknown as KubeObject | undefined) ?? null;
    },
    async apply(obj, options) {
      const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') as [string, string] : ['', obj.apiVersion];
      const plural = `${obj.kind.toLowerCase()}s`;
      const res = await client.apply(type({ group, version, plural, kind: obj.kind }), obj as unknown as KubeLayerObject, { fieldManager: options.fieldManager, force: options.force });
      return res as unknown as KubeObject;
    },
  };
}
