import { join } from 'node:path';
import { joinKey } from '@strata/objstore';
import { aggrChunkBytes, GrpcStatus, StoreError, type Aggr, type AggrChunk, type ShardMatcher } from '@strata/storeapi';
import { Encoding, IndexReader, type BlockMeta, type ByteRange, type Labels, type Matcher, type Postings } from '@strata/tsdb';
import { toStoreAggrChunk } from './aggrchunk.js';
import { CacheItem, type IndexItemCache } from './cache.js';
import { CachedIndexRange } from './cachedrange.js';
import { carveWritten } from './columns.js';
import type { CallChunkBytes } from './chunkbytes.js';
import type { ChunkPool } from './chunkpool.js';
import type { CachedSegment, ChunksCache } from './chunkscache.js';
import { chunkSizeHint, readChunks, type ChunkReadPlan, type ReadChunks, type SegmentFiles } from './chunkreader.js';
import { IndexHeader, type HeaderBackedRange } from './indexheader.js';
import { AccountedByteRange, type AccountingBucket, type QueryStats } from './querystats.js';
import { LabelMapping } from './extlabels.js';
import { RawChunkColumns, type RawChunkRun } from './rawchunks.js';
import { SeriesRows } from './seriesrows.js';

/** One series of one block, ready to send (external labels added, replica labels removed). */
export interface BlockSeries {
  labels: Labels;
  chunks: AggrChunk[];
  /** Raw XOR chunks, written into frames from where they were read (then `chunks` is empty). */
  raw?: RawChunkRun;
}

/** What a Series call may take across its blocks, with the flags that set it (Thanos' name, and its former one). */
export const RequestLimitKind = {
  samples: { what: 'sample', flags: '--store.limits.request-samples, formerly --store.grpc.series-sample-limit' },
  series: { what: 'series', flags: '--store.limits.request-series, formerly --store.grpc.touched-series-limit' },
  bytes: { what: 'downloaded bytes', flags: '--store.grpc.downloaded-bytes-limit' },
} as const;
export type RequestLimitKind = keyof typeof RequestLimitKind;

/** A Series call refused by a limit: ResourceExhausted, saying which limit and how to raise it. */
export class LimitExceededError extends StoreError {
  constructor(
    readonly kind: RequestLimitKind,
    limit: number,
  ) {
    super(GrpcStatus.RESOURCE_EXHAUSTED, `exceeded the ${RequestLimitKind[kind].what} limit of ${limit} (${RequestLimitKind[kind].flags}): narrow the query's matchers or time range, or raise the limit`);
  }
}

/**
 * Counts what the blocks of one call take against a limit (0: none): samples of the chunks read, series
 * touched (each block's postings for the matchers, as Thanos counts them), or bytes read from the bucket.
 */
export class RequestLimit {
  #used = 0;

  constructor(
    readonly kind: RequestLimitKind,
    readonly limit: number,
  ) {}

  take(n: number): void {
    this.#used += n;
    if (this.limit > 0 && this.#used > this.limit) throw new LimitExceededError(this.kind, this.limit);
  }
}

/** The limits of one Series call. */
export interface RequestLimits {
  samples: RequestLimit;
  series: RequestLimit;
  /** Its share of --chunk-pool-size: every chunk read takes its bytes before it is made. */
  chunkBytes?: CallChunkBytes;
}

export interface BlockOptions {
  bucket: AccountingBucket;
  cache: IndexItemCache;
  /** Chunks at most this many bytes apart in a segment file are fetched with one request (default: the block's average chunk size). */
  chunkGapBytes?: number;
  /** --store.caching-bucket.config: segment file reads go through this cache. */
  chunksCache?: ChunksCache;
  /** Segment file reads land in buffers of this pool (not with `chunksCache`, which keeps what it reads). */
  chunkPool?: ChunkPool;
  /**
   * Chunk reads one query keeps in flight per block, the next starting as one ends (default: all at
   * once). For local files: their large reads queue in Node's thread pool, and all at once a query's took
   * longer in all (a 100,000-series block 1.2× the CPU) and ended together, none sendable before the last.
   */
  chunkReadsInFlight?: number;
}

/**
 * One batch of chunks to read, in columns: their refs, time ranges and size hints (0: none), and the
 * series owning them (consecutive, from `firstSeries`), each from its start to the next one's. Typed
 * arrays, sized at first for the chunks its series hold in the block (so a query of a few series does
 * not allocate and clear a whole batch's columns in every block) and for a whole batch after a full
 * one (so a large query does not grow four arrays per batch). The four columns are views of one
 * buffer: a typed array of its own costs a backing store each, paid in every block a query reads (see
 * carve).
 */
class ChunkBatch {
  length = 0;
  refs!: Float64Array;
  minTimes!: Float64Array;
  maxTimes!: Float64Array;
  sizes!: Uint32Array;
  readonly starts: number[] = [];

  constructor(
    capacity: number,
    readonly firstSeries: number,
  ) {
    this.#allocate(capacity);
  }

  #allocate(capacity: number): void {
    const { buffer, at } = carveWritten(capacity * (3 * 8 + 4));
    this.refs = new Float64Array(buffer, at, capacity);
    this.minTimes = new Float64Array(buffer, at + capacity * 8, capacity);
    this.maxTimes = new Float64Array(buffer, at + capacity * 16, capacity);
    this.sizes = new Uint32Array(buffer, at + capacity * 24, capacity);
  }

  push(ref: number, minTime: number, maxTime: number, size: number): void {
    const i = this.length++;
    // More chunks than fit (a first batch, or a long compacted block's series) grow the columns.
    if (i === this.refs.length) {
      const { refs, minTimes, maxTimes, sizes } = this;
      this.#allocate(2 * i);
      this.refs.set(refs);
      this.minTimes.set(minTimes);
      this.maxTimes.set(maxTimes);
      this.sizes.set(sizes);
    }
    this.refs[i] = ref;
    this.minTimes[i] = minTime;
    this.maxTimes[i] = maxTime;
    this.sizes[i] = size;
  }
}

/** Reads of chunks a query sent as it is read keeps in flight or read and unsent, per block (SeriesRows.paceReads). */
const READ_AHEAD = 4;
/**
 * How chunks are read from segment files on local disk, where a read costs a system call (and a read
 * over 1 MiB a thread-pool round trip, reads beyond the pool's threads only queueing: FileReads): two
 * at a time per block (measured best of 1, 2, 4 and 8 on two cores), and chunks up to 64 KiB apart in
 * one read, about what a round trip costs in copying (a sidecar's call of 25 series spread over two
 * blocks: 0.90 ms of CPU with the object-store gap, 0.67 with this; 16 KiB 0.81, 128 and 256 KiB 0.71;
 * all measured with every read in the pool).
 */
export const LOCAL_CHUNK_READS: Readonly<Pick<BlockOptions, 'chunkReadsInFlight' | 'chunkGapBytes'>> = { chunkReadsInFlight: 2, chunkGapBytes: 64 * 1024 };
/** How many chunk refs one read of chunks is planned over; the next batch's series are decoded while it runs. */
const CHUNK_BATCH = 4096;
/** The least a first batch's columns hold (grown if more chunks come than its series were expected to have). */
const SMALL_CHUNK_BATCH = 64;
/** Series rows allocated up front for a query of one block (80 bytes each, 10 MiB at most). */
const MAX_PRESIZED_ROWS = 1 << 17;
/** Bytes read past a chunk's start when its length is not known yet, when meta.json has no index_stats or chunk counts. */
const DEFAULT_CHUNK_SIZE_ESTIMATE = 2048;
/** Thanos' EstimatedMaxChunkSize: no read guesses more than this per chunk. */
const MAX_CHUNK_SIZE_ESTIMATE = 16_000;

interface OpenReaders {
  index: IndexReader;
  /** The index as the IndexReader reads it: index-header regions locally, the rest from the bucket. */
  range: HeaderBackedRange;
  /** The label mappings of the queries so far, by the replica labels they drop (see `labelMapping`). */
  mappings: Map<string, LabelMapping>;
}

/** What one query reads a block through: every object-store request is charged to its stats. */
interface QueryReaders {
  index: IndexReader;
  bucket: AccountingBucket;
  mappings: Map<string, LabelMapping>;
}

/** Label mappings kept per open block: one per set of replica labels queries drop (usually one or two). */
const MAX_MAPPINGS = 8;

/**
 * A block in the bucket as the store gateway serves it. Idle, it holds only its time range, labels,
 * segment file sizes and the location of its index-header (a few hundred bytes); readers are opened
 * from the local index-header on first use and closed again by `closeIfIdle`, so thousands of loaded
 * blocks cost little memory.
 */
export class BucketBlock {
  readonly id: string;
  readonly minTime: number;
  readonly maxTime: number;
  readonly resolution: number;
  readonly extLabels: Labels;
  readonly #segments: readonly { object: string; size: number | undefined }[];
  /** The segment files as the chunk cache knows them, with `chunksCache`. */
  readonly #cachedSegments: readonly CachedSegment[] | undefined;
  /** The segment files' sizes where all are known. */
  readonly #segmentSizes: readonly number[] | undefined;
  readonly #chunkPlan: ChunkReadPlan;
  /** The block's chunks per series (meta.json's stats; 0 if it has none), to size a query's first chunk batch. */
  readonly #chunksPerSeries: number;
  readonly #header: IndexHeader;
  readonly #opts: BlockOptions;
  #readers: Promise<OpenReaders> | undefined;
  #users = 0;
  #lastUsed = 0;

  private constructor(meta: BlockMeta, extLabels: Labels, segments: { object: string; size: number | undefined }[], header: IndexHeader, opts: BlockOptions) {
    this.id = meta.ulid;
    this.minTime = meta.minTime;
    this.maxTime = meta.maxTime;
    this.resolution = meta.thanos?.downsample.resolution ?? 0;
    this.extLabels = extLabels;
    this.#segments = segments;
    const cache = opts.chunksCache;
    this.#cachedSegments = cache !== undefined ? segments.map((s) => cache.segment(s.object)) : undefined;
    this.#segmentSizes = segments.every((s) => s.size !== undefined) ? segments.map((s) => s.size as number) : undefined;
    // Without index_stats, the block's average chunk size: reads then cover most chunks at once.
    const segmentBytes = segments.reduce((n, s) => n + (s.size ?? 0), 0);
    const avgChunk = meta.stats?.numChunks && segmentBytes > 0 ? Math.ceil(segmentBytes / meta.stats.numChunks) : DEFAULT_CHUNK_SIZE_ESTIMATE;
    this.#chunkPlan = {
      sizeEstimate: meta.thanos?.index_stats?.chunk_max_size ?? Math.min(MAX_CHUNK_SIZE_ESTIMATE, Math.ceil(avgChunk * 1.5) + 16),
      // Bridging gaps no larger than an average chunk keeps the bytes fetched within about twice those needed.
      maxGap: opts.chunkGapBytes ?? avgChunk,
    };
    this.#chunksPerSeries = meta.stats?.numSeries && meta.stats.numChunks ? meta.stats.numChunks / meta.stats.numSeries : 0;
    this.#header = header;
    this.#opts = opts;
  }

  /**
   * Loads a block: its index-header from `<dataDir>/<ULID>/`, built from range reads of the index
   * when missing. `extLabels` is passed in so blocks with equal labels share one object.
   */
  static async load(meta: BlockMeta, extLabels: Labels, dataDir: string, opts: BlockOptions): Promise<{ block: BucketBlock; builtHeader: boolean }> {
    const id = meta.ulid;
    const files = meta.thanos?.files ?? [];
    const indexSize = files.find((f) => f.rel_path === 'index')?.size_bytes;
    const remote = new AccountedByteRange(opts.bucket, joinKey(id, 'index'), indexSize);
    const { header, built } = await IndexHeader.loadOrBuild(join(dataDir, id), remote);
    let segments = files.filter((f) => f.rel_path.startsWith('chunks/')).map((f) => ({ object: joinKey(id, f.rel_path), size: f.size_bytes }));
    if (segments.length === 0) {
      // Blocks uploaded without thanos.files: list the segment files instead.
      segments = [];
      for await (const e of opts.bucket.list(joinKey(id, 'chunks'))) if (!e.name.endsWith('/')) segments.push({ object: e.name, size: e.size });
    }
    segments.sort((a, b) => (a.object < b.object ? -1 : a.object > b.object ? 1 : 0));
    return { block: new BucketBlock(meta, extLabels, segments, header, opts), builtHeader: built };
  }

  /** Whether readers are open (the block served a request within the idle timeout). */
  get isOpen(): boolean {
    return this.#readers !== undefined;
  }

  /** Runs `fn` with the block's readers open, its object-store requests charged to `stats`; errors name the block. */
  async #use<T>(stats: QueryStats, fn: (r: QueryReaders) => Promise<T>): Promise<T> {
    this.#users++;
    try {
      this.#readers ??= this.#openReaders();
      const r = await this.#readers;
      const bucket = this.#opts.bucket.charging(stats);
      const remote = new CachedIndexRange(new AccountedByteRange(bucket, joinKey(this.id, 'index'), this.#header.indexSize), this.id, this.#opts.cache, r.index.toc.postings);
      return await fn({ index: r.index.withRange(r.range.withRemote(remote)), bucket, mappings: r.mappings });
    } catch (e) {
      throw this.#named(e);
    } finally {
      this.#unuse();
    }
  }

  #unuse(): void {
    this.#users--;
    this.#lastUsed = Date.now();
  }

  /** `e` as the error of a request to this block: named after it, unless it is the request's own (a limit). */
  #named(e: unknown): Error {
    if (e instanceof StoreError) return e;
    return new Error(`block ${this.id}: ${(e as Error).message}`, { cause: e });
  }

  async #openReaders(): Promise<OpenReaders> {
    try {
      // Opening reads only index-header regions: nothing from the bucket.
      const range = await this.#header.open(new AccountedByteRange(this.#opts.bucket, joinKey(this.id, 'index'), this.#header.indexSize));
      return { index: await IndexReader.open(range), range, mappings: new Map() };
    } catch (e) {
      this.#readers = undefined;
      throw e;
    }
  }

  /** The segment files as one query reads them (sizes from meta.json or the listing, else asked once per read), its reads taking `held`. */
  async #segmentFiles(bucket: AccountingBucket, held: CallChunkBytes | undefined): Promise<SegmentFiles> {
    const cached = this.#cachedSegments;
    const pool = cached === undefined ? this.#opts.chunkPool : undefined;
    const files: ByteRange[] = this.#segments.map((s, i) => {
      const file = new AccountedByteRange(bucket, s.object, s.size, pool);
      return cached !== undefined ? (cached[i] as CachedSegment).wrap(file) : file;
    });
    // Known from meta.json or the listing (nearly always): no promise per file, block and query.
    const sizes = this.#segmentSizes ?? (await Promise.all(files.map((f) => f.size())));
    return { files, sizes, ...(pool !== undefined ? { pool } : {}), ...(held !== undefined ? { held } : {}) };
  }

  /** Closes the readers if no request used the block for `idleMs`; returns whether it did. */
  async closeIfIdle(idleMs: number, now = Date.now()): Promise<boolean> {
    if (this.#readers === undefined || this.#users > 0 || now - this.#lastUsed < idleMs) return false;
    await this.close();
    return true;
  }

  /** Series IDs for the matchers, from the expanded-postings cache or the index. */
  async #postings(index: IndexReader, matchers: readonly Matcher[]): Promise<Postings> {
    const key = `${this.id}:EP:${matchersKey(matchers)}`;
    const hit = await this.#opts.cache.get(CacheItem.ExpandedPostings, key);
    if (hit !== undefined) return new Uint32Array(hit.buffer, hit.byteOffset, hit.byteLength / 4);
    const ids = await index.postingsForMatchers(matchers);
    this.#opts.cache.set(CacheItem.ExpandedPostings, key, new Uint8Array(ids.slice().buffer));
    return ids;
  }

  /**
   * The block's series matching `matchers` with chunks overlapping [mint, maxt], in the index's order,
   * each with all its chunks in the range: raw chunks as raw bytes, a downsampled block's aggregate
   * chunks as the requested `aggregates` (toStoreAggrChunk). Returned once every series is known, its
   * chunks still being read: `SeriesRows.readThrough` tells when a prefix of them has its chunks (each
   * read checked against its CRCs), and fails, naming the block, if a read failed. Each series' labels
   * are its labels in the index with the block's external labels added and the labels named in `drop`
   * removed; the rows say whether that kept them sorted. With `shard`, only the series of that shard
   * (by those labels): the others' chunks are never read.
   */
  series(
    matchers: readonly Matcher[],
    mint: number,
    maxt: number,
    skipChunks: boolean,
    limits: RequestLimits,
    aggregates: readonly Aggr[],
    stats: QueryStats,
    drop: ReadonlySet<string>,
    shard?: ShardMatcher,
  ): Promise<SeriesRows> {
    return this.#use(stats, async (r) => {
      const ids = await this.#postings(r.index, matchers);
      limits.series.take(ids.length);
      // Rows for as many series as the postings hold: a block's series mostly have chunks in the range
      // asked, and growing by doubling copied the rows of a 100,000-series query five times into fresh
      // memory. Beyond MAX_PRESIZED_ROWS they grow as they come, lest a long postings list of series
      // mostly outside the range take much more than its answer.
      const mapping = this.#labelMapping(r, drop);
      const rows = new SeriesRows(mapping, Math.min(ids.length, MAX_PRESIZED_ROWS), limits.chunkBytes);
      let segments: Promise<SegmentFiles> | undefined;
      const inFlight = this.#opts.chunkReadsInFlight;
      // With inFlight, each read, settled either way.
      const started: Promise<unknown>[] = [];
      // The batch's chunks (where each is, its time range, a size hint), and its series: each owns the
      // chunks from its start to the next one's (a series' chunks are never split between batches).
      // Made when a chunk comes (a block without matching series makes none).
      let batch: ChunkBatch | undefined;
      // Sized for the chunks the postings' series hold in the whole block: growing from a few series'
      // worth, a query of hundreds of series allocated, zeroed and copied its columns six times a block.
      let capacity = Math.min(CHUNK_BATCH + 64, Math.max(SMALL_CHUNK_BATCH, Math.ceil(ids.length * this.#chunksPerSeries)));
      // Each batch's chunks are read while the next batch's series entries are decoded.
      const flush = (b: ChunkBatch) => {
        batch = undefined;
        if (b.length >= CHUNK_BATCH) capacity = CHUNK_BATCH + 64;
        const files = (segments ??= this.#segmentFiles(r.bucket, limits.chunkBytes));
        const n = b.length;
        const k = rows.reads;
        // Where the answer is sent as it is read (SeriesRows.paceReads), a read waits until the series
        // asked for reach into the read READ_AHEAD - 1 before it; with inFlight, for the read inFlight before to end.
        const turn: Promise<unknown>[] = [files];
        if (k >= READ_AHEAD) turn.push(rows.whenAskedInto(k - READ_AHEAD + 1));
        if (inFlight !== undefined && k >= inFlight) turn.push(started[k - inFlight] as Promise<unknown>);
        const read = (turn.length === 1 ? files : Promise.all(turn)).then(async () => {
          const chunks = await readChunks(await files, b.refs.subarray(0, n), this.#chunkPlan, b.sizes.subarray(0, n));
          this.#attach(b, chunks, limits.samples, aggregates, rows);
          return chunks.heldBytes;
        });
        if (inFlight !== undefined) started.push(read.catch(() => {}));
        rows.reading(
          b.firstSeries,
          read.catch((e: unknown) => {
            throw this.#named(e);
          }),
        );
      };
      for await (const cols of r.index.seriesColumns(ids)) {
        const { chunkStart, minTime, maxTime, ref } = cols;
        for (let e = 0; e < cols.length; e++) {
          if (shard !== undefined && !shard.matches(mapping.labels(cols.labelRefs, cols.labelStart[e] as number, cols.labelStart[e + 1] as number))) continue;
          const first = chunkStart[e] as number;
          const end = chunkStart[e + 1] as number;
          let added = false;
          for (let i = first; i < end; i++) {
            if ((maxTime[i] as number) < mint || (minTime[i] as number) > maxt) continue;
            if (!added) {
              added = true;
              const k = rows.add(cols, e);
              if (skipChunks) break;
              batch ??= new ChunkBatch(capacity, k);
              batch.starts.push(batch.length);
            }
            (batch as ChunkBatch).push(ref[i] as number, minTime[i] as number, maxTime[i] as number, chunkSizeHint(ref, first, end, i));
          }
          if (batch !== undefined && batch.length >= CHUNK_BATCH) flush(batch);
        }
      }
      if (batch !== undefined) flush(batch);
      // The block stays in use (its readers open) until its reads are done.
      this.#users++;
      rows.read.then(
        () => this.#unuse(),
        () => this.#unuse(),
      );
      return rows;
    });
  }

  /**
   * The label mapping for a query dropping the replica labels `drop`: made once per such set while the
   * readers are open, not in every block of every query (it looks names up in the symbol table and
   * encodes the external labels).
   */
  #labelMapping(r: QueryReaders, drop: ReadonlySet<string>): LabelMapping {
    const key = [...drop].join('\xff');
    let m = r.mappings.get(key);
    if (m === undefined) {
      if (r.mappings.size >= MAX_MAPPINGS) r.mappings.clear();
      m = new LabelMapping(r.index.symbols(), r.index.symbolsSorted, this.extLabels.toArray(), drop, r.index.symbolTable());
      r.mappings.set(key, m);
    }
    return m;
  }

  /**
   * Gives each series of a batch its chunks, counting their samples: a series of raw XOR chunks (the
   * common case) rows of the batch's columns, any other (a downsampled block's aggregate chunks, the
   * requested aggregates unpacked) StoreAPI objects.
   */
  #attach(batch: ChunkBatch, chunks: ReadChunks, samplesLimit: RequestLimit, aggregates: readonly Aggr[], rows: SeriesRows): void {
    const { starts, minTimes, maxTimes, firstSeries } = batch;
    let columns: RawChunkColumns | undefined;
    let columnsNo = 0;
    let samples = 0;
    for (let k = 0; k < starts.length; k++) {
      const from = starts[k] as number;
      const to = k + 1 < starts.length ? (starts[k + 1] as number) : chunks.length;
      let xor = true;
      for (let i = from; i < to && xor; i++) xor = chunks.encoding[i] === Encoding.XOR;
      if (xor) {
        if (columns === undefined) {
          // Every series of the batch holds its read buffers, whatever its chunks: aggregate chunks are views of them.
          columns = new RawChunkColumns(chunks, minTimes, maxTimes, starts.length);
          columnsNo = rows.addColumns(columns);
        }
        for (let i = from; i < to; i++) samples += columns.set(i);
        rows.setRaw(firstSeries + k, columnsNo, from, to);
        continue;
      }
      const out: AggrChunk[] = [];
      let bytes = 0;
      for (let i = from; i < to; i++) {
        const c = toStoreAggrChunk(minTimes[i] as number, maxTimes[i] as number, chunks.chunk(i), aggregates, this.id);
        samples += c.samples;
        bytes += aggrChunkBytes(c.chunk);
        out.push(c.chunk);
      }
      rows.setAggregates(firstSeries + k, out, bytes);
    }
    samplesLimit.take(samples);
  }

  labelNames(matchers: readonly Matcher[], stats: QueryStats): Promise<string[]> {
    return this.#use(stats, (r) => r.index.labelNames(matchers));
  }

  labelValues(name: string, matchers: readonly Matcher[], stats: QueryStats): Promise<string[]> {
    return this.#use(stats, (r) => r.index.labelValues(name, matchers));
  }

  /** Closes the readers; the next request opens them again from the index-header. */
  async close(): Promise<void> {
    const readers = this.#readers;
    this.#readers = undefined;
    const r = await readers?.catch(() => undefined);
    await r?.index.close();
  }
}

/** The matchers as a cache key; a query asks every block of a label set with the same array, so it is made once. */
const matcherKeys = new WeakMap<readonly Matcher[], string>();
function matchersKey(matchers: readonly Matcher[]): string {
  let key = matcherKeys.get(matchers);
  if (key === undefined) matcherKeys.set(matchers, (key = matchers.map((m) => m.toString()).sort().join(',')));
  return key;
}
