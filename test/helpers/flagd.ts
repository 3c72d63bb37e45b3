// flagd's evaluation, as an application evaluates a flag in process: @openfeature/flagd-core is the
// evaluation engine of flagd's in-process providers (the same JsonLogic and `fractional` bucketing).
import { FlagdCore } from '@openfeature/flagd-core';

const quiet = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };

/** The users (targeting keys user-0 … user-N-1) for whom flagd's evaluation of `flag` in `flagSpec` is true. */
export function usersOn(flagSpec: unknown, flag: string, users = 2000): Set<string> {
  const core = new FlagdCore();
  core.setConfigurations(JSON.stringify(flagSpec));
  const on = new Set<string>();
  for (let i = 0; i < users; i++) if (core.resolveBooleanEvaluation(flag, false, { targetingKey: `user-${i}` }, quiet).value) on.add(`user-${i}`);
  return on;
}

/**
 * The share (0..100) of `users` evaluation contexts for which flagd's evaluation of `flag` in
 * `flagSpec` (a FeatureFlag's spec.flagSpec, as flagd syncs it) resolves to true.
 */
export function shareOn(flagSpec: unknown, flag: string, users = 2000): number {
  return (100 * usersOn(flagSpec, flag, users).size) / users;
}
