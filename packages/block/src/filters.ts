import { settleLimit } from '@strata/objstore';
import type { BlockMeta } from '@strata/tsdb';
import type { FilterContext, MetaFilter, SyncedStates } from './fetcher.js';
import { blockUploadTime } from './fetcher.js';
import { DELETION_MARK_FILENAME, markTime, NO_COMPACT_MARK_FILENAME, readMarker, type DeletionMark, type NoCompactMark } from './markers.js';
import type { Relabeler } from './relabel.js';
import type { TimeBound } from './timebound.js';

const count = (synced: SyncedStates, state: string) => synced.set(state, (synced.get(state) ?? 0) + 1);

/** Keeps blocks overlapping [minTime, maxTime] (inclusive, as of each sync), as `--min-time/--max-time` do. */
export class TimePartitionFilter implements MetaFilter {
  constructor(
    readonly minTime: TimeBound,
    readonly maxTime: TimeBound,
  ) {}

  async filter(metas: Map<string, BlockMeta>, synced: SyncedStates, ctx: FilterContext): Promise<void> {
    const now = ctx.now.getTime();
    const [min, max] = [this.minTime.ms(now), this.maxTime.ms(now)];
    for (const [id, m] of metas) {
      if (m.maxTime >= min && m.minTime <= max) continue;
      metas.delete(id);
      count(synced, 'time-excluded');
    }
  }
}

/** Relabels each block's external labels plus `__block_id`; a block the rules drop is excluded (keep/drop, hashmod sharding). */
export class LabelShardedFilter implements MetaFilter {
  constructor(readonly relabeler: Relabeler) {}

  async filter(metas: Map<string, BlockMeta>, synced: SyncedStates): Promise<void> {
    if (this.relabeler.empty) return;
    for (const [id, m] of metas) {
      if (this.relabeler.process({ ...(m.thanos?.labels ?? {}), __block_id: id }) !== undefined) continue;
      metas.delete(id);
      count(synced, 'label-excluded');
    }
  }
}

/** Sources whose blocks are complete when they appear, so the delay does not apply to them. */
const TRUSTED_SOURCES = new Set(['compactor', 'compactor.repair', 'bucket.repair']);

/**
 * Hides blocks uploaded less than `delayMs` ago, giving eventually consistent stores time to show all
 * of a block's objects before anyone reads it.
 */
export class ConsistencyDelayFilter implements MetaFilter {
  constructor(readonly delayMs: number) {}

  async filter(metas: Map<string, BlockMeta>, synced: SyncedStates, ctx: FilterContext): Promise<void> {
    for (const [id, m] of metas) {
      if (TRUSTED_SOURCES.has(m.thanos?.source ?? '')) continue;
      if (ctx.now.getTime() - blockUploadTime(m) >= this.delayMs) continue;
      metas.delete(id);
      count(synced, 'too-fresh');
    }
  }
}

/**
 * Reads the deletion marks of the blocks the listing says have one, and hides blocks marked more than
 * `delayMs` ago. Store gateways use half the compactor's delete delay, so queries keep working until
 * the replacement block is loaded everywhere. The marks found are kept for the deletion step.
 */
export class IgnoreDeletionMarkFilter implements MetaFilter {
  deletionMarks = new Map<string, DeletionMark>();

  constructor(
    readonly delayMs: number,
    readonly concurrency = 32,
  ) {}

  async filter(metas: Map<string, BlockMeta>, synced: SyncedStates, ctx: FilterContext): Promise<void> {
    const marked = [...metas.keys()].filter((id) => ctx.objects.get(id)?.hasDeletionMark);
    const marks = new Map<string, DeletionMark>();
    const results = await settleLimit(marked, this.concurrency, async (id) => {
      const m = await readMarker(ctx.bucket, id, DELETION_MARK_FILENAME);
      if (m) marks.set(id, m);
    });
    const failure = results.find((r) => r.status === 'rejected');
    if (failure) throw (failure as PromiseRejectedResult).reason;
    this.deletionMarks = marks;
    for (const [id, mark] of marks) {
      if (ctx.now.getTime() - markTime(mark) <= this.delayMs) continue;
      metas.delete(id);
      count(synced, 'marked-for-deletion');
    }
  }
}

/** Gathers no-compact marks (without hiding the blocks) for the compactor's planner. */
export class NoCompactMarkFilter implements MetaFilter {
  noCompactMarks = new Map<string, NoCompactMark>();

  constructor(readonly concurrency = 32) {}

  async filter(metas: Map<string, BlockMeta>, synced: SyncedStates, ctx: FilterContext): Promise<void> {
    const marks = new Map<string, NoCompactMark>();
    const results = await settleLimit([...metas.keys()], this.concurrency, async (id) => {
      const m = await readMarker(ctx.bucket, id, NO_COMPACT_MARK_FILENAME);
      if (m) marks.set(id, m);
    });
    const failure = results.find((r) => r.status === 'rejected');
    if (failure) throw (failure as PromiseRejectedResult).reason;
    this.noCompactMarks = marks;
    for (let i = 0; i < marks.size; i++) count(synced, 'marked-for-no-compact');
  }
}
