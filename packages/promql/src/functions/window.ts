import type { FloatHistogram } from '@strata/tsdb';
import type { RangeExtension } from '../parser/ast.js';

/** The samples of one series inside one range window, as range functions see them. Reused across steps. */
export interface Window {
  /** Sample times (ms) and values of the series; the window is indexes lo ≤ i < hi. */
  ts: Float64Array;
  vs: Float64Array;
  /** The histogram of each sample that is one (its `vs` slot unused); null when the series has none. */
  hs: readonly (FloatHistogram | undefined)[] | null;
  lo: number;
  hi: number;
  /**
   * `anchored`/`smoothed` on the range: the window then also holds the samples up to a lookback delta
   * before rangeStart (and, smoothed, after rangeEnd).
   */
  extension: RangeExtension | null;
  /** The window's boundaries (ms) and length (ms). */
  rangeStart: number;
  rangeEnd: number;
  range: number;
  /** The evaluation time (ms) of the step. */
  t: number;
  /** Values of the function's scalar arguments at this step, in argument order. */
  params: number[];
  /** The series' metric name (for annotations). */
  metricName: string;
  /** Records a warning or info at the function's first argument, where Prometheus reports them. */
  annotate: (message: string) => void;
  /**
   * For functions in COUNTS_RESETS: resets[i] is the number of k ≤ i with vs[k] < vs[k-1], so a window
   * without a counter reset is found without walking it.
   */
  resets: Int32Array;
  /**
   * True for the first window a function sees of each series. A series' windows only move forward
   * (lo and hi never decrease), so a function may carry state from one to the next (see
   * extremeOverTime), starting over here.
   */
  first: boolean;
}

/** Computes one output value (a float or a histogram) from a window, or undefined for no output at this step. */
export type RangeFunction = (w: Window) => number | FloatHistogram | undefined;

/** How many of the window's samples are histograms (none when the series has none). */
export function histogramsIn(w: Window): number {
  const hs = w.hs;
  if (hs === null) return 0;
  let n = 0;
  for (let i = w.lo; i < w.hi; i++) if (hs[i] !== undefined) n++;
  return n;
}
