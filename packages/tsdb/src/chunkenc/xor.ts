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
import { BitAccumulator, BitReader, BitWriter, type BitSink } from './bstream.js';
import { Encoding, ValueType, type Chunk, type SampleIterator } from './chunk.js';
import { CorruptionError } from '../encoding/decbuf.js';
import { floatFromBits, floatHi, floatLo } from './floatbits.js';

const MAX_SAMPLES = 0xffff;
const TWO_32 = 2 ** 32;
/** Marks an appender that has not yet written a value window. */
const NO_WINDOW = 0xff;

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
  constructor(
    private readonly w: BitWriter,
    private num: number,
    private t: number,
    private vHi: number,
    private vLo: number,
    private tDelta: number,
    private leading: number,
    private trailing: number,
  ) {}

  append(t: number, v: number): void {
    if (!Number.isSafeInteger(t)) throw new RangeError(`XOR chunk: timestamp ${t} is not a safe integer`);
    if (this.num === MAX_SAMPLES) throw new RangeError(`XOR chunk: full (${MAX_SAMPLES} samples)`);
    const w = this.w;
    w.reserve(40);
    const vHi = floatHi(v);
    const vLo = floatLo(v);
    let tDelta = 0;
    if (this.num === 0) {
      writeVarint64(w, t);
      w.writeBits64(vHi, vLo, 64);
    } else {
      tDelta = t - this.t;
      if (this.num === 1) {
        writeUvarint64(w, tDelta);
      } else {
        writeDod(w, tDelta - this.tDelta);
      }
      this.writeValue(vHi, vLo);
    }
    this.t = t;
    this.vHi = vHi;
    this.vLo = vLo;
    this.tDelta = tDelta;
    this.num++;
    const buf = w.buffer;
    buf[0] = this.num >>> 8;
    buf[1] = this.num & 0xff;
  }

  private writeValue(vHi: number, vLo: number): void {
    const w = this.w;
    const xHi = (vHi ^ this.vHi) >>> 0;
    const xLo = (vLo ^ this.vLo) >>> 0;
    if (xHi === 0 && xLo === 0) {
      w.writeBit(0);
      return;
    }
    w.writeBit(1);
    let leading = xHi !== 0 ? Math.clz32(xHi) : 32 + Math.clz32(xLo);
    const trailing = xLo !== 0 ? ctz32(xLo) : 32 + ctz32(xHi);
    // The leading-zero field has 5 bits.
    if (leading > 31) leading = 31;
    if (this.leading !== NO_WINDOW && leading >= this.leading && trailing >= this.trailing) {
      w.writeBit(0);
      writeShifted(w, xHi, xLo, this.trailing, 64 - this.leading - this.trailing);
      return;
    }
    this.leading = leading;
    this.trailing = trailing;
    const sig = 64 - leading - trailing;
    w.writeBit(1);
    w.writeBits(leading, 5);
    // 64 significant bits do not fit in 6 bits and are written as 0.
    w.writeBits(sig & 63, 6);
    writeShifted(w, xHi, xLo, trailing, sig);
  }
}

const bulk = new BitAccumulator();
/** The platform's index of a float's high and low 32-bit word in a Uint32Array view. */
const HI_WORD = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/**
 * The XOR chunk of samples (ts[i], vs[i]) for i in [from, to), byte for byte what an XORAppender
 * appending them one by one produces, in one pass: values are read as bits straight from the
 * Float64Array and bits gather in an accumulator. For writers that hold a batch of samples in arrays
 * (downsampling). Timestamps must be safe integers. The result is a view of a scratch buffer, valid
 * until the next call: copy it before encoding another chunk.
 */
export function xorSamplesBytes(ts: Float64Array, vs: Float64Array, from: number, to: number): Uint8Array {
  const n = to - from;
  if (n > MAX_SAMPLES) throw new RangeError(`XOR chunk: ${n} samples do not fit (at most ${MAX_SAMPLES})`);
  const bits = new Uint32Array(vs.buffer, vs.byteOffset, vs.length * 2);
  const w = bulk;
  // At most 10 bytes of varint and 8 of value for the first sample, 9 + 10 bytes (68 + 77 bits) for the others.
  w.begin(2 + 20 * n + 8);
  w.writeBits(n >>> 8, 8);
  w.writeBits(n & 0xff, 8);
  // The count is a header, not a field of the stream: it leaves no spare byte (see BitWriter).
  w.spare = false;
  let prevT = 0;
  let tDelta = 0;
  let vHi = 0;
  let vLo = 0;
  let leading = NO_WINDOW;
  let trailing = 0;
  for (let i = from; i < to; i++) {
    const t = ts[i]!;
    if (!Number.isSafeInteger(t)) throw new RangeError(`XOR chunk: timestamp ${t} is not a safe integer`);
    const hi = bits[2 * i + HI_WORD]!;
    const lo = bits[2 * i + 1 - HI_WORD]!;
    if (i === from) {
      const even = t >= 0 ? t * 2 : (-t - 1) * 2;
      writeUvarintHiLo(w, Math.floor(even / TWO_32) >>> 0, ((even >>> 0) | (t < 0 ? 1 : 0)) >>> 0);
      w.writeBits64(hi, lo, 64);
    } else {
      const d = t - prevT;
      // The delta-of-delta field (fv, fn bits) is held back and written with the value's first bits:
      // fewer, longer writes. Fields are as in XORAppender; `spare` is set as its last field leaves it.
      let fv = 0;
      let fn = 0;
      if (i === from + 1) {
        writeUvarintHiLo(w, Math.floor(d / TWO_32) >>> 0, d >>> 0);
      } else {
        const dod = d - tDelta;
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
          w.writeBits(0b1111, 4);
          w.writeBits64(Math.floor(dod / TWO_32) >>> 0, dod >>> 0, 64);
        }
      }
      tDelta = d;
      const xHi = (hi ^ vHi) >>> 0;
      const xLo = (lo ^ vLo) >>> 0;
      if (xHi === 0 && xLo === 0) {
        w.writeBits(fv << 1, fn + 1);
        w.spare = false;
      } else {
        let lead = xHi !== 0 ? Math.clz32(xHi) : 32 + Math.clz32(xLo);
        const trail = xLo !== 0 ? ctz32(xLo) : 32 + ctz32(xHi);
        if (lead > 31) lead = 31;
        // Header: '10' (the previous window) or '11' lead(5) sig(6) (a new one, 64 written as 0).
        let hv: number;
        let hn: number;
        if (leading !== NO_WINDOW && lead >= leading && trail >= trailing) {
          hv = 0b10;
          hn = 2;
        } else {
          leading = lead;
          trailing = trail;
          hv = (0b11 << 11) | (lead << 6) | ((64 - lead - trail) & 63);
          hn = 13;
        }
        const n = 64 - leading - trailing;
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
        if (fn + hn + n <= 32) {
          w.writeBits((((fv << hn) | hv) << n) | sLo, fn + hn + n);
        } else {
          if (fn > 0) w.writeBits(fv, fn);
          if (hn + n <= 32) w.writeBits((hv << n) | sLo, hn + n);
          else {
            w.writeBits(hv, hn);
            w.writeBits64(sHi, sLo, n);
          }
        }
        w.spare = (n & 7) === 0;
      }
    }
    prevT = t;
    vHi = hi;
    vLo = lo;
  }
  return w.finish();
}

function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
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
  writeUvarintHiLo(w, Math.floor(x / TWO_32) >>> 0, x >>> 0);
}

/** Writes the ZigZag varint of `x` (0, −1, 1, −2 … → 0, 1, 2, 3 …), exact for every safe integer. */
function writeVarint64(w: BitWriter, x: number): void {
  // For x < 0 the code is 2(−x−1)+1; 2(−x−1) < 2^54 is exact, its low bit is 0.
  const even = x >= 0 ? x * 2 : (-x - 1) * 2;
  writeUvarintHiLo(w, Math.floor(even / TWO_32) >>> 0, ((even >>> 0) | (x < 0 ? 1 : 0)) >>> 0);
}

/** Writes the 64-bit value hi:lo as an unsigned LEB128 varint, byte by byte as Prometheus does. */
function writeUvarintHiLo(w: BitSink, hi: number, lo: number): void {
  while (hi !== 0 || lo >= 0x80) {
    w.writeBits((lo & 0x7f) | 0x80, 8);
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  w.writeBits(lo, 8);
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
      if (!readUvarint64(this)) return this.fail('uvarint overflow in the first timestamp delta');
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
    if (!readUvarint64(this)) return this.fail('varint overflow in the first timestamp');
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

  /** Reads a value (value := '0' | '10' bits | '11' lead(5) sig(6) bits); false on corrupt data. */
  private readValue(): boolean {
    const w = this.peek32();
    if (w < 0x80000000) {
      this.pos += 1;
      return true;
    }
    let trailing: number;
    let sig: number;
    let header: number;
    if (w < 0xc0000000) {
      header = 2;
      trailing = this.trailing;
      sig = 64 - this.leading - trailing;
    } else {
      header = 13;
      const leading = (w >>> 25) & 31;
      sig = (w >>> 19) & 63 || 64;
      trailing = 64 - leading - sig;
      if (trailing < 0) {
        this.pos += header;
        this.fail(`invalid value window: ${leading} leading zeros and ${sig} significant bits`);
        return false;
      }
      this.leading = leading;
      this.trailing = trailing;
    }
    let hi = 0;
    let lo: number;
    if (header + sig <= 32) {
      // The bits are already in the peeked word.
      lo = (w << header) >>> (32 - sig);
      this.pos += header + sig;
    } else {
      this.pos += header;
      if (sig > 32) {
        hi = this.readBits(sig - 32);
        lo = this.readBits(32);
      } else {
        lo = this.readBits(sig);
      }
    }
    if (trailing >= 32) {
      hi = lo << (trailing - 32);
      lo = 0;
    } else if (trailing > 0) {
      hi = (hi << trailing) | (lo >>> (32 - trailing));
      lo <<= trailing;
    }
    this.valueHi ^= hi;
    this.valueLo ^= lo;
    this.val = floatFromBits(this.valueHi, this.valueLo);
    return true;
  }

  private fail(reason: string): ValueType {
    // Past the end, garbage may look like anything: report the truncation.
    if (this.pos > this.end) reason = 'unexpected end of data';
    this.error = new CorruptionError('XOR chunk', Math.min(this.pos, this.end) >>> 3, `${reason} reading sample ${this.numRead} of ${this.numTotal}`);
    return ValueType.None;
  }

  /**
   * Reads the remaining samples into ts[at…] and vs[at…] (the caller makes room: numSamples() at
   * most) and returns the index after the last; err() tells whether the chunk ended early. For bulk
   * readers: the loop runs inside the iterator, with no call per sample.
   */
  readInto(ts: Float64Array, vs: Float64Array, at: number): number {
    while (this.next() === ValueType.Float) {
      ts[at] = this.t;
      vs[at++] = this.val;
    }
    return at;
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

/** The 64-bit result of readUvarint64, as two unsigned 32-bit halves. */
let varHi = 0;
let varLo = 0;

/** Reads an unsigned LEB128 varint of up to 10 bytes into varHi:varLo; false if it does not end within 10 bytes. */
function readUvarint64(r: BitReader): boolean {
  let lo = 0;
  let hi = 0;
  for (let shift = 0; shift < 70; shift += 7) {
    const b = r.readByte();
    const low7 = b & 0x7f;
    if (shift < 32) {
      lo |= low7 << shift;
      if (shift > 25) hi |= low7 >>> (32 - shift);
    } else {
      hi |= low7 << (shift - 32);
    }
    if (b < 0x80) {
      varHi = hi >>> 0;
      varLo = lo >>> 0;
      return true;
    }
  }
  return false;
}
