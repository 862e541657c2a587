/**
 * A cursor over bytes for reading TSDB formats. Reads past the end, and varints that overflow, throw a
 * `CorruptionError` naming what was read (`what`, e.g. "index series 0x50") and the absolute offset,
 * so corrupt or truncated input always gives an error that says where, never a hang or garbage.
 */

export class CorruptionError extends Error {
  constructor(
    readonly what: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`${what}: ${reason} at offset ${offset}`);
    this.name = 'CorruptionError';
  }
}

const textDecoder = new TextDecoder('utf-8', { fatal: false });

export class Decbuf {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Absolute offset of bytes[0] in the file, for error messages. */
  readonly base: number;
  readonly what: string;
  pos = 0;

  constructor(bytes: Uint8Array, what: string, base = 0) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.base = base;
    this.what = what;
  }

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  fail(reason: string, at = this.pos): never {
    throw new CorruptionError(this.what, this.base + at, reason);
  }

  #need(n: number, field: string): void {
    if (this.pos + n > this.bytes.length) this.fail(`unexpected end of data reading ${field} (need ${n} bytes, have ${this.remaining})`);
  }

  byte(): number {
    this.#need(1, 'byte');
    return this.bytes[this.pos++] as number;
  }

  be16(): number {
    this.#need(2, 'BE16');
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  be32(): number {
    this.#need(4, 'BE32');
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  be64(): bigint {
    this.#need(8, 'BE64');
    const v = this.view.getBigUint64(this.pos);
    this.pos += 8;
    return v;
  }

  /** Unsigned LEB128; values above 2^53 are reported as corruption (no TSDB field needs them). */
  uvarint(): number {
    let result = 0;
    let mul = 1;
    const start = this.pos;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.bytes.length) this.fail('unexpected end of data reading uvarint', start);
      const b = this.bytes[this.pos++] as number;
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (!Number.isSafeInteger(result)) this.fail('uvarint exceeds 2^53', start);
        return result;
      }
      mul *= 0x80;
    }
    return this.fail('uvarint overflow', start);
  }

  /** ZigZag-decoded signed varint. */
  varint(): number {
    const u = this.uvarint();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }

  bytesN(n: number): Uint8Array {
    this.#need(n, `${n} bytes`);
    const b = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  uvarintBytes(): Uint8Array {
    return this.bytesN(this.uvarint());
  }

  uvarintStr(): string {
    return textDecoder.decode(this.uvarintBytes());
  }

  skip(n: number): void {
    this.#need(n, `${n} bytes`);
    this.pos += n;
  }
}
