/**
 * XOR chunks (format: xor.ts) decoded into and encoded from arrays of samples in one loop each, for
 * readers and writers that hold batches (downsampling). Bit-exact with XORIterator and XORAppender.
 * Those keep their state on an object and go through a call per sample, as a resumable iterator
 * (seek, err() after a partial read, an appender continuing a chunk) must; here all state is locals,
 * values move as raw bits through a Uint32Array view of the Float64Array, and the encoder merges each
 * sample's fields into as few bit writes as fit. Both sides share this module's varint reader,
 * corruption errors and constants, and bstream's varint writer.
 */
import { BitAccumulator, putUvarint64 } from './bstream.js';
import { CorruptionError } from '../encoding/decbuf.js';
import { STALE_NAN_HI, STALE_NAN_LO } from './floatbits.js';
import { isDeleted, type Interval } from '../tombstones/tombstones.js';

export const MAX_SAMPLES = 0xffff;
export const TWO_32 = 2 ** 32;
/** Marks an encoder that has not yet written a value window. */
export const NO_WINDOW = 0xff;
/** Index of a float's high and low 32-bit word in a Uint32Array view, by platform endianness. */
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
const LO = 1 - HI;

export function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** The result of readUvarint: a 64-bit value as two unsigned 32-bit halves, and the byte after it. */
export let varHi = 0;
export let varLo = 0;
export let varEnd = 0;

/**
 * Reads an unsigned LEB128 varint of up to 10 bytes at byte `p` of `b` into varHi:varLo and varEnd;
 * false if it does not end within 10 bytes. `b` must hold 10 bytes from `p` (readers pad their copy).
 */
export function readUvarint(b: Uint8Array, p: number): boolean {
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

/** The error of a sample that does not decode; past the end, garbage may look like anything, so it reports the truncation. */
export function xorCorruption(pos: number, end: number, reason: string, sample: number, total: number): CorruptionError {
  if (pos > end) reason = 'unexpected end of data';
  return new CorruptionError('XOR chunk', Math.min(pos, end) >>> 3, `${reason} reading sample ${sample} of ${total}`);
}

/** Which samples appendXORSamples leaves out. */
export interface XORSampleFilter {
  /** Samples before mint; decoding stops at the first sample after maxt (a chunk's timestamps ascend). */
  mint?: number;
  maxt?: number;
  /** NaNs, stale markers included. */
  dropNaN?: boolean;
  /** Stale markers (Prometheus' one NaN bit pattern); other NaNs are kept. */
  dropStale?: boolean;
  /** Samples before the last one kept (before ts[at − 1] at the start). */
  dropBackwards?: boolean;
  /** Samples deleted by these tombstone intervals. */
  deleted?: readonly Interval[] | undefined;
}

/** Zero bytes behind the copy of a chunk: more than the longest read past the end of one sample. */
const PADDING = 32;
/** The chunk being decoded, copied with zero padding behind so that reads past its end stay in bounds. */
let scratch = new Uint8Array(4096);
let scratchView = new DataView(scratch.buffer);
/**
 * The 32-bit views of the last values arrays written, kept while those arrays are: readers that move
 * between a few arrays (a merge of two replicas writes their own two and the reader's) make no view
 * per chunk. Newest first; the oldest is dropped for a new one.
 */
const VIEWS = 4;
const viewed: Float64Array[] = [];
const views: Uint32Array[] = [];

function bitsOf(vs: Float64Array): Uint32Array {
  for (let i = 0; i < viewed.length; i++) if (viewed[i] === vs) return views[i]!;
  if (viewed.length === VIEWS) {
    viewed.pop();
    views.pop();
  }
  const bits = new Uint32Array(vs.buffer, vs.byteOffset, vs.length * 2);
  viewed.unshift(vs);
  views.unshift(bits);
  return bits;
}

/** The 32 bits of `view` from bit `pos` on, as an unsigned number. */
function peek32(view: DataView, pos: number): number {
  const i = pos >>> 3;
  const off = pos & 7;
  return ((view.getUint32(i) << off) | (view.getUint8(i + 4) >>> (8 - off))) >>> 0;
}

/**
 * Appends the samples of the XOR chunk `data` (BE16 count, then the bit stream) to `ts`/`vs` from
 * index `at`, less those `filter` drops, and returns the index after the last one appended. The
 * caller makes room for the chunk's sample count. Throws a CorruptionError if the chunk does not
 * decode, as XORIterator reports it.
 */
export function appendXORSamples(data: Uint8Array, ts: Float64Array, vs: Float64Array, at: number, filter: XORSampleFilter = {}): number {
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
  const bits = bitsOf(vs);
  const mint = filter.mint ?? Number.NEGATIVE_INFINITY;
  const maxt = filter.maxt ?? Number.POSITIVE_INFINITY;
  const dropNaN = filter.dropNaN === true;
  const dropStale = filter.dropStale === true;
  const dropBackwards = filter.dropBackwards === true;
  const deleted = filter.deleted;
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
  let nan = false;
  for (let i = 0; i < total; i++) {
    if (i === 0) {
      // ZigZag varint timestamp at byte 2, then the value's 64 bits.
      if (!readUvarint(b, 2)) throw xorCorruption((2 + 10) * 8, end, 'varint overflow in the first timestamp', i, total);
      const half = varHi * 2 ** 31 + (varLo >>> 1);
      t = varLo & 1 ? -half - 1 : half;
      vHi = view.getInt32(varEnd);
      vLo = view.getInt32(varEnd + 4);
      pos = varEnd * 8 + 64;
    } else {
      if (i === 1) {
        // The first sample ends on a byte boundary; the first delta is a uvarint, a negative one
        // stored as its 64-bit two's complement.
        if (!readUvarint(b, pos >>> 3)) throw xorCorruption(pos + 10 * 8, end, 'uvarint overflow in the first timestamp delta', i, total);
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
          if (trailing < 0) throw xorCorruption(pos + header, end, `invalid value window: ${leading} leading zeros and ${sig} significant bits`, i, total);
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
    if (pos > end) throw xorCorruption(pos, end, 'unexpected end of data', i, total);
    if (t > maxt) break;
    if (t < mint) continue;
    // NaN: all exponent bits set and a non-zero mantissa. The filter's flags are tested after what
    // is rare, so that the common path is two comparisons.
    if ((vHi & 0x7ff00000) === 0x7ff00000 && ((vHi & 0xfffff) | vLo) !== 0) {
      if (dropNaN || (dropStale && vHi === STALE_NAN_HI && vLo === STALE_NAN_LO)) continue;
      nan = true;
    }
    if ((t < last && dropBackwards) || (deleted !== undefined && isDeleted(deleted, t))) continue;
    ts[k] = t;
    bits[2 * k + HI] = vHi;
    bits[2 * k + LO] = vLo;
    k++;
    last = t;
  }
  appendedNaN = nan;
  return k;
}

let appendedNaN = false;

/**
 * Whether the last appendXORSamples call may have appended a NaN (a stale marker or another value):
 * a reader that drops stale markers later need not look for them in samples decoded without one.
 */
export function xorAppendedNaN(): boolean {
  return appendedNaN;
}

/** Upper bound of the XOR chunk of n samples: the count, 18 bytes for the first sample, 19 (145 bits) for each other. */
export function xorBound(n: number): number {
  return 2 + 20 * n;
}

function timestamp(ts: Float64Array, i: number): number {
  const t = ts[i]!;
  if (!Number.isSafeInteger(t)) throw new RangeError(`XOR chunk: timestamp ${t} is not a safe integer`);
  return t;
}

/**
 * Writes the XOR chunk (BE16 count, then the bit stream, closed) of samples (ts[i], the float whose
 * bits are bits[2i…2i+1] in platform order) for i in [from, to) into `w`, which must have just been
 * begun or attached and have room for xorBound(to − from) bytes; returns the byte position after it.
 * Byte for byte what an XORAppender appending them one by one writes.
 */
export function putXORSamples(w: BitAccumulator, ts: Float64Array, bits: Uint32Array, from: number, to: number): number {
  const n = to - from;
  if (n > MAX_SAMPLES) throw new RangeError(`XOR chunk: ${n} samples do not fit (at most ${MAX_SAMPLES})`);
  // Up to the second sample's value, the stream is whole bytes, written directly: the count (a
  // header, not a field of the stream), the first sample (a ZigZag varint timestamp and the value's
  // 64 bits), then the first timestamp delta as a uvarint (a negative one as its 64-bit two's complement).
  const buf = w.buf;
  let p = w.p;
  buf[p++] = n >>> 8;
  buf[p++] = n & 0xff;
  let prevT = 0;
  let tDelta = 0;
  let vHi = 0;
  let vLo = 0;
  if (n > 0) {
    prevT = timestamp(ts, from);
    const even = prevT >= 0 ? prevT * 2 : (-prevT - 1) * 2;
    p = putUvarint64(buf, p, Math.floor(even / TWO_32) >>> 0, ((even >>> 0) | (prevT < 0 ? 1 : 0)) >>> 0);
    vHi = bits[2 * from + HI]!;
    vLo = bits[2 * from + LO]!;
    w.view.setUint32(p, vHi);
    w.view.setUint32(p + 4, vLo);
    p += 8;
  }
  if (n > 1) {
    const t = timestamp(ts, from + 1);
    tDelta = t - prevT;
    p = putUvarint64(buf, p, Math.floor(tDelta / TWO_32) >>> 0, tDelta >>> 0);
    prevT = t;
  }
  w.p = p;
  // A stream that ends after a whole-byte field gets Prometheus' spare byte (see BitWriter).
  let spare = n > 0;
  let leading = NO_WINDOW;
  let trailing = 0;
  for (let i = from + 1; i < to; i++) {
    // The delta-of-delta field (fv, fn bits), held back to be written with the value's first bits.
    let fv = 0;
    let fn = 0;
    if (i > from + 1) {
      const t = timestamp(ts, i);
      const d = t - prevT;
      const dod = d - tDelta;
      tDelta = d;
      prevT = t;
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
  w.spare = spare;
  return w.end();
}

const bulk = new BitAccumulator();

/**
 * The XOR chunk of samples (ts[i], vs[i]) for i in [from, to), byte for byte what an XORAppender
 * appending them one by one produces (see putXORSamples). Timestamps must be safe integers. The
 * result is a view of a scratch buffer, valid until the next call: copy it before encoding another chunk.
 */
export function xorSamplesBytes(ts: Float64Array, vs: Float64Array, from: number, to: number): Uint8Array {
  const bits = new Uint32Array(vs.buffer, vs.byteOffset, vs.length * 2);
  bulk.begin(xorBound(Math.max(0, to - from)));
  return bulk.buf.subarray(0, putXORSamples(bulk, ts, bits, from, to));
}
