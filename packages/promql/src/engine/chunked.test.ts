import { ChunkSeriesSamples, Labels, STALE_NAN, XORChunk, type ChunkMeta, type Matcher } from '@strata/tsdb';
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
