import { describe, expect, it } from 'vitest';
import { DIFFY_THRESHOLDS, judgeField, judgeFields } from '../../../operator/src/parity/noise.ts';

describe('judgeField (Diffy thresholds: relative 20 %, absolute 0.03 %)', () => {
  const cases: { name: string; raw: number; noise: number; compared: number; noiseCompared: number; real: boolean }[] = [
    { name: 'a field that differs only against the new service', raw: 10, noise: 0, compared: 100, noiseCompared: 20, real: true },
    { name: 'a timestamp: differs on every request, legacy vs legacy too', raw: 100, noise: 20, compared: 100, noiseCompared: 20, real: false },
    { name: 'noise measured on a 20 % sample is scaled up', raw: 50, noise: 10, compared: 100, noiseCompared: 20, real: false },
    { name: 'raw clearly above the scaled noise', raw: 90, noise: 4, compared: 100, noiseCompared: 20, real: true },
    { name: 'within 20 % relative of the noise', raw: 55, noise: 9, compared: 100, noiseCompared: 20, real: false },
    { name: 'no noise sample: every difference is real', raw: 1, noise: 0, compared: 100, noiseCompared: 0, real: true },
    { name: 'below the absolute threshold (1 in 10,000 = 0.01 %)', raw: 1, noise: 0, compared: 10_000, noiseCompared: 2_000, real: false },
    { name: 'above the absolute threshold (4 in 10,000 = 0.04 %)', raw: 4, noise: 0, compared: 10_000, noiseCompared: 2_000, real: true },
    { name: 'raw below noise is never real', raw: 5, noise: 5, compared: 100, noiseCompared: 20, real: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(judgeField('$.x', { raw: c.raw, noise: c.noise }, { compared: c.compared, noiseCompared: c.noiseCompared }).real).toBe(c.real);
    });
  }

  it('reports the scaled noise and both percentages', () => {
    const j = judgeField('$.x', { raw: 30, noise: 2 }, { compared: 100, noiseCompared: 20 }, DIFFY_THRESHOLDS);
    expect(j).toMatchObject({ raw: 30, noise: 2, expectedNoise: 10, relative: 50, absolute: 20, real: true });
  });

  it('thresholds are parameters', () => {
    const counts = { raw: 30, noise: 2 };
    expect(judgeField('$.x', counts, { compared: 100, noiseCompared: 20 }, { relativeThreshold: 60, absoluteThreshold: 0.03 }).real).toBe(false);
    expect(judgeField('$.x', counts, { compared: 100, noiseCompared: 20 }, { relativeThreshold: 20, absoluteThreshold: 25 }).real).toBe(false);
  });
});

describe('judgeFields', () => {
  it('lists real differences first', () => {
    const js = judgeFields({ '$.at': { raw: 100, noise: 20 }, '$.price': { raw: 10, noise: 0 } }, { compared: 100, noiseCompared: 20 });
    expect(js.map((j) => [j.field, j.real])).toEqual([['$.price', true], ['$.at', false]]);
  });
});
