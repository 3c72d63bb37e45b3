import { describe, expect, it } from 'vitest';
import { ParitySchema, ShadowRunSpecSchema } from '../../../operator/src/api/shadowrun.ts';

describe('ParitySchema', () => {
  it("defaults: Diffy's noise thresholds, 10 legacy replays/s, 256 KiB / 1 MiB bodies, credentials forwarded", () => {
    expect(ParitySchema.parse({})).toEqual({
      maxMismatchRatio: 0,
      minCompared: 50,
      noise: { fraction: 0.2, relativeThreshold: 20, absoluteThreshold: 0.03 },
      compareHeaders: ['content-type', 'cache-control', 'location'],
      maxLegacyRps: 10,
      maxInFlight: 32,
      timeout: '5s',
      credentials: 'forward',
      maxRequestBodyBytes: 262144,
      maxResponseBodyBytes: 1048576,
    });
  });

  const deviation = (d: Record<string, unknown>) => ParitySchema.safeParse({ deviations: [{ path: '$.score', reason: 'r', ...d }] });
  it('a deviation has exactly one rule and a reason', () => {
    expect(deviation({ relative: 0.05 }).success).toBe(true);
    expect(deviation({ keyBy: 'id' }).success).toBe(true);
    expect(deviation({}).error?.issues[0]?.message).toBe('exactly one of ignore, round, relative, sort, keyBy must be set');
    expect(deviation({ round: 2, relative: 0.05 }).error?.issues[0]?.message).toBe('exactly one of ignore, round, relative, sort, keyBy must be set');
    expect(ParitySchema.safeParse({ deviations: [{ path: '$.score', ignore: true }] }).success).toBe(false);
  });

  it('paths and endpoint templates are checked', () => {
    expect(deviation({ path: 'score', ignore: true }).success).toBe(false);
    expect(deviation({ path: '$.items[*].price', ignore: true }).success).toBe(true);
    expect(ParitySchema.safeParse({ allowMethods: ['POST /search'] }).success).toBe(true);
    expect(ParitySchema.safeParse({ allowMethods: ['/search'] }).success).toBe(false);
  });

  it('is accepted on a ShadowRun (the operator runs a comparator for it)', () => {
    const spec = {
      route: { httpRoute: { name: 'r' } },
      primary: { service: 'legacy', port: 80 },
      shadow: { service: 'next', port: 80 },
      percent: 10,
      duration: '1h',
      parity: {},
    };
    const r = ShadowRunSpecSchema.safeParse(spec);
    expect(r.success).toBe(true);
    expect(r.data?.parity?.maxLegacyRps).toBe(10);
  });
});
