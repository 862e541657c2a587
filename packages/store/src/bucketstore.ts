import {
  type CallContext,
  GrpcStatus,
  type InfoResponse,
  type LabelMatcher,
  type LabelNamesRequest,
  type LabelNamesResponse,
  type LabelValuesRequest,
  type LabelValuesResponse,
  MAX_INT64,
  MIN_INT64,
  type SeriesFrame,
  type SeriesRequest,
  ShardMatcher,
  StoreError,
  type StoreSeries,
  type StoreServer,
  type TSDBInfo,
  emptyQueryStats,
  encodeSeriesResponseHints,
  wantsQueryStats,
  type SeriesResponseHints,
} from '@strata/storeapi';
import type { TimeBound } from '@strata/block';
import { compareStrings, Labels, Matcher, type MatchType } from '@strata/tsdb';
import { LimitExceededError, RequestLimit, type BucketBlock } from './block.js';
import { ChunkBytesExhaustedError, type CallChunkBytes, type ChunkBytesLimit } from './chunkbytes.js';
import { annotateSpan, gate, type Gate } from '@strata/runtime';
import { mergeAligned, mergeSorted, toStoreSeries, type OutSeries, type SeriesSource } from './merge.js';
import type { CallMetrics, StoreMetrics } from './metrics.js';
import { QueryStats } from './querystats.js';
import { blocksFor } from './resolution.js';
import type { SeriesRows } from './seriesrows.js';

export interface BucketStoreOptions {
  /** --min-time / --max-time: requests are clamped to this range, as of each request. */
  minTime: TimeBound;
  maxTime: TimeBound;
  /** --store.limits.request-samples (0 = none). */
  sampleLimit: number;
  /** --store.limits.request-series (0 = none). */
  seriesLimit: number;
  /** --store.grpc.downloaded-bytes-limit: bytes one call may read from the bucket (0 = none). */
  downloadedBytesLimit?: number;
  /** --store.grpc.series-max-concurrency. */
  seriesMaxConcurrency: number;
  /** Blocks read in parallel within one request. */
  blockConcurrency: number;
  /** --chunk-pool-size: the chunk bytes Series calls may hold at once (none: no bound). */
  chunkBytes?: ChunkBytesLimit;
  /**
   * Series are sent as their chunks are read (each read checked against its CRCs), not once a call has
   * read them all: a corrupt chunk then fails the call after the series before it were sent. Off, a
   * corrupt block fails the call before its first frame (the store gateway's choice).
   */
  streamSeries?: boolean;
  metrics: StoreMetrics;
}

const MATCH_TYPES: readonly MatchType[] = ['=', '!=', '=~', '!~'];

/** Blocks sharing one external label set. */
interface BlockSet {
  labels: Labels;
  blocks: BucketBlock[];
}

/**
 * The StoreAPI over the loaded blocks (Thanos' BucketStore): picks blocks by external labels, time
 * and resolution, reads each one's matching series in parallel, adds external labels, removes
 * replica labels and merges everything into one sorted stream.
 */
export class BucketStore implements StoreServer {
  readonly #blocks = new Map<string, BucketBlock>();
  readonly #opts: BucketStoreOptions;
  readonly #gate: Gate;
  #ready = false;

  constructor(opts: BucketStoreOptions) {
    this.#opts = opts;
    this.#gate = gate(opts.seriesMaxConcurrency);
  }

  /** Marks the first sync done: from now on Info answers. */
  setReady(): void {
    this.#ready = true;
  }

  addBlock(b: BucketBlock): void {
    this.#blocks.set(b.id, b);
  }

  removeBlock(id: string): BucketBlock | undefined {
    const b = this.#blocks.get(id);
    this.#blocks.delete(id);
    return b;
  }

  blocks(): BucketBlock[] {
    return [...this.#blocks.values()];
  }

  /** --min-time and --max-time as of now (ms). */
  #bounds(): [number, number] {
    const now = Date.now();
    return [this.#opts.minTime.ms(now), this.#opts.maxTime.ms(now)];
  }

  #sets(): BlockSet[] {
    const sets = new Map<string, BlockSet>();
    for (const b of this.#blocks.values()) {
      const key = b.extLabels.key();
      let s = sets.get(key);
      if (s === undefined) sets.set(key, (s = { labels: b.extLabels, blocks: [] }));
      s.blocks.push(b);
    }
    return [...sets.values()];
  }

  async info(): Promise<InfoResponse> {
    if (!this.#ready) throw new StoreError(GrpcStatus.UNAVAILABLE, 'store gateway is not ready: the initial bucket sync has not finished');
    const sets = this.#sets();
    const [lower, upper] = this.#bounds();
    const tsdbInfos: TSDBInfo[] = [];
    let minTime = MAX_INT64;
    let maxTime = MIN_INT64;
    for (const s of sets) {
      const ranges = s.blocks.map((b) => [Math.max(b.minTime, lower), Math.min(b.maxTime, upper)] as const).sort((a, b) => a[0] - b[0]);
      let cur: [number, number] | undefined;
      const flush = () => cur && tsdbInfos.push({ labels: [...s.labels.toArray()], minTime: cur[0], maxTime: cur[1] });
      for (const [lo, hi] of ranges) {
        minTime = Math.min(minTime, lo);
        maxTime = Math.max(maxTime, hi);
        if (cur !== undefined && lo <= cur[1]) cur[1] = Math.max(cur[1], hi);
        else {
          flush();
          cur = [lo, hi];
        }
      }
      flush();
    }
    if (sets.length === 0) {
      // Nothing loaded: an empty range, as Thanos advertises it.
      minTime = MAX_INT64;
      maxTime = MIN_INT64;
    }
    return {
      labelSets: sets.map((s) => [...s.labels.toArray()]),
      componentType: 'store',
      store: { minTime, maxTime, supportsSharding: true, supportsWithoutReplicaLabels: true, tsdbInfos, supportsProjections: false },
    };
  }

  series(req: SeriesRequest, ctx?: Pick<CallContext, 'tenant'>): AsyncIterable<SeriesFrame> {
    const held = this.chunkBytes();
    return this.#frames(req, held, this.#opts.metrics.forTenant(ctx?.tenant), () => held?.end());
  }

  /** A Series call's share of --chunk-pool-size (none without a bound). */
  chunkBytes(): CallChunkBytes | undefined {
    return this.#opts.chunkBytes?.call();
  }

  /**
   * `series`, its chunk bytes taken for `held`, which the caller ends once it has sent the series (a
   * caller that holds them past the end of this iteration, to merge them with others).
   */
  seriesHeld(req: SeriesRequest, held: CallChunkBytes | undefined, ctx?: Pick<CallContext, 'tenant'>): AsyncIterable<SeriesFrame> {
    return this.#frames(req, held, this.#opts.metrics.forTenant(ctx?.tenant), () => {});
  }

  /** The frames of a Series call whose reads take `held`; `ended` runs when the call ends. */
  #frames(req: SeriesRequest, held: CallChunkBytes | undefined, m: CallMetrics, ended: () => void): AsyncIterable<SeriesFrame> {
    return new SeriesFrames(() => this.#gated(req, held, m), wantsQueryStats(req.hints), ended);
  }

  /** The call's series, selected within --store.grpc.series-max-concurrency, which holds its slot until its chunks are read. */
  #gated(req: SeriesRequest, held: CallChunkBytes | undefined, m: CallMetrics): Promise<CollectedSeries> {
    return new Promise((resolve, reject) => {
      this.#gate(async () => {
        const collected = await this.#collectSeries(req, held, m);
        resolve(collected);
        await collected.hints.catch(() => {});
      }).catch(reject);
    });
  }

  async #collectSeries(req: SeriesRequest, held: CallChunkBytes | undefined, m: CallMetrics): Promise<CollectedSeries> {
    const matchers = toMatchers(req.matchers);
    if (matchers.length === 0) throw new StoreError(GrpcStatus.INVALID_ARGUMENT, 'no matchers specified');
    const [lower, upper] = this.#bounds();
    const mint = Math.max(req.minTime, lower);
    const maxt = Math.min(req.maxTime, upper);
    const stats = this.#queryStats();
    const started = performance.now();
    const limits = {
      samples: new RequestLimit('samples', this.#opts.sampleLimit),
      series: new RequestLimit('series', this.#opts.seriesLimit),
      ...(held !== undefined ? { chunkBytes: held } : {}),
    };
    const limit = gate(this.#opts.blockConcurrency);
    const replicaLabels = new Set(req.withoutReplicaLabels);
    const shard = ShardMatcher.of(req.shardInfo);
    const reads: Promise<SeriesRows>[] = [];
    const queriedBlocks: string[] = [];
    for (const set of this.#sets()) {
      const rest = matchersBeyond(set.labels, matchers);
      if (rest === undefined) continue;
      if (rest.length === 0) throw new StoreError(GrpcStatus.INVALID_ARGUMENT, `no matchers beyond the external labels ${set.labels.toString()}: select series by their own labels`);
      for (const b of blocksFor(set.blocks, mint, maxt, req.maxResolutionWindow)) {
        queriedBlocks.push(b.id);
        reads.push(
          limit(async () => {
            const rows = await b.series(rest, mint, maxt, req.skipChunks, limits, req.aggregates, stats, replicaLabels, shard);
            if (this.#opts.streamSeries !== true) {
              // Read whole before it is sent; the block's slot is held until it is: the limit bounds the blocks read at once.
              rows.paceReads(false);
              await rows.read.catch(() => {});
            }
            return rows;
          }),
        );
      }
    }
    const indexed = await Promise.allSettled(reads);
    const lists: SeriesRows[] = [];
    for (const r of indexed) if (r.status === 'fulfilled') lists.push(r.value);
    const failed = indexed.find((r) => r.status === 'rejected');
    if (failed !== undefined) {
      for (const l of lists) l.end();
      throw dropped(failed.reason, m);
    }
    const read = Promise.all(lists.map((l) => l.read)).then(
      () => {},
      (e: unknown) => {
        throw dropped(e, m);
      },
    );
    read.catch(() => {});
    if (this.#opts.streamSeries !== true) await read;
    // One block's sorted, distinct series (most queries of recent data) are the answer as they are,
    // each made when it is sent; blocks holding the same series (aligned) are joined as they are sent;
    // others are merged as objects, once read.
    const nonEmpty = lists.filter((l) => l.length > 0);
    let merged: SeriesSource | undefined;
    if (nonEmpty.length === 1 && (nonEmpty[0] as SeriesRows).sorted && (nonEmpty[0] as SeriesRows).distinct) merged = nonEmpty[0] as SeriesRows;
    else if (nonEmpty.length > 1) merged = mergeAligned(nonEmpty);
    // Sent as read, the reads stay a few ahead of what is sent; merged whole, they go on as they come.
    if (this.#opts.streamSeries === true) for (const l of lists) l.paceReads(merged !== undefined);
    merged ??= await mergedWhenRead(nonEmpty, read);
    const hints = read.then(() => {
      // Merging joins series, never chunks.
      let chunks = 0;
      let chunkBytes = 0;
      for (const l of lists) {
        chunks += l.chunks;
        chunkBytes += l.chunkBytes;
      }
      m.blocksQueried.observe(reads.length);
      m.seriesFetched.observe(merged.length);
      m.chunksFetched.observe(chunks);
      m.chunkBytesFetched.observe(chunkBytes);
      m.objectRequests.observe(stats.requests);
      m.objectBytes.observe(stats.bytes);
      m.getAllDuration.observe((performance.now() - started) / 1000);
      annotateSpan({ 'store.blocks_queried': reads.length, 'store.series_fetched': merged.length, 'store.chunks_fetched': chunks, 'store.chunk_bytes_fetched': chunkBytes, 'store.object_requests': stats.requests, 'store.object_bytes': stats.bytes });
      const queryStats = emptyQueryStats();
      queryStats.blocksQueried = reads.length;
      queryStats.seriesFetched = merged.length;
      queryStats.chunksFetched = chunks;
      queryStats.chunksFetchedSizeSum = chunkBytes;
      queryStats.dataDownloadedSizeSum = stats.bytes;
      queryStats.objectRequests = stats.requests;
      return { queriedBlocks, queryStats };
    });
    hints.catch(() => {});
    return { series: merged, hints };
  }

  /** Each block set's blocks overlapping [start, end] (0, 0 = all time) with the matchers left after its external labels. */
  #selectForLabels(start: number, end: number, matchers: Matcher[]): { set: BlockSet; blocks: BucketBlock[]; rest: Matcher[] }[] {
    const all = start === 0 && end === 0;
    const out: { set: BlockSet; blocks: BucketBlock[]; rest: Matcher[] }[] = [];
    for (const set of this.#sets()) {
      const rest = matchersBeyond(set.labels, matchers);
      if (rest === undefined) continue;
      const blocks = set.blocks.filter((b) => all || (b.maxTime >= start && b.minTime <= end));
      if (blocks.length > 0) out.push({ set, blocks, rest });
    }
    return out;
  }

  async labelNames(req: LabelNamesRequest, ctx?: Pick<CallContext, 'tenant'>): Promise<LabelNamesResponse> {
    const replica = new Set(req.withoutReplicaLabels);
    const names = new Set<string>();
    await this.#eachLabelBlock(req, ctx?.tenant, async (set, b, rest, stats) => {
      const got = await b.labelNames(rest, stats);
      if (got.length === 0) return;
      for (const n of got) names.add(n);
      for (const l of set.labels) names.add(l.name);
    });
    return { names: [...names].filter((n) => !replica.has(n)).sort(compareStrings), warnings: [] };
  }

  async labelValues(req: LabelValuesRequest, ctx?: Pick<CallContext, 'tenant'>): Promise<LabelValuesResponse> {
    if (req.withoutReplicaLabels.includes(req.label)) return { values: [], warnings: [] };
    const values = new Set<string>();
    await this.#eachLabelBlock(req, ctx?.tenant, async (set, b, rest, stats) => {
      const ext = set.labels.has(req.label) ? set.labels.get(req.label) : undefined;
      if (ext === undefined) {
        for (const v of await b.labelValues(req.label, rest, stats)) values.add(v);
      } else if (rest.length === 0 || (await b.labelNames(rest, stats)).length > 0) {
        // The external label's value, where the block has series the matchers select.
        values.add(ext);
      }
    });
    return { values: [...values].sort(compareStrings), warnings: [] };
  }

  /** One call's bucket traffic, held to --store.grpc.downloaded-bytes-limit. */
  #queryStats(): QueryStats {
    const bytes = this.#opts.downloadedBytesLimit ?? 0;
    return new QueryStats(bytes > 0 ? new RequestLimit('bytes', bytes) : undefined);
  }

  /** Runs `fn` for every block a label request touches (bounded concurrency), counting its bucket requests. */
  async #eachLabelBlock(req: LabelNamesRequest, tenant: string | undefined, fn: (set: BlockSet, b: BucketBlock, rest: Matcher[], stats: QueryStats) => Promise<void>): Promise<void> {
    const limit = gate(this.#opts.blockConcurrency);
    const stats = this.#queryStats();
    await Promise.all(this.#selectForLabels(req.start, req.end, toMatchers(req.matchers)).flatMap(({ set, blocks, rest }) => blocks.map((b) => limit(() => fn(set, b, rest, stats)))));
    this.#opts.metrics.forTenant(tenant).objectRequests.observe(stats.requests);
  }
}

/** Counts a call that a limit ended, in `m`; returns its error. */
function dropped(e: unknown, m: CallMetrics): unknown {
  if (e instanceof LimitExceededError) m.dropped(e.kind);
  else if (e instanceof ChunkBytesExhaustedError) m.dropped('chunk-bytes');
  return e;
}

/** The blocks' series merged as objects (sorted where adding and removing labels changed their order), once `read` has settled. */
async function mergedWhenRead(lists: readonly SeriesRows[], read: Promise<void>): Promise<SeriesSource> {
  await read;
  const all = mergeSorted(
    lists.map((l) => {
      const series = l.toArray();
      // Adding and removing labels can change the order (a shorter set no longer sorts first).
      if (!l.sorted) series.sort((x, y) => Labels.compare(x.labels, y.labels));
      return series;
    }),
  );
  return { length: all.length, storeSeries: (i) => toStoreSeries(all[i] as OutSeries), readThrough: () => read, sentThrough: () => {}, end: () => {} };
}

interface CollectedSeries {
  series: SeriesSource;
  /** What the call cost, as Thanos' hints, once every chunk is read (rejects if a read failed). */
  hints: Promise<SeriesResponseHints>;
}

/**
 * The frames of a Series call once its series are collected: its series in runs of up to RUN_SERIES,
 * then (when the request asks, for the querier's stats=all) what the query cost as Thanos' hints. A
 * step of the transport's `for await` per run, not per series: each costs a promise and a turn of the
 * microtask queue. `ended` runs once when the call ends: sent, failed, or left by the transport (the
 * client went away or took its `limit`).
 */
class SeriesFrames implements AsyncIterableIterator<SeriesFrame> {
  readonly #collect: () => Promise<CollectedSeries>;
  readonly #wantHints: boolean;
  readonly #ended: () => void;
  #collecting: Promise<CollectedSeries> | undefined;
  #collected: CollectedSeries | undefined;
  #next = 0;

  constructor(collect: () => Promise<CollectedSeries>, wantHints: boolean, ended: () => void) {
    this.#collect = collect;
    this.#wantHints = wantHints;
    this.#ended = ended;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<SeriesFrame>> {
    try {
      const step = await this.#step();
      if (step.done === true) this.#end();
      return step;
    } catch (e) {
      this.#end();
      throw e;
    }
  }

  async return(): Promise<IteratorResult<SeriesFrame>> {
    this.#end();
    return { done: true, value: undefined };
  }

  #end(): void {
    this.#ended();
    // Reads still waiting to start (an answer left before its end) fail rather than wait for ever.
    this.#collecting?.then(
      (c) => c.series.end(),
      () => {},
    );
  }

  async #step(): Promise<IteratorResult<SeriesFrame>> {
    this.#collected ??= await (this.#collecting ??= this.#collect());
    const { series, hints } = this.#collected;
    const from = this.#next;
    if (from < series.length) {
      const to = Math.min(series.length, from + RUN_SERIES);
      await series.readThrough(to);
      this.#next = to;
      const run: StoreSeries[] = new Array(to - from);
      for (let i = from; i < to; i++) run[i - from] = series.storeSeries(i);
      series.sentThrough(to);
      return { done: false, value: { run } };
    }
    if (from === series.length && this.#wantHints) {
      this.#next++;
      return { done: false, value: { hints: encodeSeriesResponseHints(await hints) } };
    }
    await hints;
    return { done: true, value: undefined };
  }
}

/**
 * Series made per step of a Series call's frames: enough to make the step's cost small per series, few
 * enough that a call with a `limit` makes few it does not send (their chunks stay unreleased, left to
 * the garbage collector).
 */
const RUN_SERIES = 64;

function toMatchers(ms: readonly LabelMatcher[]): Matcher[] {
  return ms.map((m) => {
    const type = MATCH_TYPES[m.type];
    if (type === undefined) throw new StoreError(GrpcStatus.INVALID_ARGUMENT, `unknown matcher type ${m.type} for label ${m.name}`);
    try {
      return new Matcher(type, m.name, m.value);
    } catch (e) {
      throw new StoreError(GrpcStatus.INVALID_ARGUMENT, `matcher ${m.name}${type}${JSON.stringify(m.value)}: ${(e as Error).message}`);
    }
  });
}

/**
 * The matchers a block set must still apply once its external labels are known: those on external
 * labels are decided here (dropped if they hold, the whole set skipped — undefined — if one fails).
 */
function matchersBeyond(ext: Labels, matchers: readonly Matcher[]): Matcher[] | undefined {
  const rest: Matcher[] = [];
  for (const m of matchers) {
    if (!ext.has(m.name)) rest.push(m);
    else if (!m.matches(ext.get(m.name))) return undefined;
  }
  return rest;
}
