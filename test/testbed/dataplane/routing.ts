// Pure routing logic of the testbed gateway: the subset of Gateway API HTTPRoute semantics we
// implement, compiled into a lookup table, plus weighted choice, mirror sampling and endpoint
// resolution from Service + EndpointSlice objects. No I/O here, so all of it is unit-tested.
//
// Implemented: hostnames (exact and "*.suffix" wildcards, exact beats longer wildcard beats
// shorter wildcard beats "no hostnames"), matches (path Exact / PathPrefix / RegularExpression,
// method, headers Exact / RegularExpression, queryParams Exact / RegularExpression), the spec's
// match precedence, backendRefs with weights (Service kind only), filters RequestMirror (with the
// experimental `percent` / `fraction`), RequestHeaderModifier and ResponseHeaderModifier (rule-
// and backendRef-level). Not implemented: parentRefs / Gateway listeners (every HTTPRoute in the
// cluster is served), ReferenceGrant checks, redirects, URL rewrites, timeouts, route status.

// ---- API object shapes (only the fields we read) ----

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string | Date;
  labels?: Record<string, string>;
}

export interface BackendObjectReference {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
}

export interface HTTPHeader {
  name: string;
  value: string;
}

export interface HeaderModifier {
  set?: HTTPHeader[];
  add?: HTTPHeader[];
  remove?: string[];
}

export interface HTTPRouteFilter {
  type: string;
  requestMirror?: {
    backendRef: BackendObjectReference;
    percent?: number;
    fraction?: { numerator: number; denominator?: number };
  };
  requestHeaderModifier?: HeaderModifier;
  responseHeaderModifier?: HeaderModifier;
}

export interface HTTPBackendRef extends BackendObjectReference {
  weight?: number;
  filters?: HTTPRouteFilter[];
}

export interface HTTPPathMatch {
  type?: string;
  value?: string;
}

export interface HTTPValueMatch {
  type?: string;
  name: string;
  value: string;
}

export interface HTTPRouteMatch {
  path?: HTTPPathMatch;
  headers?: HTTPValueMatch[];
  queryParams?: HTTPValueMatch[];
  method?: string;
}

export interface HTTPRouteRule {
  name?: string;
  matches?: HTTPRouteMatch[];
  filters?: HTTPRouteFilter[];
  backendRefs?: HTTPBackendRef[];
}

export interface HTTPRoute {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: { hostnames?: string[]; rules?: HTTPRouteRule[] };
}

export interface ServicePort {
  name?: string;
  port: number;
  protocol?: string;
  targetPort?: number | string;
}

export interface Service {
  metadata: ObjectMeta;
  spec?: { ports?: ServicePort[]; type?: string };
}

export interface EndpointSlice {
  metadata: ObjectMeta;
  addressType: string;
  endpoints?: Array<{
    addresses: string[];
    conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
  }> | null;
  ports?: Array<{ name?: string | null; port?: number | null; protocol?: string | null }> | null;
}

// ---- Request view ----

export interface RequestInfo {
  /** Host header value, possibly with a port. */
  host: string;
  method: string;
  /** Path without the query string. */
  path: string;
  /** Raw query string without the leading "?" ("" if none). */
  query: string;
  /** Lower-cased header names. */
  headers: Record<string, string | string[] | undefined>;
}

// ---- Compiled table ----

export interface ResolvedBackend {
  namespace: string;
  name: string;
  port: number | undefined;
  weight: number;
  /** Why this ref can never be served (unsupported kind, ...); requests chosen for it get 500. */
  invalid?: string;
  requestHeaderModifiers: HeaderModifier[];
  responseHeaderModifiers: HeaderModifier[];
  mirrors: MirrorSpec[];
}

export interface MirrorSpec {
  backend: ResolvedBackend;
  /** Probability in [0, 1] that a request is mirrored. */
  share: number;
}

export interface CompiledRule {
  routeNamespace: string;
  routeName: string;
  ruleIndex: number;
  backends: ResolvedBackend[];
  requestHeaderModifiers: HeaderModifier[];
  responseHeaderModifiers: HeaderModifier[];
  mirrors: MirrorSpec[];
}

interface CompiledMatch {
  rule: CompiledRule;
  test: (req: RequestInfo, query: URLSearchParams) => boolean;
  sortKey: (number | string)[];
}

export interface RouteTable {
  /** Matches grouped by hostname key ("" = route without hostnames; "*.x" wildcard; else exact). */
  byHost: Map<string, CompiledMatch[]>;
  /** Wildcard keys sorted by decreasing suffix length. */
  wildcards: string[];
}

export function normalizeHost(host: string | undefined): string {
  if (!host) return '';
  let h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(1, end) : h;
  }
  const colon = h.lastIndexOf(':');
  if (colon >= 0 && h.indexOf(':') === colon) h = h.slice(0, colon);
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

export function pathPrefixMatches(prefix: string, path: string): boolean {
  let p = prefix;
  while (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  if (p === '/' || p === '') return true;
  if (!path.startsWith(p)) return false;
  return path.length === p.length || path[p.length] === '/';
}

function fullRegExp(source: string): RegExp | null {
  try {
    return new RegExp(`^(?:${source})$`);
  } catch {
    return null;
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(',') : v;
}

function compileMatch(m: HTTPRouteMatch): { test: CompiledMatch['test']; key: number[] } | null {
  const tests: CompiledMatch['test'][] = [];
  const pathType = m.path?.type ?? 'PathPrefix';
  const pathValue = m.path?.value ?? '/';
  // Sort key (ascending = higher precedence): [pathKind, -pathLength, -method, -headers, -query]
  let pathKind: number;
  if (pathType === 'Exact') {
    pathKind = 0;
    tests.push((r) => r.path === pathValue);
  } else if (pathType === 'RegularExpression') {
    pathKind = 1;
    const re = fullRegExp(pathValue);
    if (!re) return null;
    tests.push((r) => re.test(r.path));
  } else if (pathType === 'PathPrefix') {
    pathKind = 2;
    tests.push((r) => pathPrefixMatches(pathValue, r.path));
  } else {
    return null;
  }
  if (m.method) {
    const method = m.method.toUpperCase();
    tests.push((r) => r.method.toUpperCase() === method);
  }
  for (const h of m.headers ?? []) {
    const name = h.name.toLowerCase();
    if ((h.type ?? 'Exact') === 'RegularExpression') {
      const re = fullRegExp(h.value);
      if (!re) return null;
      tests.push((r) => {
        const v = headerValue(r.headers[name]);
        return v !== undefined && re.test(v);
      });
    } else {
      tests.push((r) => headerValue(r.headers[name]) === h.value);
    }
  }
  for (const q of m.queryParams ?? []) {
    if ((q.type ?? 'Exact') === 'RegularExpression') {
      const re = fullRegExp(q.value);
      if (!re) return null;
      tests.push((_r, qs) => {
        const v = qs.get(q.name);
        return v !== null && re.test(v);
      });
    } else {
      tests.push((_r, qs) => qs.get(q.name) === q.value);
    }
  }
  const pathLen = pathType === 'PathPrefix' ? pathValue.replace(/\/+$/, '').length : pathValue.length;
  return {
    test: (r, qs) => tests.every((t) => t(r, qs)),
    key: [pathKind, -pathLen, m.method ? -1 : 0, -(m.headers?.length ?? 0), -(m.queryParams?.length ?? 0)],
  };
}

function resolveRef(ref: BackendObjectReference, routeNamespace: string): Omit<ResolvedBackend, 'weight' | 'requestHeaderModifiers' | 'responseHeaderModifiers' | 'mirrors'> {
  const group = ref.group ?? '';
  const kind = ref.kind ?? 'Service';
  const out = { namespace: ref.namespace ?? routeNamespace, name: ref.name, port: ref.port };
  if (group !== '' && group !== 'core') return { ...out, invalid: `unsupported backend group ${group}` };
  if (kind !== 'Service') return { ...out, invalid: `unsupported backend kind ${kind}` };
  if (ref.port === undefined) return { ...out, invalid: 'backendRef port is required for Services' };
  return out;
}

/** Share in [0,1] of requests a RequestMirror filter copies: percent, else fraction, else all. */
export function mirrorShare(m: NonNullable<HTTPRouteFilter['requestMirror']>): number {
  if (typeof m.percent === 'number') return clamp01(m.percent / 100);
  if (m.fraction && typeof m.fraction.numerator === 'number') {
    const den = m.fraction.denominator ?? 100;
    return den > 0 ? clamp01(m.fraction.numerator / den) : 0;
  }
  return 1;
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

function splitFilters(filters: HTTPRouteFilter[] | undefined, routeNamespace: string): Pick<CompiledRule, 'requestHeaderModifiers' | 'responseHeaderModifiers' | 'mirrors'> {
  const out: Pick<CompiledRule, 'requestHeaderModifiers' | 'responseHeaderModifiers' | 'mirrors'> = {
    requestHeaderModifiers: [],
    responseHeaderModifiers: [],
    mirrors: [],
  };
  for (const f of filters ?? []) {
    if (f.type === 'RequestMirror' && f.requestMirror?.backendRef) {
      const backend: ResolvedBackend = {
        ...resolveRef(f.requestMirror.backendRef, routeNamespace),
        weight: 1,
        requestHeaderModifiers: [],
        responseHeaderModifiers: [],
        mirrors: [],
      };
      out.mirrors.push({ backend, share: mirrorShare(f.requestMirror) });
    } else if (f.type === 'RequestHeaderModifier' && f.requestHeaderModifier) {
      out.requestHeaderModifiers.push(f.requestHeaderModifier);
    } else if (f.type === 'ResponseHeaderModifier' && f.responseHeaderModifier) {
      out.responseHeaderModifiers.push(f.responseHeaderModifier);
    }
  }
  return out;
}

function timestamp(t: string | Date | undefined): number {
  if (t === undefined) return 0;
  const ms = new Date(t).getTime();
  return Number.isNaN(ms) ? 0 : ms;
}

export function compileRoutes(routes: Iterable<HTTPRoute>): RouteTable {
  const byHost = new Map<string, CompiledMatch[]>();
  for (const route of routes) {
    const ns = route.metadata.namespace ?? 'default';
    const name = route.metadata.name ?? '';
    const created = timestamp(route.metadata.creationTimestamp);
    const hostnames = route.spec?.hostnames?.length ? route.spec.hostnames.map((h) => h.toLowerCase()) : [''];
    (route.spec?.rules ?? []).forEach((rule, ruleIndex) => {
      const ruleFilters = splitFilters(rule.filters, ns);
      const compiled: CompiledRule = {
        routeNamespace: ns,
        routeName: name,
        ruleIndex,
        ...ruleFilters,
        backends: (rule.backendRefs ?? []).map((ref) => {
          const f = splitFilters(ref.filters, ns);
          return { ...resolveRef(ref, ns), weight: ref.weight ?? 1, ...f };
        }),
      };
      const matches = rule.matches?.length ? rule.matches : [{}];
      matches.forEach((m, matchIndex) => {
        const cm = compileMatch(m);
        if (!cm) return;
        const entry: CompiledMatch = {
          rule: compiled,
          test: cm.test,
          sortKey: [...cm.key, created, `${ns}/${name}`, ruleIndex, matchIndex],
        };
        for (const h of hostnames) {
          let list = byHost.get(h);
          if (!list) byHost.set(h, (list = []));
          list.push(entry);
        }
      });
    });
  }
  for (const list of byHost.values()) list.sort((a, b) => compareKeys(a.sortKey, b.sortKey));
  const wildcards = [...byHost.keys()].filter((h) => h.startsWith('*.')).sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
  return { byHost, wildcards };
}

function compareKeys(a: (number | string)[], b: (number | string)[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

export function matchRequest(table: RouteTable, req: RequestInfo): CompiledRule | null {
  const host = normalizeHost(req.host);
  const qs = new URLSearchParams(req.query);
  const candidates: string[] = [];
  if (table.byHost.has(host)) candidates.push(host);
  for (const w of table.wildcards) if (host.endsWith(w.slice(1)) && host.length > w.length - 1) candidates.push(w);
  candidates.push('');
  for (const key of candidates) {
    for (const entry of table.byHost.get(key) ?? []) {
      if (entry.test(req, qs)) return entry.rule;
    }
  }
  return null;
}

/** Weighted random choice; weight <= 0 is never chosen. Returns null if nothing has weight. */
export function chooseWeighted<T extends { weight: number }>(items: readonly T[], rand: () => number = Math.random): T | null {
  let total = 0;
  for (const it of items) if (it.weight > 0) total += it.weight;
  if (total <= 0) return null;
  let r = rand() * total;
  let last: T | null = null;
  for (const it of items) {
    if (it.weight <= 0) continue;
    last = it;
    if (r < it.weight) return it;
    r -= it.weight;
  }
  return last;
}

export function shouldMirror(share: number, rand: () => number = Math.random): boolean {
  if (share >= 1) return true;
  if (share <= 0) return false;
  return rand() < share;
}

// ---- Endpoints ----

export interface Endpoint {
  host: string;
  port: number;
}

export type Resolution =
  | { kind: 'ok'; endpoints: Endpoint[] }
  | { kind: 'no-service' }
  | { kind: 'no-port' };

const IPV4_LOOPBACK = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
/**
 * The real node's pod subnet (realnode.ts POD_SUBNET, 10.88.0.0/24): pods' IPs as the EndpointSlice
 * controller publishes them, reached from the host on the node's bridge.
 */
const POD_IPV4 = /^10\.88\.0\.(\d{1,3})$/;

/**
 * Maps an EndpointSlice address to an address we may connect to, or null: a pod IP on the real
 * node's bridge, or a loopback address.
 * The API server rejects loopback IPs in IPv4/IPv6 slices (ValidateNonSpecialIP), so the testbed
 * registers backends as addressType FQDN "<a.b.c.d>.localhost" (RFC 6761: *.localhost is loopback):
 * "127.0.0.2.localhost" → 127.0.0.2, any other "*.localhost" or "localhost" → 127.0.0.1.
 * Literal 127.x.y.z / ::1 are accepted too, should some API server let them through.
 */
export function loopbackTarget(addressType: string, address: string): string | null {
  const a = address.trim().toLowerCase();
  if (addressType === 'IPv4') return (IPV4_LOOPBACK.test(a) || POD_IPV4.test(a)) && validOctets(a) ? a : null;
  if (addressType === 'IPv6') return a === '::1' || a === '0:0:0:0:0:0:0:1' ? '::1' : null;
  if (addressType === 'FQDN') {
    const name = a.endsWith('.') ? a.slice(0, -1) : a;
    if (name === 'localhost') return '127.0.0.1';
    if (!name.endsWith('.localhost')) return null;
    const prefix = name.slice(0, -'.localhost'.length);
    const dotted = prefix.replace(/-/g, '.');
    if (IPV4_LOOPBACK.test(dotted) && validOctets(dotted)) return dotted;
    return '127.0.0.1';
  }
  return null;
}

function validOctets(ip: string): boolean {
  return ip.split('.').every((o) => Number(o) <= 255);
}

/** The FQDN under which `registerBackend` publishes a loopback address (see loopbackTarget). */
export function loopbackFqdn(address: string): string {
  return `${address}.localhost`;
}

export function resolveEndpoints(service: Service | undefined, slices: Iterable<EndpointSlice>, servicePort: number | undefined): Resolution {
  if (!service) return { kind: 'no-service' };
  const ports = service.spec?.ports ?? [];
  const sp = servicePort === undefined ? (ports.length === 1 ? ports[0] : undefined) : ports.find((p) => p.port === servicePort);
  if (!sp) return { kind: 'no-port' };
  const portName = sp.name ?? '';
  const seen = new Set<string>();
  const endpoints: Endpoint[] = [];
  for (const slice of slices) {
    const slicePort = (slice.ports ?? []).find((p) => (p.name ?? '') === portName);
    let port = slicePort?.port ?? undefined;
    if (port === undefined && typeof sp.targetPort === 'number' && (slice.ports ?? []).length === 0) port = sp.targetPort;
    if (port === undefined || port === null) continue;
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      const addr = ep.addresses[0];
      if (addr === undefined) continue;
      const host = loopbackTarget(slice.addressType, addr);
      if (!host) continue;
      const key = `${host}:${port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      endpoints.push({ host, port });
    }
  }
  endpoints.sort((a, b) => (a.host === b.host ? a.port - b.port : a.host < b.host ? -1 : 1));
  return { kind: 'ok', endpoints };
}

// ---- Header modifiers ----

export function applyHeaderModifiers(headers: Record<string, string | string[] | undefined>, mods: readonly HeaderModifier[]): void {
  for (const m of mods) {
    for (const h of m.set ?? []) headers[h.name.toLowerCase()] = h.value;
    for (const h of m.add ?? []) {
      const k = h.name.toLowerCase();
      const cur = headers[k];
      headers[k] = cur === undefined ? h.value : `${Array.isArray(cur) ? cur.join(',') : cur},${h.value}`;
    }
    for (const name of m.remove ?? []) delete headers[name.toLowerCase()];
  }
}
