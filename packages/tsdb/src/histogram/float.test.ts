import { describe, expect, it } from 'vitest';
import { forEachBucket, forEachBucketDescending, type Bucket } from './buckets.js';
import { IncompatibleSchemaError } from './errors.js';
import { parseHistogramNotation as h } from './notation.js';
import { CounterResetHint } from './types.js';

function expectSame(actual: ReturnType<typeof h>, expected: string): void {
  const want = h(expected).compact(0);
  expect(actual.copy().compact(0).equals(want), `${actual.toString()} vs ${want.toString()}`).toBe(true);
}

describe('toString', () => {
  it("writes the populated buckets as Prometheus' String()", () => {
    expect(h('{{schema:0 count:3 sum:5 z_bucket:1 z_bucket_w:0.001 buckets:[1] n_buckets:[1]}}').toString()).toBe(
      '{count:3, sum:5, [-1,-0.5):1, [-0.001,0.001]:1, (0.5,1]:1}',
    );
    expect(h('{{schema:1 count:3 sum:1e+06 buckets:[1 0 2] offset:1}}').toString()).toBe(
      '{count:3, sum:1e+06, (1,1.414213562373095]:1, (2,2.82842712474619]:2}',
    );
    expect(h('{{schema:-53 count:3 sum:1 custom_values:[5 10] buckets:[1 1 1]}}').toString()).toBe(
      '{count:3, sum:1, [-Inf,5]:1, (5,10]:1, (10,+Inf]:1}',
    );
  });
});

describe('bucket walks', () => {
  const text = (b: Bucket): string =>
    `${b.lowerInclusive ? '[' : '('}${b.lower},${b.upper}${b.upperInclusive ? ']' : ')'}:${b.count}`;
  const hist = h('{{schema:0 count:4 sum:0 z_bucket:1 z_bucket_w:0.6 buckets:[1 1] n_buckets:[1]}}');

  it('walks all buckets ascending, cutting buckets at the zero threshold', () => {
    const seen: string[] = [];
    forEachBucket(hist, (b) => void seen.push(text(b)));
    expect(seen).toEqual(['[-1,-0.6):1', '[-0.6,0.6]:1', '(0.6,1]:1', '(1,2]:1']);
  });

  it('walks them descending, and stops when the visitor says so', () => {
    const seen: string[] = [];
    const done = forEachBucketDescending(hist, (b) => {
      seen.push(text(b));
      return seen.length < 3;
    });
    expect(done).toBe(false);
    expect(seen).toEqual(['(1,2]:1', '(0.6,1]:1', '[-0.6,0.6]:1']);
  });
});

describe('add and sub', () => {
  it('reduces to the lower schema', () => {
    const a = h('{{schema:-1 sum:4 count:1 buckets:[1] offset:1}}');
    a.add(h('{{schema:0 sum:4 count:4 buckets:[2 2] offset:1}}'));
    expectSame(a, '{{schema:-1 sum:8 count:5 buckets:[5] offset:1}}');
    const b = h('{{schema:0 sum:4 count:4 buckets:[2 2] offset:1}}');
    b.add(h('{{schema:-1 sum:4 count:1 buckets:[1] offset:1}}'));
    expectSame(b, '{{schema:-1 sum:8 count:5 buckets:[5] offset:1}}');
  });

  it('merges buckets into the wider zero bucket', () => {
    const a = h('{{schema:0 count:3 sum:0 z_bucket:1 z_bucket_w:0.001 buckets:[1 1] offset:-1}}');
    a.add(h('{{schema:0 count:2 sum:0 z_bucket:2 z_bucket_w:0.5}}'));
    expectSame(a, '{{schema:0 count:5 sum:0 z_bucket:4 z_bucket_w:0.5 buckets:[1]}}');
  });

  it('widens the zero bucket to the bound of a populated bucket it would cut', () => {
    const a = h('{{schema:0 count:3 sum:0 z_bucket:1 z_bucket_w:0.001 buckets:[1 1] offset:-1}}');
    a.add(h('{{schema:0 count:2 sum:0 z_bucket:2 z_bucket_w:0.7}}'));
    expectSame(a, '{{schema:0 count:5 sum:0 z_bucket:5 z_bucket_w:1}}');
    // The other histogram's buckets inside the zero bucket count as zero-bucket observations.
    const b = h('{{schema:0 count:2 sum:0 z_bucket:2 z_bucket_w:0.7}}');
    b.sub(h('{{schema:0 count:3 sum:0 z_bucket:1 z_bucket_w:0.001 buckets:[1 1 1] offset:-1 n_buckets:[4]}}'));
    expectSame(b, '{{schema:0 count:-1 sum:0 z_bucket:-5 z_bucket_w:1 buckets:[-1] offset:1}}');
  });

  it('adds and subtracts bucket by bucket, keeping buckets of both', () => {
    const a = h('{{schema:1 count:12 sum:18.4 z_bucket:2 z_bucket_w:0.001 buckets:[1 2 0 1 1] n_buckets:[1 2 0 1 1]}}');
    a.sub(h('{{schema:1 count:9 sum:18.4 z_bucket:1 z_bucket_w:0.001 buckets:[1 1 0 1 1] offset:1 n_buckets:[1 1 0 1 1]}}'));
    expectSame(a, '{{schema:1 count:3 sum:0 z_bucket:1 z_bucket_w:0.001 buckets:[1 1 -1 1 0 -1] n_buckets:[0 1]}}');
  });

  it('reconciles custom buckets with different bounds to the common bounds', () => {
    const sum = h('{{schema:-53 sum:1 count:1 custom_values:[10] buckets:[1]}}');
    expect(sum.add(h('{{schema:-53 sum:1 count:1 custom_values:[2 10] buckets:[1]}}'))).toEqual({
      counterResetCollision: false,
      nhcbBoundsReconciled: true,
    });
    expectSame(sum, '{{schema:-53 count:2 sum:2 custom_values:[10] buckets:[2]}}');
    const diff = h('{{schema:-53 sum:1 count:1 custom_values:[5] buckets:[1]}}');
    expect(diff.sub(h('{{schema:-53 sum:1 count:1 custom_values:[5 10] buckets:[1]}}')).nhcbBoundsReconciled).toBe(true);
    expect(diff.positiveBuckets).toEqual([]);
    expect(diff.customValues).toEqual([5]);
    const same = h('{{schema:-53 sum:1 count:2 custom_values:[5 10] buckets:[1 1]}}');
    expect(same.add(h('{{schema:-53 sum:15 count:2 custom_values:[5 10] buckets:[0 0 2]}}')).nhcbBoundsReconciled).toBe(false);
    expectSame(same, '{{schema:-53 sum:16 count:4 custom_values:[5 10] buckets:[1 1 2]}}');
  });

  it('refuses to mix exponential and custom buckets', () => {
    const a = h('{{sum:1 count:1 buckets:[1]}}');
    expect(() => a.add(h('{{schema:-53 sum:1 count:1 custom_values:[5] buckets:[1]}}'))).toThrow(IncompatibleSchemaError);
  });

  it('combines counter reset hints as Prometheus does', () => {
    const collide = h('{{counter_reset_hint:reset}}');
    expect(collide.add(h('{{counter_reset_hint:not_reset}}')).counterResetCollision).toBe(true);
    expect(collide.counterResetHint).toBe(CounterResetHint.Unknown);
    const gauge = h('{{}}');
    expect(gauge.add(h('{{counter_reset_hint:gauge}}')).counterResetCollision).toBe(false);
    expect(gauge.counterResetHint).toBe(CounterResetHint.Gauge);
    const unknown = h('{{counter_reset_hint:not_reset}}');
    unknown.sub(h('{{}}'));
    expect(unknown.counterResetHint).toBe(CounterResetHint.Unknown);
  });
});

describe('mul and div', () => {
  it('scales everything; a negative factor makes a gauge', () => {
    const a = h('{{count:4 sum:6 z_bucket:1 buckets:[1 2] n_buckets:[1]}}').mul(-2);
    expectSame(a, '{{count:-8 sum:-12 z_bucket:-2 buckets:[-2 -4] n_buckets:[-2] counter_reset_hint:gauge}}');
    expect(a.counterResetHint).toBe(CounterResetHint.Gauge);
    expectSame(h('{{count:4 sum:6 buckets:[1 2]}}').div(4), '{{count:1 sum:1.5 buckets:[0.25 0.5]}}');
  });

  it('division by zero gives Inf and NaN and drops the buckets', () => {
    const a = h('{{count:4 sum:0 z_bucket:1 buckets:[1 2] n_buckets:[1]}}').div(0);
    expect([a.count, a.sum, a.zeroCount]).toEqual([Infinity, NaN, Infinity]);
    expect([a.positiveBuckets, a.negativeBuckets, a.positiveSpans]).toEqual([[], [], []]);
    expect(h('{{count:4 sum:-1}}').div(-0).sum).toBe(Infinity);
  });
});

describe('compact', () => {
  it('drops empty buckets and keeps short runs of them inside a span', () => {
    const a = h('{{count:2 sum:0 buckets:[0 1 0 0 1 0] offset:-1}}');
    expect(a.copy().compact(0).positiveSpans).toEqual([
      { offset: 0, length: 1 },
      { offset: 2, length: 1 },
    ]);
    const wide = a.compact(2);
    expect(wide.positiveSpans).toEqual([{ offset: 0, length: 4 }]);
    expect(wide.positiveBuckets).toEqual([1, 0, 0, 1]);
  });
});

describe('equals', () => {
  it('compares layouts, not span splits, and numbers bit by bit', () => {
    const a = h('{{count:2 sum:NaN buckets:[1 1]}}');
    const b = h('{{count:2 sum:NaN}}');
    b.positiveSpans = [
      { offset: 0, length: 1 },
      { offset: 0, length: 0 },
      { offset: 0, length: 1 },
    ];
    b.positiveBuckets = [1, 1];
    expect(a.equals(b)).toBe(true);
    const stale = a.copy();
    stale.sum = new Float64Array(new BigUint64Array([0x7ff0000000000002n]).buffer)[0] as number;
    expect(a.equals(stale)).toBe(false);
    expect(a.equals(h('{{count:2 sum:NaN buckets:[1 1] offset:1}}'))).toBe(false);
    expect(h('{{sum:0}}').equals(h('{{sum:-0}}'))).toBe(false);
  });
});

describe('reduceResolution and copyToSchema', () => {
  it('merges buckets into the lower schema', () => {
    const a = h('{{schema:1 count:12 sum:1 buckets:[1 2 3 4] offset:1 n_buckets:[1 1] counter_reset_hint:gauge}}');
    const c = a.copyToSchema(0);
    expect([c.positiveSpans, c.positiveBuckets]).toEqual([[{ offset: 1, length: 2 }], [3, 7]]);
    expect([c.negativeSpans, c.negativeBuckets]).toEqual([[{ offset: 0, length: 2 }], [1, 1]]);
    expect(c.counterResetHint).toBe(CounterResetHint.Unknown);
    expect(a.schema).toBe(1);
    expect(a.reduceResolution(-1).positiveBuckets).toEqual([10]);
    expect(a.positiveSpans).toEqual([{ offset: 1, length: 1 }]);
    expect(() => a.reduceResolution(0)).toThrow(/cannot reduce resolution/);
  });
});

describe('detectReset', () => {
  const prev = h('{{count:4 sum:4 buckets:[1 2 1]}}');
  it('finds a decreased or missing populated bucket', () => {
    expect(h('{{count:4 sum:4 buckets:[1 2 1]}}').detectReset(prev)).toBe(false);
    expect(h('{{count:4 sum:4 buckets:[1 1 2]}}').detectReset(prev)).toBe(true);
    expect(h('{{count:5 sum:4 buckets:[1 2] offset:1 n_buckets:[2]}}').detectReset(prev)).toBe(true);
    expect(h('{{count:3 sum:4 buckets:[1 2 1]}}').detectReset(prev)).toBe(true);
  });

  it('follows the hint when it says reset or not', () => {
    expect(h('{{count:0 counter_reset_hint:not_reset}}').detectReset(prev)).toBe(false);
    expect(h('{{count:5 sum:4 buckets:[1 2 1] counter_reset_hint:reset}}').detectReset(prev)).toBe(true);
  });

  it('merges the previous histogram into a lower schema and a wider zero bucket', () => {
    const fine = h('{{schema:1 count:2 sum:1 buckets:[1 1] offset:1}}');
    expect(h('{{schema:0 count:2 sum:1 buckets:[2] offset:1}}').detectReset(fine)).toBe(false);
    expect(h('{{schema:0 count:2 sum:1 buckets:[1] offset:1}}').detectReset(fine)).toBe(true);
    expect(h('{{schema:2 count:2 sum:1 buckets:[2] offset:1}}').detectReset(fine)).toBe(true);
    const narrow = h('{{count:2 sum:1 z_bucket_w:0.001 z_bucket:1 buckets:[1] offset:-1}}');
    expect(h('{{count:2 sum:1 z_bucket_w:0.5 z_bucket:2}}').detectReset(narrow)).toBe(false);
    // 0.7 cuts the previous bucket (0.5,1] that is populated: only a reset explains that.
    expect(h('{{count:3 sum:1 z_bucket_w:0.7 z_bucket:3}}').detectReset(h('{{count:1 buckets:[1]}}'))).toBe(true);
  });

  it('compares custom buckets with different bounds on the common bounds', () => {
    const before = h('{{schema:-53 count:3 sum:1 custom_values:[5 10] buckets:[1 1 1]}}');
    expect(h('{{schema:-53 count:3 sum:1 custom_values:[10] buckets:[2 1]}}').detectReset(before)).toBe(false);
    expect(h('{{schema:-53 count:3 sum:1 custom_values:[10] buckets:[1 2]}}').detectReset(before)).toBe(true);
    expect(h('{{schema:-53 count:3 sum:1 custom_values:[5 10] buckets:[1 1 1]}}').detectReset(h('{{count:1}}'))).toBe(true);
  });
});
