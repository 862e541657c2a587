import { mergeChunkSeries, type DedupFunc } from '@strata/dedup';
import {
  BlockReader,
  BlockWriter,
  Labels,
  type BlockChunkSeries,
  type BlockCompaction,
  type BlockMeta,
  type ChunkMeta,
  type ChunkRecord,
  type ThanosMeta,
} from '@strata/tsdb';
import { recordSamples, toRecord } from './records.js';
import { mergeSymbolTables, SourceBlock } from './source.js';

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
 * (a k-way merge of their index order) and written as they come, so memory holds the series in flight,
 * never a whole block. Series are compared and written as symbol refs of the new block's symbol table
 * (the sources' tables merged), so no label string is built per series. A series whose chunks do not
 * overlap keeps its chunk records byte for byte, copied without decoding; overlapping chunks are
 * merged by mergeChunkSeries. Sources with tombstones are read through BlockReader, which drops the
 * deleted samples.
 */
export async function mergeBlocks(dirs: readonly string[], opts: MergeBlocksOptions): Promise<MergeResult> {
  const sources: SourceBlock[] = [];
  try {
    for (const d of dirs) sources.push(await SourceBlock.open(d));
    const metas = sources.map((s) => s.meta);
    const symbols = mergeSymbolTables(sources);
    const writer = await BlockWriter.create(opts.outDir, {
      emptySymbol: false,
      symbols,
      thanos: opts.thanos,
      range: rangeOf(metas),
      compaction: () => compactionOf(metas),
      sampleTypeStats: true,
    });
    let samplesIn = 0;
    try {
      const count = (n: number): void => {
        samplesIn += n;
      };
      if (sources.some((s) => s.hasTombstones)) await copyDecoded(dirs, writer, opts, count);
      else await copyRecords(sources, writer, opts, count);
    } catch (e) {
      await writer.abort();
      throw e;
    } finally {
      // The sources' read buffers are not needed for writing the index.
      await Promise.all(sources.splice(0).map((s) => s.close()));
    }
    if (writer.numSeries === 0) {
      await writer.abort();
      return { meta: undefined, samplesIn, samplesOut: 0 };
    }
    const meta = await writer.close();
    return { meta, samplesIn, samplesOut: meta.stats?.numSamples ?? 0 };
  } finally {
    await Promise.all(sources.map((s) => s.close()));
  }
}

/** The k-way merge over chunk records: series with equal label refs are merged into one. */
async function copyRecords(sources: readonly SourceBlock[], writer: BlockWriter, opts: MergeBlocksOptions, count: (samples: number) => void): Promise<void> {
  const live = await Promise.all(sources.map((s) => s.next()));
  // next() and records() answer synchronously most of the time: awaited only when they return a promise.
  const group: SourceBlock[] = [];
  let written = 0;
  for (;;) {
    let min: SourceBlock | undefined;
    group.length = 0;
    for (let i = 0; i < sources.length; i++) {
      if (!live[i]) continue;
      const s = sources[i]!;
      const c = min === undefined ? -1 : compareRefs(s, min);
      if (c < 0) {
        min = s;
        group.length = 0;
      }
      if (c <= 0) group.push(s);
    }
    if (min === undefined) return;
    const chunks: ChunkRecord[] = [];
    const refs: number[] = [];
    for (const s of group) {
      const pending = s.records();
      const records = Array.isArray(pending) ? pending : await pending;
      for (let i = 0; i < s.numChunks; i++) {
        const record = records[i]!;
        const numSamples = recordSamples(record);
        count(numSamples);
        chunks.push({ minTime: s.minTimes[i]!, maxTime: s.maxTimes[i]!, numSamples, record });
        refs.push(s.chunkRefs[i]!);
      }
    }
    const out = overlaps(chunks) ? mergeRecords(chunks, group, refs, opts.func) : chunks;
    await writer.addSeriesRecords(min.labelRefs, min.numRefs, out);
    opts.onSeries?.(++written);
    for (let i = 0; i < sources.length; i++) {
      if (!group.includes(sources[i]!)) continue;
      const more = sources[i]!.next();
      live[i] = typeof more === 'boolean' ? more : await more;
    }
  }
}

/** Overlapping chunks decoded (after their CRC check), merged, and encoded back into records. */
function mergeRecords(chunks: readonly ChunkRecord[], group: readonly SourceBlock[], refs: readonly number[], func: DedupFunc): ChunkRecord[] {
  const metas: ChunkMeta[] = [];
  let k = 0;
  for (const s of group) {
    for (let i = 0; i < s.numChunks; i++, k++) metas.push({ minTime: chunks[k]!.minTime, maxTime: chunks[k]!.maxTime, chunk: s.chunkOf(chunks[k]!.record, refs[k]!) });
  }
  return mergeChunkSeries(metas, func).map(toRecord);
}

/** Order of two sources' current series, by their label refs (which compare as the strings do). */
function compareRefs(a: SourceBlock, b: SourceBlock): number {
  const n = Math.min(a.numRefs, b.numRefs);
  for (let i = 0; i < n; i++) if (a.labelRefs[i] !== b.labelRefs[i]) return a.labelRefs[i]! - b.labelRefs[i]!;
  return a.numRefs - b.numRefs;
}

/**
 * The merge through BlockReader, for sources with tombstones: chunks come decoded, those touched by
 * deletions re-encoded without the deleted samples.
 */
async function copyDecoded(dirs: readonly string[], writer: BlockWriter, opts: MergeBlocksOptions, count: (samples: number) => void): Promise<void> {
  const readers: BlockReader[] = [];
  try {
    for (const d of dirs) readers.push(await BlockReader.openDir(d));
    let written = 0;
    for await (const group of seriesInOrder(readers)) {
      const chunks = group.flatMap((s) => s.chunks);
      for (const c of chunks) count(c.chunk.numSamples());
      await writer.addChunkSeries(group[0]!.labels, overlaps(chunks) ? mergeChunkSeries(chunks, opts.func) : chunks);
      opts.onSeries?.(++written);
    }
  } finally {
    await Promise.all(readers.map((r) => r.close()));
  }
}

function rangeOf(metas: readonly BlockMeta[]): { minTime: number; maxTime: number } {
  return { minTime: Math.min(...metas.map((m) => m.minTime)), maxTime: Math.max(...metas.map((m) => m.maxTime)) };
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

/** True if some chunk starts before the previous one ends, which includes chunks out of order (merging sorts them). */
function overlaps(chunks: readonly { minTime: number; maxTime: number }[]): boolean {
  for (let i = 1; i < chunks.length; i++) if (chunks[i]!.minTime <= chunks[i - 1]!.maxTime) return true;
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
