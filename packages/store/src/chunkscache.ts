import type { CachingBucketConfig } from './cachingbucketconfig.js';
import { scrapedCounter, type CountCell, type RemoteCacheClient } from '@strata/runtime';
import type { ByteRange } from '@strata/tsdb';
import { Counter, Gauge, type Registry } from 'prom-client';
import { LruMap } from './lru.js';
import type { ReadRecords } from './records.js';

/** Map slot, key string and entry object per item, so many small items still count against max_size. */
const ENTRY_OVERHEAD = 64;

interface Entry {
  value: Uint8Array;
  expires: number;
  size: number;
}

/**
 * Thanos' in-memory cache (cache.InMemoryCache): byte-bounded LRU (LruMap) with a TTL per item,
 * max_item_size, and its metrics under `strata_cache_inmemory_*{name}`. Values are kept as given:
 * callers hand in bytes of their own (not views into larger buffers, which would pin more memory than
 * is counted). Keys are strings, or numbers where a caller can number its items: a string made for a
 * lookup is hashed anew each time, which costs ~25 times a number's lookup.
 */
export class InMemoryCache<K extends string | number = string> {
  readonly #entries = new LruMap<Entry, K>();
  #bytes = 0;
  /** Counted on every lookup (see scrapedCounter). */
  readonly #requests: CountCell;
  readonly #hits: CountCell;
  readonly #hitsExpired: Counter;
  readonly #added: Counter;
  readonly #evicted: Counter;
  readonly #overflowed: Counter;
  readonly #items: Gauge;
  readonly #itemsSize: Gauge;
  readonly #totalSize: Gauge;
  readonly #labels: { name: string };

  constructor(
    name: string,
    readonly maxSize: number,
    readonly maxItemSize: number,
    registry: Registry,
  ) {
    const registers = [registry];
    const labels = { name };
    const counter = (n: string, help: string) => new Counter({ name: `strata_cache_inmemory_${n}`, help, labelNames: ['name'], registers });
    const gauge = (n: string, help: string) => new Gauge({ name: `strata_cache_inmemory_${n}`, help, labelNames: ['name'], registers });
    const perLookup = (n: string, help: string) => scrapedCounter(registry, `strata_cache_inmemory_${n}`, help, ['name'])(labels);
    this.#requests = perLookup('requests_total', 'Total number of requests to the inmemory cache.');
    this.#hits = perLookup('hits_total', 'Total number of requests to the inmemory cache that were a hit.');
    this.#hitsExpired = counter('hits_on_expired_data_total', 'Total number of requests to the inmemory cache that were a hit but needed to be evicted due to TTL.');
    this.#added = counter('items_added_total', 'Total number of items that were added to the inmemory cache.');
    this.#evicted = counter('items_evicted_total', 'Total number of items that were evicted from the inmemory cache.');
    this.#overflowed = counter('items_overflowed_total', 'Total number of items that could not be added to the inmemory cache due to being too big.');
    this.#items = gauge('items', 'Current number of items in the inmemory cache.');
    this.#itemsSize = gauge('items_size_bytes', 'Current byte size of items in the inmemory cache.');
    this.#totalSize = gauge('total_size_bytes', 'Current byte size of items (both value and key) in the inmemory cache.');
    gauge('max_size_bytes', 'Maximum number of bytes to be held in the inmemory cache.').set(labels, maxSize);
    gauge('max_item_size_bytes', 'Maximum number of bytes for single entry to be held in the inmemory cache.').set(labels, maxItemSize);
    for (const c of [this.#hitsExpired, this.#added, this.#evicted, this.#overflowed]) c.inc(labels, 0);
    for (const g of [this.#items, this.#itemsSize, this.#totalSize]) g.set(labels, 0);
    this.#labels = labels;
  }

  /** Bytes held, overhead included (what max_size bounds). */
  get bytes(): number {
    return this.#bytes;
  }

  get items(): number {
    return this.#entries.size;
  }

  get(key: K, now = Date.now()): Uint8Array | undefined {
    this.#requests.value++;
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    if (now >= e.expires) {
      this.#hitsExpired.inc(this.#labels);
      this.#remove(key, e);
      return undefined;
    }
    this.#hits.value++;
    return e.value;
  }

  set(key: K, value: Uint8Array, ttlMs: number, now = Date.now()): void {
    if (this.#entries.has(key)) return;
    if (value.byteLength > this.maxItemSize) {
      this.#overflowed.inc(this.#labels);
      return;
    }
    const size = value.byteLength + (typeof key === 'string' ? key.length * 2 : 8) + ENTRY_OVERHEAD;
    if (size > this.maxSize) {
      this.#overflowed.inc(this.#labels);
      return;
    }
    while (this.#bytes + size > this.maxSize) {
      const [k, e] = this.#entries.oldest() as [K, Entry];
      this.#remove(k, e);
      this.#evicted.inc(this.#labels);
    }
    this.#entries.set(key, { value, expires: now + ttlMs, size });
    this.#bytes += size;
    this.#added.inc(this.#labels);
    this.#items.inc(this.#labels);
    this.#itemsSize.inc(this.#labels, value.byteLength);
    this.#totalSize.inc(this.#labels, size - ENTRY_OVERHEAD);
  }

  /** Drops every item whose key `drop` picks (a block's, once it is unloaded). */
  dropWhere(drop: (key: K) => boolean): void {
    for (const [k, e] of this.#entries.entries()) if (drop(k)) this.#remove(k, e);
  }

  #remove(key: K, e: Entry): void {
    this.#entries.delete(key);
    this.#bytes -= e.size;
    this.#items.dec(this.#labels);
    this.#itemsSize.dec(this.#labels, e.value.byteLength);
    this.#totalSize.dec(this.#labels, e.size - ENTRY_OVERHEAD);
  }
}

/** Thanos' caching bucket config name for chunk objects (the `config` label of its metrics). */
const CONFIG = 'chunks';

/**
 * The keys of one segment file's pieces and reads (piece index or offset added to the file's key): an
 * offset in a chunk ref is 32 bits, and 2^21 files then fit the integers a double holds exactly.
 */
const FILE_KEY_STEP = 2 ** 32;
/** The key of a dropped block's segment file: its reads go to the bucket, uncached. */
const DROPPED = -1;

/** Reads whose chunk records were all found intact, remembered (oldest forgotten first). */
const MAX_VERIFIED_READS = 16_384;
/**
 * The share of max_size their records may take besides (a record's fields take ~2% of its chunk's
 * bytes for chunks of a few hundred samples, so this covers every read a full cache could make again),
 * and at least MIN_VERIFIED_RECORDS_BYTES.
 */
const VERIFIED_RECORDS_SHARE = 1 / 32;
const MIN_VERIFIED_RECORDS_BYTES = 64 * 1024;

/**
 * A range of chunk records that can tell a read whose records were all checked before (CachedChunkRange:
 * the same cached pieces), and give back those records and the pieces as they are, so that they are
 * neither joined into one buffer nor parsed, checked and hashed again.
 */
export interface VerifiedReads {
  /** Bytes [offset, offset + length), or their records and pieces if they were all found intact before. */
  readRecords(offset: number, length: number): Promise<Uint8Array | RecalledRead>;
  /** `records`, every whole one of `bytes` (a read of [offset, offset + length)) and all intact, for `readRecords`. */
  remember(offset: number, length: number, bytes: Uint8Array, records: ReadRecords): void;
}

/** A read made of cached pieces whose records were all found intact before. */
export interface RecalledRead {
  /** The pieces, consecutive; all but the file's last are equally long. */
  readonly pieces: readonly Uint8Array[];
  /** Where the read starts in the first piece. */
  readonly at: number;
  readonly records: ReadRecords;
}

/** Bytes [from, to) of a recalled read, copied out of its pieces. */
export function recalledBytes(read: RecalledRead, from: number, to: number): Uint8Array {
  return assemble(read.pieces, read.at + from, to - from);
}

/** A read checked whole (of `length` bytes): the ids of the cached pieces it was made of, and its records. */
interface VerifiedRead {
  readonly length: number;
  readonly ids: readonly number[];
  readonly records: ReadRecords;
}

/**
 * The store gateway's chunk cache (Thanos' caching bucket for `chunks/*` objects, with
 * `--store.caching-bucket.config`): range reads of segment files are served from pieces of
 * `chunk_subrange_size` bytes aligned to multiples of it, so overlapping reads share them; the pieces
 * a read misses are fetched with at most `max_chunks_get_range_requests` reads of the object (gaps
 * between missing runs are bridged, re-reading cached pieces, to stay within that) and cached. Bytes
 * returned are the object's own: only whole pieces as the object had them are cached, each a copy of
 * its own (a view would pin the whole read it came from).
 *
 * It sits above the per-query accounting, so a query's object requests and bytes count only the
 * reads that really went to the bucket.
 */
export class ChunksCache {
  /** Pieces by fileKey + piece index, in this process; or, with a remote cache client, in memcached or redis. */
  readonly #cache: InMemoryCache<number> | undefined;
  readonly #remote: RemotePieces | undefined;
  readonly #subrange: number;
  readonly #maxRequests: number;
  readonly #ttl: number;
  /** Counted on every range read (see scrapedCounter). */
  readonly #requests: CountCell;
  readonly #hits: CountCell;
  readonly #requestedBytes: CountCell;
  readonly #fetchedFromCache: CountCell;
  readonly #fetchedFromBucket: CountCell;
  readonly #refetchedBytes: Counter<'origin' | 'config'>;
  /**
   * Checked reads by fileKey + offset, each with the ids of the cached pieces it was made of. A read made
   * of the very same pieces again holds the same bytes; a piece evicted and fetched anew gets a new id,
   * and the read is checked again.
   */
  readonly #verifiedReads = new LruMap<VerifiedRead, number>();
  /**
   * The segment files of loaded blocks by object name, each numbered (the numbers of dropped blocks'
   * files given to new ones) times FILE_KEY_STEP: the keys of its pieces and reads are numbers, not
   * strings made for every lookup.
   */
  readonly #segments = new Map<string, CachedSegment>();
  readonly #freeFileKeys: number[] = [];
  /** Bytes of the records of #verifiedReads, and their bound (VERIFIED_RECORDS_SHARE). */
  #verifiedBytes = 0;
  readonly #maxVerifiedBytes: number;
  /** Ids of cached pieces, and the pieces' ids behind reads returned (while they are referred to). */
  readonly #pieceIds = new WeakMap<Uint8Array, number>();
  readonly #readPieces = new WeakMap<Uint8Array, readonly number[]>();
  #nextPieceId = 1;

  /** `remote`: the client for cfg.remote, where the pieces are kept instead of this process' memory. */
  constructor(cfg: CachingBucketConfig, registry: Registry, remote?: RemoteCacheClient) {
    this.#cache = remote === undefined ? new InMemoryCache<number>('caching-bucket', cfg.maxSize, cfg.maxItemSize, registry) : undefined;
    this.#remote = remote !== undefined ? new RemotePieces(remote, cfg.chunkSubrangeSize, cfg.chunkSubrangeTtlMs) : undefined;
    this.#subrange = cfg.chunkSubrangeSize;
    this.#maxRequests = cfg.maxChunksGetRangeRequests;
    this.#ttl = cfg.chunkSubrangeTtlMs;
    this.#maxVerifiedBytes = Math.max(cfg.maxSize * VERIFIED_RECORDS_SHARE, MIN_VERIFIED_RECORDS_BYTES);
    const operation = { operation: 'get_range', config: CONFIG };
    this.#requests = scrapedCounter(registry, 'strata_store_bucket_cache_operation_requests_total', 'Number of requested operations matching given config.', ['operation', 'config'])(operation);
    this.#hits = scrapedCounter(registry, 'strata_store_bucket_cache_operation_hits_total', 'Number of operations served from cache for given config.', ['operation', 'config'])(operation);
    this.#requestedBytes = scrapedCounter(registry, 'strata_store_bucket_cache_getrange_requested_bytes_total', 'Total number of bytes requested via GetRange.', ['config'])({ config: CONFIG });
    const fetched = scrapedCounter(
      registry,
      'strata_store_bucket_cache_getrange_fetched_bytes_total',
      'Total number of bytes fetched because of GetRange operation. Data from bucket is then stored to cache.',
      ['origin', 'config'],
    );
    this.#fetchedFromCache = fetched({ origin: 'cache', config: CONFIG });
    this.#fetchedFromBucket = fetched({ origin: 'bucket', config: CONFIG });
    this.#refetchedBytes = new Counter({ name: 'strata_store_bucket_cache_getrange_refetched_bytes_total', help: 'Total number of bytes re-fetched from storage because of GetRange operation, despite being in cache already.', labelNames: ['origin', 'config'], registers: [registry] });
    this.#refetchedBytes.inc({ origin: 'cache', config: CONFIG }, 0);
    const cache = this;
    new Gauge({
      name: 'strata_store_bucket_cache_checked_reads',
      help: 'Chunk reads whose records were all found intact, kept with their records to be served again from the same cached pieces.',
      registers: [registry],
      collect() {
        this.set(cache.#verifiedReads.size);
      },
    });
    new Gauge({
      name: 'strata_store_bucket_cache_checked_reads_bytes',
      help: 'Memory held by the records of checked chunk reads (at most a 32nd of max_size, or 64 KiB).',
      registers: [registry],
      collect() {
        this.set(cache.#verifiedBytes);
      },
    });
  }

  /** The in-memory cache underneath (sizes, for tests and memory accounting); none where the pieces are in memcached or redis. */
  get cache(): InMemoryCache<number> | undefined {
    return this.#cache;
  }

  /**
   * The segment file `name` of a block being loaded, registered until `dropBlock` drops its block. Only
   * registered files are cached: one registered on a read could be a dropped block's, read by a query
   * still running, and would never be dropped again.
   */
  segment(name: string): CachedSegment {
    let segment = this.#segments.get(name);
    if (segment === undefined) this.#segments.set(name, (segment = new CachedSegment(this, name, this.#freeFileKeys.pop() ?? this.#segments.size * FILE_KEY_STEP)));
    return segment;
  }

  /** Drops a block's pieces and segment files (its objects are `<ULID>/chunks/...`); reads still in flight go on uncached. */
  dropBlock(id: string): void {
    const prefix = `${id}/`;
    const dropped = new Set<number>();
    for (const [name, segment] of this.#segments) {
      if (!name.startsWith(prefix)) continue;
      dropped.add(segment.key);
      this.#freeFileKeys.push(segment.key);
      segment.key = DROPPED;
      this.#segments.delete(name);
    }
    if (dropped.size === 0) return;
    const ofDropped = (key: number) => dropped.has(key - (key % FILE_KEY_STEP));
    this.#cache?.dropWhere(ofDropped);
    for (const [key, read] of this.#verifiedReads.entries()) {
      if (!ofDropped(key)) continue;
      this.#verifiedReads.delete(key);
      this.#verifiedBytes -= read.records.bytes;
    }
  }

  /** Bytes [offset, offset + length) of `file` (`segment` as one query reads it), from cached pieces where present. */
  read(segment: CachedSegment, file: ByteRange, offset: number, length: number): Promise<Uint8Array> {
    return this.#read(segment, file, offset, length, false) as Promise<Uint8Array>;
  }

  /** As `read`, or the read's records and pieces where VerifiedReads can recall them. */
  readRecords(segment: CachedSegment, file: ByteRange, offset: number, length: number): Promise<Uint8Array | RecalledRead> {
    return this.#read(segment, file, offset, length, true);
  }

  async #read(segment: CachedSegment, file: ByteRange, offset: number, length: number, recall: boolean): Promise<Uint8Array | RecalledRead> {
    const fileKey = segment.key;
    if (fileKey === DROPPED) return file.read(offset, length);
    const size = await file.size();
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
      throw new RangeError(`${file.name}: range [${offset}, ${offset + length}) outside object of ${size} bytes`);
    }
    this.#requests.value++;
    this.#requestedBytes.value += length;
    if (length === 0) return new Uint8Array(0);
    const sub = this.#subrange;
    const first = Math.floor(offset / sub);
    const last = Math.floor((offset + length - 1) / sub);
    const n = last - first + 1;
    const now = Date.now();
    const pieces = this.#remote !== undefined ? await this.#remote.get(segment.name, first, n) : this.#localPieces(fileKey + first, n, now);
    let hits = 0;
    for (const p of pieces) {
      if (p === undefined) continue;
      hits++;
      this.#fetchedFromCache.value += p.length;
    }
    // As Thanos: the share of the read's pieces that were cached.
    this.#hits.value += hits / n;
    if (hits === n) {
      const recalled = recall ? this.#recall(fileKey + offset, length, pieces as Uint8Array[], offset - first * sub) : undefined;
      if (recalled !== undefined) return recalled;
      return this.#made(n === 1 ? (pieces[0] as Uint8Array).subarray(offset - first * sub, offset - first * sub + length) : assemble(pieces, offset - first * sub, length), pieces);
    }
    // The cached pieces behind the read (a piece fetched is cached as a copy of its own, with the same bytes).
    const cached = pieces.slice();

    const runs = this.#missingRuns(pieces);
    const fetched = await Promise.all(
      runs.map(async ([from, to]) => {
        const start = (first + from) * sub;
        const end = Math.min((first + to) * sub, size);
        const bytes = await file.read(start, end - start);
        this.#fetchedFromBucket.value += bytes.length;
        // Its block dropped meanwhile, the file's key may be another file's now: nothing is cached under it.
        const keyHeld = segment.key === fileKey;
        for (let i = from; i < to; i++) {
          const piece = bytes.subarray((i - from) * sub, Math.min((i - from + 1) * sub, bytes.length));
          if (pieces[i] !== undefined) {
            this.#refetchedBytes.inc({ origin: 'cache', config: CONFIG }, piece.length);
            continue;
          }
          pieces[i] = piece;
          if (!keyHeld) continue;
          if (this.#remote !== undefined) {
            this.#remote.set(segment.name, first + i, piece);
            continue;
          }
          const copy = piece.slice();
          this.#pieceIds.set(copy, this.#nextPieceId++);
          this.#cache?.set(fileKey + first + i, copy, this.#ttl, now);
          cached[i] = copy;
        }
        return bytes;
      }),
    );
    // One read that covered everything: the caller gets a view of it rather than a copy.
    if (runs.length === 1 && (runs[0] as [number, number])[0] === 0 && (runs[0] as [number, number])[1] === n) {
      const at = offset - first * sub;
      return this.#made((fetched[0] as Uint8Array).subarray(at, at + length), cached);
    }
    return this.#made(assemble(pieces, offset - first * sub, length), cached);
  }

  /** The `n` pieces from `key` on in this process' cache. */
  #localPieces(key: number, n: number, now: number): (Uint8Array | undefined)[] {
    const cache = this.#cache as InMemoryCache<number>;
    const pieces = new Array<Uint8Array | undefined>(n);
    for (let i = 0; i < n; i++) pieces[i] = cache.get(key + i, now);
    return pieces;
  }

  /** `bytes`, noted as made of the cached `pieces` (VerifiedReads). */
  #made(bytes: Uint8Array, pieces: readonly (Uint8Array | undefined)[]): Uint8Array {
    const ids: number[] = [];
    for (const p of pieces) {
      const id = p === undefined ? undefined : this.#pieceIds.get(p);
      if (id === undefined) return bytes; // not all of it cached: nothing to remember it by
      ids.push(id);
    }
    this.#readPieces.set(bytes, ids);
    return bytes;
  }

  /** The read at `key` (its file's key + offset), if it was checked whole when made of these very pieces. */
  #recall(key: number, length: number, pieces: Uint8Array[], at: number): RecalledRead | undefined {
    const known = this.#verifiedReads.get(key);
    if (known === undefined || known.length !== length || known.ids.length !== pieces.length) return undefined;
    for (let i = 0; i < pieces.length; i++) if (this.#pieceIds.get(pieces[i] as Uint8Array) !== known.ids[i]) return undefined;
    return { pieces, at, records: known.records };
  }

  remember(segment: CachedSegment, offset: number, length: number, bytes: Uint8Array, records: ReadRecords): void {
    const ids = this.#readPieces.get(bytes);
    if (ids === undefined || records.bytes > this.#maxVerifiedBytes || segment.key === DROPPED) return;
    // One read kept per offset: another length from there replaces it.
    const key = segment.key + offset;
    const old = this.#verifiedReads.peek(key);
    if (old !== undefined) this.#verifiedBytes -= old.records.bytes;
    this.#verifiedReads.set(key, { length, ids, records });
    this.#verifiedBytes += records.bytes;
    while (this.#verifiedReads.size > MAX_VERIFIED_READS || this.#verifiedBytes > this.#maxVerifiedBytes) {
      const [oldestKey, oldest] = this.#verifiedReads.oldest() as [number, VerifiedRead];
      this.#verifiedReads.delete(oldestKey);
      this.#verifiedBytes -= oldest.records.bytes;
    }
  }

  /**
   * Runs [from, to) of missing pieces, each one read of the bucket; while there are more than
   * max_chunks_get_range_requests, the two runs with the smallest gap between them become one.
   */
  #missingRuns(pieces: readonly (Uint8Array | undefined)[]): [number, number][] {
    const runs: [number, number][] = [];
    for (let i = 0; i < pieces.length; i++) {
      if (pieces[i] !== undefined) continue;
      const lastRun = runs[runs.length - 1];
      if (lastRun !== undefined && lastRun[1] === i) lastRun[1] = i + 1;
      else runs.push([i, i + 1]);
    }
    while (this.#maxRequests > 0 && runs.length > this.#maxRequests) {
      let best = 0;
      for (let r = 1; r + 1 < runs.length; r++) {
        if ((runs[r + 1] as [number, number])[0] - (runs[r] as [number, number])[1] < (runs[best + 1] as [number, number])[0] - (runs[best] as [number, number])[1]) best = r;
      }
      (runs[best] as [number, number])[1] = (runs[best + 1] as [number, number])[1];
      runs.splice(best + 1, 1);
    }
    return runs;
  }
}

/**
 * A chunk cache's pieces in memcached or redis (`type: MEMCACHED`, `type: REDIS`), shared by every store gateway pointed at it:
 * piece i of a segment file under its object name, i and the piece size (store gateways with another
 * chunk_subrange_size cut other pieces). Pieces read back are checked like any bytes from the bucket:
 * a read made of them is never recalled as checked before (VerifiedReads), as nothing here can tell
 * that they are the same bytes.
 */
class RemotePieces {
  constructor(
    private readonly client: RemoteCacheClient,
    private readonly subrange: number,
    private readonly ttlMs: number,
  ) {}

  /** Through the client's `get`, so that the reads a query makes at once (across its blocks) share multi-gets. */
  get(object: string, first: number, n: number): Promise<(Uint8Array | undefined)[]> {
    return Promise.all(Array.from({ length: n }, (_, i) => this.client.get(this.#key(object, first + i))));
  }

  set(object: string, index: number, piece: Uint8Array): void {
    // A copy of its own: the read it is a view of goes back to the caller.
    this.client.setAsync(this.#key(object, index), Buffer.from(piece), this.ttlMs);
  }

  #key(object: string, index: number): string {
    return `strata-chunks-v1:${this.subrange}:${object}:${index}`;
  }
}

/** `length` bytes starting `at` bytes into the concatenation of consecutive pieces. */
function assemble(pieces: readonly (Uint8Array | undefined)[], at: number, length: number): Uint8Array {
  const out = Buffer.allocUnsafe(length);
  let n = 0;
  for (const p of pieces) {
    const piece = p as Uint8Array;
    if (at >= piece.length) {
      at -= piece.length;
      continue;
    }
    const take = Math.min(piece.length - at, length - n);
    out.set(piece.subarray(at, at + take), n);
    n += take;
    at = 0;
    if (n === length) break;
  }
  return out;
}

/** A segment file of a loaded block, known to the chunk cache (ChunksCache.segment). */
export class CachedSegment {
  constructor(
    readonly cache: ChunksCache,
    readonly name: string,
    /** The key of its piece 0 and of its read at offset 0; DROPPED once its block is dropped. */
    public key: number,
  ) {}

  /** `file`, this segment as one query reads it, read through the cache. */
  wrap(file: ByteRange): ByteRange & VerifiedReads {
    return new CachedChunkRange(file, this);
  }
}

/** A segment file whose range reads go through the chunk cache. */
class CachedChunkRange implements ByteRange, VerifiedReads {
  constructor(
    readonly inner: ByteRange,
    readonly segment: CachedSegment,
  ) {}

  get name(): string {
    return this.inner.name;
  }

  size(): Promise<number> {
    return this.inner.size();
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    return this.segment.cache.read(this.segment, this.inner, offset, length);
  }

  readRecords(offset: number, length: number): Promise<Uint8Array | RecalledRead> {
    return this.segment.cache.readRecords(this.segment, this.inner, offset, length);
  }

  remember(offset: number, length: number, bytes: Uint8Array, records: ReadRecords): void {
    this.segment.cache.remember(this.segment, offset, length, bytes, records);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
