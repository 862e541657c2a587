import { parseHistogramNotation as h } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { histogramAvg, histogramFraction, histogramQuantile, histogramQuantileV2, histogramStddev, histogramStdvar } from './histogram-quantile.js';

describe('histogramQuantile', () => {
  const positive = h('{{schema:0 count:12 sum:100 z_bucket:2 z_bucket_w:0.001 buckets:[2 3 0 1 4]}}');

  it('interpolates exponentially in exponential buckets', () => {
    // From above (q ≥ 0.5), rank 6 is reached in bucket (1,2], 2 of its 3 observations in: 2^(2/3).
    expect(histogramQuantile(0.5, positive)).toBeCloseTo(2 ** (2 / 3), 14);
    expect(histogramQuantile(0.5, h('{{schema:0 sum:5 count:4 buckets:[1 2 1]}}'))).toBeCloseTo(Math.SQRT2, 14);
    expect(histogramQuantile(0.5, h('{{schema:0 sum:-5 count:4 n_buckets:[1 2 1]}}'))).toBeCloseTo(-Math.SQRT2, 14);
    expect(histogramQuantile(1, positive)).toBe(16);
  });

  it('interpolates linearly in the zero bucket, which ends at 0 without negative buckets', () => {
    // Rank 1.2 of the 2 observations in [0, 0.001].
    expect(histogramQuantile(0.1, positive)).toBeCloseTo(0.0006, 15);
    expect(histogramQuantile(0, positive)).toBe(0);
    expect(histogramQuantile(0.5, h('{{schema:0 sum:0.25 count:1 z_bucket:1 z_bucket_w:0.5}}'))).toBe(0);
  });

  it('interpolates linearly in custom buckets, with 0 below the first and the last bound above', () => {
    const nhcb = h('{{schema:-53 sum:10 count:4 custom_values:[2 4 8] buckets:[1 2 0 1]}}');
    expect(histogramQuantile(0.25, nhcb)).toBe(2);
    expect(histogramQuantile(0.5, nhcb)).toBe(3);
    expect(histogramQuantile(0.125, nhcb)).toBe(1);
    expect(histogramQuantile(0.9, nhcb)).toBe(8);
    expect(histogramQuantile(0.1, h('{{schema:-53 sum:-10 count:1 custom_values:[-5 8] buckets:[1]}}'))).toBe(-5);
  });

  it('has the edge cases of Prometheus', () => {
    expect(histogramQuantile(-1, positive)).toBe(-Infinity);
    expect(histogramQuantile(1.001, positive)).toBe(Infinity);
    expect(histogramQuantile(NaN, positive)).toBeNaN();
    expect(histogramQuantile(0.5, h('{{}}'))).toBeNaN();
    expect(histogramQuantile(-1, h('{{}}'))).toBe(-Infinity);
  });

  it('reports NaN observations: a rank among them gives NaN, one below them a result skewed higher', () => {
    // NaN observations count but are in no bucket (the sum is NaN).
    const nans = h('{{schema:0 sum:NaN count:3 buckets:[1] offset:1}}');
    const effects: string[] = [];
    expect(histogramQuantile(0.9, nans, (e) => effects.push(e))).toBeNaN();
    expect(histogramQuantile(0.2, nans, (e) => effects.push(e))).toBeCloseTo(2 ** 0.6, 14);
    expect(effects).toEqual(['nan', 'skewed']);
    // Both infinities observed also make the sum NaN, but every observation is in a bucket.
    histogramQuantile(0.5, h('{{schema:0 sum:NaN count:2 buckets:[1 1]}}'), (e) => effects.push(e));
    expect(effects).toHaveLength(2);
  });
});

describe('2.x semantics (histogramQuantileV2, histogramFraction with compat 2)', () => {
  it('interpolate linearly where 3.x interpolates exponentially', () => {
    // Bucket (1,2] holds the median: halfway by count is 1.5 linearly, √2 on the logarithmic scale.
    const h2 = h('{{schema:0 sum:5 count:4 buckets:[1 2 1]}}');
    expect(histogramQuantileV2(0.5, h2)).toBe(1.5);
    expect(histogramQuantile(0.5, h2)).toBeCloseTo(Math.SQRT2, 14);
    expect(histogramFraction(-Infinity, 1.5, h2, undefined, 2)).toBe(0.5);
    expect(histogramFraction(-Infinity, Math.SQRT2, h2)).toBeCloseTo(0.5, 14);
    expect([histogramQuantileV2(-1, h2), histogramQuantileV2(2, h2), histogramQuantileV2(0.5, h('{{}}'))]).toEqual([-Infinity, Infinity, NaN]);
  });
});

describe('histogramFraction', () => {
  it('interpolates as histogramQuantile does', () => {
    expect(histogramFraction(1, 2, h('{{schema:0 sum:5 count:4 buckets:[1 2 1]}}'))).toBe(0.5);
    expect(histogramFraction(0, 8, h('{{schema:0 sum:5 count:4 buckets:[1 2 1]}}'))).toBe(1);
    expect(histogramFraction(-2, -1, h('{{schema:0 sum:-5 count:4 n_buckets:[1 2 1]}}'))).toBe(0.5);
    // Half of bucket (1,2] lies below √2 on the logarithmic scale.
    expect(histogramFraction(-Infinity, Math.SQRT2, h('{{schema:0 sum:5 count:2 buckets:[2] offset:1}}'))).toBeCloseTo(0.5, 14);
    expect(histogramFraction(0, 0.00025, h('{{schema:0 sum:0 count:2 z_bucket:2 z_bucket_w:0.001 buckets:[0]}}'))).toBe(0.25);
    expect(histogramFraction(3, 6, h('{{schema:-53 sum:10 count:4 custom_values:[2 4 8] buckets:[1 2 0 1]}}'))).toBe(0.25);
  });

  it('counts the observations of an infinite custom bucket as lying at its infinite end', () => {
    // Buckets [-Inf,-3]:10, (-3,-2]:2, (-2,-1]:3, (-1,+Inf]:85.
    const nhcb = h('{{schema:-53 sum:0 count:100 custom_values:[-3 -2 -1] buckets:[10 2 3 85]}}');
    expect(histogramFraction(-4, -2, nhcb)).toBeCloseTo(0.02, 15);
    expect(histogramFraction(-Infinity, -1.5, nhcb)).toBeCloseTo(0.135, 15);
    expect(histogramFraction(-2, 5, nhcb)).toBeCloseTo(0.03, 15);
  });

  it('has the edge cases of Prometheus', () => {
    const one = h('{{schema:0 sum:1 count:1 buckets:[1]}}');
    expect(histogramFraction(2, 1, one)).toBe(0);
    expect(histogramFraction(NaN, 1, one)).toBeNaN();
    expect(histogramFraction(-Infinity, Infinity, h('{{}}'))).toBeNaN();
  });

  it('leaves NaN observations out of every range, but not out of the total', () => {
    let reported = 0;
    const nans = h('{{schema:0 count:15 sum:NaN buckets:[12]}}');
    expect(histogramFraction(-Infinity, Infinity, nans, () => reported++)).toBe(0.8);
    expect(histogramFraction(-Infinity, Math.SQRT1_2, nans, () => reported++)).toBeCloseTo(0.4, 14);
    expect(reported).toBe(2);
  });
});

describe('histogramStdvar and histogramStddev', () => {
  it('take the geometric mean of exponential bounds as bucket midpoints', () => {
    // {{schema:0 count:2 sum:3 buckets:[1 1] offset:1}}: midpoints √2 and √8, mean 1.5.
    const hist = h('{{schema:0 count:2 sum:3 buckets:[1 1] offset:1}}');
    const want = ((Math.SQRT2 - 1.5) ** 2 + (Math.sqrt(8) - 1.5) ** 2) / 2;
    expect(histogramStdvar(hist)).toBeCloseTo(want, 14);
    expect(histogramStddev(hist)).toBeCloseTo(Math.sqrt(want), 14);
    expect(histogramStddev(h('{{schema:2 count:4 sum:10 buckets:[1 0 0 0 1 0 0 1 1]}}'))).toBeCloseTo(1.0787993180043811, 12);
  });

  it('take 0 in the zero bucket, mirrored means below it, arithmetic means of custom buckets', () => {
    const hist = h('{{schema:0 count:3 sum:0 z_bucket:1 z_bucket_w:0.5 n_buckets:[1] n_offset:1 buckets:[1] offset:1}}');
    expect(histogramStdvar(hist)).toBeCloseTo((2 * 2) / 3, 14);
    expect(histogramStdvar(h('{{schema:-53 count:2 sum:8 custom_values:[2 4 8] buckets:[1 1] offset:1}}'))).toBe(((3 - 4) ** 2 + (6 - 4) ** 2) / 2);
    expect(histogramStdvar(h('{{count:0 sum:0}}'))).toBeNaN();
  });
});

describe('histogramAvg', () => {
  it('is sum divided by count', () => {
    expect(histogramAvg(h('{{schema:0 sum:5 count:4 buckets:[1 2 1]}}'))).toBe(1.25);
  });
});
