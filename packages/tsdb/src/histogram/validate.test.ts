// Histogram validation against Prometheus' model/histogram TestHistogramValidation (Prometheus 3.x):
// the same cases, accepted or refused with the same messages.
import { describe, expect, it } from 'vitest';
import { FloatHistogram, type FloatHistogramFields } from './float.js';
import { CUSTOM_BUCKETS_SCHEMA, type Histogram, newHistogram } from './types.js';
import { InvalidHistogramError, validateFloatHistogram, validateHistogram } from './validate.js';


/** A float histogram: empty, schema 0, unless `f` says otherwise. */
function fhist(f: Partial<FloatHistogramFields> = {}): FloatHistogram {
  return new FloatHistogram({ schema: 0, count: 0, sum: 0, ...f });
}

/** What `validate` throws: an InvalidHistogramError, its message. */
function refusal(validate: () => void): string {
  try {
    validate();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidHistogramError);
    return (e as Error).message;
  }
  throw new Error('expected the histogram to be refused');
}

const SPANS_MISMATCH = 'histogram spans specify different number of buckets than provided';
const NEGATIVE_OFFSET = 'histogram has a span whose offset is negative';
const NEGATIVE_COUNT = 'histogram has a bucket whose observation count is negative';
const COUNT_MISMATCH = "histogram's observation count should equal the number of observations found in the buckets (in absence of NaN)";
const COUNT_TOO_SMALL = "histogram's observation count should be at least the number of observations found in the buckets";
const INVALID_SCHEMA = 'histogram has an invalid schema, which must be between -4 and 8 for exponential buckets, or -53 for custom buckets, got schema';

describe('validateHistogram', () => {
  /** Prometheus' "valid histogram": buckets on both sides (delta-encoded), a zero bucket, spans with gaps. */
  const valid = (): Histogram =>
    newHistogram({
      count: 12,
      zeroCount: 2,
      zeroThreshold: 0.001,
      sum: 19.4,
      schema: 1,
      positiveSpans: [
        { offset: 0, length: 2 },
        { offset: 1, length: 2 },
      ],
      positiveBuckets: [1, 1, -1, 0],
      negativeSpans: [
        { offset: 0, length: 2 },
        { offset: 1, length: 2 },
      ],
      negativeBuckets: [1, 1, -1, 0],
    });

  it('refuses counts a JavaScript number does not hold exactly: beyond 2^53, or not whole', () => {
    expect(refusal(() => validateHistogram(newHistogram({ count: 2 ** 60, positiveSpans: [{ offset: 0, length: 1 }], positiveBuckets: [2 ** 60] })))).toBe(
      `integer histogram counts must be whole numbers of at most 2^53 in magnitude, got ${2 ** 60}`,
    );
    expect(refusal(() => validateHistogram(newHistogram({ count: 1, positiveSpans: [{ offset: 0, length: 2 }], positiveBuckets: [0.5, 0] })))).toMatch(/got 0.5$/);
  });

  it('accepts a well-formed histogram with positive, negative and zero buckets', () => {
    expect(() => validateHistogram(valid())).not.toThrow();
  });

  it('accepts an empty histogram with count 0', () => {
    expect(() => validateHistogram(newHistogram())).not.toThrow();
  });

  it('accepts a histogram whose only observations are in the zero bucket', () => {
    expect(() => validateHistogram(newHistogram({ zeroCount: 3, count: 3, zeroThreshold: 1e-128 }))).not.toThrow();
  });

  it('accepts a negative offset in the first span and empty spans', () => {
    // Positive counts 1 and 2 (deltas 1, 1), a negative 1.
    const h = newHistogram({
      count: 4,
      positiveSpans: [
        { offset: -5, length: 1 },
        { offset: 0, length: 0 },
        { offset: 2, length: 1 },
      ],
      positiveBuckets: [1, 1],
      negativeSpans: [{ offset: -1, length: 1 }],
      negativeBuckets: [1],
    });
    expect(() => validateHistogram(h)).not.toThrow();
  });

  it('accepts every exponential schema from -4 to 8', () => {
    for (let schema = -4; schema <= 8; schema++) expect(() => validateHistogram(newHistogram({ schema }))).not.toThrow();
  });

  it('accepts a custom-buckets histogram with as many bounds as its spans need, or more', () => {
    const h = (customValues: number[]): Histogram =>
      newHistogram({
        schema: CUSTOM_BUCKETS_SCHEMA,
        count: 5,
        sum: 19.4,
        positiveSpans: [
          { offset: 0, length: 2 },
          { offset: 1, length: 2 },
        ],
        positiveBuckets: [1, 1, -1, 0],
        customValues,
      });
    expect(() => validateHistogram(h([1, 2, 3, 4]))).not.toThrow();
    expect(() => validateHistogram(h([1, 2, 3, 4, 5, 6, 7, 8]))).not.toThrow();
  });

  it('accepts a custom-buckets histogram whose only bucket is +Inf, without bounds', () => {
    expect(() => validateHistogram(newHistogram({ schema: CUSTOM_BUCKETS_SCHEMA, count: 2, positiveSpans: [{ offset: 0, length: 1 }], positiveBuckets: [2] }))).not.toThrow();
  });

  it('accepts custom bounds that start at -Inf, as Prometheus does since -Inf is a valid first bound', () => {
    expect(() => validateHistogram(newHistogram({ schema: CUSTOM_BUCKETS_SCHEMA, customValues: [Number.NEGATIVE_INFINITY, 1] }))).not.toThrow();
  });

  describe('spans and buckets', () => {
    for (const side of ['positive', 'negative'] as const) {
      const spans = `${side}Spans` as const;
      const buckets = `${side}Buckets` as const;
      it(`refuses ${side} spans that need more or fewer buckets than given, naming the side`, () => {
        expect(refusal(() => validateHistogram(newHistogram({ [spans]: [{ offset: 0, length: 1 }] })))).toBe(`${side} side: spans need 1 buckets, have 0 buckets: ${SPANS_MISMATCH}`);
        expect(refusal(() => validateHistogram(newHistogram({ count: 4, [spans]: [{ offset: 0, length: 1 }], [buckets]: [1, 2] })))).toBe(`${side} side: spans need 1 buckets, have 2 buckets: ${SPANS_MISMATCH}`);
      });
    }

    it('refuses buckets without any span', () => {
      expect(() => validateHistogram(newHistogram({ count: 1, positiveBuckets: [1] }))).toThrow(InvalidHistogramError);
      expect(() => validateHistogram(newHistogram({ count: 1, negativeBuckets: [1] }))).toThrow(InvalidHistogramError);
    });

    it('refuses a negative offset in a span other than the first, naming the span', () => {
      const spans = [
        { offset: -1, length: 1 },
        { offset: -1, length: 1 },
      ];
      expect(refusal(() => validateHistogram(newHistogram({ count: 3, positiveSpans: spans, positiveBuckets: [1, 0] })))).toBe(
        `positive side: span number 2 with offset -1: ${NEGATIVE_OFFSET}`,
      );
      expect(refusal(() => validateHistogram(newHistogram({ count: 3, negativeSpans: spans, negativeBuckets: [1, 0] })))).toBe(
        `negative side: span number 2 with offset -1: ${NEGATIVE_OFFSET}`,
      );
    });

    it('names the third span when it is the one with a negative offset', () => {
      const spans = [
        { offset: 0, length: 1 },
        { offset: 1, length: 1 },
        { offset: -3, length: 1 },
      ];
      expect(refusal(() => validateHistogram(newHistogram({ count: 3, positiveSpans: spans, positiveBuckets: [1, 0, 0] })))).toBe(
        `positive side: span number 3 with offset -3: ${NEGATIVE_OFFSET}`,
      );
    });
  });

  describe('bucket counts', () => {
    it('refuses a first bucket with a negative count', () => {
      expect(refusal(() => validateHistogram(newHistogram({ positiveSpans: [{ offset: -1, length: 1 }], positiveBuckets: [-1] })))).toBe(
        `positive side: bucket number 1 has observation count of -1: ${NEGATIVE_COUNT}`,
      );
      expect(refusal(() => validateHistogram(newHistogram({ negativeSpans: [{ offset: -1, length: 1 }], negativeBuckets: [-1] })))).toBe(
        `negative side: bucket number 1 has observation count of -1: ${NEGATIVE_COUNT}`,
      );
    });

    it('refuses deltas that take a later bucket below zero, with the absolute count in the message', () => {
      expect(refusal(() => validateHistogram(newHistogram({ count: 1, positiveSpans: [{ offset: 0, length: 2 }], positiveBuckets: [2, -3] })))).toBe(
        `positive side: bucket number 2 has observation count of -1: ${NEGATIVE_COUNT}`,
      );
      expect(refusal(() => validateHistogram(newHistogram({ count: 1, negativeSpans: [{ offset: 0, length: 2 }], negativeBuckets: [2, -3] })))).toBe(
        `negative side: bucket number 2 has observation count of -1: ${NEGATIVE_COUNT}`,
      );
    });

    it('keeps deltas that go down but not below zero', () => {
      // Absolute counts 5, 0, 3: 8 observations.
      expect(() => validateHistogram(newHistogram({ count: 8, positiveSpans: [{ offset: 0, length: 3 }], positiveBuckets: [5, -5, 3] }))).not.toThrow();
    });

    it('checks the negative side before the positive side', () => {
      const h = newHistogram({
        positiveSpans: [{ offset: 0, length: 1 }],
        positiveBuckets: [-2],
        negativeSpans: [{ offset: 0, length: 1 }],
        negativeBuckets: [-1],
      });
      expect(refusal(() => validateHistogram(h))).toMatch(/^negative side: bucket number 1 has observation count of -1/);
    });
  });

  describe('count', () => {
    it('refuses a count above the observations in the buckets and the zero bucket', () => {
      const h = newHistogram({ zeroCount: 2, count: 4, sum: 333, positiveSpans: [{ offset: 0, length: 1 }], positiveBuckets: [1] });
      expect(refusal(() => validateHistogram(h))).toBe(`3 observations found in buckets, but the Count field is 4: ${COUNT_MISMATCH}`);
    });

    it('refuses a count below the observations in the buckets', () => {
      const h = newHistogram({ negativeSpans: [{ offset: -1, length: 1 }], positiveSpans: [{ offset: -1, length: 1 }], negativeBuckets: [1], positiveBuckets: [1] });
      expect(refusal(() => validateHistogram(h))).toBe(`2 observations found in buckets, but the Count field is 0: ${COUNT_MISMATCH}`);
    });

    it('refuses a count that leaves out the zero bucket', () => {
      const h = newHistogram({ count: 2, zeroCount: 1, negativeSpans: [{ offset: -1, length: 1 }], positiveSpans: [{ offset: -1, length: 1 }], negativeBuckets: [1], positiveBuckets: [1] });
      expect(refusal(() => validateHistogram(h))).toBe(`3 observations found in buckets, but the Count field is 2: ${COUNT_MISMATCH}`);
    });

    it('counts absolute bucket counts, not the deltas', () => {
      // Deltas [3, -1, 2] are counts 3, 2, 4: 9 observations, though the deltas sum to 4.
      const h = (count: number): Histogram => newHistogram({ count, positiveSpans: [{ offset: 0, length: 3 }], positiveBuckets: [3, -1, 2] });
      expect(() => validateHistogram(h(9))).not.toThrow();
      expect(refusal(() => validateHistogram(h(4)))).toBe(`9 observations found in buckets, but the Count field is 4: ${COUNT_MISMATCH}`);
    });

    it('accepts a count above the buckets when the sum is NaN (NaN observations are in no bucket)', () => {
      expect(() => validateHistogram(newHistogram({ zeroCount: 2, count: 4, sum: Number.NaN, positiveSpans: [{ offset: 0, length: 1 }], positiveBuckets: [1] }))).not.toThrow();
    });

    it('accepts a count equal to the buckets when the sum is NaN', () => {
      expect(() => validateHistogram(newHistogram({ zeroCount: 2, count: 3, sum: Number.NaN, positiveSpans: [{ offset: 0, length: 1 }], positiveBuckets: [1] }))).not.toThrow();
    });

    it('refuses a count below the buckets even when the sum is NaN', () => {
      const h = newHistogram({ zeroCount: 2, count: 2, sum: Number.NaN, positiveSpans: [{ offset: 0, length: 1 }], positiveBuckets: [1] });
      expect(refusal(() => validateHistogram(h))).toBe(`3 observations found in buckets, but the Count field is 2: ${COUNT_TOO_SMALL}`);
    });

    it('checks a custom-buckets histogram\'s count against its buckets too', () => {
      const h = newHistogram({ schema: CUSTOM_BUCKETS_SCHEMA, count: 6, positiveSpans: [{ offset: 0, length: 2 }], positiveBuckets: [1, 1], customValues: [1] });
      expect(refusal(() => validateHistogram(h))).toBe(`3 observations found in buckets, but the Count field is 6: ${COUNT_MISMATCH}`);
    });
  });

  describe('schema', () => {
    it('refuses a schema above 8', () => {
      expect(refusal(() => validateHistogram(newHistogram({ schema: 9 })))).toBe(`${INVALID_SCHEMA} 9`);
    });

    it('refuses a schema below -4 other than -53', () => {
      expect(refusal(() => validateHistogram(newHistogram({ schema: -5 })))).toBe(`${INVALID_SCHEMA} -5`);
      expect(() => validateHistogram(newHistogram({ schema: -52 }))).toThrow(InvalidHistogramError);
      expect(() => validateHistogram(newHistogram({ schema: -54 }))).toThrow(InvalidHistogramError);
    });

    it('refuses a schema that is not an integer', () => {
      expect(refusal(() => validateHistogram(newHistogram({ schema: 1.5 })))).toBe(`${INVALID_SCHEMA} 1.5`);
      expect(() => validateHistogram(newHistogram({ schema: Number.NaN }))).toThrow(InvalidHistogramError);
    });

    it('refuses an exponential schema with custom bounds', () => {
      const h = newHistogram({
        count: 5,
        sum: 19.4,
        positiveSpans: [
          { offset: 0, length: 2 },
          { offset: 1, length: 2 },
        ],
        positiveBuckets: [1, 1, -1, 0],
        customValues: [1, 2, 3, 4],
      });
      expect(refusal(() => validateHistogram(h))).toBe('histogram with exponential schema must not have custom bounds');
    });
  });

  describe('custom buckets', () => {
    /** Prometheus' "valid custom buckets histogram", with `f` changed. */
    const nhcb = (f: Partial<Histogram>): Histogram =>
      newHistogram({
        schema: CUSTOM_BUCKETS_SCHEMA,
        count: 5,
        sum: 19.4,
        positiveSpans: [
          { offset: 0, length: 2 },
          { offset: 1, length: 2 },
        ],
        positiveBuckets: [1, 1, -1, 0],
        customValues: [1, 2, 3, 4],
        ...f,
      });

    it('refuses bounds that are not strictly ascending', () => {
      expect(() => validateHistogram(nhcb({ customValues: [1, 3, 2, 4] }))).toThrow(InvalidHistogramError);
      expect(() => validateHistogram(nhcb({ customValues: [1, 2, 2, 4] }))).toThrow(InvalidHistogramError);
    });

    it("names the offending bounds as Go's %f writes them, in Prometheus' words", () => {
      expect(refusal(() => validateHistogram(newHistogram({ schema: CUSTOM_BUCKETS_SCHEMA, customValues: [0, 0] })))).toBe(
        'custom buckets: previous bound is 0.000000 and current is 0.000000: histogram custom bounds must be in strictly increasing order',
      );
      expect(refusal(() => validateHistogram(nhcb({ customValues: [1, 3, 2.5, 4] })))).toBe(
        'custom buckets: previous bound is 3.000000 and current is 2.500000: histogram custom bounds must be in strictly increasing order',
      );
    });

    it('refuses a NaN bound', () => {
      expect(() => validateHistogram(newHistogram({ schema: CUSTOM_BUCKETS_SCHEMA, customValues: [1, Number.NaN, 3] }))).toThrow(InvalidHistogramError);
      expect(() => validateHistogram(newHistogram({ schema: CUSTOM_BUCKETS_SCHEMA, customValues: [Number.NaN] }))).toThrow(InvalidHistogramError);
    });

    it('says a NaN bound is NaN, as Prometheus does', () => {
      expect(refusal(() => validateHistogram(newHistogram({ schema: CUSTOM_BUCKETS_SCHEMA, customValues: [1, Number.NaN, 3] })))).toBe(
        'custom buckets: histogram custom bounds must not be NaN',
      );
    });

    it('refuses an explicit +Inf bound', () => {
      expect(refusal(() => validateHistogram(newHistogram({ schema: CUSTOM_BUCKETS_SCHEMA, customValues: [1, Number.POSITIVE_INFINITY] })))).toBe(
        'custom buckets: last +Inf bound must not be explicitly defined: histogram custom bounds must be finite',
      );
    });

    it('refuses a zero count', () => {
      expect(refusal(() => validateHistogram(nhcb({ zeroCount: 1, count: 6 })))).toBe('custom buckets: must have zero count of 0');
    });

    it('refuses a zero threshold', () => {
      expect(refusal(() => validateHistogram(nhcb({ zeroThreshold: 0.001 })))).toBe('custom buckets: must have zero threshold of 0');
    });

    it('refuses negative spans', () => {
      expect(refusal(() => validateHistogram(nhcb({ negativeSpans: [{ offset: 0, length: 0 }] })))).toBe('custom buckets: must not have negative spans');
    });

    it('refuses negative buckets', () => {
      expect(refusal(() => validateHistogram(nhcb({ negativeBuckets: [0] })))).toBe('custom buckets: must not have negative buckets');
    });

    it('refuses a negative offset in the first span, which exponential schemas allow', () => {
      const spans = [
        { offset: -1, length: 2 },
        { offset: 1, length: 2 },
      ];
      expect(refusal(() => validateHistogram(nhcb({ positiveSpans: spans })))).toBe(`custom buckets: span number 1 with offset -1: ${NEGATIVE_OFFSET}`);
    });

    it('refuses a negative offset in a later span', () => {
      const spans = [
        { offset: 0, length: 2 },
        { offset: -1, length: 2 },
      ];
      expect(refusal(() => validateHistogram(nhcb({ positiveSpans: spans })))).toBe(`custom buckets: span number 2 with offset -1: ${NEGATIVE_OFFSET}`);
    });

    it('refuses spans that need a different number of buckets than given', () => {
      expect(refusal(() => validateHistogram(nhcb({ positiveBuckets: [1, 1, -1], count: 4 })))).toBe(`custom buckets: spans need 4 buckets, have 3 buckets: ${SPANS_MISMATCH}`);
    });

    it('refuses too few bounds for the spans, offsets included', () => {
      expect(refusal(() => validateHistogram(nhcb({ customValues: [1, 2, 3] })))).toBe(
        'custom buckets: only 3 custom bounds defined which is insufficient to cover total span length of 5: histogram custom bounds are too few',
      );
      // One bucket at index 2 needs two bounds; at index 3, three.
      expect(() => validateHistogram(newHistogram({ schema: CUSTOM_BUCKETS_SCHEMA, count: 1, positiveSpans: [{ offset: 2, length: 1 }], positiveBuckets: [1], customValues: [1, 2] }))).not.toThrow();
      expect(refusal(() => validateHistogram(newHistogram({ schema: CUSTOM_BUCKETS_SCHEMA, count: 1, positiveSpans: [{ offset: 3, length: 1 }], positiveBuckets: [1], customValues: [1, 2] })))).toBe(
        'custom buckets: only 2 custom bounds defined which is insufficient to cover total span length of 4: histogram custom bounds are too few',
      );
    });

    it('checks the bounds before the zero bucket and the negative side', () => {
      // Prometheus' "rejects an exponential histogram with custom buckets schema".
      const h = newHistogram({
        count: 12,
        zeroCount: 2,
        zeroThreshold: 0.001,
        sum: 19.4,
        schema: CUSTOM_BUCKETS_SCHEMA,
        positiveSpans: [
          { offset: 0, length: 2 },
          { offset: 1, length: 2 },
        ],
        positiveBuckets: [1, 1, -1, 0],
        negativeSpans: [
          { offset: 0, length: 2 },
          { offset: 1, length: 2 },
        ],
        negativeBuckets: [1, 1, -1, 0],
      });
      expect(refusal(() => validateHistogram(h))).toBe(
        'custom buckets: only 0 custom bounds defined which is insufficient to cover total span length of 5: histogram custom bounds are too few',
      );
      expect(refusal(() => validateHistogram({ ...h, customValues: [1, 2, 3, 4] }))).toBe('custom buckets: must have zero count of 0');
    });

    it('refuses negative deltas that take a custom bucket below zero', () => {
      expect(refusal(() => validateHistogram(nhcb({ positiveBuckets: [1, 1, -3, 0] })))).toBe(`positive side: bucket number 3 has observation count of -1: ${NEGATIVE_COUNT}`);
    });
  });
});

describe('validateFloatHistogram', () => {
  it('accepts a well-formed histogram with fractional counts on both sides and in the zero bucket', () => {
    const h = fhist({
      count: 12.5,
      zeroCount: 2.5,
      zeroThreshold: 0.001,
      sum: 19.4,
      schema: 1,
      positiveSpans: [
        { offset: 0, length: 2 },
        { offset: 1, length: 2 },
      ],
      positiveBuckets: [1, 2, 1.5, 0],
      negativeSpans: [
        { offset: -3, length: 2 },
        { offset: 1, length: 2 },
      ],
      negativeBuckets: [1, 2, 1.5, 0],
    });
    expect(() => validateFloatHistogram(h)).not.toThrow();
  });

  it('accepts an empty histogram with count 0', () => {
    expect(() => validateFloatHistogram(fhist())).not.toThrow();
  });

  it('accepts a custom-buckets histogram', () => {
    const h = fhist({ schema: CUSTOM_BUCKETS_SCHEMA, count: 3.5, sum: 2, positiveSpans: [{ offset: 0, length: 3 }], positiveBuckets: [1, 0.5, 2], customValues: [0.1, 1] });
    expect(() => validateFloatHistogram(h)).not.toThrow();
  });

  it('takes bucket counts as absolute: a count below the previous one is no negative delta', () => {
    expect(() => validateFloatHistogram(fhist({ count: 3, positiveSpans: [{ offset: 0, length: 2 }], positiveBuckets: [2, 1] }))).not.toThrow();
  });

  it('does not check the count against the buckets', () => {
    const spans = [{ offset: 0, length: 2 }];
    expect(() => validateFloatHistogram(fhist({ count: 100, sum: 1, zeroCount: 1, positiveSpans: spans, positiveBuckets: [1, 2] }))).not.toThrow();
    expect(() => validateFloatHistogram(fhist({ count: 0, sum: 1, zeroCount: 1, positiveSpans: spans, positiveBuckets: [1, 2] }))).not.toThrow();
    // What rounding leaves: 0.1 + 0.2 is not 0.3.
    expect(() => validateFloatHistogram(fhist({ count: 0.3, positiveSpans: spans, positiveBuckets: [0.1, 0.2] }))).not.toThrow();
  });

  it('refuses a negative bucket count, naming the side and the count', () => {
    expect(refusal(() => validateFloatHistogram(fhist({ positiveSpans: [{ offset: 0, length: 2 }], positiveBuckets: [1, -0.5] })))).toBe(
      `positive side: bucket number 2 has observation count of -0.5: ${NEGATIVE_COUNT}`,
    );
    expect(refusal(() => validateFloatHistogram(fhist({ negativeSpans: [{ offset: -1, length: 1 }], negativeBuckets: [-1] })))).toBe(
      `negative side: bucket number 1 has observation count of -1: ${NEGATIVE_COUNT}`,
    );
  });

  it('refuses spans that need more or fewer buckets than given, naming the side', () => {
    expect(refusal(() => validateFloatHistogram(fhist({ positiveSpans: [{ offset: 0, length: 2 }], positiveBuckets: [1] })))).toBe(
      `positive side: spans need 2 buckets, have 1 buckets: ${SPANS_MISMATCH}`,
    );
    expect(refusal(() => validateFloatHistogram(fhist({ negativeSpans: [{ offset: 0, length: 1 }], negativeBuckets: [1, 1] })))).toBe(
      `negative side: spans need 1 buckets, have 2 buckets: ${SPANS_MISMATCH}`,
    );
  });

  it('refuses a negative offset in a span other than the first', () => {
    const spans = [
      { offset: 0, length: 1 },
      { offset: -2, length: 1 },
    ];
    expect(refusal(() => validateFloatHistogram(fhist({ negativeSpans: spans, negativeBuckets: [1, 1] })))).toBe(`negative side: span number 2 with offset -2: ${NEGATIVE_OFFSET}`);
  });

  it('refuses an invalid schema', () => {
    expect(refusal(() => validateFloatHistogram(fhist({ schema: 9 })))).toBe(`${INVALID_SCHEMA} 9`);
    expect(refusal(() => validateFloatHistogram(fhist({ schema: -5 })))).toBe(`${INVALID_SCHEMA} -5`);
    expect(refusal(() => validateFloatHistogram(fhist({ schema: 1.5 })))).toBe(`${INVALID_SCHEMA} 1.5`);
  });

  it('refuses an exponential schema with custom bounds', () => {
    expect(refusal(() => validateFloatHistogram(fhist({ customValues: [1, 2] })))).toBe('histogram with exponential schema must not have custom bounds');
  });

  describe('custom buckets', () => {
    const nhcb = (f: Partial<FloatHistogramFields>): FloatHistogram =>
      fhist({ schema: CUSTOM_BUCKETS_SCHEMA, count: 3, sum: 1, positiveSpans: [{ offset: 0, length: 3 }], positiveBuckets: [1, 1, 1], customValues: [1, 2], ...f });

    it('refuses non-ascending bounds', () => {
      expect(() => validateFloatHistogram(nhcb({ customValues: [2, 1] }))).toThrow(InvalidHistogramError);
    });

    it('refuses an explicit +Inf bound', () => {
      expect(refusal(() => validateFloatHistogram(nhcb({ customValues: [1, 2, Number.POSITIVE_INFINITY] })))).toBe(
        'custom buckets: last +Inf bound must not be explicitly defined: histogram custom bounds must be finite',
      );
    });

    it('refuses a zero count or a zero threshold', () => {
      expect(refusal(() => validateFloatHistogram(nhcb({ zeroCount: 0.5 })))).toBe('custom buckets: must have zero count of 0');
      expect(refusal(() => validateFloatHistogram(nhcb({ zeroThreshold: 1e-128 })))).toBe('custom buckets: must have zero threshold of 0');
    });

    it('refuses negative spans or buckets', () => {
      expect(refusal(() => validateFloatHistogram(nhcb({ negativeSpans: [{ offset: 0, length: 1 }], negativeBuckets: [1] })))).toBe('custom buckets: must not have negative spans');
      expect(refusal(() => validateFloatHistogram(nhcb({ negativeBuckets: [1] })))).toBe('custom buckets: must not have negative buckets');
    });

    it('refuses a negative first-span offset', () => {
      expect(refusal(() => validateFloatHistogram(nhcb({ positiveSpans: [{ offset: -1, length: 3 }] })))).toBe(`custom buckets: span number 1 with offset -1: ${NEGATIVE_OFFSET}`);
    });

    it('refuses too few bounds for the spans', () => {
      expect(refusal(() => validateFloatHistogram(nhcb({ customValues: [1] })))).toBe(
        'custom buckets: only 1 custom bounds defined which is insufficient to cover total span length of 3: histogram custom bounds are too few',
      );
    });

    it('refuses a negative bucket count', () => {
      expect(refusal(() => validateFloatHistogram(nhcb({ positiveBuckets: [1, -1, 1] })))).toBe(`positive side: bucket number 2 has observation count of -1: ${NEGATIVE_COUNT}`);
    });
  });
});
