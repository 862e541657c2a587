/**
 * Cutting the head into blocks and deleting old blocks, as Prometheus' DB does for its head
 * (tsdb/db.go Compact, compactHead; compact.go Write; db.go BeyondTimeRetention).
 */
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BlockWriter, type BlockMeta, type ChunkMeta, FROM_OUT_OF_ORDER, Labels, type ThanosMeta } from '@strata/tsdb';
import type { Head, MemSeries } from './head.js';
import { oooBlockChunks } from './ooo.js';

/**
 * The range of the head to cut into a block next, if the head spans more than one and a half chunk
 * ranges (Prometheus' head.compactable), or holds any sample when it is flushed whole (`all`): from its
 * oldest sample to the end of that sample's chunk-range-aligned window (rangeForTimestamp), or to its
 * latest sample when flushed whole.
 */
export function nextBlockRange(head: Head, all = false): { minTime: number; maxTime: number } | undefined {
  const width = head.chunkRange;
  if (all ? !(head.maxTime >= head.minTime) : !(head.maxTime - head.minTime > (width / 2) * 3)) return undefined;
  const minTime = head.minTime;
  const end = Math.floor(minTime / width) * width + width;
  // Flushed whole, the last block ends after the head's latest sample, as Prometheus' CompactHead of the
  // whole head: later samples are taken, where the window's end would refuse them until it.
  return { minTime, maxTime: all ? Math.min(end, head.maxTime + 1) : end };
}

/**
 * Writes the head's samples in [minTime, maxTime) as a block in `dir` (under a temporary name, renamed
 * when complete), its meta.json carrying `thanos`; undefined if the range holds no sample, which
 * Prometheus does not write a block for either. The block's range is the one asked for, as Prometheus'
 * (the first block starts at the first sample, the next ones at a multiple of the chunk range).
 */
export async function writeHeadBlock(dir: string, head: Head, range: { minTime: number; maxTime: number }, thanos: ThanosMeta): Promise<BlockMeta | undefined> {
  const series = head.select([], range.minTime, range.maxTime - 1).sort((a, b) => Labels.compare(a.labels, b.labels));
  if (series.length === 0) return undefined;
  const w = await BlockWriter.create(dir, { range, thanos });
  try {
    // Chunks never cross a multiple of the chunk range, so they lie wholly inside the range or outside it.
    for (const s of series) await w.addChunkSeries(s.labels, s.chunksIn(range.minTime, range.maxTime - 1));
  } catch (e) {
    await w.abort();
    throw e;
  }
  return w.close();
}

/**
 * Writes the out-of-order samples `series` have set aside (Head.takeOOO) as blocks, one for each
 * `width`-aligned window they fall in, each spanning its whole window and hinted `from-out-of-order`, as
 * Prometheus' compactOOOHead writes them. If one fails, those written before it are deleted: a retry
 * writes them again.
 */
export async function writeOOOBlocks(dir: string, series: readonly MemSeries[], width: number, thanos: ThanosMeta): Promise<BlockMeta[]> {
  const windows = new Map<number, { labels: Labels; chunks: ChunkMeta[] }[]>();
  for (const s of series) {
    for (const c of oooBlockChunks(s.oooFlushing ?? [], width)) {
      const start = Math.floor(c.minTime / width) * width;
      let list = windows.get(start);
      if (list === undefined) windows.set(start, (list = []));
      const last = list[list.length - 1];
      if (last?.labels === s.labels) last.chunks.push(c);
      else list.push({ labels: s.labels, chunks: [c] });
    }
  }
  const written: BlockMeta[] = [];
  try {
    for (const [start, list] of [...windows].sort((a, b) => a[0] - b[0])) {
      list.sort((a, b) => Labels.compare(a.labels, b.labels));
      const w = await BlockWriter.create(dir, { range: { minTime: start, maxTime: start + width }, thanos, compaction: (ulid) => ({ level: 1, sources: [ulid], hints: [FROM_OUT_OF_ORDER] }) });
      try {
        for (const x of list) await w.addChunkSeries(x.labels, x.chunks);
      } catch (e) {
        await w.abort();
        throw e;
      }
      written.push(await w.close());
    }
  } catch (e) {
    for (const m of written) await deleteBlock(dir, m.ulid);
    throw e;
  }
  return written;
}

/**
 * The blocks beyond the time retention: those ending more than `retentionMs` before the newest block
 * ends, and every block older than one of them (Prometheus' BeyondTimeRetention).
 */
export function beyondRetention(blocks: readonly BlockMeta[], retentionMs: number): BlockMeta[] {
  const byEnd = [...blocks].sort((a, b) => b.maxTime - a.maxTime);
  const newest = byEnd[0];
  if (newest === undefined || !(retentionMs > 0)) return [];
  const i = byEnd.findIndex((b) => newest.maxTime - b.maxTime > retentionMs);
  return i < 0 ? [] : byEnd.slice(i);
}

/** Deletes a block as Prometheus does: renamed out of sight (`<ulid>.tmp-for-deletion`) first, so no reader takes a half-deleted one for a block. */
export async function deleteBlock(dir: string, ulid: string): Promise<void> {
  const gone = join(dir, `${ulid}.tmp-for-deletion`);
  await rename(join(dir, ulid), gone);
  await rm(gone, { recursive: true, force: true });
}
