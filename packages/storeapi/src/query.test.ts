// The Query API's codec against protobufjs on the shipped query.proto and prompb.proto (an
// implementation independent of ours), and the transport: Info advertises it, frames and errors arrive.
import { join } from 'node:path';
import { FloatHistogram } from '@strata/tsdb';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { StoreClient } from './client.js';
import { GrpcStatus, StoreError } from './grpc.js';
import { MatcherType } from './messages.js';
import { PROTO_DIR } from './proto.js';
import { decodeQueryFrame, decodeQueryRangeRequest, decodeQueryRequest, encodeQueryFrame, encodeQueryRangeRequest, encodeQueryRequest, EngineType, queryRangeRequest, queryRequest, type QueryFrame } from './query.js';
import { serveStore } from './server.js';

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(PROTO_DIR, target));
await root.load(join(PROTO_DIR, 'thanos/query.proto'), { keepCase: true });
const T = (name: string) => root.lookupType(name);
const asObject = (type: string, buf: Uint8Array) => T(type).toObject(T(type).decode(buf), { longs: Number, enums: Number, defaults: false, oneofs: false });

const histogram = new FloatHistogram({
  counterResetHint: 3,
  schema: -1,
  zeroThreshold: 0.001,
  zeroCount: 0,
  count: 7.5,
  sum: -2.25,
  positiveSpans: [{ offset: -2, length: 2 }],
  positiveBuckets: [1, 2.5],
  negativeSpans: [{ offset: 3, length: 1 }],
  negativeBuckets: [4],
});

describe('Query API codec vs protobufjs', () => {
  it('QueryRequest and QueryRangeRequest, both ways, with every field', () => {
    const options = {
      query: 'sum(rate(x[5m]))',
      timeoutSeconds: 120,
      maxResolutionSeconds: 300,
      replicaLabels: ['replica', 'rule_replica'],
      storeMatchers: [[{ type: MatcherType.RE, name: '__address__', value: 'a.*' }], [{ type: MatcherType.EQ, name: 'cluster', value: 'eu' }]],
      enableDedup: true,
      enablePartialResponse: true,
      shardInfo: { shardIndex: 1, totalShards: 3, by: true, labels: ['job'] },
      lookbackDeltaSeconds: 600,
      engine: EngineType.thanos,
    };
    const instant = queryRequest({ ...options, timeSeconds: 1_700_000_000 });
    const theirs = {
      query: 'sum(rate(x[5m]))',
      time_seconds: 1_700_000_000,
      timeout_seconds: 120,
      max_resolution_seconds: 300,
      replica_labels: ['replica', 'rule_replica'],
      storeMatchers: [{ labelMatchers: [{ type: 2, name: '__address__', value: 'a.*' }] }, { labelMatchers: [{ name: 'cluster', value: 'eu' }] }],
      enableDedup: true,
      enablePartialResponse: true,
      shard_info: { shard_index: 1, total_shards: 3, by: true, labels: ['job'] },
      lookback_delta_seconds: 600,
      engine: 2,
    };
    expect(asObject('thanos.QueryRequest', encodeQueryRequest(instant))).toEqual(theirs);
    // A Thanos querier also sends its logical plan, which is skipped.
    expect(decodeQueryRequest(T('thanos.QueryRequest').encode({ ...theirs, queryPlan: { json: Buffer.from('{}') } }).finish())).toEqual(instant);

    const range = queryRangeRequest({ ...options, startTimeSeconds: 1_700_000_000, endTimeSeconds: 1_700_003_600, intervalSeconds: 30 });
    const { time_seconds: _, ...shared } = theirs;
    const theirRange = { ...shared, start_time_seconds: 1_700_000_000, end_time_seconds: 1_700_003_600, interval_seconds: 30 };
    expect(asObject('thanos.QueryRangeRequest', encodeQueryRangeRequest(range))).toEqual(theirRange);
    expect(decodeQueryRangeRequest(T('thanos.QueryRangeRequest').encode({ ...theirRange, queryPlan: { json: Buffer.from('{}') } }).finish())).toEqual(range);
    expect(decodeQueryRequest(encodeQueryRequest(queryRequest({ query: 'up' })))).toEqual(queryRequest({ query: 'up' }));
  });

  it('QueryResponse frames, both ways: a series with floats and a float histogram, warnings, stats', () => {
    const series: QueryFrame = {
      timeseries: {
        labels: [{ name: '__name__', value: 'x' }, { name: 'job', value: 'a' }],
        samples: [{ value: 1.5, timestamp: 1000 }, { value: 0, timestamp: 2000 }],
        histograms: [{ timestamp: 3000, h: histogram }],
      },
    };
    const ours = encodeQueryFrame(series);
    expect(asObject('thanos.QueryResponse', ours)).toEqual({
      timeseries: {
        labels: [{ name: '__name__', value: 'x' }, { name: 'job', value: 'a' }],
        samples: [{ value: 1.5, timestamp: 1000 }, { timestamp: 2000 }],
        histograms: [
          {
            // Both oneof counts are written, zero or not: a reader finding neither takes an integer histogram.
            count_float: 7.5,
            zero_count_float: 0,
            sum: -2.25,
            schema: -1,
            zero_threshold: 0.001,
            positive_spans: [{ offset: -2, length: 2 }],
            positive_counts: [1, 2.5],
            negative_spans: [{ offset: 3, length: 1 }],
            negative_counts: [4],
            reset_hint: 3,
            timestamp: 3000,
          },
        ],
      },
    });
    expect(decodeQueryFrame(T('thanos.QueryResponse').encode(T('thanos.QueryResponse').decode(ours)).finish())).toEqual(series);
    expect(decodeQueryFrame(encodeQueryFrame({ warnings: 'a, b' }))).toEqual({ warnings: 'a, b' });
    const stats = encodeQueryFrame({ stats: { samplesTotal: 12, peakSamples: 5 } });
    expect(asObject('thanos.QueryRangeResponse', stats)).toEqual({ stats: { samples_total: 12, peak_samples: 5 } });
    expect(decodeQueryFrame(stats)).toEqual({ stats: { samplesTotal: 12, peakSamples: 5 } });
  });

  it('reads an integer histogram as Prometheus writes one: counts from deltas', () => {
    const buf = T('thanos.QueryResponse')
      .encode({ timeseries: { histograms: [{ count_int: 6, zero_count_int: 1, sum: 3, schema: 0, positive_spans: [{ offset: 1, length: 3 }], positive_deltas: [2, -1, 2], timestamp: 5 }] } })
      .finish();
    const frame = decodeQueryFrame(buf);
    expect('timeseries' in frame && frame.timeseries.histograms[0]).toEqual({
      timestamp: 5,
      h: new FloatHistogram({ schema: 0, count: 6, zeroCount: 1, sum: 3, positiveSpans: [{ offset: 1, length: 3 }], positiveBuckets: [2, 1, 3] }),
    });
  });
});

describe('thanos.Query over gRPC', () => {
  it('is served and advertised in Info when given, and its errors keep their status', async () => {
    const unused = () => Promise.reject(new Error('not called'));
    const info = async () => ({ labelSets: [], componentType: 'query' as const });
    const store = { info, series: () => ({ [Symbol.asyncIterator]: () => ({ next: unused }) }), labelNames: unused, labelValues: unused };
    const served = await serveStore(store, {
      address: '127.0.0.1:0',
      queryApi: {
        query: async (req) => {
          if (req.query === 'bad') throw new StoreError(GrpcStatus.INVALID_ARGUMENT, 'parse error');
          return [{ warnings: 'w' }, { timeseries: { labels: [], samples: [{ value: req.timeSeconds, timestamp: req.timeSeconds * 1000 }], histograms: [] } }, { stats: { samplesTotal: 1, peakSamples: 1 } }];
        },
        queryRange: async (req) => [{ timeseries: { labels: [{ name: 'q', value: req.query }], samples: [], histograms: [] } }],
      },
    });
    const without = await serveStore(store, { address: '127.0.0.1:0' });
    const client = new StoreClient(served.address);
    const plain = new StoreClient(without.address);
    try {
      expect((await client.info()).query).toBe(true);
      expect((await plain.info()).query).toBeFalsy();
      expect(await client.query(queryRequest({ query: 'time()', timeSeconds: 42 }))).toEqual({
        series: [{ labels: [], samples: [{ value: 42, timestamp: 42_000 }], histograms: [] }],
        warnings: ['w'],
        stats: { samplesTotal: 1, peakSamples: 1 },
      });
      expect((await client.queryRange(queryRangeRequest({ query: 'up' }))).series).toEqual([{ labels: [{ name: 'q', value: 'up' }], samples: [], histograms: [] }]);
      await expect(client.query(queryRequest({ query: 'bad' }))).rejects.toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, details: 'parse error' });
      await expect(plain.query(queryRequest({ query: 'up' }))).rejects.toMatchObject({ code: GrpcStatus.UNIMPLEMENTED });
    } finally {
      client.close();
      plain.close();
      await served.stop();
      await without.stop();
    }
  });
});
