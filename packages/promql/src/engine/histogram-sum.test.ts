import { CounterResetHint, parseHistogramNotation, type FloatHistogram } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { HistogramGroup, KahanHistogram, type HistogramAggregationEvents } from './histogram-sum.js';

const h = (text: string): FloatHistogram => parseHistogramNotation(`{{${text}}}`);

function plainSum(hs: FloatHistogram[]): FloatHistogram {
  const sum = (hs[0] as FloatHistogram).copy();
  for (const x of hs.slice(1)) sum.add(x);
  return sum.compact(0);
}

function kahanSum(hs: FloatHistogram[]): FloatHistogram {
  let acc = KahanHistogram.of(hs[0] as FloatHistogram);
  for (const x of hs.slice(1)) acc = acc.add(x).result;
  return acc.value().compact(0);
}

function recorder(): HistogramAggregationEvents & { log: string[] } {
  const log: string[] = [];
  return { log, reconciled: () => log.push('reconciled'), incompatible: (j) => log.push(`incompatible ${j}`) };
}

describe('KahanHistogram', () => {
  it('keeps small values next to large ones that cancel out', () => {
    const s = kahanSum([h('count:1 sum:3.1 buckets:[1]'), h('count:1 sum:1e100 buckets:[1e100]'), h('count:1 sum:-1e100 buckets:[-1e100]'), h('count:1 sum:1.3 buckets:[2]')]);
    expect(s.sum).toBeCloseTo(4.4, 12);
    expect(s.positiveBuckets).toEqual([3]);
  });

  it('adds in the layout of the plain sum: lower schema, wider zero bucket, other buckets', () => {
    const hs = [
      h('schema:1 count:9 sum:5 z_bucket:1 z_bucket_w:0.001 buckets:[1 2 3] n_buckets:[1 1]'),
      h('schema:0 count:5 sum:2 z_bucket:2 z_bucket_w:0.5 offset:2 buckets:[1 1] n_buckets:[0 1]'),
      h('schema:2 count:4 sum:1 buckets:[1 0 0 0 0 0 0 2] n_offset:3 n_buckets:[1]'),
    ];
    expect(kahanSum(hs).equals(plainSum(hs))).toBe(true);
  });

  it('reconciles custom bounds as the plain sum does', () => {
    const hs = [
      h('schema:-53 count:3 sum:1 custom_values:[2 10] buckets:[1 1 1]'),
      h('schema:-53 count:2 sum:1 custom_values:[10] buckets:[1 1]'),
      h('schema:-53 count:1 sum:1 custom_values:[5 10] buckets:[0 1]'),
    ];
    expect(kahanSum(hs).equals(plainSum(hs))).toBe(true);
  });
});

describe('HistogramGroup', () => {
  it('averages, switching to an incremental mean where the sum would overflow', () => {
    const g = new HistogramGroup(h('count:1.7976931348623157e308 sum:2 buckets:[1e308]'));
    const events = recorder();
    g.add(h('count:1e308 sum:4 buckets:[1e308]'), 1, true, events);
    g.add(h('count:0 sum:6 buckets:[4e307]'), 2, true, events);
    const avg = g.result(true);
    expect(avg.count).toBeCloseTo(0.9325643782874386e308, -294);
    expect(avg.sum).toBeCloseTo(4, 12);
    expect(avg.positiveBuckets[0]).toBeCloseTo(0.8e308, -294);
    expect(events.log).toEqual([]);
  });

  it('reports mixed bucket kinds and reconciled bounds, and collects counter reset hints', () => {
    const reset = h('schema:-53 count:1 sum:1 custom_values:[5] buckets:[1]');
    reset.counterResetHint = CounterResetHint.CounterReset;
    const g = new HistogramGroup(reset);
    const events = recorder();
    const notReset = h('schema:-53 count:1 sum:1 custom_values:[10] buckets:[1]');
    notReset.counterResetHint = CounterResetHint.NotCounterReset;
    g.add(notReset, 1, false, events);
    expect(g.counterResetCollision()).toBe(true);
    g.add(h('count:1 sum:1 buckets:[1]'), 2, false, events);
    expect(g.incompatible).toBe(true);
    expect(events.log).toEqual(['reconciled', 'incompatible 2']);
  });
});
