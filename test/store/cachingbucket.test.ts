// `strata store --store.caching-bucket.config`: the chunk cache, end to end through the CLI. Blocks made
// by promtool sit in s3rver behind a proxy that records every request, so a test sees exactly which
// objects the store gateway reads.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nopLogger } from '@strata/runtime';
import { readChunkSeries, seriesRequest, StoreClient, type LabelMatcher } from '@strata/storeapi';
import { start } from '@strata/store';
import { startFaultProxy, type FaultProxy } from '@strata/testing/faultproxy';
import { freePort, startProcess, tempDir, TSX_CHILD_ENV, waitForHttp, type Managed } from '@strata/testing/process';
import { startS3rver, type S3Server } from '@strata/testing/s3';
import { ValueType } from '@strata/tsdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promtoolBlocks, randomHistory, s3Bucket, uploadWithLabels } from './fixtures.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

let s3: S3Server;
let proxy: FaultProxy;
let dir: { path: string; cleanup: () => Promise<void> };
let history: ReturnType<typeof randomHistory>;
let configFile: string;
/** Paths of the chunk segment files requested through the proxy. */
const chunkGets: string[] = [];

beforeAll(async () => {
  s3 = await startS3rver();
  dir = await tempDir('strata-caching-bucket-test-');
  history = randomHistory(9, 6);
  const bucket = s3Bucket(s3, 'cb');
  for (const b of await promtoolBlocks(history.openMetrics, join(dir.path, 'blocks'))) await uploadWithLabels(bucket, b, { cluster: 'cb' });
  await bucket.close();
  proxy = await startFaultProxy(s3.endpoint);
  proxy.onRequest((r) => {
    if (r.method === 'GET' && r.path.includes('/chunks/')) chunkGets.push(r.path);
  });
  configFile = join(dir.path, 'objstore.yml');
  await writeFile(configFile, s3.configYaml({ endpoint: proxy.endpoint, prefix: 'cb' }));
}, 120_000);

afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
  await dir?.cleanup();
});

const matchers: LabelMatcher[] = [{ type: 2, name: '__name__', value: 'rh_.+' }];

/** Every sample the store returns for `matchers` over the whole history, and the chunk GETs it took. */
async function query(client: StoreClient): Promise<{ samples: string[]; chunkGets: number }> {
  const before = chunkGets.length;
  const samples: string[] = [];
  for await (const s of readChunkSeries(client.series(seriesRequest({ minTime: history.start, maxTime: history.end, matchers })))) {
    for (const c of s.chunks) {
      const it = c.chunk.iterator();
      while (it.next() === ValueType.Float) samples.push(`${s.labels.toString()} ${it.atT()} ${it.atFloat()}`);
    }
  }
  return { samples, chunkGets: chunkGets.length - before };
}

describe('strata store --store.caching-bucket.config', () => {
  let proc: Managed;
  let client: StoreClient;
  let http: string;

  beforeAll(async () => {
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    http = `http://127.0.0.1:${httpPort}`;
    proc = startProcess(
      process.execPath,
      [
        '--import',
        'tsx',
        join(root, 'packages/cli/src/main.ts'),
        'store',
        `--objstore.config-file=${configFile}`,
        `--data-dir=${join(dir.path, 'data-cached')}`,
        `--grpc-address=127.0.0.1:${grpcPort}`,
        `--http-address=127.0.0.1:${httpPort}`,
        '--store.caching-bucket.config=type: IN-MEMORY\nconfig:\n  max_size: 64MiB\n  max_item_size: 1MiB\nchunk_subrange_size: 16000\nmax_chunks_get_range_requests: 3',
      ],
      { logFile: join(dir.path, 'store.log'), env: { ...process.env, ...TSX_CHILD_ENV } },
    );
    await waitForHttp(`${http}/-/ready`, { proc, timeoutMs: 60_000 });
    client = new StoreClient(`127.0.0.1:${grpcPort}`);
  }, 90_000);

  afterAll(async () => {
    client?.close();
    await proc?.stop();
  });

  it('answers a repeated query without reading any chunk from the bucket, with the same samples', async () => {
    const first = await query(client);
    expect(first.samples.length).toBeGreaterThan(1000);
    expect(first.chunkGets).toBeGreaterThan(0);
    const second = await query(client);
    expect(second.chunkGets).toBe(0);
    expect(second.samples).toEqual(first.samples);
    const metrics = await (await fetch(`${http}/metrics`)).text();
    const value = (re: RegExp) => Number(re.exec(metrics)?.[1] ?? NaN);
    const requests = value(/^strata_store_bucket_cache_operation_requests_total\{operation="get_range",config="chunks"\} (\S+)$/m);
    const hits = value(/^strata_store_bucket_cache_operation_hits_total\{operation="get_range",config="chunks"\} (\S+)$/m);
    expect(requests).toBeGreaterThan(0);
    // The second query's reads were all hits: at least half of all reads.
    expect(hits).toBeGreaterThanOrEqual(requests / 2);
    expect(value(/^strata_cache_inmemory_items\{name="caching-bucket"\} (\S+)$/m)).toBeGreaterThan(0);
    expect(value(/^strata_cache_inmemory_max_size_bytes\{name="caching-bucket"\} (\S+)$/m)).toBe(64 * 1024 * 1024);
  });

  it('without the flag, every query reads its chunks from the bucket (no cache)', async () => {
    const store = await start({ objstoreConfigFile: configFile, dataDir: join(dir.path, 'data-plain'), grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: nopLogger });
    const plain = new StoreClient(store.grpcAddress);
    try {
      const first = await query(plain);
      const second = await query(plain);
      expect(second.samples).toEqual(first.samples);
      expect(second.chunkGets).toBe(first.chunkGets);
      expect(second.chunkGets).toBeGreaterThan(0);
      expect(await store.registry.metrics()).not.toMatch(/strata_store_bucket_cache_operation_requests_total/);
    } finally {
      plain.close();
      await store.stop();
    }
  });
});
