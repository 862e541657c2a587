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
