/**
 * MSB-first bit streams for chunk encodings (Prometheus' tsdb/chunkenc/bstream.go).
 *
 * Bits fill each byte from its most significant bit down. All values are JavaScript numbers: fields
 * of up to 32 bits are read and written directly, 64-bit fields as two 32-bit halves.
 */

/** What the XOR encoders write through: fields of up to 32 bits, and a flag for Prometheus' spare byte. */
export interface BitSink {
  spare: boolean;
  writeBits(v: number, n: number): void;
}

/** Writes the low `n` bits (1…64) of the 64-bit value `hi:lo` as one field, in two 32-bit halves. */
function writeBits64To(w: BitSink, hi: number, lo: number, n: number): void {
  if (n > 32) {
    w.writeBits(hi, n - 32);
    w.writeBits(lo, 32);
  } else {
    w.writeBits(lo, n);
  }
  w.spare = (n & 7) === 0;
}

/**
 * Writes the 64-bit value hi:lo as an unsigned LEB128 varint at buf[p], byte by byte as Prometheus
 * does; returns the position after it. The bit streams write byte-aligned varints through it.
 */
export function putUvarint64(buf: Uint8Array, p: number, hi: number, lo: number): number {
  while (hi !== 0 || lo >= 0x80) {
    buf[p++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  buf[p++] = lo;
  return p;
}

/**
 * Appends bits to a growable buffer.
 *
 * Prometheus' bstream writes a field of whole bytes by appending a fresh byte for the spill-over, so a
 * stream that ends byte-aligned after such a field carries one extra 0x00 byte; a field that ends
 * with single bits does not. `byteLength` reproduces that, so re-encoded chunks are byte-identical.
 */
export class BitWriter {
  private buf: Uint8Array;
  private view: DataView;
  /** Bits written so far. */
  private pos: number;
  /** Whether the last field written was a whole number of bytes (Prometheus' spare 0x00 byte). */
  spare: boolean;

  /** Continues writing after the first `pos` bits of `bytes` (which are copied). */
  constructor(bytes: Uint8Array = new Uint8Array(0), pos = bytes.length * 8) {
    this.buf = new Uint8Array(Math.max(256, bytes.length * 2));
    this.view = new DataView(this.buf.buffer);
    this.buf.set(bytes);
    // Bits past `pos` must be zero: writes OR into the buffer.
    if (pos & 7) this.buf[pos >>> 3] &= (0xff00 >>> (pos & 7)) & 0xff;
    this.buf.fill(0, (pos + 7) >>> 3);
    this.pos = pos;
    this.spare = bytes.length > (pos + 7) >>> 3;
  }

  /** Bits written. */
  get bitLength(): number {
    return this.pos;
  }

  /** Length of the stream as Prometheus' bstream would have it (see the class comment). */
  get byteLength(): number {
    return ((this.pos + 7) >>> 3) + (this.spare && (this.pos & 7) === 0 ? 1 : 0);
  }

  /** The stream so far; a view that the next write may invalidate. */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.byteLength);
  }

  /** Direct access for fixed-position headers (e.g. a chunk's sample count). */
  get buffer(): Uint8Array {
    return this.buf;
  }

  /** Makes room for at least `n` more bytes (writes touch up to 5 bytes from the current one). */
  reserve(n: number): void {
    const need = ((this.pos + 7) >>> 3) + 5 + n;
    if (need <= this.buf.length) return;
    const next = new Uint8Array(Math.max(need, this.buf.length * 2));
    next.set(this.buf);
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  writeBit(bit: number): void {
    const p = this.pos;
    if (bit) this.buf[p >>> 3] |= 0x80 >>> (p & 7);
    this.pos = p + 1;
    this.spare = false;
  }

  /** Writes the low `n` bits (1…32) of `v`, most significant first. The caller has reserved room. */
  writeBits(v: number, n: number): void {
    const p = this.pos;
    const i = p >>> 3;
    const off = p & 7;
    // The field's bits at the top of a word (higher bits of v shift out), then at the write position.
    const w = v << (32 - n);
    this.view.setUint32(i, this.view.getUint32(i) | (w >>> off));
    if (off + n > 32) this.buf[i + 4] |= w << (8 - off);
    this.pos = p + n;
    this.spare = (n & 7) === 0;
  }

  /** Writes the low `n` bits (1…64) of the 64-bit value `hi:lo` as one field. */
  writeBits64(hi: number, lo: number, n: number): void {
    writeBits64To(this, hi, lo, n);
  }

  /** Writes the 64-bit value hi:lo as an unsigned varint; the stream must be at a byte boundary. */
  writeUvarint(hi: number, lo: number): void {
    this.pos = putUvarint64(this.buf, this.pos >>> 3, hi, lo) * 8;
    this.spare = true;
  }
}

/** Bytes of zero padding after a reader's copy of the data; more than the longest read past the end of one sample. */
const READ_PADDING = 32;

/**
 * Reads bits from a private, zero-padded copy of the data, so reads never go out of bounds; readers
 * check `pos` against `end` after each sample to detect truncation. Reusable through `reset`.
 */
export class BitReader {
  buf = new Uint8Array(READ_PADDING);
  view = new DataView(this.buf.buffer);
  /** Next bit to read. */
  pos = 0;
  /** Bit length of the real data. */
  end = 0;

  /** Starts reading `data` at byte `startByte`. */
  reset(data: Uint8Array, startByte: number): void {
    const n = data.length;
    if (this.buf.length < n + READ_PADDING) {
      this.buf = new Uint8Array(Math.max(n + READ_PADDING, this.buf.length * 2));
      this.view = new DataView(this.buf.buffer);
    }
    this.buf.set(data);
    this.buf.fill(0, n, n + READ_PADDING);
    this.pos = startByte * 8;
    this.end = n * 8;
  }

  /** The 32 bits starting at `pos`, as an unsigned number, without consuming them. */
  peek32(): number {
    const p = this.pos;
    const i = p >>> 3;
    const off = p & 7;
    return ((this.view.getUint32(i) << off) | (this.buf[i + 4] >>> (8 - off))) >>> 0;
  }

  readBit(): number {
    const p = this.pos;
    this.pos = p + 1;
    return (this.buf[p >>> 3] >>> (7 - (p & 7))) & 1;
  }

  /** Reads `n` bits (1…32) as an unsigned number. */
  readBits(n: number): number {
    const w = this.peek32();
    this.pos += n;
    return w >>> (32 - n);
  }

  readByte(): number {
    return this.readBits(8);
  }
}

/**
 * A BitWriter for one pass over a fixed amount of data: bits gather in a 32-bit word that is stored
 * whole when full, into a buffer the caller sized (`begin`, or `attach` to a buffer of its own), so a
 * write of up to 32 bits is a few integer operations, without bounds checks, read-modify-write of the
 * buffer or growth. Reusable through `begin`/`attach`.
 */
export class BitAccumulator {
  buf: Uint8Array = new Uint8Array(256);
  view: DataView = new DataView(this.buf.buffer);
  /** Where the next full word goes. */
  p = 0;
  /** The word being filled from its top bit down, and how many of its bits are still free (1…32). */
  cur = 0;
  free = 32;
  /** Whether the last field written was a whole number of bytes (see BitWriter). */
  spare = false;

  /** Starts over at the start of its own buffer, with room for `bytes` bytes. */
  begin(bytes: number): void {
    if (this.buf.length < bytes + 8) {
      this.buf = new Uint8Array(Math.max(bytes + 8, this.buf.length * 2));
      this.view = new DataView(this.buf.buffer);
    }
    this.attach(this.buf, this.view, 0);
  }

  /**
   * Starts a stream at byte `p` of `buf` (`view` over the same bytes), which has room for what will be
   * written and 4 bytes more (a word store may touch them).
   */
  attach(buf: Uint8Array, view: DataView, p: number): void {
    this.buf = buf;
    this.view = view;
    this.p = p;
    this.cur = 0;
    this.free = 32;
    this.spare = false;
  }

  /** Writes the `n` (1…32) bits of `v`, which has none above them, most significant first; leaves `spare` as it is. */
  bits(v: number, n: number): void {
    const free = this.free;
    if (n < free) {
      this.cur |= v << (free - n);
      this.free = free - n;
    } else {
      const spill = n - free;
      this.view.setUint32(this.p, this.cur | (v >>> spill));
      this.p += 4;
      this.cur = spill === 0 ? 0 : v << (32 - spill);
      this.free = 32 - spill;
    }
  }

  /** Writes the low `n` bits (1…32) of `v`, most significant first. */
  writeBits(v: number, n: number): void {
    this.bits(n === 32 ? v : v & ((1 << n) - 1), n);
    this.spare = (n & 7) === 0;
  }

  /** Writes the low `n` bits (1…64) of the 64-bit value `hi:lo` as one field. */
  writeBits64(hi: number, lo: number, n: number): void {
    writeBits64To(this, hi, lo, n);
  }

  /**
   * Closes the stream as BitWriter would hold it (trailing bits zero-padded, Prometheus' spare byte)
   * and returns the byte position after it.
   */
  end(): number {
    const used = 32 - this.free;
    this.view.setUint32(this.p, this.cur);
    let len = this.p + ((used + 7) >>> 3);
    if ((used & 7) === 0 && this.spare) this.buf[len++] = 0;
    return len;
  }
}
