import { describe, expect, it } from 'vitest';
import { ProtoReader } from './reader.js';
import { MAX_INT64, MIN_INT64, ProtoWriter } from './writer.js';

describe('ProtoReader.int64', () => {
  // Around every varint length the short path (≤ 7 bytes, 2^49) and the general one meet, each read
  // with and without 7 bytes after its start (the short path needs them in the message).
  const values = [0, 1, 127, 128, 2 ** 28 - 1, 2 ** 28, 2 ** 35, 2 ** 42 - 1, 2 ** 42, 1_700_000_000_123, 2 ** 49 - 1, 2 ** 49, 2 ** 53 - 1, -1, -1_700_000_000_123, MIN_INT64, MAX_INT64];
  for (const v of values) {
    it(`reads ${v} at the end of a message and inside one`, () => {
      const alone = new ProtoWriter().int64(1, v).finish();
      const r = new ProtoReader(alone);
      if (v !== 0) {
        expect(r.tag()).toBe(8);
        expect(r.int64()).toBe(v);
      }
      expect(r.done).toBe(true);
      const inside = new ProtoWriter().int64(1, v).int64(2, 1_700_000_000_000).finish();
      const s = new ProtoReader(inside);
      if (v !== 0) {
        expect(s.tag()).toBe(8);
        expect(s.int64()).toBe(v);
      }
      expect(s.tag()).toBe(16);
      expect(s.int64()).toBe(1_700_000_000_000);
      expect(s.done).toBe(true);
    });
  }
});

describe('ProtoReader.uint64', () => {
  // Every length from 1 to 10 bytes, values around the 32-bit halves, and hash-like random ones (chunk
  // hashes), each at the end of a message and followed by a field whose bytes have the high bit set.
  const values = [1n, 127n, 128n, 2n ** 28n - 1n, 2n ** 28n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 35n, 2n ** 42n + 5n, 2n ** 56n - 1n, 2n ** 63n, 2n ** 64n - 1n, 0x9e3779b97f4a7c15n, 0x0123456789abcdefn];
  for (let i = 0; i < 64; i++) values.push(BigInt.asUintN(64, values[values.length - 1]! * 0x5851f42d4c957f2dn + 1442695040888963407n));
  it('reads every value at the end of a message and inside one', () => {
    for (const v of values) {
      const alone = new ProtoReader(new ProtoWriter().uint64(1, v).finish());
      expect(alone.tag()).toBe(8);
      expect(alone.uint64()).toBe(v);
      expect(alone.done).toBe(true);
      const inside = new ProtoReader(new ProtoWriter().uint64(1, v).uint64(2, 2n ** 64n - 1n).finish());
      expect(inside.tag()).toBe(8);
      expect(inside.uint64()).toBe(v);
      expect(inside.tag()).toBe(16);
      expect(inside.uint64()).toBe(2n ** 64n - 1n);
      expect(inside.done).toBe(true);
    }
  });
  it('refuses a varint longer than 10 bytes', () => {
    const bad = Buffer.from([0x08, ...new Array<number>(10).fill(0xff), 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const r = new ProtoReader(bad);
    r.tag();
    expect(() => r.uint64()).toThrow(/longer than 10 bytes/);
  });
});

describe('ProtoReader.sint64 and uint64Number', () => {
  // Zigzag values around 2^53, where the double path ends, and the 32-bit halves, against bigint arithmetic.
  // (Not 0: the writer leaves a zero field out.)
  const signed = [1n, -1n, 63n, -64n, 2n ** 31n, -(2n ** 31n) - 1n, 2n ** 32n, 2n ** 52n - 1n, -(2n ** 52n), 2n ** 52n, -(2n ** 52n) - 1n, 2n ** 53n, 2n ** 62n, -(2n ** 63n), 2n ** 63n - 1n];
  it('reads zigzag values in doubles as bigint arithmetic does', () => {
    for (const v of signed) {
      const zigzag = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
      const r = new ProtoReader(new ProtoWriter().uint64(1, zigzag).uint64(2, zigzag).finish());
      expect(r.tag()).toBe(8);
      expect(r.sint64(), String(v)).toBe(Number(v));
      expect(r.tag()).toBe(16);
      expect(r.uint64Number(), String(zigzag)).toBe(Number(zigzag));
    }
  });
});

describe('ProtoReader.uint32', () => {
  // One- and two-byte varints take a short path when two bytes are left in the message; each value is
  // read at the end of a message (fewer left) and inside one.
  const values = [1, 127, 128, 255, 16_383, 16_384, 2 ** 21 - 1, 2 ** 21, 2 ** 28, 2 ** 32 - 1];
  it('reads every value at the end of a message and inside one', () => {
    for (const v of values) {
      const alone = new ProtoReader(new ProtoWriter().uint32(1, v).finish());
      expect(alone.tag()).toBe(8);
      expect(alone.uint32()).toBe(v);
      expect(alone.done).toBe(true);
      const inside = new ProtoReader(new ProtoWriter().uint32(1, v).uint32(2, 1).finish());
      expect(inside.tag()).toBe(8);
      expect(inside.uint32()).toBe(v);
      expect(inside.tag()).toBe(16);
      expect(inside.uint32()).toBe(1);
      expect(inside.done).toBe(true);
    }
  });
  it('refuses a varint cut by the end of its message', () => {
    expect(() => new ProtoReader(Buffer.from([0x80])).uint32()).toThrow(/truncated/);
    expect(() => new ProtoReader(Buffer.from([0x80, 0x80])).uint32()).toThrow(/truncated/);
    expect(() => new ProtoReader(Buffer.from([0x80, 0x01, 0x05]), 0, 1).uint32()).toThrow(/truncated/);
  });
});
