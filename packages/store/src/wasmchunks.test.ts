import { chunkHash } from '@strata/storeapi';
import { describe, expect, it } from 'vitest';
import { hashStaged, stage } from './wasmchunks.js';

/** A deterministic byte generator (xorshift32), so a failure reproduces. */
function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe('hashStaged', () => {
  it('hashes every range of the staged bytes as xxhash-wasm hashes it alone (every length to 300, misaligned starts, large ranges), only those of the staged read', () => {
    const data = bytes(70_000, 2);
    const ranges: [number, number][] = [];
    for (let len = 0; len <= 300; len++) ranges.push([(len * 7) % 13, len]);
    ranges.push([3, 65_000], [0, 70_000], [69_999, 1], [5, 0]);
    const n = ranges.length;
    const r = {
      // Range 1 belongs to another read: left alone.
      buffer: Uint32Array.from(ranges, (_, k) => (k === 1 ? 1 : 0)),
      start: Uint32Array.from(ranges, (x) => x[0]),
      end: Uint32Array.from(ranges, (x) => x[0] + x[1]),
      hashLo: new Uint32Array(n).fill(7),
      hashHi: new Uint32Array(n).fill(7),
    };
    const staged = stage(data, n);
    expect(staged).toEqual(data);
    hashStaged(r, Array.from(ranges, (_, k) => n - 1 - k), 0);
    const hash = (k: number) => ((BigInt(r.hashHi[k] as number) << 32n) | BigInt(r.hashLo[k] as number)).toString(16);
    for (let k = 0; k < n; k++) {
      if (k === 1) expect([r.hashLo[k], r.hashHi[k]]).toEqual([7, 7]);
      else expect(hash(k), `range ${k} (${ranges[k]![1]} bytes)`).toBe(chunkHash(data.subarray(r.start[k], r.end[k])).toString(16));
    }
    // Again with a smaller read staged over the first (the memory already grown).
    const small = bytes(100, 3);
    stage(small, 1);
    hashStaged({ ...r, start: Uint32Array.of(10), end: Uint32Array.of(90), buffer: Uint32Array.of(4) }, [0], 4);
    expect(hash(0)).toBe(chunkHash(small.subarray(10, 90)).toString(16));
  });
});
