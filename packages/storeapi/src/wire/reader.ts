/**
 * A protobuf reader over one message's bytes. Bytes fields are returned as views into the input (no
 * copy), so chunk data decoded from a frame shares the frame's memory.
 */
import { MAX_INT64, MIN_INT64 } from './writer.js';

/** The high half of the last varint `#varint64()` read. */
let varintHigh = 0;
const uint64View = new DataView(new ArrayBuffer(8));

/** Longest string `recentString` keeps; longer ones are rarely repeated label names or values. */
const RECENT_MAX_BYTES = 64;
const RECENT_BITS = 12;
/**
 * Strings recently decoded, by their length and a few of their bytes (one per slot, the last one wins). A Series stream
 * repeats every label name and most values (metric name, job, external labels) in every series;
 * checking a string against the bytes costs less than the native call that decodes them again.
 */
const recent: string[] = new Array<string>(1 << RECENT_BITS).fill('');

/** `b[s, e)` as a UTF-8 string, from `recent` when it holds it. */
function recentString(b: Buffer, s: number, e: number): string {
  const n = e - s;
  if (n === 0) return '';
  if (n > RECENT_MAX_BYTES) return b.toString('utf8', s, e);
  // The slot from the length and four sampled bytes (hashing every byte costs as much as the check).
  const slot = Math.imul(n ^ (b[s]! << 8) ^ (b[e - 1]! << 16) ^ (b[s + (n >>> 1)]! << 24) ^ b[e - 1 - (n >>> 2)]!, 0x9e3779b1) >>> (32 - RECENT_BITS);
  const hit = recent[slot]!;
  if (hit.length === n) {
    let i = 0;
    while (i < n && hit.charCodeAt(i) === b[s + i]) i++;
    // Equal code units and bytes: the bytes are the ASCII string `hit` (only strings of one byte per unit are kept).
    if (i === n) return hit;
  }
  const str = b.toString('utf8', s, e);
  // As many units as bytes: ASCII (a multi-byte sequence gives fewer units; an invalid byte, U+FFFD, never matches a byte).
  if (str.length === n) recent[slot] = str;
  return str;
}

export const WireType = { Varint: 0, Fixed64: 1, LengthDelimited: 2, Fixed32: 5 } as const;

export class ProtoReader {
  readonly #buf: Buffer;
  /** A DataView over `#buf`, made when first asked for and shared with sub-readers. */
  #view: DataView | undefined;
  pos: number;
  readonly end: number;

  constructor(data: Uint8Array, start = 0, end = data.length) {
    this.#buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.pos = start;
    this.end = end;
  }

  /** The whole underlying buffer: the ranges `delimited()` returns index into it. */
  get source(): Buffer {
    return this.#buf;
  }

  /** `source` as a DataView (at the same offsets), for comparing several bytes at a time. */
  get view(): DataView {
    const b = this.#buf;
    return (this.#view ??= new DataView(b.buffer, b.byteOffset, b.byteLength));
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  #fail(what: string): never {
    throw new Error(`protobuf: ${what} at offset ${this.pos}`);
  }

  /** Reads a tag; returns field number * 8 + wire type (the raw tag). */
  tag(): number {
    return this.uint32();
  }

  uint32(): number {
    const b = this.#buf;
    let p = this.pos;
    // One or two bytes (every tag, and the length of every label and chunk) without the general loop.
    if (p + 2 <= this.end) {
      const c0 = b[p]!;
      if (c0 < 0x80) {
        this.pos = p + 1;
        return c0;
      }
      const c1 = b[p + 1]!;
      if (c1 < 0x80) {
        this.pos = p + 2;
        return (c0 & 0x7f) | (c1 << 7);
      }
    }
    let v = 0;
    let shift = 0;
    for (;;) {
      if (p >= this.end) this.#fail('truncated varint');
      const c = b[p++]!;
      if (shift < 28) v |= (c & 0x7f) << shift;
      else if (shift === 28) v |= (c & 0x0f) << 28;
      if (c < 0x80) break;
      shift += 7;
      if (shift > 63) this.#fail('varint longer than 10 bytes');
    }
    this.pos = p;
    return v >>> 0;
  }

  /** Reads a varint; returns its unsigned low 32 bits and leaves the high 32 in `varintHigh` (no pair allocated per value). */
  #varint64(): number {
    const b = this.#buf;
    let p = this.pos;
    let lo = 0;
    let hi = 0;
    for (let shift = 0; ; shift += 7) {
      if (p >= this.end) this.#fail('truncated varint');
      if (shift > 63) this.#fail('varint longer than 10 bytes');
      const c = b[p++]!;
      const bits = c & 0x7f;
      if (shift < 28) lo |= bits << shift;
      else if (shift === 28) {
        lo |= bits << 28;
        hi |= bits >>> 4;
      } else hi |= bits << (shift - 32);
      if (c < 0x80) break;
    }
    this.pos = p;
    varintHigh = hi >>> 0;
    return lo >>> 0;
  }

  /** int64 as a number; exact within ±2^53, Go's MinInt64/MaxInt64 map to MIN_INT64/MAX_INT64. */
  int64(): number {
    // Non-negative values below 2^49 (timestamps take 6 bytes) summed as a double, exactly: every
    // chunk's min and max time, without the 32-bit halves the general path needs for the rest.
    const b = this.#buf;
    const p = this.pos;
    if (p + 7 <= this.end) {
      let v = 0;
      let scale = 1;
      for (let i = 0; i < 7; i++) {
        const c = b[p + i]!;
        v += (c & 0x7f) * scale;
        if (c < 0x80) {
          this.pos = p + i + 1;
          return v;
        }
        scale *= 128;
      }
    }
    const lo = this.#varint64();
    const hi = varintHigh;
    if (hi === 0) return lo;
    if (hi & 0x80000000) {
      if (hi === 0x80000000 && lo === 0) return MIN_INT64;
      return -((~hi >>> 0) * 0x100000000 + (~lo >>> 0) + 1);
    }
    if (hi === 0x7fffffff && lo === 0xffffffff) return MAX_INT64;
    return hi * 0x100000000 + lo;
  }

  /** uint64 as a number: exact below 2^53 (counts), rounded above. */
  uint64Number(): number {
    const lo = this.#varint64();
    return varintHigh * 0x100000000 + lo;
  }

  uint64(): bigint {
    const lo = this.#varint64();
    if (varintHigh === 0) return BigInt(lo);
    // One bigint from the two halves, instead of three and a shift and an or.
    uint64View.setUint32(0, varintHigh);
    uint64View.setUint32(4, lo);
    return uint64View.getBigUint64(0);
  }

  bool(): boolean {
    return this.uint32() !== 0;
  }

  double(): number {
    if (this.pos + 8 > this.end) this.#fail('truncated fixed64');
    const v = this.#buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Reads a length prefix and returns the [start, end) range of the content, moving past it. */
  delimited(): [number, number] {
    const len = this.uint32();
    const start = this.pos;
    const end = start + len;
    if (end > this.end) this.#fail(`length ${len} beyond end of message`);
    this.pos = end;
    return [start, end];
  }

  bytes(): Uint8Array {
    const s = this.#content();
    return this.#buf.subarray(s, this.pos);
  }

  /** Moves past a bytes field's content and returns where it starts (it ends at `pos`): for a reader that makes no view of it. */
  skipBytes(): number {
    return this.#content();
  }

  /** A string field; short ASCII strings seen recently (label names, frequent values) are not decoded again. */
  string(): string {
    const s = this.#content();
    return recentString(this.#buf, s, this.pos);
  }

  /** Reads a length prefix and moves past the content; returns where the content starts (`delimited()` without a pair). */
  #content(): number {
    const len = this.uint32();
    const start = this.pos;
    if (start + len > this.end) this.#fail(`length ${len} beyond end of message`);
    this.pos = start + len;
    return start;
  }

  /**
   * Reads an embedded message's length prefix and returns where it ends: the caller reads its fields
   * while `pos < end` and then calls `leave(end)`, with no reader object per message (hot decoding loops).
   */
  enter(): number {
    const len = this.uint32();
    const end = this.pos + len;
    if (end > this.end) this.#fail(`length ${len} beyond end of message`);
    return end;
  }

  /** Checks that the message `enter()` started was read exactly to its end. */
  leave(end: number): void {
    if (this.pos !== end) this.#fail(`field beyond the end of an embedded message ending at ${end}`);
  }

  /** A reader over an embedded message. */
  sub(): ProtoReader {
    const [s, e] = this.delimited();
    const sub = new ProtoReader(this.#buf, s, e);
    sub.#view = this.#view;
    return sub;
  }

  /** A sint32 field (zigzag-encoded). */
  sint32(): number {
    const u = this.uint32();
    return (u >>> 1) ^ -(u & 1);
  }

  /** A sint64 field (zigzag-encoded), as a number (exact below 2^53). */
  sint64(): number {
    const lo = this.#varint64();
    // Zigzag in doubles while the value fits in 53 bits (every bucket delta of a native histogram):
    // no bigint made per value.
    if (varintHigh < 0x200000) {
      const u = varintHigh * 0x100000000 + lo;
      return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
    }
    uint64View.setUint32(0, varintHigh);
    uint64View.setUint32(4, lo);
    const u = uint64View.getBigUint64(0);
    return Number((u >> 1n) ^ -(u & 1n));
  }

  /** Repeated double field, packed or not. */
  packedDouble(wireType: number, into: number[]): void {
    if (wireType !== WireType.LengthDelimited) {
      into.push(this.double());
      return;
    }
    const [s, e] = this.delimited();
    for (let p = s; p + 8 <= e; p += 8) into.push(this.#buf.readDoubleLE(p));
  }

  /** Repeated sint64 field, packed or not. */
  packedSint64(wireType: number, into: number[]): void {
    this.#repeatedVarints(wireType, into, () => this.sint64());
  }

  /** Repeated uint32/enum field, packed or not. */
  packedUint32(wireType: number, into: number[]): void {
    this.#repeatedVarints(wireType, into, () => this.uint32());
  }

  /** A repeated varint field: one value (unpacked), or all of a packed run, each read by `one`. */
  #repeatedVarints(wireType: number, into: number[], one: () => number): void {
    if (wireType !== WireType.LengthDelimited) {
      into.push(one());
      return;
    }
    const [s, e] = this.delimited();
    const save = this.pos;
    this.pos = s;
    while (this.pos < e) into.push(one());
    this.pos = save;
  }

  /** Moves past a varint, checking it as `uint64()` would without building its value (small enough to be inlined where `skip` is not). */
  skipVarint(): void {
    const b = this.#buf;
    let p = this.pos;
    if (p + 10 <= this.end) {
      // Ten bytes in the message (a chunk's hash takes nine or ten): no end check per byte.
      for (let n = 0; n < 10; n++) {
        if (b[p + n]! < 0x80) {
          this.pos = p + n + 1;
          return;
        }
      }
      this.#fail('varint longer than 10 bytes');
    }
    for (let n = 0; ; n++) {
      if (p >= this.end) this.#fail('truncated varint');
      if (n === 10) this.#fail('varint longer than 10 bytes');
      if (b[p++]! < 0x80) break;
    }
    this.pos = p;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WireType.Varint:
        this.skipVarint();
        return;
      case WireType.Fixed64:
        this.pos += 8;
        break;
      case WireType.LengthDelimited:
        this.delimited();
        return;
      case WireType.Fixed32:
        this.pos += 4;
        break;
      default:
        this.#fail(`unsupported wire type ${wireType}`);
    }
    if (this.pos > this.end) this.#fail('truncated field');
  }
}
