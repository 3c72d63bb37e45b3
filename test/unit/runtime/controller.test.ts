import { afterEach, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { Controller, TerminalError, type ReconcileContext, type Reconciler } from '../../../operator/src/runtime/controller.ts';
import { createLogger } from '../../../operator/src/runtime/logger.ts';
import { Registry } from '../../../operator/src/runtime/metrics.ts';
import { ItemExponentialFailureRateLimiter } from '../../../operator/src/runtime/ratelimit.ts';

const controllers: Controller[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function start(reconcile: Reconciler, opts: { concurrency?: number; registry?: Registry; onTerminal?: (key: string, err: TerminalError) => void } = {}) {
  const registry = opts.registry ?? new Registry();
  const c = new Controller({
    name: 'test',
    reconcile,
    registry,
    concurrency: opts.concurrency ?? 1,
    rateLimiter: new ItemExponentialFailureRateLimiter(5, 40),
    ...(opts.onTerminal ? { onTerminalError: opts.onTerminal } : {}),
  });
  controllers.push(c);
  c.start();
  return { c, registry };
}

async function until(cond: () => boolean, ms = 2_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await sleep(5);
  }
}

afterEach(async () => {
  for (const c of controllers.splice(0)) await c.stop();
});

describe('Controller', () => {
  it('retries a failing reconcile with backoff until it succeeds, then forgets the failures', async () => {
    const retries: number[] = [];
    const { c, registry } = start(async (_key, ctx) => {
      retries.push(ctx.retries);
      if (retries.length < 3) throw new Error('boom');
    });
    c.enqueue('ns/a');
    await until(() => retries.length === 3);
    expect(retries).toEqual([0, 1, 2]);
    await until(() => c.queue.numRequeues('ns/a') === 0);
    const text = await registry.metrics();
    expect(text).toMatch(/controller_runtime_reconcile_total\{controller="test",result="error"\} 2/);
    expect(text).toMatch(/controller_runtime_reconcile_total\{controller="test",result="success"\} 1/);
    expect(text).toMatch(/controller_runtime_reconcile_errors_total\{controller="test"\} 2/);
    expect(text).toMatch(/controller_runtime_reconcile_time_seconds_count\{controller="test"\} 3/);
    expect(text).toMatch(/controller_runtime_max_concurrent_reconciles\{controller="test"\} 1/);
  });

  it('records a TerminalError and does not retry it', async () => {
    let calls = 0;
    const terminal: string[] = [];
    const { c, registry } = start(
      async () => {
        calls++;
        throw new TerminalError('route listings not found');
      },
      { onTerminal: (key, err) => terminal.push(`${key}: ${err.message}`) },
    );
    c.enqueue('ns/a');
    await until(() => terminal.length === 1);
    await sleep(100);
    expect(calls).toBe(1);
    expect(terminal).toEqual(['ns/a: route listings not found']);
    expect(await registry.metrics()).toMatch(/controller_runtime_terminal_reconcile_errors_total\{controller="test"\} 1/);
  });

  it('requeues after the requested delay', async () => {
    const times: number[] = [];
    const { c, registry } = start(async () => {
      times.push(performance.now());
      return times.length === 1 ? { requeueAfter: 60 } : undefined;
    });
    c.enqueue('ns/a');
    await until(() => times.length === 2);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(55);
    expect(await registry.metrics()).toMatch(/controller_runtime_reconcile_total\{controller="test",result="requeue_after"\} 1/);
  });

  it('never reconciles one key concurrently, but runs different keys in parallel', async () => {
    let active = 0;
    let maxSameKey = 0;
    let maxActive = 0;
    const perKey = new Map<string, number>();
    let done = 0;
    const { c } = start(
      async (key) => {
        active++;
        perKey.set(key, (perKey.get(key) ?? 0) + 1);
        maxSameKey = Math.max(maxSameKey, perKey.get(key)!);
        maxActive = Math.max(maxActive, active);
        await sleep(30);
        perKey.set(key, perKey.get(key)! - 1);
        active--;
        done++;
      },
      { concurrency: 4 },
    );
    c.enqueue('ns/a');
    c.enqueue('ns/b');
    c.enqueue('ns/c');
    await sleep(5);
    c.enqueue('ns/a'); // while ns/a runs
    c.enqueue('ns/a');
    await until(() => done === 4);
    expect(maxSameKey).toBe(1);
    expect(maxActive).toBe(3);
  });

  it('gives each reconcile a short id and a child logger with controller, key and reconcileID', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const destination = new Writable({
      write(chunk, _enc, cb) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        cb();
      },
    });
    const logger = createLogger({ level: 'info', destination });
    let seen: ReconcileContext | undefined;
    const c = new Controller({
      name: 'trafficshift',
      registry: new Registry(),
      logger,
      reconcile: async (_key, ctx) => {
        seen = ctx;
        ctx.logger.info('planned');
      },
    });
    controllers.push(c);
    c.start();
    c.enqueue('shop/listings-read');
    await until(() => lines.some((l) => l.msg === 'planned'));
    expect(seen?.reconcileID).toMatch(/^[0-9a-f]{10}$/);
    expect(lines.find((l) => l.msg === 'planned')).toMatchObject({
      controller: 'trafficshift',
      key: 'shop/listings-read',
      reconcileID: seen?.reconcileID,
      level: 'info',
    });
  });

  it('stop waits for running reconciles and aborts their signal', async () => {
    let aborted = false;
    let finished = false;
    const { c } = start(async (_key, ctx) => {
      await sleep(50);
      aborted = ctx.signal.aborted;
      finished = true;
    });
    c.enqueue('ns/a');
    await sleep(10);
    await c.stop();
    expect(finished).toBe(true);
    expect(aborted).toBe(true);
  });
});
