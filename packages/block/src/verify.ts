import { createHash } from 'node:crypto';
import { joinKey, mapLimit, type Bucket } from '@strata/objstore';
import { ChunkSegmentReader, CorruptionError, formatRef, fromOutOfOrder, IndexReader, isSegmentFileName, Labels, META_FILENAME, type BlockMeta } from '@strata/tsdb';
import { BucketByteRange } from './byterange.js';
import { isMarkerFilename } from './markers.js';
import { INDEX_FILENAME } from './upload.js';

/** One problem found in a block; `object` names the file when the problem is in one. */
export interface VerifyIssue {
  block: string;
  object?: string;
  problem: string;
  /** An index issue a rewrite of the block mends (series or chunk order, chunks outside the block's range, stats): Thanos' index_known_issues. */
  indexRepairable?: boolean;
}

/**
 * What `thanos tools bucket verify --issues` names: blocks overlapping in a compaction group; the blocks'
 * own problems (meta.json against the files, and with `index` and `hashes` the index, chunks and file
 * hashes); blocks that are one compaction done twice.
 */
export const VERIFY_ISSUES = ['overlapped_blocks', 'index_known_issues', 'duplicated_compaction'] as const;
export type VerifyIssueKind = (typeof VERIFY_ISSUES)[number];
/** Thanos' default --issues. */
export const DEFAULT_VERIFY_ISSUES: ReadonlySet<VerifyIssueKind> = new Set(['overlapped_blocks', 'index_known_issues']);

export interface VerifyOptions {
  /** What to look for (default DEFAULT_VERIFY_ISSUES). */
  issues?: ReadonlySet<VerifyIssueKind>;
  /**
   * Read each index and chunk file whole: sorted series and postings, CRCs of every index table and
   * chunk, chunk times inside the block's range, every chunk reference pointing at a chunk.
   */
  index?: boolean;
  /** Compare every file with the SHA256 recorded in thanos.files (reads every byte). */
  hashes?: boolean;
  /** Check only these blocks' files (overlaps are still checked across all blocks). */
  only?: ReadonlySet<string>;
  concurrency?: number;
  onProgress?: (event: { block: string; done: number; total: number }) => void;
}

/** Compaction group key: blocks with the same external labels and resolution form one stream. */
export function groupKey(meta: BlockMeta): string {
  return `${meta.thanos?.downsample.resolution ?? 0}@${Labels.from(meta.thanos?.labels ?? {}).toString()}`;
}

/**
 * Blocks overlapping in time within one compaction group: Thanos' compactor would halt on these, Strata's
 * marks them no-compact. Blocks of out-of-order samples (`from-out-of-order`) overlap by design, and the
 * compactor merges them: they are left out.
 */
export function findOverlaps(metas: Iterable<BlockMeta>): VerifyIssue[] {
  const groups = new Map<string, BlockMeta[]>();
  for (const m of metas) {
    const k = groupKey(m);
    groups.set(k, [...(groups.get(k) ?? []), m]);
  }
  const issues: VerifyIssue[] = [];
  for (const [key, blocks] of groups) {
    blocks.sort((a, b) => a.minTime - b.minTime || a.maxTime - b.maxTime);
    let last: BlockMeta | undefined;
    for (const b of blocks) {
      if (fromOutOfOrder(b)) continue;
      if (last && b.minTime < last.maxTime) {
        issues.push({ block: b.ulid, problem: `overlaps block ${last.ulid} in group ${key}: [${b.minTime}, ${b.maxTime}) and [${last.minTime}, ${last.maxTime})` });
      }
      if (!last || b.maxTime > last.maxTime) last = b;
    }
  }
  return issues;
}

/**
 * Blocks of one compaction group with the same sources and time range: one compaction done twice (Thanos'
 * duplicated_compaction, from a compactor that ran again before its sources were gone). The first by
 * ULID is kept, the others are duplicates of it.
 */
export function findDuplicatedCompactions(metas: Iterable<BlockMeta>): { kept: BlockMeta; duplicates: BlockMeta[] }[] {
  const same = new Map<string, BlockMeta[]>();
  for (const m of metas) {
    const key = JSON.stringify([groupKey(m), m.minTime, m.maxTime, [...(m.compaction.sources ?? [m.ulid])].sort()]);
    same.set(key, [...(same.get(key) ?? []), m]);
  }
  return [...same.values()].filter((blocks) => blocks.length > 1).map((blocks) => {
    const [kept, ...duplicates] = blocks.sort((a, b) => (a.ulid < b.ulid ? -1 : 1));
    return { kept: kept as BlockMeta, duplicates };
  });
}

/**
 * Checks blocks in a bucket the way `thanos tools bucket verify` does, for the issues asked: overlaps
 * within compaction groups, duplicated compactions, and each block's own problems: meta.json consistent
 * with the objects present, and (optionally) the index and file hashes.
 */
export async function verifyBlocks(bucket: Bucket, metas: ReadonlyMap<string, BlockMeta>, opts: VerifyOptions = {}): Promise<VerifyIssue[]> {
  const kinds = opts.issues ?? DEFAULT_VERIFY_ISSUES;
  const issues = [
    ...(kinds.has('overlapped_blocks') ? findOverlaps(metas.values()) : []),
    ...(kinds.has('duplicated_compaction')
      ? findDuplicatedCompactions(metas.values()).flatMap(({ kept, duplicates }) => duplicates.map((d) => ({ block: d.ulid, problem: `duplicated compaction: the same sources and time range as block ${kept.ulid}` })))
      : []),
  ].filter((i) => !opts.only || opts.only.has(i.block));
  if (!kinds.has('index_known_issues')) return issues;
  const selected = [...metas.values()].filter((m) => !opts.only || opts.only.has(m.ulid));
  let done = 0;
  const perBlock = await mapLimit(selected, opts.concurrency ?? 4, async (meta) => {
    const found = await verifyBlock(bucket, meta, opts);
    opts.onProgress?.({ block: meta.ulid, done: ++done, total: selected.length });
    return found;
  });
  return [...issues, ...perBlock.flat()];
}

async function verifyBlock(bucket: Bucket, meta: BlockMeta, opts: VerifyOptions): Promise<VerifyIssue[]> {
  const id = meta.ulid;
  const issues: VerifyIssue[] = [];
  const issue = (problem: string, rel?: string) => issues.push({ block: id, ...(rel ? { object: joinKey(id, rel) } : {}), problem });
  if (meta.minTime >= meta.maxTime) issue(`minTime ${meta.minTime} is not before maxTime ${meta.maxTime}`, META_FILENAME);
  if (!meta.thanos || Object.keys(meta.thanos.labels).length === 0) issue('no external labels', META_FILENAME);
  if (meta.compaction.level < 1) issue(`compaction level ${meta.compaction.level}, want at least 1`, META_FILENAME);

  const sizes = new Map<string, number | undefined>();
  for await (const e of bucket.list(id, { recursive: true })) {
    const rel = e.name.slice(id.length + 1);
    if (rel !== META_FILENAME && !isMarkerFilename(rel)) sizes.set(rel, e.size);
  }
  if (!sizes.has(INDEX_FILENAME)) issue('index is missing', INDEX_FILENAME);
  if (![...sizes.keys()].some((k) => k.startsWith('chunks/'))) issue('no chunk files', 'chunks/');
  const files = (meta.thanos?.files ?? []).filter((f) => f.rel_path !== META_FILENAME);
  for (const f of files) {
    if (!sizes.has(f.rel_path)) issue('listed in meta.json thanos.files but missing', f.rel_path);
    else if (f.size_bytes !== undefined && sizes.get(f.rel_path) !== undefined && sizes.get(f.rel_path) !== f.size_bytes) {
      issue(`size ${sizes.get(f.rel_path)} bytes, meta.json thanos.files says ${f.size_bytes}`, f.rel_path);
    }
  }
  if (files.length > 0) for (const rel of sizes.keys()) if (!files.some((f) => f.rel_path === rel)) issue('present but not listed in meta.json thanos.files', rel);

  if (opts.hashes) {
    for (const f of files) {
      if (!f.hash || !sizes.has(f.rel_path)) continue;
      const h = createHash('sha256');
      for await (const chunk of await bucket.get(joinKey(id, f.rel_path))) h.update(chunk as Buffer);
      const got = h.digest('hex');
      if (got !== f.hash.value) issue(`SHA256 ${got} does not match meta.json thanos.files ${f.hash.value}`, f.rel_path);
    }
  }
  if (opts.index && sizes.has(INDEX_FILENAME)) {
    const index = await checkIndex(bucket, meta, sizes.get(INDEX_FILENAME));
    for (const problem of index.problems) issues.push({ block: id, object: joinKey(id, INDEX_FILENAME), problem, ...(index.readable ? { indexRepairable: true } : {}) });
    const segments = [...sizes.keys()].filter((k) => k.startsWith('chunks/') && isSegmentFileName(k.slice('chunks/'.length))).sort();
    for (const [rel, problem] of await checkChunks(bucket, meta, segments, sizes, index.refs)) issue(problem, rel);
  }
  return issues;
}

/** Reads every series of the index (the reader checks every CRC) and checks order and chunk time ranges. */
async function checkIndex(bucket: Bucket, meta: BlockMeta, size: number | undefined): Promise<{ problems: string[]; readable: boolean; refs: Set<number> | undefined }> {
  const problems: string[] = [];
  const refs = new Set<number>();
  const max = 20;
  let reader: IndexReader | undefined;
  let readable = true;
  try {
    reader = await IndexReader.open(new BucketByteRange(bucket, joinKey(meta.ulid, INDEX_FILENAME), size));
    let prev: Labels | undefined;
    let prevId = -1;
    let series = 0;
    let chunks = 0;
    for await (const s of reader.series(await reader.allPostings())) {
      series++;
      if (s.id <= prevId) problems.push(`postings not sorted: series ${s.id} after ${prevId}`);
      if (prev && Labels.compare(prev, s.labels) >= 0) problems.push(`series not sorted: ${s.labels.toString()} after ${prev.toString()}`);
      let lastMax = -Infinity;
      for (const c of s.chunks) {
        chunks++;
        refs.add(c.ref);
        if (c.minTime < meta.minTime || c.maxTime > meta.maxTime) {
          problems.push(`series ${s.labels.toString()}: chunk [${c.minTime}, ${c.maxTime}] outside block range [${meta.minTime}, ${meta.maxTime})`);
        }
        if (c.minTime <= lastMax) problems.push(`series ${s.labels.toString()}: chunks overlap or are out of order at ${c.minTime}`);
        lastMax = c.maxTime;
      }
      prev = s.labels;
      prevId = s.id;
      if (problems.length >= max) break;
    }
    if (problems.length === 0 && meta.stats?.numSeries !== undefined && meta.stats.numSeries !== series) problems.push(`${series} series, meta.json stats say ${meta.stats.numSeries}`);
    if (problems.length === 0 && meta.stats?.numChunks !== undefined && meta.stats.numChunks !== chunks) problems.push(`${chunks} chunks, meta.json stats say ${meta.stats.numChunks}`);
  } catch (e) {
    problems.push(`unreadable: ${(e as Error).message}`);
    readable = false;
  } finally {
    await reader?.close();
  }
  return { problems, readable, refs: problems.length === 0 ? refs : undefined };
}

/**
 * Reads every chunk of the segment files in order (the reader checks each CRC) and checks that every
 * chunk reference in the index points at a chunk. Returns [object, problem] pairs.
 */
async function checkChunks(bucket: Bucket, meta: BlockMeta, segments: string[], sizes: ReadonlyMap<string, number | undefined>, indexRefs: Set<number> | undefined): Promise<Array<[string, string]>> {
  const id = meta.ulid;
  const expectedNames = segments.map((_, i) => `chunks/${String(i + 1).padStart(6, '0')}`);
  if (segments.join() !== expectedNames.join()) return [['chunks/', `segment files ${segments.join(', ')} are not numbered 000001 onwards without gaps`]];
  let reader: ChunkSegmentReader | undefined;
  const found = new Set<number>();
  try {
    reader = await ChunkSegmentReader.open(segments.map((rel) => new BucketByteRange(bucket, joinKey(id, rel), sizes.get(rel))));
    for await (const { ref } of reader.entries()) found.add(ref);
  } catch (e) {
    const what = e instanceof CorruptionError ? e.what : '';
    const rel = what.startsWith(`${id}/`) ? what.slice(id.length + 1).split(':')[0] ?? 'chunks/' : 'chunks/';
    return [[rel, `corrupted: ${(e as Error).message}`]];
  } finally {
    await reader?.close();
  }
  const missing = [...(indexRefs ?? [])].filter((r) => !found.has(r));
  return missing.length === 0 ? [] : [['chunks/', `${missing.length} chunk references in the index point at no chunk, e.g. ${formatRef(missing[0] as number)}`]];
}
