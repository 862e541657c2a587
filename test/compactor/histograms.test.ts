/**
 * Native histogram blocks written by Prometheus 2.42 through every bucket-side path: two "replicas"
 * (two Prometheus processes fed the same counter histograms by remote write, B 5s later, lower and
 * with A missing 10 minutes) snapshot into blocks; Strata compacts A alone (chunks copied),
 * vertically compacts A and B with the penalty merge, downsamples the result to 5m and that to 1h,
 * and a store gateway serves the downsampled blocks over gRPC. Every step is read back sample for
 * sample and the compacted blocks are checked by `promtool tsdb analyze`. A fresh Prometheus 2.42 serving
 * the compacted block answers as replica A does, and one serving the merged block (histogram chunks
 * Strata re-encoded) answers as a Prometheus fed the merged samples by remote write.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadBlock } from '@strata/block';
import { downsampleBlock, mergeBlocks, RES_1H, RES_5M } from '@strata/compactor';
import { newBucket, parseBucketConfig } from '@strata/objstore';
import { nopLogger } from '@strata/runtime';
import { Aggr, fromStoreEncoding, seriesRequest, StoreClient, type AggrChunk as StoreAggrChunk } from '@strata/storeapi';
import { start as startStore } from '@strata/store';
import { matrixSamples, promtool, startPrometheus, startPrometheusOn, type MatrixSeries, type PrometheusHandle } from '@strata/testing/prometheus';
import { tempDir } from '@strata/testing/process';
import { decodedSamples } from '@strata/testing/samples';
import { remoteWrite, remoteWriteInOrder } from '@strata/testing/remotewrite';
import {
  AggrChunk, AggrType, ChainedChunksIterator, chunkFromBytes, CounterResetHint, Encoding, type Histogram, type ThanosMeta,
} from '@strata/tsdb';
import { penaltyMerged, seriesChunks } from './fixtures.js';

const STEP = 10_000;
const N = 360;
const THANOS: ThanosMeta = { labels: { cluster: 'h' }, downsample: { resolution: 0 }, source: 'compactor' };

/** A counter histogram of schema 0 whose count is c (buckets 1, 2 and, from 40 on, 3). */
function hist(c: number): Histogram {
  const wide = c >= 40;
  const [a, b, d] = wide ? [c - 20, 10, 10] : [c - 10, 10, 0];
  return {
    counterResetHint: CounterResetHint.Unknown, schema: 0, zeroThreshold: 2 ** -128, zeroCount: 0, count: c, sum: c * 1.5,
    positiveSpans: [{ offset: 1, length: wide ? 3 : 2 }], negativeSpans: [], positiveBuckets: wide ? [a, b - a, d - b] : [a, b - a], negativeBuckets: [], customValues: [],
  };
}

async function onlyBlock(dir: string): Promise<string> {
  const names = (await readdir(dir)).filter((n) => !n.includes('.'));
  expect(names).toHaveLength(1);
  return join(dir, names[0]!);
}

let work: { path: string; cleanup: () => Promise<void> };
const proms: PrometheusHandle[] = [];
let blockA: string;
let blockB: string;
/** Every histogram written to either replica, by its time (B's are 5s off A's). */
const written = new Map<number, Histogram>();
const start = Math.floor(Date.now() / 60_000) * 60_000 - N * STEP - 120_000;

beforeAll(async () => {
  work = await tempDir('strata-histograms-');
  const snapshots: string[] = [];
  for (const replica of ['a', 'b']) {
    const prom = await startPrometheus({
      dir: join(work.path, `prom-${replica}`),
      extraArgs: ['--enable-feature=native-histograms', '--web.enable-remote-write-receiver', '--web.enable-admin-api'],
    });
    proms.push(prom);
    const samples: { t: number; h: Histogram }[] = [];
    for (let i = 0; i < N; i++) {
      const t = start + i * STEP + (replica === 'b' ? 5_000 : 0);
      // A misses 10 minutes; B restarted before the data began, so it counts lower.
      if (replica === 'a' && i >= 100 && i < 160) continue;
      samples.push({ t, h: hist(replica === 'a' ? 20 + Math.floor(i / 3) : 10 + Math.floor(i / 4)) });
      written.set(t, samples[samples.length - 1]!.h);
    }
    // A float sample after the histograms closes the last histogram chunk before the snapshot.
    await remoteWrite(prom.url, [{ labels: { __name__: 'req' }, histograms: samples }]);
    await remoteWrite(prom.url, [{ labels: { __name__: 'req' }, samples: [{ t: start + N * STEP + 5_000, v: 1 }] }]);
    const res = await fetch(`${prom.url}/api/v1/admin/tsdb/snapshot`, { method: 'POST' });
    const answer = (await res.json()) as { data: { name: string } };
    snapshots.push(await onlyBlock(join(prom.dataDir, 'snapshots', answer.data.name)));
  }
  [blockA, blockB] = snapshots as [string, string];
}, 120_000);

afterAll(async () => {
  await Promise.all(proms.map((p) => p.stop()));
  await work?.cleanup();
});

describe('native histogram blocks of Prometheus 2.42 through compaction, vertical compaction, downsampling and the store gateway', () => {
  let compacted: string;
  let merged: string;

  it('compaction copies histogram chunks as they are and counts their samples apart', async () => {
    const out = join(work.path, 'compacted');
    const res = await mergeBlocks([blockA], { outDir: out, func: 'penalty', thanos: THANOS });
    compacted = join(out, res.meta!.ulid);
    const [before, after] = [await seriesChunks(blockA), await seriesChunks(compacted)];
    const histChunks = before.get('req')!.filter((c) => c.chunk.encoding === Encoding.Histogram);
    expect(histChunks.length).toBeGreaterThan(1);
    expect(after.get('req')!.map((c) => Buffer.from(c.chunk.bytes).toString('hex'))).toEqual(before.get('req')!.map((c) => Buffer.from(c.chunk.bytes).toString('hex')));
    expect(res.meta!.stats).toMatchObject({ numSamples: N - 60 + 1, numFloatSamples: 1, numHistogramSamples: N - 60 });
    expect(res.samplesOut).toBe(res.samplesIn);
    await promtool(['tsdb', 'analyze', out, res.meta!.ulid]);
  });

  it('vertical compaction merges overlapping histogram chunks with the penalty rule, re-encoded as histogram chunks', async () => {
    const out = join(work.path, 'merged');
    const res = await mergeBlocks([blockA, blockB], { outDir: out, func: 'penalty', thanos: THANOS });
    merged = join(out, res.meta!.ulid);
    const [a, b, m] = [(await seriesChunks(blockA)).get('req')!, (await seriesChunks(blockB)).get('req')!, (await seriesChunks(merged)).get('req')!];
    const want = penaltyMerged(a, b);
    expect(decodedSamples(new ChainedChunksIterator(m))).toEqual(want);
    // B filled A's gap: B's samples (5s off A's) are in the middle.
    expect(want.filter(([t]) => (t! - start) % STEP === 5_000).length).toBeGreaterThan(40);
    expect(new Set(m.map((c) => c.chunk.encoding))).toEqual(new Set([Encoding.Histogram, Encoding.XOR]));
    expect(res.meta!.stats!.numHistogramSamples).toBe(want.length - 1);
    const analysis = await promtool(['tsdb', 'analyze', out, res.meta!.ulid]);
    expect(analysis).toContain('Series: 1');
  });

  /** Samples as Prometheus' JSON shows them: without empty buckets. */
  const shown = (samples: number[][]) => samples.map((x) => (x.length > 2 ? [...x.slice(0, 3), ...x.slice(3).filter((c) => c !== 0)] : x));
  const RANGE = { start: String(start / 1000), end: String((start + N * STEP + 60_000) / 1000), step: '30' };
  const FUNCTIONS = ['req', 'histogram_count(rate(req[1m]))', 'histogram_sum(rate(req[1m]))', 'histogram_quantile(0.9, rate(req[1m]))', 'histogram_quantile(0.5, increase(req[5m]))'];
  const RAW = { query: 'req[2h]', time: String((start + N * STEP + 30_000) / 1000) };
  const NATIVE = ['--enable-feature=native-histograms'];

  it('Prometheus 2.42 serves the compacted block as replica A serves its own data; promtool dumps the same samples', async () => {
    const prom = await startPrometheusOn([compacted], { dir: join(work.path, 'prom-compacted'), extraArgs: NATIVE });
    proms.push(prom);
    const source = proms[0]!;
    const raw = (await prom.api<{ result: MatrixSeries[] }>('query', RAW)).result;
    expect(raw.map(matrixSamples)).toEqual([shown(decodedSamples(new ChainedChunksIterator((await seriesChunks(blockA)).get('req')!)))]);
    expect(raw).toEqual((await source.api<{ result: MatrixSeries[] }>('query', RAW)).result);
    for (const query of FUNCTIONS) expect(await prom.api('query_range', { query, ...RANGE }), query).toEqual(await source.api('query_range', { query, ...RANGE }));
    // promtool opens a directory as a TSDB, which needs a WAL directory (empty is fine). promtool 2.42
    // prints floats only and stops a series at its first histogram (here the first sample): the
    // samples themselves are compared through the HTTP API above; this checks it opens both alike.
    const [ours, theirs] = await Promise.all([compacted, blockA].map(async (b) => {
      await mkdir(join(dirname(b), 'wal'), { recursive: true });
      return promtool(['tsdb', 'dump', dirname(b)]);
    }));
    expect(ours).toBe(theirs);
  });

  it('Prometheus 2.42 serves the vertically merged block: the penalty merge of both replicas, answering as a Prometheus fed those samples', async () => {
    const samples = decodedSamples(new ChainedChunksIterator((await seriesChunks(merged)).get('req')!));
    const prom = await startPrometheusOn([merged], { dir: join(work.path, 'prom-merged'), extraArgs: NATIVE });
    proms.push(prom);
    expect((await prom.api<{ result: MatrixSeries[] }>('query', RAW)).result.map(matrixSamples)).toEqual([shown(samples)]);
    // The reference holds the same samples, as written to the replicas, in its head.
    const reference = await startPrometheus({ dir: join(work.path, 'prom-reference'), extraArgs: [...NATIVE, '--web.enable-remote-write-receiver'] });
    proms.push(reference);
    await remoteWriteInOrder(reference.url, [{ labels: { __name__: 'req' }, points: samples.map(([t, v]) => (written.has(t!) ? { t: t!, h: written.get(t!)! } : { t: t!, v: v! })) }]);
    for (const query of FUNCTIONS) expect(await prom.api('query_range', { query, ...RANGE }), query).toEqual(await reference.api('query_range', { query, ...RANGE }));
  });

  let five: string;
  let hour: string;

  it('downsampling to 5m and 1h: count, sum and counter aggregates of the merged histograms', async () => {
    const r5 = await downsampleBlock(merged, join(work.path, 'down5m'), RES_5M, THANOS);
    five = join(work.path, 'down5m', r5.meta!.ulid);
    const r1 = await downsampleBlock(five, join(work.path, 'down1h'), RES_1H, THANOS);
    hour = join(work.path, 'down1h', r1.meta!.ulid);
    const raw = decodedSamples(new ChainedChunksIterator((await seriesChunks(merged)).get('req')!)).filter((s) => s.length > 2);
    for (const [dir, res] of [[five, RES_5M], [hour, RES_1H]] as const) {
      const chunks = (await seriesChunks(dir)).get('req')!;
      let windows = 0;
      let rawSeen = 0;
      for (const c of chunks) {
        const a = c.chunk as AggrChunk;
        if (!a.isHistogram()) continue;
        expect([a.get(AggrType.Min), a.get(AggrType.Max)]).toEqual([undefined, undefined]);
        const count = decodedSamples(a.get(AggrType.Count)!.iterator());
        const sum = decodedSamples(a.get(AggrType.Sum)!.iterator());
        for (let i = 0; i < count.length; i++) {
          const t = count[i]![0]!;
          const w = raw.filter(([ts]) => ts! <= t && ts! >= t - (t % res));
          expect(count[i]![1]).toBe(w.length);
          expect(sum[i]![1]).toBe(w.reduce((x, s) => x + s[1]!, 0));
          rawSeen += w.length;
          windows++;
        }
      }
      expect(rawSeen).toBe(raw.length);
      expect(windows).toBeGreaterThan(res === RES_5M ? 10 : 0);
    }
  });

  it('the store gateway serves the downsampled histogram aggregates as float histogram and XOR chunks', async () => {
    const bucketDir = join(work.path, 'bucket');
    const bucket = newBucket(parseBucketConfig(`type: FILESYSTEM\nconfig:\n  directory: ${bucketDir}\n`));
    await uploadBlock(bucket, five);
    const store = await startStore({ bucket, dataDir: join(work.path, 'store'), grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: nopLogger });
    const client = new StoreClient(store.grpcAddress);
    try {
      const chunks: StoreAggrChunk[] = [];
      const req = seriesRequest({ minTime: start - 1, maxTime: start + N * STEP + 10_000, maxResolutionWindow: RES_5M, aggregates: [Aggr.COUNT, Aggr.SUM, Aggr.COUNTER], matchers: [{ type: 0, name: '__name__', value: 'req' }] });
      for await (const f of client.series(req)) if ('series' in f) chunks.push(...f.series.chunks);
      const local = (await seriesChunks(five)).get('req')!;
      expect(chunks).toHaveLength(local.length);
      chunks.forEach((c, i) => {
        const a = local[i]!.chunk as AggrChunk;
        for (const [field, type] of [['count', AggrType.Count], ['sum', AggrType.Sum], ['counter', AggrType.Counter]] as const) {
          const sub = a.get(type)!;
          const got = c[field]!;
          expect(fromStoreEncoding(got.type)).toBe(sub.encoding);
          expect(decodedSamples(chunkFromBytes(fromStoreEncoding(got.type), got.data).iterator())).toEqual(decodedSamples(sub.iterator()));
        }
      });
      // HISTOGRAM = 1 never appears here (aggregates are float histograms); FLOAT_HISTOGRAM = 2 does.
      expect(chunks.some((c) => c.sum?.type === 2 && c.counter?.type === 2 && c.count?.type === 0)).toBe(true);
      // Raw histogram chunks of the raw block go out as HISTOGRAM (1).
      await uploadBlock(bucket, merged);
      await store.sync();
      const raw: StoreAggrChunk[] = [];
      const rawReq = seriesRequest({ minTime: start - 1, maxTime: start + N * STEP + 10_000, maxResolutionWindow: 0, aggregates: [Aggr.RAW], matchers: [{ type: 0, name: '__name__', value: 'req' }] });
      for await (const f of client.series(rawReq)) if ('series' in f) raw.push(...f.series.chunks);
      expect(raw.some((c) => c.raw?.type === 1)).toBe(true);
    } finally {
      client.close();
      await store.stop();
    }
  });
});
