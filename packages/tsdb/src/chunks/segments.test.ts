import { readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '@strata/testing/process';
import type { Chunk } from '../chunkenc/chunk.js';
import { XORChunk } from '../chunkenc/xor.js';
import { MemoryByteRange, type ByteRange } from '../encoding/byterange.js';
import { CorruptionError } from '../encoding/decbuf.js';
import { ChunkSegmentReader } from './reader.js';
import { chunkRef, refFileIndex, refOffset } from './segment.js';
import { ChunkSegmentWriter } from './writer.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A chunk of `n` samples whose values depend on `seed`, so every chunk's bytes differ. */
function makeChunk(seed: number, n: number): XORChunk {
  const c = new XORChunk();
  const app = c.appender();
  for (let i = 0; i < n; i++) app.append(1_700_000_000_000 + i * 15_000 + ((i * seed) % 7), Math.sin(seed + i) * 1000);
  return c;
}

/** A ByteRange that counts reads. */
class CountingRange implements ByteRange {
  reads = 0;
  constructor(private readonly inner: ByteRange) {}
  get name(): string {
    return this.inner.name;
  }
  size(): Promise<number> {
    return this.inner.size();
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    this.reads++;
    return this.inner.read(offset, length);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ path: dir, cleanup } = await tempDir('strata-chunks-'));
});
afterEach(async () => {
  await cleanup();
});

async function writeSeries(series: Chunk[][], maxSegmentSize?: number): Promise<number[][]> {
  const w = await ChunkSegmentWriter.create(join(dir, 'chunks'), maxSegmentSize === undefined ? {} : { maxSegmentSize });
  const refs: number[][] = [];
  for (const s of series) refs.push(await w.writeChunks(s));
  await w.close();
  return refs;
}

describe('chunk segment files', () => {
  it('writes the header and chunk framing, and reads every chunk back by ref', async () => {
    const series = Array.from({ length: 20 }, (_, s) => Array.from({ length: 1 + (s % 4) }, (_, k) => makeChunk(s * 10 + k, 1 + ((s * 31 + k * 7) % 120))));
    const refs = await writeSeries(series);
    expect(await readdir(join(dir, 'chunks'))).toEqual(['000001']);
    const file = await readFile(join(dir, 'chunks', '000001'));
    expect(hex(file.subarray(0, 8))).toBe('85bd40dd01000000');
    expect(refs[0]![0]).toBe(8);
    // Framing of the first chunk: uvarint len | encoding 1 | data | CRC.
    const first = series[0]![0]!.bytes;
    expect(file[8]).toBe(first.length);
    expect(file[9]).toBe(1);
    expect(hex(file.subarray(10, 10 + first.length))).toBe(hex(first));

    const r = await ChunkSegmentReader.openDir(join(dir, 'chunks'));
    try {
      for (let s = 0; s < series.length; s++) {
        for (let k = 0; k < series[s]!.length; k++) {
          const c = await r.chunk(refs[s]![k]!);
          expect(c.encoding).toBe(1);
          expect(hex(c.bytes)).toBe(hex(series[s]![k]!.bytes));
        }
      }
      const seq: string[] = [];
      for await (const e of r.entries()) seq.push(`${e.ref}:${hex(e.chunk.bytes)}`);
      expect(seq).toEqual(series.flatMap((s, i) => s.map((c, k) => `${refs[i]![k]}:${hex(c.bytes)}`)));
    } finally {
      await r.close();
    }
  });

  it('cuts segments before a series that does not fit, splits oversized series, leaves no empty files', async () => {
    const max = 1000;
    const series: Chunk[][] = [];
    for (let s = 0; s < 30; s++) series.push(Array.from({ length: 1 + (s % 3) }, (_, k) => makeChunk(s * 3 + k, 10 + ((s * 13) % 30))));
    // A series bigger than a segment: split into batches that each fit.
    series.push(Array.from({ length: 12 }, (_, k) => makeChunk(500 + k, 60)));
    // A single chunk bigger than a segment still gets written, alone.
    series.push([makeChunk(900, 1000)]);
    series.push([makeChunk(901, 5)]);
    const refs = await writeSeries(series, max);

    const names = (await readdir(join(dir, 'chunks'))).sort();
    expect(names.length).toBeGreaterThan(3);
    expect(names).toEqual(names.map((_, i) => String(i + 1).padStart(6, '0')));
    const sizes = await Promise.all(names.map(async (n) => (await stat(join(dir, 'chunks', n))).size));
    expect(series[series.length - 2]![0]!.bytes.length).toBeGreaterThan(max);
    for (const size of sizes) {
      expect(size).toBeGreaterThan(8);
    }

    // Refs increase, each lies in its file, and a segment over the limit holds one oversized chunk only.
    const flat = refs.flat();
    for (let i = 1; i < flat.length; i++) expect(flat[i]!).toBeGreaterThan(flat[i - 1]!);
    for (const ref of flat) expect(refOffset(ref)).toBeLessThan(sizes[refFileIndex(ref)]!);
    sizes.forEach((size, file) => {
      if (size > max) expect(flat.filter((ref) => refFileIndex(ref) === file)).toHaveLength(1);
    });
    // The big series spans several segments.
    expect(new Set(refs[30]!.map(refFileIndex)).size).toBeGreaterThan(1);

    const r = await ChunkSegmentReader.openDir(join(dir, 'chunks'));
    try {
      const got = await r.chunks(flat);
      expect(got.map((c) => hex(c.bytes))).toEqual(series.flat().map((c) => hex(c.bytes)));
      expect(r.numFiles).toBe(names.length);
      expect(r.size).toBe(sizes.reduce((a, b) => a + b, 0));
    } finally {
      await r.close();
    }
  });

  it('an empty writer leaves no segment file', async () => {
    const w = await ChunkSegmentWriter.create(join(dir, 'chunks'));
    await w.close();
    expect(await readdir(join(dir, 'chunks'))).toEqual([]);
  });

  it('reads many refs with few range reads, in the order asked, and chunks longer than the estimate', async () => {
    const series = Array.from({ length: 200 }, (_, s) => [makeChunk(s, 120)]);
    series.push([makeChunk(999, 5000)]);
    const refs = (await writeSeries(series)).flat();
    const bytes = await readFile(join(dir, 'chunks', '000001'));
    const counting = new CountingRange(new MemoryByteRange('mem/000001', bytes));
    const r = await ChunkSegmentReader.open([counting], { chunkSizeEstimate: 512, maxGap: 4096 });
    const wanted = [...refs].reverse();
    const got = await r.chunks(wanted);
    expect(got.map((c) => hex(c.bytes))).toEqual(series.flat().reverse().map((c) => hex(c.bytes)));
    // One merged read for the contiguous small chunks, one more for the long chunk (header read excluded).
    expect(counting.reads - 1).toBeLessThanOrEqual(3);
    expect(hex((await r.chunk(refs[200]!)).bytes)).toBe(hex(series[200]![0]!.bytes));
    await r.close();
  });
});

describe('chunk segment files: corrupt input', () => {
  async function oneFile(): Promise<{ path: string; refs: number[] }> {
    const refs = (await writeSeries([[makeChunk(1, 120), makeChunk(2, 120)], [makeChunk(3, 50)]])).flat();
    return { path: join(dir, 'chunks', '000001'), refs };
  }

  it('a flipped data byte fails the CRC, naming the file and the chunk offset', async () => {
    const { path, refs } = await oneFile();
    const bytes = await readFile(path);
    bytes[refOffset(refs[1]!) + 30]! ^= 0x10;
    await writeFile(path, bytes);
    const r = await ChunkSegmentReader.openDir(join(dir, 'chunks'), { name: 'BLOCK/chunks' });
    try {
      await expect(r.chunk(refs[0]!)).resolves.toBeDefined();
      const err = await r.chunk(refs[1]!).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CorruptionError);
      expect((err as CorruptionError).message).toMatch(
        new RegExp(`^BLOCK/chunks/000001: chunk 0x${refs[1]!.toString(16)}: checksum mismatch: stored CRC32C 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8} at offset ${refOffset(refs[1]!)}$`),
      );
      await expect(r.chunks(refs)).rejects.toThrow(/checksum mismatch/);
      const scan = async (): Promise<void> => {
        for await (const e of r.entries()) expect(e.chunk).toBeDefined();
      };
      await expect(scan()).rejects.toThrow(/000001: chunk .*checksum mismatch/);
    } finally {
      await r.close();
    }
  });

  it('a truncated file reports the chunk that runs past the end', async () => {
    const { path, refs } = await oneFile();
    const size = (await stat(path)).size;
    await truncate(path, size - 3);
    const r = await ChunkSegmentReader.openDir(join(dir, 'chunks'));
    try {
      await expect(r.chunk(refs[2]!)).rejects.toThrow(new RegExp(`000001: chunk 0x${refs[2]!.toString(16)}: chunk of \\d+ data bytes needs \\d+ bytes, only \\d+ left at offset ${refOffset(refs[2]!)}`));
      const scan = async (): Promise<number> => {
        let n = 0;
        for await (const _ of r.entries()) n++;
        return n;
      };
      await expect(scan()).rejects.toThrow(/only \d+ left/);
    } finally {
      await r.close();
    }
  });

  it('checks the magic number, the version and the header length of every file', async () => {
    const { path } = await oneFile();
    const good = await readFile(path);
    const cases: [Uint8Array, RegExp][] = [
      [Uint8Array.from([0, 1, 2, 3, ...good.subarray(4)]), /seg: invalid magic number 0x00010203, expected 0x85bd40dd at offset 0/],
      [Uint8Array.from([...good.subarray(0, 4), 2, ...good.subarray(5)]), /seg: invalid chunk format version 2, expected 1 at offset 4/],
      [good.subarray(0, 5), /seg: segment file of 5 bytes is shorter than its 8-byte header/],
    ];
    for (const [bytes, msg] of cases) {
      await expect(ChunkSegmentReader.open([new MemoryByteRange('ok', good), new MemoryByteRange('seg', bytes)])).rejects.toThrow(msg);
    }
  });

  it('rejects refs outside the files', async () => {
    const { refs } = await oneFile();
    const r = await ChunkSegmentReader.openDir(join(dir, 'chunks'), { name: 'B/chunks' });
    try {
      await expect(r.chunk(chunkRef(1, 8))).rejects.toThrow(/chunk ref 0x100000008: no segment file with index 1 \(there are 1\)/);
      await expect(r.chunk(chunkRef(0, 3))).rejects.toThrow(/B\/chunks\/000001: chunk ref 0x3 points outside the chunks/);
      await expect(r.chunk(chunkRef(0, 1 << 20))).rejects.toThrow(/points outside the chunks/);
      // A ref into the middle of a chunk reads garbage framing: an error, not a crash or hang.
      await expect(r.chunk(refs[0]! + 7)).rejects.toThrow(CorruptionError);
    } finally {
      await r.close();
    }
  });
});
