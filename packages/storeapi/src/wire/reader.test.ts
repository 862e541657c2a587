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
