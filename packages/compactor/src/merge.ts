import { mergeChunkSeries, type DedupFunc } from '@strata/dedup';
import { BlockReader, BlockWriter, Labels, type BlockChunkSeries, type BlockCompaction, type BlockMeta, type ChunkMeta, type ThanosMeta } from '@strata/tsdb';

export interface MergeBlocksOptions {
  /** Directory the new block is written into (as `<ULID>/`). */
  outDir: string;
  /** How overlapping chunks of one series are merged: chain (Prometheus' vertical compaction) or penalty (HA replicas). */
  func: DedupFunc;
  thanos: ThanosMeta;
  /** Called after each series written, for progress reporting. */
  onSeries?: (written: number) => void;
}

export interface MergeResult {
  /** Undefined when the sources held no samples: there is nothing to upload. */
  meta: BlockMeta | undefined;
  samplesIn: number;
  samplesOut: number;
}

/**
 * Compacts local blocks into one, streaming: the sources' series are read in label order side by side
 * (a k-way merge of their index order) and written as they come, so memory holds the series in flight
 * and the writer's chunk references, never a whole block. A series whose chunks do not overlap keeps
 * its chunks byte for byte; overlapping chunks are merged by mergeChunkSeries.
 */
export async function mergeBlocks(dirs: readonly string[], opts: MergeBlocksOptions): Promise<MergeResult> {
  const readers: BlockReader[] = [];
  try {
    for (const d of dirs) readers.push(await BlockReader.openDir(d));
    const metas = readers.map((r) => r.meta);
    const range = { minTime: Math.min(...metas.map((m) => m.minTime)), maxTime: Math.max(...metas.map((m) => m.maxTime)) };
    // The sources' symbol tables hold every label the merged block can have, so series go to the index
    // as they are merged instead of waiting in memory for the end.
    const symbols = new Set<string>();
    for (const r of readers) for (const sym of r.index.symbols()) symbols.add(sym);
    symbols.delete('');
    const writer = await BlockWriter.create(opts.outDir, { emptySymbol: false, symbols, thanos: opts.thanos, range, compaction: () => compactionOf(metas) });
    let samplesIn = 0;
    let written = 0;
    try {
      for await (const group of seriesInOrder(readers)) {
        const chunks = group.flatMap((s) => s.chunks);
        for (const c of chunks) samplesIn += c.chunk.numSamples();
        await writer.addChunkSeries(group[0]!.labels, overlaps(chunks) ? mergeChunkSeries(chunks, opts.func) : chunks);
        opts.onSeries?.(++written);
      }
    } catch (e) {
      await writer.abort();
      throw e;
    }
    if (writer.numSeries === 0) {
      await writer.abort();
      return { meta: undefined, samplesIn, samplesOut: 0 };
    }
    const meta = await writer.close();
    return { meta, samplesIn, samplesOut: meta.stats?.numSamples ?? 0 };
  } finally {
    await Promise.all(readers.map((r) => r.close()));
  }
}

/** Level one above the highest source, sources united, sources as parents, as Prometheus' compactor records them. */
function compactionOf(metas: readonly BlockMeta[]): BlockCompaction {
  const sources = new Set<string>();
  for (const m of metas) for (const s of m.compaction.sources ?? [m.ulid]) sources.add(s);
  return {
    level: Math.max(...metas.map((m) => m.compaction.level)) + 1,
    sources: [...sources].sort(),
    parents: metas.map((m) => ({ ulid: m.ulid, minTime: m.minTime, maxTime: m.maxTime })),
  };
}

/** True if, in the order given (blocks in time order), some chunk starts before the previous one ends. */
function overlaps(chunks: readonly ChunkMeta[]): boolean {
  const sorted = [...chunks].sort((a, b) => a.minTime - b.minTime);
  for (let i = 1; i < sorted.length; i++) if (sorted[i]!.minTime <= sorted[i - 1]!.maxTime) return true;
  return false;
}

/** The series of all readers in label order, those with equal labels together (in reader order). */
async function* seriesInOrder(readers: readonly BlockReader[]): AsyncGenerator<BlockChunkSeries[]> {
  const its = readers.map((r) => r.chunkSeries([]));
  const heads: (BlockChunkSeries | undefined)[] = await Promise.all(its.map(async (it) => (await it.next()).value ?? undefined));
  for (;;) {
    let min: Labels | undefined;
    for (const h of heads) if (h !== undefined && (min === undefined || Labels.compare(h.labels, min) < 0)) min = h.labels;
    if (min === undefined) return;
    const group: BlockChunkSeries[] = [];
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i];
      if (h === undefined || Labels.compare(h.labels, min) !== 0) continue;
      group.push(h);
      heads[i] = (await its[i]!.next()).value ?? undefined;
    }
    yield group;
  }
}
