import type { ChunkMeta, SampleIterator } from './chunkenc/chunk.js';
import type { Labels } from './labels/labels.js';

/** A series of samples, iterated in time order. */
export interface Series {
  readonly labels: Labels;
  iterator(reuse?: SampleIterator): SampleIterator;
}

/** A series as encoded chunks, time-ordered; chunks of one series may overlap only across replicas. */
export interface ChunkSeries {
  readonly labels: Labels;
  readonly chunks: readonly ChunkMeta[];
}
