/**
 * XOR chunks (encoding 1): Gorilla-style compression of float samples, bit-exact with Prometheus'
 * tsdb/chunkenc/xor.go.
 *
 *   chunk    := BE16 numSamples | bitstream
 *   sample 0 := varint t0 (byte-aligned at offset 2) | 64 raw value bits
 *   sample 1 := uvarint (t1 − t0) | value
 *   sample n := dod | value         with dod = (t_n − t_{n−1}) − (t_{n−1} − t_{n−2})
 *
 *   dod   := '0' (dod = 0) | '10' 14 bits | '110' 17 bits | '1110' 20 bits | '1111' 64 bits
 *            An n-bit field holds −(2^(n−1)−1) … +2^(n−1), in two's complement: a read u > 2^(n−1)
 *            means u − 2^n, so u = 2^(n−1) is positive.
 *   value := '0' (same bits as the previous value)
 *          | '10' bits               xor with the previous value, in the previous (leading, trailing) window
 *          | '11' lead(5) sig(6) bits  a new window: `lead` leading zeros (clamped to 31), `sig`
 *                                      significant bits (0 means 64); trailing = 64 − lead − sig
 *
 * The encoder starts with no window (its first non-zero xor writes '11'); the decoder starts with the
 * window (0, 0), which a '10' before any '11' then uses. Values are handled as their raw bits, so NaN
 * payloads (the stale marker) and −0 survive.
 */
import { BitReader, BitWriter } from './bstream.js';
import { Encoding, ValueType, type Chunk, type SampleIterator } from './chunk.js';
import { CorruptionError } from '../encoding/decbuf.js';
import { floatFromBits, floatHi, floatLo } from './floatbits.js';
import { ctz32, MAX_SAMPLES, NO_WINDOW, readUvarint, TWO_32, varEnd, varHi, varLo, xorCorruption } from './xor-bulk.js';

// The bulk codecs, and the bit sink putXORSamples writes into, for the package's index.
export { BitAccumulator } from './bstream.js';
export { appendXORSamples, putXORSamples, xorAppendedNaN, xorBound, xorSamplesBytes, type XORSampleFilter } from './xor-bulk.js';

/**
 * The bytes of every empty chunk (a zero sample count), shared: nothing writes into a chunk's #data (an
 * appender copies it), and a chunk read from a file then costs no buffer of its own.
 */
const EMPTY_DATA = new Uint8Array(2);

/** A chunk of float samples in Prometheus' XOR encoding; `new XORChunk()` is an empty one. */
export class XORChunk implements Chunk {
  readonly encoding = Encoding.XOR;
  /** The encoded bytes while no appender has taken over (an empty chunk, or bytes given to fromBytes). */
  #data: Uint8Array = EMPTY_DATA;
  /** The bit stream, once an appender exists. */
  #writer: BitWriter | null = null;

  /** A chunk over encoded bytes (BE16 sample count, then the bit stream); the bytes are not copied. */
  static fromBytes(bytes: Uint8Array): XORChunk {
    if (bytes.length < 2) throw new CorruptionError('XOR chunk', 0, `chunk of ${bytes.length} bytes is shorter than its 2-byte sample count`);
    const c = new XORChunk();
    c.#data = bytes;
    return c;
  }

  /** The encoded chunk; after appends, a view of the appender's buffer that later appends may replace. */
  get bytes(): Uint8Array {
    return this.#writer === null ? this.#data : this.#writer.bytes();
  }

  numSamples(): number {
    const b = this.bytes;
    return (b[0] << 8) | b[1];
  }

  iterator(reuse?: SampleIterator): XORIterator {
    const it = reuse instanceof XORIterator ? reuse : new XORIterator();
    it.reset(this.bytes);
    return it;
  }

  /**
   * An appender continuing the chunk. Like Prometheus, it rebuilds its state by decoding every sample,
   * so it starts with the decoder's window ((0, 0) if no window was written yet) unless the chunk is
   * empty. Unlike Prometheus, which restarts a chunk loaded from bytes at the next byte boundary, it
   * resumes at the exact bit after the last sample, in a copy (the bytes given to fromBytes are not
   * changed). Throws a CorruptionError if the chunk does not decode.
   */
  appender(): XORAppender {
    if (this.#writer === null && this.numSamples() === 0) {
      this.#writer = new BitWriter(this.#data.subarray(0, 2));
      return new XORAppender(this.#writer, 0, 0, 0, 0, 0, NO_WINDOW, 0);
    }
    const it = this.iterator();
    while (it.next() !== ValueType.None);
    const err = it.err();
    if (err !== null) throw err;
    const bytes = this.bytes;
    if (this.#writer === null || this.#writer.bitLength !== it.bitPos) this.#writer = new BitWriter(bytes, it.bitPos);
    const n = this.numSamples();
    return new XORAppender(this.#writer, n, it.atT(), it.valueHi, it.valueLo, it.tDelta, n === 0 ? NO_WINDOW : it.leading, it.trailing);
  }
}

/** Appends samples to an XORChunk. Timestamps are integer milliseconds (safe integers). */
export class XORAppender {
  /** The last value and its window, as writeXORValue keeps them. */
  private readonly value: XORValueState;

  constructor(
    private readonly w: BitWriter,
    private num: number,
    private t: number,
    valueHi: number,
    valueLo: number,
    private tDelta: number,
    leading: number,
    trailing: number,
  ) {
    this.value = { valueHi, valueLo, leading, trailing };
  }

  append(t: number, v: number): void {
    if (!Number.isSafeInteger(t)) throw new RangeError(`XOR chunk: timestamp ${t} is not a safe integer`);
    if (this.num === MAX_SAMPLES) throw new RangeError(`XOR chunk: full (${MAX_SAMPLES} samples)`);
    const w = this.w;
    w.reserve(40);
    let tDelta = 0;
    if (this.num === 0) {
      writeVarint64(w, t);
      const s = this.value;
      s.valueHi = floatHi(v);
      s.valueLo = floatLo(v);
      w.writeBits64(s.valueHi, s.valueLo, 64);
    } else {
      tDelta = t - this.t;
      if (this.num === 1) {
        writeUvarint64(w, tDelta);
      } else {
        writeDod(w, tDelta - this.tDelta);
      }
      writeXORValue(w, this.value, floatHi(v), floatLo(v));
    }
    this.t = t;
    this.tDelta = tDelta;
    this.num++;
    const buf = w.buffer;
    buf[0] = this.num >>> 8;
    buf[1] = this.num & 0xff;
  }
}

/**
 * A value in the XOR scheme as its encoder and decoder track it: the last value's bits (two 32-bit
 * halves) and the current window (`leading` is NO_WINDOW in an encoder that has written none yet).
 * Histogram chunks keep one per XOR-encoded field.
 */
export interface XORValueState {
  valueHi: number;
  valueLo: number;
  leading: number;
  trailing: number;
}

/** Writes the value with bits vHi:vLo in the XOR form against `s`, and makes it s's last value. */
export function writeXORValue(w: BitWriter, s: XORValueState, vHi: number, vLo: number): void {
  const xHi = (vHi ^ s.valueHi) >>> 0;
  const xLo = (vLo ^ s.valueLo) >>> 0;
  s.valueHi = vHi;
  s.valueLo = vLo;
  if (xHi === 0 && xLo === 0) {
    w.writeBit(0);
    return;
  }
  w.writeBit(1);
  let leading = xHi !== 0 ? Math.clz32(xHi) : 32 + Math.clz32(xLo);
  const trailing = xLo !== 0 ? ctz32(xLo) : 32 + ctz32(xHi);
  // The leading-zero field has 5 bits.
  if (leading > 31) leading = 31;
  if (s.leading !== NO_WINDOW && leading >= s.leading && trailing >= s.trailing) {
    w.writeBit(0);
    writeShifted(w, xHi, xLo, s.trailing, 64 - s.leading - s.trailing);
    return;
  }
  s.leading = leading;
  s.trailing = trailing;
  const sig = 64 - leading - trailing;
  w.writeBit(1);
  w.writeBits(leading, 5);
  // 64 significant bits do not fit in 6 bits and are written as 0.
  w.writeBits(sig & 63, 6);
  writeShifted(w, xHi, xLo, trailing, sig);
}

/**
 * Reads a value (value := '0' | '10' bits | '11' lead(5) sig(6) bits) into `s`; returns null, or why
 * the data is corrupt.
 */
export function readXORValue(r: BitReader, s: XORValueState): string | null {
  const w = r.peek32();
  if (w < 0x80000000) {
    r.pos += 1;
    return null;
  }
  let trailing: number;
  let sig: number;
  let header: number;
  if (w < 0xc0000000) {
    header = 2;
    trailing = s.trailing;
    sig = 64 - s.leading - trailing;
  } else {
    header = 13;
    const leading = (w >>> 25) & 31;
    sig = (w >>> 19) & 63 || 64;
    trailing = 64 - leading - sig;
    if (trailing < 0) {
      r.pos += header;
      return `invalid value window: ${leading} leading zeros and ${sig} significant bits`;
    }
    s.leading = leading;
    s.trailing = trailing;
  }
  let hi = 0;
  let lo: number;
  if (header + sig <= 32) {
    // The bits are already in the peeked word.
    lo = (w << header) >>> (32 - sig);
    r.pos += header + sig;
  } else {
    r.pos += header;
    if (sig > 32) {
      hi = r.readBits(sig - 32);
      lo = r.readBits(32);
    } else {
      lo = r.readBits(sig);
    }
  }
  if (trailing >= 32) {
    hi = lo << (trailing - 32);
    lo = 0;
  } else if (trailing > 0) {
    hi = (hi << trailing) | (lo >>> (32 - trailing));
    lo <<= trailing;
  }
  s.valueHi ^= hi;
  s.valueLo ^= lo;
  return null;
}

/** Writes the `n` bits of (hi:lo) >> shift. */
function writeShifted(w: BitWriter, hi: number, lo: number, shift: number, n: number): void {
  if (shift >= 32) {
    w.writeBits64(0, hi >>> (shift - 32), n);
  } else if (shift > 0) {
    w.writeBits64(hi >>> shift, ((lo >>> shift) | (hi << (32 - shift))) >>> 0, n);
  } else {
    w.writeBits64(hi, lo, n);
  }
}

/** Writes the low 64 bits of integer `x` (negative: two's complement) as an unsigned LEB128 varint. */
function writeUvarint64(w: BitWriter, x: number): void {
  w.writeUvarint(Math.floor(x / TWO_32) >>> 0, x >>> 0);
}

/** Writes the ZigZag varint of `x` (0, −1, 1, −2 … → 0, 1, 2, 3 …), exact for every safe integer. */
function writeVarint64(w: BitWriter, x: number): void {
  // For x < 0 the code is 2(−x−1)+1; 2(−x−1) < 2^54 is exact, its low bit is 0.
  const even = x >= 0 ? x * 2 : (-x - 1) * 2;
  w.writeUvarint(Math.floor(even / TWO_32) >>> 0, ((even >>> 0) | (x < 0 ? 1 : 0)) >>> 0);
}

/** Writes a timestamp delta-of-delta in the smallest bucket that holds it. */
function writeDod(w: BitWriter, dod: number): void {
  if (dod === 0) {
    w.writeBit(0);
  } else if (dod >= -8191 && dod <= 8192) {
    w.writeBits(0b10, 2);
    w.writeBits(dod & 0x3fff, 14);
  } else if (dod >= -65535 && dod <= 65536) {
    w.writeBits(0b110, 3);
    w.writeBits(dod & 0x1ffff, 17);
  } else if (dod >= -524287 && dod <= 524288) {
    w.writeBits(0b1110, 4);
    w.writeBits(dod & 0xfffff, 20);
  } else {
    w.writeBits(0b1111, 4);
    w.writeBits64(Math.floor(dod / TWO_32) >>> 0, dod >>> 0, 64);
  }
}

/**
 * Iterates an XOR chunk. Its state is plain numbers (the value as two 32-bit halves), so iteration
 * allocates nothing; `reset` lets one iterator serve many chunks. It extends BitReader so that the bit
 * position lives on the iterator itself: one object, no indirection on the per-sample path.
 */
export class XORIterator extends BitReader implements SampleIterator {
  private numTotal = 0;
  private numRead = 0;
  private t = 0;
  private val = 0;
  private error: CorruptionError | null = null;
  /**
   * The current value's bits (as int32, which V8 keeps unboxed), its window, and the last timestamp
   * delta; XORChunk.appender continues from them.
   */
  valueHi = 0;
  valueLo = 0;
  tDelta = 0;
  leading = 0;
  trailing = 0;

  override reset(bytes: Uint8Array): void {
    this.error = null;
    this.numRead = 0;
    this.t = 0;
    this.val = 0;
    this.valueHi = 0;
    this.valueLo = 0;
    this.tDelta = 0;
    this.leading = 0;
    this.trailing = 0;
    if (bytes.length < 2) {
      this.numTotal = 0;
      this.error = new CorruptionError('XOR chunk', 0, `chunk of ${bytes.length} bytes is shorter than its 2-byte sample count`);
      return;
    }
    this.numTotal = (bytes[0] << 8) | bytes[1];
    super.reset(bytes, 2);
  }

  /** Bit position after the samples read so far (where an appender continues). */
  get bitPos(): number {
    return this.pos;
  }

  next(): ValueType {
    const n = this.numRead;
    if (n === this.numTotal || this.error !== null) return ValueType.None;
    if (n >= 2) {
      const w = this.peek32();
      if (w < 0x40000000) {
        // '0' '0': same delta, same value (most samples of regular, slowly changing series).
        this.pos += 2;
        this.t += this.tDelta;
        if (this.pos > this.end) return this.fail('unexpected end of data');
        this.numRead = n + 1;
        return ValueType.Float;
      }
      // dod := '0' | '10' 14 bits | '110' 17 bits | '1110' 20 bits | '1111' 64 bits
      if (w < 0x80000000) {
        this.pos += 1;
      } else if (w < 0xc0000000) {
        this.pos += 16;
        const u = (w >>> 16) & 0x3fff;
        this.tDelta += u > 0x2000 ? u - 0x4000 : u;
      } else {
        this.readLongDod(w);
      }
    } else if (n === 0) {
      return this.readFirst();
    } else {
      if (!this.readUvarint()) return this.fail('uvarint overflow in the first timestamp delta');
      // Prometheus stores a negative first delta as its 64-bit two's complement.
      this.tDelta = (varHi | 0) * TWO_32 + varLo;
    }
    this.t += this.tDelta;
    if (!this.readValue()) return ValueType.None;
    if (this.pos > this.end) return this.fail('unexpected end of data');
    this.numRead = n + 1;
    return ValueType.Float;
  }

  private readFirst(): ValueType {
    if (!this.readUvarint()) return this.fail('varint overflow in the first timestamp');
    // ZigZag: an odd code 2m+1 is −m−1.
    const half = varHi * 2 ** 31 + (varLo >>> 1);
    this.t = varLo & 1 ? -half - 1 : half;
    this.valueHi = this.readBits(32) | 0;
    this.valueLo = this.readBits(32) | 0;
    this.val = floatFromBits(this.valueHi, this.valueLo);
    if (this.pos > this.end) return this.fail('unexpected end of data');
    this.numRead = 1;
    return ValueType.Float;
  }

  /** Reads a delta-of-delta of the 17-, 20- or 64-bit form; `w` = peek32(). Kept out of next() so that inlines. */
  private readLongDod(w: number): void {
    let u: number;
    if (w < 0xe0000000) {
      this.pos += 20;
      u = (w >>> 12) & 0x1ffff;
      this.tDelta += u > 0x10000 ? u - 0x20000 : u;
    } else if (w < 0xf0000000) {
      this.pos += 24;
      u = (w >>> 8) & 0xfffff;
      this.tDelta += u > 0x80000 ? u - 0x100000 : u;
    } else {
      this.pos += 4;
      this.tDelta += (this.readBits(32) | 0) * TWO_32 + this.readBits(32);
    }
  }

  /** Reads a value; false on corrupt data. */
  private readValue(): boolean {
    const bad = readXORValue(this, this);
    if (bad !== null) {
      this.fail(bad);
      return false;
    }
    this.val = floatFromBits(this.valueHi, this.valueLo);
    return true;
  }

  /** Reads a uvarint at the (byte-aligned) position into varHi:varLo; false if it does not end within 10 bytes. */
  private readUvarint(): boolean {
    const p = this.pos >>> 3;
    if (!readUvarint(this.buf, p)) {
      this.pos = (p + 10) * 8;
      return false;
    }
    this.pos = varEnd * 8;
    return true;
  }

  private fail(reason: string): ValueType {
    this.error = xorCorruption(this.pos, this.end, reason, this.numRead, this.numTotal);
    return ValueType.None;
  }

  seek(t: number): ValueType {
    if (this.error !== null) return ValueType.None;
    while (this.numRead === 0 || t > this.t) {
      if (this.next() === ValueType.None) return ValueType.None;
    }
    return ValueType.Float;
  }

  atT(): number {
    return this.t;
  }

  /** The value, kept as a number since it was decoded (V8 keeps NaN payloads in object fields). */
  atFloat(): number {
    return this.val;
  }

  err(): Error | null {
    return this.error;
  }
}
