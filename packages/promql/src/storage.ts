/**
 * What the engine reads from: Prometheus' storage.Queryable, asynchronous at the edge. The engine awaits
 * every selector's series before evaluating, then consumes their sample iterators synchronously.
 */
import type { Matcher, Series } from '@strata/tsdb';

/** Prometheus' storage.SelectHints: what the engine will do with the selected series. Times in ms. */
export interface SelectHints {
  readonly start: number;
  readonly end: number;
  /** Query step in ms; 0 for instant queries. */
  readonly step: number;
  /** The function the selector is an argument of (`rate`, `sum_over_time`, …), or '' (or 'series' for metadata). */
  readonly func: string;
  /** Range of the range selector in ms; 0 for instant selectors. */
  readonly range: number;
  /** Grouping labels of the enclosing aggregation. */
  readonly grouping: readonly string[];
  /** True when `grouping` are `by` labels, false for `without`. */
  readonly by: boolean;
}

/** The series a select found, sorted by labels, each label set once, with warnings (e.g. from a partial response). */
export interface SeriesSet {
  readonly series: readonly Series[];
  readonly warnings?: readonly string[];
  /** How long selecting it took (ms), where the storage knows it better than its caller (selections read together). */
  readonly elapsedMs?: number;
}

/** One selection of a query: its hints and matchers. */
export interface SelectRequest {
  readonly hints: SelectHints;
  readonly matchers: readonly Matcher[];
}

export interface Querier {
  select(hints: SelectHints, matchers: readonly Matcher[], signal?: AbortSignal): Promise<SeriesSet>;
  /**
   * Every selection of a query at once, in order, for a storage that can serve several with one read
   * (the querier asks its stores once for `a / b`); without it, each is selected on its own.
   */
  selectAll?(selections: readonly SelectRequest[], signal?: AbortSignal): Promise<SeriesSet[]>;
  labelNames?(matchers: readonly Matcher[], signal?: AbortSignal): Promise<string[]>;
  labelValues?(name: string, matchers: readonly Matcher[], signal?: AbortSignal): Promise<string[]>;
  close(): void | Promise<void>;
}

export interface Queryable {
  /** A querier over samples with mint ≤ t ≤ maxt (ms). */
  querier(mint: number, maxt: number): Promise<Querier> | Querier;
}
