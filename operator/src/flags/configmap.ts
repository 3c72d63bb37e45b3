// The flag as one key of a ConfigMap (the shape MigrationSlice has always had). The key is written
// by server-side apply (field manager cutover): the rest of the ConfigMap stays with whoever owns it.
import type { FeatureFlag } from '../api/migrationslice.ts';
import { Reason } from '../api/conditions.ts';
import { CONFIG_MAP, isKubeApiError, type KubeClient, type KubeObject } from '../kube/index.ts';
import { FlagWriteError, offValue, type FlagAnswer, type FlagProvider, type FlagReading } from './provider.ts';

export type FlagKube = Pick<KubeClient, 'get' | 'apply' | 'jsonPatch'>;

type ConfigMap = KubeObject & { data?: Record<string, string> };

export class ConfigMapFlagProvider implements FlagProvider {
  readonly #kube: FlagKube;
  constructor(kube: FlagKube) { this.#kube = kube; }

  async read(namespace: string, flag: FeatureFlag): Promise<FlagReading> {
    const cm = await this.#kube.get<ConfigMap>(CONFIG_MAP, namespace, flag.configMap!);
    if (!cm) return { problem: { field: 'spec.featureFlag.configMap', message: `ConfigMap ${namespace}/${flag.configMap} not found`, reason: Reason.ConfigMapNotFound } };
    return { previous: cm.data?.[flag.key!] };
  }

  async set(namespace: string, flag: FeatureFlag, value: string): Promise<FlagAnswer | undefined> {
    const cm = await this.#kube.get<ConfigMap>(CONFIG_MAP, namespace, flag.configMap!);
    // Applying to a missing ConfigMap would create it: the flag lives where the team keeps it, or nowhere.
    if (!cm) throw new FlagWriteError('spec.featureFlag.configMap', Reason.ConfigMapNotFound, `ConfigMap ${namespace}/${flag.configMap} not found`);
    try {
      await this.#kube.apply(CONFIG_MAP, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: flag.configMap, namespace }, data: { [flag.key!]: value } }, { force: true });
    } catch (err) {
      if (isKubeApiError(err) && (err.code === 403 || err.code === 422)) throw new FlagWriteError('spec.featureFlag.configMap', Reason.FlagNotSet, `ConfigMap ${namespace}/${flag.configMap}: ${err.message}`);
      throw err;
    }
    return undefined;
  }

  async restore(namespace: string, flag: FeatureFlag, previous: string | undefined): Promise<FlagAnswer | undefined> {
    try {
      return await this.set(namespace, flag, previous ?? offValue(flag));
    } catch (err) {
      // Deleted meanwhile: nothing left to restore, and a rollback must not wait for it.
      if (err instanceof FlagWriteError && err.reason === Reason.ConfigMapNotFound) return undefined;
      throw err;
    }
  }
}
