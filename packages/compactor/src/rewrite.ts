import { Relabeler, type RelabelConfig } from '@strata/block';
import { mergeChunkSeries } from '@strata/dedup';
import {
  BlockReader, BlockWriter, Labels, matchLabels, withoutDeleted, type BlockChunkSeries, type BlockMeta, type ChunkMeta, type Interval, type Matcher, type SeriesEntry, type ThanosMeta,
} from '@strata/tsdb';

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
  /**
   * Relabel rules applied to every series after the deletions (Thanos' `--rewrite.to-relabel-config`):
   * a series they drop is deleted, series they give the same labels are merged into one.
   */
  relabels?: readonly RelabelConfig[];
  /** Only report what would be deleted: nothing is written. */
  dryRun: boolean;
  /** Called for each series deleted (`intervals` undefined) or cut (the intervals deleted from it). */
  onDeleted?: (labels: Labels, intervals: readonly Interval[] | undefined) => void;
  /** Called for each series the relabel rules change (`to` undefined: dropped, so deleted). */
  onRelabelled?: (from: Labels, to: Labels | undefined) => void;
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
  /** Series whose labels the relabel rules changed (dropped ones are counted as deleted). */
  seriesRelabelled: number;
}

const PROGRESS_EVERY = 10_000;

/**
 * Thanos' `tools bucket rewrite` for one local block: a new block without what the deletions select,
 * its series relabelled if rules are given, written into `outDir`. Chunks keep their bytes unless a deletion interval (or the source's tombstones)
 * cuts into them, then they are re-encoded without those samples. The new block covers the source's
 * time range, keeps its compaction level and sources with the source as parent, and records the deletions in `thanos.rewrites` with source
 * `bucket.rewrite` (and the relabel rules), so that a later reader can tell what was changed and from which blocks. Its symbol
 * table holds only the kept series' labels: a deleted label value does not survive in the index.
 */
export async function rewriteBlock(srcDir: string, outDir: string, opts: RewriteOptions): Promise<RewriteResult> {
  const reader = await BlockReader.openDir(srcDir);
  const src = reader.meta;
  const relabels = opts.relabels ?? [];
  const writer = opts.dryRun
    ? undefined
    : await BlockWriter.create(outDir, {
        range: { minTime: src.minTime, maxTime: src.maxTime },
        compaction: () => ({ level: src.compaction.level, sources: src.compaction.sources ?? [src.ulid], parents: [{ ulid: src.ulid, minTime: src.minTime, maxTime: src.maxTime }] }),
        ...(src.thanos !== undefined ? { thanos: rewrittenThanos(src, src.thanos, opts.deletions, relabels) } : {}),
      });
  const result: RewriteResult = { meta: undefined, seriesRead: 0, seriesDeleted: 0, seriesCut: 0, seriesRelabelled: 0 };
  try {
    const series = relabels.length === 0 ? withoutDeletedSeries(reader, opts, result) : relabelledSeries(reader, new Relabeler(relabels), opts, result);
    for await (const batch of series) {
      for (const s of batch) if (s.chunks.length > 0) await writer?.addChunkSeries(s.labels, s.chunks);
    }
    opts.onProgress?.(result.seriesRead, result.seriesDeleted);
  } catch (e) {
    await writer?.abort();
    throw e;
  } finally {
    await reader.close();
  }
  if (writer === undefined || writer.numSeries === 0) {
    await writer?.abort();
    return result;
  }
  return { ...result, meta: await writer.close() };
}

/** The block's series in index order, less what the deletions select. */
async function* withoutDeletedSeries(reader: BlockReader, opts: RewriteOptions, result: RewriteResult): AsyncGenerator<RewrittenSeries[]> {
  for await (const batch of reader.chunkSeriesBatches([])) {
    yield batch.map((s) => {
      if (++result.seriesRead % PROGRESS_EVERY === 0) opts.onProgress?.(result.seriesRead, result.seriesDeleted);
      return { labels: s.labels, chunks: withoutDeletions(s, opts, result) };
    });
  }
}

/** A series' chunks less what the deletions select, counted and reported. */
function withoutDeletions(s: { readonly labels: Labels; readonly chunks: readonly ChunkMeta[] }, opts: RewriteOptions, result: RewriteResult): readonly ChunkMeta[] {
  const deleted = deletedIntervals(opts.deletions, s.labels);
  if (deleted === undefined) return s.chunks;
  const chunks = deleted === 'all' ? [] : withoutDeleted(s.chunks, deleted);
  const whole = chunks.length === 0;
  if (whole) result.seriesDeleted++;
  else result.seriesCut++;
  opts.onDeleted?.(s.labels, whole || deleted === 'all' ? undefined : deleted);
  return chunks;
}

interface Relabelled {
  labels: Labels;
  entry: SeriesEntry;
}

/** A series as it is written: deletions applied (and relabelled, equal label sets merged). */
interface RewrittenSeries {
  labels: Labels;
  chunks: readonly ChunkMeta[];
}

/** Series entries whose chunks are read per batch of this many refs, in the new order. */
const RELABEL_CHUNKS_PER_READ = 4096;

/**
 * The block's series relabelled, in the order of their new labels: the index is read first (labels and
 * chunk refs of every series, no chunk data), the new label sets sorted, then chunks are read in that
 * order a batch at a time. Deletions select by a series' labels before relabelling; series that end
 * up with the same labels are merged (overlapping chunks as Prometheus' vertical compaction merges
 * them, identical samples once).
 */
async function* relabelledSeries(reader: BlockReader, relabeler: Relabeler, opts: RewriteOptions, result: RewriteResult): AsyncGenerator<RewrittenSeries[]> {
  const kept: Relabelled[] = [];
  for await (const entries of reader.index.seriesBatches(await reader.index.postingsForMatchers([]))) {
    for (const entry of entries) {
      if (++result.seriesRead % PROGRESS_EVERY === 0) opts.onProgress?.(result.seriesRead, result.seriesDeleted);
      // Deleted whole before relabelling: as Thanos applies deletions first, they select by the series' own labels.
      if (deletedIntervals(opts.deletions, entry.labels) === 'all') {
        result.seriesDeleted++;
        opts.onDeleted?.(entry.labels, undefined);
        continue;
      }
      const out = relabeler.process(entry.labels.toRecord());
      const labels = out === undefined ? undefined : Labels.from(out);
      if (labels === undefined || !labels.equals(entry.labels)) {
        opts.onRelabelled?.(entry.labels, labels);
        if (labels === undefined) result.seriesDeleted++;
        else result.seriesRelabelled++;
      }
      if (labels !== undefined) kept.push({ labels, entry });
    }
  }
  kept.sort((a, b) => Labels.compare(a.labels, b.labels));
  const labelsAt = (k: number): Labels => (kept[k] as Relabelled).labels;
  for (let i = 0; i < kept.length; ) {
    // Whole groups of equal new labels per read.
    let j = i;
    let refs = 0;
    while (j < kept.length && (refs < RELABEL_CHUNKS_PER_READ || labelsAt(j).equals(labelsAt(j - 1)))) refs += (kept[j++] as Relabelled).entry.chunks.length;
    const read = new Map<number, BlockChunkSeries>((await reader.chunkSeriesOf(kept.slice(i, j).map((g) => g.entry))).map((s) => [s.id, s]));
    const out: RewrittenSeries[] = [];
    for (let k = i; k < j; ) {
      const labels = labelsAt(k);
      const chunks: ChunkMeta[] = [];
      let sources = 0;
      for (; k < j && labelsAt(k).equals(labels); k++) {
        const s = read.get((kept[k] as Relabelled).entry.id);
        if (s === undefined) continue;
        chunks.push(...withoutDeletions(s, opts, result));
        sources++;
      }
      if (chunks.length > 0) out.push({ labels, chunks: sources > 1 ? mergeChunkSeries(chunks, 'chain') : chunks });
    }
    yield out;
    i = j;
  }
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
function rewrittenThanos(src: BlockMeta, thanos: ThanosMeta, deletions: readonly DeletionRequest[], relabels: readonly RelabelConfig[]): ThanosMeta {
  const { files: _files, segment_files: _segments, upload_time: _uploaded, ...kept } = thanos;
  const rewrite = {
    sources: src.compaction.sources ?? [src.ulid],
    // As Thanos writes them: matchers as Go's labels.Matcher struct (Type 0 =, 1 !=, 2 =~, 3 !~),
    // intervals as tombstones.Interval (Mint, Maxt).
    ...(deletions.length > 0
      ? {
          deletions_applied: deletions.map((d) => ({
            matchers: d.matchers.map((m) => ({ Type: MATCH_TYPE_CODES[m.type], Name: m.name, Value: m.value })),
            ...(d.intervals !== undefined && d.intervals.length > 0 ? { intervals: d.intervals.map((iv) => ({ Mint: iv.mint, Maxt: iv.maxt })) } : {}),
          })),
        }
      : {}),
    // As Prometheus' relabel.Config marshals to JSON (its field names; the regex as written).
    ...(relabels.length > 0 ? { relabels_applied: relabels.map(relabelJson) } : {}),
  };
  return { ...kept, source: 'bucket.rewrite', rewrites: [...(thanos.rewrites ?? []), rewrite] };
}

function relabelJson(c: RelabelConfig): Record<string, unknown> {
  return {
    ...(c.source_labels !== undefined ? { sourceLabels: c.source_labels } : {}),
    separator: c.separator ?? ';',
    regex: c.regex ?? '(.*)',
    ...(c.modulus !== undefined ? { modulus: c.modulus } : {}),
    ...(c.target_label !== undefined ? { targetLabel: c.target_label } : {}),
    replacement: c.replacement ?? '$1',
    action: (c.action ?? 'replace').toLowerCase(),
  };
}

const MATCH_TYPE_CODES = { '=': 0, '!=': 1, '=~': 2, '!~': 3 } as const;
