import { Counter, type Registry } from 'prom-client';

/**
 * Metrics counted on hot paths (a cache lookup, a range read, every Series call) in plain cells, handed
 * to prom-client only when /metrics is scraped: prom-client validates and hashes the label set on every
 * inc() and observe(), children made with labels() included, which costs more than a small call counted.
 */

/** A counter's value for one label set, added to in place. */
export interface CountCell {
  value: number;
}

/** A counter counted in cells; returns a function making the cell of one label set (exposed from the start, at 0). */
export function scrapedCounter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): (labels: Record<L, string>) => CountCell {
  const cells: { labels: Record<L, string>; cell: CountCell }[] = [];
  new Counter<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const { labels, cell } of cells) this.inc(labels, cell.value);
    },
  });
  return (labels) => {
    const cell = { value: 0 };
    cells.push({ labels, cell });
    return cell;
  };
}

/** A histogram's observations for one label set. */
export class HistogramCell {
  /** Observations per bucket (not cumulative), the last one above every bound (+Inf). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    (this.counts[i] as number)++;
    this.sum += value;
    this.count++;
  }
}

/** One sample as prom-client's registry writes it. */
interface MetricValue {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * A histogram observed in cells, exposed as prom-client's Histogram exposes one (`_bucket` with `le`,
 * `_sum`, `_count`); returns a function making the cell of one label set (exposed from the start, empty).
 */
export function scrapedHistogram<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[], buckets: readonly number[]): (labels: Record<L, string>) => HistogramCell {
  const bounds = [...buckets].sort((a, b) => a - b);
  const cells: { labels: Record<L, string>; cell: HistogramCell }[] = [];
  const get = () => {
    const values: MetricValue[] = [];
    for (const { labels, cell } of cells) {
      let cumulative = 0;
      for (let i = 0; i <= bounds.length; i++) {
        cumulative += cell.counts[i] as number;
        values.push({ metricName: `${name}_bucket`, labels: { le: i < bounds.length ? (bounds[i] as number) : '+Inf', ...labels }, value: cumulative });
      }
      values.push({ metricName: `${name}_sum`, labels, value: cell.sum }, { metricName: `${name}_count`, labels, value: cell.count });
    }
    return { name, help, type: 'histogram', values, aggregator: 'sum' };
  };
  // Registry.resetMetrics() empties every cell, as it empties prom-client's own metrics.
  const reset = () => {
    for (const { cell } of cells) cell.reset();
  };
  registry.registerMetric({ name, help, labelNames, get, reset } as unknown as Parameters<Registry['registerMetric']>[0]);
  return (labels) => {
    const cell = new HistogramCell(bounds);
    cells.push({ labels, cell });
    return cell;
  };
}
