import type { ExemplarData } from '@strata/storeapi';
import { plain, type WithExternal } from './rules.js';

/** Prometheus' /api/v1/query_exemplars `data`, as its API writes it (values as strings, times in seconds). */
export type PrometheusExemplars = {
  seriesLabels: Record<string, string>;
  exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
}[];

/** Prometheus' exemplars as Thanos' sidecar serves them: series labels extended by the external labels. */
export function exemplarsFromPrometheus(data: PrometheusExemplars, withExternal: WithExternal): ExemplarData[] {
  return data.map((d) => ({
    seriesLabels: withExternal(plain(d.seriesLabels)),
    exemplars: d.exemplars.map((e) => ({ labels: plain(e.labels), value: Number(e.value), ts: Math.round(e.timestamp * 1000) })),
  }));
}
