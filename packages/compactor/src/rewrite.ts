import { BlockReader, BlockWriter, matchLabels, withoutDeleted, type BlockMeta, type ChunkMeta, type Interval, type Labels, type Matcher, type ThanosMeta } from '@strata/tsdb';

/**
 * A deletion as Thanos' `--rewrite.to-delete-config` gives one: the samples of every series all the
 * matchers select, within the intervals (ms, inclusive) when there are any, else all of them.
 */
export interface DeletionRequest {
  readonly matchers: readonly Matcher[];
  readonly intervals?: readonly Interval[];
}

export interface RewriteOptions {
  deletions: readonly DeletionRequest[];
  /** Only report what would be deleted: nothing is written. */
  dryRun: boolean;
  /** Called for each series deleted (`intervals` undefined) or cut (the intervals deleted from it). */
  onDeleted?: (labels: Labels, intervals: readonly Interval[] | undefined) => void;
  /** Called every few thousand series read, for progress reporting. */
  onProgress?: (read: number, deleted: number) => void;
}

export interface RewriteResult {
  /** The new block (undefined in a dry run, or when every series was deleted). */
  meta: BlockMeta | undefined;
  seriesRead: number;
  /** Series gone from the block. */
  seriesDeleted: number;
  /** Series that lost samples in some intervals and kept others. */
  seriesCut: number;
}

const PROGRESS_EVERY = 10_000;

/**
 * Thanos' `tools bucket rewrite` for one local block: a new block without what the deletions select,
 * written into `outDir`. Chunks keep their bytes unless a deletion interval (or the source's tombstones)
 * cuts into them, then they are re-encoded without those samples. The new block covers the source's
 * time range, keeps its compaction level and sources with the source as parent, and records the deletions in `thanos.rewrites` with source
 * `bucket.rewrite`, so that a later reader can tell what was removed and from which blocks. Its symbol
 * table holds only the kept series' labels: a deleted label value does not survive in the index.
 */
export async function rewriteBlock(srcDir: string, outDir: string, opts: RewriteOptions): Promise<RewriteResult> {
  const reader = await BlockReader.openDir(srcDir);
  const src = reader.meta;
  const writer = opts.dryRun
    ? undefined
    : await BlockWriter.create(outDir, {
        range: { minTime: src.minTime, maxTime: src.maxTime },
        compaction: () => ({ level: src.compaction.level, sources: src.compaction.sources ?? [src.ulid], parents: [{ ulid: src.ulid, minTime: src.minTime, maxTime: src.maxTime }] }),
        ...(src.thanos !== undefined ? { thanos: rewrittenThanos(src, src.thanos, opts.deletions) } : {}),
      });
  let seriesRead = 0;
  let seriesDeleted = 0;
  let seriesCut = 0;
  try {
    for await (const batch of reader.chunkSeriesBatches([])) {
      for (const s of batch) {
        if (++seriesRead % PROGRESS_EVERY === 0) opts.onProgress?.(seriesRead, seriesDeleted);
        const deleted = deletedIntervals(opts.deletions, s.labels);
        const chunks: readonly ChunkMeta[] = deleted === undefined ? s.chunks : deleted === 'all' ? [] : withoutDeleted(s.chunks, deleted);
        if (deleted !== undefined) {
          const whole = chunks.length === 0;
          if (whole) seriesDeleted++;
          else seriesCut++;
          opts.onDeleted?.(s.labels, whole || deleted === 'all' ? undefined : deleted);
        }
        await writer?.addChunkSeries(s.labels, chunks);
      }
    }
    opts.onProgress?.(seriesRead, seriesDeleted);
  } catch (e) {
    await writer?.abort();
    throw e;
  } finally {
    await reader.close();
  }
  if (writer === undefined || writer.numSeries === 0) {
    await writer?.abort();
    return { meta: undefined, seriesRead, seriesDeleted, seriesCut };
  }
  return { meta: await writer.close(), seriesRead, seriesDeleted, seriesCut };
}

/** What the deletions take from a series: nothing (undefined), all of it, or these intervals. */
function deletedIntervals(deletions: readonly DeletionRequest[], labels: Labels): 'all' | Interval[] | undefined {
  let intervals: Interval[] | undefined;
  for (const d of deletions) {
    if (!matchLabels(d.matchers, labels)) continue;
    if (d.intervals === undefined || d.intervals.length === 0) return 'all';
    (intervals ??= []).push(...d.intervals);
  }
  return intervals;
}

/** The source's Thanos section for the rewritten block: its files are the new block's, and the deletions are recorded. */
function rewrittenThanos(src: BlockMeta, thanos: ThanosMeta, deletions: readonly DeletionRequest[]): ThanosMeta {
  const { files: _files, segment_files: _segments, upload_time: _uploaded, ...kept } = thanos;
  const rewrite = {
    sources: src.compaction.sources ?? [src.ulid],
    // As Thanos writes them: matchers as Go's labels.Matcher struct (Type 0 =, 1 !=, 2 =~, 3 !~),
    // intervals as tombstones.Interval (Mint, Maxt).
    deletionsApplied: deletions.map((d) => ({
      matchers: d.matchers.map((m) => ({ Type: MATCH_TYPE_CODES[m.type], Name: m.name, Value: m.value })),
      ...(d.intervals !== undefined && d.intervals.length > 0 ? { intervals: d.intervals.map((iv) => ({ Mint: iv.mint, Maxt: iv.maxt })) } : {}),
    })),
  };
  return { ...kept, source: 'bucket.rewrite', rewrites: [...(thanos.rewrites ?? []), rewrite] };
}

const MATCH_TYPE_CODES = { '=': 0, '!=': 1, '=~': 2, '!~': 3 } as const;
