/**
 * Float histogram chunks (encoding 3): native histograms with float counts, bit-exact with Prometheus'
 * tsdb/chunkenc/float_histogram.go.
 *
 *   chunk    := BE16 numSamples | header byte | bitstream           (header: histogram-meta.ts)
 *   sample 0 := layout | varbit_int t | 64 bits count | 64 bits zeroCount | 64 bits sum
 *               | 64 bits bucket … (positive, then negative)
 *   sample n := varbit_int dod(t) | xor(count) | xor(zeroCount) | xor(sum) | xor(bucket) …
 *
 * Buckets are absolute counts. Every field after the timestamp is XOR-encoded as float values are
 * (xor.ts), each with its own window. A stale sample (sum = StaleNaN) writes counts of 0 and no
 * buckets. varbit_int: varbit.ts; layout: histogram-meta.ts; timestamps, stale samples, recoding:
 * histogram-chunk.ts.
 */
import type { BitWriter } from './bstream.js';
import { Encoding, ValueType, type SampleIterator } from './chunk.js';
import { floatFromBits, floatHi, floatLo, STALE_NAN_HI, STALE_NAN_LO } from './floatbits.js';
import { type AbsoluteBuckets, withCounts } from './histogram-appendable.js';
import { sampleHint } from './histogram-meta.js';
import { countBuckets, HistogramAppenderBase, HistogramChunkBase, HistogramIteratorBase, readXOR } from './histogram-chunk.js';
import { writeXORValue, type XORValueState } from './xor.js';
import { NO_WINDOW } from './xor-bulk.js';
import { checkEnd } from './varbit.js';
import { FloatHistogram } from '../histogram/float.js';
import type { Span } from '../histogram/types.js';

/** A chunk of float native histograms; `new FloatHistogramChunk()` is an empty one. */
export class FloatHistogramChunk extends HistogramChunkBase<FloatHistogramAppender, FloatHistogramIterator> {
  readonly encoding = Encoding.FloatHistogram;

  /** A chunk over encoded bytes (BE16 sample count, header byte, bit stream); the bytes are not copied. */
  static fromBytes(bytes: Uint8Array): FloatHistogramChunk {
    const c = new FloatHistogramChunk();
    c.setData(bytes, 'float histogram chunk');
    return c;
  }

  iterator(reuse?: SampleIterator): FloatHistogramIterator {
    const it = reuse instanceof FloatHistogramIterator ? reuse : new FloatHistogramIterator();
    it.reset(this.bytes);
    return it;
  }

  protected newAppender(w: BitWriter, from: FloatHistogramIterator | null): FloatHistogramAppender {
    return new FloatHistogramAppender(this, w, from);
  }
}

/** Every XOR-encoded field of the last sample. */
interface FieldState {
  count: XORValueState;
  zeroCount: XORValueState;
  sum: XORValueState;
  positive: XORValueState[];
  negative: XORValueState[];
}

const field = (leading = 0): XORValueState => ({ valueHi: 0, valueLo: 0, leading, trailing: 0 });

function emptyFields(leading = 0): FieldState {
  return { count: field(leading), zeroCount: field(leading), sum: field(leading), positive: [], negative: [] };
}

const valueOf = (s: XORValueState): number => floatFromBits(s.valueHi, s.valueLo);

/** Appends float histograms to a FloatHistogramChunk (see HistogramAppender). */
export class FloatHistogramAppender extends HistogramAppenderBase<FloatHistogram> {
  protected readonly deltaBuckets = false;
  #s: FieldState;

  constructor(chunk: FloatHistogramChunk, w: BitWriter, from: FloatHistogramIterator | null) {
    super(chunk, w, from);
    // Prometheus' encoder starts without windows; one continuing a chunk takes the decoder's.
    this.#s = from === null ? emptyFields(NO_WINDOW) : from.fields();
  }

  protected absolute(h: FloatHistogram): AbsoluteBuckets {
    return h;
  }

  protected last(): AbsoluteBuckets {
    const s = this.#s;
    return withCounts(this.layout, valueOf(s.count), valueOf(s.zeroCount), valueOf(s.sum), s.positive.map(valueOf), s.negative.map(valueOf));
  }

  protected fieldsBound(buckets: number): number {
    return 10 * (3 + buckets);
  }

  protected writeFirst(h: FloatHistogram, stale: boolean): void {
    const s = this.#s;
    writeRaw(this.w, s.count, stale ? 0 : h.count);
    writeRaw(this.w, s.zeroCount, stale ? 0 : h.zeroCount);
    writeRaw(this.w, s.sum, h.sum);
    s.positive = stale ? [] : h.positiveBuckets.map((v) => writeRaw(this.w, field(NO_WINDOW), v));
    s.negative = stale ? [] : h.negativeBuckets.map((v) => writeRaw(this.w, field(NO_WINDOW), v));
  }

  protected writeNext(h: FloatHistogram, stale: boolean): void {
    const s = this.#s;
    writeXOR(this.w, s.count, stale ? 0 : h.count);
    writeXOR(this.w, s.zeroCount, stale ? 0 : h.zeroCount);
    writeXOR(this.w, s.sum, h.sum);
    if (stale) return;
    h.positiveBuckets.forEach((v, i) => writeXOR(this.w, s.positive[i] as XORValueState, v));
    h.negativeBuckets.forEach((v, i) => writeXOR(this.w, s.negative[i] as XORValueState, v));
  }

  protected withBuckets(h: FloatHistogram, positiveSpans: Span[], negativeSpans: Span[], positiveBuckets: number[], negativeBuckets: number[]): FloatHistogram {
    return new FloatHistogram({ ...h, positiveSpans, negativeSpans, positiveBuckets, negativeBuckets });
  }

  protected sampleAt(it: HistogramIteratorBase): FloatHistogram {
    return (it as FloatHistogramIterator).atFloatHistogram();
  }

  protected emptyChunk(): FloatHistogramChunk {
    return new FloatHistogramChunk();
  }
}

/** Writes `v` as 64 raw bits and makes it the last value of `s`; returns `s`. */
function writeRaw(w: BitWriter, s: XORValueState, v: number): XORValueState {
  s.valueHi = floatHi(v);
  s.valueLo = floatLo(v);
  w.writeBits64(s.valueHi, s.valueLo, 64);
  return s;
}

function writeXOR(w: BitWriter, s: XORValueState, v: number): void {
  writeXORValue(w, s, floatHi(v), floatLo(v));
}

/** Iterates a float histogram chunk; yields ValueType.FloatHistogram. */
export class FloatHistogramIterator extends HistogramIteratorBase {
  protected readonly what = 'float histogram chunk';
  protected readonly valueType = ValueType.FloatHistogram;
  #s: FieldState = emptyFields();

  override reset(bytes: Uint8Array): void {
    super.reset(bytes);
    this.#s = emptyFields();
  }

  /** A copy of the decoder's state, for an appender continuing the chunk. */
  fields(): FieldState {
    const s = this.#s;
    const copy = (x: XORValueState): XORValueState => ({ ...x });
    return { count: copy(s.count), zeroCount: copy(s.zeroCount), sum: copy(s.sum), positive: s.positive.map(copy), negative: s.negative.map(copy) };
  }

  protected readFirst(): void {
    const s = this.#s;
    this.readRaw(s.count);
    this.readRaw(s.zeroCount);
    this.readRaw(s.sum);
    s.positive = this.readRawBuckets(countBuckets(this.layout.positiveSpans));
    s.negative = this.readRawBuckets(countBuckets(this.layout.negativeSpans));
  }

  private readRaw(s: XORValueState): XORValueState {
    checkEnd(this);
    s.valueHi = this.readBits(32);
    s.valueLo = this.readBits(32);
    return s;
  }

  private readRawBuckets(n: number): XORValueState[] {
    const out = new Array<XORValueState>(n);
    for (let i = 0; i < n; i++) out[i] = this.readRaw(field());
    return out;
  }

  protected readNext(): void {
    const s = this.#s;
    readXOR(this, s.count);
    readXOR(this, s.zeroCount);
    readXOR(this, s.sum);
    if (this.isStale()) return;
    for (const b of s.positive) readXOR(this, b);
    for (const b of s.negative) readXOR(this, b);
  }

  /** Whether the current sample is a stale marker. */
  isStale(): boolean {
    const sum = this.#s.sum;
    return sum.valueHi >>> 0 === STALE_NAN_HI && sum.valueLo >>> 0 === STALE_NAN_LO;
  }

  /** The current sample, a new object (its customValues are shared with the chunk's other samples). */
  atFloatHistogram(): FloatHistogram {
    const s = this.#s;
    const sum = valueOf(s.sum);
    if (this.isStale()) return new FloatHistogram({ schema: 0, count: 0, sum });
    const l = this.layout;
    return new FloatHistogram({
      counterResetHint: sampleHint(this.header, this.numRead),
      schema: l.schema,
      zeroThreshold: l.zeroThreshold,
      zeroCount: valueOf(s.zeroCount),
      count: valueOf(s.count),
      sum,
      positiveSpans: l.positiveSpans.map((x) => ({ ...x })),
      negativeSpans: l.negativeSpans.map((x) => ({ ...x })),
      positiveBuckets: s.positive.map(valueOf),
      negativeBuckets: s.negative.map(valueOf),
      customValues: l.customValues,
    });
  }
}
