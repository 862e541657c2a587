import { crc32c, Encoding, putUvarintAt, uvarintSize } from '@strata/tsdb';

/**
 * Segment records of aggregate chunks (Thanos' format: tsdb's chunkenc/aggr.ts) written in one pass
 * from arrays of points, for raw downsampling, whose output is as many points as its input.
 *
 * The XOR sub-chunks are byte for byte what tsdb's XORAppender and xorSamplesBytes write, but each
 * sample's fields are merged into as few writes of at most 32 bits as fit (usually two), and the
 * bits go straight into the record buffer: encoding with xorSamplesBytes, then copying each
 * sub-chunk into the payload and the payload into the record, took about twice as long.
 */

/** Index of a float's high and low 32-bit word in a Uint32Array view, by platform endianness. */
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
const LO = 1 - HI;
const TWO_32 = 2 ** 32;
const MAX_SAMPLES = 0xffff;
/** Marks an encoder that has not yet written a value window. */
const NO_WINDOW = 0xff;

/** Upper bound of an XOR chunk of n samples: the count, 18 bytes for the first sample, 19 (145 bits) for each other. */
function xorBound(n: number): number {
  return 2 + 20 * n;
}

/**
 * A growable buffer of records, with a bit accumulator for the XOR streams: bits gather in a 32-bit
 * word from its top down, which is stored whole when full. Views of records written stay valid when
 * it grows (its buffer is replaced, not changed) until `reset`.
 */
export class RecordBuffer {
  buf = new Uint8Array(1 << 16);
  view = new DataView(this.buf.buffer);
  /** Bytes written; while a bit stream is open, where its current word goes. */
  len = 0;
  /** The word being filled, and how many of its bits are free (1…32). */
  cur = 0;
  free = 32;

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

  /** Writes the `n` (1…32) bits of `v`, which has none above them, most significant first. */
  bits(v: number, n: number): void {
    const free = this.free;
    if (n < free) {
      this.cur |= v << (free - n);
      this.free = free - n;
    } else {
      const spill = n - free;
      this.view.setUint32(this.len, this.cur | (v >>> spill));
      this.len += 4;
      this.cur = spill === 0 ? 0 : v << (32 - spill);
      this.free = 32 - spill;
    }
  }

  /**
   * Closes the bit stream, zero-padded to a byte; a stream whose last field was whole bytes gets
   * one more 0x00, as Prometheus' bstream writes it (see tsdb's BitWriter).
   */
  endBits(spare: boolean): void {
    const used = 32 - this.free;
    this.view.setUint32(this.len, this.cur);
    this.len += (used + 7) >>> 3;
    if ((used & 7) === 0 && spare) this.buf[this.len++] = 0;
  }
}

/** Writes the 64-bit value hi:lo as an unsigned LEB128 varint at buf[p]; returns the position after it. */
function putUvarint64(buf: Uint8Array, p: number, hi: number, lo: number): number {
  while (hi !== 0 || lo >= 0x80) {
    buf[p++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  buf[p++] = lo;
  return p;
}

function timestamp(ts: Float64Array, i: number): number {
  const t = ts[i]!;
  if (!Number.isSafeInteger(t)) throw new RangeError(`XOR chunk: timestamp ${t} is not a safe integer`);
  return t;
}

/**
 * Appends the XOR chunk (BE16 count, then the bit stream) of samples (ts[i], values with bits
 * bits[2i…2i+1]) for i in [from, to). The caller has reserved xorBound(to − from) bytes.
 */
function putXOR(w: RecordBuffer, ts: Float64Array, bits: Uint32Array, from: number, to: number): void {
  const n = to - from;
  if (n > MAX_SAMPLES) throw new RangeError(`XOR chunk: ${n} samples do not fit (at most ${MAX_SAMPLES})`);
  const buf = w.buf;
  let p = w.len;
  buf[p++] = n >>> 8;
  buf[p++] = n & 0xff;
  if (n === 0) {
    w.len = p;
    return;
  }
  // The first sample and the second one's timestamp delta are whole bytes: a ZigZag varint and the
  // value's 64 bits, then a uvarint (a negative delta as its 64-bit two's complement).
  let t = timestamp(ts, from);
  const even = t >= 0 ? t * 2 : (-t - 1) * 2;
  p = putUvarint64(buf, p, Math.floor(even / TWO_32) >>> 0, ((even >>> 0) | (t < 0 ? 1 : 0)) >>> 0);
  let vHi = bits[2 * from + HI]!;
  let vLo = bits[2 * from + LO]!;
  w.view.setUint32(p, vHi);
  w.view.setUint32(p + 4, vLo);
  p += 8;
  if (n === 1) {
    buf[p++] = 0;
    w.len = p;
    return;
  }
  let prevT = t;
  t = timestamp(ts, from + 1);
  let tDelta = t - prevT;
  p = putUvarint64(buf, p, Math.floor(tDelta / TWO_32) >>> 0, tDelta >>> 0);
  w.len = p;
  w.cur = 0;
  w.free = 32;
  let spare = true;
  let leading = NO_WINDOW;
  let trailing = 0;
  for (let i = from + 1; i < to; i++) {
    // The delta-of-delta field (fv, fn bits), held back to be written with the value's first bits.
    let fv = 0;
    let fn = 0;
    if (i > from + 1) {
      t = timestamp(ts, i);
      const d = t - prevT;
      const dod = d - tDelta;
      tDelta = d;
      if (dod === 0) fn = 1;
      else if (dod >= -8191 && dod <= 8192) {
        fv = (0b10 << 14) | (dod & 0x3fff);
        fn = 16;
      } else if (dod >= -65535 && dod <= 65536) {
        fv = (0b110 << 17) | (dod & 0x1ffff);
        fn = 20;
      } else if (dod >= -524287 && dod <= 524288) {
        fv = (0b1110 << 20) | (dod & 0xfffff);
        fn = 24;
      } else {
        w.bits(0b1111, 4);
        w.bits(Math.floor(dod / TWO_32) >>> 0, 32);
        w.bits(dod >>> 0, 32);
      }
    }
    prevT = t;
    const hi = bits[2 * i + HI]!;
    const lo = bits[2 * i + LO]!;
    const xHi = (hi ^ vHi) >>> 0;
    const xLo = (lo ^ vLo) >>> 0;
    vHi = hi;
    vLo = lo;
    if (xHi === 0 && xLo === 0) {
      // value '0': unchanged.
      w.bits(fv << 1, fn + 1);
      spare = false;
      continue;
    }
    let lead = xHi !== 0 ? Math.clz32(xHi) : 32 + Math.clz32(xLo);
    const trail = xLo !== 0 ? ctz32(xLo) : 32 + ctz32(xHi);
    // The leading-zero field has 5 bits.
    if (lead > 31) lead = 31;
    // Header: '10' (the previous window) or '11' lead(5) sig(6) (a new one; 64 written as 0).
    let a: number;
    let an: number;
    if (leading !== NO_WINDOW && lead >= leading && trail >= trailing) {
      a = 0b10;
      an = 2;
    } else {
      leading = lead;
      trailing = trail;
      a = (0b11 << 11) | (lead << 6) | ((64 - lead - trail) & 63);
      an = 13;
    }
    if (fn + an <= 32) {
      a |= fv << an;
      an += fn;
    } else {
      w.bits(fv, fn);
    }
    const sig = 64 - leading - trailing;
    // The significant bits, (xHi:xLo) >> trailing, as sHi:sLo.
    let sHi = xHi;
    let sLo = xLo;
    if (trailing >= 32) {
      sHi = 0;
      sLo = xHi >>> (trailing - 32);
    } else if (trailing > 0) {
      sHi = xHi >>> trailing;
      sLo = ((xLo >>> trailing) | (xHi << (32 - trailing))) >>> 0;
    }
    if (sig > 32) {
      const hn = sig - 32;
      if (an + hn <= 32) {
        w.bits((a << hn) | sHi, an + hn);
      } else {
        w.bits(a, an);
        w.bits(sHi, hn);
      }
      w.bits(sLo, 32);
    } else if (an + sig <= 32) {
      w.bits((a << sig) | sLo, an + sig);
    } else {
      w.bits(a, an);
      w.bits(sLo, sig);
    }
    spare = (sig & 7) === 0;
  }
  w.endBits(spare);
}

function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** Appends one payload entry: uvarint(len) | XOR encoding byte | XOR chunk of [from, to). Room is reserved by the caller. */
function putXOREntry(w: RecordBuffer, ts: Float64Array, bits: Uint32Array, from: number, to: number): void {
  // The length field is reserved for the largest chunk possible, and closed up if the real one is shorter.
  const reserved = uvarintSize(xorBound(to - from));
  const at = w.len;
  w.len += reserved;
  w.buf[w.len++] = Encoding.XOR;
  const dataAt = w.len;
  putXOR(w, ts, bits, from, to);
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
