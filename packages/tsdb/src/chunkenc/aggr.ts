/**
 * Thanos' aggregate chunk (pkg/compact/downsample/aggr.go), the chunk of downsampled blocks. In a
 * segment file it carries the Thanos-only encoding byte 0xFF; its payload is five entries in the fixed
 * order count, sum, min, max, counter:
 *
 *   entry := uvarint(len) [ encoding byte | sub-chunk bytes ]     (len counts the sub-chunk bytes only;
 *                                                                  len 0: the aggregate is absent)
 *
 * Sub-chunks are XOR chunks for float series. For native histogram series (Thanos ≥ 0.38) count is an
 * XOR chunk, sum and counter are float histogram chunks, and min and max are absent. The counter sub-chunk starts with the first raw sample
 * and ends with an extra sample repeating the last timestamp with the last raw value, so readers can
 * fold counter resets across chunk boundaries (see CounterResetsIterator); a histogram counter has
 * no such extra samples.
 */
import { Decbuf } from '../encoding/decbuf.js';
import { Encbuf, putUvarintAt, uvarintSize } from '../encoding/encbuf.js';
import { Encoding, ValueType, type Chunk, type SampleIterator } from './chunk.js';
import { FloatHistogramChunk } from './floathistogram.js';
import { HistogramChunk } from './histogram.js';
import { XORChunk } from './xor.js';
import type { FloatHistogram } from '../histogram/float.js';
import type { Histogram } from '../histogram/types.js';

/** The five aggregates, in their order inside an aggregate chunk. */
export const AggrType = { Count: 0, Sum: 1, Min: 2, Max: 3, Counter: 4 } as const;
export type AggrType = (typeof AggrType)[keyof typeof AggrType];

export const AGGR_TYPES: readonly AggrType[] = [AggrType.Count, AggrType.Sum, AggrType.Min, AggrType.Max, AggrType.Counter];

/** Sub-chunks by AggrType; undefined means absent. */
export type AggrParts = readonly [Chunk | undefined, Chunk | undefined, Chunk | undefined, Chunk | undefined, Chunk | undefined];

export class AggrChunk implements Chunk {
  readonly encoding = Encoding.Aggr;
  readonly bytes: Uint8Array;
  #parts: (Chunk | undefined)[] | undefined;

  private constructor(bytes: Uint8Array, parts?: (Chunk | undefined)[]) {
    this.bytes = bytes;
    this.#parts = parts;
  }

  /** An aggregate chunk over encoded bytes (not copied); decoded lazily, so corruption shows on `get`. */
  static fromBytes(bytes: Uint8Array): AggrChunk {
    return new AggrChunk(bytes);
  }

  /** Encodes the five sub-chunks (Thanos' EncodeAggrChunk). */
  static encode(parts: AggrParts): AggrChunk {
    let size = 0;
    for (const c of parts) size += c === undefined ? 1 : uvarintSize(c.bytes.length) + 1 + c.bytes.length;
    // Sized up front: one allocation, no growing.
    const buf = new Uint8Array(size);
    let p = 0;
    for (const c of parts) {
      if (c === undefined) {
        buf[p++] = 0;
        continue;
      }
      p = putUvarintAt(buf, p, c.bytes.length);
      buf[p++] = c.encoding;
      buf.set(c.bytes, p);
      p += c.bytes.length;
    }
    return new AggrChunk(buf, [...parts]);
  }

  /** Whether it aggregates native histograms: its counter is a histogram chunk (Thanos' isHistogramAggrChunk). */
  isHistogram(): boolean {
    const c = this.get(AggrType.Counter);
    return c !== undefined && (c.encoding === Encoding.FloatHistogram || c.encoding === Encoding.Histogram);
  }

  /** The sub-chunk of one aggregate, or undefined if the chunk does not carry it. */
  get(type: AggrType): Chunk | undefined {
    this.#parts ??= decodeParts(this.bytes);
    return this.#parts[type];
  }

  /** Number of aggregated points: the samples of the first present sub-chunk, as Thanos counts. */
  numSamples(): number {
    // Read off the first XOR sub-chunk's header without decoding the parts (a writer counting samples).
    if (this.#parts === undefined) {
      const b = this.bytes;
      for (let i = 0, p = 0; i < AGGR_TYPES.length && p < b.length; i++) {
        let n = 0;
        for (let shift = 1; p < b.length; shift *= 128) {
          const x = b[p++]!;
          n += (x & 0x7f) * shift;
          if (x < 0x80) break;
        }
        if (n === 0) continue;
        if (b[p] === Encoding.XOR && p + 2 < b.length) return (b[p + 1]! << 8) | b[p + 2]!;
        break;
      }
    }
    for (const t of AGGR_TYPES) {
      const c = this.get(t);
      if (c !== undefined) return c.numSamples();
    }
    return 0;
  }

  /**
   * Aggregate chunks have no single sample stream; reading one as samples is an error, as in Thanos.
   * Readers pick an aggregate with `get`.
   */
  iterator(): SampleIterator {
    return new ErrIterator(new Error('aggregate chunk read as samples: pick an aggregate with AggrChunk.get'));
  }
}

/**
 * Appends one entry of an aggregate chunk's payload to `buf` (the five go in AggrType order):
 * `bytes` of a sub-chunk of `encoding`, or undefined for an absent aggregate. For writers that build
 * the payload from encoded bytes without a Chunk per aggregate.
 */
export function putAggrPart(buf: Encbuf, encoding: Encoding, bytes: Uint8Array | undefined): void {
  if (bytes === undefined) {
    buf.putUvarint(0);
    return;
  }
  buf.putUvarint(bytes.length);
  buf.putByte(encoding);
  buf.putBytes(bytes);
}

function decodeParts(bytes: Uint8Array): (Chunk | undefined)[] {
  const d = new Decbuf(bytes, 'aggregate chunk');
  const parts: (Chunk | undefined)[] = [];
  for (let i = 0; i < AGGR_TYPES.length; i++) {
    const n = d.uvarint();
    if (n === 0) {
      parts.push(undefined);
      continue;
    }
    const enc = d.byte();
    const data = d.bytesN(n);
    if (enc === Encoding.XOR) parts.push(XORChunk.fromBytes(data));
    else if (enc === Encoding.FloatHistogram) parts.push(FloatHistogramChunk.fromBytes(data));
    else if (enc === Encoding.Histogram) parts.push(HistogramChunk.fromBytes(data));
    else d.fail(`aggregate ${i} has encoding ${enc}; sub-chunks are XOR or histogram chunks`);
  }
  return parts;
}

class ErrIterator implements SampleIterator {
  constructor(readonly error: Error) {}
  next(): ValueType {
    return ValueType.None;
  }
  seek(): ValueType {
    return ValueType.None;
  }
  atT(): number {
    throw this.error;
  }
  atFloat(): number {
    throw this.error;
  }
  err(): Error {
    return this.error;
  }
}

/**
 * Thanos' ApplyCounterResetsSeriesIterator over counter sub-chunks (or raw counter chunks) in time
 * order: a monotonic series with resets folded in. A sample repeating the previous timestamp is a
 * chunk's true last raw value and is used only to detect a reset at the next chunk's start; chunks
 * going back in time are skipped up to the last timestamp; NaNs (stale markers) are dropped.
 * Histogram samples (a downsampled histogram's counter, already free of resets) pass unchanged.
 */
export class CounterResetsIterator implements SampleIterator {
  readonly #its: SampleIterator[];
  #i = 0;
  #total = 0;
  #lastT = Number.NEGATIVE_INFINITY;
  /** Last raw value seen: what a reset is detected against. */
  #lastV = 0;
  #totalV = 0;
  /** The current sample's type. */
  #type: ValueType = ValueType.None;
  #err: Error | null = null;

  constructor(chunks: readonly Chunk[]) {
    this.#its = chunks.map((c) => c.iterator());
  }

  /** The true last raw value, once the series is exhausted. */
  get lastRawValue(): number {
    return this.#lastV;
  }

  next(): ValueType {
    while (this.#i < this.#its.length) {
      const it = this.#its[this.#i] as SampleIterator;
      const type = it.next();
      if (type === ValueType.None) {
        this.#err ??= it.err();
        if (this.#err !== null) return ValueType.None;
        this.#i++;
        continue;
      }
      const t = it.atT();
      if (type !== ValueType.Float) {
        // Histogram counters (downsampled native histograms) pass as they are, as in Thanos.
        this.#lastT = t;
        this.#type = type;
        return type;
      }
      this.#type = ValueType.Float;
      const v = it.atFloat();
      if (Number.isNaN(v)) continue;
      if (this.#total === 0) {
        this.#total++;
        this.#lastT = t;
        this.#lastV = v;
        this.#totalV = v;
        return ValueType.Float;
      }
      if (t > this.#lastT) {
        this.#totalV += v >= this.#lastV ? v - this.#lastV : v;
        this.#lastT = t;
        this.#lastV = v;
        this.#total++;
        return ValueType.Float;
      }
      if (t === this.#lastT) this.#lastV = v;
    }
    return ValueType.None;
  }

  seek(t: number): ValueType {
    // Steps sample by sample so that no reset is missed.
    if (this.#type !== ValueType.None && this.#lastT >= t) return this.#type;
    for (;;) {
      const type = this.next();
      if (type === ValueType.None || this.#lastT >= t) return type;
    }
  }

  atT(): number {
    return this.#lastT;
  }

  atFloat(): number {
    return this.#totalV;
  }

  atHistogram(): Histogram {
    return (this.#its[this.#i] as Required<SampleIterator>).atHistogram();
  }

  atFloatHistogram(): FloatHistogram {
    return (this.#its[this.#i] as Required<SampleIterator>).atFloatHistogram();
  }

  err(): Error | null {
    return this.#err;
  }
}
