import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeClient } from '../../../operator/src/kube/client.ts';
import { EventRecorder, OnceEvents, type EventObject } from '../../../operator/src/kube/events.ts';
import { FakeClock } from '../../../operator/src/runtime/clock.ts';
import { Registry } from '../../../operator/src/runtime/metrics.ts';
import { FakeApiServer, json, status } from './fake-apiserver.ts';

let api: FakeApiServer;
let client: KubeClient;

const shift = {
  apiVersion: 'cutover.dev/v1alpha1',
  kind: 'TrafficShift',
  metadata: { name: 'listings-read', namespace: 'shop', uid: 'u-1', resourceVersion: '7' },
};

beforeEach(async () => {
  api = new FakeApiServer();
  await api.start();
  client = KubeClient.load({ kubeconfig: api.kubeconfig, registry: new Registry() });
});

afterEach(async () => {
  client.close();
  await api.stop();
});

describe('EventRecorder', () => {
  it('writes an events.k8s.io/v1 Event about the object', async () => {
    api.handler = (req, res) => json(res, 201, JSON.parse(req.body) as unknown);
    const clock = new FakeClock('2025-03-01T10:00:00.123Z');
    const recorder = new EventRecorder(client, { reportingInstance: 'cutover-0', clock });
    recorder.normal(shift, 'StepAdvanced', 'SetWeight', 'weight 10 → 50');
    await recorder.flush();
    const req = api.requests[0]!;
    expect([req.method, req.path]).toEqual(['POST', '/apis/events.k8s.io/v1/namespaces/shop/events']);
    const ev = JSON.parse(req.body) as EventObject;
    expect(ev).toMatchObject({
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { namespace: 'shop' },
      eventTime: '2025-03-01T10:00:00.123000Z',
      reportingController: 'cutover.dev/operator',
      reportingInstance: 'cutover-0',
      action: 'SetWeight',
      reason: 'StepAdvanced',
      note: 'weight 10 → 50',
      type: 'Normal',
      regarding: { apiVersion: 'cutover.dev/v1alpha1', kind: 'TrafficShift', namespace: 'shop', name: 'listings-read', uid: 'u-1' },
    });
    expect(ev.metadata.name).toMatch(/^listings-read\.[0-9a-f]+$/);
  });

  it('counts repeats into the series of the first Event instead of creating new ones', async () => {
    api.handler = (req, res) => json(res, req.method === 'POST' ? 201 : 200, req.body ? (JSON.parse(req.body) as unknown) : {});
    const clock = new FakeClock('2025-03-01T10:00:00Z');
    const recorder = new EventRecorder(client, { clock });
    recorder.warning(shift, 'AnalysisFailed', 'Analyse', 'error-rate 0.03 > 0.01');
    await recorder.flush();
    clock.advance(30_000);
    recorder.warning(shift, 'AnalysisFailed', 'Analyse', 'error-rate 0.03 > 0.01');
    await recorder.flush();
    clock.advance(30_000);
    recorder.warning(shift, 'AnalysisFailed', 'Analyse', 'error-rate 0.03 > 0.01');
    await recorder.flush();
    const created = JSON.parse(api.requests[0]!.body) as EventObject;
    expect(api.requests.map((r) => r.method)).toEqual(['POST', 'PATCH', 'PATCH']);
    const lastPatch = api.requests[2]!;
    expect(lastPatch.path).toBe(`/apis/events.k8s.io/v1/namespaces/shop/events/${created.metadata.name}`);
    expect(lastPatch.headers['content-type']).toBe('application/merge-patch+json');
    expect(JSON.parse(lastPatch.body)).toEqual({ series: { count: 3, lastObservedTime: '2025-03-01T10:01:00.000000Z' } });
  });

  it('starts a new Event after the series window or for a different note', async () => {
    api.handler = (req, res) => json(res, 201, JSON.parse(req.body) as unknown);
    const clock = new FakeClock(0);
    const recorder = new EventRecorder(client, { clock, seriesWindowMs: 1000 });
    recorder.normal(shift, 'Paused', 'Pause', 'a');
    await recorder.flush();
    recorder.normal(shift, 'Paused', 'Pause', 'b');
    await recorder.flush();
    clock.advance(2000);
    recorder.normal(shift, 'Paused', 'Pause', 'a');
    await recorder.flush();
    expect(api.requests.map((r) => r.method)).toEqual(['POST', 'POST', 'POST']);
  });

  it('never throws into the caller when the API refuses the Event', async () => {
    api.handler = (_req, res) => json(res, 403, status(403, 'Forbidden', 'events is forbidden'));
    const recorder = new EventRecorder(client);
    expect(() => recorder.warning(shift, 'RolledBack', 'Rollback', 'x')).not.toThrow();
    await expect(recorder.flush()).resolves.toBeUndefined();
  });

  it('writes a named Event once: a second ensure finds it (409) and writes nothing more', async () => {
    const names = new Set<string>();
    api.handler = (req, res) => {
      const ev = JSON.parse(req.body) as EventObject;
      const name = ev.metadata.name ?? '';
      if (names.has(name)) { json(res, 409, status(409, 'AlreadyExists', `events.events.k8s.io "${name}" already exists`)); return; }
      names.add(name);
      json(res, 201, ev);
    };
    const recorder = new EventRecorder(client);
    const input = { regarding: shift, type: 'Normal' as const, reason: 'StepStarted', action: 'StepStarted', note: 'step 2/3', name: 'listings-read.step2.abc' };
    await expect(recorder.ensure(input)).resolves.toBe(true);
    await expect(recorder.ensure({ ...input, note: 'step 2/3 (recorded after an operator restart)' })).resolves.toBe(true);
    expect(api.requests.map((r) => r.method)).toEqual(['POST', 'POST']);
    expect([...names]).toEqual(['listings-read.step2.abc']);
    // Named Events are not series: no PATCH of a count.
    expect(api.requests.some((r) => r.method === 'PATCH')).toBe(false);
  });

  it('ensure resolves false (and never throws) when the Event cannot be written', async () => {
    api.handler = (_req, res) => json(res, 403, status(403, 'Forbidden', 'events is forbidden'));
    const recorder = new EventRecorder(client);
    await expect(recorder.ensure({ regarding: shift, type: 'Normal', reason: 'StepStarted', action: 'StepStarted', name: 'x.step1.abc' })).resolves.toBe(false);
  });
});

describe('OnceEvents', () => {
  const step = (n: number) => ({ regarding: shift, type: 'Normal' as const, reason: 'StepStarted', action: 'StepStarted', note: `step ${n}/3`, name: `listings-read.step${n}.abc` });
  const created = () => api.requests.filter((r) => r.method === 'POST').map((r) => (JSON.parse(r.body) as EventObject).metadata.name);

  beforeEach(() => {
    api.handler = (req, res) => json(res, 201, JSON.parse(req.body) as unknown);
  });

  it('knows a name while it is written and once it is in the API; forget drops the key', async () => {
    const recorder = new EventRecorder(client);
    const once = new OnceEvents(recorder);
    expect(once.known('shop/listings-read', step(1).name)).toBe(false);
    once.write('shop/listings-read', step(1), false);
    expect(once.known('shop/listings-read', step(1).name)).toBe(true);
    await recorder.flush();
    expect(once.known('shop/listings-read', step(1).name)).toBe(true);
    expect(created()).toEqual([step(1).name]);
    once.forget('shop/listings-read');
    expect(once.known('shop/listings-read', step(1).name)).toBe(false);
  });

  it('a paced recovery write never replaces a newer step announced meanwhile', async () => {
    const recorder = new EventRecorder(client);
    const once = new OnceEvents(recorder);
    once.write('shop/listings-read', step(2), false);
    await recorder.flush();
    once.write('shop/listings-read', step(1), true);
    await recorder.flush();
    expect(created()).toEqual([step(2).name, step(1).name]);
    expect(once.known('shop/listings-read', step(2).name)).toBe(true);
    expect(once.known('shop/listings-read', step(1).name)).toBe(false);
  });

  it('a write that could not be sent is not known, so the next reconcile asks again', async () => {
    api.handler = (_req, res) => json(res, 403, status(403, 'Forbidden', 'events is forbidden'));
    const recorder = new EventRecorder(client);
    const once = new OnceEvents(recorder);
    once.write('shop/listings-read', step(1), true);
    await recorder.flush();
    expect(once.known('shop/listings-read', step(1).name)).toBe(false);
  });

  it('sends no recovery write once its owner stopped', async () => {
    const recorder = new EventRecorder(client);
    const once = new OnceEvents(recorder, { active: () => false });
    once.write('shop/listings-read', step(1), true);
    await recorder.flush();
    expect(api.requests).toEqual([]);
    expect(once.known('shop/listings-read', step(1).name)).toBe(false);
  });

  it('still sends the Event of a step a reconcile starts while its owner drains (graceful shutdown)', async () => {
    const recorder = new EventRecorder(client);
    const once = new OnceEvents(recorder, { active: () => false });
    once.write('shop/listings-read', step(2), false);
    await once.writeNow('shop/listings-read', step(1));
    await recorder.flush();
    expect(api.requests.filter((r) => r.method === 'POST').map((r) => (JSON.parse(r.body) as EventObject).metadata.name).sort()).toEqual([step(1).name, step(2).name].sort());
  });
});

describe('OnceEvents.prime (the StepStarted Events that exist, read at start)', () => {
  const step = (n: number, shiftName = 'listings-read') => ({ regarding: { ...shift, metadata: { ...shift.metadata, name: shiftName } }, type: 'Normal' as const, reason: 'StepStarted', action: 'StepStarted', note: `step ${n}/3`, name: `${shiftName}.step${n}.abc` });
  const listed = (name: string, shiftName: string) => ({ metadata: { name, namespace: 'shop' }, reason: 'StepStarted', regarding: { kind: 'TrafficShift', namespace: 'shop', name: shiftName } });
  const posted = () => api.requests.filter((r) => r.method === 'POST').map((r) => (JSON.parse(r.body) as EventObject).metadata.name);
  /** The current step of each live shift, as the controller's keyOf matches it. */
  const current: Record<string, string> = { 'shop/a': 'a.step2.abc', 'shop/b': 'b.step1.abc', 'shop/c': 'c.step3.abc' };
  const keyOf = (ev: { namespace: string; name: string; regarding: { name?: string } }) => {
    const key = `${ev.namespace}/${ev.regarding.name ?? ''}`;
    return current[key] === ev.name ? key : undefined;
  };
  /** Answers the LIST from `existing`, two per page; POSTs 201, or 409 for a name that exists. */
  function serve(existing: ReturnType<typeof listed>[], list?: (res: Parameters<typeof json>[0]) => boolean): void {
    api.handler = (req, res) => {
      if (req.method === 'GET') {
        if (list?.(res)) return;
        const from = Number(req.query.get('continue') ?? '0');
        const limit = Number(req.query.get('limit'));
        const next = from + limit < existing.length ? String(from + limit) : undefined;
        json(res, 200, { metadata: { resourceVersion: '9', ...(next ? { continue: next } : {}) }, items: existing.slice(from, from + limit) });
        return;
      }
      const ev = JSON.parse(req.body) as EventObject;
      if (existing.some((e) => e.metadata.name === ev.metadata.name)) { json(res, 409, status(409, 'AlreadyExists', 'exists')); return; }
      json(res, 201, ev);
    };
  }

  it('lists page by page with the field selector; Events found are known, so recovery writes only the missing one', async () => {
    serve([listed('a.step1.abc', 'a'), listed('a.step2.abc', 'a'), listed('b.step1.abc', 'b'), listed('x.step1.abc', 'gone')]);
    const recorder = new EventRecorder(client);
    const once = new OnceEvents(recorder, { pacedPerSecond: 1000 });
    await once.prime(client, { namespaces: [undefined], fieldSelector: 'reason=StepStarted,reportingController=cutover.dev/operator', keyOf, pageSize: 2 });
    const lists = api.requests.filter((r) => r.method === 'GET');
    expect(lists.map((r) => [r.path, r.query.get('fieldSelector'), r.query.get('limit'), r.query.get('continue')])).toEqual([
      ['/apis/events.k8s.io/v1/events', 'reason=StepStarted,reportingController=cutover.dev/operator', '2', null],
      ['/apis/events.k8s.io/v1/events', 'reason=StepStarted,reportingController=cutover.dev/operator', '2', '2'],
    ]);
    expect(once.known('shop/a', 'a.step2.abc')).toBe(true);
    expect(once.known('shop/b', 'b.step1.abc')).toBe(true);
    // An older step of a, and an Event of a shift that is gone, are not kept.
    expect(once.known('shop/a', 'a.step1.abc')).toBe(false);
    expect(once.known('shop/c', 'c.step3.abc')).toBe(false);
    once.write('shop/c', step(3, 'c'), true);
    await recorder.flush();
    await until(() => posted().length === 1);
    expect(posted()).toEqual(['c.step3.abc']);
  });

  it('lists each watched namespace', async () => {
    serve([]);
    const once = new OnceEvents(new EventRecorder(client));
    await once.prime(client, { namespaces: ['shop', 'books'], fieldSelector: 'reason=StepStarted', keyOf });
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /apis/events.k8s.io/v1/namespaces/shop/events', 'GET /apis/events.k8s.io/v1/namespaces/books/events']);
  });

  it('a recovery write asked while the LIST runs waits for it, then writes only if the Event was not found', async () => {
    let answer: (() => void) | undefined;
    serve([listed('a.step2.abc', 'a')], () => false);
    const inner = api.handler;
    api.handler = (req, res) => { if (req.method === 'GET') answer = () => inner(req, res); else inner(req, res); };
    const recorder = new EventRecorder(client);
    const once = new OnceEvents(recorder, { pacedPerSecond: 1000 });
    const primed = once.prime(client, { namespaces: [undefined], fieldSelector: 'reason=StepStarted', keyOf });
    once.write('shop/a', step(2, 'a'), true);
    once.write('shop/c', step(3, 'c'), true);
    await until(() => answer !== undefined);
    expect(posted()).toEqual([]); // nothing written before the LIST answered
    answer!();
    await primed;
    await until(() => posted().length === 1);
    await recorder.flush();
    expect(posted()).toEqual(['c.step3.abc']);
    expect(once.known('shop/a', 'a.step2.abc')).toBe(true);
    expect(once.known('shop/c', 'c.step3.abc')).toBe(true);
  });

  it('a newer Event written while the LIST ran is not replaced by an older one the LIST found', async () => {
    let answer: (() => void) | undefined;
    serve([listed('a.step2.abc', 'a')]);
    const inner = api.handler;
    api.handler = (req, res) => { if (req.method === 'GET') answer = () => inner(req, res); else inner(req, res); };
    const recorder = new EventRecorder(client);
    const once = new OnceEvents(recorder);
    const primed = once.prime(client, { namespaces: [undefined], fieldSelector: 'reason=StepStarted', keyOf: (ev) => (ev.name === 'a.step2.abc' ? 'shop/a' : undefined) });
    once.write('shop/a', step(3, 'a'), false); // the shift moved on: not paced, not waiting
    await recorder.flush();
    await until(() => answer !== undefined);
    answer!();
    await primed;
    expect(posted()).toEqual(['a.step3.abc']);
    expect(once.known('shop/a', 'a.step3.abc')).toBe(true);
    expect(once.known('shop/a', 'a.step2.abc')).toBe(false);
  });

  it('LIST forbidden: never throws, and every recovery write is sent (paced) as without it', async () => {
    serve([listed('a.step2.abc', 'a')], (res) => { json(res, 403, status(403, 'Forbidden', 'events.events.k8s.io is forbidden: cannot list')); return true; });
    const recorder = new EventRecorder(client);
    const once = new OnceEvents(recorder, { pacedPerSecond: 1000 });
    await expect(once.prime(client, { namespaces: [undefined], fieldSelector: 'reason=StepStarted', keyOf })).resolves.toBeUndefined();
    expect(once.known('shop/a', 'a.step2.abc')).toBe(false);
    once.write('shop/a', step(2, 'a'), true);
    once.write('shop/c', step(3, 'c'), true);
    await until(() => posted().length === 2);
    await recorder.flush();
    expect(posted().sort()).toEqual(['a.step2.abc', 'c.step3.abc']);
  });

  it('a LIST that does not answer holds recovery writes back only until the timeout', async () => {
    serve([], () => true); // never answers
    const recorder = new EventRecorder(client);
    const once = new OnceEvents(recorder, { pacedPerSecond: 1000 });
    const t0 = Date.now();
    const primed = once.prime(client, { namespaces: [undefined], fieldSelector: 'reason=StepStarted', keyOf, timeoutMs: 300 });
    once.write('shop/c', step(3, 'c'), true);
    await primed;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    await until(() => posted().length === 1);
    expect(posted()).toEqual(['c.step3.abc']);
  });

  it('writeNow waits for the LIST and writes nothing when it found the Event', async () => {
    serve([listed('a.step2.abc', 'a')]);
    const recorder = new EventRecorder(client);
    const once = new OnceEvents(recorder);
    void once.prime(client, { namespaces: [undefined], fieldSelector: 'reason=StepStarted', keyOf });
    await once.writeNow('shop/a', step(2, 'a'));
    await once.writeNow('shop/c', step(3, 'c'));
    expect(posted()).toEqual(['c.step3.abc']);
  });
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
