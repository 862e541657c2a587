/**
 * Exemplars of the local TSDB, as Prometheus' CircularExemplarStorage (tsdb/exemplar.go) keeps them: a
 * ring of at most `max` exemplars over all series, the oldest evicted by the next, each series' own
 * chained oldest to newest through it. An exemplar is refused when its labels are longer than 128
 * characters (names and values), dropped when it equals its series' newest, and refused as out of order
 * when it is not later than that one.
 */
import { type Label, type Labels, type Matcher, matchLabels } from '@strata/tsdb';

/** Prometheus' ExemplarMaxLabelSetLength: characters of an exemplar's label names and values together. */
export const EXEMPLAR_MAX_LABELS_LENGTH = 128;

export interface Exemplar {
  readonly labels: readonly Label[];
  readonly value: number;
  /** Milliseconds since the epoch. */
  readonly ts: number;
}

/** What became of an exemplar: kept, or why not. */
export type ExemplarOutcome = 'added' | 'duplicate' | 'outOfOrder' | 'labelsTooLong';

interface Entry {
  readonly series: SeriesExemplars;
  readonly exemplar: Exemplar;
  /** The series' next newer entry's index in the ring (-1: none). */
  next: number;
}

interface SeriesExemplars {
  readonly labels: Labels;
  oldest: number;
  newest: number;
}

export class ExemplarStorage {
  readonly #ring: (Entry | undefined)[];
  readonly #series = new Map<string, SeriesExemplars>();
  #next = 0;

  constructor(readonly max: number) {
    if (!(max > 0)) throw new RangeError(`exemplar storage needs room for one exemplar at least, got ${max}`);
    this.#ring = new Array<Entry | undefined>(max);
  }

  /** Exemplars held. */
  get size(): number {
    return this.#ring[this.#next] !== undefined ? this.max : this.#next;
  }

  /** Whether `e` would be added to the series of `labels` now. */
  check(labels: Labels, e: Exemplar): ExemplarOutcome {
    const s = this.#series.get(labels.key());
    return exemplarOutcome(s !== undefined ? (this.#ring[s.newest] as Entry).exemplar : undefined, e);
  }

  /** Adds `e` to the series of `labels` unless `check` refuses it; what became of it. */
  add(labels: Labels, e: Exemplar): ExemplarOutcome {
    const outcome = this.check(labels, e);
    if (outcome !== 'added') return outcome;
    const i = this.#next;
    const evicted = this.#ring[i];
    if (evicted !== undefined) {
      // The oldest of all is its series' oldest.
      if (evicted.next === -1) this.#series.delete(evicted.series.labels.key());
      else evicted.series.oldest = evicted.next;
    }
    const key = labels.key();
    let s = this.#series.get(key);
    if (s === undefined) this.#series.set(key, (s = { labels, oldest: i, newest: i }));
    else {
      (this.#ring[s.newest] as Entry).next = i;
      s.newest = i;
    }
    this.#ring[i] = { series: s, exemplar: e, next: -1 };
    this.#next = (i + 1) % this.max;
    return 'added';
  }

  /** The exemplars in [mint, maxt] of the series one of the matcher sets selects, oldest first. */
  select(mint: number, maxt: number, matcherSets: readonly (readonly Matcher[])[]): { labels: Labels; exemplars: Exemplar[] }[] {
    const out: { labels: Labels; exemplars: Exemplar[] }[] = [];
    for (const s of this.#series.values()) {
      if (!matcherSets.some((ms) => matchLabels(ms, s.labels))) continue;
      const exemplars: Exemplar[] = [];
      for (let i = s.oldest; i !== -1; ) {
        const entry = this.#ring[i] as Entry;
        if (entry.exemplar.ts > maxt) break;
        if (entry.exemplar.ts >= mint) exemplars.push(entry.exemplar);
        i = entry.next;
      }
      if (exemplars.length > 0) out.push({ labels: s.labels, exemplars });
    }
    return out;
  }
}

/**
 * The exemplars one append call takes, each checked after its series' newest: stored, or taken earlier in
 * the call (they are stored only once the call is logged).
 */
export class ExemplarBatch<S extends { readonly labels: Labels }> {
  readonly accepted: { readonly series: S; readonly exemplar: Exemplar }[] = [];
  outOfOrder = 0;
  readonly #newest = new Map<S, Exemplar>();

  constructor(private readonly storage: ExemplarStorage) {}

  offer(series: S, e: Exemplar): void {
    const outcome = exemplarOutcome(this.#newest.get(series), e, () => this.storage.check(series.labels, e));
    if (outcome === 'outOfOrder') this.outOfOrder++;
    if (outcome !== 'added') return;
    this.#newest.set(series, e);
    this.accepted.push({ series, exemplar: e });
  }

  /** Stores what the call took. */
  commit(): void {
    for (const { series, exemplar } of this.accepted) this.storage.add(series.labels, exemplar);
  }
}

/**
 * What becomes of `e` after its series' newest exemplar: `newest`, else what `otherwise` says (the
 * storage's check, when `newest` is one not stored yet).
 */
export function exemplarOutcome(newest: Exemplar | undefined, e: Exemplar, otherwise?: () => ExemplarOutcome): ExemplarOutcome {
  let length = 0;
  for (const l of e.labels) length += [...l.name].length + [...l.value].length;
  if (length > EXEMPLAR_MAX_LABELS_LENGTH) return 'labelsTooLong';
  if (newest === undefined) return otherwise?.() ?? 'added';
  if (sameExemplar(newest, e)) return 'duplicate';
  return e.ts <= newest.ts ? 'outOfOrder' : 'added';
}

/** Prometheus' Exemplar.Equals: labels, value (as Go's ==: a NaN equals nothing) and time. */
function sameExemplar(a: Exemplar, b: Exemplar): boolean {
  if (a.ts !== b.ts || a.value !== b.value || a.labels.length !== b.labels.length) return false;
  return a.labels.every((l, i) => l.name === b.labels[i]?.name && l.value === b.labels[i]?.value);
}
