import { Aggr, GrpcStatus, StoreError, storeChunk, type AggrChunk } from '@strata/storeapi';
import { AggrChunk as TsdbAggrChunk, AggrType, chunkFromBytes, CorruptionError, Encoding } from '@strata/tsdb';
import type { RawChunk } from './chunkreader.js';

/** The StoreAPI field each requested aggregate fills, and the sub-chunk of Thanos' aggregate chunk it comes from. */
const FIELDS: Partial<Record<Aggr, { field: 'count' | 'sum' | 'min' | 'max' | 'counter'; type: AggrType; name: string }>> = {
  [Aggr.COUNT]: { field: 'count', type: AggrType.Count, name: 'count' },
  [Aggr.SUM]: { field: 'sum', type: AggrType.Sum, name: 'sum' },
  [Aggr.MIN]: { field: 'min', type: AggrType.Min, name: 'min' },
  [Aggr.MAX]: { field: 'max', type: AggrType.Max, name: 'max' },
  [Aggr.COUNTER]: { field: 'counter', type: AggrType.Counter, name: 'counter' },
};

/** A block chunk as the StoreAPI sends it, with its sample count (for the sample limit). */
export interface StoreBoundChunk {
  chunk: AggrChunk;
  samples: number;
}

/**
 * One block chunk as a StoreAPI AggrChunk (Thanos' populateChunk): raw XOR chunks fill `raw` with
 * their bytes as stored (not decoded); an aggregate chunk of a downsampled block (encoding 0xFF)
 * fills the fields of the requested aggregates, each its sub-chunk as it is, hashed (XOR; float
 * histogram chunks for the sum and counter of a native histogram, which has no min or max). Like Thanos,
 * `RAW` asks nothing of an aggregate chunk, and a requested aggregate the chunk lacks fails the
 * request, since answering without it would silently change the query's result.
 */
export function toStoreAggrChunk(minTime: number, maxTime: number, stored: RawChunk, aggregates: readonly Aggr[], blockId: string): StoreBoundChunk {
  const { encoding, data } = stored;
  if (encoding === Encoding.XOR) return { chunk: { minTime, maxTime, raw: storeChunk(encoding, data) }, samples: xorSamples(data) };
  const chunk = chunkFromBytes(encoding, data);
  if (!(chunk instanceof TsdbAggrChunk)) return { chunk: { minTime, maxTime, raw: storeChunk(chunk.encoding, chunk.bytes) }, samples: chunk.numSamples() };
  const out: AggrChunk = { minTime, maxTime };
  for (const a of aggregates) {
    const f = FIELDS[a];
    if (f === undefined || out[f.field] !== undefined) continue;
    const sub = chunk.get(f.type);
    if (sub === undefined) {
      throw new StoreError(GrpcStatus.INTERNAL, `block ${blockId}: downsampled chunk [${minTime}, ${maxTime}] has no ${f.name} aggregate, which the request asks for`);
    }
    out[f.field] = storeChunk(sub.encoding, sub.bytes);
  }
  return { chunk: out, samples: chunk.numSamples() };
}

/** The sample count of the XOR chunk `data[start, end)`: the BE16 at its start, which XORChunk.fromBytes would insist on. */
export function xorSamples(data: Uint8Array, start = 0, end = data.length): number {
  if (end - start < 2) throw new CorruptionError('XOR chunk', 0, `chunk of ${end - start} bytes is shorter than its 2-byte sample count`);
  return ((data[start] as number) << 8) | (data[start + 1] as number);
}
