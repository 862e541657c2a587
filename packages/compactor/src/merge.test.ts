import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '@strata/testing/process';
import { ArraySampleIterator, BlockReader, BlockWriter, Labels, Tombstones, ValueType, writeTombstonesFile } from '@strata/tsdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeBlocks } from './merge.js';

const HOUR = 3_600_000;
const thanos = { labels: { cluster: 'test' }, downsample: { resolution: 0 }, source: 'test' as const };

/** A block of [from, to) holding, per series name, samples every 15s with value = t / 1000 + offset. */
async function writeBlock(dir: string, from: number, to: number, series: readonly { name: string; offset: number }[]): Promise<string> {
  const w = await BlockWriter.create(dir, { chunkRange: 2 * HOUR, thanos, range: { minTime: from, maxTime: to } });
  const sorted = series.map((s) => ({ ...s, labels: Labels.from({ __name__: 'm', series: s.name }) })).sort((a, b) => Labels.compare(a.labels, b.labels));
  for (const s of sorted) {
    const ts: number[] = [];
    const vs: number[] = [];
    for (let t = from; t < to; t += 15_000) {
      ts.push(t);
      vs.push(t / 1000 + s.offset);
    }
    await w.addSeries(s.labels, new ArraySampleIterator(ts, vs));
  }
  return join(dir, (await w.close()).ulid);
}

async function samplesOf(dir: string): Promise<Map<string, [number, number][]>> {
  const r = await BlockReader.openDir(dir);
  const out = new Map<string, [number, number][]>();
  try {
    for await (const s of r.series([])) {
      const it = s.iterator();
      const got: [number, number][] = [];
      while (it.next() === ValueType.Float) got.push([it.atT(), it.atFloat()]);
      out.set(s.labels.get('series') ?? '', got);
    }
  } finally {
    await r.close();
  }
  return out;
}

describe('mergeBlocks', () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let blocks: string[];
  beforeAll(async () => {
    work = await tempDir();
    const src = join(work.path, 'src');
    // Series a and b everywhere, c only in the first block, d only in the last two; the last block
    // overlaps the second by an hour (a vertical merge for the series they share).
    blocks = [
      await writeBlock(src, 0, 2 * HOUR, [{ name: 'a', offset: 0 }, { name: 'b', offset: 1 }, { name: 'c', offset: 2 }]),
      await writeBlock(src, 2 * HOUR, 4 * HOUR, [{ name: 'a', offset: 0 }, { name: 'b', offset: 1 }, { name: 'd', offset: 3 }]),
      await writeBlock(src, 3 * HOUR, 6 * HOUR, [{ name: 'a', offset: 0 }, { name: 'b', offset: 1 }, { name: 'd', offset: 3 }]),
    ];
  });
  afterAll(() => work.cleanup());

  it('copies non-overlapping chunks byte for byte and merges overlapping ones, every sample once', async () => {
    const r = await mergeBlocks(blocks, { outDir: join(work.path, 'out'), func: 'chain', thanos });
    const meta = r.meta!;
    expect(meta.stats).toMatchObject({ numSeries: 4 });
    expect(meta.compaction.level).toBe(2);
    const got = await samplesOf(join(work.path, 'out', meta.ulid));
    const expected = (from: number, to: number, offset: number): [number, number][] => {
      const out: [number, number][] = [];
      for (let t = from; t < to; t += 15_000) out.push([t, t / 1000 + offset]);
      return out;
    };
    expect(got.get('a')).toEqual(expected(0, 6 * HOUR, 0));
    expect(got.get('b')).toEqual(expected(0, 6 * HOUR, 1));
    expect(got.get('c')).toEqual(expected(0, 2 * HOUR, 2));
    expect(got.get('d')).toEqual(expected(2 * HOUR, 6 * HOUR, 3));
    expect(r.samplesOut).toBe(meta.stats?.numSamples);
    expect(r.samplesIn - r.samplesOut).toBe(3 * 240);
    // The first block's chunks (no overlap) are in the new segment file unchanged.
    const [srcSeg, outSeg] = await Promise.all([readFile(join(blocks[0]!, 'chunks', '000001')), readFile(join(work.path, 'out', meta.ulid, 'chunks', '000001'))]);
    expect(outSeg.includes(srcSeg.subarray(8, 200))).toBe(true);
  });

  it('drops samples deleted by tombstones', async () => {
    const copy = join(work.path, 'tomb');
    const dir = await writeBlock(copy, 0, 2 * HOUR, [{ name: 'a', offset: 0 }, { name: 'b', offset: 1 }]);
    const t = new Tombstones();
    // Series IDs are offsets / 16; b is the second entry.
    const r0 = await BlockReader.openDir(dir);
    const ids: number[] = [];
    for await (const s of r0.chunkSeries([])) ids.push(s.id);
    await r0.close();
    t.add(ids[1]!, { mint: 0, maxt: HOUR - 1 });
    await writeTombstonesFile(join(dir, 'tombstones'), t);
    const r = await mergeBlocks([dir, blocks[1]!], { outDir: join(work.path, 'tomb-out'), func: 'chain', thanos });
    const got = await samplesOf(join(work.path, 'tomb-out', r.meta!.ulid));
    expect(got.get('a')![0]![0]).toBe(0);
    expect(got.get('b')![0]![0]).toBe(HOUR);
    expect(got.get('b')).toHaveLength(240 + 480);
  });
});
