// Feature flag providers (DESIGN §3 "flags", §4: providers behind interfaces). A MigrationSlice's
// `spec.featureFlag` names exactly one place where the team keeps the flag: a ConfigMap key
// (./configmap.ts), an OpenFeature FeatureFlag that flagd reads (./openfeature.ts), or the service's
// own admin endpoint (./http.ts). The slice's plan decides WHICH value the flag should have
// ("true"/"false" for OnOff, "0".."100" for Percentage); a provider only reads and writes it.
import type { FeatureFlag } from '../api/migrationslice.ts';

/** Something the user must fix, named by its field (Stalled; nothing is changed). */
export interface FlagProblem { field: string; message: string; reason: string }

/** What a provider found before the slice touched the flag. */
export interface FlagReading {
  /** The value to restore on rollback (opaque to the slice); undefined when absent or unreadable (http). */
  previous?: string | undefined;
  problem?: FlagProblem | undefined;
}

/** An HTTP endpoint's answer, kept in status.featureFlag.answer. */
export interface FlagAnswer { status: number; body?: string | undefined; attempts: number }

/** A flag that could not be set: the field to look at and why (status.featureFlag.error, Stalled). */
export class FlagWriteError extends Error {
  readonly field: string;
  readonly reason: string;
  readonly answer: FlagAnswer | undefined;
  constructor(field: string, reason: string, message: string, answer?: FlagAnswer) {
    super(message);
    this.name = 'FlagWriteError';
    this.field = field;
    this.reason = reason;
    this.answer = answer;
  }
}

export interface FlagProvider {
  /** The flag's current state, kept as the value to restore; or a problem that stalls the slice. */
  read(namespace: string, flag: FeatureFlag, signal?: AbortSignal): Promise<FlagReading>;
  /** Sets the flag to `value` ("true"/"false" or a percentage); throws FlagWriteError. */
  set(namespace: string, flag: FeatureFlag, value: string, signal?: AbortSignal): Promise<FlagAnswer | undefined>;
  /** Puts back what `read` found (`previous`), or the off value when it found nothing; throws FlagWriteError. */
  restore(namespace: string, flag: FeatureFlag, previous: string | undefined, signal?: AbortSignal): Promise<FlagAnswer | undefined>;
}

export type FlagProviderKind = 'configMap' | 'openFeature' | 'http';

export function providerKind(flag: FeatureFlag): FlagProviderKind {
  return flag.openFeature ? 'openFeature' : flag.http ? 'http' : 'configMap';
}

/** "false" (OnOff) or "0" (Percentage): the flag with no work on the new side. */
export function offValue(flag: FeatureFlag): string {
  return flag.mode === 'Percentage' ? '0' : 'false';
}

/** The flag in words, for messages: `ConfigMap flags key listings-v2`. */
export function describeFlag(flag: FeatureFlag): string {
  if (flag.openFeature) return `FeatureFlag ${flag.openFeature.name} flag ${flag.openFeature.flag}`;
  if (flag.http) return `${flag.http.method} ${redactUrl(flag.http.url)}`;
  return `ConfigMap ${flag.configMap} key ${flag.key}`;
}

/**
 * What makes two slices drive the same flag: the same ConfigMap key or FeatureFlag flag in the same
 * namespace, or the same endpoint with the same request (an endpoint serves many flags: the body
 * names which).
 */
export function flagIdentity(namespace: string, flag: FeatureFlag): string {
  if (flag.openFeature) return `openfeature:${namespace}/${flag.openFeature.name}/${flag.openFeature.flag}`;
  if (flag.http) return `http:${flag.http.url} ${flag.http.body.replace(/\{\{ *value *\}\}/g, '{{value}}')}`;
  return `configmap:${namespace}/${flag.configMap}/${flag.key}`;
}

/** The URL as shown in status and messages: no user info, no query values. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    for (const k of [...u.searchParams.keys()]) u.searchParams.set(k, '…');
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}

/** The providers by kind; the slice asks for the one its featureFlag names. */
export class FlagProviders {
  readonly #byKind: Record<FlagProviderKind, FlagProvider>;
  constructor(byKind: Record<FlagProviderKind, FlagProvider>) { this.#byKind = byKind; }
  for(flag: FeatureFlag): FlagProvider { return this.#byKind[providerKind(flag)]; }
}
