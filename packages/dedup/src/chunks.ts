import { ALL_SAMPLES, ChainMergeIterator, encodeSeriesChunks, Encoding, Labels, SampleBuffer, XORChunk, xorSamplesBytes, type ChunkMeta } from '@strata/tsdb';
import { ChunksReplicaIterator } from './adjustable.js';
import { splitOverlapping } from './overlap.js';
import { penaltyMerge } from './penalty.js';
import { PenaltyMergedSeries } from './plan.js';
import type { DedupFunc } from './series.js';

/** Samples per re-encoded chunk, as Prometheus cuts merged chunks. */
export const MERGED_CHUNK_SAMPLES = 120;

/**
 * The offline chunk-series merge of the compactor (Thanos' NewChunkSeriesMerger, Prometheus'
 * compacting chunk-series merger): one series' chunks gathered from several blocks — replicas or
 * overlapping blocks — become one time-ordered, non-overlapping chunk list.
 *
 * Chunks in (minTime, maxTime) order are grouped into runs that overlap transitively. A run of one
 * chunk is kept as it is (bytes untouched); byte-identical copies of a chunk are dropped; anything
 * else is split into non-overlapping streams (splitOverlapping, which separates the replicas) and
 * merged sample by sample — with the penalty rule (no counter adjustment: the stored data stays as
 * scraped) or the chain merge (identical timestamps collapsed) — then re-encoded into chunks of at
 * most MERGED_CHUNK_SAMPLES samples: XOR for floats, the histogram encodings for native histograms
 * (a series switching between floats and histograms gets a chunk per run of one type).
 */
export function mergeChunkSeries(chunks: readonly ChunkMeta[], func: DedupFunc): ChunkMeta[] {
  const sorted = [...chunks].sort((a, b) => a.minTime - b.minTime || a.maxTime - b.maxTime);
  const out: ChunkMeta[] = [];
  let run: ChunkMeta[] = [];
  let runMax = Number.NEGATIVE_INFINITY;
  for (const c of sorted) {
    if (run.length > 0 && c.minTime > runMax) {
      mergeRun(run, func, out);
      run = [];
    }
    run.push(c);
    runMax = Math.max(runMax, c.maxTime);
  }
  if (run.length > 0) mergeRun(run, func, out);
  return out;
}

function mergeRun(run: ChunkMeta[], func: DedupFunc, out: ChunkMeta[]): void {
  const unique = withoutCopies(run);
  if (unique.length === 1) {
    out.push(unique[0] as ChunkMeta);
    return;
  }
  const replicas = splitOverlapping(unique);
  if (func === 'chain' || unique.some((c) => c.chunk.encoding !== Encoding.XOR)) {
    // Sample by sample through the iterators, which carry histograms.
    const its = replicas.map((s) => new ChunksReplicaIterator(s, false));
    out.push(...encodeSeriesChunks(func === 'chain' ? new ChainMergeIterator(its) : penaltyMerge(its), MERGED_CHUNK_SAMPLES));
    return;
  }
  // Floats only: the penalty merge in bulk, as the querier reads replicas, and its samples encoded in bulk.
  const merged = new SampleBuffer();
  (PenaltyMergedSeries.of(Labels.EMPTY, replicas, false) as PenaltyMergedSeries).appendSamples(merged, ALL_SAMPLES);
  for (let from = 0; from < merged.n; from += MERGED_CHUNK_SAMPLES) {
    const to = Math.min(merged.n, from + MERGED_CHUNK_SAMPLES);
    const chunk = XORChunk.fromBytes(xorSamplesBytes(merged.ts, merged.vs, from, to).slice());
    out.push({ minTime: merged.ts[from] as number, maxTime: merged.ts[to - 1] as number, chunk });
  }
}

/** Drops chunks that repeat an earlier one exactly (same range and bytes): the same data uploaded twice. */
function withoutCopies(run: readonly ChunkMeta[]): ChunkMeta[] {
  const kept: ChunkMeta[] = [];
  for (const c of run) {
    if (!kept.some((k) => k.minTime === c.minTime && k.maxTime === c.maxTime && k.chunk.encoding === c.chunk.encoding && bytesEqual(k.chunk.bytes, c.chunk.bytes))) {
      kept.push(c);
    }
  }
  return kept;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
