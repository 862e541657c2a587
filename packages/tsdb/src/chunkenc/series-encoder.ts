/**
 * A sample stream of floats and native histograms, in any mix, encoded back into chunks, as Prometheus'
 * seriesToChunkEncoder does for merged (vertical compaction) and tombstone-filtered samples: a chunk
 * per run of one sample type, of at most `maxSamples` samples. Histograms go through
 * HistogramHeadCutter, so that a sample that cannot join its chunk (a counter reset, another schema or
 * zero threshold) starts a new one, new buckets recode the chunk, and every chunk's counter reset
 * header says what is known, as Prometheus' AppendHistogram does.
 */
import { SampleCountSchedule } from '../block/chunk-cutter.js';
import { ValueType, type ChunkMeta, type SampleIterator } from './chunk.js';
import { FloatHistogramChunk } from './floathistogram.js';
import { HistogramHeadCutter } from './histogram-cutter.js';
import { HistogramChunk } from './histogram.js';
import { XORChunk, type XORAppender } from './xor.js';
import type { FloatHistogram } from '../histogram/float.js';
import type { Histogram } from '../histogram/types.js';

/** The sample limit of every chunk format (its BE16 sample count). */
export const CHUNK_SAMPLES_MAX = 0xffff;

export function encodeSeriesChunks(it: SampleIterator, maxSamples: number): ChunkMeta[] {
  const out: ChunkMeta[] = [];
  let type: ValueType = ValueType.None;
  let xor: XORChunk | undefined;
  let app: XORAppender | undefined;
  let minTime = 0;
  let maxTime = 0;
  // A cutter per run of histograms: a run of another type in between ends their chunk.
  let hists: HistogramHeadCutter<Histogram> | undefined;
  let floatHists: HistogramHeadCutter<FloatHistogram> | undefined;
  const push = (c: ChunkMeta | undefined): void => {
    if (c !== undefined) out.push(c);
  };
  const endRun = (): void => {
    if (xor !== undefined) out.push({ minTime, maxTime, chunk: xor });
    xor = undefined;
    push(hists?.flush());
    push(floatHists?.flush());
    hists = floatHists = undefined;
  };
  for (let vt = it.next(); vt !== ValueType.None; vt = it.next()) {
    if (vt !== type) {
      endRun();
      type = vt;
    }
    const t = it.atT();
    if (vt === ValueType.Float) {
      if (xor === undefined || xor.numSamples() >= maxSamples) {
        if (xor !== undefined) out.push({ minTime, maxTime, chunk: xor });
        xor = new XORChunk();
        app = xor.appender();
        minTime = t;
      }
      (app as XORAppender).append(t, it.atFloat());
      maxTime = t;
    } else if (vt === ValueType.Histogram) {
      hists ??= new HistogramHeadCutter<Histogram>(() => new HistogramChunk(), new SampleCountSchedule(maxSamples));
      push(hists.append(t, (it as Required<SampleIterator>).atHistogram()));
    } else {
      floatHists ??= new HistogramHeadCutter<FloatHistogram>(() => new FloatHistogramChunk(), new SampleCountSchedule(maxSamples));
      push(floatHists.append(t, (it as Required<SampleIterator>).atFloatHistogram()));
    }
  }
  const err = it.err();
  if (err !== null) throw err;
  endRun();
  return out;
}
