import { ChunkSeriesSamples, cutFloatHistogramChunks, FloatHistogram, Labels, STALE_NAN, XORChunk, type ChunkMeta, type Matcher } from '@strata/tsdb';
import { matchLabels } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import type { Queryable, SelectHints, SeriesSet } from '../storage.js';
import { MemoryStorage } from '../storage/memory.js';
import type { QueryResult } from '../value.js';
import { Engine } from './engine.js';

/**
 * The engine reads chunked series (a block's or a store's) through paths of its own: whole chunks
 * decoded in one loop, instant selectors that skip chunks. They must answer as the same samples in a
 * MemoryStorage do.
 */

type Sample = [number, number];

/** Samples every 10 s with gaps, a counter reset and stale markers; chunks of `perChunk` samples. */
function samples(k: number): Sample[] {
  const out: Sample[] = [];
  for (let i = 0; i < 200; i++) {
    if (i % 37 > 33) continue;
    const v = i === 120 + k ? STALE_NAN : ((i + k * 13) % 90) * (k + 1);
    out.push([i * 10_000 + k * 1000, v]);
  }
  return out;
}

function chunked(labels: Labels, s: readonly Sample[], perChunk: number): ChunkSeriesSamples {
  const chunks: ChunkMeta[] = [];
  for (let start = 0; start < s.length; start += perChunk) {
    const c = new XORChunk();
    const app = c.appender();
    const part = s.slice(start, start + perChunk);
    for (const [t, v] of part) app.append(t, v);
    chunks.push({ minTime: (part[0] as Sample)[0], maxTime: (part.at(-1) as Sample)[0], chunk: c });
  }
  return new ChunkSeriesSamples(labels, chunks);
}

function chunkedStorage(series: readonly { labels: Labels; samples: Sample[] }[], perChunk: number): Queryable {
  return {
    querier: () => ({
      select: async (_h: SelectHints, matchers: readonly Matcher[]): Promise<SeriesSet> => ({
        series: series.filter((s) => matchLabels(matchers, s.labels)).map((s) => chunked(s.labels, s.samples, perChunk)),
      }),
      close: () => undefined,
    }),
  };
}

/** A result without the time it took, which differs from run to run. */
function withoutTimings(r: QueryResult): QueryResult {
  return { ...r, stats: { ...r.stats, preparationMs: 0 } };
}

describe('chunked series', () => {
  const series = [0, 1, 2].map((k) => ({ labels: Labels.from({ __name__: 'x', k: String(k) }), samples: samples(k) }));
  const mem = new MemoryStorage();
  for (const s of series) for (const [t, v] of s.samples) mem.append(s.labels, t, v);
  const queries = ['x', 'x offset 35s', 'x @ 1000', 'timestamp(x)', 'rate(x[1m])', 'last_over_time(x[45s])', 'count_over_time(x[2m] offset 10s)', 'x[3m]'];

  for (const compat of [2, 3] as const) {
    it(`answer as in memory (${compat}.x)`, async () => {
      const engine = new Engine({ compat, lookbackDelta: 60_000 });
      for (const perChunk of [1, 7, 30, 500]) {
        const blocks = chunkedStorage(series, perChunk);
        for (const q of queries) {
          for (const t of [0, 5_000, 333_000, 1_205_000, 1_500_000, 1_990_000, 2_100_000]) {
            const want = withoutTimings(await engine.instantQuery(mem, q, t));
            expect(withoutTimings(await engine.instantQuery(blocks, q, t)), `${q} at ${t}, ${perChunk} per chunk`).toEqual(want);
          }
          if (q.endsWith(']')) continue;
          for (const [start, end, step] of [[0, 2_100_000, 15_000], [600_000, 700_000, 1_000], [1_100_000, 1_300_000, 70_000]] as const) {
            const want = withoutTimings(await engine.rangeQuery(mem, q, start, end, step));
            expect(withoutTimings(await engine.rangeQuery(blocks, q, start, end, step)), `${q} over ${start}-${end}/${step}, ${perChunk} per chunk`).toEqual(want);
          }
        }
      }
    });
  }
});

describe('chunked series switching between floats and histograms', () => {
  /** Runs of floats (counters) and float histograms, a chunk per run: as Prometheus' head cuts them. */
  const kinds = (i: number, k: number): 'f' | 'h' => ((k === 0 ? i >= 100 && i < 150 : i < 50 || (i >= 80 && i < 100 && i % 2 === 0) || (i >= 120 && i < 170)) ? 'f' : 'h');
  const hist = (i: number) => new FloatHistogram({ schema: 1, count: 3.5 * i + 1, sum: 0.75 * i, positiveSpans: [{ offset: -1, length: 1 }, { offset: 2, length: 1 }], positiveBuckets: [2.5 * i + 1, i] });
  const series = [0, 1].map((k) => {
    const labels = Labels.from({ __name__: 'x', k: String(k) });
    const chunks: ChunkMeta[] = [];
    let run: number[] = [];
    const flush = (): void => {
      if (run.length === 0) return;
      const ts = run.map((i) => 2345 + i * 60_000);
      if (kinds(run[0] as number, k) === 'h') {
        chunks.push(...cutFloatHistogramChunks(run.map((i, j) => ({ t: ts[j] as number, h: hist(i) })), 7_200_000));
      } else {
        const c = new XORChunk();
        const app = c.appender();
        run.forEach((i, j) => app.append(ts[j] as number, 10 * i));
        chunks.push({ minTime: ts[0] as number, maxTime: ts.at(-1) as number, chunk: c });
      }
      run = [];
    };
    for (let i = 0; i < 220; i++) {
      if (run.length > 0 && kinds(run[0] as number, k) !== kinds(i, k)) flush();
      run.push(i);
    }
    flush();
    return { labels, chunks };
  });
  const mem = new MemoryStorage();
  for (let i = 0; i < 220; i++) for (const [k, s] of series.entries()) {
    if (kinds(i, k) === 'f') mem.append(s.labels, 2345 + i * 60_000, 10 * i);
    else mem.appendHistogram(s.labels, 2345 + i * 60_000, hist(i));
  }
  const blocks: Queryable = {
    querier: () => ({
      select: async (_h: SelectHints, matchers: readonly Matcher[]): Promise<SeriesSet> => ({
        series: series.filter((s) => matchLabels(matchers, s.labels)).map((s) => new ChunkSeriesSamples(s.labels, s.chunks)),
      }),
      close: () => undefined,
    }),
  };
  it('answer range queries as in memory', async () => {
    const engine = new Engine({ compat: 2 });
    // The chunks' headers give their histograms hints that the samples in memory lack.
    const values = (r: QueryResult) => JSON.parse(JSON.stringify(r.value, (k, v: unknown) => (k === 'counterResetHint' ? undefined : v))) as unknown;
    for (const q of ['x', 'rate(x[5m])', 'count_over_time(x[5m])', 'last_over_time(x[5m])', 'histogram_count(x)']) {
      const want = values(await engine.rangeQuery(mem, q, 2345, 2345 + 222 * 60_000, 45_000));
      expect(values(await engine.rangeQuery(blocks, q, 2345, 2345 + 222 * 60_000, 45_000)), q).toEqual(want);
    }
  });
});
