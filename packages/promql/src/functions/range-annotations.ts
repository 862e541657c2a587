/** Prometheus' annotations of range functions over native histograms (util/annotations), word for word. */
import { quoteGo } from '@strata/tsdb';

export function mixedFloatsHistograms(metricName: string): string {
  return `PromQL warning: encountered a mix of histograms and floats for metric name ${quoteGo(metricName)}`;
}

export function mixedExponentialCustom(metricName: string): string {
  return `PromQL warning: vector contains a mix of histograms with exponential and custom buckets schemas for metric name ${quoteGo(metricName)}`;
}

export function notCounter(metricName: string): string {
  return `PromQL warning: this native histogram metric is not a counter: ${quoteGo(metricName)}`;
}

export function notGauge(metricName: string): string {
  return `PromQL warning: this native histogram metric is not a gauge: ${quoteGo(metricName)}`;
}

export function histogramsIgnored(metricName: string): string {
  return `PromQL info: ignored histograms in a range containing both floats and histograms for metric name ${quoteGo(metricName)}`;
}

export function customBucketsReconciled(operation: 'addition' | 'subtraction' | 'aggregation'): string {
  return `PromQL info: mismatched custom buckets were reconciled during ${operation}`;
}

export const COUNTER_RESET_COLLISION = 'PromQL warning: conflicting counter resets during histogram aggregation';
