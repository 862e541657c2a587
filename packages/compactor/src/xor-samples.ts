import { CorruptionError, isDeleted, type Interval } from '@strata/tsdb';

/**
 * Raw samples of XOR chunks decoded in bulk for downsampling, bit-exact with tsdb's XORIterator (the
 * format is described in tsdb's chunkenc/xor.ts), but in one loop whose state is all locals and which
 * writes each value's bits straight into the output array: XORIterator keeps its state on the object
 * and goes through a call per sample, which made decoding about half of downsampling's time.
 */

/** Index of a float's high and low 32-bit word in a Uint32Array view, by platform endianness. */
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
const LO = 1 - HI;
const TWO_32 = 2 ** 32;
/** Zero bytes behind the copy of a chunk: more than the longest read past the end of one sample. */
const PADDING = 32;

/** The chunk being decoded, copied with zero padding behind so that reads past its end stay in bounds. */
let scratch = new Uint8Array(4096);
let scratchView = new DataView(scratch.buffer);
/** The 32-bit view of the last values array written, kept while that array is. */
let valuesOf: Float64Array = new Float64Array(0);
let valueBits: Uint32Array = new Uint32Array(0);

/** The 32 bits of `view` from bit `pos` on, as an unsigned number. */
function peek32(view: DataView, pos: number): number {
  const i = pos >>> 3;
  const off = pos & 7;
  return ((view.getUint32(i) << off) | (view.getUint8(i + 4) >>> (8 - off))) >>> 0;
}

/** The result of readUvarint: a 64-bit value as two unsigned 32-bit halves, and the byte after it. */
let varHi = 0;
let varLo = 0;
let varEnd = 0;

/** Reads an unsigned LEB128 varint of up to 10 bytes at byte `p`; false if it does not end within 10 bytes. */
function readUvarint(b: Uint8Array, p: number): boolean {
  let lo = 0;
  let hi = 0;
  for (let shift = 0; shift < 70; shift += 7) {
    const x = b[p++]!;
    const low7 = x & 0x7f;
    if (shift < 32) {
      lo |= low7 << shift;
      if (shift > 25) hi |= low7 >>> (32 - shift);
    } else {
      hi |= low7 << (shift - 32);
    }
    if (x < 0x80) {
      varHi = hi >>> 0;
      varLo = lo >>> 0;
      varEnd = p;
      return true;
    }
  }
  return false;
}

function corrupt(pos: number, end: number, reason: string, sample: number, total: number): CorruptionError {
  // Past the end, garbage may look like anything: report the truncation.
  if (pos > end) reason = 'unexpected end of data';
  return new CorruptionError('XOR chunk', Math.min(pos, end) >>> 3, `${reason} reading sample ${sample} of ${total}`);
}

/**
 * Appends the samples of the XOR chunk `data` (BE16 count, then the bit stream) to `ts`/`vs` from
 * index `at` and returns the index after the last one appended. As downsampling reads raw data, it
 * drops NaNs (stale markers), samples going back in time (before ts[at − 1]) and `deleted` ones. The
 * caller makes room for the chunk's sample count. Throws a CorruptionError if the chunk does not
 * decode, as XORIterator reports it.
 */
export function appendXORSamples(data: Uint8Array, ts: Float64Array, vs: Float64Array, at: number, deleted?: readonly Interval[]): number {
  const len = data.length;
  if (len < 2) throw new CorruptionError('XOR chunk', 0, `chunk of ${len} bytes is shorter than its 2-byte sample count`);
  const total = (data[0]! << 8) | data[1]!;
  if (scratch.length < len + PADDING) {
    scratch = new Uint8Array(Math.max(len + PADDING, scratch.length * 2));
    scratchView = new DataView(scratch.buffer);
  }
  const b = scratch;
  const view = scratchView;
  b.set(data);
  b.fill(0, len, len + PADDING);
  if (valuesOf !== vs) {
    valuesOf = vs;
    valueBits = new Uint32Array(vs.buffer, vs.byteOffset, vs.length * 2);
  }
  const bits = valueBits;
  const end = len * 8;
  let last = at > 0 ? ts[at - 1]! : Number.NEGATIVE_INFINITY;
  let k = at;
  let pos = 16;
  let t = 0;
  let tDelta = 0;
  let vHi = 0;
  let vLo = 0;
  // The decoder's value window starts as (0, 0): a '10' before any '11' reads 64 bits.
  let leading = 0;
  let trailing = 0;
  // The word starting at the value's first bit, and how many of its bits are the stream's: after a
  // one-bit delta-of-delta, the word peeked for it, so that most values need one read less.
  let vw = 0;
  let avail = 32;
  for (let i = 0; i < total; i++) {
    if (i === 0) {
      // ZigZag varint timestamp at byte 2, then the value's 64 bits.
      if (!readUvarint(b, 2)) throw corrupt((2 + 10) * 8, end, 'varint overflow in the first timestamp', i, total);
      const half = varHi * 2 ** 31 + (varLo >>> 1);
      t = varLo & 1 ? -half - 1 : half;
      vHi = view.getInt32(varEnd);
      vLo = view.getInt32(varEnd + 4);
      pos = varEnd * 8 + 64;
    } else {
      if (i === 1) {
        // The first sample ends on a byte boundary; the first delta is a uvarint, a negative one
        // stored as its 64-bit two's complement.
        if (!readUvarint(b, pos >>> 3)) throw corrupt(pos + 10 * 8, end, 'uvarint overflow in the first timestamp delta', i, total);
        tDelta = (varHi | 0) * TWO_32 + varLo;
        pos = varEnd * 8;
        vw = peek32(view, pos);
        avail = 32;
      } else {
        // dod := '0' | '10' 14 bits | '110' 17 bits | '1110' 20 bits | '1111' 64 bits
        const w = peek32(view, pos);
        if (w < 0x80000000) {
          pos += 1;
          vw = (w << 1) >>> 0;
          avail = 31;
        } else {
          if (w < 0xc0000000) {
            pos += 16;
            const u = (w >>> 16) & 0x3fff;
            tDelta += u > 0x2000 ? u - 0x4000 : u;
          } else if (w < 0xe0000000) {
            pos += 20;
            const u = (w >>> 12) & 0x1ffff;
            tDelta += u > 0x10000 ? u - 0x20000 : u;
          } else if (w < 0xf0000000) {
            pos += 24;
            const u = (w >>> 8) & 0xfffff;
            tDelta += u > 0x80000 ? u - 0x100000 : u;
          } else {
            tDelta += (peek32(view, pos + 4) | 0) * TWO_32 + peek32(view, pos + 36);
            pos += 68;
          }
          vw = peek32(view, pos);
          avail = 32;
        }
      }
      t += tDelta;
      // value := '0' (unchanged) | '10' bits (previous window) | '11' lead(5) sig(6) bits
      const w = vw;
      if (w < 0x80000000) {
        pos += 1;
      } else {
        let header: number;
        let sig: number;
        if (w < 0xc0000000) {
          header = 2;
          sig = 64 - leading - trailing;
        } else {
          header = 13;
          leading = (w >>> 25) & 31;
          sig = (w >>> 19) & 63 || 64;
          trailing = 64 - leading - sig;
          if (trailing < 0) throw corrupt(pos + header, end, `invalid value window: ${leading} leading zeros and ${sig} significant bits`, i, total);
        }
        let hi = 0;
        let lo: number;
        if (header + sig <= avail) {
          // The bits are already in the peeked word.
          lo = (w << header) >>> (32 - sig);
        } else if (sig > 32) {
          hi = (header + sig - 32 <= avail ? w << header : peek32(view, pos + header)) >>> (64 - sig);
          lo = peek32(view, pos + header + sig - 32);
        } else {
          lo = peek32(view, pos + header) >>> (32 - sig);
        }
        pos += header + sig;
        if (trailing >= 32) {
          hi = lo << (trailing - 32);
          lo = 0;
        } else if (trailing > 0) {
          hi = (hi << trailing) | (lo >>> (32 - trailing));
          lo <<= trailing;
        }
        vHi ^= hi;
        vLo ^= lo;
      }
    }
    if (pos > end) throw corrupt(pos, end, 'unexpected end of data', i, total);
    // NaN: all exponent bits set and a non-zero mantissa.
    if ((vHi & 0x7ff00000) === 0x7ff00000 && ((vHi & 0xfffff) | vLo) !== 0) continue;
    if (t < last || (deleted !== undefined && isDeleted(deleted, t))) continue;
    ts[k] = t;
    bits[2 * k + HI] = vHi;
    bits[2 * k + LO] = vLo;
    k++;
    last = t;
  }
  return k;
}
