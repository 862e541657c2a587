/**
 * A recording rule as Prometheus 2.42 evaluates it (rules/recording.go): the expression's result with
 * `__name__` set to the rule's name and the rule's labels set (an empty value removes the label). Two
 * samples with the same labels after that are an error, as is a result over the group's `limit`.
 */
import { type FloatHistogram, labelsHash, METRIC_NAME, type Label, type Labels } from '@strata/tsdb';
import type { QueryFunc } from './query.js';

/** A sample a rule writes at its evaluation time: a float, or a native histogram (`value` unused). */
export interface RuleSample {
  readonly labels: Labels;
  readonly value: number;
  readonly histogram?: FloatHistogram;
}

/** How a rule is evaluated at a time: the group's settings. */
export interface RuleEvalOptions {
  readonly partialResponse: boolean;
  /** Most series (alerts) the rule may give (0: no limit). */
  readonly limit: number;
  /** The rule's data is read, and its samples written, this long before the evaluation time (Prometheus 3's query_offset). */
  readonly queryOffsetNs: bigint;
  readonly signal?: AbortSignal;
}

export interface RecordingRuleDef {
  name: string;
  /** The expression as Prometheus prints it (its AST's String()). */
  query: string;
  /** Sorted by name; an empty value removes the label. */
  labels: readonly Label[];
}

export class RecordingRule {
  constructor(readonly def: RecordingRuleDef) {}

  async eval(tsNs: bigint, query: QueryFunc, opts: RuleEvalOptions): Promise<RuleSample[]> {
    const result = await query(this.def.query, Number((tsNs - opts.queryOffsetNs) / 1_000_000n), opts);
    const seen = new Set<bigint>();
    const out: RuleSample[] = [];
    for (const s of result) {
      let labels = s.labels.with(METRIC_NAME, this.def.name);
      for (const l of this.def.labels) labels = l.value === '' ? labels.without([l.name]) : labels.with(l.name, l.value);
      const h = labelsHash(labels);
      if (seen.has(h)) throw new Error('vector contains metrics with the same labelset after applying rule labels');
      seen.add(h);
      out.push(s.histogram !== undefined ? { labels, value: 0, histogram: s.histogram } : { labels, value: s.value });
    }
    if (opts.limit > 0 && out.length > opts.limit) throw new Error(`exceeded limit of ${opts.limit} with ${out.length} series`);
    return out;
  }
}
