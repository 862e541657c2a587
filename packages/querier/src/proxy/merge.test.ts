import { chunkHash, type AggrChunk } from '@strata/storeapi';
import { describe, expect, it } from 'vitest';
import { dedupChunks } from './merge.js';

const chunk = (minTime: number, maxTime: number, bytes: number[], hashed: boolean): AggrChunk => {
  const data = Uint8Array.from(bytes);
  return { minTime, maxTime, raw: { type: 0, data, hash: hashed ? chunkHash(data) : 0n } };
};

describe('dedupChunks', () => {
  it('drops byte-identical chunks whether or not their stores sent hashes, keeps differing ones', () => {
    for (const [a, b] of [
      [true, true],
      [false, false],
      [true, false],
      [false, true],
    ] as const) {
      const chunks = [chunk(10, 20, [1, 2, 3], a), chunk(0, 9, [9], a), chunk(10, 20, [1, 2, 4], b), chunk(10, 20, [1, 2, 3], b), chunk(0, 9, [9], b)];
      dedupChunks(chunks);
      expect(chunks.map((c) => [c.minTime, c.maxTime, [...c.raw!.data]])).toEqual([
        [0, 9, [9]],
        [10, 20, [1, 2, 3]],
        [10, 20, [1, 2, 4]],
      ]);
    }
  });

  it('keeps chunks with equal bytes but different time ranges', () => {
    const chunks = [chunk(0, 10, [7], false), chunk(0, 11, [7], false)];
    dedupChunks(chunks);
    expect(chunks).toHaveLength(2);
  });
});
