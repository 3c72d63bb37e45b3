// The flag providers the operator uses, built on the kube layer's client.
import type { KubeClient } from '../kube/index.ts';
import { ConfigMapFlagProvider } from './configmap.ts';
import { HttpFlagProvider, type SecretValueReader } from './http.ts';
import { OpenFeatureFlagProvider } from './openfeature.ts';
import { FlagProviders } from './provider.ts';

export * from './provider.ts';
export { ConfigMapFlagProvider } from './configmap.ts';
export { OpenFeatureFlagProvider, fractionalTargeting } from './openfeature.ts';
export { HttpFlagProvider, renderFlagBody } from './http.ts';

export function flagProviders(client: Pick<KubeClient, 'get' | 'apply' | 'jsonPatch'>, readSecret: SecretValueReader): FlagProviders {
  return new FlagProviders({
    configMap: new ConfigMapFlagProvider(client),
    openFeature: new OpenFeatureFlagProvider(client),
    http: new HttpFlagProvider({ readSecret }),
  });
}
