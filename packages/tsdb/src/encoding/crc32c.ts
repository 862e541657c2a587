/**
 * CRC-32C (Castagnoli: reflected polynomial 0x82F63B78, init and final XOR 0xFFFFFFFF), the checksum
 * of every TSDB table, index series entry, chunk and remote-read frame. Slicing-by-8 for throughput.
 */
import { createRequire } from 'node:module';

/**
 * `@node-rs/crc32` (SSE 4.2 / ARM CRC instructions) checks long inputs 4–5× faster than the tables below,
 * but each call into it costs about 180 ns, which loses on short ones. Where its prebuilt binary is
 * missing the tables serve every length.
 */
type NativeCrc32c = (data: Uint8Array, crc?: number) => number;
const native: NativeCrc32c | undefined = (() => {
  try {
    return (createRequire(import.meta.url)('@node-rs/crc32') as { crc32c: NativeCrc32c }).crc32c;
  } catch {
    return undefined;
  }
})();
/**
 * Measured crossover of the native call's overhead against the tables (2,000 in-cache inputs per size:
 * equal at 128 bytes, native 15% faster at 192, 2× at 500, a typical chunk of a changing counter).
 */
const NATIVE_MIN_LENGTH = 192;

const POLY = 0x82f63b78;
const TABLES: Uint32Array[] = (() => {
  const t: Uint32Array[] = [];
  const t0 = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t0[i] = c >>> 0;
  }
  t.push(t0);
  for (let s = 1; s < 8; s++) {
    const prev = t[s - 1] as Uint32Array;
    const cur = new Uint32Array(256);
    for (let i = 0; i < 256; i++) cur[i] = ((prev[i] as number) >>> 8) ^ (t0[(prev[i] as number) & 0xff] as number);
    t.push(cur);
  }
  return t;
})();
const [T0, T1, T2, T3, T4, T5, T6, T7] = TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];

// The 8-byte step reads two 32-bit words through an Int32Array view of the input's buffer (about twice
// as fast as assembling them from bytes). The view of the last buffer seen is kept, as consecutive calls
// mostly check pieces of one buffer (a segment file, a read, Node's Buffer pool); only little-endian
// platforms read words in the byte order the tables expect.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/**
 * Word views of the last two buffers read: readers alternate between two (an index's series entries
 * and a chunk segment's records), and a view over a whole buffer costs more than a short CRC.
 */
let wordsBuffer: ArrayBufferLike | undefined;
let words: Int32Array<ArrayBufferLike> = new Int32Array(0);
let otherBuffer: ArrayBufferLike | undefined;
let otherWords: Int32Array<ArrayBufferLike> = new Int32Array(0);

function wordsOf(buffer: ArrayBufferLike): Int32Array<ArrayBufferLike> {
  if (buffer === wordsBuffer) return words;
  const swapBuffer = wordsBuffer;
  const swapWords = words;
  if (buffer === otherBuffer) {
    words = otherWords;
  } else {
    words = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
  }
  wordsBuffer = buffer;
  otherBuffer = swapBuffer;
  otherWords = swapWords;
  return words;
}

/** Continues a CRC-32C over `data[start, end)`; pass the previous result as `crc` to chain. */
export function crc32c(data: Uint8Array, crc = 0, start = 0, end = data.length): number {
  if (native !== undefined && end - start >= NATIVE_MIN_LENGTH) {
    // A plain view: subarray() of a Buffer builds a FastBuffer, a large part of a short input's cost.
    return native(start === 0 && end === data.length ? data : new Uint8Array(data.buffer, data.byteOffset + start, end - start), crc) >>> 0;
  }
  return crc32cTables(data, crc, start, end);
}

/** The table-driven CRC-32C; exported for tests that hold the native one against it. */
export function crc32cTables(data: Uint8Array, crc = 0, start = 0, end = data.length): number {
  let c = ~crc >>> 0;
  let i = start;
  if (LITTLE_ENDIAN && end - start >= 16) {
    for (; ((data.byteOffset + i) & 3) !== 0; i++) c = (T0[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
    const w = wordsOf(data.buffer);
    const steps = (end - i) >>> 3;
    let k = (data.byteOffset + i) >>> 2;
    for (const kEnd = k + steps * 2; k < kEnd; k += 2) {
      c ^= w[k] as number;
      const hi = w[k + 1] as number;
      c =
        (T7[c & 0xff] as number) ^
        (T6[(c >>> 8) & 0xff] as number) ^
        (T5[(c >>> 16) & 0xff] as number) ^
        (T4[c >>> 24] as number) ^
        (T3[hi & 0xff] as number) ^
        (T2[(hi >>> 8) & 0xff] as number) ^
        (T1[(hi >>> 16) & 0xff] as number) ^
        (T0[hi >>> 24] as number);
    }
    i += steps * 8;
  }
  for (; i < end; i++) c = (T0[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * spanCrcsMatch checks the CRC32C of many chunk records of one read with one pass of the (native) CRC
 * over the whole span instead of one call per record: a call costs more than hashing a typical chunk,
 * and a store gateway checks every chunk it serves.
 *
 * CRC-32C without its pre- and post-inversion (the register `raw(s, M)` after feeding M from state s) is
 * linear: raw(s, A‖B) = shift(raw(s, A), |B|) ⊕ raw(0, B), where shift(s, n) multiplies s by x^(8n) mod
 * P. A record whose stored CRC c matches its bytes M (n bytes) has raw(0, M) = ~c ⊕ shift(~0, n); so
 * feeding the span byte by byte, but each record as a jump of `shift(~state, n) ⊕ ~c`, predicts
 * raw(0, span) exactly when every record matches. A single wrong record always changes the result
 * (shift is invertible); several would have to cancel in 32 bits. The caller checks record by record
 * whenever the prediction fails, so a corrupt chunk is still named, and a wrong prediction could only
 * cost time, never let a bad chunk through unless it collides.
 *
 * Bytes between records (length fields, CRCs, chunks not asked for) are fed through the byte table, so
 * a span is broken where they grow long.
 */

/** a·b mod P, in CRC-32C's reflected bit order (zlib's multmodp); `a` must not be 0. */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** x^(2^k) mod P for k < 32. */
const X2N = (() => {
  const t = new Uint32Array(32);
  let p = 0x40000000; // x^1
  t[0] = p;
  for (let k = 1; k < 32; k++) t[k] = p = multModP(p, p);
  return t;
})();

/** x^(8n) mod P by squaring (never 0: P does not divide a power of x). */
function x8n(n: number): number {
  let p = 0x80000000; // x^0
  for (let k = 3; n > 0; k++, n = Math.floor(n / 2)) if (n % 2 === 1) p = multModP(X2N[k & 31] as number, p);
  return p;
}

/**
 * Multiplication by x^(8·d·16^k) mod P for each nibble d (1‥15) of a record size at each of its four
 * nibble positions k, as four byte-indexed tables of 256 entries (multiplying by a constant is linear):
 * a shift by n < 65536 bytes is then at most 16 lookups instead of a 32-step multiplication. Table
 * (k, d) is entries [1024·(15k + d - 1), +1024) of one array, all 60 built on first use (240 KiB, well
 * under a millisecond): one flat array keeps `shift` small enough to be inlined where it is called, so
 * its 32-bit values stay unboxed.
 */
let nibbleTables: Uint32Array | undefined;

function buildNibbleTables(): Uint32Array {
  const all = new Uint32Array(60 * 1024);
  for (let k = 0; k < 4; k++) {
    for (let d = 1; d < 16; d++) {
      const c = x8n(d * 16 ** k);
      const t = all.subarray((k * 15 + d - 1) * 1024, (k * 15 + d) * 1024);
      for (let j = 0; j < 4; j++) {
        for (let b = 0; b < 8; b++) t[j * 256 + (1 << b)] = multModP(c, (1 << (8 * j + b)) >>> 0);
        for (let v = 3; v < 256; v++) if ((v & (v - 1)) !== 0) t[j * 256 + v] = ((t[j * 256 + (v & (v - 1))] as number) ^ (t[j * 256 + (v & -v)] as number)) >>> 0;
      }
    }
  }
  return all;
}

/** raw(s, n zero bytes): s multiplied by x^(8n), for n < 65536 (`tables`: nibbleTables). */
function shift(tables: Uint32Array, s: number, n: number): number {
  for (let k = 0; k < 4 && s !== 0; k++, n >>>= 4) {
    const d = n & 15;
    if (d === 0) continue;
    const t = (k * 15 + d - 1) << 10;
    s = ((tables[t + (s & 0xff)] as number) ^ (tables[t + 256 + ((s >>> 8) & 0xff)] as number) ^ (tables[t + 512 + ((s >>> 16) & 0xff)] as number) ^ (tables[t + 768 + (s >>> 24)] as number)) >>> 0;
  }
  return s;
}

/** Bytes between records fed through the tables; a longer gap ends the span (a native pass is cheaper). */
export const MAX_SPAN_GAP = 64;

/**
 * Whether records `i` = 0‥count-1 of `bytes`, each covering [encodingAt(i), crcAt(i)) with its CRC
 * (big-endian) at crcAt(i), in increasing order and at most MAX_SPAN_GAP bytes apart, all match their
 * stored CRC32C (see above).
 */
export function spanCrcsMatch(bytes: Uint8Array, count: number, encodingAt: (i: number) => number, crcAt: (i: number) => number): boolean {
  if (count === 0) return true;
  const tables = (nibbleTables ??= buildNibbleTables());
  const start = encodingAt(0);
  let pos = start;
  let state = 0;
  for (let i = 0; i < count; i++) {
    const at = encodingAt(i);
    for (; pos < at; pos++) state = (T0[(state ^ (bytes[pos] as number)) & 0xff] as number) ^ (state >>> 8);
    const c = crcAt(i);
    const stored = ((bytes[c] as number) << 24) | ((bytes[c + 1] as number) << 16) | ((bytes[c + 2] as number) << 8) | (bytes[c + 3] as number);
    const n = c - at;
    state = ((n < 0x10000 ? shift(tables, ~state >>> 0, n) : multModP(x8n(n), ~state >>> 0)) ^ ~stored) >>> 0;
    pos = c;
  }
  // crc32c continues from `prev` inverted: starting it from ~0 feeds the span from state 0.
  return (~crc32c(bytes, 0xffffffff, start, pos) >>> 0) === state;
}
