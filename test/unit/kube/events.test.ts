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

  it('sends nothing once its owner stopped', async () => {
    const recorder = new EventRecorder(client);
    const once = new OnceEvents(recorder, { active: () => false });
    once.write('shop/listings-read', step(1), true);
    await recorder.flush();
    expect(api.requests).toEqual([]);
    expect(once.known('shop/listings-read', step(1).name)).toBe(false);
  });
});
