// The `web` block of an analysis metric: an HTTP(S) call whose JSON answer, at a JSONPath, is the
// value judged by the metric's thresholds (DESIGN §3 "web checks"). This is how a playbook's
// verification script becomes a gate: the script runs as a small service, the operator asks it
// every interval. Kept apart from common.ts (which only references WebCheckSchema).
import * as z from 'zod';
import { duration, HTTP_URL, withRules } from './k8s-schema.ts';
import { SecretKeyRefSchema } from './secret-ref.ts';

export const WebMethodValues = ['GET', 'POST'] as const;
export type WebMethod = (typeof WebMethodValues)[number];

/**
 * The JSONPath subset a web check accepts: RFC 9535 *singular queries* (§2.3.5.1), i.e. `$`
 * followed by member names (`.delta`, `['v2 total']`) and array indices (`[0]`, `[-1]`). A web
 * check judges one number, and a singular query is exactly the JSONPath that selects at most one
 * node; wildcards, slices, filters and descendant segments select lists and are refused at
 * admission. RE2-compatible (the API server evaluates it); quoted names may not contain quotes or
 * backslashes (no escapes).
 */
export const SINGULAR_JSONPATH = /^\$(\.[A-Za-z_][A-Za-z0-9_]*|\[(-?[0-9]+|'[^'\\]*'|"[^"\\]*")\])*$/;

export const WebHeaderSchema = withRules(
  z.strictObject({
    name: z
      .string()
      .min(1)
      .max(256)
      .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { message: 'must be an HTTP header name (RFC 9110 token)' })
      .describe('Header name, e.g. Authorization.'),
    value: z.string().max(8192).optional().describe('Literal value. Use valueFrom for credentials.'),
    valueFrom: z
      .strictObject({ secretKeyRef: SecretKeyRefSchema.describe('A key of a Secret in the namespace of this resource.') })
      .optional()
      .describe('The value read from a Secret at every call; it never appears in status, Events or logs.'),
  }),
  [
    {
      cel: 'has(self.value) != has(self.valueFrom)',
      message: 'exactly one of value and valueFrom must be set',
      check: (h) => (h.value !== undefined) !== (h.valueFrom !== undefined),
    },
  ],
);
export type WebHeader = z.infer<typeof WebHeaderSchema>;

export const WEB_TIMEOUT_DEFAULT = '5s';
export const WEB_RETRIES_DEFAULT = 2;

export const WebCheckSchema = withRules(
  z
    .strictObject({
      url: z
        .string()
        .max(2048)
        .regex(HTTP_URL, { message: 'must be an http:// or https:// URL' })
        .describe('URL called at every interval. Templates: {{namespace}}, {{name}}, {{stable.service}}, {{canary.service}}, {{primary.service}}, {{shadow.service}}, {{interval}}.'),
      method: z.enum(WebMethodValues).default('GET').describe('GET or POST.'),
      headers: z.array(WebHeaderSchema).max(20).optional().describe('Request headers; values literal or from Secrets.'),
      body: z.string().max(65536).optional().describe('POST body, sent as is (same templates as url). Set a Content-Type header to match it.'),
      bodyFrom: z
        .strictObject({ secretKeyRef: SecretKeyRefSchema.describe('A key of a Secret in the namespace of this resource.') })
        .optional()
        .describe('POST body read from a Secret (not templated; never shown in status, Events or logs).'),
      jsonPath: z
        .string()
        .min(2)
        .max(1024)
        .regex(SINGULAR_JSONPATH, {
          message: "must be a JSONPath singular query: $ then .name, ['name'] or [index] segments, e.g. $.delta or $.results[0].ratio",
        })
        .describe('Where the number is in the JSON answer, e.g. $.delta (RFC 9535 singular query: names and indices only). A JSON number, or a string holding one.'),
      timeout: duration({ positive: true }).default(WEB_TIMEOUT_DEFAULT).describe('Budget of one check, retries included, e.g. 5s.'),
      retries: z.int().min(0).max(10).default(WEB_RETRIES_DEFAULT).describe('Extra attempts after a network error, a 408/429 or a 5xx answer, within timeout.'),
    })
    .describe('An HTTP(S) call whose JSON answer at jsonPath is the value judged by the thresholds. A timeout, a non-2xx answer, a body that is not JSON, a missing path or a value that is not a number is inconclusive, never a pass.'),
  [
    {
      cel: "self.method == 'POST' || (!has(self.body) && !has(self.bodyFrom))",
      message: 'a body needs method: POST',
      fieldPath: '.method',
      check: (w) => w.method === 'POST' || (w.body === undefined && w.bodyFrom === undefined),
    },
    {
      cel: '!has(self.body) || !has(self.bodyFrom)',
      message: 'set body or bodyFrom, not both',
      fieldPath: '.bodyFrom',
      reason: 'FieldValueForbidden',
      check: (w) => w.body === undefined || w.bodyFrom === undefined,
    },
    {
      cel: '!has(self.headers) || self.headers.all(a, self.headers.exists_one(b, b.name.lowerAscii() == a.name.lowerAscii()))',
      message: 'header names must be unique (case-insensitive)',
      fieldPath: '.headers',
      check: (w) => new Set((w.headers ?? []).map((h) => h.name.toLowerCase())).size === (w.headers ?? []).length,
    },
  ],
);
export type WebCheck = z.infer<typeof WebCheckSchema>;
