/**
 * `x smoothed`: an instant selector whose value at each step is interpolated between the samples around
 * it (within a lookback delta on either side), as Prometheus' smoothSeries.
 */
import { CounterResetHint, type FloatHistogram, IncompatibleSchemaError, METRIC_NAME, type Series } from '@strata/tsdb';
import { interpolate, interpolateHistograms } from '../functions/extended.js';
import { mixedExponentialCustom, mixedFloatsHistograms } from '../functions/range-annotations.js';
import type { SampleBuffer } from './buffer.js';
import { StepSeries } from './steps.js';

export interface SmoothedRead {
  readonly series: StepSeries[];
  /** Samples produced, for the query's statistics. */
  readonly read: number;
}

/**
 * The smoothed values of `series` at reference times refAt(0…steps−1): the sample at the step itself,
 * else the interpolation between the samples before and after it, else (no later sample yet) the one
 * before. A step whose window mixes floats and histograms, or histograms of exponential and custom
 * buckets around it, has none and is warned about.
 */
export function smoothedSelector(
  series: readonly Series[], buf: SampleBuffer, refAt: (i: number) => number, steps: number, lookback: number,
  warn: (message: string) => void, checkAbort: () => void,
): SmoothedRead {
  const out: StepSeries[] = [];
  let read = 0;
  for (const s of series) {
    checkAbort();
    buf.load(s, refAt(0) - lookback, refAt(steps - 1) + lookback, true);
    const { ts, vs, hs, n } = buf;
    const time = (k: number): number => ts[k] as number;
    const name = s.labels.get(METRIC_NAME);
    let o: StepSeries | null = null;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < steps; i++) {
      const ref = refAt(i);
      while (lo < n && time(lo) <= ref - lookback) lo++;
      if (hi < lo) hi = lo;
      while (hi < n && time(hi) <= ref + lookback) hi++;
      if (hi === lo) continue;
      let histograms = 0;
      if (hs !== null) for (let k = lo; k < hi; k++) if (hs[k] !== undefined) histograms++;
      if (histograms > 0 && histograms < hi - lo) {
        warn(mixedFloatsHistograms(name));
        continue;
      }
      // The first sample at or after the step.
      let next = lo;
      while (next < hi && time(next) < ref) next++;
      const exact = next < hi && time(next) === ref;
      const prev = exact ? next : next - 1;
      if (prev < lo) continue;
      const interpolated = !exact && next < hi;
      if (histograms === 0) {
        const v = interpolated ? interpolate(time(prev), vs[prev] as number, time(next), vs[next] as number, ref, false) : (vs[prev] as number);
        o ??= new StepSeries(s.labels, steps);
        o.has[i] = 1;
        o.vals[i] = v;
        read++;
        continue;
      }
      const before = (hs as readonly (FloatHistogram | undefined)[])[prev] as FloatHistogram;
      let h = before;
      if (interpolated) {
        const after = (hs as readonly (FloatHistogram | undefined)[])[next] as FloatHistogram;
        // Checked first: a counter reset (which a change of bucket kind is) would otherwise hide it.
        if (before.usesCustomBuckets() !== after.usesCustomBuckets()) {
          warn(mixedExponentialCustom(name));
          continue;
        }
        try {
          h = interpolateHistograms(before, time(prev), after, time(next), ref, before.counterResetHint !== CounterResetHint.Gauge, warn);
        } catch (err) {
          if (!(err instanceof IncompatibleSchemaError)) throw err;
          warn(mixedExponentialCustom(name));
          continue;
        }
      }
      o ??= new StepSeries(s.labels, steps);
      o.setHist(i, h);
      read++;
    }
    if (o !== null) out.push(o);
  }
  return { series: out, read };
}
