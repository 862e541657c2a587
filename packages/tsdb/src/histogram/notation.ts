/**
 * The native-histogram notation of Prometheus' PromQL test scripts (promqltest, promtool rule tests):
 * `{{schema:1 sum:3 count:22 z_bucket:3 z_bucket_w:0.001 buckets:[5 10 7] offset:1 n_buckets:[1 2]
 * n_offset:2 counter_reset_hint:gauge custom_values:[1 2 5]}}`, and the series items `{{…}}xN`,
 * `{{a}}+{{b}}xN`, `{{a}}-{{b}}xN`.
 */
import { FloatHistogram } from './float.js';
import { CounterResetHint, type Span } from './types.js';

/** A histogram description or series item that is not valid notation. */
export class HistogramNotationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HistogramNotationError';
  }
}

/** One series item of histogram notation; `g` so that it can find the items in a line of values. */
export const HISTOGRAM_SERIES_ITEM = /\{\{[^}]*\}\}(?:[+-]\{\{[^}]*\}\})?(?:x\d+)?/g;

const ITEM = /^(\{\{[^}]*\}\})(?:([+-])(\{\{[^}]*\}\}))?(?:x(\d+))?$/;
const DESC_ITEM = /([a-z_]+):(\[[^\]]*\]|[^\s\]]+)/y;
const HINTS: Readonly<Record<string, CounterResetHint>> = {
  unknown: CounterResetHint.Unknown,
  reset: CounterResetHint.CounterReset,
  not_reset: CounterResetHint.NotCounterReset,
  gauge: CounterResetHint.Gauge,
};

/** Parses `{{…}}` into a histogram with one positive and one negative span, as promqltest builds it. */
export function parseHistogramNotation(text: string): FloatHistogram {
  const t = text.trim();
  if (!t.startsWith('{{') || !t.endsWith('}}')) throw new HistogramNotationError(`not a histogram description: ${t}`);
  const desc = new Map<string, string>();
  const inner = t.slice(2, -2);
  let pos = 0;
  for (;;) {
    while (pos < inner.length && /\s/.test(inner[pos] as string)) pos++;
    if (pos >= inner.length) break;
    DESC_ITEM.lastIndex = pos;
    const m = DESC_ITEM.exec(inner);
    if (m === null) throw new HistogramNotationError(`bad histogram description at ${JSON.stringify(inner.slice(pos))}`);
    const key = m[1] as string;
    if (desc.has(key)) throw new HistogramNotationError(`duplicate key "${key}" in histogram`);
    desc.set(key, m[2] as string);
    pos = DESC_ITEM.lastIndex;
  }
  const number = (key: string): number | undefined => {
    const v = desc.get(key);
    return v === undefined ? undefined : parseNumber(v, key);
  };
  const integer = (key: string): number | undefined => {
    const v = desc.get(key);
    if (v === undefined) return undefined;
    if (!/^[+-]?\d+$/.test(v)) throw new HistogramNotationError(`error parsing ${key} number: ${v}`);
    return Number(v);
  };
  for (const key of desc.keys()) {
    if (!KEYS.has(key)) throw new HistogramNotationError(`unknown histogram description key "${key}"`);
  }
  const hintText = desc.get('counter_reset_hint');
  const hint = hintText === undefined ? CounterResetHint.Unknown : HINTS[hintText];
  if (hint === undefined) throw new HistogramNotationError(`error parsing counter_reset_hint: unknown value ${hintText}`);
  const positive = bucketsAndSpans(desc.get('buckets'), integer('offset'), 'buckets');
  const negative = bucketsAndSpans(desc.get('n_buckets'), integer('n_offset'), 'n_buckets');
  const customValues = desc.get('custom_values');
  return new FloatHistogram({
    counterResetHint: hint,
    schema: integer('schema') ?? 0,
    sum: number('sum') ?? 0,
    count: number('count') ?? 0,
    zeroCount: number('z_bucket') ?? 0,
    zeroThreshold: number('z_bucket_w') ?? 0,
    positiveSpans: positive.spans,
    positiveBuckets: positive.buckets,
    negativeSpans: negative.spans,
    negativeBuckets: negative.buckets,
    customValues: customValues === undefined ? [] : numberList(customValues, 'custom_values'),
  });
}

const KEYS = new Set([
  'schema',
  'sum',
  'count',
  'z_bucket',
  'z_bucket_w',
  'custom_values',
  'buckets',
  'offset',
  'n_buckets',
  'n_offset',
  'counter_reset_hint',
]);

function bucketsAndSpans(
  list: string | undefined,
  offset: number | undefined,
  key: string,
): { buckets: number[]; spans: Span[] } {
  const buckets = list === undefined ? [] : numberList(list, key);
  // One span holding all buckets; none without buckets (an offset alone has no effect).
  const spans = buckets.length > 0 ? [{ offset: offset ?? 0, length: buckets.length }] : [];
  return { buckets, spans };
}

function numberList(text: string, key: string): number[] {
  if (!text.startsWith('[') || !text.endsWith(']')) throw new HistogramNotationError(`error parsing ${key} float array: ${text}`);
  const items = text.slice(1, -1).trim().split(/\s+/);
  if (items.length === 1 && items[0] === '') throw new HistogramNotationError(`empty ${key} float array`);
  return items.map((v) => parseNumber(v, key));
}

/** A number as the PromQL lexer reads it: decimal, hexadecimal, Inf, NaN, with an optional sign. */
function parseNumber(text: string, key: string): number {
  const m = /^([+-]?)(.*)$/.exec(text) as RegExpExecArray;
  const sign = m[1] === '-' ? -1 : 1;
  const body = (m[2] as string).toLowerCase();
  let v: number;
  if (body === 'inf') v = Infinity;
  else if (body === 'nan') v = NaN;
  else if (/^0x[0-9a-f]+$/.test(body)) v = parseInt(body.slice(2), 16);
  else if (/^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(body)) v = Number(body);
  else throw new HistogramNotationError(`error parsing ${key} number: ${text}`);
  return sign * v;
}

/**
 * The samples of one series item, as promqltest expands it: `{{h}}` is one sample; `{{h}}xN` is N+1
 * samples of h (the first being the sample at time 0); `{{a}}+{{b}}xN` is a, a+b, a+2b, … (N+1 samples,
 * each the previous plus b with histogram addition, so spans grow as Prometheus' Add grows them and the
 * counter reset hint combines as Add combines it); `{{a}}-{{b}}xN` likewise with subtraction.
 */
export function expandHistogramSeries(item: string): FloatHistogram[] {
  const m = ITEM.exec(item.trim());
  if (m === null) throw new HistogramNotationError(`bad histogram series item: ${item}`);
  const base = parseHistogramNotation(m[1] as string);
  if (m[4] === undefined) {
    if (m[2] !== undefined) throw new HistogramNotationError(`histogram series item ${item} lacks the repetition xN`);
    return [base];
  }
  const times = Number(m[4]);
  const out = [base];
  if (m[2] === undefined) {
    for (let i = 1; i <= times; i++) out.push(base.copy());
    return out;
  }
  const increment = parseHistogramNotation(m[3] as string);
  let current = base;
  for (let i = 1; i <= times; i++) {
    if (current.schema > increment.schema) {
      throw new HistogramNotationError(
        `error combining histograms: cannot merge from schema ${increment.schema} to ${current.schema}`,
      );
    }
    const next = current.copy();
    if (m[2] === '+') next.add(increment);
    else next.sub(increment);
    out.push(next);
    current = next;
  }
  return out;
}
