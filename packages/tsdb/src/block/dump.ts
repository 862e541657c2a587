import { ValueType, type SampleIterator } from '../chunkenc/chunk.js';
import { Labels, METRIC_NAME, quoteGo } from '../labels/labels.js';
import type { Matcher } from '../labels/matcher.js';
import type { Series } from '../series.js';
import type { BlockReader } from './reader.js';
import { ChainMergeIterator } from '../chain.js';
import { formatGoFloat } from '../encoding/gofloat.js';
import type { FloatHistogram } from '../histogram/float.js';
import { formatFloatHistogram } from '../histogram/format.js';

/** Go's %g, with a fast path for the common range where JavaScript's String() prints the same. */
function formatValue(v: number): string {
  const a = Math.abs(v);
  return a >= 1e-4 && a < 1e6 ? String(v) : formatGoFloat(v);
}

/**
 * How a dump writes each sample:
 * - `promtool`: as `promtool tsdb dump` prints it, `{labels} value timestamp` (a native histogram's
 *   value as `{count:…, sum:…, [lo,hi):n, …}`, as current promtool prints it);
 * - `openmetrics`: as `promtool tsdb dump-openmetrics` (Prometheus 2.48) writes it, for
 *   `create-blocks-from openmetrics` to read back: `name{labels} value seconds`, float samples only,
 *   ending with `# EOF`.
 */
export type DumpFormat = 'promtool' | 'openmetrics';

/**
 * Writes every sample of the blocks in `format`, series in label order across all blocks, the samples of
 * a series from all blocks merged in time order (one sample per timestamp where blocks overlap).
 * `write` receives batches of lines.
 */
export async function dumpSamples(
  blocks: readonly BlockReader[],
  matchers: readonly Matcher[],
  mint: number,
  maxt: number,
  write: (text: string) => Promise<void>,
  format: DumpFormat = 'promtool',
): Promise<void> {
  const sources = blocks.map((b) => b.series(matchers, mint, maxt));
  const heads: (Series | undefined)[] = await Promise.all(sources.map(async (s) => (await s.next()).value ?? undefined));
  const openMetrics = format === 'openmetrics';
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
    const prefix = openMetrics ? `${openMetricsSeries(min.labels)} ` : `${min.labels.toString()} `;
    const it = its.length === 1 ? (its[0] as SampleIterator) : new ChainMergeIterator(its);
    for (let type = it.next(); type !== ValueType.None; type = it.next()) {
      if (openMetrics) {
        if (type === ValueType.Float) out += `${prefix}${formatValue(it.atFloat())} ${(it.atT() / 1000).toFixed(3)}\n`;
      } else {
        const value = type === ValueType.Float ? formatValue(it.atFloat()) : formatFloatHistogram((it.atFloatHistogram as () => FloatHistogram)());
        out += `${prefix}${value} ${it.atT()}\n`;
      }
      if (out.length > 1 << 16) {
        await write(out);
        out = '';
      }
    }
    const err = it.err();
    if (err !== null) throw err;
  }
  if (openMetrics) out += '# EOF\n';
  if (out.length > 0) await write(out);
}

/** A series as dump-openmetrics names it: its metric name, then its other labels Go-quoted, without spaces. */
function openMetricsSeries(labels: Labels): string {
  const rest = labels.toArray().filter((l) => l.name !== METRIC_NAME);
  return `${labels.get(METRIC_NAME)}{${rest.map((l) => `${l.name}=${quoteGo(l.value)}`).join(',')}}`;
}
