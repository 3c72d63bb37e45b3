import { describe, expect, it } from 'vitest';
import type { DiffResult } from '../../../operator/src/parity/diff.ts';
import { DIFFY_THRESHOLDS } from '../../../operator/src/parity/noise.ts';
import { redactBody, redactHeaders, redactJson } from '../../../operator/src/parity/redact.ts';
import { buildReport, renderJson, renderMarkdown, renderText } from '../../../operator/src/parity/report.ts';
import { emptySummary, recordComparison, type ParitySummary, type Sample } from '../../../operator/src/parity/summary.ts';

const AT = '2026-12-01T10:00:00Z';
const OPTS = { maxMismatchRatio: 0, minCompared: 50, noise: DIFFY_THRESHOLDS };
const META = { namespace: 'shop', name: 'listings-parity', owner: 'team-listings', date: '2026-12-01T11:00:00Z', redactJsonPaths: ['$.user.email'] };
const SECRET = 'Bearer s3cr3t-token';
const COOKIE = 'session=abc123';

// A sample as an older or careless writer might have stored it: unredacted. The report must redact it anyway.
const leakySample = (i: number): Sample => ({
  at: AT,
  request: { method: 'GET', path: `/listings/${i}`, headers: { Authorization: SECRET, cookie: COOKIE } },
  legacy: { status: 200, headers: { 'set-cookie': COOKIE }, body: JSON.stringify({ price: 10, user: { email: 'a@example.com' } }) },
  candidate: { status: 200, headers: {}, body: JSON.stringify({ price: 11, user: { email: 'a@example.com' } }) },
  difference: '$.price: 10 → 11',
});
const raw = (fields: string[], extra: Partial<DiffResult> = {}): DiffResult => ({ fields: fields.map((field) => ({ field, kind: 'value' })), deviations: [], serverError: false, truncated: false, ...extra });

function summary(): ParitySummary {
  const s = emptySummary(AT);
  for (let i = 0; i < 100; i++) {
    const fields = i % 10 === 0 ? ['$.price', '$.at'] : ['$.at'];
    const deviations = i % 50 === 0 ? [{ path: '$.score', rule: 'relative' as const, reason: 'float scoring, < 5% delta vs v1' }] : [];
    recordComparison(s, { endpoint: 'GET /listings/:id', raw: raw(fields, { deviations }), ...(i % 5 === 0 ? { noise: raw(['$.at']) } : {}), sample: () => leakySample(i) }, AT);
  }
  return s;
}

describe('buildReport', () => {
  const r = buildReport(summary(), OPTS, META);

  it('has the playbook shape: date, owner, flows with match rate, deviations, fields raw vs noise, decision', () => {
    expect(r).toMatchObject({ date: META.date, owner: 'team-listings', decision: 'No-Go', result: 'Fail', compared: 100, mismatched: 10 });
    expect(r.flows).toEqual([{ endpoint: 'GET /listings/:id', compared: 100, noiseCompared: 20, mismatched: 10, matchRate: 0.9, truncated: 0, serverErrors: 0, result: 'Fail' }]);
    expect(r.knownDeviations).toEqual([{ endpoint: 'GET /listings/:id', path: '$.score', rule: 'relative', reason: 'float scoring, < 5% delta vs v1', count: 2 }]);
    expect(r.differingFields.map((f) => [f.field, f.raw, f.noise, f.classification])).toEqual([['$.price', 10, 0, 'real'], ['$.at', 100, 20, 'noise']]);
    expect(r.differingFields[0]?.samples).toHaveLength(5);
    expect(r.reason).toContain('$.price');
  });

  it('is Go only on Pass; Inconclusive is No-Go with the reason', () => {
    const s = emptySummary(AT);
    for (let i = 0; i < 10; i++) recordComparison(s, { endpoint: 'GET /a', raw: raw([]), sample: () => leakySample(i) }, AT);
    const inc = buildReport(s, OPTS, META);
    expect([inc.decision, inc.reason]).toEqual(['No-Go', 'inconclusive, missing data never passes: GET /a: only 10 of the 50 compared requests needed']);
    expect(buildReport(s, { ...OPTS, minCompared: 10 }, META).decision).toBe('Go');
  });

  for (const [name, render] of [['text', renderText], ['Markdown', renderMarkdown], ['JSON', renderJson]] as const) {
    it(`${name}: never shows Authorization, Cookie, Set-Cookie or a redactJsonPaths field`, () => {
      const out = render(r);
      expect(out).toContain('$.price');
      expect(out).not.toContain('s3cr3t');
      expect(out).not.toContain('abc123');
      expect(out).not.toContain('a@example.com');
    });
  }

  it('text and Markdown name the decision and the sections', () => {
    const text = renderText(r);
    expect(text).toMatch(/^Decision: {2}No-Go: GET \/listings\/:id: 10 of 100/m);
    expect(text).toContain('Compared flows');
    expect(text).toMatch(/GET \/listings\/:id\s+100\s+10\s+90\.00%\s+Fail/);
    const md = renderMarkdown(r);
    expect(md).toContain('| `GET /listings/:id` | 100 | 10 | 90.00% | Fail |');
    expect(md).toContain('| `GET /listings/:id` | `$.score` | relative | float scoring, < 5% delta vs v1 | 2 |');
    expect(md).toContain('| `GET /listings/:id` | `$.at` | 100 | 20 | 0% | 0% | noise |');
    expect(JSON.parse(renderJson(r))).toEqual(JSON.parse(JSON.stringify(r)));
  });
});

describe('redaction', () => {
  it('headers', () => {
    expect(redactHeaders({ Authorization: 'x', Cookie: 'y', 'Set-Cookie': 'z', Accept: 'a' })).toEqual({ authorization: '[redacted]', cookie: '[redacted]', 'set-cookie': '[redacted]', accept: 'a' });
  });
  it('JSON paths, through arrays', () => {
    expect(redactJson({ items: [{ token: 't', id: 1 }], a: 1 }, ['$.items[*].token'])).toEqual({ items: [{ token: '[redacted]', id: 1 }], a: 1 });
  });
  it('bodies are cut', () => {
    expect(redactBody('x'.repeat(3000), [], 10)).toBe(`${'x'.repeat(10)}…`);
  });
});
