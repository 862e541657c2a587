import { BlockReader, BlockWriter, matchLabels, type BlockMeta, type Labels, type Matcher, type ThanosMeta } from '@strata/tsdb';

/** A series deletion as Thanos' `--rewrite.to-delete-config` gives one: every series all the matchers select. */
export interface DeletionRequest {
  readonly matchers: readonly Matcher[];
}

export interface RewriteOptions {
  deletions: readonly DeletionRequest[];
  /** Only report what would be deleted: nothing is written. */
  dryRun: boolean;
  /** Called for each series deleted. */
  onDeleted?: (labels: Labels) => void;
  /** Called every few thousand series read, for progress reporting. */
  onProgress?: (read: number, deleted: number) => void;
}

export interface RewriteResult {
  /** The new block (undefined in a dry run, or when every series was deleted). */
  meta: BlockMeta | undefined;
  seriesRead: number;
  seriesDeleted: number;
}

const PROGRESS_EVERY = 10_000;

/**
 * Thanos' `tools bucket rewrite` for one local block: a new block without the series the deletions
 * select, written into `outDir`. Kept series keep their chunks byte for byte (the source's tombstones,
 * if any, are applied); the new block covers the source's time range, keeps its compaction level and
 * sources with the source as parent, and records the deletions in `thanos.rewrites` with source
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
  try {
    for await (const batch of reader.chunkSeriesBatches([])) {
      for (const s of batch) {
        if (++seriesRead % PROGRESS_EVERY === 0) opts.onProgress?.(seriesRead, seriesDeleted);
        if (opts.deletions.some((d) => matchLabels(d.matchers, s.labels))) {
          seriesDeleted++;
          opts.onDeleted?.(s.labels);
          continue;
        }
        await writer?.addChunkSeries(s.labels, s.chunks);
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
    return { meta: undefined, seriesRead, seriesDeleted };
  }
  return { meta: await writer.close(), seriesRead, seriesDeleted };
}

/** The source's Thanos section for the rewritten block: its files are the new block's, and the deletions are recorded. */
function rewrittenThanos(src: BlockMeta, thanos: ThanosMeta, deletions: readonly DeletionRequest[]): ThanosMeta {
  const { files: _files, segment_files: _segments, upload_time: _uploaded, ...kept } = thanos;
  const rewrite = {
    sources: src.compaction.sources ?? [src.ulid],
    // Thanos writes its matchers as Go's labels.Matcher struct: Type 0 (=), 1 (!=), 2 (=~), 3 (!~).
    deletionsApplied: deletions.map((d) => ({ matchers: d.matchers.map((m) => ({ Type: MATCH_TYPE_CODES[m.type], Name: m.name, Value: m.value })) })),
  };
  return { ...kept, source: 'bucket.rewrite', rewrites: [...(thanos.rewrites ?? []), rewrite] };
}

const MATCH_TYPE_CODES = { '=': 0, '!=': 1, '=~': 2, '!~': 3 } as const;
