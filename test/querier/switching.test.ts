/**
 * Series that switch between float samples and native histograms and back, which Prometheus 2.42 accepts
 * by remote write (its head cuts a new chunk at each switch). Two replicas hold 3h40m of them (r1 5s
 * later, missing a stretch and its last sample, so the penalty merge keeps r0's samples), enough that
 * Prometheus compacts the oldest 2h of its head into a block on its own. Strata answers as r0 does
 * through the sidecars and querier, through a store gateway over r0's snapshot blocks, over the
 * compactor's compaction of those blocks and over its vertical compaction of both replicas' blocks; the
 * compacted blocks read back sample for sample.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadBlock } from '@strata/block';
import { mergeBlocks } from '@strata/compactor';
import { FilesystemBucket } from '@strata/objstore';
import { start as startQuerier } from '@strata/querier';
import { nopLogger } from '@strata/runtime';
import { start as startStore } from '@strata/store';
import { sleep } from '@strata/testing/process';
import { promtool } from '@strata/testing/prometheus';
import { remoteWriteInOrder, type WrittenPoint } from '@strata/testing/remotewrite';
import { decodedSamples } from '@strata/testing/samples';
import { ChainedChunksIterator, CounterResetHint, Encoding, FloatHistogram, histogramToFloat, isULID, parseMeta, type Histogram } from '@strata/tsdb';
import { penaltyMerged, seriesChunks } from '../compactor/fixtures.js';
import { expectSameAnswer, query } from './answers.js';
import { histogramReplicaStack, startAcrossChunkCut, type ReplicaStack } from './replicas.js';

const STEP = 60_000;
const N = 220;

/** A counter histogram of schema 0 with n + 1 observations in each of three buckets. */
function hist(n: number): Histogram {
  return {
    counterResetHint: CounterResetHint.Unknown, schema: 0, zeroThreshold: 2 ** -128, zeroCount: 0, count: 3 * n + 3, sum: 2.5 * n,
    positiveSpans: [{ offset: 0, length: 3 }], negativeSpans: [], positiveBuckets: [n + 1, 0, 0], negativeBuckets: [], customValues: [],
  };
}

/** A float counter histogram of schema 1 with a gap between its spans. */
function floatHist(n: number): FloatHistogram {
  return new FloatHistogram({ schema: 1, count: 3.5 * n + 1, sum: 0.75 * n, positiveSpans: [{ offset: -1, length: 1 }, { offset: 2, length: 1 }], positiveBuckets: [2.5 * n + 1, n] });
}

/** Which kind sample i of each series is, and the histogram it is if one (floats are counters 10·i). */
const SERIES: { labels: Record<string, string>; float?: boolean; onlyR0?: true; sample: (i: number) => Histogram | FloatHistogram | undefined }[] = [
  // Runs of 50–70 samples of each kind; the histograms after the second float run restart low (a reset).
  { labels: { __name__: 'mixed', s: 'runs' }, sample: (i) => (i < 50 || (i >= 120 && i < 170) ? undefined : hist(i < 170 ? i : i - 165)) },
  // One-sample chunks: every sample of [80, 100) switches kind. In r0 only: one-sample chunks of replicas
  // 5s apart do not overlap, and chunk overlap is all the querier and the compactor tell replicas apart
  // by (as Thanos), so both replicas' samples would be kept where the series alternates.
  { labels: { __name__: 'mixed', s: 'alternating' }, onlyR0: true, sample: (i) => (i < 80 || (i < 100 && i % 2 === 0) ? undefined : hist(i)) },
  { labels: { __name__: 'mixed', s: 'float-histograms' }, float: true, sample: (i) => (i >= 100 && i < 150 ? undefined : floatHist(i)) },
];

let stack: ReplicaStack;
const stops: (() => Promise<void>)[] = [];
let start: number;
let end: number;
/** Each replica's blocks (its own compaction of the head's oldest 2h, and the snapshot of the rest), oldest first. */
const blocks: string[][] = [];
let compacted: string;
let merged: string;
/** Querier URLs over the store gateways serving r0's snapshot blocks, their compaction, and the vertical compaction. */
const stores: Record<'snapshot' | 'compacted' | 'merged', string> = { snapshot: '', compacted: '', merged: '' };

/** Series of a block by their `s` label. */
const bySeries = (dirs: string | readonly string[]) => seriesChunks(dirs, (l) => l.get('s'));

/** The points written to a replica: r1's are 5s later, and it misses [30, 40) and the last one. */
function points(replica: number, s: (typeof SERIES)[number]): WrittenPoint[] {
  const out: WrittenPoint[] = [];
  if (replica === 1 && s.onlyR0 === true) return out;
  for (let i = 0; i < N; i++) {
    if (replica === 1 && ((i >= 30 && i < 40) || i === N - 1)) continue;
    const t = start + i * STEP + replica * 5000;
    const h = s.sample(i);
    out.push(h === undefined ? { t, v: 10 * i } : { t, h });
  }
  return out;
}

/** r0's points as `decodedSamples` gives them back. */
function decodedPoints(s: (typeof SERIES)[number]): number[][] {
  return points(0, s).map((p) => {
    if ('v' in p) return [p.t, p.v];
    const f = p.h instanceof FloatHistogram ? p.h : histogramToFloat(p.h);
    return [p.t, f.count, f.sum, ...f.positiveBuckets];
  });
}

async function blockDirs(dir: string): Promise<string[]> {
  const metas = await Promise.all((await readdir(dir)).filter(isULID).map(async (id) => parseMeta(await readFile(join(dir, id, 'meta.json'), 'utf8'))));
  return metas.sort((a, b) => a.minTime - b.minTime).map((m) => join(dir, m.ulid));
}

/** A querier over a store gateway serving the blocks uploaded with the given external labels; its URL. */
async function served(name: string, dirs: readonly string[], labels: Record<string, string>): Promise<string> {
  const bucket = new FilesystemBucket(join(stack.dir, `bucket-${name}`));
  for (const d of dirs) {
    const meta = parseMeta(await readFile(join(d, 'meta.json'), 'utf8'));
    await uploadBlock(bucket, d, { meta: { ...meta, thanos: { labels, downsample: { resolution: 0 }, source: 'test' } } });
  }
  const store = await startStore({ bucket, dataDir: join(stack.dir, `store-${name}`), grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: nopLogger });
  stops.push(() => store.stop());
  const querier = await startQuerier({ httpAddress: '127.0.0.1:0', endpoints: [store.grpcAddress], replicaLabels: ['replica'], promqlCompat: 2, logger: nopLogger });
  stops.push(() => querier.stop());
  return `http://${querier.httpAddress}`;
}

beforeAll(async () => {
  stack = await histogramReplicaStack();
  // The head cuts every chunk at multiples of 2h: here before samples 60 and 180, inside runs of one kind.
  // A cut right before a switch would leave each replica a one-sample chunk there, 5s apart: chunks that
  // do not overlap are no replicas of each other to the merge (as to Thanos'), and both would be kept.
  start = startAcrossChunkCut(N, STEP, 60);
  end = start + N * STEP;
  await Promise.all(stack.replicas.map((r, replica) => remoteWriteInOrder(r.url, SERIES.map((s) => ({ labels: s.labels, float: s.float, points: points(replica, s) })))));
  for (const r of stack.replicas) {
    // The head spans more than 1.5 block ranges: Prometheus compacts its oldest 2h, started by the last commits.
    for (let i = 0; i < 600 && (await readdir(r.dataDir)).filter(isULID).length === 0; i++) await sleep(100);
    const snap = (await (await fetch(`${r.url}/api/v1/admin/tsdb/snapshot`, { method: 'POST' })).json()) as { data: { name: string } };
    blocks.push(await blockDirs(join(r.dataDir, 'snapshots', snap.data.name)));
  }
  const r0Labels = { cluster: 'c1', replica: 'r0' };
  const compaction = await mergeBlocks(blocks[0]!, { outDir: join(stack.dir, 'compacted'), func: 'penalty', thanos: { labels: r0Labels, downsample: { resolution: 0 }, source: 'compactor' } });
  compacted = join(stack.dir, 'compacted', compaction.meta!.ulid);
  const vertical = await mergeBlocks(blocks.flat(), { outDir: join(stack.dir, 'merged'), func: 'penalty', thanos: { labels: { cluster: 'c1' }, downsample: { resolution: 0 }, source: 'compactor' } });
  merged = join(stack.dir, 'merged', vertical.meta!.ulid);
  stores.snapshot = await served('snapshot', blocks[0]!, r0Labels);
  stores.compacted = await served('compacted', [compacted], r0Labels);
  stores.merged = await served('merged', [merged], { cluster: 'c1' });
}, 120_000);

afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  await stack?.stop();
});

describe('series switching between floats and native histograms in blocks', () => {
  it('Prometheus 2.42 wrote them as chunks of either kind, in a block of its own compaction and the snapshot of its head', async () => {
    for (const [replica, dirs] of blocks.entries()) {
      expect(dirs.length).toBeGreaterThanOrEqual(2);
      const chunks = await bySeries(dirs);
      for (const s of SERIES.filter((x) => replica === 0 || x.onlyR0 !== true)) {
        const kinds = chunks.get(s.labels.s!)!.map((c) => c.chunk.encoding);
        expect(new Set(kinds)).toEqual(new Set([Encoding.XOR, s.float === true ? Encoding.FloatHistogram : Encoding.Histogram]));
      }
    }
    const r0 = await bySeries(blocks[0]!);
    for (const s of SERIES) expect(decodedSamples(new ChainedChunksIterator(r0.get(s.labels.s!)!)), s.labels.s!).toEqual(decodedPoints(s));
  });

  it('compaction of a replica\'s blocks keeps every sample of either kind', async () => {
    const chunks = await bySeries(compacted);
    for (const s of SERIES) expect(decodedSamples(new ChainedChunksIterator(chunks.get(s.labels.s!)!)), s.labels.s!).toEqual(decodedPoints(s));
    await promtool(['tsdb', 'analyze', dirname(compacted), basename(compacted)]);
  });

  it('vertical compaction of both replicas merges across the switches with the penalty rule: r0\'s samples', async () => {
    const [a, b, m] = [await bySeries(blocks[0]!), await bySeries(blocks[1]!), await bySeries(merged)];
    for (const s of SERIES) {
      const k = s.labels.s!;
      const got = decodedSamples(new ChainedChunksIterator(m.get(k)!));
      expect(got, k).toEqual(penaltyMerged(a.get(k)!, b.get(k) ?? []));
      expect(got, k).toEqual(decodedPoints(s));
    }
    await promtool(['tsdb', 'analyze', dirname(merged), basename(merged)]);
  });
});

/**
 * Queries of one series each (X): Prometheus 2.42 lets a histogram read for one series show up in the next
 * series' range of the same selector, once a series has switched kinds (its answers for `mixed[5m]` then
 * hold another series' histograms). Left out are functions that 2.42 computes from a histogram's (unset)
 * float value, as if it were 0: last_over_time, irate, changes, resets, max_over_time, arithmetic.
 */
const RANGE_QUERIES = [
  'X',
  'rate(X[5m])',
  'increase(X[5m])',
  'count_over_time(X[5m])',
  'histogram_count(rate(X[5m]))',
  'histogram_quantile(0.9, rate(X[5m]))',
  'histogram_sum(X)',
  'sum(rate(X[5m]))',
  'timestamp(X)',
];

const INSTANT_QUERIES = ['X', 'X[5m]', 'rate(X[5m])', 'count_over_time(X[5m])'];

/** The queries for each series. */
const perSeries = (queries: readonly string[]): string[] => SERIES.flatMap((s) => queries.map((q) => q.replaceAll('X', `mixed{s="${s.labels.s}"}`)));

describe('series switching between floats and native histograms through the querier', () => {
  const paths = [
    ['the sidecars', () => stack.url],
    ['a store gateway over r0\'s snapshot blocks', () => stores.snapshot],
    ['a store gateway over their compaction', () => stores.compacted],
    ['a store gateway over the vertical compaction of both replicas', () => stores.merged],
  ] as const;
  for (const [what, base] of paths) {
    it(`answers range and instant queries over ${what} as Prometheus 2.42 does`, async () => {
      const r0 = stack.replicas[0]!;
      const params = { start: String(start / 1000), end: String((end + 120_000) / 1000), step: '45' };
      for (const q of perSeries(RANGE_QUERIES)) {
        const [got, want] = await Promise.all([query(base(), 'query_range', { query: q, ...params }), query(r0.url, 'query_range', { query: q, ...params })]);
        expectSameAnswer(got, want, q);
      }
      // Right after switches (at 50 the range read cuts both replicas' first histogram chunks, r0's ending
      // before r1's starts), in windows of both kinds, and at the end.
      for (const i of [50, 81, 85, 100, 120, 150, 172, N]) {
        const at = String((start + i * STEP + 30_000) / 1000);
        for (const q of perSeries(INSTANT_QUERIES)) {
          const [got, want] = await Promise.all([query(base(), 'query', { query: q, time: at }), query(r0.url, 'query', { query: q, time: at })]);
          expectSameAnswer(got, want, `${q} at sample ${i}`);
        }
      }
    });
  }
});
