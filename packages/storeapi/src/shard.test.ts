import { Labels } from '@strata/tsdb';
import xxhash from 'xxhash-wasm';
import { describe, expect, it } from 'vitest';
import { parseShardInfoJson, ShardMatcher, shardInfoJson } from './shard.js';

const { h64Raw } = await xxhash();

const series = Array.from({ length: 60 }, (_, i) => Labels.from({ __name__: 'http_requests_total', job: `job-${i % 4}`, pod: `pod-${i % 12}`, code: String(200 + (i % 5)) }));
const shards = (by: boolean, labels: string[], total = 3) => Array.from({ length: total }, (_, shardIndex) => ShardMatcher.of({ shardIndex, totalShards: total, by, labels }) as ShardMatcher);

describe('ShardMatcher', () => {
  it('matches every series when the request is not sharded', () => {
    expect(ShardMatcher.of(undefined)).toBeUndefined();
    expect(ShardMatcher.of({ shardIndex: 0, totalShards: 0, by: true, labels: ['pod'] })).toBeUndefined();
  });

  it("puts each series in exactly one shard, by Thanos' hash of the labels named", () => {
    const matchers = shards(true, ['pod']);
    const hash = (pod: string) => h64Raw(Buffer.concat([Buffer.from('pod'), Buffer.from([0xff]), Buffer.from(pod), Buffer.from([0xff])]), 0n);
    for (const s of series) {
      const homes = matchers.flatMap((m, i) => (m.matches(s) ? [i] : []));
      expect(homes).toEqual([Number(hash(s.get('pod')) % 3n)]);
    }
    // Series of one pod share a shard; the pods spread over all three.
    expect(new Set(series.filter((s) => s.get('pod') === 'pod-1').map((s) => matchers.findIndex((m) => m.matches(s)))).size).toBe(1);
    expect(new Set(series.map((s) => matchers.findIndex((m) => m.matches(s))))).toEqual(new Set([0, 1, 2]));
  });

  it('hashes every label but those named without `by`', () => {
    const [m0, m1] = shards(false, ['code', '__name__'], 2) as [ShardMatcher, ShardMatcher];
    for (const s of series) {
      const alike = Labels.from({ ...s.toRecord(), code: '599', __name__: 'other' });
      expect(m0.matches(alike)).toBe(m0.matches(s));
      expect(m1.matches(s)).toBe(!m0.matches(s));
    }
  });
});

describe('shard_info as JSON', () => {
  it("reads and writes Go's JSON of storepb.ShardInfo, zero fields left out", () => {
    const info = { shardIndex: 1, totalShards: 3, by: true, labels: ['pod'] };
    expect(shardInfoJson(info)).toBe('{"shard_index":1,"total_shards":3,"by":true,"labels":["pod"]}');
    expect(parseShardInfoJson(shardInfoJson(info))).toEqual(info);
    expect(shardInfoJson({ shardIndex: 0, totalShards: 2, by: false, labels: [] })).toBe('{"total_shards":2}');
    expect(parseShardInfoJson('{"total_shards":2}')).toEqual({ shardIndex: 0, totalShards: 2, by: false, labels: [] });
  });

  it('refuses what is not one', () => {
    expect(() => parseShardInfoJson('1')).toThrow('not a JSON object');
    expect(() => parseShardInfoJson('{"total_shards":"3"}')).toThrow('shard_info.total_shards is not a whole number');
    expect(() => parseShardInfoJson('{"total_shards":3,"by":1}')).toThrow('shard_info.by is not a boolean');
    expect(() => parseShardInfoJson('{"total_shards":3,"labels":"pod"}')).toThrow('shard_info.labels is not a list of strings');
    expect(() => parseShardInfoJson('{"shard_index":3,"total_shards":3}')).toThrow('shard_info.shard_index 3 is not below total_shards 3');
    expect(() => parseShardInfoJson('{')).toThrow();
  });
});
