import { describe, expect, it } from 'vitest';
import { interpretData, interpretMatrix } from '../../../operator/src/analysis/prometheus.ts';

const vector = (...values: string[]) => ({
  resultType: 'vector',
  result: values.map((value, i) => ({ metric: { i: String(i) }, value: [1700000000, value] })),
});

describe('interpretData (Prometheus instant query results)', () => {
  it.each<[string, Parameters<typeof interpretData>[0], ReturnType<typeof interpretData>]>([
    ['scalar', { resultType: 'scalar', result: [1700000000, '0.25'] }, { kind: 'value', value: 0.25 }],
    ['one sample', vector('0.034'), { kind: 'value', value: 0.034 }],
    ['zero is a value', vector('0'), { kind: 'value', value: 0 }],
    ['scientific notation', vector('1e-3'), { kind: 'value', value: 0.001 }],
    ['empty vector', vector(), { kind: 'inconclusive', reason: 'no data: the query returned an empty vector' }],
    ['several series', vector('1', '2', '3'), { kind: 'inconclusive', reason: 'the query returned 3 series, expected 1 (aggregate it, e.g. with sum())' }],
    ['NaN', vector('NaN'), { kind: 'inconclusive', reason: 'value is NaN (no requests in the window?)' }],
    ['+Inf', vector('+Inf'), { kind: 'inconclusive', reason: 'value is +Inf' }],
    ['-Inf scalar', { resultType: 'scalar', result: [1, '-Inf'] }, { kind: 'inconclusive', reason: 'value is -Inf' }],
    ['garbage value', vector('abc'), { kind: 'inconclusive', reason: 'value "abc" is not a finite number' }],
    ['matrix is rejected', { resultType: 'matrix', result: [] }, { kind: 'rejected', reason: expect.stringContaining('range vector') as unknown as string }],
    ['string is rejected', { resultType: 'string', result: [1, 'x'] }, { kind: 'rejected', reason: 'the query returns a string, not a number' }],
    ['missing data', undefined, { kind: 'inconclusive', reason: 'unexpected Prometheus result type undefined' }],
  ])('%s', (_case, data, expected) => {
    expect(interpretData(data)).toEqual(expected);
  });
});

describe('interpretMatrix (Prometheus range query results, for the judge)', () => {
  const matrix = (...series: string[][]) => ({
    resultType: 'matrix',
    result: series.map((values, i) => ({ metric: { i: String(i) }, values: values.map((v, t) => [1700000000 + 15 * t, v]) })),
  });
  it.each<[string, Parameters<typeof interpretMatrix>[0], ReturnType<typeof interpretMatrix>]>([
    ['one series', matrix(['0.1', '0.2', '0.15']), { kind: 'values', values: [0.1, 0.2, 0.15] }],
    ['NaN and Inf points dropped', matrix(['0.1', 'NaN', '+Inf', '0.3', '-Inf']), { kind: 'values', values: [0.1, 0.3] }],
    ['no series: no values (the judge says too few)', matrix(), { kind: 'values', values: [] }],
    ['several series', matrix(['1'], ['2']), { kind: 'inconclusive', reason: 'the query returned 2 series, expected 1 (aggregate it, e.g. with sum())' }],
    ['vector is unexpected', { resultType: 'vector', result: [] }, { kind: 'inconclusive', reason: 'unexpected Prometheus range result type "vector"' }],
    ['string is rejected', { resultType: 'string', result: [1, 'x'] }, { kind: 'rejected', reason: 'the query returns a string, not a number' }],
    ['series without values', { resultType: 'matrix', result: [{ metric: {} }] }, { kind: 'inconclusive', reason: 'malformed Prometheus range result (no values)' }],
  ])('%s', (_case, data, expected) => {
    expect(interpretMatrix(data)).toEqual(expected);
  });
});
