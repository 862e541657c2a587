import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadBlock } from '@strata/block';
import { start as startCompactor } from '@strata/compactor';
import { newBucket, parseBucketConfig, type Bucket } from '@strata/objstore';
import { start as startFrontend } from '@strata/frontend';
import { start as startQuerier, type Querier } from '@strata/querier';
import { nopLogger } from '@strata/runtime';
import { Aggr, seriesRequest, StoreClient, type AggrChunk } from '@strata/storeapi';
import { start as startStore, type Store } from '@strata/store';
import { tempDir } from '@strata/testing/process';
import { ArraySampleIterator, BlockWriter, Encoding, Labels, XORChunk, ValueType } from '@strata/tsdb';
import { startS3rver, type S3Server } from '@strata/testing/s3';
import { COMMON_SERIES, compactorConfig, END, FIVE_MIN, HOUR, layout, liveBlocks, ofStream, replicaBlocks, T0, uploadAll } from '../compactor/fixtures.js';

/**
 * Downsampled data end to end: promtool's 2h blocks (six series every 30s over three days, 7s off
 * the 5m grid as real scrapes are) in s3rver; `strata compact` compacts them and downsamples the 2d
 * block to 5m; a store gateway serves the bucket to a querier, which answers the same range queries
 * from raw data (`max_source_resolution=0`) and from the 5m aggregates (`max_source_resolution=5m`).
 *
 * Bounds downsampling implies, on ranges and steps that are multiples of 5m on the 5m grid (each
 * selector range then holds whole aggregation windows, since no raw sample sits on the grid):
 * - `sum_over_time`, `min_over_time`, `max_over_time`: exact (sums of integer counters bit for bit;
 *   sums of gauges up to the order of float additions, relative 1e-12).
 * - `count_over_time`: reads the count aggregate as Thanos' querier does, so it counts the 5m points,
 *   i.e. the windows holding samples: exactly raw count / 10 here (10 samples per window). The
 *   exact raw count is what the count aggregate's values add up to (read from the store gateway
 *   directly, last test).
 * - `avg_over_time`: reads sum/count per window; exact up to float rounding (relative 1e-12) since every
 *   window holds the same number of samples.
 * - `rate` over ≥ 1h of smooth counters, one with a reset: within 1%.
 */
const CLUSTER = { cluster: 'd1' };
const OFFSET_MS = 7_000;
// Inside the 5m block [T0, T0+48h), away from its edges; the counter reset is at T0+30h.
const Q_START = T0 + 4 * HOUR;
const Q_END = T0 + 44 * HOUR;
const STEP_MS = 900_000;

interface Matrix {
  metric: Record<string, string>;
  values: [number, string][];
}

/** A range query's matrix, series sorted by labels; errors (partial responses included) fail. */
async function rangeQuery(url: string, query: string, resolution: string, start: number, end: number, stepMs: number): Promise<Matrix[]> {
  const params = new URLSearchParams({ query, start: String(start / 1000), end: String(end / 1000), step: String(stepMs / 1000), max_source_resolution: resolution, partial_response: 'false' });
  const res = await fetch(`${url}/api/v1/query_range?${params}`);
  const body = (await res.json()) as { status: string; error?: string; data: { resultType: string; result: Matrix[] } };
  if (body.status !== 'success') throw new Error(`${query} (max_source_resolution=${resolution}): ${body.error}`);
  expect(body.data.resultType).toBe('matrix');
  return body.data.result.sort((a, b) => JSON.stringify(a.metric).localeCompare(JSON.stringify(b.metric)));
}

/** Raw and downsampled answers of one query, point by point: [labels, t, raw, downsampled]. */
async function pairs(url: string, query: string, resolution: string, start: number, end: number, stepMs: number): Promise<[string, number, number, number][]> {
  const [raw, down] = await Promise.all([rangeQuery(url, query, '0', start, end, stepMs), rangeQuery(url, query, resolution, start, end, stepMs)]);
  expect(raw.length, query).toBeGreaterThan(0);
  expect(down.map((s) => s.metric)).toEqual(raw.map((s) => s.metric));
  const out: [string, number, number, number][] = [];
  raw.forEach((r, i) => {
    const d = down[i]!;
    expect(d.values.map(([t]) => t)).toEqual(r.values.map(([t]) => t));
    r.values.forEach(([t, v], j) => out.push([JSON.stringify(r.metric), t, Number(v), Number(d.values[j]![1])]));
  });
  // Every step of the range has an answer: the comparison covers the whole range.
  expect(out.length).toBe(raw.length * ((end - start) / stepMs + 1));
  return out;
}

/** One pass of `strata compact` (compaction, downsampling, no retention) over the bucket. */
async function compactOnce(bucket: Bucket, dataDir: string): Promise<void> {
  const compactor = await startCompactor(compactorConfig(bucket, dataDir, { replicaLabels: [], dedupFunc: 'chain', logger: nopLogger }));
  await compactor.done;
  await compactor.stop();
}

/** A store gateway over the bucket and a querier over it (2.x PromQL, to compare with 2.42's rules). */
async function serveBucket(bucket: Bucket, dir: string): Promise<{ store: Store; querier: Querier; url: string }> {
  const store = await startStore({ bucket, dataDir: join(dir, 'store'), grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: nopLogger });
  const querier = await startQuerier({ httpAddress: '127.0.0.1:0', endpoints: [store.grpcAddress], promqlCompat: 2, endpointRefreshMs: 200, logger: nopLogger });
  return { store, querier, url: `http://${querier.httpAddress}` };
}

async function stopAll(parts: { querier?: Querier; store?: Store; bucket?: Bucket; s3?: S3Server; work?: { cleanup: () => Promise<void> } }): Promise<void> {
  await parts.querier?.stop();
  await parts.store?.stop();
  await parts.bucket?.close();
  await parts.s3?.stop();
  if (process.env.KEEP_TEST_DIR === undefined) await parts.work?.cleanup();
}

describe('downsampled data through compactor, store gateway and querier', () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let s3: S3Server;
  let bucket: Bucket;
  let store: Store;
  let querier: Querier;
  let url: string;
  const before = new Map<string, unknown>();
  const pairs5m = (query: string, start = Q_START, end = Q_END) => pairs(url, query, '5m', start, end, STEP_MS);

  /** Queries that must answer identically from the 2h blocks and from the compacted raw blocks. */
  const RAW_QUERIES = [
    'demo_gauge_a',
    'rate(demo_resetting_total[5m])',
    'sum(demo_gauge_b)',
    'max_over_time(demo_gauge_c[30m])',
    'increase(demo_requests_total[1h])',
  ];

  beforeAll(async () => {
    work = await tempDir('strata-downsampling-');
    s3 = await startS3rver();
    bucket = newBucket(parseBucketConfig(s3.configYaml()));
    const { blocksDir } = await replicaBlocks(join(work.path, 'src'), { offsetMs: OFFSET_MS }, T0, END);
    await uploadAll(bucket, blocksDir, CLUSTER);
    ({ store, querier, url } = await serveBucket(bucket, work.path));
    for (const q of RAW_QUERIES) before.set(q, await rangeQuery(url, q, '0', T0, END - 1, 600_000));

    await compactOnce(bucket, join(work.path, 'compactor'));
    await store.sync();
  }, 300_000);

  afterAll(() => stopAll({ querier, store, bucket, s3, work }));

  it('the compactor made a 5m block of the 2d window, and the store gateway loaded it', async () => {
    const live = await liveBlocks(bucket);
    expect(layout(ofStream(live, 'd1', FIVE_MIN))).toEqual(['[0h,48h) L3']);
    const loaded = store.bucketStore.blocks();
    expect(loaded.map((b) => b.id).sort()).toEqual(live.map((m) => m.ulid).sort());
    expect(loaded.filter((b) => b.resolution === FIVE_MIN)).toHaveLength(1);
  });

  it('answers raw queries identically before and after compaction', async () => {
    for (const q of RAW_QUERIES) {
      const after = await rangeQuery(url, q, '0', T0, END - 1, 600_000);
      expect(after.length, q).toBeGreaterThan(0);
      expect(after, q).toEqual(before.get(q));
    }
  });

  it('sum/min/max_over_time from 5m aggregates equal the raw answers on window-aligned ranges', async () => {
    for (const q of ['sum_over_time(demo_requests_total[1h])', 'sum_over_time(demo_resetting_total[30m])']) {
      for (const [series, t, raw, down] of await pairs5m(q)) expect(down, `${q} ${series} @${t}`).toBe(raw);
    }
    for (const q of ['sum_over_time(demo_gauge_a[1h])', 'sum_over_time(demo_gauge_b[15m])']) {
      for (const [series, t, raw, down] of await pairs5m(q)) expect(Math.abs(down - raw), `${q} ${series} @${t}`).toBeLessThanOrEqual(Math.abs(raw) * 1e-12);
    }
    const minMax = COMMON_SERIES.flatMap((name) => [`min_over_time(${name}[1h])`, `max_over_time(${name}[20m])`]);
    for (const q of [...minMax, 'max_over_time(demo_gauge_c[5m])', 'min_over_time(demo_resetting_total[5m])']) {
      for (const [series, t, raw, down] of await pairs5m(q)) expect(down, `${q} ${series} @${t}`).toBe(raw);
    }
  });

  it('avg_over_time from the 5m sum/count averages equals the raw average (equal counts per window)', async () => {
    // Other functions read sum/count per window; with 10 samples in every window their mean is the raw mean.
    for (const q of ['avg_over_time(demo_gauge_a[1h])', 'avg_over_time(demo_errors_total[30m])']) {
      for (const [series, t, raw, down] of await pairs5m(q)) expect(Math.abs(down - raw), `${q} ${series} @${t}`).toBeLessThanOrEqual(Math.abs(raw) * 1e-12);
    }
  });

  it('where the 5m block ends, raw blocks fill in: sums across the boundary stay exact', async () => {
    // [40h, 56h]: 5m aggregates up to 48h, raw samples after, and ranges holding both.
    const got = await pairs5m('sum_over_time(demo_requests_total[2h])', T0 + 40 * HOUR, T0 + 56 * HOUR);
    for (const [series, t, raw, down] of got) expect(down, `${series} @${t}`).toBe(raw);
    const counts = await pairs5m('count_over_time(demo_requests_total[1h])', T0 + 40 * HOUR, T0 + 56 * HOUR);
    // 12 points an hour from the 5m block, 120 raw samples an hour past it.
    expect(counts.filter(([, t]) => t * 1000 <= T0 + 48 * HOUR).every(([, , , down]) => down === 12)).toBe(true);
    expect(counts.filter(([, t]) => t * 1000 >= T0 + 49 * HOUR).every(([, , , down]) => down === 120)).toBe(true);
  });

  it('count_over_time from 5m aggregates counts the windows: raw count / samples per window', async () => {
    // 30s samples: 10 per 5m window, 120 per hour.
    for (const name of COMMON_SERIES) {
      for (const [series, t, raw, down] of await pairs5m(`count_over_time(${name}[1h])`)) {
        expect(raw, `${name} ${series} @${t}`).toBe(120);
        expect(down, `${name} ${series} @${t}`).toBe(12);
      }
    }
  });

  it('rate from the 5m counter aggregate is within 1% of raw rate over 1h and 2h, across a counter reset', async () => {
    const reset = T0 + 30 * HOUR;
    let acrossReset = 0;
    for (const q of ['rate(demo_requests_total[1h])', 'rate(demo_errors_total[2h])', 'rate(demo_resetting_total[1h])', 'increase(demo_resetting_total[2h])']) {
      const got = await pairs5m(q);
      // Extrapolating from 5m points differs a little from raw: proof the counter aggregate was read.
      expect(got.some(([, , raw, down]) => raw !== down), q).toBe(true);
      for (const [series, t, raw, down] of got) {
        expect(raw).toBeGreaterThan(0);
        expect(Math.abs(down - raw) / raw, `${q} ${series} @${t}: raw ${raw}, 5m ${down}`).toBeLessThanOrEqual(0.01);
        if (q.includes('resetting') && t * 1000 > reset && t * 1000 - HOUR < reset) acrossReset++;
      }
    }
    expect(acrossReset).toBeGreaterThan(4);
  });

  it("the query frontend fills what raw retention took from 5m data, as Thanos' --query-range.request-downsampled", async () => {
    // A store gateway without the raw blocks, as a raw retention shorter than 5m's leaves the bucket.
    const raw = (await liveBlocks(bucket)).filter((m) => m.thanos?.downsample.resolution === 0 && m.minTime < Q_END).map((m) => m.ulid);
    expect(raw.length).toBeGreaterThan(0);
    const retained = await startStore({ bucket, dataDir: join(work.path, 'store-retained'), grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', relabelConfig: `- action: drop\n  source_labels: [__block_id]\n  regex: ${raw.join('|')}\n`, logger: nopLogger });
    const q = await startQuerier({ httpAddress: '127.0.0.1:0', endpoints: [retained.grpcAddress], promqlCompat: 2, endpointRefreshMs: 200, logger: nopLogger });
    const frontend = await startFrontend({ httpAddress: '127.0.0.1:0', downstreamUrl: `http://${q.httpAddress}`, logger: nopLogger });
    try {
      const direct = `http://${q.httpAddress}`;
      for (let i = 0; i < 100 && (await rangeQuery(direct, 'demo_gauge_a', '5m', Q_START, Q_END, 300_000)).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      for (const query of ['demo_gauge_a', 'sum(demo_gauge_b)', 'max_over_time(demo_gauge_c[30m])']) {
        // At a 5m step, auto is 1m: raw data only, which is gone.
        expect(await rangeQuery(direct, query, 'auto', Q_START, Q_END, 300_000), query).toEqual([]);
        const want = await rangeQuery(direct, query, '5m', Q_START, Q_END, 300_000);
        expect(want.length, query).toBeGreaterThan(0);
        expect(await rangeQuery(`http://${frontend.httpAddress}`, query, 'auto', Q_START, Q_END, 300_000), query).toEqual(want);
      }
    } finally {
      await frontend.stop();
      await q.stop();
      await retained.stop();
    }
  });

  it('the store gateway sends only the requested aggregates; the count aggregate adds up to the raw sample count', async () => {
    const client = new StoreClient(store.grpcAddress);
    try {
      const chunks = async (aggregates: Aggr[], maxResolutionWindow: number): Promise<AggrChunk[]> => {
        const out: AggrChunk[] = [];
        const req = seriesRequest({ minTime: T0, maxTime: T0 + 48 * HOUR - 1, maxResolutionWindow, aggregates, matchers: [{ type: 0, name: '__name__', value: 'demo_gauge_a' }] });
        for await (const f of client.series(req)) if ('series' in f) out.push(...f.series.chunks);
        return out;
      };
      const counts = await chunks([Aggr.COUNT], FIVE_MIN);
      expect(counts.length).toBeGreaterThan(0);
      let total = 0;
      for (const c of counts) {
        expect(Object.keys(c).sort()).toEqual(['count', 'maxTime', 'minTime']);
        const it = XORChunk.fromBytes(c.count!.data).iterator();
        while (it.next() === ValueType.Float) total += it.atFloat();
      }
      // 48h of 30s samples, as the raw blocks hold.
      expect(total).toBe(48 * 120);
      for (const c of await chunks([Aggr.MIN, Aggr.COUNTER], FIVE_MIN)) expect(Object.keys(c).sort()).toEqual(['counter', 'maxTime', 'min', 'minTime']);
      // Raw only: the same range as raw XOR chunks.
      for (const c of await chunks([Aggr.COUNT], 0)) expect(c.raw?.type).toBe(Encoding.XOR - 1);
      // Info advertises the whole history, whichever resolutions hold it: first sample to last + 1.
      const { store: info } = await client.info();
      expect([info?.minTime, info?.maxTime]).toEqual([T0 + OFFSET_MS, END - 30_000 + OFFSET_MS + 1]);
      expect(info?.tsdbInfos[0]).toMatchObject({ labels: [{ name: 'cluster', value: 'd1' }], minTime: T0 + OFFSET_MS });
    } finally {
      client.close();
    }
  });
});

/**
 * The 1h level: a raw block of 11 days (Strata's BlockWriter; promtool 2.42 cuts only 2h blocks) at
 * 60s, 7s off the grid. One compactor pass downsamples it to 5m (≥ 40h) and that 5m block to 1h
 * (≥ 10d). Bounds at `max_source_resolution=1h`, on ranges and steps that are multiples of 1h on the
 * 1h grid: `sum_over_time` exact for integer counters and to 6 decimals for gauges (float addition
 * order), `min/max_over_time` exact. 5m → 1h re-aggregates along the 5m chunks' boundaries (as Thanos
 * does, so counters keep their true first and last raw values), which splits the hour holding such a
 * boundary into two points: `count_over_time` is one point per hour, plus one where a range holds a
 * chunk boundary; `rate` over 6h is within 1% where the range holds no boundary; where it does, the
 * extra points shorten the average interval, so Prometheus' extrapolation stops short at the range
 * start: within 15% (measured 10.7%) there.
 */
describe('1h downsampled data through compactor, store gateway and querier', () => {
  const DAY = 24 * HOUR;
  const STEP_S = 60_000;
  // 11 days inside one 14d-aligned window, old enough for any delay.
  const W = Math.floor((Date.now() - 30 * DAY) / (14 * DAY)) * 14 * DAY;
  const RESET = W + 5 * DAY + 7 * HOUR;
  let work: { path: string; cleanup: () => Promise<void> };
  let s3: S3Server;
  let bucket: Bucket;
  let store: Store;
  let querier: Querier;
  let url: string;
  const pairs1h = (query: string, stepMs = 3 * HOUR) => pairs(url, query, '1h', W + DAY, W + 10 * DAY, stepMs);

  const SERIES: Record<string, (i: number, t: number) => number> = {
    h_gauge: (i) => Math.round(Math.sin(i / 90) * 100_000) / 1000,
    h_requests_total: (i) => Math.floor(i * 3 + Math.floor(i / 7)),
    h_resetting_total: (i, t) => (t < RESET ? i * 2 : Math.floor((t - RESET) / STEP_S) * 2),
  };

  beforeAll(async () => {
    work = await tempDir('strata-downsampling-1h-');
    s3 = await startS3rver();
    bucket = newBucket(parseBucketConfig(s3.configYaml()));
    const w = await BlockWriter.create(work.path, { chunkRange: 2 * HOUR, thanos: { labels: { cluster: 'h1' }, downsample: { resolution: 0 }, source: 'test' } });
    const n = (11 * DAY) / STEP_S;
    const ts = Array.from({ length: n }, (_, i) => W + OFFSET_MS + i * STEP_S);
    for (const name of Object.keys(SERIES).sort()) {
      const f = SERIES[name]!;
      await w.addSeries(Labels.from({ __name__: name, job: 'demo' }), new ArraySampleIterator(ts, ts.map((t, i) => f(i, t))));
    }
    const meta = await w.close();
    await uploadBlock(bucket, join(work.path, meta.ulid));
    await compactOnce(bucket, join(work.path, 'compactor'));
    ({ store, querier, url } = await serveBucket(bucket, work.path));
  }, 300_000);

  afterAll(() => stopAll({ querier, store, bucket, s3, work }));

  it('the store gateway serves the raw, 5m and 1h blocks', () => {
    expect(store.bucketStore.blocks().map((b) => b.resolution).sort((a, b) => a - b)).toEqual([0, FIVE_MIN, HOUR]);
  });

  it('sum/min/max_over_time from 1h aggregates equal the raw answers on hour-aligned ranges', async () => {
    for (const q of ['sum_over_time(h_requests_total[3h])', 'sum_over_time(h_resetting_total[1h])', 'min_over_time(h_gauge[2h])', 'max_over_time(h_gauge[5h])', 'max_over_time(h_resetting_total[3h])']) {
      for (const [series, t, raw, down] of await pairs1h(q)) expect(down, `${q} ${series} @${t}`).toBe(raw);
    }
    for (const [series, t, raw, down] of await pairs1h('sum_over_time(h_gauge[3h])')) expect(down, `${series} @${t}`).toBeCloseTo(raw, 6);
  });

  it('count_over_time from 1h aggregates counts hours, plus one at a chunk boundary', async () => {
    const got = await pairs1h('count_over_time(h_gauge[3h])');
    for (const [series, t, raw, down] of got) {
      expect(raw, `${series} @${t}`).toBe(180);
      expect([3, 4], `${series} @${t}`).toContain(down);
    }
    expect(got.filter(([, , , down]) => down === 3).length).toBeGreaterThan(got.length * 0.9);
  });

  it('plain selectors over 1h points see the last point within the hour (Thanos’ dynamic lookback delta)', async () => {
    // Steps of 15m between hourly points: a 5m lookback would leave three of four steps empty.
    const [gauge] = await rangeQuery(url, 'h_gauge', '1h', W + DAY, W + 2 * DAY, 15 * 60_000);
    expect(gauge!.values).toHaveLength(24 * 4 + 1);
    // Without max_source_resolution the lookback stays 5m, and raw 60s samples fill every step.
    const [raw] = await rangeQuery(url, 'h_gauge', '0', W + DAY, W + 2 * DAY, 15 * 60_000);
    expect(raw!.values).toHaveLength(24 * 4 + 1);
  });

  it('rate from the 1h counter aggregate is within 1% of raw rate over 6h, across a counter reset, away from chunk boundaries', async () => {
    // Ranges holding a 1h chunk boundary: those with more than one point per hour.
    const boundary = new Set((await pairs1h('count_over_time(h_requests_total[6h])', HOUR)).filter(([, , , n]) => n > 6).map(([, t]) => t));
    let acrossReset = 0;
    for (const q of ['rate(h_requests_total[6h])', 'rate(h_resetting_total[6h])']) {
      const got = await pairs1h(q, HOUR);
      expect(got.some(([, , raw, down]) => raw !== down), q).toBe(true);
      for (const [series, t, raw, down] of got) {
        expect(Math.abs(down - raw) / raw, `${q} ${series} @${t}: raw ${raw}, 1h ${down}`).toBeLessThanOrEqual(boundary.has(t) ? 0.15 : 0.01);
        if (q.includes('resetting') && t * 1000 > RESET && t * 1000 - 6 * HOUR < RESET) acrossReset++;
      }
    }
    expect(acrossReset).toBeGreaterThan(4);
  });
});
