import { describe, expect, it } from 'vitest';
import {
  KubeApiError,
  isConflict,
  isForbidden,
  isGone,
  isInvalid,
  isNotFound,
  isTooManyRequests,
  isTransient,
  retryAfterMs,
} from '../../../operator/src/kube/errors.ts';

const statusBody = (code: number, reason: string, message: string, details?: unknown) =>
  JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message, details });

describe('KubeApiError.fromResponse', () => {
  it('maps a Status body: code, reason, message and details', () => {
    const err = KubeApiError.fromResponse(
      422,
      statusBody(422, 'Invalid', 'TrafficShift.cutover.dev "x" is invalid', {
        name: 'x',
        kind: 'TrafficShift',
        causes: [{ reason: 'FieldValueInvalid', field: 'spec.steps[0].weight', message: 'must be <= 100' }],
      }),
      undefined,
      'POST /apis/cutover.dev/v1alpha1/namespaces/a/trafficshifts',
    );
    expect(err.code).toBe(422);
    expect(err.reason).toBe('Invalid');
    expect(err.message).toContain('is invalid');
    expect(err.message).toContain('POST /apis/cutover.dev');
    expect(err.details?.causes?.[0]?.field).toBe('spec.steps[0].weight');
    expect(isInvalid(err)).toBe(true);
    expect(isConflict(err)).toBe(false);
  });

  it.each([
    [404, 'NotFound', isNotFound],
    [409, 'Conflict', isConflict],
    [409, 'AlreadyExists', isConflict],
    [410, 'Expired', isGone],
    [403, 'Forbidden', isForbidden],
    [429, 'TooManyRequests', isTooManyRequests],
  ])('%i %s has its predicate', (code, reason, predicate) => {
    expect(predicate(KubeApiError.fromResponse(code, statusBody(code, reason, 'x')))).toBe(true);
  });

  it('takes retry-after from the header, else from Status details', () => {
    const fromHeader = KubeApiError.fromResponse(429, statusBody(429, 'TooManyRequests', 'slow down'), '3');
    expect(fromHeader.retryAfterSeconds).toBe(3);
    expect(retryAfterMs(fromHeader)).toBe(3000);
    const fromDetails = KubeApiError.fromResponse(429, statusBody(429, 'TooManyRequests', 'slow down', { retryAfterSeconds: 7 }));
    expect(fromDetails.retryAfterSeconds).toBe(7);
  });

  it('maps a non-JSON answer by its HTTP code', () => {
    const err = KubeApiError.fromResponse(503, 'upstream unavailable\n');
    expect(err).toMatchObject({ code: 503, reason: 'ServiceUnavailable', message: 'upstream unavailable' });
    expect(isTransient(err)).toBe(true);
  });

  it('maps a server-side apply that does not fit the schema (answered 500) to Invalid, not transient', () => {
    const err = KubeApiError.fromResponse(
      500,
      statusBody(500, '', 'failed to create typed patch object (ns/x; /v1, Kind=ConfigMap): .bogus: field not declared in schema'),
    );
    expect(err.code).toBe(500);
    expect(err.reason).toBe('Invalid');
    expect(isInvalid(err)).toBe(true);
    expect(isTransient(err)).toBe(false);
  });

  it('maps a watch ERROR Status (410 Expired) with fromStatus', () => {
    const err = KubeApiError.fromStatus({ kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 1 (2000)' });
    expect(isGone(err)).toBe(true);
  });

  it('maps a network error to code 0, transient', () => {
    const err = KubeApiError.fromNetworkError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'GET /api/v1/x');
    expect(err).toMatchObject({ code: 0, reason: 'ConnectionError' });
    expect(isTransient(err)).toBe(true);
    expect(isNotFound(err)).toBe(false);
  });

  it('predicates are false for other errors', () => {
    expect(isNotFound(new Error('x'))).toBe(false);
    expect(isGone(undefined)).toBe(false);
  });
});
