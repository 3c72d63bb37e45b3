import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../operator/src/runtime/clock.ts';
import { ReplayBreaker } from '../../../operator/src/parity/breaker.ts';

describe('ReplayBreaker', () => {
  it('opens when more than 5 % of the window failed, and closes after openMs', () => {
    const clock = new FakeClock(0);
    const b = new ReplayBreaker(clock, { minRequests: 10, openMs: 1000 });
    for (let i = 0; i < 9; i++) b.record(i !== 0, 10);
    expect(b.allow()).toBe(true); // 9 replays: not judged yet
    b.record(true, 10);
    expect(b.state()).toMatchObject({ open: true, reason: '1 of the last 10 legacy replays failed (more than 5%)' });
    clock.advance(999);
    expect(b.allow()).toBe(false);
    clock.advance(1);
    expect(b.allow()).toBe(true);
  });

  it('forgets failures older than the window', () => {
    const clock = new FakeClock(0);
    const b = new ReplayBreaker(clock, { minRequests: 10, windowMs: 1000 });
    b.record(false, 10);
    clock.advance(1000);
    for (let i = 0; i < 20; i++) b.record(true, 10);
    expect(b.allow()).toBe(true);
  });

  it('opens when p95 latency doubles over the first window', () => {
    const clock = new FakeClock(0);
    const b = new ReplayBreaker(clock, { minRequests: 10, windowMs: 1000 });
    for (let i = 0; i < 10; i++) b.record(true, 200);
    clock.advance(1000);
    for (let i = 0; i < 9; i++) b.record(true, 500);
    expect(b.allow()).toBe(true);
    b.record(true, 500);
    expect(b.state()).toMatchObject({ open: true, reason: 'legacy replay p95 500 ms is over 2× its first p95 (200 ms)' });
  });

  it('ignores latency growth below minLatencyMs (jitter of a fast legacy)', () => {
    const clock = new FakeClock(0);
    const b = new ReplayBreaker(clock, { minRequests: 10, windowMs: 1000 });
    for (let i = 0; i < 10; i++) b.record(true, 1);
    clock.advance(1000);
    for (let i = 0; i < 20; i++) b.record(true, 30);
    expect(b.allow()).toBe(true);
  });

  it('does not open when the new service slowed down alike: the comparator itself is late (its own queueing), not the legacy', () => {
    const clock = new FakeClock(0);
    const b = new ReplayBreaker(clock, { minRequests: 10, windowMs: 1000 });
    for (let i = 0; i < 10; i++) { b.recordPeer(100); b.record(true, 200); }
    clock.advance(1000);
    // Under load both answers arrive 3× later: the same ratio to the new service as at the start.
    for (let i = 0; i < 30; i++) { b.recordPeer(300); b.record(true, 600); }
    expect(b.allow()).toBe(true);
  });

  it('opens when the legacy slowed down relative to the new service too', () => {
    const clock = new FakeClock(0);
    const b = new ReplayBreaker(clock, { minRequests: 10, windowMs: 1000 });
    for (let i = 0; i < 10; i++) { b.recordPeer(100); b.record(true, 200); }
    clock.advance(1000);
    for (let i = 0; i < 10; i++) { b.recordPeer(100); b.record(true, 900); }
    expect(b.state()).toMatchObject({ open: true, reason: "legacy replay p95 900 ms is over 2× its first p95 (200 ms) and 9.0× the new service's" });
  });
});
