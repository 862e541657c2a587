/**
 * A protobuf reader over one message's bytes. Bytes fields are returned as views into the input (no
 * copy), so chunk data decoded from a frame shares the frame's memory.
 */
import { MAX_INT64, MIN_INT64 } from './writer.js';

export const WireType = { Varint: 0, Fixed64: 1, LengthDelimited: 2, Fixed32: 5 } as const;

export class ProtoReader {
  readonly #buf: Buffer;
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

  /** Reads a varint as unsigned low and high 32-bit halves. */
  #varint64(): [number, number] {
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
    return [lo >>> 0, hi >>> 0];
  }

  /** int64 as a number; exact within ±2^53, Go's MinInt64/MaxInt64 map to MIN_INT64/MAX_INT64. */
  int64(): number {
    const [lo, hi] = this.#varint64();
    if (hi === 0) return lo;
    if (hi & 0x80000000) {
      if (hi === 0x80000000 && lo === 0) return MIN_INT64;
      return -((~hi >>> 0) * 0x100000000 + (~lo >>> 0) + 1);
    }
    if (hi === 0x7fffffff && lo === 0xffffffff) return MAX_INT64;
    return hi * 0x100000000 + lo;
  }

  uint64(): bigint {
    const [lo, hi] = this.#varint64();
    return hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
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
    const [s, e] = this.delimited();
    return this.#buf.subarray(s, e);
  }

  string(): string {
    const [s, e] = this.delimited();
    return this.#buf.toString('utf8', s, e);
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
    return new ProtoReader(this.#buf, s, e);
  }

  /** Repeated uint32/enum field, packed or not. */
  packedUint32(wireType: number, into: number[]): void {
    if (wireType !== WireType.LengthDelimited) {
      into.push(this.uint32());
      return;
    }
    const [s, e] = this.delimited();
    const save = this.pos;
    this.pos = s;
    while (this.pos < e) into.push(this.uint32());
    this.pos = save;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WireType.Varint: {
        // Only the length matters: no value (and no [lo, hi] pair) is built.
        const b = this.#buf;
        let p = this.pos;
        for (let n = 0; ; n++) {
          if (p >= this.end) this.#fail('truncated varint');
          if (n === 10) this.#fail('varint longer than 10 bytes');
          if (b[p++]! < 0x80) break;
        }
        this.pos = p;
        return;
      }
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
