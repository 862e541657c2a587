import { describe, expect, it } from 'vitest';
import { IncompatibleSchemaError } from './errors.js';
import { expandHistogramSeries, HistogramNotationError, HISTOGRAM_SERIES_ITEM, parseHistogramNotation } from './notation.js';
import { CounterResetHint } from './types.js';

describe('parseHistogramNotation', () => {
  it('reads every key', () => {
    const h = parseHistogramNotation(
      '{{schema:1 sum:3 count:22 z_bucket:3 z_bucket_w:0.001 buckets:[5 10 7] offset:1 n_buckets:[1 2] n_offset:2 counter_reset_hint:gauge}}',
    );
    expect(h).toMatchObject({
      schema: 1,
      sum: 3,
      count: 22,
      zeroCount: 3,
      zeroThreshold: 0.001,
      positiveSpans: [{ offset: 1, length: 3 }],
      positiveBuckets: [5, 10, 7],
      negativeSpans: [{ offset: 2, length: 2 }],
      negativeBuckets: [1, 2],
      counterResetHint: CounterResetHint.Gauge,
      customValues: [],
    });
    const c = parseHistogramNotation('{{schema:-53 sum:-Inf count:1.5e+2 custom_values:[1 2 5] buckets:[0x10 NaN] counter_reset_hint:not_reset}}');
    expect(c).toMatchObject({ schema: -53, sum: -Infinity, count: 150, customValues: [1, 2, 5], positiveBuckets: [16, NaN] });
    expect(c.counterResetHint).toBe(CounterResetHint.NotCounterReset);
    expect(parseHistogramNotation('{{counter_reset_hint:reset}}').counterResetHint).toBe(CounterResetHint.CounterReset);
  });

  it('defaults to an empty schema-0 histogram without spans', () => {
    const h = parseHistogramNotation('{{ }}');
    expect(h).toMatchObject({ schema: 0, count: 0, sum: 0, positiveSpans: [], negativeSpans: [] });
    expect(parseHistogramNotation('{{offset:3}}').positiveSpans).toEqual([]);
  });

  it('refuses what promqltest refuses', () => {
    expect(() => parseHistogramNotation('{{sum:1 sum:2}}')).toThrow(/duplicate key "sum"/);
    expect(() => parseHistogramNotation('{{foo:1}}')).toThrow(HistogramNotationError);
    expect(() => parseHistogramNotation('{{counter_reset_hint:maybe}}')).toThrow(/counter_reset_hint/);
    expect(() => parseHistogramNotation('{{schema:1.5}}')).toThrow(/schema/);
    expect(() => parseHistogramNotation('{{buckets:[1 x]}}')).toThrow(/buckets/);
  });
});

describe('expandHistogramSeries', () => {
  it('repeats a histogram N+1 times, the first being sample 0', () => {
    const s = expandHistogramSeries('{{sum:1 count:1 buckets:[1]}}x3');
    expect(s).toHaveLength(4);
    expect(s.every((h) => h.equals(s[0]!))).toBe(true);
    expect(new Set(s).size).toBe(4);
    expect(expandHistogramSeries('{{sum:1}}')).toHaveLength(1);
  });

  it('adds the increment with histogram addition, growing the spans', () => {
    const s = expandHistogramSeries('{{schema:0 count:1 sum:1 buckets:[1] offset:1}}+{{count:1 sum:1 buckets:[1] offset:2}}x2');
    expect(s.map((h) => h.toString())).toEqual([
      '{count:1, sum:1, (1,2]:1}',
      '{count:2, sum:2, (1,2]:1, (2,4]:1}',
      '{count:3, sum:3, (1,2]:1, (2,4]:2}',
    ]);
    expect(s[2]!.positiveSpans).toEqual([{ offset: 1, length: 2 }]);
  });

  it('subtracts with `-`, and combines counter reset hints as Add does', () => {
    const s = expandHistogramSeries('{{sum:10 count:10 buckets:[5 5]}}-{{sum:1 count:1 buckets:[1] counter_reset_hint:gauge}}x2');
    expect(s.map((h) => [h.count, h.sum, ...h.positiveBuckets])).toEqual([
      [10, 10, 5, 5],
      [9, 9, 4, 5],
      [8, 8, 3, 5],
    ]);
    expect(s.map((h) => h.counterResetHint)).toEqual([CounterResetHint.Unknown, CounterResetHint.Gauge, CounterResetHint.Gauge]);
  });

  it('refuses an increment of lower resolution and mixed bucket kinds', () => {
    expect(() => expandHistogramSeries('{{schema:1 count:1}}+{{schema:0 count:1}}x1')).toThrow(
      /cannot merge from schema 0 to 1/,
    );
    expect(() => expandHistogramSeries('{{schema:-53 count:1}}+{{count:1}}x1')).toThrow(IncompatibleSchemaError);
    expect(() => expandHistogramSeries('{{count:1}}+{{count:1}}')).toThrow(HistogramNotationError);
  });

  it('finds the items in a line of values', () => {
    const line = '{{count:1}}x2 _ {{count:1}}+{{count:2}}x3 1 {{sum:1}}';
    expect(line.match(HISTOGRAM_SERIES_ITEM)).toEqual(['{{count:1}}x2', '{{count:1}}+{{count:2}}x3', '{{sum:1}}']);
  });
});
