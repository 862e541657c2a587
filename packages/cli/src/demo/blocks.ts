import { ArraySampleIterator, BlockWriter, Labels, type BlockMeta, type ThanosMeta } from '@strata/tsdb';
import { DemoModel, type DemoSample } from './model.js';

/** The sample Prometheus writes for a successful scrape. */
const UP: DemoSample = { family: 'up', name: 'up', labels: {}, value: 1 };

export interface DemoBlocksOptions {
  /** Instance names (`host:port`), as Prometheus would label the scrapes. */
  instances: readonly string[];
  job: string;
  startMs: number;
  endMs: number;
  stepMs: number;
  /** Block length; blocks are aligned to multiples of it, as Prometheus and promtool cut them. */
  blockMs: number;
  /** Also `up` = 1 for every instance at every step, as Prometheus records each successful scrape (not part of the exporter's own output). */
  up?: boolean;
  /** The thanos section for every block (external labels), or none for plain Prometheus blocks. */
  thanos?: ThanosMeta;
  /** Called after each block with its meta. */
  onBlock?: (meta: BlockMeta, dir: string) => Promise<void> | void;
}

/**
 * Writes the demo service's history straight into TSDB blocks with Strata's own block writer, one
 * block per aligned window: what `--openmetrics-file` plus `create-blocks-from openmetrics` would
 * produce, without the text round trip (days of history in seconds).
 */
export async function writeDemoBlocks(outDir: string, opts: DemoBlocksOptions): Promise<BlockMeta[]> {
  const models = opts.instances.map((i) => new DemoModel(i));
  // Label sets are built once per series, not once per sample: sorting labels dominates otherwise.
  const labelCache = new Map<string, Labels>();
  const labelsOf = (instance: number, s: DemoSample): Labels => {
    let key = `${instance}\xff${s.name}`;
    for (const v of Object.values(s.labels)) key += `\xff${v}`;
    let l = labelCache.get(key);
    if (l === undefined) {
      l = Labels.from({ ...s.labels, __name__: s.name, job: opts.job, instance: opts.instances[instance] as string });
      labelCache.set(key, l);
    }
    return l;
  };
  const metas: BlockMeta[] = [];
  for (let w = Math.floor(opts.startMs / opts.blockMs) * opts.blockMs; w <= opts.endMs; w += opts.blockMs) {
    const from = Math.max(w, Math.ceil(opts.startMs / opts.stepMs) * opts.stepMs);
    const to = Math.min(w + opts.blockMs - 1, opts.endMs);
    const series = new Map<string, { labels: Labels; ts: number[]; vs: number[] }>();
    for (let t = from; t <= to; t += opts.stepMs) {
      models.forEach((m, i) => {
        for (const s of opts.up ? [...m.samples(t), UP] : m.samples(t)) {
          const labels = labelsOf(i, s);
          const key = labels.key();
          let entry = series.get(key);
          if (entry === undefined) {
            entry = { labels, ts: [], vs: [] };
            series.set(key, entry);
          }
          entry.ts.push(t);
          entry.vs.push(s.value);
        }
      });
    }
    if (series.size === 0) continue;
    const writer = await BlockWriter.create(outDir, { chunkRange: opts.blockMs, ...(opts.thanos ? { thanos: opts.thanos } : {}) });
    for (const s of [...series.values()].sort((a, b) => Labels.compare(a.labels, b.labels))) {
      await writer.addSeries(s.labels, new ArraySampleIterator(s.ts, s.vs));
    }
    const meta = await writer.close();
    metas.push(meta);
    await opts.onBlock?.(meta, writer.dir);
  }
  return metas;
}
