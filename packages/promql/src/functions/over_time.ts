/** The `*_over_time` family and the other aggregations of a window's samples. */
import type { FloatHistogram } from '@strata/tsdb';
import { EvalError } from '../engine/errors.js';
import { HistogramGroup } from '../engine/histogram-sum.js';
import { anchorWindow } from './extended.js';
import { ignoringHistograms } from './floats-only.js';
import { kahanC, kahanSumInc } from './kahan.js';
import { quantile } from './quantile.js';
import { COUNTER_RESET_COLLISION, customBucketsReconciled, mixedExponentialCustom, mixedFloatsHistograms } from './range-annotations.js';
import { histogramsIn, type RangeFunction, type Window } from './window.js';

const scratch: number[] = [];

function windowValues(w: Window): number[] {
  scratch.length = 0;
  for (let i = w.lo; i < w.hi; i++) scratch.push(w.vs[i] as number);
  return scratch;
}

const sumOverTime: RangeFunction = (w) => {
  let sum = 0;
  let c = 0;
  for (let i = w.lo; i < w.hi; i++) {
    sum = kahanSumInc(w.vs[i] as number, sum, c);
    c = kahanC();
  }
  return Number.isFinite(sum) ? sum + c : sum;
};

/**
 * sum_over_time (avg false) and avg_over_time: `floats` over a window of floats; over a window of
 * histograms only, their sum or mean as the sum and avg aggregations compute them; with both, nothing.
 */
function sumOrAvgOverTime(floats: RangeFunction, avg: boolean): RangeFunction {
  return (w) => {
    if (w.hs === null) return floats(w);
    const histograms = histogramsIn(w);
    if (histograms === 0) return floats(w);
    if (histograms < w.hi - w.lo) {
      w.annotate(mixedFloatsHistograms(w.metricName));
      return undefined;
    }
    return histogramSumOverTime(w, w.hs as readonly FloatHistogram[], avg);
  };
}

function histogramSumOverTime(w: Window, hs: readonly FloatHistogram[], avg: boolean): FloatHistogram | undefined {
  let reconciled = false;
  const events = { reconciled: () => void (reconciled = true), incompatible: () => undefined };
  const group = new HistogramGroup(hs[w.lo] as FloatHistogram);
  for (let i = w.lo + 1; i < w.hi && !group.incompatible; i++) group.add(hs[i] as FloatHistogram, i, avg, events);
  // Mixed bucket kinds: Prometheus reports only that.
  if (group.incompatible) {
    w.annotate(mixedExponentialCustom(w.metricName));
    return undefined;
  }
  if (group.counterResetCollision()) w.annotate(COUNTER_RESET_COLLISION);
  if (reconciled) w.annotate(customBucketsReconciled('aggregation'));
  return group.result(avg);
}

/** 3.x: compensated sum, switching to an incremental mean only when the sum would overflow. */
const avgOverTime3: RangeFunction = (w) => {
  let sum = w.vs[w.lo] as number;
  let count = 1;
  let mean = 0;
  let c = 0;
  let incremental = false;
  for (let i = w.lo + 1; i < w.hi; i++) {
    const v = w.vs[i] as number;
    count++;
    if (!incremental) {
      const s = kahanSumInc(v, sum, c);
      if (Number.isFinite(s) || Number.isNaN(s)) {
        sum = s;
        c = kahanC();
        continue;
      }
      incremental = true;
      mean = sum / (count - 1);
      c /= count - 1;
    }
    const q = (count - 1) / count;
    mean = kahanSumInc(v / count, q * mean, q * c);
    c = kahanC();
  }
  return incremental ? mean + c : sum / count + c / count;
};

/** 2.x: compensated incremental mean throughout. */
const avgOverTime2: RangeFunction = (w) => {
  let mean = 0;
  let c = 0;
  let count = 0;
  for (let i = w.lo; i < w.hi; i++) {
    const v = w.vs[i] as number;
    count++;
    if (Number.isFinite(mean) === false && !Number.isNaN(mean)) {
      if (!Number.isFinite(v) && !Number.isNaN(v) && mean > 0 === v > 0) continue;
      if (Number.isFinite(v)) continue;
    }
    mean = kahanSumInc(v / count - mean / count, mean, c);
    c = kahanC();
  }
  return !Number.isFinite(mean) && !Number.isNaN(mean) ? mean : mean + c;
};

/**
 * min_over_time (isMax false) and max_over_time over a series' windows as they slide forward: a
 * monotonic queue of the indexes that can still be a window's extreme (each sample enters and leaves it
 * once) instead of a scan of every window, so a 1h window at a 1m step reads each sample once rather
 * than 60 times. Prometheus' result: the first extreme value of the window (v > m keeps the earlier of
 * equal ones, -0 before 0 included), NaN only when every value is NaN. One function serves one
 * evaluation loop at a time (evaluation is synchronous); it starts over at a series' first window.
 */
function extremeOverTime(isMax: boolean): RangeFunction {
  let queue = new Int32Array(64);
  let head = 0;
  let tail = 0;
  /** The next sample index to enter the queue. */
  let next = 0;
  let owner: Window | undefined;
  return (w) => {
    const vs = w.vs;
    if (w.first || w !== owner || w.lo > next) {
      owner = w;
      head = tail = 0;
      next = w.lo;
    }
    for (; next < w.hi; next++) {
      const v = vs[next] as number;
      if (v !== v) continue;
      // Later equal values stay behind earlier ones: the earlier is the window's answer while in it.
      while (tail > head && (isMax ? (vs[queue[tail - 1] as number] as number) < v : (vs[queue[tail - 1] as number] as number) > v)) tail--;
      if (tail === queue.length) {
        if (head > 0) {
          queue.copyWithin(0, head, tail);
          tail -= head;
          head = 0;
        } else {
          const grown = new Int32Array(queue.length * 2);
          grown.set(queue);
          queue = grown;
        }
      }
      queue[tail++] = next;
    }
    while (head < tail && (queue[head] as number) < w.lo) head++;
    return head < tail ? (vs[queue[head] as number] as number) : NaN;
  };
}

/** Population variance with compensated Welford updates. */
function variance(w: Window): number {
  let count = 0;
  let mean = 0;
  let cMean = 0;
  let aux = 0;
  let cAux = 0;
  for (let i = w.lo; i < w.hi; i++) {
    const v = w.vs[i] as number;
    count++;
    const delta = v - (mean + cMean);
    mean = kahanSumInc(delta / count, mean, cMean);
    cMean = kahanC();
    aux = kahanSumInc(delta * (v - (mean + cMean)), aux, cAux);
    cAux = kahanC();
  }
  return (aux + cAux) / count;
}

/** Timestamp (s) of the sample chosen by `better(candidate, best)`; ties go to the later sample when `later`. */
function tsOf(better: (v: number, best: number) => boolean): RangeFunction {
  return (w) => {
    let best = w.vs[w.lo] as number;
    let t = w.ts[w.lo] as number;
    for (let i = w.lo + 1; i < w.hi; i++) {
      const v = w.vs[i] as number;
      if (better(v, best) || (Number.isNaN(best) && !Number.isNaN(v))) {
        best = v;
        t = w.ts[i] as number;
      }
    }
    return t / 1000;
  };
}

/** Least-squares slope and intercept at `interceptTime`, with compensated sums (Prometheus' linearRegression). */
export function linearRegression(w: Window, interceptTime: number): [number, number] {
  let n = 0;
  let sumX = 0, cX = 0, sumY = 0, cY = 0, sumXY = 0, cXY = 0, sumX2 = 0, cX2 = 0;
  const initY = w.vs[w.lo] as number;
  let constY = true;
  for (let i = w.lo; i < w.hi; i++) {
    const y = w.vs[i] as number;
    if (constY && i > w.lo && y !== initY) constY = false;
    n++;
    const x = ((w.ts[i] as number) - interceptTime) / 1000;
    sumX = kahanSumInc(x, sumX, cX);
    cX = kahanC();
    sumY = kahanSumInc(y, sumY, cY);
    cY = kahanC();
    sumXY = kahanSumInc(x * y, sumXY, cXY);
    cXY = kahanC();
    sumX2 = kahanSumInc(x * x, sumX2, cX2);
    cX2 = kahanC();
  }
  if (constY) return Number.isFinite(initY) || Number.isNaN(initY) ? [0, initY] : [NaN, NaN];
  sumX += cX;
  sumY += cY;
  sumXY += cXY;
  sumX2 += cX2;
  const covXY = sumXY - (sumX * sumY) / n;
  const varX = sumX2 - (sumX * sumX) / n;
  const slope = covXY / varX;
  return [slope, sumY / n - (slope * sumX) / n];
}

function doubleExponentialSmoothing(w: Window): number | undefined {
  const [sf, tf] = w.params as [number, number];
  if (!(sf > 0 && sf < 1)) throw new EvalError(`invalid smoothing factor. Expected: 0 < sf < 1, got: ${sf.toFixed(6)}`);
  if (!(tf > 0 && tf < 1)) throw new EvalError(`invalid trend factor. Expected: 0 < tf < 1, got: ${tf.toFixed(6)}`);
  if (w.hi - w.lo < 2) return undefined;
  let s0 = 0;
  let s1 = w.vs[w.lo] as number;
  let b = (w.vs[w.lo + 1] as number) - s1;
  for (let i = w.lo + 1; i < w.hi; i++) {
    const x = sf * (w.vs[i] as number);
    if (i > w.lo + 1) b = tf * (s1 - s0) + (1 - tf) * b;
    const y = (1 - sf) * (s1 + b);
    s0 = s1;
    s1 = x + y;
  }
  return s1;
}

/** Whether a float differs from the one before it (NaN does not differ from NaN). */
function floatChanged(cur: number, prev: number): boolean {
  return cur !== prev && !(Number.isNaN(cur) && Number.isNaN(prev));
}

function floatReset(cur: number, prev: number): boolean {
  return cur < prev;
}

function histogramChanged(cur: FloatHistogram, prev: FloatHistogram): boolean {
  return !cur.equals(prev);
}

function histogramReset(cur: FloatHistogram, prev: FloatHistogram): boolean {
  return cur.detectReset(prev);
}

/**
 * changes and resets over a window that has histograms: how many samples count against the one before
 * them; between a float and a histogram always, as in Prometheus.
 */
function transitions(
  w: Window, hs: readonly (FloatHistogram | undefined)[],
  floatCounts: (cur: number, prev: number) => boolean, histogramCounts: (cur: FloatHistogram, prev: FloatHistogram) => boolean,
): number {
  let n = 0;
  for (let i = w.lo + 1; i < w.hi; i++) {
    const h = hs[i];
    const prev = hs[i - 1];
    if (h === undefined && prev === undefined) {
      if (floatCounts(w.vs[i] as number, w.vs[i - 1] as number)) n++;
    } else if (h === undefined || prev === undefined || histogramCounts(h, prev)) {
      n++;
    }
  }
  return n;
}

export function overTimeFunctions(compat: 2 | 3): Record<string, RangeFunction> {
  const smoothing = ignoringHistograms(doubleExponentialSmoothing);
  return {
    sum_over_time: sumOrAvgOverTime(sumOverTime, false),
    avg_over_time: sumOrAvgOverTime(compat === 2 ? avgOverTime2 : avgOverTime3, true),
    min_over_time: ignoringHistograms(extremeOverTime(false)),
    max_over_time: ignoringHistograms(extremeOverTime(true)),
    count_over_time: (w) => w.hi - w.lo,
    last_over_time: (w) => w.hs?.[w.hi - 1] ?? (w.vs[w.hi - 1] as number),
    first_over_time: (w) => w.hs?.[w.lo] ?? (w.vs[w.lo] as number),
    present_over_time: () => 1,
    stdvar_over_time: ignoringHistograms(variance),
    stddev_over_time: ignoringHistograms((w) => Math.sqrt(variance(w))),
    quantile_over_time: ignoringHistograms((w) => quantile(w.params[0] as number, windowValues(w))),
    mad_over_time: ignoringHistograms((w) => {
      const values = windowValues(w);
      if (values.some(Number.isNaN)) return NaN;
      const median = quantile(0.5, values);
      for (let i = 0; i < values.length; i++) values[i] = Math.abs((values[i] as number) - median);
      return quantile(0.5, values);
    }),
    ts_of_first_over_time: (w) => (w.ts[w.lo] as number) / 1000,
    ts_of_last_over_time: (w) => (w.ts[w.hi - 1] as number) / 1000,
    ts_of_min_over_time: ignoringHistograms(tsOf((v, best) => v <= best)),
    ts_of_max_over_time: ignoringHistograms(tsOf((v, best) => v >= best)),
    // The float loops test inline: through the predicates they measured ~15% slower.
    changes: (w) => {
      if (w.extension === 'anchored' && !anchorWindow(w)) return undefined;
      if (w.hs !== null) return transitions(w, w.hs, floatChanged, histogramChanged);
      let n = 0;
      let prev = w.vs[w.lo] as number;
      for (let i = w.lo + 1; i < w.hi; i++) {
        const cur = w.vs[i] as number;
        if (cur !== prev && !(Number.isNaN(cur) && Number.isNaN(prev))) n++;
        prev = cur;
      }
      return n;
    },
    resets: (w) => {
      if (w.extension === 'anchored' && !anchorWindow(w)) return undefined;
      if (w.hs !== null) return transitions(w, w.hs, floatReset, histogramReset);
      let n = 0;
      let prev = w.vs[w.lo] as number;
      for (let i = w.lo + 1; i < w.hi; i++) {
        const cur = w.vs[i] as number;
        if (cur < prev) n++;
        prev = cur;
      }
      return n;
    },
    deriv: ignoringHistograms((w) => (w.hi - w.lo < 2 ? undefined : linearRegression(w, w.ts[w.lo] as number)[0])),
    predict_linear: ignoringHistograms((w) => {
      if (w.hi - w.lo < 2) return undefined;
      const [slope, intercept] = linearRegression(w, w.t);
      return slope * (w.params[0] as number) + intercept;
    }),
    double_exponential_smoothing: smoothing,
    holt_winters: smoothing,
  };
}
