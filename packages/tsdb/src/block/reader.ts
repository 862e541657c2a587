import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Chunk, ChunkMeta } from '../chunkenc/chunk.js';
import { CHUNK_SAMPLES_MAX, encodeSeriesChunks } from '../chunkenc/series-encoder.js';
import { ChunkSegmentReader } from '../chunks/reader.js';
import { FileByteRange, type ByteRange } from '../encoding/byterange.js';
import { IndexReader, type SeriesEntry } from '../index/reader.js';
import { INDEX_FILENAME } from '../index/writer.js';
import type { Labels } from '../labels/labels.js';
import type { Matcher } from '../labels/matcher.js';
import type { ChunkSeries, Series } from '../series.js';
import { readTombstones, Tombstones, TOMBSTONES_FILENAME, type Interval } from '../tombstones/tombstones.js';
import { META_FILENAME, parseMeta, type BlockMeta } from './meta.js';
import { ChunksSampleIterator } from './series-iterator.js';

/** The files of one block, wherever they are (local disk or a bucket). */
export interface BlockFiles {
  /** meta.json's text. */
  meta: string;
  /** For error messages, e.g. the block directory or `<bucket>/<ULID>`. */
  name: string;
  index: ByteRange;
  /** chunks/000001, 000002, … in order. */
  segments: ByteRange[];
  /** Absent means no tombstones. */
  tombstones?: ByteRange;
}

/** How many chunks are requested from the segment reader at once. */
const CHUNKS_PER_READ = 512;

/** A series of a block with its ID. */
export interface BlockChunkSeries extends ChunkSeries {
  /** ID in the block's index. */
  readonly id: number;
}

/**
 * Reads one TSDB block: meta.json, the index (through IndexReader, which reads only what a query
 * needs), chunk segments by reference, and tombstones, whose deleted intervals are removed from
 * everything returned.
 */
export class BlockReader {
  readonly meta: BlockMeta;
  readonly name: string;
  readonly index: IndexReader;
  readonly #chunks: ChunkSegmentReader;
  readonly #tombstones: Tombstones;

  private constructor(name: string, meta: BlockMeta, index: IndexReader, chunks: ChunkSegmentReader, tombstones: Tombstones) {
    this.name = name;
    this.meta = meta;
    this.index = index;
    this.#chunks = chunks;
    this.#tombstones = tombstones;
  }

  static async open(files: BlockFiles): Promise<BlockReader> {
    const meta = parseMeta(files.meta, `${files.name}/${META_FILENAME}`);
    let tombstones = new Tombstones();
    if (files.tombstones !== undefined) {
      tombstones = await readTombstones(files.tombstones);
      await files.tombstones.close();
    }
    const index = await IndexReader.open(files.index);
    return new BlockReader(files.name, meta, index, await ChunkSegmentReader.open(files.segments), tombstones);
  }

  /** Opens a block directory on local disk. */
  static async openDir(dir: string): Promise<BlockReader> {
    const meta = await readFile(join(dir, META_FILENAME), 'utf8');
    const segNames = (await readdir(join(dir, 'chunks'))).filter((n) => /^\d+$/.test(n)).sort();
    const ranges: ByteRange[] = [];
    try {
      ranges.push(await FileByteRange.open(join(dir, INDEX_FILENAME)));
      for (const n of segNames) ranges.push(await FileByteRange.open(join(dir, 'chunks', n)));
      let tombstones: ByteRange | undefined;
      try {
        tombstones = await FileByteRange.open(join(dir, TOMBSTONES_FILENAME));
        ranges.push(tombstones);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      const index = ranges[0] as ByteRange;
      const segments = ranges.slice(1, 1 + segNames.length);
      return await BlockReader.open({ meta, name: dir, index, segments, ...(tombstones ? { tombstones } : {}) });
    } catch (e) {
      await Promise.all(ranges.map((r) => r.close()));
      throw e;
    }
  }

  /**
   * Series matching `matchers` (none: all) that have chunks overlapping [mint, maxt], sorted by labels,
   * with every chunk that overlaps the range (not trimmed). Chunks touched by tombstones are re-encoded
   * without the deleted samples, and dropped if nothing is left.
   */
  async *chunkSeries(matchers: readonly Matcher[], mint = -Infinity, maxt = Infinity): AsyncGenerator<BlockChunkSeries> {
    for await (const batch of this.chunkSeriesBatches(matchers, mint, maxt)) yield* batch;
  }

  /**
   * chunkSeries in consecutive arrays (of a few hundred chunks' series each): for callers that take
   * every series, one promise per array instead of one per series.
   */
  async *chunkSeriesBatches(matchers: readonly Matcher[], mint = -Infinity, maxt = Infinity): AsyncGenerator<BlockChunkSeries[]> {
    const ids = await this.index.postingsForMatchers(matchers);
    // Chunks are fetched for batches of series, so adjacent chunks of many series come in one read, and
    // a batch's read is started before the previous batch is handed out: the disk or the bucket works
    // while the caller processes series.
    const fetch = (series: SeriesEntry[], refs: number[]): Promise<BlockChunkSeries[]> => {
      const data = this.#withChunks(series, refs);
      // Handled when awaited; this keeps a failed read-ahead that is never awaited (the caller stopped early) from crashing the process.
      data.catch(() => undefined);
      return data;
    };
    let batch: SeriesEntry[] = [];
    let refs: number[] = [];
    let ahead: Promise<BlockChunkSeries[]> | undefined;
    for await (const entries of this.index.seriesBatches(ids, mint, maxt)) {
      for (const entry of entries) {
        if (entry.chunks.length === 0) continue;
        const deleted = this.#tombstones.get(entry.id);
        if (deleted !== undefined && entry.chunks.every((c) => coveredBy(deleted, c.minTime, c.maxTime))) continue;
        batch.push(entry);
        for (const c of entry.chunks) refs.push(c.ref);
        if (refs.length >= CHUNKS_PER_READ) {
          const next = fetch(batch, refs);
          if (ahead !== undefined) yield await ahead;
          ahead = next;
          batch = [];
          refs = [];
        }
      }
    }
    const last = batch.length > 0 ? fetch(batch, refs) : undefined;
    if (ahead !== undefined) yield await ahead;
    if (last !== undefined) yield await last;
  }

  /**
   * The series of `entries` (from this block's index, in any order) with their chunks, in that order,
   * read together: for callers that visit series out of index order. Series whose chunks the
   * tombstones delete entirely are left out.
   */
  chunkSeriesOf(entries: readonly SeriesEntry[]): Promise<BlockChunkSeries[]> {
    return this.#withChunks(entries, entries.flatMap((e) => e.chunks.map((c) => c.ref)));
  }

  /** `series` with the chunks at `refs` (all of theirs, in order), less what the tombstones delete. */
  async #withChunks(series: readonly SeriesEntry[], refs: number[]): Promise<BlockChunkSeries[]> {
    const data = await this.#chunks.chunks(refs);
    const out: BlockChunkSeries[] = [];
    let k = 0;
    for (const entry of series) {
      let chunks: ChunkMeta[] = entry.chunks.map((c) => ({ minTime: c.minTime, maxTime: c.maxTime, chunk: data[k++] as Chunk }));
      const deleted = this.#tombstones.get(entry.id);
      if (deleted !== undefined) chunks = withoutDeleted(chunks, deleted);
      if (chunks.length > 0) out.push({ id: entry.id, labels: entry.labels, chunks });
    }
    return out;
  }

  /** Like chunkSeries, as sample series limited to [mint, maxt]. */
  async *series(matchers: readonly Matcher[], mint = -Infinity, maxt = Infinity): AsyncGenerator<Series> {
    for await (const s of this.chunkSeries(matchers, mint, maxt)) yield new RangeSeries(s.labels, s.chunks, mint, maxt);
  }

  labelNames(matchers: readonly Matcher[] = []): Promise<string[]> {
    return this.index.labelNames(matchers);
  }

  labelValues(name: string, matchers: readonly Matcher[] = []): Promise<string[]> {
    return this.index.labelValues(name, matchers);
  }

  get tombstones(): Tombstones {
    return this.#tombstones;
  }

  async close(): Promise<void> {
    await this.index.close();
    await this.#chunks.close();
  }
}

class RangeSeries implements Series {
  constructor(
    readonly labels: Labels,
    readonly chunks: readonly ChunkMeta[],
    readonly mint: number,
    readonly maxt: number,
  ) {}

  iterator(): ChunksSampleIterator {
    return new ChunksSampleIterator(this.chunks, this.mint, this.maxt);
  }
}

function coveredBy(ivs: readonly Interval[], mint: number, maxt: number): boolean {
  return ivs.some((iv) => iv.mint <= mint && maxt <= iv.maxt);
}

/**
 * Re-encodes chunks that overlap deleted intervals, as Prometheus' chunk querier does, each in its own
 * encoding (encodeSeriesChunks: histograms stay histograms); the others are kept as they are.
 */
export function withoutDeleted(chunks: readonly ChunkMeta[], deleted: readonly Interval[]): ChunkMeta[] {
  const out: ChunkMeta[] = [];
  for (const c of chunks) {
    if (!deleted.some((iv) => iv.mint <= c.maxTime && c.minTime <= iv.maxt)) {
      out.push(c);
      continue;
    }
    // One chunk in, one out as long as the samples left can share it.
    out.push(...encodeSeriesChunks(new ChunksSampleIterator([c], -Infinity, Infinity, deleted), CHUNK_SAMPLES_MAX));
  }
  return out;
}
