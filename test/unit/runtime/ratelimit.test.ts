import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../operator/src/runtime/clock.ts';
import {
  BucketRateLimiter,
  ItemExponentialFailureRateLimiter,
  MaxOfRateLimiter,
  defaultControllerRateLimiter,
} from '../../../operator/src/runtime/ratelimit.ts';

describe('ItemExponentialFailureRateLimiter', () => {
  it('doubles from 5 ms per failure of a key', () => {
    const l = new ItemExponentialFailureRateLimiter(5, 1_000_000);
    expect([1, 2, 3, 4, 5].map(() => l.when('a'))).toEqual([5, 10, 20, 40, 80]);
    expect(l.numRequeues('a')).toBe(5);
  });

  it('caps at 1000 s', () => {
    const l = new ItemExponentialFailureRateLimiter(5, 1_000_000);
    let last = 0;
    for (let i = 0; i < 100; i++) last = l.when('a');
    expect(last).toBe(1_000_000);
  });

  it('tracks keys separately and forget resets one key', () => {
    const l = new ItemExponentialFailureRateLimiter(5, 1_000_000);
    l.when('a');
    l.when('a');
    expect(l.when('b')).toBe(5);
    l.forget('a');
    expect(l.numRequeues('a')).toBe(0);
    expect(l.when('a')).toBe(5);
    expect(l.numRequeues('b')).toBe(1);
  });
});

describe('BucketRateLimiter', () => {
  it('lets a burst through, then spaces calls at 1/qps', () => {
    const clock = new FakeClock(0);
    const l = new BucketRateLimiter(10, 3, clock);
    expect([l.when('a'), l.when('b'), l.when('c')]).toEqual([0, 0, 0]);
    expect(l.when('d')).toBeCloseTo(100);
    expect(l.when('e')).toBeCloseTo(200);
  });

  it('refills with time, up to the burst', () => {
    const clock = new FakeClock(0);
    const l = new BucketRateLimiter(10, 2, clock);
    l.when('a');
    l.when('b');
    clock.advance(10_000);
    expect([l.when('c'), l.when('d')]).toEqual([0, 0]);
    expect(l.when('e')).toBeCloseTo(100);
  });

  it('allow: takes a token when one is there; a refusal takes none, so the caller gets in again after 1/qps', () => {
    const clock = new FakeClock(0);
    const l = new BucketRateLimiter(10, 2, clock);
    expect([l.allow(), l.allow(), l.allow(), l.allow()]).toEqual([true, true, false, false]);
    expect(l.full()).toBe(false);
    clock.advance(100);
    expect([l.allow(), l.allow()]).toEqual([true, false]);
    clock.advance(200);
    expect(l.full()).toBe(true);
  });
});

describe('MaxOfRateLimiter / defaultControllerRateLimiter', () => {
  it('takes the longest delay of its limiters', () => {
    const clock = new FakeClock(0);
    const l = new MaxOfRateLimiter(new ItemExponentialFailureRateLimiter(5, 1_000_000), new BucketRateLimiter(10, 1, clock));
    expect(l.when('a')).toBe(5); // bucket has a token; backoff 5 ms
    expect(l.when('b')).toBeCloseTo(100); // bucket empty: 100 ms beats 5 ms
  });

  it('is 5 ms → 1000 s per key under 10 qps / burst 100', () => {
    const clock = new FakeClock(0);
    const l = defaultControllerRateLimiter({ clock });
    expect(l.when('a')).toBe(5);
    expect(l.when('a')).toBe(10);
    l.forget('a');
    expect(l.numRequeues('a')).toBe(0);
    for (let i = 0; i < 98; i++) l.when(`k${i}`);
    // 100 tokens used: the next retry of a fresh key waits for the bucket, not the backoff.
    expect(l.when('z')).toBeCloseTo(100);
  });
});
