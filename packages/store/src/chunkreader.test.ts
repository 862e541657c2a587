import { chunkRef, encodeChunkRecord, Encoding, formatRef, MemoryByteRange, refOffset, SEGMENT_HEADER_SIZE, XORChunk } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { parseCachingBucketConfig } from './cachingbucketconfig.js';
import { Registry } from 'prom-client';
import { chunkHash } from '@strata/storeapi';
import { chunkSizeHint, readChunks } from './chunkreader.js';
import { ChunksCache } from './chunkscache.js';

/** One segment file of XOR chunks of `sizes` samples each; reads are counted. */
function segment(samples: number[]) {
  const records: Uint8Array[] = [];
  const chunks: XORChunk[] = [];
  for (const [i, n] of samples.entries()) {
    const c = new XORChunk();
    const app = c.appender();
    for (let s = 0; s < n; s++) app.append(s * 15_000, Math.sin(i + s) * 1e6 + s / 7);
    chunks.push(c);
    records.push(encodeChunkRecord(c));
  }
  const bytes = new Uint8Array(SEGMENT_HEADER_SIZE + records.reduce((n, r) => n + r.length, 0));
  const refs: number[] = [];
  let off = SEGMENT_HEADER_SIZE;
  for (const r of records) {
    refs.push(chunkRef(0, off));
    bytes.set(r, off);
    off += r.length;
  }
  const file = new MemoryByteRange('chunks/000001', bytes);
  const reads: [number, number][] = [];
  const counted = Object.assign(Object.create(file) as MemoryByteRange, {
    read: (offset: number, length: number) => {
      reads.push([offset, length]);
      return file.read(offset, length);
    },
  });
  return { segments: { files: [counted], sizes: [bytes.length] }, refs, chunks, reads };
}

describe('readChunks', () => {
  it('returns every chunk as stored, in the order asked, whatever the estimate', async () => {
    const { segments, refs, chunks } = segment([1, 120, 3, 240, 60]);
    const order = [3, 0, 4, 1, 2];
    for (const sizeEstimate of [8, 64, 4096])
      for (const maxGap of [0, 100_000]) {
        const got = await readChunks(segments, order.map((i) => refs[i] as number), { sizeEstimate, maxGap });
        expect(Array.from({ length: got.length }, (_, k) => Buffer.from(got.data(k)).toString('hex'))).toEqual(order.map((i) => Buffer.from((chunks[i] as XORChunk).bytes).toString('hex')));
        expect([...got.encoding]).toEqual(order.map(() => Encoding.XOR));
        // Each chunk's first two bytes (an XOR chunk's sample count), whether it was read with others or apart.
        expect([...got.head]).toEqual(order.map((i) => (chunks[i] as XORChunk).numSamples()));
      }
  });

  it('reads only the rest of a chunk longer than its estimate: one more request, no byte twice', async () => {
    const { segments, refs, reads } = segment([240]);
    await readChunks(segments, refs, { sizeEstimate: 32, maxGap: 0 });
    expect(reads).toHaveLength(2);
    const [first, rest] = reads as [[number, number], [number, number]];
    expect(rest[0]).toBe(first[0] + first[1]);
  });

  it("reads a series' adjacent chunks in one request with its own sizes as hints, where the block's estimate splits them", async () => {
    const { segments, refs, reads } = segment([240, 240, 240, 240]);
    const hints = refs.map((_, i) => chunkSizeHint(refs, 0, refs.length, i));
    expect(hints.slice(0, 3)).toEqual(refs.slice(1).map((r, i) => r - (refs[i] as number)));
    expect(hints[3]).toBe(Math.ceil(Math.max(...hints.slice(0, 3)) * 1.25));
    await readChunks(segments, refs, { sizeEstimate: 32, maxGap: 0 }, hints);
    expect(reads).toHaveLength(1);
    reads.length = 0;
    await readChunks(segments, refs, { sizeEstimate: 32, maxGap: 0 });
    expect(reads.length).toBeGreaterThan(4);
  });

  it('gives no hint across segment files, for a lone chunk, or for chunks far apart', () => {
    // A series' refs among others' (the index's chunk metas of several series in one column).
    const hints = (refs: number[]) => refs.map((_, i) => chunkSizeHint([1, ...refs, 9], 1, refs.length + 1, i + 1));
    expect(hints([8])).toEqual([0]);
    expect(hints([8, 2 ** 32 + 8])).toEqual([0, 0]);
    expect(hints([8, 8 + 1_000_000])).toEqual([0, 0]);
  });

  it('names the corrupt chunk among many read together, and only a corrupt read fails', async () => {
    const samples = Array.from({ length: 30 }, (_, i) => 10 + i * 7);
    for (const victim of [0, 13, 29]) {
      const { segments, refs } = segment(samples);
      const bytes = (segments.files[0] as unknown as { read: (o: number, l: number) => Promise<Uint8Array> }).read;
      const all = await bytes(0, segments.sizes[0] as number);
      const at = refOffset(refs[victim] as number) + 5;
      all[at]! ^= 0x10;
      await expect(readChunks(segments, refs, { sizeEstimate: 4096, maxGap: 100_000 })).rejects.toThrow(new RegExp(`chunk ${formatRef(refs[victim] as number)}: checksum mismatch`));
      all[at]! ^= 0x10;
      expect((await readChunks(segments, refs, { sizeEstimate: 4096, maxGap: 100_000 })).length).toBe(samples.length);
    }
  });

  it('through the chunk cache, checks a read whole once, yet fails only for a damaged chunk that was asked for', async () => {
    const samples = Array.from({ length: 30 }, (_, i) => 10 + i * 7);
    const { segments, refs, chunks } = segment(samples);
    const file = segments.files[0] as MemoryByteRange;
    const all = await file.read(0, segments.sizes[0] as number);
    const cache = new ChunksCache(parseCachingBucketConfig('type: IN-MEMORY'), new Registry());
    const cachedSegments = { files: [cache.segment(file.name).wrap(file)], sizes: segments.sizes };
    const plan = { sizeEstimate: 4096, maxGap: 100_000 };
    const hex = (got: Awaited<ReturnType<typeof readChunks>>) => Array.from({ length: got.length }, (_, k) => Buffer.from(got.data(k)).toString('hex'));
    const asked = refs.filter((_, i) => i !== 13);
    // Intact: checked whole on the first read, from the cache (and remembered as checked) on the next ones.
    const intact = new ChunksCache(parseCachingBucketConfig('type: IN-MEMORY'), new Registry());
    const intactSegments = { files: [intact.segment(file.name).wrap(file)], sizes: segments.sizes };
    const everyChunk = chunks.map((c) => Buffer.from(c.bytes).toString('hex'));
    for (let round = 0; round < 3; round++) expect(hex(await readChunks(intactSegments, refs, plan))).toEqual(everyChunk);
    // What the records kept give is what parsing gives: every field of every row, asked in any order and
    // with chunks running past the read, for the same read (a chunk's record is read apart as before).
    const fields = (got: Awaited<ReturnType<typeof readChunks>>) =>
      Array.from({ length: got.length }, (_, k) => [got.data(k).length, got.encoding[k], got.head[k], got.hashLo[k], got.hashHi[k]]);
    const expected = chunks.map((c) => {
      const hash = chunkHash(c.bytes);
      return [c.bytes.length, Encoding.XOR, (c.bytes[0]! << 8) | c.bytes[1]!, Number(hash & 0xffffffffn), Number(hash >> 32n)];
    });
    const shuffled = [...refs.keys()].sort((a, b) => ((a * 7) % 30) - ((b * 7) % 30));
    const small = { sizeEstimate: 64, maxGap: 100_000 };
    // Also from pieces smaller than a chunk, most chunks then spanning two or more.
    const fine = new ChunksCache(parseCachingBucketConfig('type: IN-MEMORY\nchunk_subrange_size: 97'), new Registry());
    const fineSegments = { files: [fine.segment(file.name).wrap(file)], sizes: segments.sizes };
    for (const cachedSegments of [intactSegments, fineSegments]) {
      for (let round = 0; round < 2; round++) {
        expect(hex(await readChunks(cachedSegments, refs, plan))).toEqual(everyChunk);
        expect(fields(await readChunks(cachedSegments, refs, plan))).toEqual(expected);
        expect(fields(await readChunks(cachedSegments, shuffled.map((i) => refs[i]!), plan))).toEqual(shuffled.map((i) => expected[i]));
        expect(fields(await readChunks(cachedSegments, refs, small, refs.map(() => 64)))).toEqual(expected);
      }
    }
    const want = chunks.filter((_, i) => i !== 13).map((c) => Buffer.from(c.bytes).toString('hex'));
    // Chunk 13 damaged before anything is cached: a read around it, not asking for it, is served; asking for it fails.
    const at = refOffset(refs[13] as number) + 5;
    all[at]! ^= 0x10;
    expect(hex(await readChunks(cachedSegments, asked, plan))).toEqual(want);
    await expect(readChunks(cachedSegments, refs, plan)).rejects.toThrow(new RegExp(`chunk ${formatRef(refs[13] as number)}: checksum mismatch`));
    // Served again from the cache (the same damaged pieces), it fails again: a read with a damaged record is never remembered as checked.
    await expect(readChunks(cachedSegments, refs, plan)).rejects.toThrow(/checksum mismatch/);
    expect(hex(await readChunks(cachedSegments, asked, plan))).toEqual(want);
  });
});
