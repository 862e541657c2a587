import { describe, expect, it } from 'vitest';
import { promqlFeatures } from './features.js';

describe('promqlFeatures', () => {
  it('reads repeated, comma-separated Prometheus feature names', () => {
    expect(promqlFeatures(['promql-extended-range-selectors,promql-binop-fill-modifiers', 'promql-delayed-name-removal'])).toEqual({
      extendedRangeSelectors: true, binopFillModifiers: true, delayedNameRemoval: true,
    });
    expect(promqlFeatures([])).toEqual({});
  });

  it('rejects unknown names', () => {
    expect(() => promqlFeatures(['promql-extended-range-selector'])).toThrow(/unknown feature "promql-extended-range-selector"; known: promql-extended-range-selectors/);
  });
});
