import { crc32c } from '@strata/tsdb';

/**
 * Checks the CRC32C of many chunk records of one read with one pass of the (native) CRC over the whole
 * span instead of one call per record: a call costs far more than hashing a typical chunk (~500 ns of
 * overhead against ~150 ns for 600 bytes), and a store gateway checks every chunk it serves.
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
 * Bytes between records (length fields, CRCs, chunks not asked for) are fed through the tables, so a
 * span is broken where they grow long.
 */

const POLY = 0x82f63b78;
const T0 = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

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
 * a shift by n < 65536 bytes is then at most 16 lookups instead of a 32-step multiplication. Built on
 * first use; all 60 take 240 KiB.
 */
const NIBBLE_TABLES: (Uint32Array | undefined)[] = new Array<Uint32Array | undefined>(60);

function nibbleTable(k: number, d: number): Uint32Array {
  const i = k * 15 + d - 1;
  let t = NIBBLE_TABLES[i];
  if (t !== undefined) return t;
  const c = x8n(d * 16 ** k);
  t = new Uint32Array(1024);
  for (let j = 0; j < 4; j++) {
    for (let b = 0; b < 8; b++) t[j * 256 + (1 << b)] = multModP(c, (1 << (8 * j + b)) >>> 0);
    for (let v = 3; v < 256; v++) if ((v & (v - 1)) !== 0) t[j * 256 + v] = ((t[j * 256 + (v & (v - 1))] as number) ^ (t[j * 256 + (v & -v)] as number)) >>> 0;
  }
  NIBBLE_TABLES[i] = t;
  return t;
}

/** raw(s, n zero bytes): s multiplied by x^(8n). */
function shift(s: number, n: number): number {
  if (s === 0) return 0;
  if (n >= 0x10000) return multModP(x8n(n), s);
  for (let k = 0; k < 4; k++, n >>>= 4) {
    const d = n & 15;
    if (d === 0) continue;
    const t = nibbleTable(k, d);
    s = ((t[s & 0xff] as number) ^ (t[256 + ((s >>> 8) & 0xff)] as number) ^ (t[512 + ((s >>> 16) & 0xff)] as number) ^ (t[768 + (s >>> 24)] as number)) >>> 0;
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
  const start = encodingAt(0);
  let pos = start;
  let state = 0;
  for (let i = 0; i < count; i++) {
    const at = encodingAt(i);
    for (; pos < at; pos++) state = (T0[(state ^ (bytes[pos] as number)) & 0xff] as number) ^ (state >>> 8);
    const c = crcAt(i);
    const stored = ((bytes[c] as number) << 24) | ((bytes[c + 1] as number) << 16) | ((bytes[c + 2] as number) << 8) | (bytes[c + 3] as number);
    state = (shift(~state >>> 0, c - at) ^ ~stored) >>> 0;
    pos = c;
  }
  // crc32c continues from `prev` inverted: starting it from ~0 feeds the span from state 0.
  return (~crc32c(bytes, 0xffffffff, start, pos) >>> 0) === state;
}
