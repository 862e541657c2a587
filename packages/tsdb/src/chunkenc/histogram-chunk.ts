/**
 * The parts of the two native histogram chunk codecs (histogram.ts: encoding 2, floathistogram.ts:
 * encoding 3) that do not depend on how the counts are encoded: the chunk's bytes and header
 * (histogram-meta.ts), the timestamps, the iteration and error reporting, and the appender's
 * appendability checks (histogram-appendable.ts) and recoding into a wider layout.
 *
 *   sample 0 := layout | varbit_int t | fields            (layout: histogram-meta.ts)
 *   sample n := varbit_int dod | fields                   dod = (t_n − t_{n−1}) − (t_{n−1} − t_{n−2}),
 *                                                         with t_{−1} = t_0 for sample 1 (dod = delta)
 *
 * A stale sample (sum = StaleNaN) is written as if it had no buckets and zero counts; its decoded form
 * is a histogram with only the sum.
 */
import { BitReader, BitWriter } from './bstream.js';
import { ValueType, type Chunk, type Encoding, type SampleIterator } from './chunk.js';
import { isStaleNaN } from './floatbits.js';
import {
  counterAppendability,
  gaugeAppendability,
  insertBuckets,
  type AbsoluteBuckets,
  type Appendability,
  type ChunkState,
  type GaugeAppendability,
  type Insert,
} from './histogram-appendable.js';
import {
  COUNTER_RESET_HEADER_MASK,
  CounterResetHeader,
  EMPTY_LAYOUT,
  HISTOGRAM_HEADER_SIZE,
  layoutBound,
  readLayout,
  writeLayout,
  type HistogramLayout,
} from './histogram-meta.js';
import { checkEnd, readVarbitInt, writeVarbitInt } from './varbit.js';
import { readXORValue, type XORValueState } from './xor.js';
import { CorruptionError } from '../encoding/decbuf.js';
import { CUSTOM_BUCKETS_SCHEMA, EXPONENTIAL_SCHEMA_MAX, EXPONENTIAL_SCHEMA_MIN, type Span } from '../histogram/types.js';

const MAX_SAMPLES = 0xffff;

/** The bytes of every empty histogram chunk, shared (see XORChunk). */
const EMPTY_DATA = new Uint8Array(HISTOGRAM_HEADER_SIZE);

/** A histogram sample as the codecs take it in: a Histogram or a FloatHistogram. */
export interface HistogramSample extends HistogramLayout {
  count: number;
  zeroCount: number;
  sum: number;
  /** Delta-encoded (Histogram) or absolute (FloatHistogram) counts. */
  positiveBuckets: readonly number[];
  negativeBuckets: readonly number[];
}

/** The chunk shell: bytes, sample count and header byte. `A` is the codec's appender. */
export abstract class HistogramChunkBase<A, I extends HistogramIteratorBase = HistogramIteratorBase> implements Chunk {
  abstract readonly encoding: Encoding;
  #data: Uint8Array = EMPTY_DATA;
  #writer: BitWriter | null = null;

  /** Takes `bytes` as the chunk's data (not copied); throws if they cannot be a histogram chunk. */
  protected setData(bytes: Uint8Array, what: string): void {
    if (bytes.length < HISTOGRAM_HEADER_SIZE) throw new CorruptionError(what, 0, `chunk of ${bytes.length} bytes is shorter than its 3-byte header`);
    this.#data = bytes;
  }

  /** The encoded chunk; after appends, a view of the appender's buffer that later appends may replace. */
  get bytes(): Uint8Array {
    return this.#writer === null ? this.#data : this.#writer.bytes();
  }

  numSamples(): number {
    const b = this.bytes;
    return (b[0]! << 8) | b[1]!;
  }

  counterResetHeader(): CounterResetHeader {
    return (this.bytes[2]! & COUNTER_RESET_HEADER_MASK) as CounterResetHeader;
  }

  /** Sets the counter reset hint in the header (in the chunk's own copy of the bytes). */
  setCounterResetHeader(h: CounterResetHeader): void {
    // An appender's writer keeps its place; a chunk over bytes gets a copy of them.
    this.#writer ??= new BitWriter(this.#data);
    const buf = this.#writer.buffer;
    buf[2] = (buf[2]! & ~COUNTER_RESET_HEADER_MASK) | h;
  }

  /** The bit writer continuing at bit `pos` (the end of the last sample), made from the data if needed. */
  protected writerAt(pos: number): BitWriter {
    if (this.#writer === null || this.#writer.bitLength !== pos) this.#writer = new BitWriter(this.bytes, pos);
    return this.#writer;
  }

  abstract iterator(reuse?: SampleIterator): I;

  /**
   * An appender continuing the chunk. Like Prometheus, it rebuilds its state by decoding every sample;
   * it continues at the exact bit after the last one, in the chunk's own copy of the bytes. Throws a
   * CorruptionError if the chunk does not decode.
   */
  appender(): A {
    if (this.numSamples() === 0) return this.newAppender(this.writerAt(HISTOGRAM_HEADER_SIZE * 8), null);
    const it = this.iterator();
    while (it.next() !== ValueType.None);
    const err = it.err();
    if (err !== null) throw err;
    return this.newAppender(this.writerAt(it.bitPos), it);
  }

  /** The appender writing with `w`, its state taken from the iterator standing on the last sample (none for an empty chunk). */
  protected abstract newAppender(w: BitWriter, from: I | null): A;
}

/** Iteration over either histogram encoding: header, layout, timestamps, errors. */
export abstract class HistogramIteratorBase extends BitReader implements SampleIterator {
  protected numTotal = 0;
  protected numRead = 0;
  protected header: CounterResetHeader = CounterResetHeader.Unknown;
  protected layout: HistogramLayout = EMPTY_LAYOUT;
  protected error: CorruptionError | null = null;
  /** The current timestamp and delta; appenders continue from them. */
  t = 0;
  tDelta = 0;

  protected abstract readonly what: string;
  protected abstract readonly valueType: ValueType;
  /** Reads sample 0's fields after its timestamp; the layout is read. */
  protected abstract readFirst(): void;
  /** Reads the fields of a later sample after its dod. */
  protected abstract readNext(): void;

  override reset(bytes: Uint8Array): void {
    this.error = null;
    this.numRead = 0;
    this.t = 0;
    this.tDelta = 0;
    this.layout = EMPTY_LAYOUT;
    if (bytes.length < HISTOGRAM_HEADER_SIZE) {
      this.numTotal = 0;
      this.error = new CorruptionError(this.what, 0, `chunk of ${bytes.length} bytes is shorter than its 3-byte header`);
      return;
    }
    this.numTotal = (bytes[0]! << 8) | bytes[1]!;
    this.header = (bytes[2]! & COUNTER_RESET_HEADER_MASK) as CounterResetHeader;
    super.reset(bytes, HISTOGRAM_HEADER_SIZE);
  }

  /** Bit position after the samples read so far (where an appender continues). */
  get bitPos(): number {
    return this.pos;
  }

  /** The chunk's layout (valid once a sample was read). */
  currentLayout(): HistogramLayout {
    return this.layout;
  }

  next(): ValueType {
    if (this.numRead === this.numTotal || this.error !== null) return ValueType.None;
    try {
      if (this.numRead === 0) {
        const layout = readLayout(this);
        const s = layout.schema;
        if (!(s === CUSTOM_BUCKETS_SCHEMA || (s >= EXPONENTIAL_SCHEMA_MIN && s <= EXPONENTIAL_SCHEMA_MAX))) {
          throw new CorruptionError(this.what, this.pos >>> 3, `unknown histogram schema ${s}`);
        }
        // Every bucket of sample 0 takes at least one bit.
        if (countBuckets(layout.positiveSpans) + countBuckets(layout.negativeSpans) > this.end - this.pos) {
          throw new CorruptionError(this.what, this.pos >>> 3, 'more buckets than the data can hold');
        }
        this.layout = layout;
        this.t = readVarbitInt(this);
        this.readFirst();
      } else {
        this.tDelta += readVarbitInt(this);
        this.t += this.tDelta;
        this.readNext();
      }
      checkEnd(this);
    } catch (e) {
      if (!(e instanceof CorruptionError)) throw e;
      const reason = this.pos > this.end ? 'unexpected end of data' : e.reason;
      this.error = new CorruptionError(this.what, Math.min(this.pos, this.end) >>> 3, `${reason} reading sample ${this.numRead} of ${this.numTotal}`);
      return ValueType.None;
    }
    this.numRead++;
    return this.valueType;
  }

  seek(t: number): ValueType {
    if (this.error !== null) return ValueType.None;
    while (this.numRead === 0 || t > this.t) {
      if (this.next() === ValueType.None) return ValueType.None;
    }
    return this.valueType;
  }

  atT(): number {
    return this.t;
  }

  atFloat(): number {
    throw new Error(`atFloat() on a ${this.what} iterator`);
  }

  err(): Error | null {
    return this.error;
  }
}

/** Reads an XOR-encoded value (xor.ts) into `s`; throws a CorruptionError on corrupt data. */
export function readXOR(r: BitReader, s: XORValueState): void {
  checkEnd(r);
  const bad = readXORValue(r, s);
  if (bad !== null) throw new CorruptionError('bit stream', r.pos >>> 3, bad);
}

export function countBuckets(spans: readonly Span[]): number {
  let n = 0;
  for (const s of spans) n += s.length;
  return n;
}

/**
 * The appender of either encoding. `H` is the sample type (Histogram or FloatHistogram). Subclasses
 * write the count fields; this class writes layout and timestamps, answers
 * whether a sample can be appended, and recodes the chunk when its layout grows.
 */
export abstract class HistogramAppenderBase<H extends HistogramSample> {
  protected num: number;
  protected layout: HistogramLayout;

  constructor(
    readonly chunk: HistogramChunkBase<HistogramAppenderBase<H>>,
    protected readonly w: BitWriter,
    from: HistogramIteratorBase | null,
    protected t = from?.t ?? 0,
    protected tDelta = from?.tDelta ?? 0,
  ) {
    this.num = chunk.numSamples();
    this.layout = from?.currentLayout() ?? EMPTY_LAYOUT;
  }

  /** The sample with its buckets as absolute counts, for the checks. */
  protected abstract absolute(h: H): AbsoluteBuckets;
  /** The last sample, buckets as absolute counts. */
  protected abstract last(): AbsoluteBuckets;
  /** Bytes the fields of a sample with `buckets` buckets may take at most. */
  protected abstract fieldsBound(buckets: number): number;
  /** Writes sample 0's fields (after the timestamp) and takes them as the last sample. */
  protected abstract writeFirst(h: H, stale: boolean): void;
  /** Writes a later sample's fields (after the dod) and takes them as the last sample. */
  protected abstract writeNext(h: H, stale: boolean): void;
  /** Whether recoding works on delta-encoded buckets (integer histograms) or absolute ones. */
  protected abstract readonly deltaBuckets: boolean;
  /** A copy of `h` with other spans and buckets. */
  protected abstract withBuckets(h: H, positiveSpans: Span[], negativeSpans: Span[], positive: number[], negative: number[]): H;
  /** The current sample of an iterator over this appender's chunk. */
  protected abstract sampleAt(it: HistogramIteratorBase): H;
  /** A new, empty chunk of the same encoding. */
  protected abstract emptyChunk(): HistogramChunkBase<HistogramAppenderBase<H>>;

  numSamples(): number {
    return this.num;
  }

  #state(): ChunkState {
    return { numSamples: this.num, header: this.chunk.counterResetHeader(), last: this.last() };
  }

  /** Whether the counter histogram `h` can be appended to this chunk, after recoding for the inserts (histogram-appendable.ts). */
  appendable(h: H): Appendability {
    return counterAppendability(this.#state(), this.absolute(h));
  }

  /** Whether the gauge histogram `h` can be appended to this chunk (histogram-appendable.ts). */
  appendableGauge(h: H): GaugeAppendability {
    return gaugeAppendability(this.#state(), this.absolute(h));
  }

  /**
   * Appends a sample, which must fit the chunk's layout (first check appendable/appendableGauge and
   * recode). The first sample sets the layout. Timestamps are integer milliseconds (safe integers).
   */
  append(t: number, h: H): void {
    if (!Number.isSafeInteger(t)) throw new RangeError(`histogram chunk: timestamp ${t} is not a safe integer`);
    if (this.num === MAX_SAMPLES) throw new RangeError(`histogram chunk: full (${MAX_SAMPLES} samples)`);
    const stale = isStaleNaN(h.sum);
    const w = this.w;
    let tDelta = 0;
    if (this.num === 0) {
      this.layout = stale ? EMPTY_LAYOUT : copyLayout(h);
      w.reserve(layoutBound(this.layout) + 9 + this.fieldsBound(countBuckets(this.layout.positiveSpans) + countBuckets(this.layout.negativeSpans)));
      writeLayout(w, this.layout);
      writeVarbitInt(w, t);
      this.writeFirst(h, stale);
    } else {
      const l = this.layout;
      if (!stale && (h.positiveBuckets.length !== countBuckets(l.positiveSpans) || h.negativeBuckets.length !== countBuckets(l.negativeSpans))) {
        throw new RangeError('histogram chunk: the sample does not have the chunk\'s bucket layout (check appendable() and recode first)');
      }
      w.reserve(9 + this.fieldsBound(stale ? 0 : h.positiveBuckets.length + h.negativeBuckets.length));
      tDelta = t - this.t;
      writeVarbitInt(w, tDelta - this.tDelta);
      this.writeNext(h, stale);
    }
    this.t = t;
    this.tDelta = tDelta;
    this.num++;
    const buf = w.buffer;
    buf[0] = this.num >>> 8;
    buf[1] = this.num & 0xff;
  }

  /**
   * A new chunk with this chunk's samples in the wider layout `positiveSpans`/`negativeSpans` (the new
   * buckets at the inserts, empty), and its appender (Prometheus' Recode). The header is kept.
   */
  recode(positiveInserts: readonly Insert[], negativeInserts: readonly Insert[], positiveSpans: Span[], negativeSpans: Span[]): HistogramAppenderBase<H> {
    const chunk = this.emptyChunk();
    const app = chunk.appender();
    const it = this.chunk.iterator();
    while (it.next() !== ValueType.None) {
      const h = this.sampleAt(it);
      const ts = it.atT();
      app.append(
        ts,
        this.withBuckets(
          h,
          positiveSpans,
          negativeSpans,
          insertBuckets(h.positiveBuckets, positiveInserts, this.deltaBuckets),
          insertBuckets(h.negativeBuckets, negativeInserts, this.deltaBuckets),
        ),
      );
    }
    const err = it.err();
    if (err !== null) throw err;
    chunk.setCounterResetHeader(this.chunk.counterResetHeader());
    return app;
  }

  /** `h` widened to the merged layout of a gauge appendability check (Prometheus' RecodeHistogram). */
  withBackwardInserts(h: H, g: GaugeAppendability): H {
    return this.withBuckets(
      h,
      g.positiveSpans,
      g.negativeSpans,
      insertBuckets(h.positiveBuckets, g.backwardPositiveInserts, this.deltaBuckets),
      insertBuckets(h.negativeBuckets, g.backwardNegativeInserts, this.deltaBuckets),
    );
  }
}

function copyLayout(l: HistogramLayout): HistogramLayout {
  return {
    schema: l.schema,
    zeroThreshold: l.zeroThreshold,
    positiveSpans: l.positiveSpans.map((s) => ({ ...s })),
    negativeSpans: l.negativeSpans.map((s) => ({ ...s })),
    customValues: l.schema === CUSTOM_BUCKETS_SCHEMA ? l.customValues.slice() : [],
  };
}
