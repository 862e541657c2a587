/**
 * Conversion between tsdb chunk series and StoreAPI series. Chunk bytes are passed through untouched;
 * only the encoding number changes (TSDB/remote read XOR = 1, StoreAPI XOR = 0).
 */
import { type ChunkMeta, type ChunkSeries, chunkFromBytes, type Encoding, type Label, Labels } from '@strata/tsdb';
import { decodedChunkMetas } from './codec.js';
import { chunkHash } from './hash.js';
import type { AggrChunk, ChunkEncoding, SeriesResponse, StoreChunk, StoreSeries } from './messages.js';

/** StoreAPI encoding for a TSDB encoding (EncXOR 1 → XOR 0, …), as Thanos' chunkToStoreEncoding. */
export function toStoreEncoding(enc: Encoding): ChunkEncoding {
  if (enc < 1 || enc > 3) throw new Error(`chunk encoding ${enc} has no StoreAPI equivalent`);
  return (enc - 1) as ChunkEncoding;
}

/** TSDB encoding for a StoreAPI encoding. */
export function fromStoreEncoding(enc: ChunkEncoding): Encoding {
  if (enc < 0 || enc > 2) throw new Error(`unknown StoreAPI chunk encoding ${enc}`);
  return (enc + 1) as Encoding;
}

/** A StoreAPI raw chunk for TSDB-encoded bytes, with its xxhash64. */
export function storeChunk(enc: Encoding, data: Uint8Array): StoreChunk {
  return { type: toStoreEncoding(enc), data, hash: chunkHash(data) };
}

/** A StoreAPI series from labels and chunk metas (raw chunks, hashed, bytes not copied). */
export function toStoreSeries(labels: Labels | readonly Label[], chunks: readonly ChunkMeta[]): StoreSeries {
  const out: AggrChunk[] = new Array(chunks.length);
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i]!;
    out[i] = { minTime: c.minTime, maxTime: c.maxTime, raw: storeChunk(c.chunk.encoding, c.chunk.bytes) };
  }
  return { labels: labels instanceof Labels ? labels.toArray() : labels, chunks: out };
}

/**
 * A tsdb chunk series over the raw chunks of a StoreAPI series (no copy, no re-encoding). Raw XOR
 * chunks decoded from a frame are chunk metas already (decodedChunkMetas).
 */
export function fromStoreSeries(s: StoreSeries): ChunkSeries {
  const labels = Labels.fromSorted([...s.labels]);
  const decoded = decodedChunkMetas(s.chunks);
  if (decoded !== undefined) return { labels, chunks: decoded };
  const chunks: ChunkMeta[] = [];
  for (const c of s.chunks) {
    if (c.raw === undefined) throw new Error('series chunk has no raw chunk: downsampled aggregates need an aggregate-aware reader');
    chunks.push({ minTime: c.minTime, maxTime: c.maxTime, chunk: chunkFromBytes(fromStoreEncoding(c.raw.type), c.raw.data) });
  }
  return { labels, chunks };
}

/**
 * The series of a Series stream as tsdb chunk series: batches are flattened and consecutive frames of
 * the same series merged (the contract allows one series to span frames). Warnings go to `onWarning`.
 */
export async function* readChunkSeries(frames: AsyncIterable<SeriesResponse>, onWarning: (w: string) => void = () => {}): AsyncGenerator<ChunkSeries> {
  let pending: ChunkSeries | undefined;
  for await (const f of frames) {
    if ('warning' in f) {
      onWarning(f.warning);
      continue;
    }
    if ('hints' in f) continue;
    for (const s of 'series' in f ? [f.series] : f.batch) {
      const cs = fromStoreSeries(s);
      if (pending !== undefined && pending.labels.equals(cs.labels)) {
        pending = { labels: pending.labels, chunks: [...pending.chunks, ...cs.chunks] };
        continue;
      }
      if (pending !== undefined) yield pending;
      pending = cs;
    }
  }
  if (pending !== undefined) yield pending;
}
