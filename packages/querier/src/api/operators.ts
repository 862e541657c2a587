/** A query's operator tree as Thanos' explain and analyze write it. */
import type { PlanNode } from '@strata/promql';
import { formatGoDuration } from '@strata/runtime';

/** An operator as Thanos' explain writes it (promql-engine's ExplainOutputNode). */
export interface ExplanationJson {
  name: string;
  children?: ExplanationJson[];
}

/** An operator as Thanos' analyze writes it (its queryTelemetry): times inclusive of the children's, samples too. */
export interface AnalysisJson {
  name: string;
  executionTime?: string;
  peakSamples?: number;
  totalSamples?: number;
  children?: AnalysisJson[];
}

export function explanationJson(n: PlanNode): ExplanationJson {
  return { name: n.name, ...(n.children.length > 0 ? { children: n.children.map(explanationJson) } : {}) };
}

/** Go's omitempty: zeros and empty strings left out. */
export function analysisJson(n: PlanNode): AnalysisJson {
  const t = n.telemetry;
  return {
    name: n.name,
    ...(t?.timeMs !== undefined ? { executionTime: formatGoDuration(t.timeMs * 1e6) } : {}),
    ...(t !== undefined && t.peakSamples > 0 ? { peakSamples: t.peakSamples } : {}),
    ...(t !== undefined && t.samples > 0 ? { totalSamples: t.samples } : {}),
    ...(n.children.length > 0 ? { children: n.children.map(analysisJson) } : {}),
  };
}
