// Every failure of a Kubernetes API call becomes one KubeApiError, mapped here and only here.

/** The `details` of a metav1.Status. */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: Array<{ reason?: string; message?: string; field?: string }>;
  retryAfterSeconds?: number;
}

interface StatusObject {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: StatusDetails;
}

/** HTTP status codes → metav1.StatusReason, for answers without a Status body. */
const REASON_BY_CODE: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Expired',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  /** HTTP status code; 0 when no answer came (connection refused, reset, timeout). */
  readonly code: number;
  /** metav1.StatusReason, e.g. `NotFound`, `Conflict`, `AlreadyExists`, `Invalid`, `Expired`. */
  readonly reason: string;
  readonly details: StatusDetails | undefined;
  /** The request, e.g. `GET /apis/apps/v1/namespaces/a/deployments/b`. */
  readonly request: string | undefined;
  /** Seconds to wait before retrying (Retry-After header or Status details), if given. */
  readonly retryAfterSeconds: number | undefined;

  constructor(init: {
    code: number;
    reason: string;
    message: string;
    details?: StatusDetails;
    request?: string;
    retryAfterSeconds?: number;
    cause?: unknown;
  }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.reason = init.reason;
    this.details = init.details;
    this.request = init.request;
    this.retryAfterSeconds = init.retryAfterSeconds;
  }

  /** Maps an HTTP error answer (status, body text, Retry-After header) to a KubeApiError. */
  static fromResponse(code: number, body: string, retryAfterHeader?: string, request?: string): KubeApiError {
    let status: StatusObject | undefined;
    try {
      const parsed: unknown = JSON.parse(body);
      if (parsed && typeof parsed === 'object' && (parsed as StatusObject).kind === 'Status') status = parsed as StatusObject;
    } catch {
      // not JSON: keep the text as the message
    }
    return KubeApiError.fromStatus(status ?? { code, message: body.trim().slice(0, 1000) }, code, retryAfterHeader, request);
  }

  /** Maps a metav1.Status (also the `object` of a watch ERROR event). */
  static fromStatus(status: StatusObject, httpCode?: number, retryAfterHeader?: string, request?: string): KubeApiError {
    const code = status.code ?? httpCode ?? 500;
    let reason = status.reason || REASON_BY_CODE[code] || 'Unknown';
    // Server-side apply answers 500 when the applied object does not fit the schema (e.g. a field
    // not declared in it). Retrying cannot fix that: it is the caller's invalid input.
    if (code === 500 && /failed to create typed patch object|field not declared in schema/.test(status.message ?? '')) reason = 'Invalid';
    const headerSeconds = retryAfterHeader !== undefined ? Number.parseInt(retryAfterHeader, 10) : Number.NaN;
    const retryAfterSeconds = Number.isFinite(headerSeconds) ? headerSeconds : status.details?.retryAfterSeconds;
    const message = status.message || `${reason} (HTTP ${code})`;
    return new KubeApiError({
      code,
      reason,
      message: request ? `${request}: ${message}` : message,
      ...(status.details ? { details: status.details } : {}),
      ...(request ? { request } : {}),
      ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
    });
  }

  /** A request that got no answer (network error or timeout). */
  static fromNetworkError(err: unknown, request: string): KubeApiError {
    const message = err instanceof Error ? err.message : String(err);
    const errno = (err as { code?: unknown } | undefined)?.code;
    return new KubeApiError({
      code: 0,
      reason: errno === 'ETIMEDOUT' || errno === 'ESOCKETTIMEDOUT' ? 'Timeout' : 'ConnectionError',
      message: `${request}: ${message}`,
      request,
      cause: err,
    });
  }
}

function apiError(err: unknown): KubeApiError | undefined {
  return err instanceof KubeApiError ? err : undefined;
}

export function isKubeApiError(err: unknown): err is KubeApiError {
  return err instanceof KubeApiError;
}

export function isNotFound(err: unknown): boolean {
  return apiError(err)?.code === 404;
}

/** 409: a stale resourceVersion, an SSA field conflict, or AlreadyExists. */
export function isConflict(err: unknown): boolean {
  return apiError(err)?.code === 409;
}

export function isAlreadyExists(err: unknown): boolean {
  const e = apiError(err);
  return e?.code === 409 && e.reason === 'AlreadyExists';
}

/** 410 Gone / Expired: the resourceVersion is too old (relist). */
export function isGone(err: unknown): boolean {
  const e = apiError(err);
  return e?.code === 410 || e?.reason === 'Expired' || e?.reason === 'Gone';
}

/**
 * 422 Invalid: the object failed validation; `details.causes` name the fields. Also a server-side
 * apply that does not fit the schema (the API server answers that with 500; reason `Invalid`).
 */
export function isInvalid(err: unknown): boolean {
  const e = apiError(err);
  return e?.code === 422 || e?.reason === 'Invalid';
}

/** 429: throttled (API priority and fairness); see `retryAfterSeconds`. */
export function isTooManyRequests(err: unknown): boolean {
  return apiError(err)?.code === 429;
}

export function isForbidden(err: unknown): boolean {
  return apiError(err)?.code === 403;
}

export function isUnauthorized(err: unknown): boolean {
  return apiError(err)?.code === 401;
}

/** Errors that a retry can fix: no answer, throttling, server errors, timeouts. */
export function isTransient(err: unknown): boolean {
  const e = apiError(err);
  return e !== undefined && e.reason !== 'Invalid' && (e.code === 0 || e.code === 429 || e.code >= 500);
}

/** Milliseconds to wait before retrying, if the server said so. */
export function retryAfterMs(err: unknown): number | undefined {
  const s = apiError(err)?.retryAfterSeconds;
  return s === undefined ? undefined : s * 1000;
}

/** What a request did, in words: `verb`, the resource (plural), name, subresource, namespace. */
export interface RequestTarget {
  /** `get`, `list`, `create`, `update`, `patch`, `apply`, `delete`, `watch`. */
  verb: string;
  resource: string;
  name: string | undefined;
  subresource: string | undefined;
  namespace: string | undefined;
}

const VERBS: Record<string, string> = { GET: 'get', LIST: 'list', POST: 'create', PUT: 'update', PATCH: 'patch', APPLY: 'apply', DELETE: 'delete', WATCH: 'watch' };

/** Parses a KubeApiError's `request` (`PATCH /apis/apps/v1/namespaces/a/deployments/b/scale`). */
export function requestTarget(request: string | undefined): RequestTarget | undefined {
  const m = /^([A-Z]+) \/(?:api\/[^/]+|apis\/[^/]+\/[^/]+)(?:\/namespaces\/([^/?]+))?\/([^/?]+)(?:\/([^/?]+))?(?:\/([^/?]+))?/.exec(request ?? '');
  if (!m) return undefined;
  const dec = (s: string | undefined) => (s === undefined ? undefined : decodeURIComponent(s));
  return { verb: VERBS[m[1]!] ?? m[1]!.toLowerCase(), namespace: dec(m[2]), resource: m[3]!, name: dec(m[4]), subresource: m[5] };
}

/**
 * The request in words for a message: `scale deployments/score-worker in shop`, `apply httproutes/web
 * in shop`, `apply the status of trafficshifts/checkout in shop`.
 */
export function describeRequest(request: string | undefined): string | undefined {
  const t = requestTarget(request);
  if (!t) return undefined;
  const object = t.name === undefined ? t.resource : `${t.resource}/${t.name}`;
  const where = t.namespace === undefined ? '' : ` in ${t.namespace}`;
  if (t.subresource === 'scale' && (t.verb === 'patch' || t.verb === 'update' || t.verb === 'apply')) return `scale ${object}${where}`;
  if (t.subresource) return `${t.verb} the ${t.subresource} of ${object}${where}`;
  return `${t.verb} ${object}${where}`;
}

/** The API server's own message, without the `request: ` prefix KubeApiError adds. */
export function apiMessage(err: KubeApiError): string {
  return err.request && err.message.startsWith(`${err.request}: `) ? err.message.slice(err.request.length + 2) : err.message;
}
