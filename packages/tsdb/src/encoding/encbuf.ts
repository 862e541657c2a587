/**
 * A growable byte buffer for writing TSDB formats: big-endian fixed-width integers, unsigned LEB128
 * varints (`uvarint`) and ZigZag varints (`varint`), as Prometheus' encoding.Encbuf writes them.
 * Integers are JavaScript numbers: exact up to 2^53, which covers millisecond timestamps and offsets.
 */
export class Encbuf {
  #buf: Uint8Array;
  #view: DataView;
  #len = 0;

  constructor(initialCapacity = 4096) {
    this.#buf = new Uint8Array(initialCapacity);
    this.#view = new DataView(this.#buf.buffer);
  }

  get length(): number {
    return this.#len;
  }

  reset(): void {
    this.#len = 0;
  }

  /** The written bytes (a view, valid until the next write). */
  get(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }

  #grow(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let cap = this.#buf.length * 2;
    while (cap < this.#len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  putByte(b: number): void {
    this.#grow(1);
    this.#buf[this.#len++] = b;
  }

  putBytes(b: Uint8Array): void {
    this.#grow(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
  }

  putBE16(v: number): void {
    this.#grow(2);
    this.#view.setUint16(this.#len, v);
    this.#len += 2;
  }

  putBE32(v: number): void {
    this.#grow(4);
    this.#view.setUint32(this.#len, v >>> 0);
    this.#len += 4;
  }

  putBE64(v: bigint): void {
    this.#grow(8);
    this.#view.setBigUint64(this.#len, BigInt.asUintN(64, v));
    this.#len += 8;
  }

  /** Overwrites 4 bytes at `offset` (for lengths written after their content). */
  setBE32(offset: number, v: number): void {
    this.#view.setUint32(offset, v >>> 0);
  }

  putUvarint(v: number): void {
    if (v < 0 || !Number.isSafeInteger(v)) throw new RangeError(`uvarint out of range: ${v}`);
    this.#grow(10);
    while (v >= 0x80) {
      this.#buf[this.#len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.#buf[this.#len++] = v;
  }

  /** ZigZag: 0, -1, 1, -2 … → 0, 1, 2, 3 … */
  putVarint(v: number): void {
    if (!Number.isSafeInteger(v)) throw new RangeError(`varint out of range: ${v}`);
    this.putUvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  /** uvarint length, then the UTF-8 bytes. */
  putUvarintStr(s: string): void {
    // ASCII (most label names and values) is copied char by char: an encoder call costs more for short strings.
    const n = s.length;
    if (n < 0x80) {
      this.#grow(n + 1);
      const buf = this.#buf;
      let p = this.#len + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p++] = c;
      }
      if (i === n) {
        buf[this.#len] = n;
        this.#len = p;
        return;
      }
    }
    const bytes = textEncoder.encode(s);
    this.putUvarint(bytes.length);
    this.putBytes(bytes);
  }

  /** Zero bytes until the length is a multiple of `n`. */
  padTo(n: number): void {
    const pad = (n - (this.#len % n)) % n;
    this.#grow(pad);
    this.#buf.fill(0, this.#len, this.#len + pad);
    this.#len += pad;
  }
}

export const textEncoder = new TextEncoder();

/** Writes the uvarint of n (a safe non-negative integer) at buf[at]; returns the position after it. */
export function putUvarintAt(buf: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    buf[at++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buf[at++] = n;
  return at;
}

/** Bytes of the uvarint of n (for sizing a buffer before writing). */
export function uvarintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}
