import { Aggr, GrpcStatus, StoreError, storeChunk, type AggrChunk } from '@strata/storeapi';
import { AggrChunk as TsdbAggrChunk, AggrType, type Chunk } from '@strata/tsdb';

/** The StoreAPI field each requested aggregate fills, and the sub-chunk of Thanos' aggregate chunk it comes from. */
const FIELDS: Partial<Record<Aggr, { field: 'count' | 'sum' | 'min' | 'max' | 'counter'; type: AggrType; name: string }>> = {
  [Aggr.COUNT]: { field: 'count', type: AggrType.Count, name: 'count' },
  [Aggr.SUM]: { field: 'sum', type: AggrType.Sum, name: 'sum' },
  [Aggr.MIN]: { field: 'min', type: AggrType.Min, name: 'min' },
  [Aggr.MAX]: { field: 'max', type: AggrType.Max, name: 'max' },
  [Aggr.COUNTER]: { field: 'counter', type: AggrType.Counter, name: 'counter' },
};

/**
 * One block chunk as a StoreAPI AggrChunk (Thanos' populateChunk): raw chunks fill `raw`; an
 * aggregate chunk of a downsampled block (encoding 0xFF) fills the fields of the requested
 * aggregates, each its XOR sub-chunk as it is, hashed. Like Thanos, `RAW` asks nothing of an
 * aggregate chunk, and a requested aggregate the chunk lacks fails the request, since answering
 * without it would silently change the query's result.
 */
export function toStoreAggrChunk(minTime: number, maxTime: number, chunk: Chunk, aggregates: readonly Aggr[], blockId: string): AggrChunk {
  if (!(chunk instanceof TsdbAggrChunk)) return { minTime, maxTime, raw: storeChunk(chunk.encoding, chunk.bytes) };
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
  return out;
}

