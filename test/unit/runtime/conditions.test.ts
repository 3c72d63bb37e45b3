import { describe, expect, it } from 'vitest';
import {
  getCondition,
  isFalse,
  isTrue,
  removeCondition,
  setCondition,
  statusChanged,
  type Condition,
} from '../../../operator/src/runtime/conditions.ts';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const T1 = Date.parse('2025-01-01T00:05:00Z');

describe('setCondition', () => {
  it('adds a new condition with the current time', () => {
    const out = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'Progressing', message: 'step 1', observedGeneration: 2 }, T0);
    expect(out).toEqual([
      { type: 'Ready', status: 'False', observedGeneration: 2, lastTransitionTime: '2025-01-01T00:00:00Z', reason: 'Progressing', message: 'step 1' },
    ]);
  });

  it('keeps lastTransitionTime when the status does not change, even if reason and message do', () => {
    const before = setCondition([], { type: 'Ready', status: 'False', reason: 'Progressing', message: 'step 1' }, T0);
    const after = setCondition(before, { type: 'Ready', status: 'False', reason: 'Paused', message: 'paused', observedGeneration: 3 }, T1);
    expect(after[0]).toMatchObject({ status: 'False', reason: 'Paused', message: 'paused', observedGeneration: 3, lastTransitionTime: '2025-01-01T00:00:00Z' });
  });

  it('moves lastTransitionTime when the status flips', () => {
    const before = setCondition([], { type: 'Ready', status: 'False', reason: 'Progressing' }, T0);
    const after = setCondition(before, { type: 'Ready', status: 'True', reason: 'Completed' }, T1);
    expect(after[0]?.lastTransitionTime).toBe('2025-01-01T00:05:00Z');
  });

  it('does not mutate its input and keeps the order of other conditions', () => {
    const input: Condition[] = [
      { type: 'Ready', status: 'False', lastTransitionTime: '2025-01-01T00:00:00Z', reason: 'A', message: '' },
      { type: 'Stalled', status: 'True', lastTransitionTime: '2025-01-01T00:00:00Z', reason: 'B', message: '' },
    ];
    const frozen = structuredClone(input);
    const out = setCondition(input, { type: 'Ready', status: 'True', reason: 'C' }, T1);
    expect(input).toEqual(frozen);
    expect(out.map((c) => c.type)).toEqual(['Ready', 'Stalled']);
  });
});

describe('getCondition / isTrue / isFalse / removeCondition', () => {
  const conds = setCondition(setCondition([], { type: 'Ready', status: 'True', reason: 'Done' }, T0), { type: 'Stalled', status: 'False', reason: 'Fine' }, T0);

  it('finds conditions by type', () => {
    expect(getCondition(conds, 'Ready')?.reason).toBe('Done');
    expect(getCondition(conds, 'Degraded')).toBeUndefined();
    expect(isTrue(conds, 'Ready')).toBe(true);
    expect(isTrue(conds, 'Stalled')).toBe(false);
    expect(isFalse(conds, 'Stalled')).toBe(true);
    expect(isTrue(undefined, 'Ready')).toBe(false);
  });

  it('removes a condition by type', () => {
    expect(removeCondition(conds, 'Stalled').map((c) => c.type)).toEqual(['Ready']);
    expect(removeCondition(conds, 'Missing')).toEqual(conds);
  });
});

describe('statusChanged', () => {
  const table: Array<[string, unknown, unknown, boolean]> = [
    ['identical', { phase: 'Progressing', currentStep: 1 }, { phase: 'Progressing', currentStep: 1 }, false],
    ['key order ignored', { a: 1, b: 2 }, { b: 2, a: 1 }, false],
    ['undefined equals missing', { a: 1, b: undefined }, { a: 1 }, false],
    ['scalar differs', { currentStep: 1 }, { currentStep: 2 }, true],
    ['nested differs', { analysis: { consecutiveFailures: 0 } }, { analysis: { consecutiveFailures: 1 } }, true],
    ['array order matters', { l: [1, 2] }, { l: [2, 1] }, true],
    ['array length', { l: [1] }, { l: [1, 1] }, true],
    ['added field', { a: 1 }, { a: 1, b: 0 }, true],
    ['null vs missing', { a: null }, {}, true],
    ['both undefined', undefined, undefined, false],
    ['undefined vs empty', undefined, {}, true],
  ];
  it.each(table)('%s', (_name, a, b, changed) => {
    expect(statusChanged(a, b)).toBe(changed);
  });
});
