// Pure edits of one Gateway API HTTPRouteRule: the backend weights of the stable and canary
// Services and the RequestMirror filter Cutover manages. Everything else in the rule (matches,
// other filters, other backendRefs, timeouts, name, sessionPersistence, fields this code has never
// heard of) is carried over untouched, in its original order.

import type { JsonObject, JsonValue, MirrorTarget, TrafficWeights } from './router.ts';

export type HTTPRouteRule = JsonObject;

/** Which Services the weights refer to. Services are in the route's namespace. */
export interface RuleBackends {
  namespace: string;
  stable: { service: string; port: number };
  canary: { service: string; port: number };
}

export interface RuleChange {
  /** Exact weights to write on the stable and canary backendRefs. */
  weights?: TrafficWeights;
  /** A mirror to add or update; null removes Cutover's mirror to `backends.canary`. */
  mirror?: MirrorTarget | null;
}

export interface RuleEdit {
  rule: HTTPRouteRule;
  changed: boolean;
}

const MAX_LIST_ITEMS = 16; // maxItems of backendRefs and filters in the HTTPRoute CRD
const MAX_WEIGHT = 1_000_000; // maximum in the HTTPRoute CRD

function isObject(v: JsonValue | undefined): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function objects(v: JsonValue | undefined): JsonObject[] {
  return Array.isArray(v) ? v.filter(isObject) : [];
}

/** True when a backendRef (or a mirror's backendRef) points at core Service `service` in `namespace`. */
export function refersToService(ref: JsonObject, service: string, namespace: string): boolean {
  const group = ref.group ?? '';
  const kind = ref.kind ?? 'Service';
  const ns = ref.namespace ?? namespace;
  return group === '' && kind === 'Service' && ref.name === service && ns === namespace;
}

/** backendRef weight as the data plane sees it: absent means 1 (Gateway API default). */
export function backendWeight(ref: JsonObject): number {
  return typeof ref.weight === 'number' ? ref.weight : 1;
}

export function backendRefs(rule: HTTPRouteRule): JsonObject[] {
  return objects(rule.backendRefs);
}

/** Raw weights of the stable and canary backendRefs; a missing backendRef counts 0. */
export function ruleWeights(rule: HTTPRouteRule, backends: RuleBackends): TrafficWeights {
  const sum = (service: string) => backendRefs(rule)
    .filter((r) => refersToService(r, service, backends.namespace))
    .reduce((total, r) => total + backendWeight(r), 0);
  return { stable: sum(backends.stable.service), canary: sum(backends.canary.service) };
}

/** Weights as percentages of stable + canary (so 9/1 and 90/10 read the same), rounded. */
export function weightPercentages(weights: TrafficWeights): TrafficWeights {
  const total = weights.stable + weights.canary;
  if (total === 0) return { stable: 0, canary: 0 };
  const canary = Math.round((weights.canary / total) * 100);
  return { stable: 100 - canary, canary };
}

function isMirrorTo(filter: JsonObject, service: string, namespace: string): boolean {
  if (filter.type !== 'RequestMirror') return false;
  const mirror = filter.requestMirror;
  return isObject(mirror) && isObject(mirror.backendRef) && refersToService(mirror.backendRef, service, namespace);
}

/** The RequestMirror filter to `service`, if the rule has one. Percent 100 when unset. */
export function ruleMirror(rule: HTTPRouteRule, service: string, namespace: string): MirrorTarget | null {
  const filter = objects(rule.filters).find((f) => isMirrorTo(f, service, namespace));
  if (!filter || !isObject(filter.requestMirror) || !isObject(filter.requestMirror.backendRef)) return null;
  const { backendRef, percent, fraction } = filter.requestMirror;
  let share = 100;
  if (typeof percent === 'number') share = percent;
  else if (isObject(fraction) && typeof fraction.numerator === 'number') {
    const denominator = typeof fraction.denominator === 'number' ? fraction.denominator : 100;
    share = (fraction.numerator / denominator) * 100;
  }
  return { service, port: typeof backendRef.port === 'number' ? backendRef.port : 0, percent: share };
}

function mirrorFilter(mirror: MirrorTarget): JsonObject {
  const requestMirror: JsonObject = {
    backendRef: { group: '', kind: 'Service', name: mirror.service, port: mirror.port },
  };
  // `percent` exists only in the experimental channel; 100 % is the default, so leave it out
  // then and the filter also works with the standard-channel CRD.
  if (mirror.percent < 100) requestMirror.percent = mirror.percent;
  return { type: 'RequestMirror', requestMirror };
}

function checkWeights(weights: TrafficWeights): void {
  for (const [name, w] of Object.entries(weights)) {
    if (!Number.isInteger(w) || w < 0 || w > MAX_WEIGHT) throw new RangeError(`${name} weight ${w} is not an integer in 0–${MAX_WEIGHT}`);
  }
}

function checkMirror(mirror: MirrorTarget): void {
  if (!Number.isInteger(mirror.percent) || mirror.percent < 0 || mirror.percent > 100) {
    throw new RangeError(`mirror percent ${mirror.percent} is not an integer in 0–100`);
  }
  if (!Number.isInteger(mirror.port) || mirror.port < 1 || mirror.port > 65535) {
    throw new RangeError(`mirror port ${mirror.port} is not a port number`);
  }
}

function withWeights(rule: HTTPRouteRule, weights: TrafficWeights, backends: RuleBackends): HTTPRouteRule {
  const { namespace, stable, canary } = backends;
  const refs = Array.isArray(rule.backendRefs) ? rule.backendRefs : [];
  let sawCanary = false;
  const next: JsonValue[] = refs.map((ref) => {
    if (!isObject(ref)) return ref;
    if (refersToService(ref, stable.service, namespace)) return { ...ref, weight: weights.stable };
    if (refersToService(ref, canary.service, namespace)) {
      sawCanary = true;
      return { ...ref, weight: weights.canary };
    }
    return ref;
  });
  // Add the canary only when it is to receive traffic: rolling back a route Cutover never
  // touched (stable 100, canary 0) changes nothing.
  if (!sawCanary && weights.canary > 0) {
    if (next.length >= MAX_LIST_ITEMS) throw new RangeError(`rule already has ${MAX_LIST_ITEMS} backendRefs; cannot add the canary`);
    next.push({ group: '', kind: 'Service', name: canary.service, port: canary.port, weight: weights.canary });
  }
  return { ...rule, backendRefs: next };
}

function withMirror(rule: HTTPRouteRule, mirror: MirrorTarget | null, backends: RuleBackends): HTTPRouteRule {
  const target = mirror?.service ?? backends.canary.service;
  const filters = Array.isArray(rule.filters) ? rule.filters : [];
  const isOurs = (f: JsonValue) => isObject(f) && isMirrorTo(f, target, backends.namespace);
  let next: JsonValue[];
  if (mirror === null) {
    next = filters.filter((f) => !isOurs(f));
  } else {
    const at = filters.findIndex(isOurs);
    next = at === -1 ? [...filters, mirrorFilter(mirror)] : filters.map((f, i) => (i === at ? mirrorFilter(mirror) : f));
    if (next.length > MAX_LIST_ITEMS) throw new RangeError(`rule already has ${MAX_LIST_ITEMS} filters; cannot add the mirror`);
  }
  const result: HTTPRouteRule = { ...rule, filters: next };
  // Removing the last filter removes the list, unless the user wrote an empty one.
  if (next.length === 0 && !(Array.isArray(rule.filters) && rule.filters.length === 0)) delete result.filters;
  return result;
}

/**
 * The rule as it should be: `current` with `change` applied and nothing else altered.
 * `changed` is false when the result equals `current` (no write needed).
 * Throws RangeError for weights/percent/port out of the CRD's ranges or a full list.
 */
export function desiredRule(current: HTTPRouteRule, change: RuleChange, backends: RuleBackends): RuleEdit {
  let rule = current;
  if (change.weights) {
    checkWeights(change.weights);
    rule = withWeights(rule, change.weights, backends);
  }
  if (change.mirror !== undefined) {
    if (change.mirror) checkMirror(change.mirror);
    rule = withMirror(rule, change.mirror, backends);
  }
  const changed = !jsonEqual(rule, current);
  return { rule: changed ? rule : current, changed };
}

/** Structural equality of JSON values (object key order ignored, array order significant). */
export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  }
  const ka = Object.keys(a).filter((k) => a[k] !== undefined);
  const kb = Object.keys(b).filter((k) => b[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => jsonEqual(a[k], b[k]));
}
