/**
 * The most common series the engine reads are tsdb's ChunkSeriesSamples (time-ordered chunks that do not
 * overlap, as a block or a store sends them): read through tsdb's lean ChainedChunksIterator, without the
 * range and deletion checks of its general ChunksSampleIterator, which the engine does not need: it
 * bounds every read by time itself.
 */
import { ChainedChunksIterator, ChunkSeriesSamples, type SampleIterator, type Series } from '@strata/tsdb';

/**
 * The series' samples: chained chunk iterators for chunked series, the series' own iterator otherwise.
 * `reuse`, an iterator from an earlier call that its caller is done with, is recycled where it fits: a
 * query reads thousands of series one after another.
 */
export function seriesIterator(series: Series, reuse?: SampleIterator): SampleIterator {
  if (!(series instanceof ChunkSeriesSamples)) return series.iterator(reuse);
  // Exactly this class: a subclass (the penalty merge's replicas) carries state of its own.
  if (!(reuse instanceof ChainedChunksIterator) || reuse.constructor !== ChainedChunksIterator) return new ChainedChunksIterator(series.chunks);
  reuse.reset(series.chunks);
  return reuse;
}
