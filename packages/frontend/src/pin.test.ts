import { describe, expect, it } from 'vitest';
import { pinnedQuery } from './pin.js';

const q = { start: 1_700_000_000_000, end: 1_700_086_400_000, step: 60_000 };

describe('pinnedQuery', () => {
  it('leaves a query that does not depend on the whole range as it was written', () => {
    expect(pinnedQuery('sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))  ', q)).toBe('sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))  ');
  });

  it('fixes @ start() and @ end() to the whole range, in selectors, ranges and subqueries', () => {
    expect(pinnedQuery('x @ start() - x @ end()', q)).toBe('x @ 1700000000.000 - x @ 1700086400.000');
    expect(pinnedQuery('rate(x[5m] @ end())', q)).toBe('rate(x[5m] @ 1700086400.000)');
    expect(pinnedQuery('max_over_time(x[1h:5m] @ start())', q)).toBe('max_over_time(x[1h:5m] @ 1700000000.000)');
    expect(pinnedQuery('xincrease(x[5m] @ end())', q)).toBe('xincrease(x[5m] @ 1700086400.000)');
  });

  it('is undefined for a query that does not parse, or that a range query cannot evaluate', () => {
    expect(pinnedQuery('sum(', q)).toBeUndefined();
    expect(pinnedQuery('x[5m]', q)).toBeUndefined();
    expect(pinnedQuery('"a"', q)).toBeUndefined();
  });
});
