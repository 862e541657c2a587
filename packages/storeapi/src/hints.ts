/**
 * Thanos' hints (package hintspb, pkg/store/hintspb/hints.proto), carried in the `hints` Any fields:
 *
 *   SeriesRequestHints  { repeated LabelMatcher block_matchers = 1; bool enable_query_stats = 2; }
 *   SeriesResponseHints { repeated Block queried_blocks = 1; QueryStats query_stats = 2; }
 *   Block               { string id = 1; }
 *   QueryStats          { int64 blocks_queried = 1; … ; int64 data_downloaded_size_sum = 20; … }
 *
 * Strata's store gateway answers a request with enable_query_stats by a last hints frame telling what
 * the query cost, which the querier reports under `stats=all`. Block matchers are not used. Field 1000
 * of QueryStats (object-store requests) is Strata's own; protobuf readers skip fields they don't know.
 */
import { chunkDataLength, chunkSamples } from './codec.js';
import type { AggrChunk, AnyMessage, StoreChunk } from './messages.js';
import { ProtoReader } from './wire/reader.js';
import { ProtoWriter } from './wire/writer.js';

export const SERIES_REQUEST_HINTS_TYPE = 'type.googleapis.com/hintspb.SeriesRequestHints';
export const SERIES_RESPONSE_HINTS_TYPE = 'type.googleapis.com/hintspb.SeriesResponseHints';

/** The QueryStats fields Strata fills, by their hintspb field numbers. */
export const QUERY_STATS_FIELDS = {
  blocksQueried: 1,
  postingsFetched: 7,
  postingsFetchedSizeSum: 8,
  postingsFetchCount: 9,
  seriesFetched: 12,
  seriesFetchedSizeSum: 13,
  seriesFetchCount: 14,
  chunksFetched: 17,
  chunksFetchedSizeSum: 18,
  chunksFetchCount: 19,
  dataDownloadedSizeSum: 20,
  /** Strata's: object-store requests made for the query (unknown to Thanos, which skips it). */
  objectRequests: 1000,
} as const;

export type QueryStats = { -readonly [K in keyof typeof QUERY_STATS_FIELDS]: number };

const NO_QUERY_STATS = Object.freeze(Object.fromEntries(Object.keys(QUERY_STATS_FIELDS).map((k) => [k, 0])) as QueryStats);

/** QueryStats of zeros; copied from one made once: every Series call of a store makes one. */
export function emptyQueryStats(): QueryStats {
  return { ...NO_QUERY_STATS };
}

/** Adds `b` into `a`. */
export function addQueryStats(a: QueryStats, b: QueryStats): void {
  for (const k of Object.keys(QUERY_STATS_FIELDS) as (keyof QueryStats)[]) a[k] += b[k];
}

export function seriesRequestHints(enableQueryStats: boolean): AnyMessage {
  return { typeUrl: SERIES_REQUEST_HINTS_TYPE, value: new ProtoWriter(8).bool(2, enableQueryStats).finish() };
}

/** Whether a request's hints ask for query stats. */
export function wantsQueryStats(hints: AnyMessage | undefined): boolean {
  if (hints?.typeUrl !== SERIES_REQUEST_HINTS_TYPE) return false;
  const r = new ProtoReader(hints.value);
  let enabled = false;
  while (!r.done) {
    const t = r.tag();
    if (t === 16) enabled = r.bool();
    else r.skip(t & 7);
  }
  return enabled;
}

export interface SeriesResponseHints {
  queriedBlocks: string[];
  queryStats: QueryStats;
}

export function encodeSeriesResponseHints(h: SeriesResponseHints): AnyMessage {
  const w = new ProtoWriter(256);
  for (const id of h.queriedBlocks) w.fork(1).string(1, id).ldelim();
  w.fork(2);
  for (const [k, field] of Object.entries(QUERY_STATS_FIELDS)) w.int64(field, h.queryStats[k as keyof QueryStats]);
  w.ldelim();
  return { typeUrl: SERIES_RESPONSE_HINTS_TYPE, value: w.finish() };
}

/** The response hints of a frame, or undefined for hints of another type. */
export function decodeSeriesResponseHints(a: AnyMessage): SeriesResponseHints | undefined {
  if (a.typeUrl !== SERIES_RESPONSE_HINTS_TYPE) return undefined;
  const byField = new Map<number, keyof QueryStats>(Object.entries(QUERY_STATS_FIELDS).map(([k, f]) => [f, k as keyof QueryStats]));
  const out: SeriesResponseHints = { queriedBlocks: [], queryStats: emptyQueryStats() };
  const r = new ProtoReader(a.value);
  while (!r.done) {
    const t = r.tag();
    if (t === 10) {
      const b = r.sub();
      while (!b.done) {
        const bt = b.tag();
        if (bt === 10) out.queriedBlocks.push(b.string());
        else b.skip(bt & 7);
      }
    } else if (t === 18) {
      const s = r.sub();
      while (!s.done) {
        const st = s.tag();
        const key = (st & 7) === 0 ? byField.get(st >>> 3) : undefined;
        if (key !== undefined) out.queryStats[key] = s.int64();
        else s.skip(st & 7);
      }
    } else r.skip(t & 7);
  }
  return out;
}

/** Bytes of chunk data an AggrChunk carries (raw and every aggregate), as counted in chunks_fetched_size_sum. */
export function aggrChunkBytes(c: AggrChunk): number {
  return bytesOf(c.raw) + bytesOf(c.count) + bytesOf(c.sum) + bytesOf(c.min) + bytesOf(c.max) + bytesOf(c.counter);
}

/** Samples of an AggrChunk: its raw chunk's, else the first aggregate's (aggregated points, as Thanos counts them). */
export function aggrChunkSamples(c: AggrChunk): number {
  const first = c.raw ?? c.count ?? c.sum ?? c.min ?? c.max ?? c.counter;
  return first === undefined ? 0 : chunkSamples(first);
}

function bytesOf(c: StoreChunk | undefined): number {
  return c === undefined ? 0 : chunkDataLength(c);
}
