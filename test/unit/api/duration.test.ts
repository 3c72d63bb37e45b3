import { describe, it, expect } from 'vitest';
import { DURATION_PATTERN, formatDuration, parseDuration, tryParseDuration } from '../../../operator/src/api/index.ts';

describe('parseDuration', () => {
  const valid: Array<[string, number]> = [
    ['0', 0],
    ['0s', 0],
    ['250ms', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['2h45m30s', 9_930_000],
    ['1.5s', 1_500],
    ['1.5h', 5_400_000],
    ['168h', 604_800_000],
    ['1m30s500ms', 90_500],
    ['100us', 0.1],
    ['100µs', 0.1],
    ['1000000ns', 1],
    ['90m', 5_400_000],
  ];
  it.each(valid)('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBeCloseTo(ms, 9);
    expect(DURATION_PATTERN.test(text)).toBe(true);
  });

  const invalid = ['', '5', '30 s', '5min', '3d', '1w', '-5m', '+5m', '.5s', '1.s', 's', '5m ', ' 5m', '1h-30m', 'PT5M', '5M'];
  it.each(invalid)('%j is rejected, by the parser and the CRD pattern alike', (text) => {
    expect(() => parseDuration(text)).toThrow(/invalid duration/);
    expect(tryParseDuration(text)).toBeUndefined();
    expect(DURATION_PATTERN.test(text)).toBe(false);
  });
});

describe('formatDuration', () => {
  const table: Array<[number, string]> = [
    [0, '0s'],
    [250, '250ms'],
    [1_500, '1.5s'],
    [30_000, '30s'],
    [300_000, '5m'],
    [5_400_000, '1h30m'],
    [9_930_000, '2h45m30s'],
    [604_800_000, '168h'],
  ];
  it.each(table)('%d ms is %s, and parses back', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });

  it('rejects negative and non-finite values', () => {
    expect(() => formatDuration(-1)).toThrow(RangeError);
    expect(() => formatDuration(Number.NaN)).toThrow(RangeError);
  });
});
