import { createHash } from 'node:crypto';
import { Labels, type BlockMeta } from '@strata/tsdb';

/** A compaction group: the blocks of one stream (external labels without replica labels) at one resolution. */
export interface Group {
  /** `<resolution>@<labels>`, as Thanos' group key. */
  key: string;
  /** Short stable name for directories. */
  hash: string;
  labels: Record<string, string>;
  resolution: number;
  metas: BlockMeta[];
}

/** External labels with the deduplication replica labels removed (Thanos' ReplicaLabelRemover). */
export function streamLabels(meta: BlockMeta, replicaLabels: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta.thanos?.labels ?? {})) if (!replicaLabels.includes(k)) out[k] = v;
  return out;
}

export function groupBlocks(metas: Iterable<BlockMeta>, replicaLabels: readonly string[]): Group[] {
  const groups = new Map<string, Group>();
  for (const m of metas) {
    const labels = streamLabels(m, replicaLabels);
    const resolution = m.thanos?.downsample.resolution ?? 0;
    const key = `${resolution}@${Labels.from(labels).toString()}`;
    let g = groups.get(key);
    if (g === undefined) {
      g = { key, hash: createHash('sha256').update(key).digest('hex').slice(0, 16), labels, resolution, metas: [] };
      groups.set(key, g);
    }
    g.metas.push(m);
  }
  return [...groups.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * Blocks whose sources are all in another block of the same group: leftovers of a compaction whose
 * result was uploaded but whose sources were not (all) marked for deletion yet, e.g. after a crash.
 * Of blocks with identical sources, the one with the smallest ULID is kept.
 */
export function findDuplicates(group: Group): BlockMeta[] {
  const sourcesOf = (m: BlockMeta) => m.compaction.sources ?? [m.ulid];
  const dups: BlockMeta[] = [];
  for (const m of group.metas) {
    const mine = sourcesOf(m);
    const covered = group.metas.some((o) => {
      if (o === m) return false;
      const theirs = new Set(sourcesOf(o));
      if (!mine.every((s) => theirs.has(s))) return false;
      return theirs.size > mine.length || o.ulid < m.ulid;
    });
    if (covered) dups.push(m);
  }
  return dups;
}
