// The fractional rule the OpenFeature provider writes, evaluated by flagd's own engine
// (@openfeature/flagd-core): the share of users who get the on variant is the step's weight.
import { describe, expect, it } from 'vitest';
import { fractionalTargeting } from '../../../operator/src/flags/index.ts';
import { shareOn, usersOn } from '../../helpers/flagd.ts';

const spec = (targeting: unknown) => ({ flags: { f: { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off', ...(targeting ? { targeting } : {}) } } });

describe('fractionalTargeting, as flagd evaluates it', () => {
  it.each([0, 10, 50, 100])('%i%% of users on', (w) => {
    expect(fractionalTargeting('on', 'off', w)).toEqual({ fractional: [['on', w], ['off', 100 - w]] });
    expect(Math.abs(shareOn(spec(fractionalTargeting('on', 'off', w)), 'f', 4000) - w)).toBeLessThanOrEqual(3);
  });
  it('without targeting the defaultVariant decides', () => {
    expect(shareOn(spec(undefined), 'f')).toBe(0);
  });
  it('a user on the new path at 10% stays on it at 50% (flagd buckets by targetingKey)', () => {
    const on10 = usersOn(spec(fractionalTargeting('on', 'off', 10)), 'f', 1000);
    const on50 = usersOn(spec(fractionalTargeting('on', 'off', 50)), 'f', 1000);
    expect(on10.size).toBeGreaterThan(50);
    expect([...on10].filter((u) => !on50.has(u))).toEqual([]);
  });
});
