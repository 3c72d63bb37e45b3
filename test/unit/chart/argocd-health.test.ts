// The Argo CD health checks (charts/cutover/argocd/*.lua) run in a real Lua VM over status objects
// shaped like the operator writes them (crds/*.yaml), and the argocd-cm snippet embeds them unchanged.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../testbed/paths.ts';
import { runHealthScript } from './lua.ts';

const ARGOCD_DIR = join(REPO_ROOT, 'charts', 'cutover', 'argocd');
const KINDS = ['TrafficShift', 'ShadowRun', 'MigrationSlice'] as const;
type Kind = typeof KINDS[number];
const script = (kind: Kind) => readFileSync(join(ARGOCD_DIR, `health-${kind.toLowerCase()}.lua`), 'utf8');

/** Argo CD's health codes (gitops-engine health.HealthStatusCode). */
const ARGO_HEALTH = ['Healthy', 'Progressing', 'Degraded', 'Suspended', 'Missing', 'Unknown'];

const condition = (type: string, status: 'True' | 'False' | 'Unknown', reason: string, message = '') =>
  ({ type, status, reason, message, observedGeneration: 3, lastTransitionTime: '2026-01-01T00:00:00Z' });

/** A resource at generation 3 whose status the operator has observed (unless `status` says otherwise). */
function resource(kind: Kind, status: Record<string, unknown> | undefined, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: 'cutover.dev/v1alpha1', kind,
    metadata: { name: 'listings-read', namespace: 'shop', generation: 3 },
    spec,
    ...(status ? { status: { observedGeneration: 3, ...status } } : {}),
  };
}

interface Case { name: string; obj: unknown; status: string; message: RegExp }

const steps = { steps: [{ weight: 10, pause: '5m' }, { weight: 50, pause: '30m' }, { weight: 100, pause: '1h' }] };
const ready = condition('Ready', 'True', 'Succeeded', 'all steps done');

const trafficShift: Case[] = [
  { name: 'no status yet', obj: resource('TrafficShift', undefined, steps), status: 'Progressing', message: /Waiting for the Cutover operator to pick up/ },
  { name: 'Pending', obj: resource('TrafficShift', { phase: 'Pending', message: 'scaling workers: score-worker 1/3 ready' }), status: 'Progressing', message: /^scaling workers/ },
  { name: 'Progressing at step 2 of 3', obj: resource('TrafficShift', { phase: 'Progressing', currentStep: 1, currentWeight: 50 }, steps), status: 'Progressing', message: /^Progressing: step 2\/3, weight 50%$/ },
  { name: 'Completed', obj: resource('TrafficShift', { phase: 'Completed', currentStep: 2, currentWeight: 100, conditions: [ready] }, steps), status: 'Healthy', message: /100%/ },
  { name: 'Paused on inconclusive data', obj: resource('TrafficShift', { phase: 'Paused', pauseReason: 'Inconclusive', currentStep: 0, currentWeight: 10 }, steps), status: 'Suspended', message: /^Paused \(Inconclusive\) at step 1\/3, weight 10%$/ },
  { name: 'RolledBack by an alert', obj: resource('TrafficShift', { phase: 'RolledBack', currentWeight: 0, rollback: { trigger: 'Alert', reason: 'alert ListingsHighErrorRate firing', at: '2026-01-01T00:00:00Z' } }), status: 'Degraded', message: /^Rolled back \(Alert\): alert ListingsHighErrorRate firing$/ },
  { name: 'Failed', obj: resource('TrafficShift', { phase: 'Failed', message: 'progressDeadline exceeded' }), status: 'Degraded', message: /progressDeadline exceeded/ },
  { name: 'Stalled=True wins over the phase, with its message', obj: resource('TrafficShift', { phase: 'Progressing', currentStep: 0, currentWeight: 0, conditions: [condition('Stalled', 'True', 'RouteNotFound', 'spec.route.httpRoute.name: HTTPRoute "listings" not found')] }), status: 'Degraded', message: /^Stalled: spec\.route\.httpRoute\.name: HTTPRoute "listings" not found$/ },
  { name: 'Stalled=True without a message falls back to the reason', obj: resource('TrafficShift', { phase: 'Pending', conditions: [condition('Stalled', 'True', 'ServiceNotFound')] }), status: 'Degraded', message: /^Stalled: ServiceNotFound$/ },
  { name: 'Stalled=False is ignored', obj: resource('TrafficShift', { phase: 'Completed', currentWeight: 100, conditions: [ready, condition('Stalled', 'False', 'Resolved')] }), status: 'Healthy', message: /./ },
  { name: 'a new generation not yet observed is Progressing, even if it was RolledBack and Stalled', obj: { ...resource('TrafficShift', { phase: 'RolledBack', conditions: [condition('Stalled', 'True', 'X', 'old')] }), metadata: { name: 'x', generation: 4 } }, status: 'Progressing', message: /observe generation 4/ },
  { name: 'an unknown phase (newer operator) is Unknown', obj: resource('TrafficShift', { phase: 'Hibernating' }), status: 'Unknown', message: /Hibernating/ },
];

const shadowRun: Case[] = [
  { name: 'no status yet', obj: resource('ShadowRun', undefined), status: 'Progressing', message: /pick up this ShadowRun/ },
  { name: 'Pending', obj: resource('ShadowRun', { phase: 'Pending' }), status: 'Progressing', message: /Pending/ },
  { name: 'Running', obj: resource('ShadowRun', { phase: 'Running', startedAt: '2026-01-01T00:00:00Z', endsAt: '2026-01-08T00:00:00Z' }), status: 'Progressing', message: /until 2026-01-08T00:00:00Z/ },
  { name: 'Passed', obj: resource('ShadowRun', { phase: 'Passed', verdict: 'Pass', conditions: [ready] }), status: 'Healthy', message: /Passed/ },
  { name: 'Failed names the failing metrics', obj: resource('ShadowRun', { phase: 'Failed', verdict: 'Fail', results: [{ name: 'p95-vs-primary', result: 'Fail', primary: 0.2, shadow: 0.9, threshold: 'ratio <= 1.1' }, { name: 'error-rate', result: 'Pass' }, { name: 'parity', result: 'Fail' }] }), status: 'Degraded', message: /^Failed: p95-vs-primary, parity$/ },
  { name: 'Cancelled', obj: resource('ShadowRun', { phase: 'Cancelled', message: 'cancelled by MigrationSlice rollback' }), status: 'Degraded', message: /cancelled by MigrationSlice rollback/ },
  { name: 'Stalled=True', obj: resource('ShadowRun', { phase: 'Running', conditions: [condition('Stalled', 'True', 'InvalidQuery', 'spec.analysis.metrics[0].prometheus.query: parse error')] }), status: 'Degraded', message: /^Stalled: spec\.analysis\.metrics\[0\]/ },
  { name: 'new generation', obj: { ...resource('ShadowRun', { phase: 'Passed' }), metadata: { name: 'x', generation: 7 } }, status: 'Progressing', message: /generation 7/ },
];

const migrationSlice: Case[] = [
  { name: 'no status yet', obj: resource('MigrationSlice', undefined), status: 'Progressing', message: /pick up this MigrationSlice/ },
  { name: 'Pending (waiting for startWhen)', obj: resource('MigrationSlice', { phase: 'Pending', message: 'waiting for trigger score-batch-slow' }), status: 'Progressing', message: /^Pending: waiting for trigger/ },
  { name: 'Shadowing', obj: resource('MigrationSlice', { phase: 'Shadowing', children: { shadowRun: { name: 'x-shadow', phase: 'Running' } } }), status: 'Progressing', message: /^Shadowing$/ },
  { name: 'Shifting shows the weight', obj: resource('MigrationSlice', { phase: 'Shifting', currentWeight: 50, children: { trafficShift: { name: 'x-shift', phase: 'Progressing', currentStep: 1, currentWeight: 50 } } }), status: 'Progressing', message: /^Shifting: weight 50%$/ },
  { name: 'Shifting with a Paused TrafficShift is Suspended', obj: resource('MigrationSlice', { phase: 'Shifting', currentWeight: 10, children: { trafficShift: { name: 'x-shift', phase: 'Paused' } } }), status: 'Suspended', message: /TrafficShift x-shift is Paused/ },
  { name: 'Stabilizing', obj: resource('MigrationSlice', { phase: 'Stabilizing', currentWeight: 100 }), status: 'Progressing', message: /^Stabilizing/ },
  { name: 'Completed', obj: resource('MigrationSlice', { phase: 'Completed', currentWeight: 100, conditions: [ready] }), status: 'Healthy', message: /Completed/ },
  { name: 'RolledBack takes the last history entry', obj: resource('MigrationSlice', { phase: 'RolledBack', history: [{ phase: 'Shifting', at: '2026-01-01T00:00:00Z', reason: 'ShiftStarted' }, { phase: 'RolledBack', at: '2026-01-02T00:00:00Z', reason: 'ShiftRolledBack', message: 'error-rate 0.034 > 0.01' }] }), status: 'Degraded', message: /^Rolled back: error-rate 0\.034 > 0\.01$/ },
  { name: 'Failed', obj: resource('MigrationSlice', { phase: 'Failed', message: 'legacy worker could not be restored' }), status: 'Degraded', message: /^Failed: legacy worker/ },
  { name: 'Stalled=True', obj: resource('MigrationSlice', { phase: 'Pending', conditions: [condition('Stalled', 'True', 'ConfigMapNotFound', 'spec.featureFlag.configMap: ConfigMap "flags" not found')] }), status: 'Degraded', message: /^Stalled: spec\.featureFlag\.configMap/ },
  { name: 'new generation', obj: { ...resource('MigrationSlice', { phase: 'Failed' }), metadata: { name: 'x', generation: 9 } }, status: 'Progressing', message: /generation 9/ },
];

const tables: Record<Kind, Case[]> = { TrafficShift: trafficShift, ShadowRun: shadowRun, MigrationSlice: migrationSlice };

describe.each(KINDS)('Argo CD health check for %s', (kind) => {
  it.each(tables[kind])('$name -> $status', ({ obj, status, message }) => {
    const hs = runHealthScript(script(kind), obj, `health-${kind.toLowerCase()}.lua`);
    expect(ARGO_HEALTH).toContain(hs.status);
    expect(hs.status).toBe(status);
    expect(hs.message).toMatch(message);
  });

  it('uses nothing newer than Lua 5.1 (Argo CD runs gopher-lua)', () => {
    const code = script(kind).split('\n').map((l) => l.replace(/--.*$/, '')).join('\n');
    for (const newer of [/\/\//, /\bgoto\b/, /table\.unpack/, /\butf8\./, /math\.tointeger/, /string\.pack/, /<const>|<close>/, /[&|]|~[^=]/, /<<|>>/]) {
      expect(code, `health-${kind.toLowerCase()}.lua uses ${newer}`).not.toMatch(newer);
    }
  });
});

describe('argocd-cm snippet', () => {
  const cm = load(readFileSync(join(ARGOCD_DIR, 'argocd-cm.yaml'), 'utf8')) as { metadata: { name: string }; data: Record<string, string> };

  it.each(KINDS)('embeds health-%s.lua unchanged under resource.customizations.health.cutover.dev_<Kind> (rerun argocd/gen-argocd-cm.sh)', (kind) => {
    expect(cm.metadata.name).toBe('argocd-cm');
    expect(cm.data[`resource.customizations.health.cutover.dev_${kind}`]).toBe(script(kind));
  });

  it('tells Argo CD to ignore the HTTPRoute weights and mirror filter — not all of the atomic spec.rules that manager cutover owns', () => {
    expect(load(cm.data['resource.customizations.ignoreDifferences.gateway.networking.k8s.io_HTTPRoute']!)).toEqual({
      jqPathExpressions: ['.spec.rules[].backendRefs[]?.weight', '.spec.rules[].filters[]? | select(.type == "RequestMirror")'],
    });
  });
});
