import { chunkRef, encodeChunkRecord, MemoryByteRange, SEGMENT_HEADER_SIZE, XORChunk } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { readChunks } from './chunkreader.js';

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
        expect(got.map((c) => Buffer.from(c.data).toString('hex'))).toEqual(order.map((i) => Buffer.from((chunks[i] as XORChunk).bytes).toString('hex')));
      }
  });

  it('reads only the rest of a chunk longer than its estimate: one more request, no byte twice', async () => {
    const { segments, refs, reads } = segment([240]);
    await readChunks(segments, refs, { sizeEstimate: 32, maxGap: 0 });
    expect(reads).toHaveLength(2);
    const [first, rest] = reads as [[number, number], [number, number]];
    expect(rest[0]).toBe(first[0] + first[1]);
  });
});
