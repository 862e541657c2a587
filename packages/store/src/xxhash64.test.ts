import { chunkHash } from '@strata/storeapi';
import { describe, expect, it } from 'vitest';
import { xxhash64Ranges } from './xxhash64.js';

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

describe('xxhash64Ranges', () => {
  it('hashes every range as xxhash-wasm hashes it alone (every length to 300, misaligned starts, several buffers, large ranges)', () => {
    const buffers = [bytes(5000, 1), bytes(70_000, 2), bytes(1, 3), new Uint8Array(0)];
    const ranges: [number, number, number][] = [];
    for (let len = 0; len <= 300; len++) ranges.push([len % 2, (len * 7) % 13, 0]);
    for (const [b, start, len] of [[1, 3, 65_000], [1, 0, 70_000], [2, 0, 1], [3, 0, 0], [0, 4999, 1]] as const) ranges.push([b, start, len]);
    const input = {
      length: ranges.length,
      buffers,
      buffer: Uint32Array.from(ranges, (r) => r[0]),
      start: Uint32Array.from(ranges, (r) => r[1]),
      end: Uint32Array.from(ranges, (r, i) => r[1] + (i <= 300 ? i : r[2])),
    };
    const lo = new Uint32Array(ranges.length);
    const hi = new Uint32Array(ranges.length);
    xxhash64Ranges(input, lo, hi);
    for (let k = 0; k < ranges.length; k++) {
      const data = (buffers[input.buffer[k] as number] as Uint8Array).subarray(input.start[k], input.end[k]);
      expect(((BigInt(hi[k] as number) << 32n) | BigInt(lo[k] as number)).toString(16), `range ${k} (${data.length} bytes)`).toBe(chunkHash(data).toString(16));
    }
    // Again with the memory already grown, and fewer ranges than before (stale results must not remain).
    const one = { ...input, length: 1, buffer: input.buffer.subarray(300), start: input.start.subarray(300), end: input.end.subarray(300) };
    xxhash64Ranges(one, lo, hi);
    expect(((BigInt(hi[0] as number) << 32n) | BigInt(lo[0] as number)).toString(16)).toBe(chunkHash(buffers[0]!.subarray(one.start[0], one.end[0])).toString(16));
  });
});
