import { describe, expect, it } from 'vitest';
import { renderTemplate, TemplateError, templateVariables, type TemplateVars } from '../../../operator/src/analysis/template.ts';

const vars: TemplateVars = {
  name: 'listings-read',
  namespace: 'shop',
  interval: '30s',
  'canary.service': 'listings-api',
  'stable.service': 'monolith',
};

describe('renderTemplate', () => {
  it.each([
    ['canary', 'rate(x{service="{{canary.service}}"}[1m])', 'rate(x{service="listings-api"}[1m])'],
    ['stable', '{{stable.service}}', 'monolith'],
    ['namespace, name, interval', '{{namespace}}/{{name}}[{{interval}}]', 'shop/listings-read[30s]'],
    ['whitespace inside braces', '{{ canary.service }}', 'listings-api'],
    ['repeated', '{{namespace}}-{{namespace}}', 'shop-shop'],
    ['no placeholders', 'up == 1', 'up == 1'],
    ['PromQL braces are not placeholders', 'sum by (code) (x{a="b"})', 'sum by (code) (x{a="b"})'],
  ])('%s', (_case, template, expected) => {
    expect(renderTemplate(template, vars)).toBe(expected);
  });

  it('fills shadow and primary for a ShadowRun', () => {
    expect(renderTemplate('{{primary.service}} vs {{shadow.service}}', { 'primary.service': 'v1', 'shadow.service': 'v2' })).toBe('v1 vs v2');
  });

  it.each([
    ['unknown variable', 'x{service="{{canary.svc}}"}', 'canary.svc', /unknown variable \{\{canary\.svc\}\}/],
    ['known but not available here', '{{shadow.service}}', 'shadow.service', /\{\{shadow\.service\}\} has no value here/],
    ['empty placeholder', '{{}}', '', /unknown variable \{\{\}\}/],
  ])('%s → TemplateError naming the variable', (_case, template, variable, message) => {
    let thrown: unknown;
    try {
      renderTemplate(template, vars);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(TemplateError);
    expect((thrown as TemplateError).variable).toBe(variable);
    expect((thrown as TemplateError).message).toMatch(message);
  });
});

describe('templateVariables', () => {
  it('lists placeholders once, in order', () => {
    expect(templateVariables('{{a}} {{ b }} {{a}}')).toEqual(['a', 'b']);
  });
});
