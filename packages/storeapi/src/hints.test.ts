import { describe, expect, it } from 'vitest';
import {
  decodeSeriesResponseHints,
  emptyQueryStats,
  encodeSeriesResponseHints,
  SERIES_REQUEST_HINTS_TYPE,
  seriesRequestHints,
  wantsQueryStats,
} from './hints.js';
import { ProtoWriter } from './wire/writer.js';

describe('hints', () => {
  it('asks for query stats as Thanos does (SeriesRequestHints.enable_query_stats = 2)', () => {
    const h = seriesRequestHints(true);
    expect(h.typeUrl).toBe(SERIES_REQUEST_HINTS_TYPE);
    expect([...h.value]).toEqual([0x10, 0x01]);
    expect(wantsQueryStats(h)).toBe(true);
    expect(wantsQueryStats(seriesRequestHints(false))).toBe(false);
    expect(wantsQueryStats(undefined)).toBe(false);
    // Block matchers (field 1) are skipped.
    const withMatchers = new ProtoWriter(32).fork(1).string(2, 'job').ldelim().bool(2, true).finish();
    expect(wantsQueryStats({ typeUrl: SERIES_REQUEST_HINTS_TYPE, value: withMatchers })).toBe(true);
  });

  it('round-trips response hints and skips QueryStats fields it does not know', () => {
    const stats = { ...emptyQueryStats(), blocksQueried: 3, chunksFetched: 2 ** 40, objectRequests: 7, dataDownloadedSizeSum: 12345 };
    const encoded = encodeSeriesResponseHints({ queriedBlocks: ['01H0000000000000000000000A', '01H0000000000000000000000B'], queryStats: stats });
    expect(decodeSeriesResponseHints(encoded)).toEqual({ queriedBlocks: ['01H0000000000000000000000A', '01H0000000000000000000000B'], queryStats: stats });
    // A Thanos store also sends get_all_duration (21, a Duration message) and fields Strata does not read.
    const thanos = new ProtoWriter(64).fork(2).int64(1, 5).int64(4, 9).fork(21).int64(1, 2).ldelim().ldelim().finish();
    expect(decodeSeriesResponseHints({ typeUrl: encoded.typeUrl, value: thanos })?.queryStats).toEqual({ ...emptyQueryStats(), blocksQueried: 5 });
    expect(decodeSeriesResponseHints({ typeUrl: 'type.googleapis.com/other', value: new Uint8Array() })).toBeUndefined();
  });
});
