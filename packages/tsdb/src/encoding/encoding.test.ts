import { describe, expect, it } from 'vitest';
import { crc32c, crc32cTables } from './crc32c.js';
import { CorruptionError, Decbuf } from './decbuf.js';
import { Encbuf } from './encbuf.js';

describe('crc32c', () => {
  it('matches the Castagnoli check value', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
  });
  it('chains and handles every tail length', () => {
    const data = new Uint8Array(3000).map((_, i) => (i * 31) & 0xff);
    // Cuts on both sides of the length where the native CRC takes over, so the two are chained.
    for (const cut of [...Array(20).keys(), 191, 192, 193, 700, 511, 512, 1000, 2300, 2808, 2809]) expect(crc32c(data, crc32c(data, 0, 0, cut), cut)).toBe(crc32cTables(data));
  });
  it('gives the bytewise answer at every alignment, across buffers and views', () => {
    const bytewise = (d: Uint8Array): number => {
      let c = 0xffffffff;
      for (const b of d) {
        c ^= b;
        for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
      }
      return ~c >>> 0;
    };
    // Three buffers in turn: the word views of the last two are cached, so views are reused and replaced.
    const buffers = [
      new Uint8Array(2301).map((_, i) => (i * 131 + 7) & 0xff),
      new Uint8Array(97).map((_, i) => (i * 17) & 0xff),
      new Uint8Array(640).map((_, i) => (i * 7 + 3) & 0xff),
    ];
    for (let offset = 0; offset < 9; offset++)
      for (const length of [0, 15, 16, 17, 23, 64, 77, 191, 192, 511, 512, 2000]) {
        for (const b of buffers) {
          const view = new Uint8Array(b.buffer, offset, Math.min(length, b.length - offset));
          expect(crc32c(view)).toBe(bytewise(view));
          expect(crc32cTables(view)).toBe(bytewise(view));
          expect(crc32c(b, 0, offset, offset + view.length)).toBe(bytewise(view));
        }
      }
  });
});

describe('Encbuf/Decbuf', () => {
  it('round-trips integers and strings', () => {
    const e = new Encbuf(1);
    const vals = [0, 1, 127, 128, 300, 2 ** 32, 2 ** 53 - 1];
    for (const v of vals) e.putUvarint(v);
    const signed = [0, -1, 1, -64, 64, -(2 ** 40), 1700000000000];
    for (const v of signed) e.putVarint(v);
    e.putBE32(0xbaaad700);
    e.putBE64(0x7ff0000000000002n);
    e.putUvarintStr('héllo\n');
    const d = new Decbuf(e.get(), 'test');
    for (const v of vals) expect(d.uvarint()).toBe(v);
    for (const v of signed) expect(d.varint()).toBe(v);
    expect(d.be32()).toBe(0xbaaad700);
    expect(d.be64()).toBe(0x7ff0000000000002n);
    expect(d.uvarintStr()).toBe('héllo\n');
    expect(d.remaining).toBe(0);
  });
  it('reports truncation with the offset', () => {
    const d = new Decbuf(new Uint8Array([0x80, 0x80]), 'index series', 100);
    expect(() => d.uvarint()).toThrow(CorruptionError);
    expect(() => new Decbuf(new Uint8Array([1, 2]), 'toc', 50).be32()).toThrow(/toc: unexpected end of data reading BE32 .* at offset 50/);
  });
});
