/** The textual form of histograms as Prometheus' FloatHistogram.String() writes it. */
import { formatGoFloat } from '../encoding/gofloat.js';
import { forEachNegativeBucket, forEachPositiveBucket, zeroBucket, type Bucket } from './buckets.js';
import type { FloatHistogram } from './float.js';
import { CUSTOM_BUCKETS_SCHEMA } from './types.js';

/** A bucket as `[lower,upper]:count`, brackets for inclusive bounds and parentheses for exclusive ones. */
export function formatBucket(b: Bucket): string {
  return `${b.lowerInclusive ? '[' : '('}${formatGoFloat(b.lower)},${formatGoFloat(b.upper)}${
    b.upperInclusive ? ']' : ')'
  }:${formatGoFloat(b.count)}`;
}

/**
 * `{count:3, sum:5, [-1,-0.5):1, [-0.001,0.001]:1, (0.5,1]:1}`: the populated buckets in ascending
 * order, the zero bucket when its count is not 0.
 */
export function formatFloatHistogram(h: FloatHistogram): string {
  const parts = [`{count:${formatGoFloat(h.count)}, sum:${formatGoFloat(h.sum)}`];
  const negative: string[] = [];
  forEachNegativeBucket(h, (b) => {
    if (b.count !== 0) negative.push(formatBucket(b));
  });
  parts.push(...negative.reverse());
  if (h.zeroCount !== 0 && h.schema !== CUSTOM_BUCKETS_SCHEMA) parts.push(formatBucket(zeroBucket(h)));
  forEachPositiveBucket(h, (b) => {
    if (b.count !== 0) parts.push(formatBucket(b));
  });
  return `${parts.join(', ')}}`;
}
