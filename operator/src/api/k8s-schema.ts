// Building blocks that attach Kubernetes-specific OpenAPI extensions to zod schemas, so that each
// admission rule lives next to the schema it constrains and is enforced twice from one place:
// as a CEL `x-kubernetes-validations` entry in the generated CRD, and as a zod refinement when a
// manifest is validated offline (tests, the kubectl plugin, the controllers).
import * as z from 'zod';
import { DURATION_HINT, DURATION_MAX_LENGTH, DURATION_PATTERN } from './duration.ts';

/** The `reason` values the API server accepts on an x-kubernetes-validations rule. */
export type CelReason = 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';

export interface Rule<T> {
  /** CEL expression evaluated by the API server with `self` bound to the value. */
  cel: string;
  /** Shown to the user by both the API server and the offline validator. */
  message: string;
  /** The same rule in TypeScript, for offline validation. Returns true when the value is valid. */
  check: (value: T) => boolean;
  /** Relative JSON path (`.canary`, `.prometheus.baselineQuery`) the error is reported on. */
  fieldPath?: string;
  reason?: CelReason;
}

interface K8sValidation {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: CelReason;
}

const VALIDATIONS = 'x-kubernetes-validations';

function existingValidations(schema: z.ZodType): K8sValidation[] {
  const meta = z.globalRegistry.get(schema) as Record<string, unknown> | undefined;
  const list = meta?.[VALIDATIONS];
  return Array.isArray(list) ? (list as K8sValidation[]) : [];
}

/** `.canary.port` → ['canary', 'port'] (the subset of JSON paths CEL's fieldPath uses here). */
function fieldPathSegments(fieldPath: string | undefined): string[] {
  if (!fieldPath) return [];
  return fieldPath.split('.').filter((s) => s.length > 0);
}

/**
 * Attaches CEL rules to `schema` (appended to any already there) and the equivalent zod checks.
 * Call it on the bare schema, before `.optional()` or `.default()`.
 */
export function withRules<S extends z.ZodType>(schema: S, rules: ReadonlyArray<Rule<z.output<S>>>): S {
  const refined = schema.superRefine((value, ctx) => {
    for (const rule of rules) {
      if (!rule.check(value)) {
        ctx.addIssue({ code: 'custom', message: rule.message, path: fieldPathSegments(rule.fieldPath), input: value });
      }
    }
  });
  const validations: K8sValidation[] = [
    ...existingValidations(schema),
    ...rules.map((r) => ({
      rule: r.cel,
      message: r.message,
      ...(r.fieldPath !== undefined ? { fieldPath: r.fieldPath } : {}),
      ...(r.reason !== undefined ? { reason: r.reason } : {}),
    })),
  ];
  return refined.meta({ [VALIDATIONS]: validations });
}

/**
 * A list whose items are identified by `key` (`x-kubernetes-list-type: map`): the API server
 * rejects duplicate keys and server-side apply merges items by key instead of replacing the list.
 */
export function listMap<I extends z.ZodObject, K extends keyof z.output<I> & string>(
  item: I,
  key: K,
  maxItems: number,
): z.ZodArray<I> {
  return z
    .array(item)
    .max(maxItems)
    .superRefine((items, ctx) => {
      const seen = new Set<unknown>();
      items.forEach((it, index) => {
        const value = (it as Record<string, unknown>)[key];
        if (seen.has(value)) {
          ctx.addIssue({ code: 'custom', message: `duplicate ${key} ${JSON.stringify(value)}`, path: [index, key], input: value });
        }
        seen.add(value);
      });
    })
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': [key] });
}

/** A Go-style duration string (`30s`, `1h30m`). `positive` adds "greater than zero". */
export function duration(opts: { positive?: boolean } = {}): z.ZodString {
  const base = z.string().max(DURATION_MAX_LENGTH).regex(DURATION_PATTERN, { message: DURATION_HINT });
  if (!opts.positive) return base;
  // A well-formed duration is > 0 exactly when it contains a non-zero digit; this needs no CEL
  // duration() call, which would fail to evaluate (not just fail) on a malformed string.
  // Only judged on well-formed strings, so a malformed one gets the pattern error alone.
  return withRules(base, [
    {
      cel: `!self.matches(r'${DURATION_PATTERN.source}') || self.matches('[1-9]')`,
      message: 'must be greater than 0',
      check: (v) => !DURATION_PATTERN.test(v) || /[1-9]/.test(v),
    },
  ]);
}

/** An http(s) URL (RE2-compatible: the API server evaluates `pattern` with Go's regexp). */
export const HTTP_URL = /^https?:\/\/\S+$/;

/** An RFC 3339 time, as Kubernetes writes them (status fields written by the operator). */
export function timestamp(): z.ZodString {
  return z.string().meta({ format: 'date-time' });
}

/** DNS-1123 label (Service names use the stricter DNS-1035 form, see `serviceName`). */
export function dnsLabel(): z.ZodString {
  return z.string().min(1).max(63).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
    message: 'must be a DNS-1123 label: lower case letters, digits and "-", starting and ending with a letter or digit',
  });
}

/** DNS-1123 subdomain: names of Deployments, ConfigMaps, Secrets, routes. */
export function resourceName(): z.ZodString {
  return z.string().min(1).max(253).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, {
    message: 'must be a DNS-1123 subdomain: lower case letters, digits, "-" and ".", starting and ending with a letter or digit',
  });
}

/** DNS-1035 label: the name of a Service. */
export function serviceName(): z.ZodString {
  return z.string().min(1).max(63).regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/, {
    message: 'must be a DNS-1035 label: lower case letters, digits and "-", starting with a letter and ending with a letter or digit',
  });
}
