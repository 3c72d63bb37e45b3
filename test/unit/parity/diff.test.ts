import { describe, expect, it } from 'vitest';
import type { ParityDeviation } from '../../../operator/src/api/shadowrun.ts';
import { compareAnswers, normalizePath, type Answer } from '../../../operator/src/parity/diff.ts';

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Answer {
  const text = JSON.stringify(body);
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: text, length: text.length, sha256: `h${text}` };
}
function text(body: string, contentType = 'text/plain'): Answer {
  return { status: 200, headers: { 'content-type': contentType }, body, length: body.length, sha256: `h${body}` };
}
const dev = (d: Omit<ParityDeviation, 'reason'>): ParityDeviation => ({ reason: `because ${d.path}`, ...d });

describe('compareAnswers', () => {
  const cases: { name: string; legacy: Answer; candidate: Answer; deviations?: ParityDeviation[]; fields: string[]; hits?: string[]; serverError?: boolean }[] = [
    { name: 'equal JSON, keys in another order', legacy: json({ a: 1, b: [1, 2] }), candidate: json({ b: [1, 2], a: 1 }), fields: [] },
    { name: 'a changed value', legacy: json({ price: 10 }), candidate: json({ price: 11 }), fields: ['$.price value'] },
    { name: 'array indices dropped, one count per field', legacy: json({ items: [{ price: 1 }, { price: 2 }] }), candidate: json({ items: [{ price: 9 }, { price: 8 }] }), fields: ['$.items[].price value'] },
    { name: 'missing and extra keys', legacy: json({ a: 1 }), candidate: json({ b: 1 }), fields: ['$.a missing', '$.b extra'] },
    { name: 'a type change', legacy: json({ a: 1 }), candidate: json({ a: '1' }), fields: ['$.a type'] },
    { name: 'arrays of another length', legacy: json({ xs: [1, 2] }), candidate: json({ xs: [1] }), fields: ['$.xs size'] },
    { name: 'a different status is the only finding', legacy: json({ a: 1 }, 200), candidate: json({ e: 'x' }, 404), fields: ['status status'] },
    { name: '2xx → 5xx is a server error', legacy: json({ a: 1 }, 200), candidate: json({ a: 1 }, 503), fields: ['status status'], serverError: true },
    { name: 'no answer from the new service is a server error', legacy: json({ a: 1 }, 200), candidate: { status: 0, headers: {}, length: 0, sha256: '' }, fields: ['status status'], serverError: true },
    { name: 'a compared header', legacy: json({}, 200, { 'cache-control': 'no-store' }), candidate: json({}, 200, { 'cache-control': 'max-age=60' }), fields: ['header.cache-control header'] },
    { name: 'headers not chosen are not compared', legacy: json({}, 200, { date: 'x' }), candidate: json({}, 200, { date: 'y' }), fields: [] },
    { name: 'text compared after trimming', legacy: text('hello\n'), candidate: text('  hello'), fields: [] },
    { name: 'text that differs', legacy: text('hello'), candidate: text('bye'), fields: ['body text'] },
    { name: 'binary by length and hash', legacy: text('abc', 'image/png'), candidate: text('abd', 'image/png'), fields: ['body binary'] },
    { name: 'truncated bodies by length and hash', legacy: { status: 200, headers: {}, length: 5_000_000, sha256: 'a', truncated: true }, candidate: { status: 200, headers: {}, length: 5_000_000, sha256: 'b', truncated: true }, fields: ['body binary'] },
    { name: 'ignore absorbs a subtree and is counted', legacy: json({ meta: { id: 'a', at: 1 }, x: 1 }), candidate: json({ meta: { id: 'b', at: 2 }, x: 1 }), deviations: [dev({ path: '$.meta', ignore: true })], fields: [], hits: ['$.meta ignore'] },
    { name: 'ignore that absorbed nothing is not counted', legacy: json({ meta: 1 }), candidate: json({ meta: 1 }), deviations: [dev({ path: '$.meta', ignore: true })], fields: [], hits: [] },
    { name: 'round: 2', legacy: json({ v: 1.234 }), candidate: json({ v: 1.2341 }), deviations: [dev({ path: '$.v', round: 2 })], fields: [], hits: ['$.v round'] },
    { name: 'round: 2 does not absorb a real change', legacy: json({ v: 1.23 }), candidate: json({ v: 1.3 }), deviations: [dev({ path: '$.v', round: 2 })], fields: ['$.v value'], hits: [] },
    { name: 'relative 0.05 absorbs 2%', legacy: json({ score: 100 }), candidate: json({ score: 102 }), deviations: [dev({ path: '$.score', relative: 0.05 })], fields: [], hits: ['$.score relative'] },
    { name: 'relative 0.05 does not absorb 10%', legacy: json({ score: 100 }), candidate: json({ score: 110 }), deviations: [dev({ path: '$.score', relative: 0.05 })], fields: ['$.score value'] },
    { name: 'a rule under [*] applies to every element', legacy: json({ items: [{ p: 100 }] }), candidate: json({ items: [{ p: 101 }] }), deviations: [dev({ path: '$.items[*].p', relative: 0.05 })], fields: [], hits: ['$.items[].p relative'] },
    { name: 'sort: another order is absorbed', legacy: json({ tags: ['a', 'b'] }), candidate: json({ tags: ['b', 'a'] }), deviations: [dev({ path: '$.tags', sort: true })], fields: [], hits: ['$.tags sort'] },
    { name: 'without sort another order differs', legacy: json({ tags: ['a', 'b'] }), candidate: json({ tags: ['b', 'a'] }), fields: ['$.tags[] value'] },
    { name: 'sort still finds a changed element', legacy: json({ tags: ['a', 'b'] }), candidate: json({ tags: ['c', 'a'] }), deviations: [dev({ path: '$.tags', sort: true })], fields: ['$.tags[] value'], hits: [] },
    {
      name: 'keyBy matches elements by id and finds the changed field',
      legacy: json({ items: [{ id: 1, p: 1 }, { id: 2, p: 2 }] }),
      candidate: json({ items: [{ id: 2, p: 3 }, { id: 1, p: 1 }] }),
      deviations: [dev({ path: '$.items', keyBy: 'id' })],
      fields: ['$.items[].p value'],
      hits: ['$.items keyBy'],
    },
    { name: 'keyBy: an element only on one side', legacy: json({ items: [{ id: 1 }] }), candidate: json({ items: [{ id: 1 }, { id: 2 }] }), deviations: [dev({ path: '$.items', keyBy: 'id' })], fields: ['$.items[] extra'] },
    { name: 'invalid JSON falls back to text', legacy: text('{"a":', 'application/json'), candidate: text('{"a":', 'application/json'), fields: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = compareAnswers(c.legacy, c.candidate, { compareHeaders: ['Content-Type', 'cache-control'], ...(c.deviations ? { deviations: c.deviations } : {}) });
      expect(r.fields.map((f) => `${f.field} ${f.kind}`).sort()).toEqual([...c.fields].sort());
      if (c.hits) expect(r.deviations.map((h) => `${h.path} ${h.rule}`)).toEqual(c.hits);
      expect(r.serverError).toBe(c.serverError ?? false);
    });
  }

  it('names the reason of the deviation that absorbed a difference', () => {
    const r = compareAnswers(json({ s: 1 }), json({ s: 1.01 }), { deviations: [{ path: '$.s', relative: 0.05, reason: 'float scoring' }] });
    expect(r.deviations).toEqual([{ path: '$.s', rule: 'relative', reason: 'float scoring' }]);
  });
});

describe('normalizePath', () => {
  it('drops indices and wildcards', () => {
    expect(normalizePath('$.a[3].b[*].c[]')).toBe('$.a[].b[].c[]');
  });
});
