import type { BlockMeta } from '@strata/tsdb';

/** Retention per resolution in ms (raw 0, 5m 300000, 1h 3600000); 0 or absent keeps blocks forever. */
export type RetentionPolicy = Readonly<Record<number, number>>;

/** Blocks whose newest sample is older than the retention of their resolution (Thanos' ApplyRetentionPolicyByResolution). */
export function blocksToDelete(metas: Iterable<BlockMeta>, policy: RetentionPolicy, now: Date): BlockMeta[] {
  const out: BlockMeta[] = [];
  for (const m of metas) {
    const keep = policy[m.thanos?.downsample.resolution ?? 0] ?? 0;
    if (keep > 0 && now.getTime() - m.maxTime > keep) out.push(m);
  }
  return out;
}
