import { describe, expect, it } from 'vitest';
import {
  desiredRule,
  ruleMirror,
  ruleWeights,
  weightPercentages,
  type HTTPRouteRule,
  type RuleBackends,
  type RuleChange,
} from '../../../operator/src/traffic/httproute-rule.ts';

const backends: RuleBackends = {
  namespace: 'shop',
  stable: { service: 'monolith', port: 8080 },
  canary: { service: 'listings-api', port: 8080 },
};

// As the API server returns them: defaults filled in.
const stableRef = (weight = 1) => ({ group: '', kind: 'Service', name: 'monolith', port: 8080, weight });
const canaryRef = (weight: number) => ({ group: '', kind: 'Service', name: 'listings-api', port: 8080, weight });
const match = { path: { type: 'PathPrefix', value: '/listings' }, headers: [{ type: 'Exact', name: 'x-env', value: 'prod' }] };
const headerFilter = { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-via', value: 'gw' }] } };
const mirrorTo = (percent?: number) => ({
  type: 'RequestMirror',
  requestMirror: { backendRef: { group: '', kind: 'Service', name: 'listings-api', port: 8080 }, ...(percent === undefined ? {} : { percent }) },
});

type Row = [string, HTTPRouteRule, RuleChange, HTTPRouteRule | 'unchanged'];

describe('desiredRule', () => {
  const rows: Row[] = [
    ['adds the canary backendRef when only stable is listed',
      { matches: [match], backendRefs: [stableRef()] }, { weights: { stable: 90, canary: 10 } },
      { matches: [match], backendRefs: [stableRef(90), canaryRef(10)] }],
    ['updates both weights in place',
      { backendRefs: [stableRef(90), canaryRef(10)] }, { weights: { stable: 50, canary: 50 } },
      { backendRefs: [stableRef(50), canaryRef(50)] }],
    ['keeps backendRef order (canary first)',
      { backendRefs: [canaryRef(10), stableRef(90)] }, { weights: { stable: 0, canary: 100 } },
      { backendRefs: [canaryRef(100), stableRef(0)] }],
    ['same weights: unchanged',
      { backendRefs: [stableRef(90), canaryRef(10)] }, { weights: { stable: 90, canary: 10 } }, 'unchanged'],
    ['rollback on an untouched route does not add the canary',
      { backendRefs: [{ name: 'monolith', port: 8080, weight: 100 }] }, { weights: { stable: 100, canary: 0 } }, 'unchanged'],
    ['stable weight absent (defaults to 1) is written explicitly',
      { backendRefs: [{ name: 'monolith', port: 8080 }] }, { weights: { stable: 100, canary: 0 } },
      { backendRefs: [{ name: 'monolith', port: 8080, weight: 100 }] }],
    ['other backendRefs, filters and matches stay as written',
      { name: 'main', matches: [match], filters: [headerFilter], backendRefs: [stableRef(80), { name: 'other', port: 80, weight: 20, filters: [headerFilter] }], timeouts: { request: '10s' } },
      { weights: { stable: 40, canary: 40 } },
      { name: 'main', matches: [match], filters: [headerFilter], backendRefs: [stableRef(40), { name: 'other', port: 80, weight: 20, filters: [headerFilter] }, canaryRef(40)], timeouts: { request: '10s' } }],
    ['a Service of the same name in another namespace is not ours',
      { backendRefs: [stableRef(100), { name: 'listings-api', namespace: 'other', port: 8080, weight: 0 }] }, { weights: { stable: 90, canary: 10 } },
      { backendRefs: [stableRef(90), { name: 'listings-api', namespace: 'other', port: 8080, weight: 0 }, canaryRef(10)] }],
    ['a non-Service backend of the same name is not ours',
      { backendRefs: [stableRef(100), { group: 'example.com', kind: 'Bucket', name: 'listings-api', weight: 0 }] }, { weights: { stable: 90, canary: 10 } },
      { backendRefs: [stableRef(90), { group: 'example.com', kind: 'Bucket', name: 'listings-api', weight: 0 }, canaryRef(10)] }],
    ['adds a mirror after the user filters',
      { filters: [headerFilter], backendRefs: [stableRef()] }, { mirror: { service: 'listings-api', port: 8080, percent: 25 } },
      { filters: [headerFilter, mirrorTo(25)], backendRefs: [stableRef()] }],
    ['adds the filters list when there was none',
      { backendRefs: [stableRef()] }, { mirror: { service: 'listings-api', port: 8080, percent: 25 } },
      { backendRefs: [stableRef()], filters: [mirrorTo(25)] }],
    ['100 % mirror leaves percent out (standard channel compatible)',
      { backendRefs: [stableRef()] }, { mirror: { service: 'listings-api', port: 8080, percent: 100 } },
      { backendRefs: [stableRef()], filters: [mirrorTo()] }],
    ['updates our mirror in place',
      { filters: [mirrorTo(10), headerFilter], backendRefs: [stableRef()] }, { mirror: { service: 'listings-api', port: 8080, percent: 50 } },
      { filters: [mirrorTo(50), headerFilter], backendRefs: [stableRef()] }],
    ['same mirror: unchanged',
      { filters: [mirrorTo(10)], backendRefs: [stableRef()] }, { mirror: { service: 'listings-api', port: 8080, percent: 10 } }, 'unchanged'],
    ['removes only our mirror',
      { filters: [headerFilter, mirrorTo(10)], backendRefs: [stableRef()] }, { mirror: null },
      { filters: [headerFilter], backendRefs: [stableRef()] }],
    ['a user mirror to another service stays',
      { filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'audit', port: 80 } } }], backendRefs: [stableRef()] }, { mirror: null }, 'unchanged'],
    ['removing the last filter removes the list',
      { filters: [mirrorTo(10)], backendRefs: [stableRef()] }, { mirror: null }, { backendRefs: [stableRef()] }],
    ['removing a mirror that is not there: unchanged',
      { backendRefs: [stableRef()] }, { mirror: null }, 'unchanged'],
    ['a user-written empty filters list stays',
      { filters: [], backendRefs: [stableRef()] }, { mirror: null }, 'unchanged'],
    ['weights and mirror together',
      { backendRefs: [stableRef()] }, { weights: { stable: 100, canary: 0 }, mirror: { service: 'listings-api', port: 8080, percent: 5 } },
      { backendRefs: [stableRef(100)], filters: [mirrorTo(5)] }],
  ];

  it.each(rows)('%s', (_case, current, change, expected) => {
    const snapshot = structuredClone(current);
    const edit = desiredRule(current, change, backends);
    expect(current).toEqual(snapshot); // pure: the input is not modified
    if (expected === 'unchanged') {
      expect(edit.changed).toBe(false);
      expect(edit.rule).toBe(current);
    } else {
      expect(edit.changed).toBe(true);
      expect(edit.rule).toEqual(expected);
      expect(Object.keys(edit.rule)).toEqual(Object.keys(expected)); // field order kept
    }
  });

  it.each<[string, RuleChange, RegExp]>([
    ['negative weight', { weights: { stable: 110, canary: -10 } }, /canary weight -10/],
    ['fractional weight', { weights: { stable: 89.5, canary: 10.5 } }, /stable weight 89.5/],
    ['weight above the CRD maximum', { weights: { stable: 2_000_000, canary: 0 } }, /stable weight 2000000/],
    ['percent above 100', { mirror: { service: 'listings-api', port: 8080, percent: 101 } }, /mirror percent 101/],
    ['port 0', { mirror: { service: 'listings-api', port: 0, percent: 10 } }, /mirror port 0/],
  ])('rejects %s', (_case, change, message) => {
    expect(() => desiredRule({ backendRefs: [stableRef()] }, change, backends)).toThrow(message);
  });

  it('refuses to add a 17th backendRef', () => {
    const full = { backendRefs: [stableRef(), ...Array.from({ length: 15 }, (_, i) => ({ name: `s${i}`, port: 80 }))] };
    expect(() => desiredRule(full, { weights: { stable: 90, canary: 10 } }, backends)).toThrow(/16 backendRefs/);
  });
});

describe('reading a rule', () => {
  it.each<[string, HTTPRouteRule, { stable: number; canary: number }, { stable: number; canary: number }]>([
    ['explicit weights', { backendRefs: [stableRef(90), canaryRef(10)] }, { stable: 90, canary: 10 }, { stable: 90, canary: 10 }],
    ['absent weight is 1, absent canary is 0', { backendRefs: [{ name: 'monolith', port: 8080 }] }, { stable: 1, canary: 0 }, { stable: 100, canary: 0 }],
    ['proportions', { backendRefs: [stableRef(9), canaryRef(1)] }, { stable: 9, canary: 1 }, { stable: 90, canary: 10 }],
    ['both zero', { backendRefs: [stableRef(0), canaryRef(0)] }, { stable: 0, canary: 0 }, { stable: 0, canary: 0 }],
    ['no backendRefs', {}, { stable: 0, canary: 0 }, { stable: 0, canary: 0 }],
  ])('%s', (_case, rule, raw, percent) => {
    expect(ruleWeights(rule, backends)).toEqual(raw);
    expect(weightPercentages(ruleWeights(rule, backends))).toEqual(percent);
  });

  it.each<[string, HTTPRouteRule, ReturnType<typeof ruleMirror>]>([
    ['percent', { filters: [mirrorTo(25)] }, { service: 'listings-api', port: 8080, percent: 25 }],
    ['no percent means 100', { filters: [mirrorTo()] }, { service: 'listings-api', port: 8080, percent: 100 }],
    ['fraction', { filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'listings-api', port: 8080 }, fraction: { numerator: 1, denominator: 4 } } }] }, { service: 'listings-api', port: 8080, percent: 25 }],
    ['mirror to another service', { filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'audit', port: 80 } } }] }, null],
    ['no filters', {}, null],
  ])('mirror: %s', (_case, rule, expected) => {
    expect(ruleMirror(rule, 'listings-api', 'shop')).toEqual(expected);
  });
});
