import type { Relabeler } from '@strata/block';
import { MatcherType, type LabelMatcher } from '@strata/storeapi';
import { alternationOf, Labels } from '@strata/tsdb';

/**
 * Which of an endpoint's TSDBs the querier reads, by their external labels: the querier's
 * `--selector.relabel-config` (Thanos' TSDBSelector) and `--selector-label`.
 *
 * Relabel rules run over each of an endpoint's label sets. An endpoint none of whose sets a rule keeps
 * is not asked; one of whose sets only some are kept (a store gateway over several clusters' blocks)
 * is asked with matchers that admit those alone. Thanos builds those matchers from the sets as the
 * rules leave them, and from the union of every endpoint's: a rule that writes a label (hashmod's
 * target) would then select nothing, and sets of different endpoints mix. Here they are each endpoint's
 * own sets as it announced them, with their values quoted.
 *
 * Selector labels are what this querier stands for to a querier stacked on it: they extend every label
 * set it announces, and a request whose matchers on them do not match is answered empty; the
 * matchers on them are then dropped, as its endpoints do not have those labels.
 */
export class TsdbSelector {
  readonly #relabel: Relabeler | undefined;
  readonly labels: Labels;
  /** Each endpoint's kept label sets, by the array its Info answer was read into. */
  readonly #kept = new WeakMap<readonly Labels[], Selection>();

  constructor(opts: { relabel?: Relabeler; labels?: Labels } = {}) {
    this.#relabel = opts.relabel?.empty === false ? opts.relabel : undefined;
    this.labels = opts.labels ?? Labels.EMPTY;
  }

  /** Nothing to select: every endpoint is read whole. */
  get empty(): boolean {
    return this.#relabel === undefined && this.labels.size === 0;
  }

  /**
   * Which of `labelSets` the relabel rules keep, and the matchers that admit those alone (none where all
   * are kept); undefined where they keep none. An endpoint that announces no label set is read whole.
   */
  select(labelSets: readonly Labels[]): Selection | undefined {
    if (this.#relabel === undefined || labelSets.length === 0) return { labelSets, matchers: [] };
    let s = this.#kept.get(labelSets);
    if (s === undefined) {
      const relabel = this.#relabel;
      const kept = labelSets.filter((ls) => relabel.process(ls.toRecord()) !== undefined);
      s = { labelSets: kept, matchers: kept.length === labelSets.length ? [] : matchersFor(kept) };
      this.#kept.set(labelSets, s);
    }
    return s.labelSets.length === 0 ? undefined : s;
  }

  /**
   * A request's matchers less those on selector labels, or undefined where one of those does not
   * match this querier's value (the request is then answered empty).
   */
  strip<M extends { readonly name: string }>(matchers: readonly M[], matches: (m: M, value: string) => boolean): readonly M[] | undefined {
    if (this.labels.size === 0 || !matchers.some((m) => this.labels.has(m.name))) return matchers;
    const rest: M[] = [];
    for (const m of matchers) {
      if (!this.labels.has(m.name)) rest.push(m);
      else if (!matches(m, this.labels.get(m.name))) return undefined;
    }
    return rest;
  }

  /** The label sets this querier announces for endpoints that announce `labelSets` (all of them, deduplicated and sorted). */
  announced(labelSets: Iterable<Labels>): Labels[] {
    const seen = new Map<string, Labels>();
    for (const ls of labelSets) {
      const extended = ls.merge(this.labels);
      seen.set(extended.key(), extended);
    }
    // With no endpoint announcing any, the selector labels alone still say what this querier stands for.
    if (seen.size === 0 && this.labels.size > 0) seen.set(this.labels.key(), this.labels);
    return [...seen.values()].sort(Labels.compare);
  }
}

export interface Selection {
  /** The endpoint's label sets that are read. */
  readonly labelSets: readonly Labels[];
  /** Matchers to add to its requests so that it answers from those sets alone. */
  readonly matchers: readonly LabelMatcher[];
}

/**
 * Matchers admitting the series of `labelSets` (Thanos' MatchersForLabelSets): per label name, a regex
 * of its values in the sets, and of the empty value where a set lacks it.
 */
export function matchersFor(labelSets: readonly Labels[]): LabelMatcher[] {
  const values = new Map<string, Set<string>>();
  for (const ls of labelSets) for (const l of ls) (values.get(l.name) ?? values.set(l.name, new Set()).get(l.name)!).add(l.value);
  const out: LabelMatcher[] = [];
  for (const [name, vs] of [...values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (labelSets.some((ls) => !ls.has(name))) vs.add('');
    out.push({ type: MatcherType.RE, name, value: alternationOf([...vs].sort()) });
  }
  return out;
}
