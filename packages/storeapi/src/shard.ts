import { labelsHash, type Label } from '@strata/tsdb';
import type { ShardInfo } from './messages.js';

/**
 * Which series a Series call with `shard_info` answers, as Thanos' ShardMatcher (storepb/shard_info.go)
 * decides it: xxhash64 of the series' labels that shard it (`by`: the labels named; else every label
 * but those), each as name, 0xff, value, 0xff, modulo the shard count, equal to the shard's index.
 * A store applies it to a series' labels as it answers them: external labels added and the replica
 * labels the call drops already dropped, so that the replicas of a series fall in the same shard.
 * The hash is Thanos' own, so a Thanos querier's shards and a Strata store's agree.
 */
export class ShardMatcher {
  readonly #keep: (name: string) => boolean;
  readonly #total: bigint;
  readonly #index: bigint;

  private constructor(info: ShardInfo) {
    const named = new Set(info.labels);
    this.#keep = info.by ? (name) => named.has(name) : (name) => !named.has(name);
    this.#total = BigInt(info.totalShards);
    this.#index = BigInt(info.shardIndex);
  }

  /** The matcher of a request's shard info; undefined when the request is not sharded (no info, or fewer than one shard). */
  static of(info: ShardInfo | undefined): ShardMatcher | undefined {
    return info === undefined || info.totalShards < 1 ? undefined : new ShardMatcher(info);
  }

  matches(labels: Iterable<Label>): boolean {
    return labelsHash(labels, this.#keep) % this.#total === this.#index;
  }
}

/**
 * `shard_info` as Thanos' query frontend sends it to a querier's HTTP API: storepb.ShardInfo in Go's
 * JSON (`{"shard_index":1,"total_shards":3,"by":true,"labels":["pod"]}`, fields left out when zero).
 * Throws on anything else.
 */
export function parseShardInfoJson(text: string): ShardInfo {
  const v: unknown = JSON.parse(text);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('shard_info is not a JSON object');
  const o = v as Record<string, unknown>;
  const int = (name: string): number => {
    const n = o[name] ?? 0;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new Error(`shard_info.${name} is not a whole number`);
    return n;
  };
  const by = o.by ?? false;
  if (typeof by !== 'boolean') throw new Error('shard_info.by is not a boolean');
  const labels = o.labels ?? [];
  if (!Array.isArray(labels) || labels.some((l) => typeof l !== 'string')) throw new Error('shard_info.labels is not a list of strings');
  const info: ShardInfo = { shardIndex: int('shard_index'), totalShards: int('total_shards'), by, labels: labels as string[] };
  if (info.totalShards > 0 && info.shardIndex >= info.totalShards) throw new Error(`shard_info.shard_index ${info.shardIndex} is not below total_shards ${info.totalShards}`);
  return info;
}

/** `info` as parseShardInfoJson reads it (Go's JSON of storepb.ShardInfo). */
export function shardInfoJson(info: ShardInfo): string {
  return JSON.stringify({
    ...(info.shardIndex !== 0 ? { shard_index: info.shardIndex } : {}),
    ...(info.totalShards !== 0 ? { total_shards: info.totalShards } : {}),
    ...(info.by ? { by: true } : {}),
    ...(info.labels.length > 0 ? { labels: info.labels } : {}),
  });
}
