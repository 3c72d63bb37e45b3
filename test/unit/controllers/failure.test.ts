// What a user sees of a failed reconcile (operator/src/controllers/shared/failure.ts): the reason
// and message each kind of failure gets, and the conditions that show it. The API errors are the
// real KubeApiError type, built from the Status bodies the API server sends.
import { describe, expect, it } from 'vitest';
import { activeFailure, failureOf, overlayFailure, showsFailure, withFailure } from '../../../operator/src/controllers/shared/failure.ts';
import { KubeApiError } from '../../../operator/src/kube/index.ts';
import { RouteVerificationError } from '../../../operator/src/traffic/router.ts';
import type { Condition } from '../../../operator/src/runtime/conditions.ts';

const status = (code: number, reason: string, message: string) => JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message });
const T0 = Date.parse('2026-12-01T10:00:00Z');

describe('failureOf', () => {
  it('a 403 on the scale subresource: Forbidden, stalled, naming the operation and the object', () => {
    const msg = 'deployments.apps "score-worker" is forbidden: User "system:serviceaccount:cutover:cutover" cannot patch resource "deployments/scale" in API group "apps" in the namespace "shop"';
    const err = KubeApiError.fromResponse(403, status(403, 'Forbidden', msg), undefined, 'PATCH /apis/apps/v1/namespaces/shop/deployments/score-worker/scale');
    expect(failureOf(err)).toEqual({ reason: 'Forbidden', stalled: true, message: `scale deployments/score-worker in shop: ${msg}` });
  });

  it('a 422 on a route write (an admission policy): RouteWriteRejected, stalled', () => {
    const msg = 'httproutes.gateway.networking.k8s.io "web" is invalid: : ValidatingAdmissionPolicy \'freeze\' with binding \'freeze\' denied request: frozen';
    const err = KubeApiError.fromResponse(422, status(422, 'Invalid', msg), undefined, 'APPLY /apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes/web');
    expect(failureOf(err)).toEqual({ reason: 'RouteWriteRejected', stalled: true, message: `apply httproutes/web in shop: ${msg}` });
  });

  it('the feature flag ConfigMap: FeatureFlagWriteFailed, stalled only when invalid; a 403 is Forbidden', () => {
    const req = 'APPLY /api/v1/namespaces/shop/configmaps/flags';
    expect(failureOf(KubeApiError.fromResponse(422, status(422, 'Invalid', 'too long'), undefined, req))).toMatchObject({ reason: 'FeatureFlagWriteFailed', stalled: true, message: 'apply configmaps/flags in shop: too long' });
    expect(failureOf(KubeApiError.fromResponse(500, status(500, 'InternalError', 'etcd timeout'), undefined, req))).toMatchObject({ reason: 'FeatureFlagWriteFailed', stalled: false });
    expect(failureOf(KubeApiError.fromResponse(403, status(403, 'Forbidden', 'no'), undefined, req))).toMatchObject({ reason: 'Forbidden', stalled: true });
  });

  it('an unverified route write, a server error, a dropped connection: retried, not stalled', () => {
    expect(failureOf(new RouteVerificationError('HTTPRoute shop/web rule 0 after apply: weights are stable 100 / canary 0, expected 90 / 10')))
      .toEqual({ reason: 'RouteVerificationFailed', stalled: false, message: 'HTTPRoute shop/web rule 0 after apply: weights are stable 100 / canary 0, expected 90 / 10' });
    expect(failureOf(KubeApiError.fromResponse(503, 'unavailable', undefined, 'GET /apis/apps/v1/namespaces/shop/deployments/w'))).toMatchObject({ reason: 'ReconcileError', stalled: false, message: 'get deployments/w in shop: unavailable' });
    expect(failureOf(KubeApiError.fromNetworkError(new Error('ECONNREFUSED'), 'GET /api/v1/namespaces/shop/services/a'))).toMatchObject({ reason: 'ReconcileError', stalled: false });
  });

  it('a 409 Conflict is retried at once and shown to no one', () => {
    expect(failureOf(KubeApiError.fromResponse(409, status(409, 'Conflict', 'the object has been modified'), undefined, 'PATCH /apis/cutover.dev/v1alpha1/namespaces/shop/trafficshifts/a'))).toBeUndefined();
  });
});

describe('the conditions of a failure', () => {
  const progressing: Condition[] = [
    { type: 'Ready', status: 'False', reason: 'StepInProgress', message: 'step 1/3: weight 10', lastTransitionTime: '2026-12-01T09:00:00Z', observedGeneration: 1 },
    { type: 'Progressing', status: 'True', reason: 'StepInProgress', message: 'step 1/3: weight 10', lastTransitionTime: '2026-12-01T09:00:00Z', observedGeneration: 1 },
    { type: 'Reconciling', status: 'True', reason: 'StepInProgress', message: 'step 1/3: weight 10', lastTransitionTime: '2026-12-01T09:00:00Z', observedGeneration: 1 },
  ];
  const forbidden = { reason: 'Forbidden', message: 'scale deployments/w in shop: forbidden', stalled: true };

  it('stalled: Ready=False and Stalled=True name it; Progressing and Reconciling go; the rest of status stays', () => {
    const st = withFailure({ phase: 'Progressing', currentWeight: 10, conditions: progressing }, forbidden, 1, T0);
    expect(st.phase).toBe('Progressing');
    expect(st.currentWeight).toBe(10);
    expect(st.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([['Ready', 'False', 'Forbidden'], ['Stalled', 'True', 'Forbidden']]);
    // Ready was False already: its transition time stays.
    expect(st.conditions[0]!.lastTransitionTime).toBe('2026-12-01T09:00:00Z');
    expect(activeFailure(st)).toBeDefined();
    expect(showsFailure(st, forbidden)).toBe(true);
    expect(showsFailure(st, { ...forbidden, message: 'scale deployments/other in shop: forbidden' })).toBe(false);
    expect(showsFailure({ conditions: progressing }, forbidden)).toBe(false);
  });

  it('a retryable failure keeps Progressing/Reconciling and replaces an earlier stalled failure', () => {
    const stalled = withFailure({ conditions: progressing }, forbidden, 1, T0);
    const st = withFailure(stalled, { reason: 'ReconcileError', message: 'get deployments/w in shop: unavailable', stalled: false }, 1, T0);
    expect(st.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([['Ready', 'False', 'ReconcileError']]);
    const st2 = withFailure({ conditions: progressing }, { reason: 'ReconcileError', message: 'x', stalled: false }, 1, T0);
    expect(st2.conditions.map((c) => c.type)).toEqual(['Ready', 'Progressing', 'Reconciling']);
  });

  it('a planned status keeps the conditions of the failure the object shows until the reconcile succeeds', () => {
    const shown = withFailure({ conditions: progressing }, forbidden, 1, T0);
    const planned = { phase: 'Pending', conditions: progressing };
    const overlaid = overlayFailure(planned, activeFailure(shown)!);
    expect(overlaid.phase).toBe('Pending');
    expect(overlaid.conditions).toEqual(shown.conditions);
  });

  it('a planner Ready reason is no failure', () => {
    expect(activeFailure({ conditions: progressing })).toBeUndefined();
    expect(activeFailure(undefined)).toBeUndefined();
  });
});
