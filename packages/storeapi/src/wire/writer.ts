/**
 * A protobuf writer for the hot StoreAPI paths. protobufjs' reflection encoder boxes every int64 in a
 * Long and builds a message object per frame; writing fields straight into one growing buffer is several
 * times faster for Series frames, which carry little more than labels and raw chunk bytes.
 *
 * Length-delimited fields are written with `fork()`/`ldelim()`: one byte is reserved for the length and
 * the content is shifted when the length needs more (a memmove of a few hundred bytes at most).
 */

/** Int64 bounds as JavaScript numbers; values at or beyond them are written as Go's math.MinInt64/MaxInt64. */
export const MAX_INT64 = 2 ** 63;
export const MIN_INT64 = -(2 ** 63);

/**
 * Room a writer needs beyond a precomputed message size: its bounds checks ask for the worst case of the
 * next field (3 bytes per UTF-16 unit of a short string), not its actual size.
 */
export const SIZE_SLACK = 160;

/** Bytes of a varint of a non-negative integer below 2^53. */
export function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  let n = 4;
  for (v = Math.floor(v / 0x10000000); v > 0; v = Math.floor(v / 0x80)) n++;
  return n;
}

/** Bytes of an int64 field as `int64()` writes it (tag included; 0 when omitted). */
export function int64FieldSize(v: number): number {
  if (v === 0) return 0;
  if (v >= MAX_INT64) return 10; // tag + 9 bytes of 0x7fff…
  if (v < 0) return 11; // negative int64s are 10-byte varints
  return 1 + varintSize(v);
}

/** Bytes of a uint64 field as `uint64()` writes it (tag included; 0 when omitted). */
export function uint64FieldSize(v: bigint): number {
  if (v === 0n) return 0;
  const hi = Number((v >> 32n) & 0xffffffffn);
  const bits = hi !== 0 ? 64 - Math.clz32(hi) : 32 - Math.clz32(Number(v & 0xffffffffn));
  return 1 + Math.ceil(bits / 7);
}

/** Bytes of a length-delimited field with `len` bytes of content (tag included, fields 1–15). */
export function delimitedFieldSize(len: number): number {
  return 1 + varintSize(len) + len;
}

/** Strings up to this many UTF-16 units are measured and written in JS: cheaper than a native call for a label name or value. */
const SHORT_STRING = 42;

/** UTF-8 bytes of `s`. */
export function utf8Length(s: string): number {
  const n = s.length;
  if (n > SHORT_STRING) return Buffer.byteLength(s, 'utf8');
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, 'utf8');
  return n;
}

const EMPTY = Buffer.alloc(0);

/** Writes a varint of a non-negative integer below 2^32 at `b[p]`; returns the position after it. */
export function putVarint32(b: Buffer, p: number, v: number): number {
  while (v > 0x7f) {
    b[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  b[p++] = v;
  return p;
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LDELIM = 2;

export class ProtoWriter {
  #buf: Buffer;
  #pos = 0;
  readonly #forks: number[] = [];

  /** A fresh buffer of `initial` bytes, or writes into the given buffer (until it must grow). */
  constructor(initial: number | Buffer = 256) {
    this.#buf = typeof initial === 'number' ? Buffer.allocUnsafe(initial) : initial;
  }

  /** Returns the written bytes (a view that now belongs to the caller) and resets the writer. */
  finish(): Buffer {
    if (this.#forks.length > 0) throw new Error('ProtoWriter.finish() with an unclosed fork()');
    const out = this.#buf.subarray(0, this.#pos);
    // The next message gets a buffer when it writes: most writers write one message, and a large
    // buffer allocated here for nothing costs fresh pages.
    this.#buf = EMPTY;
    this.#pos = 0;
    return out;
  }

  /**
   * Returns the written bytes when exactly `size` were written (a writer made with `new ProtoWriter(size +
   * SIZE_SLACK)` for a message whose size was computed beforehand): no copy, and a wrong size calculation
   * fails loudly instead of producing a corrupt message.
   */
  finishSized(size: number): Buffer {
    if (this.#pos !== size) throw new Error(`ProtoWriter.finishSized(): wrote ${this.#pos} bytes, computed ${size}`);
    return this.finish();
  }

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(256, this.#buf.length * 2, this.#pos + n));
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }

  #varint32(v: number): void {
    this.#ensure(5);
    this.#pos = putVarint32(this.#buf, this.#pos, v);
  }

  /** Bytes written so far. */
  get pos(): number {
    return this.#pos;
  }

  /**
   * Makes room for `n` more bytes and returns the buffer to write them into from `pos` on; the caller
   * then moves `pos` past what it wrote. For hot loops that write many small fields of known size
   * without a call per field (e.g. a whole chunk message).
   */
  room(n: number): Buffer {
    this.#ensure(n);
    return this.#buf;
  }

  /** Moves past bytes written into the buffer `room()` returned. */
  advance(to: number): void {
    if (to < this.#pos || to > this.#buf.length) throw new Error(`ProtoWriter.advance(${to}) outside ${this.#pos}..${this.#buf.length}`);
    this.#pos = to;
  }

  /** Varint of a 64-bit value given as unsigned low and high 32-bit halves. */
  #varint64(lo: number, hi: number): void {
    this.#ensure(10);
    const b = this.#buf;
    let p = this.#pos;
    while (hi > 0 || lo > 0x7f) {
      b[p++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    b[p++] = lo;
    this.#pos = p;
  }

  #tag(field: number, wire: number): void {
    this.#varint32(((field << 3) | wire) >>> 0);
  }

  /** Non-negative 32-bit varint field (enums, bools, small ints); zero is omitted as proto3 does. */
  uint32(field: number, v: number): this {
    if (v !== 0) {
      this.#tag(field, WIRE_VARINT);
      this.#varint32(v >>> 0);
    }
    return this;
  }

  bool(field: number, v: boolean): this {
    return this.uint32(field, v ? 1 : 0);
  }

  /** int64 field from a number (integral; clamped to the int64 range). */
  int64(field: number, v: number): this {
    if (v === 0) return this;
    this.#tag(field, WIRE_VARINT);
    if (v >= 0 && v < 0x80000000) {
      this.#varint32(v);
    } else if (v >= MAX_INT64) {
      this.#varint64(0xffffffff, 0x7fffffff);
    } else if (v <= MIN_INT64) {
      this.#varint64(0, 0x80000000);
    } else if (v > 0) {
      this.#varint64(v % 0x100000000, Math.floor(v / 0x100000000));
    } else {
      const u = BigInt.asUintN(64, BigInt(Math.trunc(v)));
      this.#varint64(Number(u & 0xffffffffn), Number(u >> 32n));
    }
    return this;
  }

  /** uint64 field from a bigint (e.g. a hash). */
  uint64(field: number, v: bigint): this {
    if (v === 0n) return this;
    this.#tag(field, WIRE_VARINT);
    this.#varint64(Number(v & 0xffffffffn), Number((v >> 32n) & 0xffffffffn));
    return this;
  }

  /** Double field; zero is omitted unless `always` (a oneof member, whose presence is its meaning). */
  double(field: number, v: number, always = false): this {
    if (v === 0 && !Object.is(v, -0) && !always) return this;
    this.#tag(field, WIRE_FIXED64);
    this.#ensure(8);
    this.#buf.writeDoubleLE(v, this.#pos);
    this.#pos += 8;
    return this;
  }

  /** String field; empty strings are omitted unless `always` (repeated strings keep their position). */
  string(field: number, s: string, always = false): this {
    if (s === '' && !always) return this;
    this.#tag(field, WIRE_LDELIM);
    const len = s.length;
    if (len <= SHORT_STRING) {
      // At most 3 UTF-8 bytes per UTF-16 unit: the length fits the one reserved byte.
      this.#ensure(1 + len * 3);
      const b = this.#buf;
      const start = this.#pos + 1;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[start + i] = c;
      }
      const n = i === len ? len : b.write(s, start, 'utf8');
      b[start - 1] = n;
      this.#pos = start + n;
      return this;
    }
    const n = Buffer.byteLength(s, 'utf8');
    this.#varint32(n);
    this.#ensure(n);
    this.#buf.write(s, this.#pos, 'utf8');
    this.#pos += n;
    return this;
  }

  /** Bytes field (written even when empty if `always`). */
  bytes(field: number, data: Uint8Array, always = false): this {
    if (data.length === 0 && !always) return this;
    this.#tag(field, WIRE_LDELIM);
    this.#varint32(data.length);
    this.#ensure(data.length);
    this.#buf.set(data, this.#pos);
    this.#pos += data.length;
    return this;
  }

  /** Bytes field whose content is `src[start, end)`, copied without making a view first. */
  bytesRange(field: number, src: Buffer, start: number, end: number): this {
    const n = end - start;
    if (n === 0) return this;
    this.#tag(field, WIRE_LDELIM);
    this.#varint32(n);
    this.#ensure(n);
    src.copy(this.#buf, this.#pos, start, end);
    this.#pos += n;
    return this;
  }

  /**
   * Bytes `src[start, end)` as they are: fields already encoded elsewhere (e.g. an int64 field whose
   * number and type another message shares). Short runs are copied by a loop, cheaper than a native call.
   */
  raw(src: Uint8Array, start: number, end: number): this {
    const n = end - start;
    if (n <= 0) return this;
    this.#ensure(n);
    const b = this.#buf;
    let p = this.#pos;
    if (n <= 32) for (let i = start; i < end; i++) b[p++] = src[i]!;
    else {
      b.set(src.subarray(start, end), p);
      p += n;
    }
    this.#pos = p;
    return this;
  }

  /** sint32 field (zigzag-encoded, so small negative numbers stay short). */
  sint32(field: number, v: number): this {
    return this.uint32(field, ((v << 1) ^ (v >> 31)) >>> 0);
  }

  /** Packed repeated double field. */
  packedDouble(field: number, values: readonly number[]): this {
    if (values.length === 0) return this;
    this.header(field, values.length * 8);
    this.#ensure(values.length * 8);
    for (const v of values) {
      this.#buf.writeDoubleLE(v, this.#pos);
      this.#pos += 8;
    }
    return this;
  }

  /** Packed repeated enum/uint32 field. */
  packedUint32(field: number, values: readonly number[]): this {
    if (values.length === 0) return this;
    this.fork(field);
    for (const v of values) this.#varint32(v >>> 0);
    return this.ldelim();
  }

  /** Packed repeated sint64 field (zigzag-encoded) from safe integers. */
  packedSint64(field: number, values: readonly number[]): this {
    if (values.length === 0) return this;
    this.fork(field);
    for (const v of values) {
      const z = v >= 0 ? 2 * v : -2 * v - 1;
      this.#varint64(z % 0x100000000, Math.floor(z / 0x100000000));
    }
    return this.ldelim();
  }

  /** Starts an embedded message in `field` whose encoded size is known; nothing to close. */
  header(field: number, size: number): this {
    this.#tag(field, WIRE_LDELIM);
    this.#varint32(size);
    return this;
  }

  /** Starts an embedded message in `field`; close it with `ldelim()`. */
  fork(field: number): this {
    this.#tag(field, WIRE_LDELIM);
    this.#ensure(1);
    this.#forks.push(this.#pos);
    this.#pos += 1;
    return this;
  }

  ldelim(): this {
    const start = this.#forks.pop();
    if (start === undefined) throw new Error('ProtoWriter.ldelim() without fork()');
    const len = this.#pos - start - 1;
    if (len < 0x80) {
      this.#buf[start] = len;
      return this;
    }
    let extra = 0;
    for (let v = len >>> 7; v > 0; v >>>= 7) extra++;
    this.#ensure(extra);
    this.#buf.copyWithin(start + 1 + extra, start + 1, this.#pos);
    let p = start;
    let v = len;
    while (v > 0x7f) {
      this.#buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.#buf[p] = v;
    this.#pos += extra;
    return this;
  }
}
