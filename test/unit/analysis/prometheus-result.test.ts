import { describe, expect, it } from 'vitest';
import { interpretData } from '../../../operator/src/analysis/prometheus.ts';

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
