// Native histograms end to end: two Prometheus 2.42 replicas (native histograms on) receive the same
// integer, float and gauge histogram series by remote write; their sidecars stream the histogram chunks
// Prometheus holds, and a querier deduplicating the replicas answers what Prometheus answers. A block of
// the same data (an admin snapshot of r0) uploaded to a bucket is served by a store gateway, and a
// querier over it answers the same again, as does a querier stacked on the sidecars' querier's StoreAPI.
// The queriers follow 2.x semantics (--query.promql-compat=2), which for histograms differ from 3.x in
// rate's extrapolation and in histogram_quantile's and histogram_fraction's interpolation.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { uploadBlock } from '@strata/block';
import { FilesystemBucket } from '@strata/objstore';
import { queryDataPieces, start as startQuerier, type Querier } from '@strata/querier';
import type { QueryValue } from '@strata/promql';
import { nopLogger } from '@strata/runtime';
import { start as startStore, type Store } from '@strata/store';
import { startPrometheus } from '@strata/testing/prometheus';
import { counterHistogram, floatCounterHistogram, gaugeHistogram } from '@strata/testing/histograms';
import { remoteWrite, type WrittenSeries } from '@strata/testing/remotewrite';
import { MatcherType, queryRangeRequest, queryRequest, ResponseType, StoreClient, type QueryAnswer, type ReadQuery } from '@strata/storeapi';
import { BlockReader, dumpSamples, histogramToFloat, Labels, parseMeta } from '@strata/tsdb';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectSameAnswer, query, type Answer } from './answers.js';
import { remoteRead } from './remotereads.js';
import { histogramReplicaStack, startAcrossChunkCut, type ReplicaStack } from './replicas.js';

const STEP = 15_000;
const N = 200;

let stack: ReplicaStack;
let store: Store;
let storeQuerier: Querier;
/** A querier over the sidecars' querier's StoreAPI: queriers stacked as for a global view. */
let globalQuerier: Querier;
let start: number;
let end: number;
let snapDir: string;

beforeAll(async () => {
  stack = await histogramReplicaStack();
  // All in the replicas' heads, their chunks cut between samples 83 and 84: the instant queries at
  // sample 90 read ranges that cut both chunks, which Prometheus 2.42's remote read fails on in the
  // middle of its stream (see the instant query test).
  start = startAcrossChunkCut(N, STEP, 84);
  const times = Array.from({ length: N }, (_, i) => start + i * STEP);
  end = (times[N - 1] as number) + STEP;
  const series: WrittenSeries[] = [
    { labels: { __name__: 'request_duration_seconds', job: 'api', path: '/a' }, histograms: times.map((t, i) => ({ t, h: counterHistogram(i) })) },
    { labels: { __name__: 'request_duration_seconds', job: 'api', path: '/b' }, histograms: times.map((t, i) => ({ t, h: floatCounterHistogram(i) })), float: true },
    { labels: { __name__: 'queue_depth', job: 'api' }, histograms: times.map((t, i) => ({ t, h: gaugeHistogram(i) })), float: true },
    // Floats, sent before queue_depth by a remote read of both.
    { labels: { __name__: 'queue_capacity', job: 'api' }, samples: times.map((t, i) => ({ t, v: 100 + (i % 3) })) },
  ];
  for (const r of stack.replicas) {
    await remoteWrite(r.url, series);
    // A float after each series' histograms: the series switches type (which queries must handle), and
    // every histogram chunk is complete, which a 2.42 snapshot needs to copy gauge chunks without error.
    await remoteWrite(r.url, series.map((s) => ({ labels: s.labels, samples: [{ t: end, v: 42 }] })));
  }

  const r0 = stack.replicas[0] as ReplicaStack['replicas'][number];
  const snap = (await (await fetch(`${r0.url}/api/v1/admin/tsdb/snapshot`, { method: 'POST' })).json()) as { data: { name: string } };
  snapDir = join(r0.dataDir, 'snapshots', snap.data.name);
  const bucket = new FilesystemBucket(join(stack.dir, 'bucket'));
  for (const ulid of await readdir(snapDir)) {
    const meta = parseMeta(await readFile(join(snapDir, ulid, 'meta.json'), 'utf8'));
    await uploadBlock(bucket, join(snapDir, ulid), { meta: { ...meta, thanos: { labels: { cluster: 'c1', replica: 'r0' }, downsample: { resolution: 0 }, source: 'test' } } });
  }
  store = await startStore({ bucket, dataDir: join(stack.dir, 'store'), grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: nopLogger });
  globalQuerier = await startQuerier({
    httpAddress: '127.0.0.1:0', endpoints: [stack.querier.grpcAddress as string], replicaLabels: ['replica'], promqlCompat: 2, logger: nopLogger,
  });
  storeQuerier = await startQuerier({
    httpAddress: '127.0.0.1:0', grpcAddress: '127.0.0.1:0', endpoints: [store.grpcAddress], replicaLabels: ['replica'], promqlCompat: 2, logger: nopLogger,
  });
}, 120_000);

afterAll(async () => {
  await storeQuerier?.stop();
  await globalQuerier?.stop();
  await store?.stop();
  await stack?.stop();
});

const RANGE_QUERIES = [
  'request_duration_seconds',
  'queue_depth',
  'rate(request_duration_seconds[2m])',
  'increase(request_duration_seconds{path="/a"}[5m])',
  'histogram_count(rate(request_duration_seconds[2m]))',
  'histogram_sum(queue_depth)',
  'sum by (job) (rate(request_duration_seconds[2m]))',
  'histogram_count(queue_depth) / 2',
  'count_over_time(queue_depth[3m])',
  'histogram_quantile(0.9, rate(request_duration_seconds[2m]))',
  'histogram_quantile(0.5, queue_depth)',
  'histogram_fraction(0, 2, rate(request_duration_seconds[2m]))',
];

describe('strata tools tsdb dump of a block with native histograms', () => {
  it('prints each histogram in its String() form, as current promtool does, and the float after it', async () => {
    const [ulid] = await readdir(snapDir);
    const block = await BlockReader.openDir(join(snapDir, ulid as string));
    let out = '';
    await dumpSamples([block], [], -Infinity, Infinity, async (text) => {
      out += text;
    });
    await block.close();
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(4 * (N + 1));
    const series = '{__name__="request_duration_seconds", job="api", path="/a"}';
    expect(lines).toContain(`${series} ${histogramToFloat(counterHistogram(7)).toString()} ${start + 7 * STEP}`);
    expect(lines).toContain(`${series} 42 ${end}`);
    expect(lines).toContain(`{__name__="queue_depth", job="api"} ${gaugeHistogram(3).toString()} ${start + 3 * STEP}`);
  });
});

describe('native histograms through the querier', () => {
  const paths = [
    ['sidecars', () => stack.url],
    ['the store gateway', () => `http://${storeQuerier.httpAddress}`],
    ['a querier stacked on the sidecars\' querier', () => `http://${globalQuerier.httpAddress}`],
  ] as const;
  for (const [what, base] of paths) {
    it(`answers range queries over ${what} as Prometheus 2.42 does`, async () => {
      const r0 = stack.replicas[0] as ReplicaStack['replicas'][number];
      const params = { start: String(start / 1000), end: String((end + 60_000) / 1000), step: '60' };
      for (const q of RANGE_QUERIES) {
        const [got, want] = await Promise.all([query(base(), 'query_range', { query: q, ...params }), query(r0.url, 'query_range', { query: q, ...params })]);
        expectSameAnswer(got, want, q);
      }
    });

    it(`answers instant queries over ${what} as Prometheus 2.42 does, replicas merged`, async () => {
      const r0 = stack.replicas[0] as ReplicaStack['replicas'][number];
      // An instant query's range cuts chunks, which makes Prometheus 2.42's remote read fail on gauge
      // histograms ("detected unexpected counter reset" while re-encoding), at once or, after a chunk or
      // a series it could send, in the middle of its stream; the sidecar reads whole chunks then.
      for (const at of [start + 90 * STEP + 1000, end + 1000]) {
        for (const q of ['request_duration_seconds', 'queue_depth', 'request_duration_seconds{path="/a"}[1m]', 'rate(request_duration_seconds[5m])', 'queue_depth[2m]', '{__name__=~"queue_.+"}[2m]']) {
          const [got, want] = await Promise.all([query(base(), 'query', { query: q, time: String(at / 1000) }), query(r0.url, 'query', { query: q, time: String(at / 1000) })]);
          expectSameAnswer(got, want, `${q} at ${at}`);
        }
      }
    });
  }
});

describe('remote read of native histograms from the querier', () => {
  it("streams them as Prometheus' own remote read streams them, replicas merged", async () => {
    // Prometheus 2.42's remote read has no histograms in its SAMPLES answers (neither as a server nor as a
    // client), so its streamed chunks are what to compare with: over the whole data, which it streams
    // without cutting a chunk.
    const r0 = stack.replicas[0] as ReplicaStack['replicas'][number];
    const q: ReadQuery = { startMs: start - 60_000, endMs: end + 60_000, matchers: [{ type: MatcherType.EQ, name: 'job', value: 'api' }] };
    const ours = await remoteRead(stack.url, q, ResponseType.STREAMED_XOR_CHUNKS);
    const theirs = await remoteRead(r0.url, q, ResponseType.STREAMED_XOR_CHUNKS);
    const withoutReplica = Object.fromEntries(Object.entries(theirs.series).map(([k, v]) => [k.replace(/, replica="r0"/, ''), v]));
    expect(Object.keys(ours.series).sort()).toEqual(Object.keys(withoutReplica).sort());
    // Chunks encoded again (Strata's are of 120 samples, Prometheus' head cut its at 2h) may give a
    // histogram a wider bucket layout, its new buckets empty: the same histogram.
    const populated = (samples: number[][] | undefined) => samples?.map((x) => (x.length > 2 ? [...x.slice(0, 3), ...x.slice(3).filter((b) => b !== 0)] : x));
    for (const [series, samples] of Object.entries(ours.series)) expect(populated(samples), series).toEqual(populated(withoutReplica[series]));
    expect(Object.values(ours.series).some((samples) => samples.some((s) => s.length > 2))).toBe(true);
  });
});

describe('federation of native histograms', () => {
  it('lets a Prometheus 2.42 with native histograms federate them from the querier, as the replicas hold them', async () => {
    // Fresh samples (federation reads the last 5 minutes): an integer and a float counter histogram, the
    // latter's last counts not whole (sent with float counts). Not a gauge histogram: Prometheus 2.42's
    // remote read, which the sidecars read its head with, fails on one in a head chunk still open.
    const now = Math.floor(Date.now() / 1000) * 1000;
    const times = [now - 40_000, now - 25_000, now - 10_000];
    const fresh: WrittenSeries[] = [
      { labels: { __name__: 'fresh_duration_seconds', job: 'api', path: '/a' }, histograms: times.map((t, i) => ({ t, h: counterHistogram(150 + i) })) },
      { labels: { __name__: 'fresh_duration_seconds', job: 'api', path: '/b' }, histograms: times.map((t, i) => ({ t, h: floatCounterHistogram(149 + i) })), float: true },
    ];
    for (const r of stack.replicas) await remoteWrite(r.url, fresh);
    const federation = { job_name: 'federate', honor_labels: true, metrics_path: '/federate', params: { 'match[]': ['{__name__=~"fresh_.+"}'] }, scrape_interval: '1s', static_configs: [{ targets: [stack.querier.httpAddress] }] };
    const federator = await startPrometheus({ dir: join(stack.dir, 'federator'), extraArgs: ['--enable-feature=native-histograms'], scrapeConfigs: [federation] });
    try {
      const at = String((times[2] as number) / 1000);
      const scraped = () => query(federator.url, 'query', { query: '{__name__=~"fresh_.+"}', time: at });
      for (let i = 0; i < 100 && (await scraped()).data.result.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
      const r0 = stack.replicas[0] as ReplicaStack['replicas'][number];
      // Federated samples keep their timestamps: at the latest, what the replicas hold then, once.
      for (const q of ['fresh_duration_seconds', 'histogram_count(fresh_duration_seconds)', 'histogram_quantile(0.5, fresh_duration_seconds)']) {
        expectSameAnswer(await query(federator.url, 'query', { query: q, time: at }), await query(r0.url, 'query', { query: q, time: at }), q, ['cluster']);
      }
    } finally {
      await federator.stop();
    }
  });
});

/** A Query API answer as the HTTP API would write it: a range query's as a matrix, an instant query's as a vector. */
function asHttpAnswer(a: QueryAnswer, kind: 'matrix' | 'vector'): Answer {
  const value: QueryValue =
    kind === 'matrix'
      ? { type: 'matrix', series: a.series.map((s) => ({ labels: Labels.from(s.labels), floats: s.samples.map((p) => ({ t: p.timestamp, f: p.value })), histograms: s.histograms.map((p) => ({ t: p.timestamp, h: p.h })) })) }
      : {
          type: 'vector',
          samples: a.series.map((s) => {
            const h = s.histograms[0];
            return h !== undefined ? { labels: Labels.from(s.labels), t: h.timestamp, f: 0, h: h.h } : { labels: Labels.from(s.labels), t: s.samples[0]?.timestamp ?? 0, f: s.samples[0]?.value ?? 0 };
          }),
        };
  return JSON.parse(`{"status":"success","data":${[...queryDataPieces(value)].join('')}}`) as Answer;
}

describe("Thanos' Query API (gRPC) of the sidecars' querier", () => {
  it('answers range and instant queries as Prometheus 2.42 does over HTTP, histograms and replicas merged', async () => {
    const r0 = stack.replicas[0] as ReplicaStack['replicas'][number];
    const client = new StoreClient(stack.querier.grpcAddress as string);
    try {
      // The Query API takes whole seconds.
      const from = Math.ceil(start / 1000);
      const to = Math.floor((end + 60_000) / 1000);
      for (const q of RANGE_QUERIES) {
        const got = await client.queryRange(queryRangeRequest({ query: q, startTimeSeconds: from, endTimeSeconds: to, intervalSeconds: 60, enableDedup: true }));
        // The evaluation's warnings and infos, as Strata's HTTP API lists them, joined as Thanos joins them.
        const http = (await query(stack.url, 'query_range', { query: q, start: String(from), end: String(to), step: '60' })) as Answer & { warnings?: string[]; infos?: string[] };
        const notes = [...(http.warnings ?? []), ...(http.infos ?? [])];
        expect(got.warnings, q).toEqual(notes.length > 0 ? [notes.join(', ')] : []);
        expect(got.stats?.samplesTotal, q).toBeGreaterThan(0);
        expectSameAnswer(asHttpAnswer(got, 'matrix'), await query(r0.url, 'query_range', { query: q, start: String(from), end: String(to), step: '60' }), q);
      }
      const at = Math.floor(end / 1000) + 1;
      for (const q of ['request_duration_seconds', 'queue_depth', 'rate(request_duration_seconds[5m])', 'histogram_quantile(0.9, rate(request_duration_seconds[5m]))', 'queue_capacity * 2']) {
        const got = await client.query(queryRequest({ query: q, timeSeconds: at, enableDedup: true }));
        expectSameAnswer(asHttpAnswer(got, 'vector'), await query(r0.url, 'query', { query: q, time: String(at) }), q);
      }
      // Without dedup, each replica's series, told apart by their replica label.
      const both = await client.query(queryRequest({ query: 'queue_capacity', timeSeconds: at }));
      expect(both.series.map((s) => s.labels.find((l) => l.name === 'replica')?.value).sort()).toEqual(['r0', 'r1']);
    } finally {
      client.close();
    }
  });
});
