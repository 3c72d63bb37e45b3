// The flag as one flag of an OpenFeature Operator `FeatureFlag` (core.openfeature.dev/v1beta1), the
// resource flagd reads (its Kubernetes sync). OnOff sets the flag's defaultVariant to onVariant or
// offVariant and removes its targeting (a targeting rule would otherwise decide instead); Percentage
// sets a `fractional` targeting rule that sends the step's share of evaluations to onVariant. The
// flag's defaultVariant and targeting before the first write are what `read` returns, as JSON: a
// rollback puts exactly those back. Written by a JSON patch of that one flag's two fields (a merge
// patch would merge a new targeting rule into the old one instead of replacing it).
import type { FeatureFlag } from '../api/migrationslice.ts';
import { Reason } from '../api/conditions.ts';
import { FEATURE_FLAG, isKubeApiError, type JsonPatchOperation, type KubeObject } from '../kube/index.ts';
import type { FlagKube } from './configmap.ts';
import { FlagWriteError, type FlagAnswer, type FlagProvider, type FlagReading } from './provider.ts';

interface FlagEntry { state?: string; variants?: Record<string, unknown>; defaultVariant?: string; targeting?: unknown }
type FeatureFlagObject = KubeObject & { spec?: { flagSpec?: { flags?: Record<string, FlagEntry> } } };

/** What is kept in status.featureFlag.previousValue and restored. */
interface Previous { defaultVariant?: string; targeting?: unknown }

/** flagd's fractional rule: `percent` of evaluations (bucketed by targetingKey) get `on`, the rest `off`. */
export function fractionalTargeting(on: string, off: string, percent: number): unknown {
  const p = Math.max(0, Math.min(100, Math.round(percent)));
  return { fractional: [[on, p], [off, 100 - p]] };
}

export class OpenFeatureFlagProvider implements FlagProvider {
  readonly #kube: FlagKube;
  constructor(kube: FlagKube) { this.#kube = kube; }

  async read(namespace: string, flag: FeatureFlag): Promise<FlagReading> {
    const found = await this.#entry(namespace, flag);
    if ('problem' in found) return { problem: found.problem };
    const prev: Previous = { ...(found.entry.defaultVariant !== undefined ? { defaultVariant: found.entry.defaultVariant } : {}), ...(found.entry.targeting !== undefined ? { targeting: found.entry.targeting } : {}) };
    return { previous: JSON.stringify(prev) };
  }

  async set(namespace: string, flag: FeatureFlag, value: string): Promise<FlagAnswer | undefined> {
    const of = flag.openFeature!;
    const found = await this.#entry(namespace, flag);
    if ('problem' in found) throw new FlagWriteError(found.problem.field, found.problem.reason, found.problem.message);
    const fields = flag.mode === 'Percentage'
      ? { targeting: fractionalTargeting(of.onVariant, of.offVariant, Number(value)) }
      : { defaultVariant: value === 'true' ? of.onVariant : of.offVariant, targeting: undefined };
    await this.#patch(namespace, flag, found.entry, fields);
    return undefined;
  }

  async restore(namespace: string, flag: FeatureFlag, previous: string | undefined): Promise<FlagAnswer | undefined> {
    const found = await this.#entry(namespace, flag);
    // The FeatureFlag (or the flag) is gone: nothing to restore, and a rollback must not wait for it.
    if ('problem' in found) return undefined;
    let prev: Previous | undefined;
    try { prev = previous === undefined ? undefined : JSON.parse(previous) as Previous; } catch { prev = undefined; }
    if (!prev) return this.set(namespace, flag, flag.mode === 'Percentage' ? '0' : 'false');
    await this.#patch(namespace, flag, found.entry, { ...(prev.defaultVariant !== undefined ? { defaultVariant: prev.defaultVariant } : {}), targeting: prev.targeting });
    return undefined;
  }

  async #entry(namespace: string, flag: FeatureFlag): Promise<{ entry: FlagEntry } | { problem: { field: string; message: string; reason: string } }> {
    const of = flag.openFeature!;
    let obj: FeatureFlagObject | undefined;
    try {
      obj = await this.#kube.get<FeatureFlagObject>(FEATURE_FLAG, namespace, of.name);
    } catch (err) {
      // No FeatureFlag CRD in the cluster: the API server answers 404 for the whole resource.
      if (isKubeApiError(err) && err.code === 404) obj = undefined;
      else throw err;
    }
    if (!obj) return { problem: { field: 'spec.featureFlag.openFeature.name', message: `FeatureFlag ${namespace}/${of.name} not found (is the OpenFeature Operator's CRD installed?)`, reason: Reason.FeatureFlagNotFound } };
    const entry = obj.spec?.flagSpec?.flags?.[of.flag];
    if (!entry) return { problem: { field: 'spec.featureFlag.openFeature.flag', message: `FeatureFlag ${namespace}/${of.name} has no flag ${JSON.stringify(of.flag)}`, reason: Reason.FeatureFlagNotFound } };
    const variants = Object.keys(entry.variants ?? {});
    for (const [field, v] of [['onVariant', of.onVariant], ['offVariant', of.offVariant]] as const) {
      if (!variants.includes(v)) return { problem: { field: `spec.featureFlag.openFeature.${field}`, message: `flag ${of.flag} of FeatureFlag ${namespace}/${of.name} has no variant ${JSON.stringify(v)} (variants: ${variants.join(', ') || 'none'})`, reason: Reason.FeatureFlagNotFound } };
    }
    return { entry };
  }

  /** Sets defaultVariant (when given) and targeting (undefined: removed) of the flag, as `entry` was read. */
  async #patch(namespace: string, flag: FeatureFlag, entry: FlagEntry, fields: { defaultVariant?: string; targeting?: unknown }): Promise<void> {
    const of = flag.openFeature!;
    // Flag keys cannot hold '/' or '~' (the schema's pattern): no JSON pointer escaping needed.
    const at = `/spec/flagSpec/flags/${of.flag}`;
    const ops: JsonPatchOperation[] = [];
    if (fields.defaultVariant !== undefined) ops.push({ op: 'replace', path: `${at}/defaultVariant`, value: fields.defaultVariant });
    if (fields.targeting !== undefined) ops.push({ op: 'add', path: `${at}/targeting`, value: fields.targeting });
    else if (entry.targeting !== undefined) ops.push({ op: 'remove', path: `${at}/targeting` });
    if (ops.length === 0) return;
    try {
      await this.#kube.jsonPatch(FEATURE_FLAG, namespace, of.name, ops);
    } catch (err) {
      // 422 also when the flag changed between the read and the patch (a removed targeting): retried.
      if (isKubeApiError(err) && (err.code === 403 || err.code === 422 || err.code === 404)) {
        throw new FlagWriteError('spec.featureFlag.openFeature', err.code === 404 ? Reason.FeatureFlagNotFound : Reason.FlagNotSet, `FeatureFlag ${namespace}/${of.name}: ${err.message}`);
      }
      throw err;
    }
  }
}
