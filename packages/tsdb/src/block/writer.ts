import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Encoding, ValueType, type ChunkMeta, type SampleIterator } from '../chunkenc/chunk.js';
import { ChunkSegmentWriter } from '../chunks/writer.js';
import { BufferedFileWriter } from '../index/file-writer.js';
import { IndexWriter, INDEX_FILENAME, type ChunkRef } from '../index/writer.js';
import { compareStrings, Labels } from '../labels/labels.js';
import { encodeTombstones, Tombstones, TOMBSTONES_FILENAME } from '../tombstones/tombstones.js';
import { formatMeta, META_FILENAME, type BlockCompaction, type BlockMeta, type ThanosMeta } from './meta.js';
import { HeadChunkCutter } from './chunk-cutter.js';
import { newULID } from './ulid.js';

export interface BlockWriterOptions {
  /** Chunk range for cutting raw samples (addSeries); Prometheus' head uses the block duration. */
  chunkRange?: number;
  /**
   * Put "" in the symbol table, as blocks cut from a head (Prometheus, promtool) have it; blocks
   * Prometheus compacts from other blocks do not. Default true.
   */
  emptySymbol?: boolean;
  /** Default: level 1 with the block itself as the only source. */
  compaction?: (ulid: string) => BlockCompaction;
  thanos?: ThanosMeta;
  ulid?: string;
  /**
   * The block's [minTime, maxTime) when it is known beforehand: compacted and downsampled blocks cover
   * their sources' range, not just that of the samples they keep. Default: the range of the samples.
   */
  range?: { minTime: number; maxTime: number };
  /**
   * Also count float (XOR) and histogram samples apart in meta.json's stats (numFloatSamples,
   * numHistogramSamples), as compactions of current Prometheus and Thanos do; Prometheus 2.42 ignores
   * them, and neither 2.42 nor promtool writes them, so blocks equal to promtool's leave them out.
   */
  sampleTypeStats?: boolean;
  /**
   * Every label name and value the block's series will use, when known up front (a compaction knows
   * its sources' symbol tables): series entries then go to the index as they arrive, and nothing per
   * series stays in memory. Without it the writer keeps labels and chunk references until close().
   */
  symbols?: Iterable<string>;
}

/** A chunk as a segment file holds it, for copying between blocks without decoding it. */
export interface ChunkRecord {
  readonly minTime: number;
  readonly maxTime: number;
  readonly numSamples: number;
  /** The whole segment record: `len | encoding | data | CRC` (see chunks/segment.ts). */
  readonly record: Uint8Array;
}

interface PendingSeries {
  labels: Labels;
  chunks: ChunkRef[];
}

/**
 * Writes a block: series arrive sorted by labels; their chunks go straight to the segment files. The
 * index needs every symbol before the first series entry, so unless the symbols are given up front,
 * labels and chunk references stay in memory until close() writes the index. Then come the empty
 * tombstones file and meta.json — all under `<ULID>.tmp-for-creation`, renamed to `<ULID>` at the end
 * so a half-written block is never visible under its final name.
 */
export class BlockWriter {
  readonly ulid: string;
  readonly dir: string;
  readonly #tmp: string;
  readonly #opts: BlockWriterOptions;
  readonly #chunks: ChunkSegmentWriter;
  /** Series waiting for the index, when the symbols are not known up front. */
  readonly #series: PendingSeries[] = [];
  readonly #symbols = new Set<string>();
  /** The index being written as series arrive, when the symbols were given up front. */
  #index: IndexWriter | undefined;
  #last: Labels | undefined;
  #numSeries = 0;
  #minTime = Infinity;
  #maxTime = -Infinity;
  #numSamples = 0;
  #numFloatSamples = 0;
  #numHistogramSamples = 0;
  #numChunks = 0;

  private constructor(parent: string, ulid: string, opts: BlockWriterOptions, chunks: ChunkSegmentWriter) {
    this.ulid = ulid;
    this.dir = join(parent, ulid);
    this.#tmp = `${this.dir}.tmp-for-creation`;
    this.#opts = opts;
    this.#chunks = chunks;
  }

  static async create(parentDir: string, opts: BlockWriterOptions = {}): Promise<BlockWriter> {
    const ulid = opts.ulid ?? newULID();
    const tmp = join(parentDir, `${ulid}.tmp-for-creation`);
    await rm(tmp, { recursive: true, force: true });
    await mkdir(join(tmp, 'chunks'), { recursive: true });
    const w = new BlockWriter(parentDir, ulid, opts, await ChunkSegmentWriter.create(join(tmp, 'chunks')));
    if (opts.symbols !== undefined) w.#index = await IndexWriter.create(join(tmp, INDEX_FILENAME), w.#sortedSymbols(opts.symbols));
    return w;
  }

  #sortedSymbols(symbols: Iterable<string>): string[] {
    const list = [...symbols];
    if (this.#opts.emptySymbol ?? true) list.push('');
    // A compaction passes its sources' merged tables: already sorted and unique.
    for (let i = 1; i < list.length; i++) if (compareStrings(list[i - 1]!, list[i]!) >= 0) return [...new Set(list)].sort(compareStrings);
    return list;
  }

  /** Adds a series from encoded chunks (time-ordered, non-overlapping). */
  async addChunkSeries(labels: Labels, chunks: readonly ChunkMeta[]): Promise<void> {
    if (chunks.length === 0) return;
    const last = this.#last;
    if (last !== undefined && Labels.compare(last, labels) >= 0) {
      throw new Error(`block ${this.ulid}: series ${labels.toString()} added out of order (after ${last.toString()})`);
    }
    this.#last = labels;
    this.#numSeries++;
    const refs = await this.#chunks.writeChunks(chunks.map((c) => c.chunk));
    const metas: ChunkRef[] = chunks.map((c, i) => ({ minTime: c.minTime, maxTime: c.maxTime, ref: refs[i] as number }));
    for (const c of chunks) this.#count(c.chunk.encoding, c.chunk.numSamples());
    this.#bounds(chunks);
    if (this.#index !== undefined) {
      await this.#index.addSeries(labels, metas);
      return;
    }
    for (const l of labels) {
      this.#symbols.add(l.name);
      this.#symbols.add(l.value);
    }
    this.#series.push({ labels, chunks: metas });
  }

  /**
   * Adds a series given as symbol refs and chunk records (time-ordered, non-overlapping), for
   * compactions: `labelRefs[0, numRefs)` holds name, value, name, value, … as positions in the sorted
   * symbol table the writer was created with (the `symbols` option, which this needs), and the records
   * are copied into the segment files unchanged. Series must come in label order as for addChunkSeries.
   */
  async addSeriesRecords(labelRefs: ArrayLike<number>, numRefs: number, chunks: readonly ChunkRecord[]): Promise<void> {
    const index = this.#index;
    if (index === undefined) throw new Error('BlockWriter: addSeriesRecords needs the symbols option');
    if (chunks.length === 0) return;
    const records = new Array<Uint8Array>(chunks.length);
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i]!;
      records[i] = c.record;
      this.#count(this.#opts.sampleTypeStats === true ? recordEncoding(c.record) : Encoding.Aggr, c.numSamples);
    }
    const refs = await this.#chunks.writeRecords(records);
    const metas = new Array<ChunkRef>(chunks.length);
    for (let i = 0; i < chunks.length; i++) metas[i] = { minTime: chunks[i]!.minTime, maxTime: chunks[i]!.maxTime, ref: refs[i]! };
    this.#bounds(chunks);
    await index.addSeriesRefs(labelRefs, numRefs, metas);
    this.#numSeries++;
  }

  /** Counts a chunk's samples into the block's stats (by encoding when sampleTypeStats asks for it). */
  #count(encoding: number, samples: number): void {
    this.#numSamples += samples;
    if (encoding === Encoding.XOR) this.#numFloatSamples += samples;
    else if (encoding === Encoding.Histogram || encoding === Encoding.FloatHistogram) this.#numHistogramSamples += samples;
  }

  /** Counts a series' chunks into the block's stats. */
  #bounds(chunks: readonly { minTime: number; maxTime: number }[]): void {
    this.#numChunks += chunks.length;
    this.#minTime = Math.min(this.#minTime, chunks[0]!.minTime);
    this.#maxTime = Math.max(this.#maxTime, chunks[chunks.length - 1]!.maxTime);
  }

  /** Adds a series from samples (strictly increasing timestamps), cut into chunks as Prometheus' head does. */
  async addSeries(labels: Labels, samples: SampleIterator): Promise<void> {
    const range = this.#opts.chunkRange;
    if (range === undefined) throw new Error('BlockWriter: addSeries needs the chunkRange option');
    const cutter = new HeadChunkCutter(range);
    const chunks: ChunkMeta[] = [];
    while (samples.next() === ValueType.Float) {
      const done = cutter.append(samples.atT(), samples.atFloat());
      if (done !== undefined) chunks.push(done);
    }
    const err = samples.err();
    if (err !== null) throw err;
    const tail = cutter.flush();
    if (tail !== undefined) chunks.push(tail);
    await this.addChunkSeries(labels, chunks);
  }

  get numSeries(): number {
    return this.#numSeries;
  }

  /** Writes index, tombstones and meta.json and moves the block to its final name; returns its meta. */
  async close(): Promise<BlockMeta> {
    try {
      await this.#chunks.close();
      let iw = this.#index;
      if (iw === undefined) {
        iw = await IndexWriter.create(join(this.#tmp, INDEX_FILENAME), this.#sortedSymbols(this.#symbols));
        for (const s of this.#series) await iw.addSeries(s.labels, s.chunks);
      }
      await iw.close();
      await writeFile(join(this.#tmp, TOMBSTONES_FILENAME), encodeTombstones(new Tombstones()));
      const meta: BlockMeta = {
        ulid: this.ulid,
        minTime: this.#opts.range?.minTime ?? (this.#numSeries > 0 ? this.#minTime : 0),
        maxTime: this.#opts.range?.maxTime ?? (this.#numSeries > 0 ? this.#maxTime + 1 : 0),
        // In Prometheus' field order; zeros are left out.
        stats:
          this.#opts.sampleTypeStats === true
            ? { numSamples: this.#numSamples, numFloatSamples: this.#numFloatSamples, numHistogramSamples: this.#numHistogramSamples, numSeries: this.#numSeries, numChunks: this.#numChunks }
            : { numSamples: this.#numSamples, numSeries: this.#numSeries, numChunks: this.#numChunks },
        compaction: this.#opts.compaction?.(this.ulid) ?? { level: 1, sources: [this.ulid] },
        version: 1,
      };
      if (this.#opts.thanos !== undefined) meta.thanos = this.#opts.thanos;
      const mf = await BufferedFileWriter.create(join(this.#tmp, META_FILENAME));
      await mf.write(new TextEncoder().encode(formatMeta(meta)));
      await mf.close();
      await rm(this.dir, { recursive: true, force: true });
      await rename(this.#tmp, this.dir);
      return meta;
    } catch (e) {
      await this.abort();
      throw e;
    }
  }

  /** Removes the partial block. */
  async abort(): Promise<void> {
    await this.#index?.abort();
    await this.#chunks.abort();
    await rm(this.#tmp, { recursive: true, force: true });
  }
}

/** The encoding byte of a chunk segment record (`len | encoding | data | CRC`), after its uvarint length. */
function recordEncoding(record: Uint8Array): number {
  let p = 0;
  while (record[p]! >= 0x80) p++;
  return record[p + 1]!;
}
