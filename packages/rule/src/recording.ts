/**
 * A recording rule as Prometheus 2.42 evaluates it (rules/recording.go): the expression's result with
 * `__name__` set to the rule's name and the rule's labels set (an empty value removes the label). Two
 * samples with the same labels after that are an error, as is a result over the group's `limit`.
 */
import { labelsHash, METRIC_NAME, type Label, type Labels } from '@strata/tsdb';
import type { QueryFunc } from './query.js';

/** A sample a rule writes at its evaluation time. */
export interface RuleSample {
  readonly labels: Labels;
  readonly value: number;
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

  async eval(tsNs: bigint, query: QueryFunc, opts: { partialResponse: boolean; limit: number; signal?: AbortSignal }): Promise<RuleSample[]> {
    const result = await query(this.def.query, Number(tsNs / 1_000_000n), opts);
    const seen = new Set<bigint>();
    const out: RuleSample[] = [];
    for (const s of result) {
      let labels = s.labels.with(METRIC_NAME, this.def.name);
      for (const l of this.def.labels) labels = l.value === '' ? labels.without([l.name]) : labels.with(l.name, l.value);
      const h = labelsHash(labels);
      if (seen.has(h)) throw new Error('vector contains metrics with the same labelset after applying rule labels');
      seen.add(h);
      out.push({ labels, value: s.value });
    }
    if (opts.limit > 0 && out.length > opts.limit) throw new Error(`exceeded limit of ${opts.limit} with ${out.length} series`);
    return out;
  }
}
