// The page /metrics serves: state sets written by their own renderer must read exactly as
// prom-client's Registry writes every other family, escaping included.
import { describe, expect, it } from 'vitest';
import { counter, gauge, Registry, renderMetrics, stateSet } from '../../../operator/src/runtime/metrics.ts';

describe('renderMetrics', () => {
  it('writes state sets exactly as prom-client writes the same family, escaping included', async () => {
    const registry = new Registry();
    const phases = ['Pending', 'Progressing', 'Completed'] as const;
    const s = stateSet({ name: 'demo_phase', help: 'A phase, with a \\ and a\nnewline in its help.', labelNames: ['namespace', 'name'] as const, stateLabel: 'phase', registry });
    s.set({ namespace: 'shop', name: 'plain' }, phases, 'Progressing');
    s.set({ namespace: 'shop', name: 'we"ird\\na\nme' }, phases, 'Completed');
    counter({ name: 'demo_total', help: 'A counter.', labelNames: ['name'], registry }).inc({ name: 'x' }, 2);

    // The same family, every state a prom-client series.
    const reference = new Registry();
    const g = gauge({ name: 'demo_phase', help: 'A phase, with a \\ and a\nnewline in its help.', labelNames: ['namespace', 'name', 'phase'], registry: reference });
    for (const name of ['plain', 'we"ird\\na\nme']) for (const p of phases) g.set({ namespace: 'shop', name, phase: p }, p === (name === 'plain' ? 'Progressing' : 'Completed') ? 1 : 0);
    counter({ name: 'demo_total', help: 'A counter.', labelNames: ['name'], registry: reference }).inc({ name: 'x' }, 2);

    expect(await renderMetrics(registry)).toBe(await reference.metrics());
    expect(await renderMetrics(registry, ['demo_phase'])).toBe(`${await reference.getSingleMetricAsString('demo_phase')}\n`);
    expect(await renderMetrics(registry, ['no_such'])).toBe('');

    s.removeMatching({ name: 'plain' });
    expect(await renderMetrics(registry, ['demo_phase'])).not.toContain('name="plain"');
  });

  it('a name registered as another type is refused, not silently shared', () => {
    const registry = new Registry();
    gauge({ name: 'taken', help: 'h', registry });
    expect(() => stateSet({ name: 'taken', help: 'h', labelNames: ['name'] as const, stateLabel: 'phase', registry })).toThrow(/not as a state set/);
  });
});
