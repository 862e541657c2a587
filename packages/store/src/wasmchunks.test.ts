import { ChunkEncoding, chunkHash, encodeSeriesResponse, type AggrChunk } from '@strata/storeapi';
import { describe, expect, it } from 'vitest';
import { ReadChunks } from './chunkreader.js';
import { RawChunkColumns } from './rawchunks.js';
import { hashStaged, stage, writeChunkFields, writeChunkPieces } from './wasmchunks.js';

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

describe('writeChunkFields', () => {
  it('writes the chunks of many reads in turn, forward and back, of every size, byte for byte as the codec writes them', () => {
    const reads = [0, 1, 2, 3, 4].map((k) => bytes(400_000, k + 10));
    // 60 series, each with a chunk of every read in turn (a series' chunks from several blocks); each
    // read gone through forward, but for the last series, which go back to its start.
    const rows: { read: number; start: number; end: number }[] = [];
    const at = reads.map(() => 0);
    const runs: [number, number][] = [];
    for (let series = 0; series < 60; series++) {
      const from = rows.length;
      for (let read = 0; read < reads.length; read++) {
        if (series === 50) at[read] = 17 * read;
        const length = series === 7 && read === 2 ? 70_000 : 2 + ((series * 131 + read * 977) % 3000);
        const start = (at[read] as number) + (series % 3) * 40;
        rows.push({ read, start, end: start + length });
        at[read] = start + length;
      }
      runs.push([from, rows.length]);
    }
    const n = rows.length;
    const chunks = new ReadChunks(n);
    chunks.buffers.push(...reads);
    const minTime = new Float64Array(n);
    const maxTime = new Float64Array(n);
    const expected: AggrChunk[] = [];
    rows.forEach((r, i) => {
      const data = (reads[r.read] as Uint8Array).subarray(r.start, r.end);
      const hash = chunkHash(data);
      chunks.buffer[i] = r.read;
      chunks.start[i] = r.start;
      chunks.end[i] = r.end;
      chunks.head[i] = 1;
      chunks.hashLo[i] = Number(hash & 0xffffffffn);
      chunks.hashHi[i] = Number(hash >> 32n);
      minTime[i] = i === 3 ? 0 : (i - 100) * 60_000;
      maxTime[i] = minTime[i]! + 59_000;
      expected.push({ minTime: minTime[i]!, maxTime: maxTime[i]!, raw: { type: ChunkEncoding.XOR, data, hash } });
    });
    const cols = new RawChunkColumns(chunks, minTime, maxTime, runs.length);
    for (let i = 0; i < n; i++) cols.set(i);
    const out = Buffer.alloc(3 * 400_000 * reads.length);
    let p = 0;
    for (const [from, to] of runs) p = writeChunkFields(out, p, cols, from, to);
    // The codec's frame: field 1 (the Series, here only its chunks), then its length, then the fields.
    const frame = encodeSeriesResponse({ series: { labels: [], chunks: expected } });
    expect(Buffer.from(out.subarray(0, p)).equals(frame.subarray(frame.length - p))).toBe(true);
    // The same rows as pieces of one row each (interleaved replicas), written together: the same bytes.
    const pieces = writeChunkPieces(out.fill(0), 0, rows.map(() => cols), rows.map((_, i) => i), rows.map((_, i) => i + 1));
    expect(pieces).toBe(p);
    expect(Buffer.from(out.subarray(0, p)).equals(frame.subarray(frame.length - p))).toBe(true);
  });
});
