/**
 * Variable-width integers in a bit stream, bit-exact with Prometheus' tsdb/chunkenc/varbit.go, for the
 * histogram chunk encodings (histogram.ts, floathistogram.ts, histogram-meta.ts).
 *
 *   varbit := '0'                  the value 0
 *           | '10'       3 bits
 *           | '110'      6 bits
 *           | '1110'     9 bits
 *           | '11110'    12 bits
 *           | '111110'   18 bits
 *           | '1111110'  25 bits
 *           | '11111110' 56 bits
 *           | '11111111' 64 bits
 *
 * varbit_int (signed): an n-bit field holds −(2^(n−1)−1) … +2^(n−1) in two's complement; a read
 * u > 2^(n−1) means u − 2^n (the asymmetric rule of the XOR timestamp dod). The encoder picks the
 * first form whose range holds the value.
 * varbit_uint (unsigned): an n-bit field holds 0 … 2^n − 1.
 *
 * Values are JavaScript numbers: exact for safe integers (|x| < 2^53), which is what chunks written
 * from real data hold; a 56- or 64-bit field beyond that is read rounded to the nearest double.
 */
import type { BitReader, BitWriter } from './bstream.js';
import { CorruptionError } from '../encoding/decbuf.js';

const TWO_32 = 2 ** 32;

/** Payload widths after 1…8 leading one bits of the prefix ('10' → 3 bits … '11111110' → 56 bits). */
const WIDTHS = [3, 6, 9, 12, 18, 25, 56];

/** Writes the low 64 bits of safe integer `x` (negative: two's complement) in the last `n` (33…64) bits. */
function writeWide(w: BitWriter, x: number, n: number): void {
  w.writeBits64(Math.floor(x / TWO_32) >>> 0, x >>> 0, n);
}

/** Writes x with the shortest prefix whose payload width `fits` it (0 as a single 0 bit, 64 bits after '11111111'). */
function writeVarbit(w: BitWriter, x: number, fits: (x: number, bits: number) => boolean): void {
  if (x === 0) {
    w.writeBit(0);
    return;
  }
  for (let i = 0; i < WIDTHS.length; i++) {
    const n = WIDTHS[i] as number;
    if (fits(x, n)) {
      // Prefix: i + 1 one bits, then a zero.
      w.writeBits(((1 << (i + 2)) - 2) & 0xff, i + 2);
      if (n > 32) writeWide(w, x, n);
      else w.writeBits(x, n);
      return;
    }
  }
  w.writeBits(0xff, 8);
  writeWide(w, x, 64);
}

/** An n-bit signed payload holds −(2^(n−1)−1) … 2^(n−1), as the XOR timestamps' dod. */
const fitsSigned = (x: number, n: number): boolean => x > -(2 ** (n - 1)) && x <= 2 ** (n - 1);
const fitsUnsigned = (x: number, n: number): boolean => x < 2 ** n;

export function writeVarbitInt(w: BitWriter, x: number): void {
  writeVarbit(w, x, fitsSigned);
}

export function writeVarbitUint(w: BitWriter, x: number): void {
  writeVarbit(w, x, fitsUnsigned);
}

/**
 * Throws a CorruptionError if the reader is past the end of its data. Reads check this before they
 * start, so they never run further than one field (at most 9 bytes) into the reader's zero padding.
 */
export function checkEnd(r: BitReader): void {
  if (r.pos > r.end) throw new CorruptionError('bit stream', r.end >>> 3, 'unexpected end of data');
}

/** Reads a prefix; returns the payload width (0 for the value 0, 64 for '11111111'). */
function readPrefix(r: BitReader): number {
  checkEnd(r);
  // The number of leading one bits, up to 8.
  const ones = Math.min(8, Math.clz32(~r.peek32()));
  if (ones === 8) {
    r.pos += 8;
    return 64;
  }
  r.pos += ones + 1;
  return ones === 0 ? 0 : (WIDTHS[ones - 1] as number);
}

export function readVarbitInt(r: BitReader): number {
  const n = readPrefix(r);
  if (n === 0) return 0;
  if (n <= 32) {
    const u = r.readBits(n);
    return u > 2 ** (n - 1) ? u - 2 ** n : u;
  }
  // The high part signed, so that negative values come out exact: u > 2^(n−1) means u − 2^n.
  const hiBits = n - 32;
  let hi = r.readBits(hiBits);
  const lo = r.readBits(32);
  const half = 2 ** (hiBits - 1);
  if (hi > half || (hi === half && lo > 0)) hi -= 2 ** hiBits;
  return hi * TWO_32 + lo;
}

export function readVarbitUint(r: BitReader): number {
  const n = readPrefix(r);
  if (n === 0) return 0;
  if (n <= 32) return r.readBits(n);
  const hi = r.readBits(n - 32);
  return hi * TWO_32 + r.readBits(32);
}
