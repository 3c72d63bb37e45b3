import { describe, expect, it } from 'vitest';
import type { DiffResult } from '../../../operator/src/parity/diff.ts';
import { DIFFY_THRESHOLDS } from '../../../operator/src/parity/noise.ts';
import {
  MAX_SAMPLES_PER_FIELD,
  MAX_SIGNATURES_PER_ENDPOINT,
  OTHER_SIGNATURES,
  emptySummary,
  fitSummary,
  recordComparison,
  type ParitySummary,
  type Sample,
} from '../../../operator/src/parity/summary.ts';
import { EndpointBuckets, OTHER_ENDPOINT, heuristicTemplate, judgeRun, matchTemplate } from '../../../operator/src/parity/verdict.ts';

const AT = '2026-12-01T10:00:00Z';
const diff = (fields: string[], extra: Partial<DiffResult> = {}): DiffResult => ({
  fields: fields.map((f) => ({ field: f, kind: 'value', legacy: 1, candidate: 2 })),
  deviations: [],
  serverError: false,
  truncated: false,
  ...extra,
});
const sample = (n: number) => (): Sample => ({ at: AT, request: { method: 'GET', path: `/listings/${n}`, headers: {} }, legacy: { status: 200, headers: {} }, candidate: { status: 200, headers: {} }, difference: `#${n}` });

/** n requests on one endpoint; rawFields(i) and noiseFields(i) (undefined: not noise-sampled) per request. */
function run(s: ParitySummary, endpoint: string, n: number, rawFields: (i: number) => string[], noiseFields: (i: number) => string[] | undefined = () => undefined, extra: (i: number) => Partial<DiffResult> = () => ({})): ParitySummary {
  for (let i = 0; i < n; i++) {
    const nf = noiseFields(i);
    recordComparison(s, { endpoint, raw: diff(rawFields(i), extra(i)), ...(nf ? { noise: diff(nf) } : {}), sample: sample(i) }, AT);
  }
  return s;
}
const OPTS = { maxMismatchRatio: 0, minCompared: 50, noise: DIFFY_THRESHOLDS };
const every5th = (i: number) => i % 5 === 0;

describe('judgeRun', () => {
  it('noise only (a timestamp differing on every call, legacy vs legacy too) → Pass, the field judged noise', () => {
    const s = run(emptySummary(AT), 'GET /listings/:id', 100, () => ['$.at'], (i) => (every5th(i) ? ['$.at'] : undefined));
    const v = judgeRun(s, OPTS);
    expect(v.result).toBe('Pass');
    expect(v.endpoints[0]?.mismatched).toBe(0);
    expect(v.endpoints[0]?.fields).toMatchObject([{ field: '$.at', raw: 100, noise: 20, real: false }]);
  });

  it('price wrong on 10 % → Fail naming endpoint and field', () => {
    const s = run(emptySummary(AT), 'GET /listings/:id', 100, (i) => (i % 10 === 3 ? ['$.price', '$.at'] : ['$.at']), (i) => (every5th(i) ? ['$.at'] : undefined));
    const v = judgeRun(s, OPTS);
    expect(v.result).toBe('Fail');
    expect(v.endpoints[0]).toMatchObject({ mismatched: 10, mismatchRatio: 0.1 });
    expect(v.reason).toContain('GET /listings/:id: 10 of 100 compared responses differ (10.0% > 0.0%)');
    expect(v.reason).toContain('$.price (raw 10, noise 0)');
  });

  it('a mismatch ratio within maxMismatchRatio passes', () => {
    const s = run(emptySummary(AT), 'GET /a', 100, (i) => (i < 2 ? ['$.x'] : []), () => []);
    expect(judgeRun(s, { ...OPTS, maxMismatchRatio: 0.05 }).result).toBe('Pass');
    expect(judgeRun(s, { ...OPTS, maxMismatchRatio: 0.01 }).result).toBe('Fail');
  });

  it('a 2xx → 5xx always counts, even below minCompared', () => {
    const s = run(emptySummary(AT), 'GET /a', 3, (i) => (i === 0 ? ['status'] : []), () => undefined, (i) => ({ serverError: i === 0 }));
    const v = judgeRun(s, { ...OPTS, maxMismatchRatio: 1 });
    expect(v.result).toBe('Fail');
    expect(v.reason).toContain('went from 2xx on the legacy to 5xx');
  });

  it('a 2xx → 5xx is never noise, even if the status is noisy', () => {
    const s = run(emptySummary(AT), 'GET /a', 100, (i) => (i === 0 ? ['status'] : []), () => ['status'], (i) => ({ serverError: i === 0 }));
    expect(judgeRun(s, { ...OPTS, maxMismatchRatio: 0.5 }).result).toBe('Fail');
  });

  it('an endpoint below minCompared makes the run Inconclusive', () => {
    const s = run(run(emptySummary(AT), 'GET /a', 100, () => []), 'GET /b', 10, () => []);
    const v = judgeRun(s, OPTS);
    expect(v.result).toBe('Inconclusive');
    expect(v.reason).toBe('GET /b: only 10 of the 50 compared requests needed');
  });

  it('nothing compared → Inconclusive', () => {
    expect(judgeRun(emptySummary(AT), OPTS)).toMatchObject({ result: 'Inconclusive', reason: 'no request compared yet' });
  });

  it('a request differing in a noise field and a real field counts once', () => {
    const s = run(emptySummary(AT), 'GET /a', 100, (i) => (i < 50 ? ['$.at', '$.price'] : ['$.at']), (i) => (every5th(i) ? ['$.at'] : undefined));
    expect(judgeRun(s, { ...OPTS, maxMismatchRatio: 1 }).endpoints[0]?.mismatched).toBe(50);
  });
});

describe('summary bounds', () => {
  it('keeps the latest samples per field', () => {
    const s = run(emptySummary(AT), 'GET /a', 12, () => ['$.x']);
    expect(s.endpoints['GET /a']?.fields['$.x']?.samples.map((x) => x.difference)).toEqual(['#7', '#8', '#9', '#10', '#11']);
    expect(MAX_SAMPLES_PER_FIELD).toBe(5);
  });

  it('bounds signatures; the overflow counts as mismatched', () => {
    const n = MAX_SIGNATURES_PER_ENDPOINT + 20;
    const s = run(emptySummary(AT), 'GET /a', n, (i) => [`$.f${i % 90}`, `$.g${Math.floor(i / 90)}`]);
    expect(Object.keys(s.endpoints['GET /a']?.signatures ?? {}).length).toBe(MAX_SIGNATURES_PER_ENDPOINT + 1);
    expect(judgeRun(s, { ...OPTS, maxMismatchRatio: 1 }).endpoints[0]?.mismatched).toBe(n);
  });

  it('counts declared deviations per rule', () => {
    const s = emptySummary(AT);
    for (let i = 0; i < 3; i++) recordComparison(s, { endpoint: 'GET /a', raw: diff([], { deviations: [{ path: '$.score', rule: 'relative', reason: 'float' }] }), sample: sample(i) }, AT);
    expect(s.endpoints['GET /a']?.deviations).toEqual({ '$.score relative': { path: '$.score', rule: 'relative', reason: 'float', count: 3 } });
  });
});

describe('endpoint buckets', () => {
  it('matches templates', () => {
    expect(matchTemplate('GET /listings/:id', 'get', '/listings/42?x=1')).toBe(true);
    expect(matchTemplate('GET /listings/:id', 'GET', '/listings/42/photos')).toBe(false);
    expect(matchTemplate('GET /listings/:id', 'HEAD', '/listings/42')).toBe(false);
    expect(matchTemplate('POST /search', 'POST', '/search')).toBe(true);
    expect(matchTemplate('GET /static/*', 'GET', '/static/a/b.css')).toBe(true);
  });

  it('turns ids into :id', () => {
    expect(heuristicTemplate('/listings/42/photos/9f86d081884c7d65?q=1')).toBe('/listings/:id/photos/:id');
    expect(heuristicTemplate('/users/123e4567-e89b-12d3-a456-426614174000')).toBe('/users/:id');
    expect(heuristicTemplate('/healthz')).toBe('/healthz');
  });

  it('prefers templates, and bounds the set', () => {
    const b = new EndpointBuckets(['GET /listings/:slug'], 3);
    expect(b.bucket('GET', '/listings/cheap-flat')).toBe('GET /listings/:slug');
    expect(b.bucket('GET', '/a')).toBe('GET /a');
    expect(b.bucket('GET', '/b')).toBe('GET /b');
    expect(b.bucket('GET', '/c')).toBe(OTHER_ENDPOINT);
    expect(b.bucket('GET', '/a')).toBe('GET /a');
  });
});

describe('fitSummary', () => {
  const big = (): ParitySummary => run(emptySummary(AT), 'GET /a', 300, (i) => [`$.f${i % 60}`, `$.g${i % 7}`]);

  it('returns the summary unchanged when it fits', () => {
    const s = big();
    expect(fitSummary(s, 10_000_000)).toEqual(s);
  });

  it('drops samples first, keeping every count', () => {
    const s = big();
    const withoutSamples = JSON.stringify({ ...s, endpoints: { 'GET /a': { ...s.endpoints['GET /a'], fields: Object.fromEntries(Object.entries(s.endpoints['GET /a']?.fields ?? {}).map(([k, f]) => [k, { ...f, samples: [] }])) } } }).length;
    const fitted = fitSummary(s, withoutSamples + 2000);
    expect(JSON.stringify(fitted).length).toBeLessThanOrEqual(withoutSamples + 2000);
    expect(fitted.endpoints['GET /a']?.signatures).toEqual(s.endpoints['GET /a']?.signatures);
    expect(judgeRun(fitted, OPTS)).toEqual(judgeRun(s, OPTS));
  });

  it('then merges signatures, which only makes the verdict stricter', () => {
    const s = run(emptySummary(AT), 'GET /a', 100, (i) => (i % 2 ? ['$.at'] : ['$.at', `$.x${i}`]), (i) => (every5th(i) ? ['$.at'] : undefined));
    const fitted = fitSummary(s, 1);
    expect(fitted.endpoints['GET /a']?.signatures).toEqual({ [OTHER_SIGNATURES]: 100 });
    expect(fitted.endpoints['GET /a']?.fields['$.at']).toMatchObject({ raw: 100, noise: 20, samples: [] });
    expect(judgeRun(fitted, { ...OPTS, maxMismatchRatio: 1 }).endpoints[0]?.mismatched).toBe(100);
  });
});
