import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from '../../../operator/src/runtime/metrics.ts';
import type { RateLimiter } from '../../../operator/src/runtime/ratelimit.ts';
import { WorkQueue } from '../../../operator/src/runtime/workqueue.ts';

const queues: WorkQueue[] = [];

function newQueue(opts: { rateLimiter?: RateLimiter; registry?: Registry } = {}): WorkQueue {
  const q = new WorkQueue({ name: 'test', registry: opts.registry ?? new Registry(), ...(opts.rateLimiter ? { rateLimiter: opts.rateLimiter } : {}) });
  queues.push(q);
  return q;
}

afterEach(() => {
  for (const q of queues.splice(0)) q.shutDown();
});

/** Waits until a key is queued (not taking it, so no waiter is left behind); false on timeout. */
async function queuedWithin(q: WorkQueue, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (q.len() === 0) {
    if (performance.now() > end) return false;
    await sleep(2);
  }
  return true;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Fixed delay per call; counts calls. */
function fixedLimiter(delayMs: number): RateLimiter & { calls: number } {
  const failures = new Map<string, number>();
  return {
    calls: 0,
    when(key) {
      this.calls++;
      failures.set(key, (failures.get(key) ?? 0) + 1);
      return delayMs;
    },
    forget: (key) => void failures.delete(key),
    numRequeues: (key) => failures.get(key) ?? 0,
  };
}

describe('WorkQueue', () => {
  it('de-duplicates a key added several times before it is taken', async () => {
    const q = newQueue();
    q.add('ns/a');
    q.add('ns/a');
    q.add('ns/b');
    q.add('ns/a');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('ns/a');
    expect(await q.get()).toBe('ns/b');
    expect(q.len()).toBe(0);
  });

  it('never hands out a key that is being processed; re-queues it after done', async () => {
    const q = newQueue();
    q.add('ns/a');
    const first = await q.get();
    expect(first).toBe('ns/a');
    q.add('ns/a'); // changed while processing
    expect(await queuedWithin(q, 30)).toBe(false);
    q.done('ns/a');
    expect(q.len()).toBe(1);
    expect(await q.get()).toBe('ns/a');
  });

  it('addUrgent puts a key ahead of the routine ones (moving it if already queued), once', async () => {
    const q = newQueue();
    for (const k of ['ns/a', 'ns/b', 'ns/c']) q.add(k);
    q.addUrgent('ns/z');
    q.addUrgent('ns/c');
    q.add('ns/c');
    expect(q.len()).toBe(4);
    expect(await q.get()).toBe('ns/c');
    expect(await q.get()).toBe('ns/z');
    expect(await q.get()).toBe('ns/a');
    expect(await q.get()).toBe('ns/b');
  });

  it('addUrgent while the key is processed: queued at the front when done', async () => {
    const q = newQueue();
    q.add('ns/a');
    expect(await q.get()).toBe('ns/a');
    q.add('ns/b');
    q.addUrgent('ns/a');
    expect(q.len()).toBe(1);
    q.done('ns/a');
    expect(await q.get()).toBe('ns/a');
    expect(await q.get()).toBe('ns/b');
  });

  it('wakes a waiting get when a key is added', async () => {
    const q = newQueue();
    const pending = q.get();
    setTimeout(() => q.add('ns/late'), 10);
    expect(await pending).toBe('ns/late');
  });

  it('addAfter delivers the key only after the delay', async () => {
    const q = newQueue();
    const start = performance.now();
    q.addAfter('ns/a', 80);
    expect(await queuedWithin(q, 40)).toBe(false);
    expect(await queuedWithin(q, 500)).toBe(true);
    expect(performance.now() - start).toBeGreaterThanOrEqual(75);
    expect(await q.get()).toBe('ns/a');
  });

  it('addAfter keeps one timer per key and the earliest wake-up wins', async () => {
    const q = newQueue();
    q.addAfter('ns/a', 5_000);
    q.addAfter('ns/a', 30); // earlier: replaces
    q.addAfter('ns/a', 10_000); // later: ignored
    expect(q.pendingDelay('ns/a')).toBeLessThanOrEqual(30);
    expect(await queuedWithin(q, 500)).toBe(true);
    expect(await q.get()).toBe('ns/a');
    q.done('ns/a');
    // The replaced timers are gone: nothing else arrives.
    expect(q.pendingDelay('ns/a')).toBeUndefined();
    expect(await queuedWithin(q, 80)).toBe(false);
  });

  it('addAfter with no delay adds at once', async () => {
    const q = newQueue();
    q.addAfter('ns/a', 0);
    expect(q.len()).toBe(1);
  });

  it('addRateLimited waits for the limiter and counts requeues until forget', async () => {
    const limiter = fixedLimiter(20);
    const q = newQueue({ rateLimiter: limiter });
    q.addRateLimited('ns/a');
    q.addRateLimited('ns/a');
    expect(q.numRequeues('ns/a')).toBe(2);
    expect(q.len()).toBe(0);
    expect(await queuedWithin(q, 500)).toBe(true);
    expect(await q.get()).toBe('ns/a');
    q.forget('ns/a');
    expect(q.numRequeues('ns/a')).toBe(0);
  });

  it('shutDown resolves waiting gets with undefined and ignores new adds', async () => {
    const q = newQueue();
    const waiting = q.get();
    q.addAfter('ns/delayed', 20);
    q.shutDown();
    expect(await waiting).toBeUndefined();
    q.add('ns/a');
    expect(q.len()).toBe(0);
    expect(await q.get()).toBeUndefined();
    await sleep(40);
    expect(q.len()).toBe(0); // the delayed key was dropped
  });

  it('shutDownWithDrain waits for keys in flight', async () => {
    const q = newQueue();
    q.add('ns/a');
    const key = await q.get();
    let drained = false;
    const drain = q.shutDownWithDrain().then(() => {
      drained = true;
    });
    await sleep(20);
    expect(drained).toBe(false);
    q.done(key!);
    await drain;
    expect(drained).toBe(true);
  });

  it('exports client-go metric names labelled with the queue name', async () => {
    const registry = new Registry();
    const q = newQueue({ registry });
    q.add('ns/a');
    q.add('ns/b');
    const key = await q.get();
    q.addRateLimited('ns/c');
    const text = await registry.metrics();
    expect(text).toMatch(/workqueue_depth\{name="test"\} 1/);
    expect(text).toMatch(/workqueue_adds_total\{name="test"\} 2/);
    expect(text).toMatch(/workqueue_retries_total\{name="test"\} 1/);
    expect(text).toMatch(/workqueue_queue_duration_seconds_count\{name="test"\} 1/);
    expect(text).toMatch(/workqueue_unfinished_work_seconds\{name="test"\} \d/);
    expect(text).toMatch(/workqueue_longest_running_processor_seconds\{name="test"\} \d/);
    q.done(key!);
    expect(await registry.metrics()).toMatch(/workqueue_work_duration_seconds_count\{name="test"\} 1/);
  });
});
