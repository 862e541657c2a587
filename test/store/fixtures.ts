// Shared set-up for the store gateway tests: promtool-made blocks uploaded to s3rver with external
// labels, and a Bucket wrapper that counts requests per object.
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { uploadBlock } from '@strata/block';
import { ForwardingBucket, newBucket, parseBucketConfig, type Bucket } from '@strata/objstore';
import { promtool } from '@strata/testing/prometheus';
import type { S3Server } from '@strata/testing/s3';
import { seededRandom } from '@strata/testing/random';
import { formatMeta, isULID, newULID, parseMeta, type BlockMeta } from '@strata/tsdb';

/** Counts get/getRange requests by object name, to prove what a store reads. */
export class CountingBucket extends ForwardingBucket {
  readonly gets: string[] = [];
  readonly rangeGets: string[] = [];
  /** Bytes asked for by range reads. */
  bytes = 0;

  override get(name: string): Promise<Readable> {
    this.gets.push(name);
    return this.inner.get(name);
  }
  override getRange(name: string, offset: number, length: number): Promise<Readable> {
    this.rangeGets.push(name);
    this.bytes += length;
    return this.inner.getRange(name, offset, length);
  }
  reset(): void {
    this.gets.length = 0;
    this.rangeGets.length = 0;
  }
}

export function s3Bucket(s3: S3Server, prefix: string): Bucket {
  return newBucket(parseBucketConfig(s3.configYaml({ prefix })));
}

/** Runs promtool's OpenMetrics backfill; returns the block directories it made. */
export async function promtoolBlocks(openMetrics: string, workDir: string): Promise<string[]> {
  await mkdir(workDir, { recursive: true });
  const input = join(workDir, 'input.om');
  await writeFile(input, openMetrics);
  const out = join(workDir, 'blocks');
  await promtool(['tsdb', 'create-blocks-from', 'openmetrics', input, out]);
  // An empty WAL makes the directory a TSDB that promtool tsdb dump and Prometheus open as is.
  await mkdir(join(out, 'wal'), { recursive: true });
  return (await readdir(out)).filter(isULID).sort().map((id) => join(out, id));
}

/** Uploads a local block with external labels in its Thanos meta (the local files stay untouched). */
export async function uploadWithLabels(bucket: Bucket, blockDir: string, labels: Record<string, string>): Promise<BlockMeta> {
  const meta = parseMeta(await readFile(join(blockDir, 'meta.json'), 'utf8'));
  return uploadBlock(bucket, blockDir, { meta: { ...meta, thanos: { labels, downsample: { resolution: 0 }, source: 'test' } } });
}

/** A copy of a block under a fresh ULID (same data), e.g. to load many blocks or corrupt one. */
export async function copyBlock(blockDir: string, toParent: string): Promise<string> {
  const meta = parseMeta(await readFile(join(blockDir, 'meta.json'), 'utf8'));
  const id = newULID();
  const dir = join(toParent, id);
  await cp(blockDir, dir, { recursive: true });
  await writeFile(join(dir, 'meta.json'), formatMeta({ ...meta, ulid: id, compaction: { ...meta.compaction, sources: [id] } }));
  return dir;
}


/**
 * A history of `hours` hours ending two hours ago: three metrics over jobs, instances and an
 * optional label, samples every ~15s with jitter (so chunk and block edges fall between samples).
 */
export function randomHistory(seed: number, hours: number): { openMetrics: string; start: number; end: number } {
  const rand = seededRandom(seed);
  const end = Math.floor((Date.now() - 2 * 3_600_000) / 1000) * 1000;
  const start = end - hours * 3_600_000;
  const lines: string[] = [];
  for (const metric of ['rh_requests', 'rh_latency', 'rh_temp']) {
    lines.push(`# TYPE ${metric} gauge`);
    for (const job of ['api', 'db', 'web']) {
      for (let inst = 0; inst < 4; inst++) {
        const labels = [`job="${job}"`, `instance="i${inst}"`];
        if ((inst + job.length) % 3 === 0) labels.push(`path="/p${inst}"`);
        let t = start + Math.floor(rand() * 15_000);
        let v = Math.round(rand() * 1000) / 10;
        while (t < end) {
          lines.push(`${metric}{${labels.join(',')}} ${v} ${(t / 1000).toFixed(3)}`);
          t += 10_000 + Math.floor(rand() * 10_000);
          v = metric === 'rh_requests' ? v + Math.floor(rand() * 5) : Math.round(rand() * 100_000) / 1000;
        }
      }
    }
  }
  lines.push('# EOF', '');
  return { openMetrics: lines.join('\n'), start, end };
}
