import type { ChunkMeta } from '../chunkenc/chunk.js';
import { floatHi, floatLo } from '../chunkenc/floatbits.js';
import { HeadChunkCutter } from '../block/chunk-cutter.js';
import type { BlockMeta } from '../block/meta.js';
import { BlockWriter } from '../block/writer.js';
import { Labels } from '../labels/labels.js';
import { OpenMetricsParser } from './parser.js';

const HOUR = 3600_000;
/** Prometheus' default (and minimum) block duration. */
export const DEFAULT_BLOCK_DURATION = 2 * HOUR;
/** promtool commits its appender every this many samples; out-of-order samples within a batch are dropped. */
const SAMPLES_PER_COMMIT = 5000;

/** promtool's choice: the largest of 2h·3^k (k < 10) not above `max`; never below 2h. */
export function compatibleBlockDuration(max: number): number {
  if (max <= DEFAULT_BLOCK_DURATION) return DEFAULT_BLOCK_DURATION;
  let d = DEFAULT_BLOCK_DURATION;
  for (let k = 1; k < 10 && d * 3 <= max; k++) d *= 3;
  return d;
}

export interface BackfillOptions {
  /** promtool's --max-block-duration, in ms. */
  maxBlockDuration?: number;
  /** Input name for error messages. */
  name?: string;
  /** Called after each block is written. */
  onBlock?: (meta: BlockMeta, dir: string) => void;
}

/** One series within one block window: its committed samples, cut into chunks as they commit. */
interface WindowSeries {
  labels: Labels;
  cutter: HeadChunkCutter;
  chunks: ChunkMeta[];
  hasLast: boolean;
  lastT: number;
  lastHi: number;
  lastLo: number;
}

/**
 * A block window with promtool's appender semantics: samples queue up in a batch that is committed every
 * 5000 samples. Appending checks only against committed samples (going back in time, or a different value
 * at the same time, is an error that aborts the import); committing drops samples that are not after the
 * series' last sample, which silently removes out-of-order samples and exact duplicates within a batch.
 */
class Window {
  readonly series = new Map<string, WindowSeries>();
  readonly #pending: WindowSeries[] = [];
  readonly #pendingT = new Float64Array(SAMPLES_PER_COMMIT);
  readonly #pendingV = new Float64Array(SAMPLES_PER_COMMIT);

  constructor(readonly start: number) {}

  append(key: string, labels: () => Labels, chunkRange: number, t: number, v: number): string | undefined {
    let s = this.series.get(key);
    if (s === undefined) {
      s = { labels: labels(), cutter: new HeadChunkCutter(chunkRange), chunks: [], hasLast: false, lastT: 0, lastHi: 0, lastLo: 0 };
      this.series.set(key, s);
    }
    if (s.hasLast) {
      if (t < s.lastT) return 'out of order sample';
      if (t === s.lastT && (floatHi(v) !== s.lastHi || floatLo(v) !== s.lastLo)) return 'duplicate sample for timestamp';
    }
    const n = this.#pending.length;
    this.#pending.push(s);
    this.#pendingT[n] = t;
    this.#pendingV[n] = v;
    if (n + 1 === SAMPLES_PER_COMMIT) this.commit();
    return undefined;
  }

  commit(): void {
    for (let i = 0; i < this.#pending.length; i++) {
      const s = this.#pending[i] as WindowSeries;
      const t = this.#pendingT[i] as number;
      if (s.hasLast && t <= s.lastT) continue;
      const v = this.#pendingV[i] as number;
      const done = s.cutter.append(t, v);
      if (done !== undefined) s.chunks.push(done);
      s.hasLast = true;
      s.lastT = t;
      s.lastHi = floatHi(v);
      s.lastLo = floatLo(v);
    }
    this.#pending.length = 0;
  }
}

/**
 * `promtool tsdb create-blocks-from openmetrics`: one level-1 block per non-empty window of the block
 * duration (aligned to multiples of it since the epoch), chunks cut as promtool's head cuts them (with
 * a chunk range of twice the block duration), minTime = first sample, maxTime = last sample + 1.
 * Unlike promtool, which re-reads the input once per window, this reads it once and keeps every window's
 * encoded chunks in memory.
 */
export async function createBlocksFromOpenMetrics(input: Uint8Array, outDir: string, opts: BackfillOptions = {}): Promise<BlockMeta[]> {
  const name = opts.name ?? 'input';
  const duration = compatibleBlockDuration(opts.maxBlockDuration ?? DEFAULT_BLOCK_DURATION);
  const chunkRange = 2 * duration;
  const p = new OpenMetricsParser(input, name);
  const labelsByKey = new Map<string, Labels>();
  const windows = new Map<number, Window>();
  let mint = Infinity;
  while (p.next()) {
    const key = p.seriesText;
    const labels = (): Labels => {
      let l = labelsByKey.get(key);
      if (l === undefined) labelsByKey.set(key, (l = p.labels(key)));
      return l;
    };
    const t = p.timestamp;
    if (t === undefined) throw new Error(`${name}: line ${p.lineNumber}: expected timestamp for series ${labels().toString()}, got none`);
    if (t < mint) mint = t;
    const start = Math.floor(t / duration) * duration;
    let w = windows.get(start);
    if (w === undefined) windows.set(start, (w = new Window(start)));
    const err = w.append(key, labels, chunkRange, t, p.value);
    if (err !== undefined) throw new Error(`${name}: line ${p.lineNumber}: add sample: ${err} (series ${labels().toString()} at ${t})`);
  }
  // promtool's first window starts at mint rounded toward zero: before the epoch, earlier samples are skipped.
  const first = Math.trunc(mint / duration) * duration;
  const metas: BlockMeta[] = [];
  for (const w of [...windows.values()].sort((a, b) => a.start - b.start)) {
    if (w.start < first) continue;
    w.commit();
    const series = [...w.series.values()].sort((a, b) => Labels.compare(a.labels, b.labels));
    const bw = await BlockWriter.create(outDir);
    for (const s of series) {
      const tail = s.cutter.flush();
      if (tail !== undefined) s.chunks.push(tail);
      await bw.addChunkSeries(s.labels, s.chunks);
      s.chunks.length = 0;
    }
    const meta = await bw.close();
    opts.onBlock?.(meta, bw.dir);
    metas.push(meta);
  }
  return metas;
}
