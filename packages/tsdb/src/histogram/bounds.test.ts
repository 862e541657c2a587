import { describe, expect, it } from 'vitest';
import { bucketBound, exponentialBound, targetIndex } from './bounds.js';
import { CUSTOM_BUCKETS_SCHEMA } from './types.js';

describe('exponentialBound', () => {
  it('is a power of two in schema 0 and a power of four in schema -1', () => {
    for (let i = -10; i <= 10; i++) {
      expect(exponentialBound(i, 0)).toBe(2 ** i);
      expect(exponentialBound(i, -1)).toBe(4 ** i);
    }
  });

  it("takes Prometheus' table values, not correctly rounded roots", () => {
    // Prometheus' table holds 0.7071067811865475 for 2^-0.5, one ulp below Math.SQRT1_2.
    expect(exponentialBound(1, 1)).toBe(1.414213562373095);
    expect(exponentialBound(1, 1)).not.toBe(Math.SQRT2);
    expect(exponentialBound(-1, 1)).toBe(0.7071067811865475);
    // Schema 8, index 6 of the table (2^(6/256) / 2): 0.5081891574554764 scaled by 2.
    expect(exponentialBound(6, 8)).toBe(1.0163783149109528);
    // Lower schemas use every 2^(8-s)-th entry: schema 2, index 3 is entry 192.
    expect(exponentialBound(3, 2)).toBe(0.8408964152537144 * 2);
    expect(exponentialBound(-5, 2)).toBe(0.8408964152537144 / 2);
  });

  it('caps the last finite bucket at MaxFloat64 and makes the next one +Inf', () => {
    expect(exponentialBound(1024, 0)).toBe(Number.MAX_VALUE);
    expect(exponentialBound(1025, 0)).toBe(Infinity);
    expect(exponentialBound(512, -1)).toBe(Number.MAX_VALUE);
    expect(exponentialBound(1024 * 256, 8)).toBe(Number.MAX_VALUE);
    expect(exponentialBound(1024 * 256 - 1, 8)).toBe(0.9972960560854698 * 2 ** 1023 * 2);
  });

  it('reaches the subnormal range', () => {
    expect(exponentialBound(-1074, 0)).toBe(5e-324);
    expect(exponentialBound(-1075, 0)).toBe(0);
  });
});

describe('bucketBound', () => {
  it('uses the custom values with -Inf below and +Inf above', () => {
    const cv = [1, 2, 5];
    expect(bucketBound(-1, CUSTOM_BUCKETS_SCHEMA, cv)).toBe(-Infinity);
    expect(bucketBound(0, CUSTOM_BUCKETS_SCHEMA, cv)).toBe(1);
    expect(bucketBound(2, CUSTOM_BUCKETS_SCHEMA, cv)).toBe(5);
    expect(bucketBound(3, CUSTOM_BUCKETS_SCHEMA, cv)).toBe(Infinity);
    expect(() => bucketBound(4, CUSTOM_BUCKETS_SCHEMA, cv)).toThrow(RangeError);
  });
});

describe('targetIndex', () => {
  it('maps buckets to the bucket of a lower schema containing them', () => {
    // Schema 1 buckets 1,2 = (1,√2],(√2,2] fall into schema 0 bucket 1 = (1,2]; 3,4 into bucket 2.
    expect([1, 2, 3, 4, 0, -1].map((i) => targetIndex(i, 1, 0))).toEqual([1, 1, 2, 2, 0, 0]);
    expect(targetIndex(5, 3, 0)).toBe(1);
    expect(targetIndex(9, 3, 0)).toBe(2);
  });
});
