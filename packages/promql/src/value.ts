/** Query results, shaped as Prometheus' promql.Value. Times in ms. */
import type { FloatHistogram, Labels } from '@strata/tsdb';
import type { Expr } from './parser/ast.js';
import type { NodeTelemetry } from './engine/explain.js';

/** One sample of a vector: a float `f`, or a native histogram `h` (then `f` is 0). */
export interface Sample {
  readonly labels: Labels;
  readonly t: number;
  readonly f: number;
  readonly h?: FloatHistogram;
}

export interface FPoint {
  readonly t: number;
  readonly f: number;
}

export interface HPoint {
  readonly t: number;
  readonly h: FloatHistogram;
}

/** A series of a matrix: its float points and its histogram points, each in time order. */
export interface SeriesPoints {
  readonly labels: Labels;
  readonly floats: FPoint[];
  readonly histograms: HPoint[];
}

export interface ScalarResult {
  readonly type: 'scalar';
  readonly t: number;
  readonly v: number;
}

export interface StringResult {
  readonly type: 'string';
  readonly t: number;
  readonly v: string;
}

export interface VectorResult {
  readonly type: 'vector';
  readonly samples: Sample[];
}

export interface MatrixResult {
  readonly type: 'matrix';
  readonly series: SeriesPoints[];
}

export type QueryValue = ScalarResult | StringResult | VectorResult | MatrixResult;

/** Prometheus' query statistics (for `stats=all`). */
export interface QueryStats {
  /** Samples read from storage across all steps (Prometheus' totalQueryableSamples). */
  readonly samplesRead: number;
  /** The most samples held in memory at once (Prometheus' peakSamples). */
  readonly peakSamples: number;
  /** Time spent selecting series from storage before evaluation (ms; Prometheus' queryPreparationTime). */
  readonly preparationMs: number;
}

export interface QueryResult {
  readonly value: QueryValue;
  /** Warnings and infos, e.g. `PromQL info: metric might not be a counter, … (1:6)`. */
  readonly annotations: string[];
  readonly stats: QueryStats;
  /** With QueryOptions.analyze: what evaluating each node of the expression cost (see explain()). */
  readonly telemetry?: ReadonlyMap<Expr, NodeTelemetry>;
}
