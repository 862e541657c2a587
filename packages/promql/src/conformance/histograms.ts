/**
 * How Prometheus' test harness compares native histograms (promqltest compareNativeHistogram): both
 * compacted, then schema, zero threshold and custom bounds exactly, spans as the same buckets (empty
 * spans merged into the next), counts within the harness' relative tolerance.
 */
import type { FloatHistogram, Span } from '@strata/tsdb';
import { almostEqual } from '../float.js';

export function histogramsMatch(expected: FloatHistogram, actual: FloatHistogram, epsilon: number): boolean {
  const exp = expected.copy().compact(0);
  const cur = actual.copy().compact(0);
  const close = (a: number, b: number): boolean => almostEqual(a, b, epsilon);
  if (exp.schema !== cur.schema || !close(exp.count, cur.count) || !close(exp.sum, cur.sum)) return false;
  if (exp.usesCustomBuckets() && !sameNumbers(exp.customValues, cur.customValues)) return false;
  if (exp.zeroThreshold !== cur.zeroThreshold || !close(exp.zeroCount, cur.zeroCount)) return false;
  return spansMatch(exp.negativeSpans, cur.negativeSpans) && bucketsMatch(exp.negativeBuckets, cur.negativeBuckets, close)
    && spansMatch(exp.positiveSpans, cur.positiveSpans) && bucketsMatch(exp.positiveBuckets, cur.positiveBuckets, close);
}

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function bucketsMatch(a: readonly number[], b: readonly number[], close: (x: number, y: number) => boolean): boolean {
  return a.length === b.length && a.every((x, i) => close(x, b[i] as number));
}

/** The spans with their empty spans folded into the next non-empty one. */
function nonEmpty(spans: readonly Span[]): Span[] {
  const out: Span[] = [];
  let offset = 0;
  for (const s of spans) {
    offset += s.offset;
    if (s.length === 0) continue;
    out.push({ offset, length: s.length });
    offset = 0;
  }
  return out;
}

function spansMatch(a: readonly Span[], b: readonly Span[]): boolean {
  const x = nonEmpty(a);
  const y = nonEmpty(b);
  return x.length === y.length && x.every((s, i) => s.offset === (y[i] as Span).offset && s.length === (y[i] as Span).length);
}
