import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  cleanPartialBlocks,
  ConsistencyDelayFilter,
  DELETION_MARK_FILENAME,
  deleteMarkedBlocks,
  downloadBlock,
  IgnoreDeletionMarkFilter,
  INDEX_FILENAME,
  LabelShardedFilter,
  markBlock,
  MetaFetcher,
  NO_COMPACT_MARK_FILENAME,
  NO_DOWNSAMPLE_MARK_FILENAME,
  NoCompactMarkFilter,
  readMarker,
  TimePartitionFilter,
  uploadBlock,
  type DeletionMark,
  type FetchResult,
  type MetaFilter,
  type NoCompactReason,
  type Relabeler,
  type TimeBound,
} from '@strata/block';
import type { DedupFunc } from '@strata/dedup';
import { mapLimit, type Bucket } from '@strata/objstore';
import type { Logger } from '@strata/runtime';
import { type BlockMeta, fromOutOfOrder } from '@strata/tsdb';
import { downsampleBlock, downsampleTarget } from './downsample.js';
import { findDuplicates, groupBlocks, type Group } from './group.js';
import { mergeBlocks } from './merge.js';
import type { CompactorMetrics } from './metrics.js';
import { DEFAULT_RANGES, firstOverlappingRun, plan } from './planner.js';
import { blocksToDelete, type RetentionPolicy } from './retention.js';
import { findCorruptBlocks, verifyLocalBlock } from './verify.js';

/** Thanos' --compact.block-max-index-size default, 64 GiB: Prometheus' index cannot address more. */
export const DEFAULT_MAX_BLOCK_INDEX_SIZE = 64 * 1024 ** 3;

export interface BucketCompactorOptions {
  bucket: Bucket;
  /** Local scratch space: sources are downloaded and results written here. */
  dataDir: string;
  logger: Logger;
  metrics: CompactorMetrics;
  consistencyDelayMs: number;
  /** meta.json reads at once (--block-meta-fetch-concurrency; default 32). */
  metaFetchConcurrency?: number;
  /** How long deletion-marked blocks stay before they are deleted. */
  deleteDelayMs: number;
  retention: RetentionPolicy;
  downsampling: boolean;
  /** External labels that tell HA replicas apart; their blocks are grouped and merged together. */
  replicaLabels: readonly string[];
  /** Merge of overlapping chunks: penalty (HA pairs; needs replica labels) or chain (identical replicas). */
  dedupFunc: DedupFunc;
  verticalCompaction: boolean;
  /** Groups compacted in parallel. */
  concurrency: number;
  /** Blocks downsampled in parallel (default 1). */
  downsampleConcurrency?: number;
  relabel?: Relabeler;
  /** --min-time / --max-time: only blocks overlapping this range (as of each sync) are worked on. */
  timeRange?: { min: TimeBound; max: TimeBound };
  /** Compaction windows (default 2h, 8h, 2d, 14d). */
  ranges?: readonly number[];
  transfer?: BlockTransfer;
  /**
   * --compact.block-max-index-size: a plan whose sources' indexes add up to 85% of this (the rest left
   * for the merged index to grow) has its block with the largest index marked no-compact instead, as
   * Thanos' largeTotalIndexSizeFilter does: an index of 64 GiB and more cannot be written (default 64 GiB).
   */
  maxBlockIndexSize?: number;
  now?: () => Date;
}

/** How blocks move between the bucket and the compactor's disk (Thanos' flags named in each field). */
export interface BlockTransfer {
  /** --block-files-concurrency: files of one block downloaded or uploaded at once (default 4). */
  filesConcurrency?: number;
  /** --compact.blocks-fetch-concurrency: source blocks of a compaction downloaded at once (default 2). */
  blocksFetchConcurrency?: number;
  /** --hash-func=SHA256: each uploaded file's SHA256 in meta.json, so that a later download skips a file it already has. */
  hashFiles?: boolean;
}

/** A step a compactor can run alone. */
export type CompactorStep = 'downsample' | 'retention';

interface Synced {
  fetched: FetchResult;
  groups: Group[];
  deletionMarks: Map<string, DeletionMark>;
  noCompact: Set<string>;
}

/** Thrown when merging downloaded blocks fails, so the caller can look for a corrupt source. */
class MergeError extends Error {}

/**
 * One compactor over one bucket (Thanos' BucketCompactor plus the downsampling, retention and cleanup
 * steps of `compactMainFn`). An iteration: compact until no group has work left, downsample twice
 * (raw→5m, then 5m→1h of what that made), apply retention, clean up.
 *
 * Every step is safe to kill at any point: a result becomes visible only when its meta.json lands
 * (uploaded last), sources are marked for deletion only after that, and a restart that finds a result
 * next to its sources marks the sources (findDuplicates) instead of compacting them again.
 *
 * Unlike Thanos, nothing halts the whole bucket: blocks that overlap without vertical compaction, or
 * that cannot be read, get a no-compact mark with the reason, a metric and a log line, and every other
 * group goes on.
 */
export class BucketCompactor {
  readonly #o: BucketCompactorOptions;
  readonly #log: Logger;
  readonly #m: CompactorMetrics;
  readonly #ranges: readonly number[];

  constructor(opts: BucketCompactorOptions) {
    this.#o = opts;
    this.#log = opts.logger;
    this.#m = opts.metrics;
    this.#ranges = opts.ranges ?? DEFAULT_RANGES;
  }

  get #vertical(): boolean {
    return this.#o.verticalCompaction || this.#o.replicaLabels.length > 0;
  }

  #now(): Date {
    return this.#o.now?.() ?? new Date();
  }

  /** One iteration: every step, or only downsampling or only retention (`tools bucket downsample`, `tools bucket retention`). */
  async runIteration(only?: CompactorStep): Promise<void> {
    const end = this.#m.iterationDuration.startTimer();
    try {
      if (only === undefined) await this.compact();
      if (only === 'downsample' || (only === undefined && this.#o.downsampling)) {
        await this.downsample();
        await this.downsample();
      }
      if (only !== 'downsample') await this.applyRetention();
      if (only === undefined) await this.cleanup();
      this.#m.iterations.inc();
    } catch (e) {
      this.#m.iterationFailures.inc();
      throw e;
    } finally {
      end();
    }
  }

  async #sync(): Promise<Synced> {
    const deletion = new IgnoreDeletionMarkFilter(this.#o.deleteDelayMs / 2);
    const noCompact = new NoCompactMarkFilter();
    const filters: MetaFilter[] = [];
    const range = this.#o.timeRange;
    if (range !== undefined) filters.push(new TimePartitionFilter(range.min, range.max));
    if (this.#o.relabel !== undefined) filters.push(new LabelShardedFilter(this.#o.relabel));
    filters.push(new ConsistencyDelayFilter(this.#o.consistencyDelayMs), deletion, noCompact);
    const fetched = await new MetaFetcher(this.#o.bucket, { filters, now: () => this.#now(), ...(this.#o.metaFetchConcurrency !== undefined ? { concurrency: this.#o.metaFetchConcurrency } : {}) }).fetch();
    for (const [id, err] of fetched.failed) this.#log.warn('block meta.json unreadable; block ignored', { block: id, err });
    // A block marked for deletion is on its way out, whatever the delay: never plan with it.
    for (const id of deletion.deletionMarks.keys()) fetched.metas.delete(id);
    const groups = groupBlocks(fetched.metas.values(), this.#o.replicaLabels);
    this.#m.todoDeletions.set(deletion.deletionMarks.size);
    return { fetched, groups, deletionMarks: deletion.deletionMarks, noCompact: new Set(noCompact.noCompactMarks.keys()) };
  }

  /** Compacts every group until none has a plan left. */
  async compact(): Promise<void> {
    for (;;) {
      const s = await this.#sync();
      await this.#deleteMarked(s.deletionMarks);
      for (const g of s.groups) await this.#collectGarbage(g);
      this.#updateTodo(s.groups, s.noCompact);
      const progress = await mapLimit(s.groups, this.#o.concurrency, (g) => this.#compactGroup(g, s.noCompact));
      if (!progress.some(Boolean)) return;
    }
  }

  async #deleteMarked(marks: ReadonlyMap<string, DeletionMark>): Promise<void> {
    const deleted = await deleteMarkedBlocks(this.#o.bucket, marks, { deleteDelayMs: this.#o.deleteDelayMs, now: this.#now() });
    for (const id of deleted) this.#log.info('deleted block marked for deletion', { block: id });
    this.#m.blocksCleaned.inc(deleted.length);
  }

  /** Marks blocks whose data a compacted block already holds (left over by an interrupted run). */
  async #collectGarbage(g: Group): Promise<void> {
    const dups = findDuplicates(g);
    for (const d of dups) {
      await this.#mark(d.ulid, DELETION_MARK_FILENAME, 'duplicate: its sources are in another block of the group');
      this.#m.garbageCollected.inc();
    }
    g.metas = g.metas.filter((m) => !dups.includes(m));
  }

  #updateTodo(groups: readonly Group[], noCompact: ReadonlySet<string>): void {
    let compactions = 0;
    let blocks = 0;
    for (const g of groups) {
      const t = this.#todo(g, noCompact);
      compactions += t.compactions;
      blocks += t.blocks;
    }
    this.#m.todoCompactions.set(compactions);
    this.#m.todoCompactionBlocks.set(blocks);
  }

  /** Compactions left in a group: plans are applied to stand-in metas until the planner has none. */
  #todo(g: Group, noCompact: ReadonlySet<string>): { compactions: number; blocks: number } {
    let metas = [...g.metas];
    let compactions = 0;
    let blocks = 0;
    for (;;) {
      const p = plan(metas, noCompact, this.#ranges);
      if (p.length === 0 || (firstOverlappingRun(p).length > 0 && !this.#canMergeOverlaps(g, p))) break;
      compactions++;
      blocks += p.length;
      const merged: BlockMeta = {
        ulid: `todo-${compactions}`,
        minTime: Math.min(...p.map((m) => m.minTime)),
        maxTime: Math.max(...p.map((m) => m.maxTime)),
        version: 1,
        compaction: { level: Math.max(...p.map((m) => m.compaction.level)) + 1 },
      };
      metas = [...metas.filter((m) => !p.includes(m)), merged];
    }
    return { compactions, blocks };
  }

  /**
   * Vertical compaction merges raw chunks only; downsampled overlaps are marked, as Thanos does. Blocks of
   * a head's out-of-order samples are merged with those they overlap even without it (by the chain
   * merge, or the penalty rule where deduplication asks for it), as Prometheus' own compactor merges them:
   * they overlap by design.
   */
  #canMergeOverlaps(g: Group, planned: readonly BlockMeta[]): boolean {
    return g.resolution === 0 && (this.#vertical || planned.some(fromOutOfOrder));
  }

  /** Runs the group's next plan; true if a block was compacted. Blocks it cannot compact are marked and re-planned around. */
  async #compactGroup(g: Group, noCompact: Set<string>): Promise<boolean> {
    for (;;) {
      const planned = plan(g.metas, noCompact, this.#ranges);
      if (planned.length === 0) return false;
      const oversized = await this.#indexTooLarge(planned);
      if (oversized !== undefined) {
        const limit = this.#o.maxBlockIndexSize ?? DEFAULT_MAX_BLOCK_INDEX_SIZE;
        await this.#skip(g, [oversized], 'index-size-exceeding', noCompact, `the compacted block's index could exceed ${limit} bytes (--compact.block-max-index-size) with this block`);
        continue;
      }
      const overlapping = firstOverlappingRun(planned).length > 0;
      if (overlapping && !this.#canMergeOverlaps(g, planned)) {
        const reason: NoCompactReason = this.#vertical ? 'downsample-vertical-compaction' : 'overlapping-blocks';
        await this.#skip(g, planned, reason, noCompact, `overlaps ${planned.map((m) => m.ulid).join(', ')}`);
        continue;
      }
      const work = join(this.#o.dataDir, 'compact', g.hash);
      this.#m.groupRunsStarted.inc();
      try {
        await this.#compactPlan(g, planned, overlapping, work);
        this.#m.groupRunsCompleted.inc();
        return true;
      } catch (e) {
        this.#m.groupCompactionFailures.inc();
        const corrupt = e instanceof MergeError ? await findCorruptBlocks(planned.map((m) => join(work, m.ulid))) : [];
        if (corrupt.length === 0) {
          this.#log.error('group compaction failed; retrying at the next iteration', { group: g.key, err: e as Error });
          return false;
        }
        const bad = planned.filter((m) => corrupt.some((c) => c.dir.endsWith(m.ulid)));
        await this.#skip(g, bad, 'corrupt-block', noCompact, corrupt.map((c) => `${c.dir}: ${c.error.message}`).join('; '));
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    }
  }

  /**
   * The block of the plan with the largest index among those whose indexes, added up in plan order,
   * reach 85% of --compact.block-max-index-size; undefined when the plan stays below it.
   */
  async #indexTooLarge(planned: readonly BlockMeta[]): Promise<BlockMeta | undefined> {
    const limit = (this.#o.maxBlockIndexSize ?? DEFAULT_MAX_BLOCK_INDEX_SIZE) * 0.85;
    let total = 0;
    let largest: { meta: BlockMeta; size: number } | undefined;
    for (const m of planned) {
      const size = m.thanos?.files?.find((f) => f.rel_path === INDEX_FILENAME)?.size_bytes ?? (await this.#o.bucket.attributes(`${m.ulid}/${INDEX_FILENAME}`)).size;
      if (largest === undefined || size > largest.size) largest = { meta: m, size };
      total += size;
      if (total >= limit) return largest.meta;
    }
    return undefined;
  }

  async #skip(g: Group, blocks: readonly BlockMeta[], reason: NoCompactReason, noCompact: Set<string>, details: string): Promise<void> {
    for (const b of blocks) {
      await this.#mark(b.ulid, NO_COMPACT_MARK_FILENAME, details, reason);
      noCompact.add(b.ulid);
    }
    this.#m.groupsSkipped.inc({ reason });
    this.#log.warn('skipping blocks of group: marked no-compact; other groups go on', { group: g.key, reason, blocks: blocks.map((b) => b.ulid).join(','), details });
  }

  async #mark(id: string, file: typeof DELETION_MARK_FILENAME | typeof NO_COMPACT_MARK_FILENAME, details: string, reason?: NoCompactReason): Promise<void> {
    const marked = await markBlock(this.#o.bucket, id, file, { details, now: this.#now(), ...(reason ? { reason } : {}) });
    if (marked) this.#m.blocksMarked.inc({ marker: file, reason: reason ?? '' });
  }

  #download(id: string, dir: string): Promise<BlockMeta> {
    const files = this.#o.transfer?.filesConcurrency;
    return downloadBlock(this.#o.bucket, id, dir, files !== undefined ? { concurrency: files } : {});
  }

  #upload(dir: string): Promise<BlockMeta> {
    const t = this.#o.transfer;
    return uploadBlock(this.#o.bucket, dir, { ...(t?.filesConcurrency !== undefined ? { concurrency: t.filesConcurrency } : {}), ...(t?.hashFiles === true ? { hash: true } : {}) });
  }

  async #compactPlan(g: Group, planned: readonly BlockMeta[], overlapping: boolean, work: string): Promise<void> {
    const started = Date.now();
    const range = `${new Date(planned[0]!.minTime).toISOString()}..${new Date(Math.max(...planned.map((m) => m.maxTime))).toISOString()}`;
    this.#log.info('compacting group', { group: g.key, blocks: planned.length, range, vertical: overlapping, sources: planned.map((m) => m.ulid).join(',') });
    await rm(work, { recursive: true, force: true });
    await mkdir(work, { recursive: true });
    await mapLimit(planned, this.#o.transfer?.blocksFetchConcurrency ?? 2, (m) => this.#download(m.ulid, work));
    let result;
    try {
      result = await mergeBlocks(
        planned.map((m) => join(work, m.ulid)),
        { outDir: work, func: this.#o.dedupFunc, thanos: { labels: g.labels, downsample: { resolution: g.resolution }, source: 'compactor' } },
      );
      // Chunks are copied with their stored CRCs unchecked: a damaged source chunk shows here, and is
      // then pinned on its source like any merge failure.
      if (result.meta !== undefined) await verifyLocalBlock(join(work, result.meta.ulid));
    } catch (e) {
      throw new MergeError(`merging ${planned.map((m) => m.ulid).join(', ')}: ${(e as Error).message}`, { cause: e });
    }
    this.#m.samplesCompacted.inc(result.samplesIn);
    if (result.meta === undefined) {
      this.#log.info('compaction result is empty; marking sources for deletion', { group: g.key });
    } else {
      await this.#upload(join(work, result.meta.ulid));
    }
    // Only now that the result is visible may the sources go.
    for (const m of planned) await this.#mark(m.ulid, DELETION_MARK_FILENAME, `source of compacted block ${result.meta?.ulid ?? '(empty)'}`);
    this.#m.groupCompactions.inc();
    if (overlapping) this.#m.verticalCompactions.inc();
    this.#log.info('compacted group', {
      group: g.key,
      block: result.meta?.ulid ?? '',
      block_level: result.meta?.compaction.level ?? 0,
      series: result.meta?.stats?.numSeries ?? 0,
      samples_in: result.samplesIn,
      samples_out: result.samplesOut,
      duration_ms: Date.now() - started,
    });
  }

  /** One downsampling pass over every block due for it (raw ≥ 40h → 5m, 5m ≥ 10d → 1h). */
  async downsample(): Promise<void> {
    const s = await this.#sync();
    const metas = [...s.fetched.metas.values()];
    const done = new Map<number, Set<string>>();
    for (const m of metas) {
      const res = m.thanos?.downsample.resolution ?? 0;
      let set = done.get(res);
      if (set === undefined) done.set(res, (set = new Set()));
      for (const src of m.compaction.sources ?? [m.ulid]) set.add(src);
    }
    const due: { meta: BlockMeta; target: number }[] = [];
    for (const m of metas) {
      const target = downsampleTarget(m.thanos?.downsample.resolution ?? 0, m.maxTime - m.minTime);
      if (target === undefined) continue;
      if ((m.compaction.sources ?? [m.ulid]).every((src) => done.get(target)?.has(src))) continue;
      if ((await readMarker(this.#o.bucket, m.ulid, NO_DOWNSAMPLE_MARK_FILENAME)) !== undefined) continue;
      due.push({ meta: m, target });
    }
    let left = due.length;
    this.#m.todoDownsampleBlocks.set(left);
    await mapLimit(due, this.#o.downsampleConcurrency ?? 1, async ({ meta, target }) => {
      const work = join(this.#o.dataDir, 'downsample', meta.ulid);
      const started = Date.now();
      try {
        await rm(work, { recursive: true, force: true });
        await mkdir(work, { recursive: true });
        await this.#download(meta.ulid, work);
        const out = join(work, 'out');
        const r = await downsampleBlock(join(work, meta.ulid), out, target, { labels: meta.thanos?.labels ?? {}, downsample: { resolution: target }, source: 'compactor' });
        if (r.meta !== undefined) {
          const dir = join(out, r.meta.ulid);
          await verifyLocalBlock(dir);
          await this.#upload(dir);
        }
        this.#m.downsamples.inc({ resolution: String(target) });
        this.#m.todoDownsampleBlocks.set(--left);
        this.#log.info('downsampled block', { source: meta.ulid, block: r.meta?.ulid ?? '', resolution: target, points_in: r.pointsIn, duration_ms: Date.now() - started });
      } catch (e) {
        this.#m.downsampleFailures.inc({ resolution: String(target) });
        this.#log.error('downsampling failed; retrying at the next iteration', { block: meta.ulid, resolution: target, err: e as Error });
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    });
  }

  /** Marks blocks older than their resolution's retention for deletion. */
  async applyRetention(): Promise<void> {
    const s = await this.#sync();
    for (const m of blocksToDelete(s.fetched.metas.values(), this.#o.retention, this.#now())) {
      await this.#mark(m.ulid, DELETION_MARK_FILENAME, 'retention');
      this.#log.info('block beyond retention marked for deletion', { block: m.ulid, resolution: m.thanos?.downsample.resolution ?? 0 });
    }
  }

  /** Deletes blocks whose deletion delay has passed and aborted partial uploads. */
  async cleanup(): Promise<void> {
    const s = await this.#sync();
    await this.#deleteMarked(s.deletionMarks);
    const deleted = await cleanPartialBlocks(this.#o.bucket, s.fetched.partial, { deleteDelayMs: this.#o.deleteDelayMs, now: this.#now() });
    for (const id of deleted) this.#log.info('deleted partial block', { block: id });
    this.#m.partialUploadsDeleted.inc(deleted.length);
  }
}
