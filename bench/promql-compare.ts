/**
 * The timing loop the PromQL benchmarks share: each query as an instant query (at `end`) and as a range
 * query (1,000 steps from `start` to `end`), Prometheus and Strata alternately after untimed warm-up
 * rounds. Prometheus' time is its own evalTotalTime from `stats=all` (querier, selection, evaluation and
 * result sorting; no parsing, HTTP or JSON), Strata's the engine call in-process on an already parsed
 * query. Prints per query: median times, the ratio strata/prometheus (target ≤ 1), samples/s (samples
 * read ÷ time) and peak samples of both, and the JS heap growth during Strata's query.
 */
import type { Engine, Queryable } from '../packages/promql/src/index.js';
import type { PrometheusHandle } from '../test/harness/prometheus.js';
import { median } from './stats.js';

interface PromStats {
  timings: { evalTotalTime: number };
  samples?: { totalQueryableSamples: number; peakSamples: number };
}

export interface CompareOptions {
  /** The data's time range (ms). */
  start: number;
  end: number;
  rangeRounds: number;
  instantRounds: number;
  /** instant, range or both. */
  mode: string;
  /** Untimed instant-query rounds before the timed ones (default 3; range queries always have 3). */
  instantWarmupRounds?: number;
}

export async function compareWithPrometheus(
  prom: PrometheusHandle, engine: Engine, storage: Queryable, queries: readonly string[], o: CompareOptions,
): Promise<void> {
  const modes = (['instant', 'range'] as const).filter((m) => o.mode === 'both' || o.mode === m);
  if (modes.length === 0) throw new Error(`--mode must be instant, range or both, not ${o.mode}`);
  const rangeStep = Math.max(1000, Math.floor((o.end - o.start) / 999));
  console.log('query | mode | strata ms | prometheus ms | ratio | strata samples/s | prometheus samples/s | peak samples strata / prometheus | heap growth MB');
  for (const query of queries) {
    for (const mode of modes) {
      const ours: number[] = [];
      const theirs: number[] = [];
      let stats = { samplesRead: 0, peakSamples: 0 };
      let promStats: PromStats | undefined;
      let heap = 0;
      // Instant queries take milliseconds: more rounds steady their median.
      const rounds = mode === 'instant' ? o.instantRounds : o.rangeRounds;
      // The first rounds warm up V8's JIT and Prometheus' caches; they are not counted.
      const warmup = mode === 'instant' ? (o.instantWarmupRounds ?? 3) : 3;
      for (let r = -warmup; r < rounds; r++) {
        const params: Record<string, string> =
          mode === 'instant'
            ? { query, time: String(o.end / 1000), stats: 'all' }
            : { query, start: String(o.start / 1000), end: String(o.end / 1000), step: String(rangeStep / 1000), stats: 'all' };
        const p = await prom.api<{ stats: PromStats }>(mode === 'instant' ? 'query' : 'query_range', params);
        promStats = p.stats;
        // Parsed outside the timing: Prometheus' evalTotalTime does not include parsing either.
        const expr = engine.parse(query);
        const heapBefore = process.memoryUsage().heapUsed;
        const t0 = process.hrtime.bigint();
        const res = mode === 'instant' ? await engine.instantQuery(storage, expr, o.end) : await engine.rangeQuery(storage, expr, o.start, o.end, rangeStep);
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        stats = res.stats;
        if (r < 0) continue;
        ours.push(ms);
        theirs.push(p.stats.timings.evalTotalTime * 1000);
        heap = Math.max(heap, process.memoryUsage().heapUsed - heapBefore);
      }
      const ourMs = median(ours);
      const theirMs = median(theirs);
      const promSamples = promStats?.samples?.totalQueryableSamples ?? NaN;
      console.log(
        [
          query, mode, ourMs.toFixed(1), theirMs.toFixed(1), (ourMs / theirMs).toFixed(2),
          Math.round(stats.samplesRead / (ourMs / 1000)), Math.round(promSamples / (theirMs / 1000)),
          `${stats.peakSamples} / ${promStats?.samples?.peakSamples ?? '?'}`, (heap / 2 ** 20).toFixed(1),
        ].join(' | '),
      );
    }
  }
}
