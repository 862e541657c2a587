import { readdir } from 'node:fs/promises';
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '@strata/runtime';
import { fromStoreSeries, MatcherType, seriesRequest, type CallContext } from '@strata/storeapi';
import { CounterResetHint, Encoding, FloatHistogram, Labels, ValueType } from '@strata/tsdb';
import { tempDir } from '@strata/testing/process';
import { snappyLiterals, writeRequest, type WrittenSeries } from '@strata/testing/remotewrite';
import { receiveHandler } from './handler.js';
import { ReceiveMetrics } from './metrics.js';
import { MultiTSDB } from './multitsdb.js';
import { localWriter } from './writer.js';
import { parseLimitsConfig, WriteLimiter } from './limits.js';

const T0 = 1_700_000_000_000;
const ctx: CallContext = { signal: new AbortController().signal };
let tmp: { path: string; cleanup: () => Promise<void> };
let tsdbs: MultiTSDB;
let app: FastifyInstance;
let ready: boolean;
let registry: Registry;

beforeEach(async () => {
  tmp = await tempDir('strata-receive-');
  registry = new Registry();
  const logger = createLogger({ write: () => undefined });
  tsdbs = await MultiTSDB.open({ dir: tmp.path, blockDurationMs: 2 * 3_600_000, retentionMs: 0, externalLabels: Labels.from({ replica: 'r1' }), tenantLabelName: 'tenant_id', registry, logger });
  ready = true;
  app = Fastify();
  await app.register(
    receiveHandler({
      tenantHeader: 'THANOS-TENANT',
      defaultTenant: 'default-tenant',
      replicaHeader: 'THANOS-REPLICA',
      maxRequestBytes: 1024,
      ready: () => ready,
      write: localWriter((t, s) => tsdbs.append(t, s), logger),
      metrics: new ReceiveMetrics(registry),
      // Only tenant "limited" has limits.
      limits: new WriteLimiter(parseLimitsConfig('write: {tenants: {limited: {request: {series_limit: 2, samples_limit: 3, size_bytes_limit: 200}}}}'), registry, logger),
      logger,
    }),
  );
});

afterEach(async () => {
  await app.close();
  await tsdbs.close();
  await tmp.cleanup();
});

const post = (body: Uint8Array, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: '/api/v1/receive', payload: Buffer.from(body), headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', ...headers } });
const write = (series: readonly WrittenSeries[], headers: Record<string, string> = {}) => post(snappyLiterals(writeRequest(series)), headers);

/** __name__ → the chunks the StoreAPI serves: their encoding and [t, value or histogram count]. */
async function storedHistograms(): Promise<Record<string, { encoding: Encoding; samples: number[][] }[]>> {
  const out: Record<string, { encoding: Encoding; samples: number[][] }[]> = {};
  for await (const f of tsdbs.store.series(seriesRequest({ minTime: 0, maxTime: Number.MAX_SAFE_INTEGER, matchers: [{ type: MatcherType.RE, name: '__name__', value: '.+' }] }), ctx)) {
    if (!('series' in f)) continue;
    out[Labels.fromSorted([...f.series.labels]).get('__name__')] = fromStoreSeries(f.series).chunks.map((c) => {
      const samples: number[][] = [];
      const it = c.chunk.iterator();
      for (let vt = it.next(); vt !== ValueType.None; vt = it.next()) {
        samples.push([it.atT(), vt === ValueType.Float ? it.atFloat() : vt === ValueType.Histogram ? it.atHistogram!().count : it.atFloatHistogram!().count]);
      }
      return { encoding: c.chunk.encoding, samples };
    });
  }
  return out;
}

/** label string → [t, v] of everything the StoreAPI serves. */
async function stored(): Promise<Record<string, number[][]>> {
  const out: Record<string, number[][]> = {};
  for await (const f of tsdbs.store.series(seriesRequest({ minTime: 0, maxTime: Number.MAX_SAFE_INTEGER, matchers: [{ type: MatcherType.RE, name: '__name__', value: '.+' }] }), ctx)) {
    if (!('series' in f)) continue;
    const samples: number[][] = [];
    for (const c of fromStoreSeries(f.series).chunks) {
      const it = c.chunk.iterator();
      while (it.next() === ValueType.Float) samples.push([it.atT(), it.atFloat()]);
    }
    out[Labels.fromSorted([...f.series.labels]).toString()] = samples;
  }
  return out;
}

describe('receive handler', () => {
  it('stores the samples of every series at their own times, under the default tenant', async () => {
    const res = await write([
      { labels: { __name__: 'a', job: 'x' }, samples: [{ t: T0, v: 1 }, { t: T0 + 1000, v: 2 }] },
      { labels: { __name__: 'b' }, samples: [{ t: T0 + 500, v: 3 }] },
    ]);
    expect([res.statusCode, res.body]).toEqual([200, '']);
    expect(await stored()).toEqual({
      '{__name__="a", job="x", replica="r1", tenant_id="default-tenant"}': [[T0, 1], [T0 + 1000, 2]],
      '{__name__="b", replica="r1", tenant_id="default-tenant"}': [[T0 + 500, 3]],
    });
    expect(await readdir(tmp.path)).toEqual(['default-tenant']);
  });

  it('answers 409 for out-of-order and conflicting samples, storing the rest; a resent sample is no conflict', async () => {
    expect((await write([{ labels: { __name__: 'a' }, samples: [{ t: T0 + 1000, v: 1 }] }])).statusCode).toBe(200);
    expect((await write([{ labels: { __name__: 'a' }, samples: [{ t: T0 + 1000, v: 1 }] }])).statusCode).toBe(200);
    const res = await write([
      { labels: { __name__: 'a' }, samples: [{ t: T0, v: 9 }, { t: T0 + 1000, v: 8 }, { t: T0 + 2000, v: 2 }] },
      { labels: { __name__: 'b' }, samples: [{ t: T0, v: 5 }] },
    ]);
    expect(res.statusCode).toBe(409);
    expect(res.body).toContain('add 1 samples: out of order sample');
    expect(res.body).toContain('add 1 samples: duplicate sample for timestamp');
    expect(Object.values(await stored())).toEqual([[[T0 + 1000, 1], [T0 + 2000, 2]], [[T0, 5]]]);
    const metrics = await registry.metrics();
    expect(metrics).toContain('prometheus_tsdb_head_samples_appended_total{tenant="default-tenant",type="float"} 3');
    expect(metrics).toContain('prometheus_tsdb_head_series{tenant="default-tenant"} 2');
  });

  it('keeps tenants apart by the tenant header', async () => {
    await write([{ labels: { __name__: 'a' }, samples: [{ t: T0, v: 1 }] }], { 'THANOS-TENANT': 'team-b' });
    await write([{ labels: { __name__: 'a' }, samples: [{ t: T0, v: 2 }] }]);
    expect(await stored()).toEqual({
      '{__name__="a", replica="r1", tenant_id="default-tenant"}': [[T0, 2]],
      '{__name__="a", replica="r1", tenant_id="team-b"}': [[T0, 1]],
    });
    const info = await tsdbs.store.info(ctx);
    expect(info.componentType).toBe('receive');
    expect(info.labelSets.map((l) => Labels.fromSorted([...l]).toString()).sort()).toEqual(['{replica="r1", tenant_id="default-tenant"}', '{replica="r1", tenant_id="team-b"}']);
    expect((await write([], { 'THANOS-TENANT': '..' })).statusCode).toBe(400);
  });

  it('answers 400 for a body that is not snappy or not a WriteRequest, 413 over the limit, 503 until ready', async () => {
    expect((await post(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2]))).statusCode).toBe(400);
    const notProto = await post(snappyLiterals(Uint8Array.from([0x0a, 0x7f, 1])));
    expect([notProto.statusCode, notProto.body]).toEqual([400, expect.stringMatching(/unmarshal WriteRequest/)]);
    expect((await post(new Uint8Array(2048))).statusCode).toBe(413);
    ready = false;
    expect((await write([{ labels: { __name__: 'a' }, samples: [{ t: T0, v: 1 }] }])).statusCode).toBe(503);
  });

  it('stores native histograms as sent (integer and float counts), refusing a malformed one with 409 and storing the rest', async () => {
    const h = { schema: 0, zeroThreshold: 0, zeroCount: 0, count: 1, sum: 1, positiveSpans: [{ offset: 0, length: 1 }], positiveBuckets: [1], negativeSpans: [], negativeBuckets: [], counterResetHint: CounterResetHint.Unknown, customValues: [] };
    const res = await write([
      { labels: { __name__: 'h' }, histograms: [{ t: T0, h }, { t: T0 + 1000, h: { ...h, count: 3, sum: 4, positiveBuckets: [3] } }] },
      { labels: { __name__: 'fh' }, float: true, histograms: [{ t: T0, h: new FloatHistogram({ ...h, count: 1.5, positiveBuckets: [1.5] }) }] },
      { labels: { __name__: 'bad' }, histograms: [{ t: T0, h: { ...h, count: 2 } }] },
      { labels: { __name__: 'f' }, samples: [{ t: T0, v: 1 }] },
    ]);
    expect([res.statusCode, res.body]).toEqual([409, expect.stringContaining('add 1 native histograms: invalid histogram: 1 observations found in buckets, but the Count field is 2')]);
    const byName = await storedHistograms();
    expect(byName).toEqual({
      f: [{ encoding: Encoding.XOR, samples: [[T0, 1]] }],
      fh: [{ encoding: Encoding.FloatHistogram, samples: [[T0, 1.5]] }],
      h: [{ encoding: Encoding.Histogram, samples: [[T0, 1], [T0 + 1000, 3]] }],
    });
  });

  it('refuses a request over its tenant’s limits with 413, storing none of it', async () => {
    const limited = { 'THANOS-TENANT': 'limited' };
    const one = (name: string, samples = 1) => ({ labels: { __name__: name }, samples: Array.from({ length: samples }, (_, i) => ({ t: T0 + i, v: i })) });
    expect((await write([one('a'), one('b')], limited)).statusCode).toBe(200);
    expect([(await write([one('a'), one('b'), one('c')], limited)).body]).toEqual(['too many timeseries\n']);
    expect([(await write([one('d', 4)], limited)).statusCode, (await write([one('d', 4)], limited)).body]).toEqual([413, 'too many samples\n']);
    expect([(await write([one('x'.repeat(300))], limited)).body]).toEqual(['write request too large\n']);
    // Other tenants have none.
    expect((await write([one('a'), one('b'), one('c', 5)])).statusCode).toBe(200);
    expect(Object.keys(await stored()).filter((k) => k.includes('"limited"')).sort()).toEqual(['{__name__="a", replica="r1", tenant_id="limited"}', '{__name__="b", replica="r1", tenant_id="limited"}']);
  });
});
