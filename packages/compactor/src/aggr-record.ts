import { BitAccumulator, crc32c, Encoding, putUvarintAt, putXORSamples, uvarintSize, xorBound } from '@strata/tsdb';

/**
 * Segment records of aggregate chunks (Thanos' format: tsdb's chunkenc/aggr.ts) written in one pass
 * from arrays of points, for raw downsampling, whose output is as many points as its input: tsdb's
 * putXORSamples writes each XOR sub-chunk straight into the record buffer (encoding each one apart,
 * then copying it into the payload and the payload into the record, took about twice as long).
 */

/** A growable buffer of records. Views of records written stay valid when it grows (its buffer is replaced, not changed) until `reset`. */
export class RecordBuffer {
  buf = new Uint8Array(1 << 16);
  view = new DataView(this.buf.buffer);
  /** Bytes written. */
  len = 0;
  /** Writes the XOR streams into `buf`. */
  readonly bits = new BitAccumulator();

  reset(): void {
    this.len = 0;
  }

  /** Makes room for `n` more bytes, and the 4 a word store may touch after them. */
  reserve(n: number): void {
    if (this.len + n + 4 <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.len + n + 4, this.buf.length * 2));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
}

/** Appends one payload entry: uvarint(len) | XOR encoding byte | XOR chunk of [from, to). Room is reserved by the caller. */
function putXOREntry(w: RecordBuffer, ts: Float64Array, bits: Uint32Array, from: number, to: number): void {
  // The length field is reserved for the largest chunk possible, and closed up if the real one is shorter.
  const reserved = uvarintSize(xorBound(to - from));
  const at = w.len;
  w.len += reserved;
  w.buf[w.len++] = Encoding.XOR;
  const dataAt = w.len;
  w.bits.attach(w.buf, w.view, dataAt);
  w.len = putXORSamples(w.bits, ts, bits, from, to);
  const len = w.len - dataAt;
  const size = uvarintSize(len);
  if (size < reserved) {
    w.buf.copyWithin(at + size, at + reserved, w.len);
    w.len -= reserved - size;
  }
  putUvarintAt(w.buf, at, len);
}

/** The windows of one batch for putAggrRecord: stamps, and the bits of each aggregate's values. */
export interface AggrWindows {
  t: Float64Array;
  count: Uint32Array;
  sum: Uint32Array;
  min: Uint32Array;
  max: Uint32Array;
  counter: Uint32Array;
}

/**
 * Appends the segment record (`len | 0xFF | payload | CRC32C`) of the aggregate chunk of windows
 * 1…m (count, sum, min, max) and of the counter points 0…m + 1 (the batch's first raw sample and
 * its last raw value repeated at the last stamp); returns a view of it.
 */
export function putAggrRecord(w: RecordBuffer, wd: AggrWindows, m: number): Uint8Array {
  const start = w.len;
  const entries = 4 * (3 + 1 + xorBound(m)) + 3 + 1 + xorBound(m + 2);
  const reserved = uvarintSize(entries);
  w.reserve(reserved + 1 + entries + 4);
  w.len += reserved;
  const encodingAt = w.len;
  w.buf[w.len++] = Encoding.Aggr;
  for (const values of [wd.count, wd.sum, wd.min, wd.max]) putXOREntry(w, wd.t, values, 1, m + 1);
  putXOREntry(w, wd.t, wd.counter, 0, m + 2);
  const buf = w.buf;
  const len = w.len - encodingAt - 1;
  const size = uvarintSize(len);
  if (size < reserved) {
    buf.copyWithin(start + size, encodingAt, w.len);
    w.len -= reserved - size;
  }
  putUvarintAt(buf, start, len);
  const crcAt = w.len;
  w.view.setUint32(crcAt, crc32c(buf, 0, start + size, crcAt));
  w.len += 4;
  return buf.subarray(start, w.len);
}
