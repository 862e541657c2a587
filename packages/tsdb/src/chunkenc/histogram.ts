/**
 * Histogram chunks (encoding 2): native histograms with integer counts, bit-exact with Prometheus'
 * tsdb/chunkenc/histogram.go.
 *
 *   chunk    := BE16 numSamples | header byte | bitstream           (header: histogram-meta.ts)
 *   sample 0 := layout | varbit_int t | varbit_uint count | varbit_uint zeroCount | 64 bits sum
 *               | varbit_int bucket … (positive, then negative)
 *   sample n := varbit_int dod(t) | varbit_int dod(count) | varbit_int dod(zeroCount) | xor(sum)
 *               | varbit_int dod(bucket) … (positive, then negative)
 *
 * Buckets are the stored, delta-encoded counts (the first of each sign absolute, then differences to
 * the previous bucket); "dod" is the change of a field's change since the previous sample, with a
 * change of 0 before sample 1. The sum is XOR-encoded as float values are (xor.ts), with its own
 * window. A stale sample (sum = StaleNaN) after sample 0 writes dods of 0 for the counts and no
 * buckets. varbit_int/varbit_uint: varbit.ts; layout: histogram-meta.ts; timestamps, stale samples,
 * recoding: histogram-chunk.ts.
 */
import { BitWriter } from './bstream.js';
import { Encoding, ValueType, type SampleIterator } from './chunk.js';
import { floatFromBits, floatHi, floatLo, STALE_NAN_HI, STALE_NAN_LO } from './floatbits.js';
import { type AbsoluteBuckets, withCounts } from './histogram-appendable.js';
import { sampleHint } from './histogram-meta.js';
import { countBuckets, HistogramAppenderBase, HistogramChunkBase, HistogramIteratorBase, readXOR } from './histogram-chunk.js';
import { checkEnd, readVarbitInt, readVarbitUint, writeVarbitInt, writeVarbitUint } from './varbit.js';
import { writeXORValue, type XORValueState } from './xor.js';
import { NO_WINDOW } from './xor-bulk.js';
import { absoluteCounts, histogramToFloat } from '../histogram/convert.js';
import type { FloatHistogram } from '../histogram/float.js';
import { type Histogram, newHistogram, type Span } from '../histogram/types.js';

/** A chunk of integer native histograms; `new HistogramChunk()` is an empty one. */
export class HistogramChunk extends HistogramChunkBase<HistogramAppender, HistogramIterator> {
  readonly encoding = Encoding.Histogram;

  /** A chunk over encoded bytes (BE16 sample count, header byte, bit stream); the bytes are not copied. */
  static fromBytes(bytes: Uint8Array): HistogramChunk {
    const c = new HistogramChunk();
    c.setData(bytes, 'histogram chunk');
    return c;
  }

  iterator(reuse?: SampleIterator): HistogramIterator {
    const it = reuse instanceof HistogramIterator ? reuse : new HistogramIterator();
    it.reset(this.bytes);
    return it;
  }

  protected newAppender(w: BitWriter, from: HistogramIterator | null): HistogramAppender {
    return new HistogramAppender(this, w, from);
  }
}

/** The count fields of the last sample, as encoder and decoder track them. */
interface CountState {
  count: number;
  zeroCount: number;
  countDelta: number;
  zeroCountDelta: number;
  /** Delta-encoded bucket counts as stored, and their change since the previous sample. */
  positive: number[];
  negative: number[];
  positiveDelta: number[];
  negativeDelta: number[];
  sum: XORValueState;
}

function emptyCounts(): CountState {
  return {
    count: 0,
    zeroCount: 0,
    countDelta: 0,
    zeroCountDelta: 0,
    positive: [],
    negative: [],
    positiveDelta: [],
    negativeDelta: [],
    sum: { valueHi: 0, valueLo: 0, leading: 0, trailing: 0 },
  };
}

/**
 * Appends integer histograms to a HistogramChunk: append() writes a sample that fits; appendable() and
 * appendableGauge() say whether one does, recode() widens the layout (see histogram-chunk.ts, and
 * histogram-cutter.ts for the whole procedure of Prometheus' head).
 */
export class HistogramAppender extends HistogramAppenderBase<Histogram> {
  protected readonly deltaBuckets = true;
  readonly #s: CountState;

  constructor(chunk: HistogramChunk, w: BitWriter, from: HistogramIterator | null) {
    super(chunk, w, from);
    this.#s = from === null ? emptyCounts() : from.counts();
    // Prometheus' encoder starts without a window; one continuing a chunk takes the decoder's.
    if (from === null) this.#s.sum.leading = NO_WINDOW;
  }

  // Both built field by field: an object spread is V8's generic clone, the dearest step of an append.
  protected absolute(h: Histogram): AbsoluteBuckets {
    return withCounts(h, h.count, h.zeroCount, h.sum, absoluteCounts(h.positiveBuckets), absoluteCounts(h.negativeBuckets));
  }

  protected last(): AbsoluteBuckets {
    const s = this.#s;
    return withCounts(this.layout, s.count, s.zeroCount, floatFromBits(s.sum.valueHi, s.sum.valueLo), absoluteCounts(s.positive), absoluteCounts(s.negative));
  }

  protected fieldsBound(buckets: number): number {
    return 9 * (3 + buckets) + 10;
  }

  protected writeFirst(h: Histogram, stale: boolean): void {
    const w = this.w;
    const s = this.#s;
    s.count = stale ? 0 : h.count;
    s.zeroCount = stale ? 0 : h.zeroCount;
    writeVarbitUint(w, s.count);
    writeVarbitUint(w, s.zeroCount);
    s.sum.valueHi = floatHi(h.sum);
    s.sum.valueLo = floatLo(h.sum);
    w.writeBits64(s.sum.valueHi, s.sum.valueLo, 64);
    s.positive = stale ? [] : h.positiveBuckets.slice();
    s.negative = stale ? [] : h.negativeBuckets.slice();
    s.positiveDelta = new Array<number>(s.positive.length).fill(0);
    s.negativeDelta = new Array<number>(s.negative.length).fill(0);
    for (const b of s.positive) writeVarbitInt(w, b);
    for (const b of s.negative) writeVarbitInt(w, b);
  }

  protected writeNext(h: Histogram, stale: boolean): void {
    const w = this.w;
    const s = this.#s;
    const count = stale ? 0 : h.count;
    const zeroCount = stale ? 0 : h.zeroCount;
    const countDelta = count - s.count;
    const zeroCountDelta = zeroCount - s.zeroCount;
    writeVarbitInt(w, stale ? 0 : countDelta - s.countDelta);
    writeVarbitInt(w, stale ? 0 : zeroCountDelta - s.zeroCountDelta);
    s.count = count;
    s.zeroCount = zeroCount;
    s.countDelta = countDelta;
    s.zeroCountDelta = zeroCountDelta;
    writeXORValue(w, s.sum, floatHi(h.sum), floatLo(h.sum));
    if (stale) return;
    writeBucketDods(w, h.positiveBuckets, s.positive, s.positiveDelta);
    writeBucketDods(w, h.negativeBuckets, s.negative, s.negativeDelta);
  }

  protected withBuckets(h: Histogram, positiveSpans: Span[], negativeSpans: Span[], positiveBuckets: number[], negativeBuckets: number[]): Histogram {
    return { ...h, positiveSpans, negativeSpans, positiveBuckets, negativeBuckets };
  }

  protected sampleAt(it: HistogramIteratorBase): Histogram {
    return (it as HistogramIterator).atHistogram();
  }

  protected emptyChunk(): HistogramChunk {
    return new HistogramChunk();
  }
}

function writeBucketDods(w: BitWriter, buckets: readonly number[], last: number[], lastDelta: number[]): void {
  for (let i = 0; i < buckets.length; i++) {
    const b = buckets[i] as number;
    const delta = b - (last[i] as number);
    writeVarbitInt(w, delta - (lastDelta[i] as number));
    lastDelta[i] = delta;
    last[i] = b;
  }
}

/** Iterates a histogram chunk; yields ValueType.Histogram. */
export class HistogramIterator extends HistogramIteratorBase {
  protected readonly what = 'histogram chunk';
  protected readonly valueType = ValueType.Histogram;
  #s: CountState = emptyCounts();

  override reset(bytes: Uint8Array): void {
    super.reset(bytes);
    this.#s = emptyCounts();
  }

  /** A copy of the decoder's state, for an appender continuing the chunk. */
  counts(): CountState {
    const s = this.#s;
    return {
      ...s,
      positive: s.positive.slice(),
      negative: s.negative.slice(),
      positiveDelta: s.positiveDelta.slice(),
      negativeDelta: s.negativeDelta.slice(),
      sum: { ...s.sum },
    };
  }

  protected readFirst(): void {
    const s = this.#s;
    s.count = readVarbitUint(this);
    s.zeroCount = readVarbitUint(this);
    checkEnd(this);
    s.sum.valueHi = this.readBits(32);
    s.sum.valueLo = this.readBits(32);
    s.positive = readBuckets(this, countBuckets(this.layout.positiveSpans));
    s.negative = readBuckets(this, countBuckets(this.layout.negativeSpans));
    s.positiveDelta = new Array<number>(s.positive.length).fill(0);
    s.negativeDelta = new Array<number>(s.negative.length).fill(0);
  }

  protected readNext(): void {
    const s = this.#s;
    s.countDelta += readVarbitInt(this);
    s.count += s.countDelta;
    s.zeroCountDelta += readVarbitInt(this);
    s.zeroCount += s.zeroCountDelta;
    readXOR(this, s.sum);
    if (this.isStale()) return;
    readBucketDods(this, s.positive, s.positiveDelta);
    readBucketDods(this, s.negative, s.negativeDelta);
  }

  /** Whether the current sample is a stale marker. */
  isStale(): boolean {
    const sum = this.#s.sum;
    return sum.valueHi >>> 0 === STALE_NAN_HI && sum.valueLo >>> 0 === STALE_NAN_LO;
  }

  /** The current sample; a new object (its customValues are shared with the chunk's other samples). */
  atHistogram(): Histogram {
    const s = this.#s;
    const sum = floatFromBits(s.sum.valueHi, s.sum.valueLo);
    if (this.isStale()) return staleHistogram(sum);
    const l = this.layout;
    return {
      counterResetHint: sampleHint(this.header, this.numRead),
      schema: l.schema,
      zeroThreshold: l.zeroThreshold,
      zeroCount: s.zeroCount,
      count: s.count,
      sum,
      positiveSpans: l.positiveSpans.map((x) => ({ ...x })),
      negativeSpans: l.negativeSpans.map((x) => ({ ...x })),
      positiveBuckets: s.positive.slice(),
      negativeBuckets: s.negative.slice(),
      customValues: l.customValues,
    };
  }

  /** The current sample with absolute float counts. */
  atFloatHistogram(): FloatHistogram {
    return histogramToFloat(this.atHistogram());
  }
}

function readBuckets(r: HistogramIterator, n: number): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = readVarbitInt(r);
  return out;
}

function readBucketDods(r: HistogramIterator, buckets: number[], deltas: number[]): void {
  for (let i = 0; i < buckets.length; i++) {
    deltas[i]! += readVarbitInt(r);
    buckets[i]! += deltas[i]!;
  }
}

/** What a stale sample decodes to: only its sum (Prometheus returns `&Histogram{Sum: sum}`). */
function staleHistogram(sum: number): Histogram {
  return newHistogram({ sum });
}
