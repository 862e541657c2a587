/**
 * meta.json of a TSDB block, with the `thanos` section Thanos (and Strata) add in object storage.
 *
 * Prometheus writes it with Go's MarshalIndent (tab-indented, no trailing newline), accepts only
 * `version: 1` and ignores unknown fields, so the `thanos` section is safe for Prometheus to read.
 * Times are milliseconds; `maxTime` is exclusive. The file is the last thing written (and uploaded):
 * a block directory without meta.json is not a block.
 */

export interface BlockStats {
  numSamples?: number;
  numFloatSamples?: number;
  numHistogramSamples?: number;
  numSeries?: number;
  numChunks?: number;
  numTombstones?: number;
}

export interface BlockDesc {
  ulid: string;
  minTime: number;
  maxTime: number;
}

export interface BlockCompaction {
  level: number;
  sources?: string[];
  deletable?: boolean;
  parents?: BlockDesc[];
  failed?: boolean;
  hints?: string[];
}

/** The hint of a block of a head's out-of-order samples (Prometheus 2.39+), which may overlap the blocks of its in-order ones. */
export const FROM_OUT_OF_ORDER = 'from-out-of-order';

/** Whether a block holds a head's out-of-order samples. */
export function fromOutOfOrder(meta: { readonly compaction: BlockCompaction }): boolean {
  return meta.compaction.hints?.includes(FROM_OUT_OF_ORDER) === true;
}

/** Thanos' source kinds; Strata writes `sidecar`, `compactor` and `bucket.upload`. */
export type ThanosSource = 'sidecar' | 'receive' | 'compactor' | 'compactor.repair' | 'ruler' | 'bucket.repair' | 'bucket.rewrite' | 'bucket.upload' | 'test' | '';

export interface ThanosFile {
  rel_path: string;
  /** Absent for meta.json itself. */
  size_bytes?: number;
  hash?: { hashFunc: 'SHA256'; value: string };
}

export interface ThanosMeta {
  version?: number;
  /** External labels; non-empty for every block in a bucket. */
  labels: Record<string, string>;
  /** Resolution in ms: 0 (raw), 300000 (5m), 3600000 (1h). */
  downsample: { resolution: number };
  source?: ThanosSource;
  segment_files?: string[];
  files?: ThanosFile[];
  index_stats?: { series_max_size?: number; chunk_max_size?: number };
  /** RFC3339; set right before upload, used by the consistency-delay filter. */
  upload_time?: string;
  rewrites?: unknown[];
  extensions?: unknown;
}

export interface BlockMeta extends BlockDesc {
  version: 1;
  stats?: BlockStats;
  compaction: BlockCompaction;
  thanos?: ThanosMeta;
}

export const META_FILENAME = 'meta.json';

export const Resolution = { Raw: 0, FiveMinutes: 300_000, OneHour: 3_600_000 } as const;

/** Parses meta.json text; `what` names the file in errors. */
export function parseMeta(text: string, what = META_FILENAME): BlockMeta {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${what}: invalid JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null) throw new Error(`${what}: expected a JSON object`);
  const m = raw as Partial<BlockMeta> & { version?: unknown };
  if (m.version !== 1) throw new Error(`${what}: unexpected meta file version ${String(m.version)}, want 1`);
  if (typeof m.ulid !== 'string' || !isULID(m.ulid)) throw new Error(`${what}: invalid ulid ${JSON.stringify(m.ulid)}`);
  if (typeof m.minTime !== 'number' || typeof m.maxTime !== 'number') throw new Error(`${what}: minTime and maxTime must be numbers`);
  if (m.maxTime < m.minTime) throw new Error(`${what}: maxTime ${m.maxTime} before minTime ${m.minTime}`);
  if (typeof m.compaction !== 'object' || m.compaction === null || typeof m.compaction.level !== 'number') {
    throw new Error(`${what}: missing compaction.level`);
  }
  if (m.thanos !== undefined) {
    const v = m.thanos.version ?? 1;
    if (v !== 1) throw new Error(`${what}: unexpected thanos meta version ${v}, want 1`);
    m.thanos.labels ??= {};
    m.thanos.downsample ??= { resolution: 0 };
  }
  return m as BlockMeta;
}

/** meta.json as Prometheus writes it: tab-indented, no trailing newline, fields in Go's order. */
export function formatMeta(meta: BlockMeta): string {
  const ordered: Record<string, unknown> = {
    ulid: meta.ulid,
    minTime: meta.minTime,
    maxTime: meta.maxTime,
  };
  const stats = omitZero(meta.stats ?? {});
  if (Object.keys(stats).length > 0) ordered.stats = stats;
  const c = meta.compaction;
  ordered.compaction = dropUndefined({
    level: c.level,
    sources: c.sources,
    deletable: c.deletable || undefined,
    parents: c.parents,
    failed: c.failed || undefined,
    hints: c.hints,
  });
  ordered.version = 1;
  if (meta.thanos !== undefined) ordered.thanos = meta.thanos;
  return JSON.stringify(ordered, null, '\t');
}

function omitZero(stats: BlockStats): BlockStats {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(stats)) if (typeof v === 'number' && v !== 0) out[k] = v;
  return out;
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const ULID_RE = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

/** True for a canonical (uppercase Crockford base32) ULID, the only directory names Prometheus loads as blocks. */
export function isULID(s: string): boolean {
  return ULID_RE.test(s);
}
