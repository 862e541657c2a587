/**
 * xxhash64 (seed 0, the StoreAPI chunk hash) of many byte ranges in one call into WebAssembly.
 *
 * Hashing chunk by chunk through xxhash-wasm costs about 280 ns per ~600-byte chunk, most of it not
 * the hash: a JS wrapper, a copy into its memory, and two BigInts (its result and a mask of it) per
 * chunk. Here each read of chunks is copied into the module's memory once (`stage`) and one call
 * hashes every chunk of it, leaving each hash as two 32-bit halves: nothing is allocated per chunk.
 *
 * The module is assembled below from its instructions (there is no WebAssembly toolchain in the build).
 * In text form, with p the range's start, e its end and P1–P5 xxhash64's primes:
 *   xxh64(p, len): e = p + len
 *     if len >= 32: v1..v4 = P1+P2, P2, 0, -P1; do { vi = round(vi, load64(p + 8(i-1))); p += 32 } while p <= e - 32
 *                   h = rotl(v1,1) + rotl(v2,7) + rotl(v3,12) + rotl(v4,18); h = (h ^ round(0, vi)) * P1 + P4 for each vi
 *     else h = P5
 *     h += len; while p + 8 <= e: h = rotl(h ^ round(0, load64(p)), 27) * P1 + P4; p += 8
 *     if p + 4 <= e: h = rotl(h ^ load32(p) * P1, 23) * P2 + P3; p += 4
 *     while p < e: h = rotl(h ^ load8(p) * P5, 11) * P1; p += 1
 *     h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32
 *   round(acc, x) = rotl(acc + x * P2, 31) * P1
 *   hashMany(desc, n): for k < n: the pair of u32 (start, end) at desc + 8k is replaced by xxh64(start, end - start) as an i64
 */

const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;

/** Signed LEB128 of a 64-bit pattern (an unsigned value at or above 2^63 is its two's complement). */
function sleb(v: bigint): number[] {
  let x = BigInt.asIntN(64, v);
  const out: number[] = [];
  for (;;) {
    const byte = Number(x & 0x7fn);
    x >>= 7n;
    if ((x === 0n && (byte & 0x40) === 0) || (x === -1n && (byte & 0x40) !== 0)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

// Instructions (WebAssembly core spec, binary format).
const get = (i: number) => [0x20, i];
const set = (i: number) => [0x21, i];
const tee = (i: number) => [0x22, i];
const i32c = (v: number) => [0x41, ...sleb(BigInt(v))];
const i64c = (v: bigint) => [0x42, ...sleb(v)];
const BLOCK = [0x02, 0x40];
const LOOP = [0x03, 0x40];
const IF = [0x04, 0x40];
const ELSE = 0x05;
const END = 0x0b;
const brIf = (depth: number) => [0x0d, depth];
const br = (depth: number) => [0x0c, depth];
const CALL_XXH64 = [0x10, 0];
const I32_LOAD = (offset: number) => [0x28, 2, offset];
const I64_LOAD = (offset: number) => [0x29, 3, offset];
const I64_LOAD32_U = [0x35, 2, 0];
const I64_LOAD8_U = [0x31, 0, 0];
const I64_STORE = [0x37, 3, 0];
const [I32_LT_U, I32_GT_U, I32_GE_U, I32_ADD, I32_SUB, I32_SHL] = [0x49, 0x4b, 0x4f, 0x6a, 0x6b, 0x74];
const [I64_ADD, I64_MUL, I64_XOR, I64_SHR_U, I64_ROTL, I64_EXTEND_I32_U] = [0x7c, 0x7e, 0x85, 0x88, 0x89, 0xad];
const [I32, I64] = [0x7f, 0x7e];

// xxh64's locals: parameters p, len; then e, limit (i32); v1..v4, h (i64).
const [P, LEN, E, LIMIT, V1, H] = [0, 1, 2, 3, 4, 8];

/** rotl(x * P2, 31) * P1, x on the stack: xxhash64's round of a zero accumulator. */
const ROUND0 = [...i64c(P2), I64_MUL, ...i64c(31n), I64_ROTL, ...i64c(P1), I64_MUL];

function xxh64Body(): number[] {
  const stripe = (lane: number) => [...get(V1 + lane), ...get(P), ...I64_LOAD(8 * lane), ...i64c(P2), I64_MUL, I64_ADD, ...i64c(31n), I64_ROTL, ...i64c(P1), I64_MUL, ...set(V1 + lane)];
  const merge = (lane: number) => [...get(H), ...get(V1 + lane), ...ROUND0, I64_XOR, ...i64c(P1), I64_MUL, ...i64c(P4), I64_ADD, ...set(H)];
  const rotls = [1n, 7n, 12n, 18n];
  return [
    ...get(P), ...get(LEN), I32_ADD, ...set(E),
    ...get(LEN), ...i32c(32), I32_GE_U, ...IF,
    ...get(E), ...i32c(32), I32_SUB, ...set(LIMIT),
    ...i64c(P1 + P2), ...set(V1), ...i64c(P2), ...set(V1 + 1), ...i64c(0n), ...set(V1 + 2), ...i64c(-P1), ...set(V1 + 3),
    ...LOOP,
    ...stripe(0), ...stripe(1), ...stripe(2), ...stripe(3),
    ...get(P), ...i32c(32), I32_ADD, ...tee(P), ...get(LIMIT), I32_GT_U, 0x45 /* i32.eqz */, ...brIf(0),
    END,
    ...rotls.flatMap((r, lane) => [...get(V1 + lane), ...i64c(r), I64_ROTL, ...(lane > 0 ? [I64_ADD] : [])]), ...set(H),
    ...[0, 1, 2, 3].flatMap(merge),
    ELSE,
    ...i64c(P5), ...set(H),
    END,
    ...get(H), ...get(LEN), I64_EXTEND_I32_U, I64_ADD, ...set(H),
    // 8 bytes at a time
    ...BLOCK, ...LOOP,
    ...get(P), ...i32c(8), I32_ADD, ...get(E), I32_GT_U, ...brIf(1),
    ...get(H), ...get(P), ...I64_LOAD(0), ...ROUND0, I64_XOR, ...i64c(27n), I64_ROTL, ...i64c(P1), I64_MUL, ...i64c(P4), I64_ADD, ...set(H),
    ...get(P), ...i32c(8), I32_ADD, ...set(P), ...br(0),
    END, END,
    // 4 bytes
    ...get(P), ...i32c(4), I32_ADD, ...get(E), I32_GT_U, 0x45 /* i32.eqz */, ...IF,
    ...get(H), ...get(P), ...I64_LOAD32_U, ...i64c(P1), I64_MUL, I64_XOR, ...i64c(23n), I64_ROTL, ...i64c(P2), I64_MUL, ...i64c(P3), I64_ADD, ...set(H),
    ...get(P), ...i32c(4), I32_ADD, ...set(P),
    END,
    // the last bytes one by one
    ...BLOCK, ...LOOP,
    ...get(P), ...get(E), I32_LT_U, 0x45 /* i32.eqz */, ...brIf(1),
    ...get(H), ...get(P), ...I64_LOAD8_U, ...i64c(P5), I64_MUL, I64_XOR, ...i64c(11n), I64_ROTL, ...i64c(P1), I64_MUL, ...set(H),
    ...get(P), ...i32c(1), I32_ADD, ...set(P), ...br(0),
    END, END,
    // avalanche
    ...get(H), ...get(H), ...i64c(33n), I64_SHR_U, I64_XOR, ...i64c(P2), I64_MUL, ...set(H),
    ...get(H), ...get(H), ...i64c(29n), I64_SHR_U, I64_XOR, ...i64c(P3), I64_MUL, ...set(H),
    ...get(H), ...get(H), ...i64c(32n), I64_SHR_U, I64_XOR,
    END,
  ];
}

// hashMany's locals: parameters desc, n; then k, addr, start (i32).
function hashManyBody(): number[] {
  const [DESC, N, K, ADDR, START] = [0, 1, 2, 3, 4];
  return [
    ...BLOCK, ...LOOP,
    ...get(K), ...get(N), I32_GE_U, ...brIf(1),
    ...get(DESC), ...get(K), ...i32c(3), I32_SHL, I32_ADD, ...tee(ADDR),
    ...get(ADDR), ...I32_LOAD(0), ...tee(START),
    ...get(ADDR), ...I32_LOAD(4), ...get(START), I32_SUB,
    ...CALL_XXH64,
    ...I64_STORE,
    ...get(K), ...i32c(1), I32_ADD, ...set(K), ...br(0),
    END, END,
    END,
  ];
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function code(locals: number[][], body: number[]): number[] {
  const decl = [...uleb(locals.length), ...locals.flatMap(([n, type]) => [...uleb(n as number), type as number])];
  return [...uleb(decl.length + body.length), ...decl, ...body];
}

const name = (s: string) => [...uleb(s.length), ...Buffer.from(s, 'utf8')];

const MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  // types: 0 = (i32, i32) -> i64, 1 = (i32, i32) -> ()
  ...section(1, [2, 0x60, 2, I32, I32, 1, I64, 0x60, 2, I32, I32, 0]),
  // functions: xxh64 (type 0), hashMany (type 1)
  ...section(3, [2, 0, 1]),
  // one memory of at least one page
  ...section(5, [1, 0x00, 1]),
  ...section(7, [2, ...name('memory'), 0x02, 0, ...name('hashMany'), 0x00, 1]),
  ...section(10, [2, ...code([[2, I32], [5, I64]], xxh64Body()), ...code([[3, I32]], hashManyBody())]),
]);

/** The parts of the global WebAssembly object used here (its types come with the DOM lib, which the packages do not use). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { readonly exports: Record<string, unknown> };
};

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const instance = new WebAssembly.Instance(new WebAssembly.Module(MODULE));
const memory = instance.exports.memory as WasmMemory;
const hashMany = instance.exports.hashMany as (desc: number, n: number) => void;
let bytes = new Uint8Array(memory.buffer);
let words = new Uint32Array(memory.buffer);

/** Memory of at least `size` bytes (it only grows: the next read of a query needs as much). */
function reserve(size: number): void {
  if (memory.buffer.byteLength >= size) return;
  memory.grow(Math.ceil((size - memory.buffer.byteLength) / 65536));
  bytes = new Uint8Array(memory.buffer);
  words = new Uint32Array(memory.buffer);
}

/** Where the ranges to hash are described: after the staged bytes, 8-byte aligned. */
let descAt = 0;

/**
 * Copies `data` into the module's memory and returns the copy, for `hashStaged` to hash ranges of and
 * the caller to parse and check meanwhile: one streaming copy of a read brings it into the CPU's
 * cache, where a read just landed from the bucket usually is not (many are in flight), and every
 * later pass over the copy (record headers, CRCs, hashes) finds it there. Room is kept for `ranges`
 * ranges. The copy is valid until the next `stage`: stage, parse, check and hash without awaiting.
 */
export function stage(data: Uint8Array, ranges: number): Uint8Array {
  descAt = (data.length + 7) & ~7;
  reserve(descAt + 8 * ranges);
  bytes.set(data);
  return bytes.subarray(0, data.length);
}

/** Ranges of staged bytes and the columns their hashes go to: range k is [start[k], end[k]) if buffer[k] is the staged read. */
export interface StagedRanges {
  readonly buffer: Uint32Array;
  readonly start: Uint32Array;
  readonly end: Uint32Array;
  readonly hashLo: Uint32Array;
  readonly hashHi: Uint32Array;
}

/**
 * Sets `hashLo[k]` and `hashHi[k]` to the halves of the xxhash64 (seed 0) of range k of the bytes last
 * staged (at most as many as staged for), for each k of `ks` whose `buffer[k]` is `staged`; one call
 * into WebAssembly for all of them, nothing allocated per range.
 */
export function hashStaged(r: StagedRanges, ks: ArrayLike<number>, staged: number): void {
  const view = LITTLE_ENDIAN ? undefined : new DataView(memory.buffer);
  let n = 0;
  for (let i = 0; i < ks.length; i++) {
    const k = ks[i] as number;
    if (r.buffer[k] !== staged) continue;
    const at = descAt + 8 * n++;
    // WebAssembly memory is little-endian whatever the host's order.
    if (view === undefined) {
      words[at >>> 2] = r.start[k] as number;
      words[(at >>> 2) + 1] = r.end[k] as number;
    } else {
      view.setUint32(at, r.start[k] as number, true);
      view.setUint32(at + 4, r.end[k] as number, true);
    }
  }
  hashMany(descAt, n);
  n = 0;
  for (let i = 0; i < ks.length; i++) {
    const k = ks[i] as number;
    if (r.buffer[k] !== staged) continue;
    const at = descAt + 8 * n++;
    r.hashLo[k] = view === undefined ? (words[at >>> 2] as number) : view.getUint32(at, true);
    r.hashHi[k] = view === undefined ? (words[(at >>> 2) + 1] as number) : view.getUint32(at + 4, true);
  }
}
