/**
 * `load_with_nhcb`: promqltest also loads every classic histogram (`_bucket{le}`, `_count`, `_sum` series
 * of one base name and labels) as a native histogram with custom buckets (NHCB, schema −53), one sample
 * per timestamp, as Prometheus' convertnhcb converts scraped classic histograms.
 */
import { CUSTOM_BUCKETS_SCHEMA, FloatHistogram, Labels } from '@strata/tsdb';

/** One timestamp's classic histogram as its series give it. */
interface Classic {
  /** Cumulative counts by upper bound, in the order the bounds came (sorted on conversion). */
  readonly buckets: Map<number, number>;
  count: number | undefined;
  sum: number;
}

/** Go's strconv.ParseFloat for `le` values: numbers, and Inf/NaN in any case with an optional sign. */
function parseLe(text: string): number {
  const t = text.toLowerCase();
  if (/^[+]?inf(inity)?$/.test(t)) return Infinity;
  if (/^-inf(inity)?$/.test(t)) return -Infinity;
  return t.trim() === '' ? NaN : Number(t);
}

export class NhcbCollector {
  readonly #byBase = new Map<string, { labels: Labels; byTime: Map<number, Classic> }>();

  /** Notes a float sample of a loaded series; series that are not part of a classic histogram are ignored. */
  add(labels: Labels, t: number, v: number): void {
    const name = labels.get('__name__');
    const m = /^(.*)_(bucket|count|sum)$/.exec(name);
    if (m === null) return;
    const kind = m[2] as 'bucket' | 'count' | 'sum';
    let le = 0;
    if (kind === 'bucket') {
      if (labels.get('le') === '') throw new Error(`expected bucket label in metric ${labels.toString()}`);
      le = parseLe(labels.get('le'));
      if (Number.isNaN(le)) return;
    }
    const base = labels.without(['le']).with('__name__', m[1] as string);
    const key = base.key();
    let entry = this.#byBase.get(key);
    if (entry === undefined) this.#byBase.set(key, (entry = { labels: base, byTime: new Map() }));
    let c = entry.byTime.get(t);
    if (c === undefined) entry.byTime.set(t, (c = { buckets: new Map(), count: undefined, sum: 0 }));
    if (kind === 'bucket') {
      // A repeated bound keeps its first count, as convertnhcb ignores duplicates.
      if (!c.buckets.has(le)) c.buckets.set(le, v);
    } else if (kind === 'count') {
      c.count = v;
    } else {
      c.sum = v;
    }
  }

  /** The native histograms, per base series, in time order. */
  *histograms(): Generator<{ labels: Labels; t: number; h: FloatHistogram }> {
    for (const { labels, byTime } of this.#byBase.values()) {
      for (const t of [...byTime.keys()].sort((a, b) => a - b)) yield { labels, t, h: convert(byTime.get(t) as Classic, labels) };
    }
  }
}

/** convertnhcb's TempHistogram.Convert: cumulative classic buckets to per-bucket counts with custom bounds. */
function convert(c: Classic, labels: Labels): FloatHistogram {
  const bounds = [...c.buckets.keys()].sort((a, b) => a - b);
  const fail = (msg: string): never => {
    throw new Error(`converting ${labels.toString()} to a native histogram: ${msg}`);
  };
  for (let i = 0; i < bounds.length; i++) {
    const v = c.buckets.get(bounds[i] as number) as number;
    if (v < 0) fail(`bucket count must be non-negative: le=${bounds[i]}, count=${v}`);
    if (i > 0 && v < (c.buckets.get(bounds[i - 1] as number) as number)) fail('count is not cumulative');
  }
  const count = c.count ?? (bounds.length > 0 ? (c.buckets.get(bounds[bounds.length - 1] as number) as number) : 0);
  if (count < 0) fail(`count must be non-negative: count=${count}`);
  if (bounds.length === 0 || bounds[bounds.length - 1] !== Infinity) {
    bounds.push(Infinity);
    c.buckets.set(Infinity, count);
  }
  const last = c.buckets.get(Infinity) as number;
  if (count !== last) fail(`count mismatch: count=${count} != le=+Inf count=${last}`);
  let prev = 0;
  const buckets = bounds.map((b) => {
    const v = c.buckets.get(b) as number;
    const d = v - prev;
    prev = v;
    return d;
  });
  return new FloatHistogram({
    schema: CUSTOM_BUCKETS_SCHEMA, count, sum: c.sum,
    positiveSpans: [{ offset: 0, length: buckets.length }], positiveBuckets: buckets, customValues: bounds.slice(0, -1),
  }).compact(0);
}
