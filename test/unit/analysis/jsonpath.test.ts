import { describe, expect, it } from 'vitest';
import { formatSegments, JsonPathError, parseSingularPath, selectPath } from '../../../operator/src/analysis/jsonpath.ts';
import { SINGULAR_JSONPATH } from '../../../operator/src/api/webcheck.ts';

const doc = { delta: 0.03, results: [{ 'count ratio': 1.0004 }, { n: 7 }], nested: { a: { b: [1, 2, 3] } }, 'v2 total': 12, zero: 0, nil: null };

describe('parseSingularPath / selectPath', () => {
  it.each<[string, unknown]>([
    ['$', doc],
    ['$.delta', 0.03],
    ["$.results[0]['count ratio']", 1.0004],
    ['$.results[1].n', 7],
    ['$.results[-1].n', 7],
    ['$.nested.a.b[2]', 3],
    ["$['v2 total']", 12],
    ['$["v2 total"]', 12],
    ['$.zero', 0],
    ['$.nil', null],
  ])('%s selects %j', (path, expected) => {
    expect(selectPath(doc, parseSingularPath(path))).toEqual({ found: true, value: expected });
  });

  it.each<[string, string]>([
    ['$.missing', '$.missing'],
    ['$.results[5].n', '$.results[5]'],
    ['$.results[-3]', '$.results[-3]'],
    ['$.delta.x', '$.delta.x'],
    ['$.results.n', '$.results.n'],
    ['$.nested[0]', '$.nested[0]'],
    ['$.nil.x', '$.nil.x'],
    ["$['v2 total'].x", "$['v2 total'].x"],
  ])('%s is missing at %s', (path, missing) => {
    expect(selectPath(doc, parseSingularPath(path))).toEqual({ found: false, missing });
  });

  it('does not read inherited properties', () => {
    expect(selectPath({}, parseSingularPath('$.constructor')).found).toBe(false);
    expect(selectPath({}, parseSingularPath('$.__proto__')).found).toBe(false);
  });

  // The parser and the admission pattern accept exactly the same paths.
  it.each([
    ['$.results[*]', false], ['$..delta', false], ['$.results[0:2]', false], ['$.results[?@.n]', false],
    ['delta', false], ['$.', false], ['$.1abc', false], ["$['a\\'b']", false], ['$[01x]', false], ['$ .a', false],
    ['$.a_b.C9', true], ['$[0][1]', true], ["$['']", true], ['$[-0]', true],
  ] as const)('%s accepted: %s (parser and CRD pattern agree)', (path, ok) => {
    expect(SINGULAR_JSONPATH.test(path)).toBe(ok);
    if (ok) expect(() => parseSingularPath(path)).not.toThrow();
    else expect(() => parseSingularPath(path)).toThrow(JsonPathError);
  });

  it('formats names that are not identifiers in brackets', () => {
    expect(formatSegments([{ name: 'a' }, { index: -1 }, { name: 'b c' }])).toBe("$.a[-1]['b c']");
  });
});
