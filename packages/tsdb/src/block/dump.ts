import { ValueType, type SampleIterator } from '../chunkenc/chunk.js';
import { Labels } from '../labels/labels.js';
import type { Matcher } from '../labels/matcher.js';
import type { Series } from '../series.js';
import type { BlockReader } from './reader.js';
import { ChainMergeIterator } from '../chain.js';

/**
 * Go's `%g` for float64 as `fmt` prints it (what `promtool tsdb dump` writes): the shortest digits
 * that round-trip, in exponent form when the decimal exponent is < −4 or ≥ 6 (Go's rule for shortest
 * output), with at least two exponent digits (`1e+06`, `1.5e-05`); `NaN`, `+Inf`, `-Inf`, `-0`.
 */
export function formatGoFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const sign = v < 0 ? '-' : '';
  // toExponential() without an argument gives the shortest round-trip digits, like Go's shortest mode.
  const e = Math.abs(v).toExponential();
  const at = e.indexOf('e');
  const digits = e.slice(0, at).replace('.', '');
  const exp = Number(e.slice(at + 1));
  if (exp < -4 || exp >= 6) {
    const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const ae = Math.abs(exp);
    return `${sign}${mant}e${exp < 0 ? '-' : '+'}${ae < 10 ? '0' : ''}${ae}`;
  }
  const dp = exp + 1;
  if (dp <= 0) return `${sign}0.${'0'.repeat(-dp)}${digits}`;
  if (dp >= digits.length) return `${sign}${digits}${'0'.repeat(dp - digits.length)}`;
  return `${sign}${digits.slice(0, dp)}.${digits.slice(dp)}`;
}

/** Go's %g, with a fast path for the common range where JavaScript's String() prints the same. */
function formatValue(v: number): string {
  const a = Math.abs(v);
  return a >= 1e-4 && a < 1e6 ? String(v) : formatGoFloat(v);
}

/**
 * Writes every sample of the blocks as `promtool tsdb dump` prints it: `{labels} value timestamp`, series
 * in label order across all blocks, the samples of a series from all blocks merged in time order (one
 * sample per timestamp where blocks overlap). `write` receives batches of lines.
 */
export async function dumpSamples(
  blocks: readonly BlockReader[],
  matchers: readonly Matcher[],
  mint: number,
  maxt: number,
  write: (text: string) => Promise<void>,
): Promise<void> {
  const sources = blocks.map((b) => b.series(matchers, mint, maxt));
  const heads: (Series | undefined)[] = await Promise.all(sources.map(async (s) => (await s.next()).value ?? undefined));
  let out = '';
  for (;;) {
    let min: Series | undefined;
    for (const h of heads) if (h !== undefined && (min === undefined || Labels.compare(h.labels, min.labels) < 0)) min = h;
    if (min === undefined) break;
    const its: SampleIterator[] = [];
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i];
      if (h === undefined || !h.labels.equals(min.labels)) continue;
      its.push(h.iterator());
      heads[i] = (await (sources[i] as AsyncGenerator<Series>).next()).value ?? undefined;
    }
    const prefix = `${min.labels.toString()} `;
    const it = its.length === 1 ? (its[0] as SampleIterator) : new ChainMergeIterator(its);
    while (it.next() === ValueType.Float) {
      out += `${prefix}${formatValue(it.atFloat())} ${it.atT()}\n`;
      if (out.length > 1 << 16) {
        await write(out);
        out = '';
      }
    }
    const err = it.err();
    if (err !== null) throw err;
  }
  if (out.length > 0) await write(out);
}
