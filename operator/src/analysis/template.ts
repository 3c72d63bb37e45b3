// Query templates: `{{canary.service}}`-style placeholders in user-written PromQL (DESIGN §1).
// Substitution is plain text; values come from validated spec fields (DNS names, durations).
// An unknown placeholder, or one the calling resource cannot fill, is a user error: it throws a
// TemplateError naming the variable so the controller can set `Stalled` on the field.

export const TEMPLATE_VARIABLES = [
  'name',
  'namespace',
  'interval',
  'canary.service',
  'stable.service',
  'canary.deployment',
  'stable.deployment',
  'primary.service',
  'shadow.service',
] as const;

export type TemplateVariable = (typeof TEMPLATE_VARIABLES)[number];

/** Values available to a template; a resource fills only the ones that make sense for it. */
export type TemplateVars = Partial<Record<TemplateVariable, string>>;

export class TemplateError extends Error {
  override name = 'TemplateError';
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(message);
    this.variable = variable;
  }
}

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
const KNOWN: ReadonlySet<string> = new Set(TEMPLATE_VARIABLES);

function isTemplateVariable(name: string): name is TemplateVariable {
  return KNOWN.has(name);
}

/** Names of all placeholders used in `template`, in order of first appearance. */
export function templateVariables(template: string): string[] {
  const seen = new Set<string>();
  for (const m of template.matchAll(PLACEHOLDER)) seen.add(m[1] ?? '');
  return [...seen];
}

/**
 * Replaces every `{{variable}}` (whitespace inside the braces allowed) with its value.
 * Throws TemplateError for an unknown variable or a known one without a value here.
 */
export function renderTemplate(template: string, vars: TemplateVars): string {
  return template.replace(PLACEHOLDER, (_match, raw: string) => {
    if (!isTemplateVariable(raw)) {
      throw new TemplateError(raw, `unknown variable {{${raw}}} (known: ${TEMPLATE_VARIABLES.join(', ')})`);
    }
    const value = vars[raw];
    if (value === undefined || value === '') {
      const available = TEMPLATE_VARIABLES.filter((v) => vars[v] !== undefined && vars[v] !== '');
      throw new TemplateError(raw, `variable {{${raw}}} has no value here (available: ${available.join(', ') || 'none'})`);
    }
    return value;
  });
}
