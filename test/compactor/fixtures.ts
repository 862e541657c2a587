import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { downloadBlock, MetaFetcher, uploadBlock } from '@strata/block';
import type { CompactorConfig } from '@strata/compactor';
import type { Bucket } from '@strata/objstore';
import { PlainIterator, penaltyMerge } from '@strata/dedup';
import { BlockReader, ChainedChunksIterator, formatMeta, isULID, newULID, parseMeta, type BlockMeta, type ChunkMeta, type Labels } from '@strata/tsdb';
import { promtool } from '@strata/testing/prometheus';
import { decodedSamples } from '@strata/testing/samples';

export const HOUR = 3_600_000;
export const FIVE_MIN = 300_000;
export const STEP = 30_000;
// Three days of data starting on a 2d boundary, ten days back: old enough for any consistency delay.
export const T0 = Math.floor((Date.now() - 10 * 24 * HOUR) / (48 * HOUR)) * 48 * HOUR;
export const END = T0 + 72 * HOUR;

/**
 * The raw blocks of a stream of 2h blocks over [0h, 72h) after compaction: the newest block and the
 * blocks sharing its windows stay small, as Thanos' planner leaves them until later blocks arrive.
 */
export const EXPECTED_C1 = ['[0h,48h) L4', '[48h,56h) L3', '[56h,64h) L3', '[64h,66h) L2', '[66h,68h) L2', '[68h,70h) L2', '[70h,72h) L2'];

/** Blocks as `[from,to) level` in hours after T0, rounded outwards so replica offsets do not clutter expectations. */
export function layout(metas: readonly BlockMeta[]): string[] {
  return metas.map((m) => `[${Math.floor((m.minTime - T0) / HOUR)}h,${Math.ceil((m.maxTime - T0) / HOUR)}h) L${m.compaction.level}`);
}

export const ofStream = (metas: readonly BlockMeta[], cluster: string, resolution = 0): BlockMeta[] =>
  metas.filter((m) => m.thanos?.labels.cluster === cluster && m.thanos.downsample.resolution === resolution);

/** One series' samples as [t ms, v]. */
export type Samples = [number, number][];
/** Series by their promtool-dump label string. */
export type SeriesData = Map<string, Samples>;

export interface ReplicaSpec {
  /** Sample time offset against the step grid (HA replicas scrape at different moments). */
  offsetMs: number;
  /** [from, to) ranges this replica has no samples in, per series name. */
  gaps?: Record<string, [number, number][]>;
  /** Series only this replica has. */
  extraSeries?: string[];
}

/** Series every replica has: gauges and counters (one with a reset), job label for realism. */
export const COMMON_SERIES = ['demo_gauge_a', 'demo_gauge_b', 'demo_gauge_c', 'demo_requests_total', 'demo_errors_total', 'demo_resetting_total'];

function value(name: string, t: number, start: number): number {
  const i = (t - start) / STEP;
  if (name.endsWith('_total')) {
    // Counters grow by a varying amount; demo_resetting_total restarts from 0 after 30h.
    const k = name === 'demo_errors_total' ? 0.5 : 3;
    if (name === 'demo_resetting_total' && t - start >= 30 * HOUR) return Math.floor(((t - start - 30 * HOUR) / STEP) * k);
    return Math.floor(i * k + Math.floor(i / 7));
  }
  return Math.round(Math.sin(i / 40 + name.length) * 100_000) / 1000;
}

/**
 * Writes OpenMetrics for one replica over [start, end) and has promtool cut it into 2h blocks.
 * Returns the block directories' parent and the samples written, keyed as promtool dump prints series.
 */
export async function replicaBlocks(dir: string, spec: ReplicaSpec, start: number, end: number): Promise<{ blocksDir: string; data: SeriesData }> {
  const data: SeriesData = new Map();
  const lines: string[] = [];
  const names = [...COMMON_SERIES, ...(spec.extraSeries ?? [])];
  for (const name of names) {
    const type = name.endsWith('_total') ? 'counter' : 'gauge';
    const family = type === 'counter' ? name.slice(0, -'_total'.length) : name;
    lines.push(`# TYPE ${family} ${type}`);
    const samples: Samples = [];
    const gaps = spec.gaps?.[name] ?? [];
    for (let t = start + spec.offsetMs; t < end; t += STEP) {
      if (gaps.some(([a, b]) => t >= a && t < b)) continue;
      const v = value(name, t, start);
      samples.push([t, v]);
      lines.push(`${name}{job="demo"} ${v} ${t / 1000}`);
    }
    data.set(`{__name__="${name}", job="demo"}`, samples);
  }
  lines.push('# EOF');
  await mkdir(dir, { recursive: true });
  const om = join(dir, 'input.om');
  await writeFile(om, `${lines.join('\n')}\n`);
  const blocksDir = join(dir, 'blocks');
  await promtool(['tsdb', 'create-blocks-from', 'openmetrics', om, blocksDir]);
  return { blocksDir, data };
}

/** Uploads every block under `blocksDir` with the given external labels (meta.json last). */
export async function uploadAll(bucket: Bucket, blocksDir: string, labels: Record<string, string>): Promise<BlockMeta[]> {
  const out: BlockMeta[] = [];
  for (const id of (await readdir(blocksDir)).filter(isULID).sort()) {
    const dir = join(blocksDir, id);
    const meta = parseMeta(await readFile(join(dir, 'meta.json'), 'utf8'));
    meta.thanos = { labels, downsample: { resolution: 0 }, source: 'test' };
    out.push(await uploadBlock(bucket, dir, { meta }));
  }
  return out;
}

/** Blocks visible to readers: with meta.json and without a deletion mark. */
export async function liveBlocks(bucket: Bucket): Promise<BlockMeta[]> {
  const r = await new MetaFetcher(bucket).fetch();
  return [...r.metas.values()].filter((m) => !r.objects.get(m.ulid)?.hasDeletionMark).sort((a, b) => a.minTime - b.minTime || a.ulid.localeCompare(b.ulid));
}

/** Downloads blocks into one directory, as a TSDB data dir promtool can read. */
export async function downloadAll(bucket: Bucket, metas: readonly BlockMeta[], dir: string): Promise<string> {
  // promtool opens the directory as a TSDB, which needs a WAL directory (empty is fine).
  await mkdir(join(dir, 'wal'), { recursive: true });
  for (const m of metas) await downloadBlock(bucket, m.ulid, dir);
  return dir;
}

/** `promtool tsdb dump` of a data dir, parsed into series → samples. */
export async function promtoolDump(dir: string): Promise<SeriesData> {
  const out = await promtool(['tsdb', 'dump', dir]);
  const data: SeriesData = new Map();
  for (const line of out.split('\n')) {
    if (line === '') continue;
    const m = /^(\{.*\}) (\S+) (-?\d+)$/.exec(line);
    if (!m) throw new Error(`unexpected promtool dump line: ${line}`);
    const key = m[1] as string;
    let s = data.get(key);
    if (s === undefined) data.set(key, (s = []));
    s.push([Number(m[3]), Number(m[2])]);
  }
  for (const s of data.values()) s.sort((a, b) => a[0] - b[0]);
  return data;
}

/** Block directories under `dir`, oldest data first (promtool's ULIDs are not in time order). */
export async function blocksByTime(dir: string): Promise<string[]> {
  const metas = await Promise.all((await readdir(dir)).filter(isULID).map(async (id) => parseMeta(await readFile(join(dir, id, 'meta.json'), 'utf8'))));
  return metas.sort((a, b) => a.minTime - b.minTime).map((m) => join(dir, m.ulid));
}

/** Copies a block under a new ULID (its own single source), as a second upload of the same data would be. */
export async function copyBlock(src: string, dstParent: string): Promise<string> {
  const id = newULID();
  const dst = join(dstParent, id);
  await cp(src, dst, { recursive: true });
  const meta = parseMeta(await readFile(join(dst, 'meta.json'), 'utf8'));
  await writeFile(join(dst, 'meta.json'), formatMeta({ ...meta, ulid: id, compaction: { level: 1, sources: [id] } }));
  return dst;
}

/** A one-pass compactor configuration for tests: no retention, no delays, one group at a time. */
export function compactorConfig(bucket: Bucket, dataDir: string, over: Partial<CompactorConfig> = {}): CompactorConfig {
  return {
    bucket,
    dataDir,
    wait: false,
    waitIntervalMs: 60_000,
    consistencyDelayMs: 0,
    retentionRawMs: 0,
    retention5mMs: 0,
    retention1hMs: 0,
    downsampling: true,
    replicaLabels: ['replica'],
    dedupFunc: 'penalty',
    verticalCompaction: false,
    concurrency: 1,
    deleteDelayMs: 0,
    ...over,
  };
}

/** Each series' chunks in the given blocks (in order), by `key` of its labels: default its metric name. */
export async function seriesChunks(dirs: string | readonly string[], key = (l: Labels): string => l.get('__name__')): Promise<Map<string, readonly ChunkMeta[]>> {
  const out = new Map<string, ChunkMeta[]>();
  for (const dir of typeof dirs === 'string' ? [dirs] : dirs) {
    const r = await BlockReader.openDir(dir);
    for await (const s of r.chunkSeries([])) out.set(key(s.labels), [...(out.get(key(s.labels)) ?? []), ...s.chunks]);
    await r.close();
  }
  return out;
}

/** Two replicas' chunks split where no chunk of either overlaps the next: [A's, B's] per run. */
function overlapRuns(a: readonly ChunkMeta[], b: readonly ChunkMeta[]): [ChunkMeta[], ChunkMeta[]][] {
  const all = [...a, ...b].sort((x, y) => x.minTime - y.minTime || x.maxTime - y.maxTime);
  const runs: [ChunkMeta[], ChunkMeta[]][] = [];
  let max = Number.NEGATIVE_INFINITY;
  for (const c of all) {
    if (runs.length === 0 || c.minTime > max) runs.push([[], []]);
    runs[runs.length - 1]![a.includes(c) ? 0 : 1].push(c);
    max = Math.max(max, c.maxTime);
  }
  return runs;
}

/**
 * The samples the compactor's penalty merge of two replicas' chunks of a series must give: the offline
 * merge works on runs of transitively overlapping chunks, each merged on its own.
 */
export function penaltyMerged(a: readonly ChunkMeta[], b: readonly ChunkMeta[]): number[][] {
  return overlapRuns(a, b).flatMap(([ra, rb]) => decodedSamples(penaltyMerge([ra, rb].map((r) => new PlainIterator(new ChainedChunksIterator(r))))));
}
