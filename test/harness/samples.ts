/** Samples of an iterator as plain arrays, for comparing in tests whatever their type. */
import { type SampleIterator, ValueType } from '@strata/tsdb';

/** [t, v] of every float sample and [t, count, sum, positive buckets…] of every histogram sample; throws on an iterator error. */
export function decodedSamples(it: SampleIterator): number[][] {
  const out: number[][] = [];
  for (let vt = it.next(); vt !== ValueType.None; vt = it.next()) {
    if (vt === ValueType.Float) {
      out.push([it.atT(), it.atFloat()]);
    } else {
      const h = (it as Required<SampleIterator>).atFloatHistogram();
      out.push([it.atT(), h.count, h.sum, ...h.positiveBuckets]);
    }
  }
  const err = it.err();
  if (err !== null) throw err;
  return out;
}
