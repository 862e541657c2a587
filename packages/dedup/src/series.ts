import { ChainMergeIterator, ChunkSeriesSamples, type Labels, type SampleIterator, type Series } from '@strata/tsdb';
import { ChunksReplicaIterator, CounterAdjustingIterator, isCounterFunc, PlainIterator, type AdjustableIterator } from './adjustable.js';
import { penaltyMerge } from './penalty.js';
import { PenaltyMergedSeries } from './plan.js';

export type DedupFunc = 'penalty' | 'chain';

/** One series made of several replicas with identical (replica-stripped) labels. */
export class DedupSeries implements Series {
  constructor(
    readonly labels: Labels,
    private readonly replicas: readonly Series[],
    private readonly func: DedupFunc,
    /** The PromQL function the selector sits under (SelectHints.func); decides counter handling. */
    private readonly selectFunc?: string,
  ) {}

  iterator(): SampleIterator {
    if (this.func === 'chain') return new ChainMergeIterator(this.replicas.map((r) => r.iterator()));
    const counter = isCounterFunc(this.selectFunc);
    return penaltyMerge(this.replicas.map((r) => replicaIterator(r, counter)));
  }
}

function replicaIterator(r: Series, counter: boolean): AdjustableIterator {
  if (r instanceof ChunkSeriesSamples) return new ChunksReplicaIterator(r.chunks, counter);
  return counter ? new CounterAdjustingIterator(r.iterator()) : new PlainIterator(r.iterator());
}

/**
 * Deduplicates a label-sorted sequence of series: consecutive series with equal labels are replicas
 * of one series and are merged with `func` (dedupReplicas); a lone series passes through unchanged.
 */
export function* dedupSeriesSet(sorted: Iterable<Series>, func: DedupFunc, selectFunc?: string): Generator<Series> {
  let group: Series[] = [];
  for (const s of sorted) {
    const head = group[0];
    if (head !== undefined && !head.labels.equals(s.labels)) {
      yield dedupReplicas(group, func, selectFunc);
      group = [];
    }
    group.push(s);
  }
  if (group.length > 0) yield dedupReplicas(group, func, selectFunc);
}

/**
 * One series from its replicas (series with equal labels; one passes through unchanged). Replicas
 * that are all chunks are merged with the penalty rule as a reader asks for the samples, into its
 * buffer (PenaltyMergedSeries); others are merged sample by sample as they are read.
 */
export function dedupReplicas(replicas: readonly Series[], func: DedupFunc, selectFunc?: string): Series {
  const [first] = replicas;
  if (first === undefined) throw new Error('dedupReplicas needs at least one replica');
  if (replicas.length === 1) return first;
  if (func === 'penalty' && replicas.every((s) => s instanceof ChunkSeriesSamples)) {
    const merged = PenaltyMergedSeries.of(
      first.labels,
      replicas.map((s) => (s as ChunkSeriesSamples).chunks),
      isCounterFunc(selectFunc),
    );
    if (merged !== undefined) return merged;
  }
  return new DedupSeries(first.labels, replicas, func, selectFunc);
}
