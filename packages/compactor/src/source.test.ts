import { join } from 'node:path';
import { reorderFirstSeriesChunks } from '@strata/testing/corrupt';
import { tempDir } from '@strata/testing/process';
import { ArraySampleIterator, BlockReader, BlockWriter, ChunksSampleIterator, encodeSeriesChunks, Labels, ValueType, type ChunkMeta } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { mergeBlocks } from './merge.js';
import { SourceBlock } from './source.js';

const HOUR = 3_600_000;

describe('SourceBlock', () => {
  for (const [name, extra] of [
    ['ASCII symbols after a count with high bits set', 'plain'],
    ['non-ASCII symbols', 'grüße'],
    ['a symbol of 128 bytes or more (two-byte length)', 'x'.repeat(200)],
  ] as const) {
    it(`reads the symbol table: ${name}`, async () => {
      const work = await tempDir();
      try {
        const w = await BlockWriter.create(work.path, { chunkRange: 2 * HOUR, range: { minTime: 0, maxTime: 2 * HOUR } });
        // 200 series: a symbol count of 0x…cd, a byte ≥ 0x80.
        const labels = Array.from({ length: 200 }, (_, i) => Labels.from({ __name__: 'm', i: String(i), tag: i === 7 ? extra : 'v' })).sort(Labels.compare);
        for (const l of labels) await w.addSeries(l, new ArraySampleIterator([0], [1]));
        const dir = join(work.path, (await w.close()).ulid);
        const src = await SourceBlock.open(dir);
        await src.close();
        const want = [...new Set(labels.flatMap((l) => [...l].flatMap((x) => [x.name, x.value])))].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        expect(src.symbols.filter((s) => s !== '')).toEqual(want);
      } finally {
        await work.cleanup();
      }
    });
  }

  it('reads chunks written out of order as Go writes them (negative time deltas), and a compaction puts them in order', async () => {
    const work = await tempDir();
    try {
      const chunks = (from: number) => {
        const ts = Array.from({ length: 60 }, (_, i) => from + i * 60_000);
        return encodeSeriesChunks(new ArraySampleIterator(ts, ts.map((t) => t / 1000)), 120);
      };
      const samples = (cs: readonly ChunkMeta[]) => {
        const out: number[] = [];
        const it = new ChunksSampleIterator(cs, -Infinity, Infinity);
        while (it.next() !== ValueType.None) out.push(it.atT());
        return out;
      };
      const w = await BlockWriter.create(work.path, { range: { minTime: 0, maxTime: 4 * HOUR }, thanos: { labels: { cluster: 'c' }, downsample: { resolution: 0 }, source: 'test' } });
      // Labels enough that the padding after the entry takes the longer deltas.
      await w.addChunkSeries(Labels.from({ __name__: 'a', l0: 'v', l1: 'v', l2: 'v', l3: 'v', l4: 'v' }), [...chunks(0), ...chunks(2 * HOUR)]);
      await w.addChunkSeries(Labels.from({ __name__: 'b' }), chunks(HOUR));
      const dir = join(work.path, (await w.close()).ulid);
      await reorderFirstSeriesChunks(join(dir, 'index'), () => [1, 0]);
      const { meta } = await mergeBlocks([dir], { outDir: join(work.path, 'out'), func: 'chain', thanos: { labels: { cluster: 'c' }, downsample: { resolution: 0 }, source: 'compactor' } });
      const reader = await BlockReader.openDir(join(work.path, 'out', meta!.ulid));
      try {
        const got = new Map<string, number[]>();
        for await (const batch of reader.chunkSeriesBatches([])) for (const s of batch) got.set(s.labels.get('__name__'), samples(s.chunks));
        expect(got.get('a')).toEqual(samples([...chunks(0), ...chunks(2 * HOUR)]));
        expect(got.get('b')).toEqual(samples(chunks(HOUR)));
      } finally {
        await reader.close();
      }
    } finally {
      await work.cleanup();
    }
  });
});
