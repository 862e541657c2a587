import { MERGED_CHUNK_SAMPLES, mergeChunkSeries } from '@strata/dedup';
import { BlockReader, BlockWriter, ChunksSampleIterator, encodeSeriesChunks, Labels, type BlockMeta, type ChunkMeta } from '@strata/tsdb';

/** Thanos' source of a repaired block (metadata.BucketRepairSource). */
export const REPAIR_SOURCE = 'bucket.repair';

export interface RepairResult {
  /** The repaired block (undefined when no series had a sample left in the block's range). */
  meta: BlockMeta | undefined;
  /** Series whose chunks were put in order, merged, cut to the block's range or joined with a namesake. */
  seriesRepaired: number;
  /** Chunks wholly outside the block's range, dropped. */
  chunksDropped: number;
}

/**
 * Thanos' block repair, which `tools bucket verify --repair` runs on a block with index issues: the
 * block written again into `outDir` with its series in label order, each series' chunks in time order,
 * chunks wholly outside the block's range [minTime, maxTime) dropped (prometheus/tsdb#347's among
 * them) and the rest cut to it. Where Thanos gives up on chunks that overlap without being copies of
 * each other, and keeps only the first of series with equal labels, this merges both, sample by sample,
 * as vertical compaction does: nothing inside the range is lost. A series with none of these problems
 * keeps its chunks as they are. The block keeps its range, level and sources; its source becomes
 * `bucket.repair`. Every series is held in memory until written, as Thanos does, to sort them.
 */
export async function repairBlock(srcDir: string, outDir: string): Promise<RepairResult> {
  const reader = await BlockReader.openDir(srcDir);
  try {
    return await rewriteRepaired(reader, outDir);
  } finally {
    await reader.close();
  }
}

async function rewriteRepaired(reader: BlockReader, outDir: string): Promise<RepairResult> {
  const src = reader.meta;
  const series: { labels: Labels; chunks: ChunkMeta[] }[] = [];
  // Labels made again: an index whose series' labels are out of order gives them as they are written.
  for await (const batch of reader.chunkSeriesBatches([])) for (const s of batch) series.push({ labels: Labels.from(s.labels.toArray()), chunks: [...s.chunks] });
  series.sort((a, b) => Labels.compare(a.labels, b.labels));
  const writer = await BlockWriter.create(outDir, {
    range: { minTime: src.minTime, maxTime: src.maxTime },
    compaction: () => ({ level: src.compaction.level, sources: src.compaction.sources ?? [src.ulid] }),
    ...(src.thanos !== undefined ? { thanos: { ...src.thanos, source: REPAIR_SOURCE } } : {}),
  });
  const result: RepairResult = { meta: undefined, seriesRepaired: 0, chunksDropped: 0 };
  try {
    for (let i = 0; i < series.length; ) {
      const first = series[i] as { labels: Labels; chunks: ChunkMeta[] };
      const chunks = [...first.chunks];
      let j = i + 1;
      for (; j < series.length && Labels.compare((series[j] as { labels: Labels }).labels, first.labels) === 0; j++) chunks.push(...(series[j] as { chunks: ChunkMeta[] }).chunks);
      const inRange = chunks.filter((c) => c.minTime < src.maxTime && c.maxTime >= src.minTime);
      result.chunksDropped += chunks.length - inRange.length;
      if (j - i > 1 || inRange.length < chunks.length || !inOrderWithin(inRange, src.minTime, src.maxTime)) {
        result.seriesRepaired++;
        // Merged where they overlap, then cut to the range: only the samples that belong to the block.
        const merged = mergeChunkSeries(inRange, 'chain');
        await writer.addChunkSeries(first.labels, encodeSeriesChunks(new ChunksSampleIterator(merged, src.minTime, src.maxTime - 1), MERGED_CHUNK_SAMPLES));
      } else {
        await writer.addChunkSeries(first.labels, inRange);
      }
      i = j;
    }
  } catch (e) {
    await writer.abort();
    throw e;
  }
  if (writer.numSeries === 0) {
    await writer.abort();
    return result;
  }
  return { ...result, meta: await writer.close() };
}

/** Whether the chunks follow each other in time without overlapping, all inside [mint, maxt). */
function inOrderWithin(chunks: readonly ChunkMeta[], mint: number, maxt: number): boolean {
  let last = mint - 1;
  for (const c of chunks) {
    if (c.minTime <= last || c.maxTime >= maxt) return false;
    last = c.maxTime;
  }
  return true;
}
