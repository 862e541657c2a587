// The store gateway against real parts: promtool-made blocks uploaded with external labels to s3rver,
// answers compared with the StoreAPI acceptance suite, `promtool tsdb dump` and Prometheus' own label
// APIs on the same blocks.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { DELETION_MARK_FILENAME, markBlock, TimeBound } from '@strata/block';
import { nopLogger } from '@strata/runtime';
import {
  acceptanceFixture,
  fixtureOpenMetrics,
  GrpcStatus,
  labelNamesRequest,
  labelValuesRequest,
  type LabelMatcher,
  readChunkSeries,
  seriesRequest,
  StoreClient,
  storeAcceptanceCases,
} from '@strata/storeapi';
import { start, type Store, type StoreConfig } from '@strata/store';
import { chunkDataByteNear } from '@strata/testing/corrupt';
import { startMemcached } from '@strata/testing/memcached';
import { startRedis } from '@strata/testing/redis';
import { sleep, tempDir } from '@strata/testing/process';
import { promtool, startPrometheus, type PrometheusHandle } from '@strata/testing/prometheus';
import { startS3rver, type S3Server } from '@strata/testing/s3';
import { Labels, ValueType, type BlockMeta } from '@strata/tsdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '@strata/testing/random';
import { copyBlock, CountingBucket, promtoolBlocks, randomHistory, s3Bucket, uploadWithLabels } from './fixtures.js';

let s3: S3Server;
let dir: { path: string; cleanup: () => Promise<void> };
const stores: Store[] = [];
const clients: StoreClient[] = [];

async function startStore(cfg: Omit<StoreConfig, 'grpcAddress' | 'httpAddress' | 'logger'>): Promise<{ store: Store; client: StoreClient }> {
  const store = await start({ grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: nopLogger, ...cfg });
  stores.push(store);
  const client = new StoreClient(store.grpcAddress);
  clients.push(client);
  return { store, client };
}

async function stopStore(store: Store, client: StoreClient): Promise<void> {
  client.close();
  await store.stop();
  stores.splice(stores.indexOf(store), 1);
  clients.splice(clients.indexOf(client), 1);
}

/** [labels, t, v] for every sample in [mint, maxt] the store returns, external labels removed. */
async function storeSamples(client: StoreClient, matchers: LabelMatcher[], mint: number, maxt: number, ext: string[]): Promise<string[]> {
  const out: string[] = [];
  for await (const s of readChunkSeries(client.series(seriesRequest({ minTime: mint, maxTime: maxt, matchers })))) {
    const ls = s.labels.without(ext).toString();
    for (const c of s.chunks) {
      const it = c.chunk.iterator();
      while (it.next() === ValueType.Float) if (it.atT() >= mint && it.atT() <= maxt) out.push(`${ls} ${it.atT()} ${it.atFloat()}`);
    }
  }
  return out.sort();
}

/** The same from `promtool tsdb dump` on the local blocks. */
async function promtoolSamples(dataDir: string, selector: string, mint: number, maxt: number): Promise<string[]> {
  const text = await promtool(['tsdb', 'dump', `--min-time=${mint}`, `--max-time=${maxt}`, `--match=${selector}`, dataDir]);
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const close = line.lastIndexOf('} ');
    const [v, t] = line.slice(close + 2).split(' ') as [string, string];
    out.push(`${line.slice(0, close + 1)} ${t} ${Number(v)}`);
  }
  return out.sort();
}

const TYPES = ['=', '!=', '=~', '!~'] as const;
const selector = (ms: LabelMatcher[]) => `{${ms.map((m) => `${m.name}${TYPES[m.type]}${JSON.stringify(m.value)}`).join(',')}}`;

beforeAll(async () => {
  s3 = await startS3rver();
  dir = await tempDir('strata-store-test-');
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of stores) await s.stop();
  await s3?.stop();
  await dir?.cleanup();
});

describe('StoreAPI acceptance: store gateway', () => {
  const fixture = acceptanceFixture(Date.now() - 8 * 3_600_000, { hours: 5, extLabels: { cluster: 'acceptance', replica: 'r0' } });
  let client: StoreClient;
  beforeAll(async () => {
    const bucket = s3Bucket(s3, 'acceptance');
    for (const b of await promtoolBlocks(fixtureOpenMetrics(fixture), join(dir.path, 'acceptance'))) await uploadWithLabels(bucket, b, fixture.extLabels);
    ({ client } = await startStore({ bucket, dataDir: join(dir.path, 'acceptance-data') }));
  }, 120_000);
  for (const c of storeAcceptanceCases(fixture)) it(c.name, () => c.run(client));
});

describe('store gateway over promtool blocks', () => {
  const ext = { cluster: 'c1' };
  const history = randomHistory(5, 7);
  let blocks: string[];
  let dataDir: string;
  let client: StoreClient;
  let store: Store;
  let counting: CountingBucket;
  let prom: PrometheusHandle;

  beforeAll(async () => {
    blocks = await promtoolBlocks(history.openMetrics, join(dir.path, 'random'));
    counting = new CountingBucket(s3Bucket(s3, 'random'));
    for (const b of blocks) await uploadWithLabels(counting, b, ext);
    dataDir = join(dir.path, 'random-data');
    ({ store, client } = await startStore({ bucket: counting, dataDir }));
  }, 120_000);

  afterAll(async () => {
    await prom?.stop();
  });

  it('made several blocks, all loaded', async () => {
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    expect(store.bucketStore.blocks().length).toBe(blocks.length);
    const info = await client.info();
    expect(info.labelSets).toEqual([[{ name: 'cluster', value: 'c1' }]]);
    // promtool's blocks leave gaps between the last and first samples of neighbours: one range each.
    expect(info.store?.tsdbInfos.length).toBe(blocks.length);
    expect(info.store!.minTime).toBeLessThanOrEqual(history.start + 15_000);
  });

  it('Series returns exactly the samples promtool tsdb dump shows, for random selections and time ranges', async () => {
    const rand = seededRandom(42);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const span = history.end - history.start;
    let nonEmpty = 0;
    for (let i = 0; i < 30; i++) {
      const matchers: LabelMatcher[] = [
        pick<LabelMatcher>([
          { type: 0, name: '__name__', value: pick(['rh_requests', 'rh_latency', 'rh_temp']) },
          { type: 2, name: '__name__', value: 'rh_(requests|temp)' },
          { type: 2, name: '__name__', value: 'rh_.*' },
        ]),
      ];
      const extra = pick<LabelMatcher[]>([
        [],
        [{ type: 0, name: 'job', value: pick(['api', 'db', 'web']) }],
        [{ type: 1, name: 'instance', value: pick(['i0', 'i1', 'i2', 'i3']) }],
        [{ type: 2, name: 'instance', value: 'i[02]' }, { type: 3, name: 'job', value: 'we.*' }],
        [{ type: 0, name: 'path', value: '' }],
        [{ type: 2, name: 'path', value: '/p.+' }],
      ]);
      matchers.push(...extra);
      const a = history.start + Math.floor(rand() * span);
      const b = history.start + Math.floor(rand() * span);
      const [mint, maxt] = i < 3 ? [history.start - 3_600_000, history.end + 3_600_000] : [Math.min(a, b), Math.max(a, b)];
      const want = await promtoolSamples(blocks[0]!.slice(0, blocks[0]!.lastIndexOf('/')), selector(matchers), mint, maxt);
      const got = await storeSamples(client, matchers, mint, maxt, Object.keys(ext));
      expect(got.length, `${selector(matchers)} [${mint}, ${maxt}]`).toBe(want.length);
      expect(got, `${selector(matchers)} [${mint}, ${maxt}]`).toEqual(want);
      if (want.length > 0) nonEmpty++;
    }
    expect(nonEmpty).toBeGreaterThan(20);
  });

  it("label names and values match Prometheus' own label APIs on the same blocks", async () => {
    const promDir = join(dir.path, 'prom');
    await mkdir(promDir, { recursive: true });
    prom = await startPrometheus({ dir: promDir, dataDir: blocks[0]!.slice(0, blocks[0]!.lastIndexOf('/')) });
    const names = await prom.api<string[]>('labels');
    const got = await client.labelNames(labelNamesRequest({ start: history.start, end: history.end }));
    expect(got.names.filter((n) => n !== 'cluster')).toEqual(names);
    for (const [match, matchers] of [
      ['rh_temp{job="api"}', [{ type: 0, name: '__name__', value: 'rh_temp' }, { type: 0, name: 'job', value: 'api' }]],
      ['{path=~"/p.+"}', [{ type: 2, name: 'path', value: '/p.+' }]],
    ] as [string, LabelMatcher[]][]) {
      const pn = await prom.api<string[]>('labels', { 'match[]': match });
      const sn = await client.labelNames(labelNamesRequest({ start: history.start, end: history.end, matchers }));
      expect(sn.names.filter((n) => n !== 'cluster'), match).toEqual(pn);
      for (const label of ['instance', 'job', 'path', '__name__']) {
        const pv = await prom.api<string[]>(`label/${label}/values`, { 'match[]': match });
        const sv = await client.labelValues(labelValuesRequest({ label, start: history.start, end: history.end, matchers }));
        expect(sv.values, `${label} for ${match}`).toEqual(pv);
      }
    }
    for (const label of ['instance', 'job', 'path', '__name__']) {
      const pv = await prom.api<string[]>(`label/${label}/values`);
      const sv = await client.labelValues(labelValuesRequest({ label, start: history.start, end: history.end }));
      expect(sv.values, label).toEqual(pv);
    }
  });

  it('a relative --min-time (read at each sync and request) leaves out the blocks and chunks before it', async () => {
    const mid = history.start + Math.floor((history.end - history.start) / 2);
    const bounded = await startStore({ bucket: counting, dataDir: join(dir.path, 'bounded-data'), minTime: TimeBound.fromNow(mid - Date.now()) });
    expect(bounded.store.bucketStore.blocks().length).toBeLessThan(blocks.length);
    expect((await bounded.client.info()).store!.minTime).toBeGreaterThanOrEqual(mid);
    const m: LabelMatcher[] = [{ type: 2, name: '__name__', value: 'rh_.*' }];
    const got = await storeSamples(bounded.client, m, history.start, history.end, ['cluster']);
    expect(got.length).toBeLessThan((await storeSamples(client, m, history.start, history.end, ['cluster'])).length);
    // Whole chunks are sent: the one straddling --min-time brings a few earlier samples along.
    expect(got.filter((s) => Number(s.split(' ').at(-2)) >= mid)).toEqual(await storeSamples(client, m, mid, history.end, ['cluster']));
    await stopStore(bounded.store, bounded.client);
  });

  it('a sample limit ends the call with ResourceExhausted naming the flag', async () => {
    const limited = await startStore({ bucket: counting, dataDir, seriesSampleLimit: 1000 });
    const err = await (async () => {
      for await (const _ of limited.client.series(seriesRequest({ minTime: history.start, maxTime: history.end, matchers: [{ type: 2, name: '__name__', value: 'rh_.*' }] })));
    })().catch((e: unknown) => e as { code: number; details: string });
    expect(err).toMatchObject({ code: GrpcStatus.RESOURCE_EXHAUSTED });
    expect((err as { details: string }).details).toContain('--store.grpc.series-sample-limit');
    await stopStore(limited.store, limited.client);
  });

  it('a series limit ends the call with ResourceExhausted naming the flag, counted by reason', async () => {
    const limited = await startStore({ bucket: counting, dataDir, seriesLimit: 5 });
    const call = (value: string) =>
      (async () => {
        let n = 0;
        for await (const f of limited.client.series(seriesRequest({ minTime: history.start, maxTime: history.end, matchers: [{ type: 2, name: '__name__', value }] }))) n += 'series' in f ? 1 : 0;
        return n;
      })();
    const err = await call('rh_.*').catch((e: unknown) => e as { code: number; details: string });
    expect(err).toMatchObject({ code: GrpcStatus.RESOURCE_EXHAUSTED });
    expect((err as { details: string }).details).toMatch(/exceeded the series limit of 5 \(--store.limits.request-series, formerly --store.grpc.touched-series-limit\)/);
    const text = await (await fetch(`http://${limited.store.httpAddress}/metrics`)).text();
    expect(text).toMatch(/^strata_bucket_store_queries_dropped_total\{reason="series",tenant="default-tenant"\} 1$/m);
    await stopStore(limited.store, limited.client);
  });

  it('a call that would read more from the bucket than --store.grpc.downloaded-bytes-limit ends with ResourceExhausted naming the flag, before the read', async () => {
    const all = seriesRequest({ minTime: history.start, maxTime: history.end, matchers: [{ type: 2, name: '__name__', value: 'rh_.*' }] });
    const read = async (c: StoreClient, req: typeof all) => {
      let n = 0;
      for await (const f of c.series(req)) n += 'series' in f ? 1 : 'batch' in f ? f.batch.length : 0;
      return n;
    };
    // What the whole selection reads, measured by a store gateway without the limit (and without caches).
    const unbounded = await startStore({ bucket: counting, dataDir, indexCacheBytes: 0 });
    const before = counting.bytes;
    const everything = await read(unbounded.client, all);
    const needed = counting.bytes - before;
    await stopStore(unbounded.store, unbounded.client);
    const limit = Math.floor(needed / 2);
    const limited = await startStore({ bucket: counting, dataDir, indexCacheBytes: 0, downloadedBytesLimit: limit });
    const start = counting.bytes;
    const err = await read(limited.client, all).catch((e: unknown) => e as { code: number; details: string });
    expect(err).toMatchObject({ code: GrpcStatus.RESOURCE_EXHAUSTED });
    expect((err as { details: string }).details).toContain(`exceeded the downloaded bytes limit of ${limit} (--store.grpc.downloaded-bytes-limit)`);
    // Refused before the read that would pass it: never more than the limit read.
    expect(counting.bytes - start).toBeLessThanOrEqual(limit);
    const text = await (await fetch(`http://${limited.store.httpAddress}/metrics`)).text();
    expect(text).toMatch(/^strata_bucket_store_queries_dropped_total\{reason="bytes",tenant="default-tenant"\} 1$/m);
    // A narrower call fits.
    const one: LabelMatcher[] = [
      { type: 0, name: '__name__', value: 'rh_temp' },
      { type: 0, name: 'job', value: 'db' },
      { type: 0, name: 'instance', value: 'i1' },
    ];
    expect(await read(limited.client, seriesRequest({ minTime: history.end - 3_600_000, maxTime: history.end, matchers: one }))).toBe(1);
    expect(everything).toBeGreaterThan(1);
    await stopStore(limited.store, limited.client);
  });

  it('a call that would hold more chunk bytes than --chunk-pool-size ends with ResourceExhausted naming the flag, and gives them back', async () => {
    const bound = 32 * 1024;
    const all = seriesRequest({ minTime: history.start, maxTime: history.end, matchers: [{ type: 2, name: '__name__', value: 'rh_.*' }] });
    let allChunkBytes = 0;
    for await (const s of readChunkSeries(client.series(all))) for (const c of s.chunks) allChunkBytes += c.chunk.bytes.length;
    // Reads cover at least the chunks they return: the whole selection cannot fit.
    expect(allChunkBytes).toBeGreaterThan(2 * bound);
    const bounded = await startStore({ bucket: counting, dataDir, chunkPoolBytes: bound });
    const read = async (req: typeof all) => {
      let n = 0;
      for await (const f of bounded.client.series(req)) n += 'series' in f ? 1 : 'batch' in f ? f.batch.length : 0;
      return n;
    };
    const err = await read(all).catch((e: unknown) => e as { code: number; details: string });
    expect(err).toMatchObject({ code: GrpcStatus.RESOURCE_EXHAUSTED });
    expect((err as { details: string }).details).toMatch(/^chunk bytes exhausted: .*past --chunk-pool-size \(0\.0 MiB, .*raise --chunk-pool-size$/);
    // What the failed call took is given back: a call that fits is served, one cut by its limit too.
    const metrics = async () => (await fetch(`http://${bounded.store.httpAddress}/metrics`)).text();
    expect(await metrics()).toMatch(/^strata_bucket_store_chunk_bytes_held 0$/m);
    const one: LabelMatcher[] = [
      { type: 0, name: '__name__', value: 'rh_temp' },
      { type: 0, name: 'job', value: 'db' },
      { type: 0, name: 'instance', value: 'i1' },
    ];
    expect(await read(seriesRequest({ minTime: history.end - 3_600_000, maxTime: history.end, matchers: one }))).toBe(1);
    const instances: LabelMatcher[] = [{ type: 0, name: '__name__', value: 'rh_temp' }, { type: 0, name: 'job', value: 'db' }];
    expect(await read(seriesRequest({ minTime: history.end - 3_600_000, maxTime: history.end, matchers: instances, limit: 1 }))).toBe(1);
    const text = await metrics();
    expect(text).toMatch(/^strata_bucket_store_chunk_bytes_held 0$/m);
    expect(text).toMatch(/^strata_bucket_store_queries_dropped_total\{reason="chunk-bytes",tenant="default-tenant"\} 1$/m);
    await stopStore(bounded.store, bounded.client);
  });

  it('a restart with the same --data-dir reads no index or meta.json bytes from the bucket', async () => {
    expect(counting.rangeGets.some((n) => n.endsWith('/index'))).toBe(true);
    await stopStore(store, client);
    counting.reset();
    ({ store, client } = await startStore({ bucket: counting, dataDir }));
    expect(store.bucketStore.blocks().length).toBe(blocks.length);
    expect(counting.gets).toEqual([]);
    expect(counting.rangeGets).toEqual([]);
    // Labels come from the index-header alone.
    const names = await client.labelNames(labelNamesRequest({ start: history.start, end: history.end }));
    expect(names.names).toContain('job');
    expect(counting.rangeGets).toEqual([]);
    // Series read postings, series and chunks by range, never a whole object.
    const m: LabelMatcher[] = [{ type: 0, name: '__name__', value: 'rh_temp' }, { type: 0, name: 'job', value: 'db' }];
    const got = await storeSamples(client, m, history.start, history.end, ['cluster']);
    expect(got.length).toBeGreaterThan(0);
    expect(counting.gets).toEqual([]);
    const before = counting.rangeGets.length;
    // The same query again: postings and series from the index cache, only chunks from the bucket.
    await storeSamples(client, m, history.start, history.end, ['cluster']);
    expect(counting.rangeGets.slice(before).filter((n) => n.endsWith('/index'))).toEqual([]);
  });

  it('readers of idle blocks are closed and reopen from the index-header', async () => {
    await store.closeIdle(0);
    expect(store.bucketStore.blocks().every((b) => !b.isOpen)).toBe(true);
    counting.reset();
    const names = await client.labelValues(labelValuesRequest({ label: 'job', start: history.start, end: history.end }));
    expect(names.values).toEqual(['api', 'db', 'web']);
    expect(counting.rangeGets).toEqual([]);
  });

  it('serves /metrics with block and cache figures, and is ready', async () => {
    const ready = await fetch(`http://${store.httpAddress}/-/ready`);
    expect(ready.status).toBe(200);
    const text = await (await fetch(`http://${store.httpAddress}/metrics`)).text();
    expect(text).toContain(`strata_bucket_store_blocks_loaded ${blocks.length}`);
    expect(text).toMatch(/strata_store_index_cache_hits_total\{item_type="ExpandedPostings"\} [1-9]/);
    expect(text).toContain('strata_bucket_store_query_object_requests_count');
  });

  it('shows the blocks it serves in the block viewer, as Thanos’ /api/v1/blocks?view=loaded', async () => {
    const res = await fetch(`http://${store.httpAddress}/api/v1/blocks?view=loaded`);
    const body = (await res.json()) as { status: string; data: { blocks: BlockMeta[]; err: string | null } };
    expect(body.status).toBe('success');
    expect(body.data.err).toBeNull();
    expect(body.data.blocks.map((b) => b.ulid).sort()).toEqual(blocks.map((b) => basename(b)).sort());
    expect(body.data.blocks[0]!.thanos?.labels).toBeDefined();
    expect((await fetch(`http://${store.httpAddress}/loaded`)).headers.get('content-type')).toMatch(/^text\/html/);
  });
});

describe('store gateway: bad and changing buckets', () => {
  let block: string;
  beforeAll(async () => {
    const fx = acceptanceFixture(Date.now() - 6 * 3_600_000, { hours: 1 });
    [block] = (await promtoolBlocks(fixtureOpenMetrics(fx), join(dir.path, 'small'))) as [string];
  }, 60_000);

  it('a block with a corrupted chunk gives an error naming the block, and no series of it', async () => {
    const bucket = s3Bucket(s3, 'corrupt');
    const bad = await copyBlock(block, join(dir.path, 'corrupt'));
    const seg = join(bad, 'chunks', '000001');
    const bytes = await readFile(seg);
    bytes[chunkDataByteNear(bytes, bytes.length / 2)]! ^= 0xff;
    await writeFile(seg, bytes);
    const good = await copyBlock(block, join(dir.path, 'corrupt'));
    await uploadWithLabels(bucket, good, { cluster: 'good' });
    await uploadWithLabels(bucket, bad, { cluster: 'bad' });
    const { client } = await startStore({ bucket, dataDir: join(dir.path, 'corrupt-data') });
    const badId = bad.slice(bad.lastIndexOf('/') + 1);
    const frames: unknown[] = [];
    const err = await (async () => {
      for await (const f of client.series(seriesRequest({ minTime: 0, maxTime: Date.now(), matchers: [{ type: 2, name: '__name__', value: 'acc_.*' }] }))) frames.push(f);
    })().catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(`block ${badId}`);
    expect((err as Error).message).toMatch(/checksum/);
    expect(frames).toEqual([]);
    // The good block alone still serves.
    const ok = await storeSamples(client, [{ type: 0, name: 'cluster', value: 'good' }, { type: 0, name: 'job', value: 'api' }], 0, Date.now(), []);
    expect(ok.length).toBeGreaterThan(0);
  });

  it("caches what --index-cache.config enables, in Thanos' format", async () => {
    const bucket = s3Bucket(s3, 'index-cache');
    await uploadWithLabels(bucket, await copyBlock(block, join(dir.path, 'index-cache')), { cluster: 'c' });
    const { store, client } = await startStore({ bucket, dataDir: join(dir.path, 'index-cache-data'), indexCacheConfig: 'type: IN-MEMORY\nconfig: {max_size: 64MB}\nenabled_items: [Series]\n' });
    const m: LabelMatcher[] = [{ type: 0, name: 'job', value: 'api' }];
    for (let i = 0; i < 2; i++) expect((await storeSamples(client, m, 0, Date.now(), [])).length).toBeGreaterThan(0);
    const text = await (await fetch(`http://${store.httpAddress}/metrics`)).text();
    expect(text).toMatch(/^strata_store_index_cache_hits_total\{item_type="Series"\} [1-9]/m);
    for (const item of ['Postings', 'ExpandedPostings']) expect(text).toMatch(new RegExp(`^strata_store_index_cache_requests_total\\{item_type="${item}"\\} 0$`, 'm'));
  });

  it.each([
    { system: 'memcached', type: 'MEMCACHED', start: () => startMemcached(), config: (address: string) => `{addresses: ["${address}"]}` },
    { system: 'redis', type: 'REDIS', start: () => startRedis(), config: (address: string) => `{addr: "${address}"}` },
  ])('keeps its index cache and chunk pieces in $system (type: $type), where a second store gateway finds them and answers the same', async ({ system, type, start, config }) => {
    const server = await start();
    try {
      const bucket = s3Bucket(s3, `index-${system}`);
      // Three blocks, read at once by a query: their index lookups go to the cache together.
      for (const cluster of ['c', 'd', 'e']) await uploadWithLabels(bucket, await copyBlock(block, join(dir.path, `index-${system}-${cluster}`)), { cluster });
      const indexCacheConfig = `type: ${type}\nconfig: ${config(server.address)}\nttl: 1h\n`;
      const cachingBucketConfig = `type: ${type}\nconfig: ${config(server.address)}\nchunk_subrange_ttl: 1h\n`;
      const m: LabelMatcher[] = [{ type: 0, name: 'job', value: 'api' }];
      const metrics = async (s: Store) => (await fetch(`http://${s.httpAddress}/metrics`)).text();
      const first = await startStore({ bucket, dataDir: join(dir.path, `index-${system}-1`), indexCacheConfig, cachingBucketConfig });
      const want = await storeSamples(first.client, m, 0, Date.now(), []);
      expect(want.length).toBeGreaterThan(0);
      expect(await metrics(first.store)).toMatch(/^strata_store_index_cache_hits_total\{item_type="Series"\} 0$/m);
      // Its sets go out after the answer: wait until the cache took every one, of both caches.
      const setsDone = (text: string, name: string) => {
        const sent = new RegExp(`^strata_${system}_operations_total\\{name="${name}",operation="set"\\} (\\d+)`, 'm').exec(text)?.[1];
        return sent !== '0' && sent === new RegExp(`^strata_${system}_operation_duration_seconds_count\\{name="${name}",operation="set"\\} (\\d+)`, 'm').exec(text)?.[1];
      };
      for (let i = 0; i < 200; i++) {
        const text = await metrics(first.store);
        if (setsDone(text, 'index-cache') && setsDone(text, 'caching-bucket')) break;
        await sleep(10);
      }
      const counting = new CountingBucket(bucket);
      const second = await startStore({ bucket: counting, dataDir: join(dir.path, `index-${system}-2`), indexCacheConfig, cachingBucketConfig });
      counting.reset();
      expect(await storeSamples(second.client, m, 0, Date.now(), [])).toEqual(want);
      const text = await metrics(second.store);
      // The expanded postings came from the cache, and so did every series entry and every chunk: the query read nothing from the bucket.
      for (const item of ['ExpandedPostings', 'Series']) expect(text).toMatch(new RegExp(`^strata_store_index_cache_hits_total\\{item_type="${item}"\\} [1-9]`, 'm'));
      expect(text).toMatch(/^strata_store_bucket_cache_getrange_fetched_bytes_total\{origin="cache",config="chunks"\} [1-9]/m);
      expect(counting.rangeGets).toEqual([]);
      // Index lookups made in the same turn went out together: fewer multi-gets than lookups.
      const sum = (re: RegExp) => [...text.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
      const lookups = sum(/^strata_store_index_cache_requests_total\{[^}]*\} (\d+)/gm);
      const gets = sum(new RegExp(`^strata_${system}_operations_total\\{name="index-cache",operation="getmulti"\\} (\\d+)`, 'gm'));
      expect(gets).toBeGreaterThan(0);
      expect(gets).toBeLessThan(lookups);
    } finally {
      await server.stop();
    }
  });

  it('deletion-marked blocks disappear once the mark is older than --ignore-deletion-marks-delay', async () => {
    const bucket = s3Bucket(s3, 'deletion');
    const [a, b] = [await copyBlock(block, join(dir.path, 'del')), await copyBlock(block, join(dir.path, 'del'))];
    const ida = a.slice(a.lastIndexOf('/') + 1);
    const idb = b.slice(b.lastIndexOf('/') + 1);
    await uploadWithLabels(bucket, a, { replica: 'a' });
    await uploadWithLabels(bucket, b, { replica: 'b' });
    const { store } = await startStore({ bucket, dataDir: join(dir.path, 'del-data'), ignoreDeletionMarksDelayMs: 3_600_000 });
    expect(store.bucketStore.blocks().map((x) => x.id).sort()).toEqual([ida, idb].sort());
    await markBlock(bucket, ida, DELETION_MARK_FILENAME, { now: new Date(Date.now() - 2 * 3_600_000) });
    await markBlock(bucket, idb, DELETION_MARK_FILENAME);
    await store.sync();
    // a's mark is past the delay; b's is not, so b is still served (queries keep working until it is replaced).
    expect(store.bucketStore.blocks().map((x) => x.id)).toEqual([idb]);
  });

  it('200 blocks load and serve', async () => {
    const bucket = s3Bucket(s3, 'many');
    for (let i = 0; i < 200; i++) await uploadWithLabels(bucket, await copyBlock(block, join(dir.path, 'many')), { replica: `r${String(i).padStart(3, '0')}` });
    const { store, client } = await startStore({ bucket, dataDir: join(dir.path, 'many-data'), blockSyncConcurrency: 20 });
    expect(store.bucketStore.blocks().length).toBe(200);
    const series = [];
    for await (const s of readChunkSeries(client.series(seriesRequest({ minTime: 0, maxTime: Date.now(), matchers: [{ type: 0, name: '__name__', value: 'acc_gauge' }, { type: 0, name: 'job', value: 'db' }] })))) series.push(s);
    expect(series).toHaveLength(400);
    expect(series[0]!.labels.get('replica')).toBe('r000');
    const dedup = [];
    for await (const s of readChunkSeries(
      client.series(seriesRequest({ minTime: 0, maxTime: Date.now(), withoutReplicaLabels: ['replica'], matchers: [{ type: 0, name: '__name__', value: 'acc_gauge' }, { type: 0, name: 'job', value: 'db' }] })),
    ))
      dedup.push(s);
    expect(dedup.map((s) => s.labels.toString())).toEqual([
      Labels.from({ __name__: 'acc_gauge', instance: 'a:9100', job: 'db' }).toString(),
      Labels.from({ __name__: 'acc_gauge', instance: 'b:9100', job: 'db' }).toString(),
    ]);
  }, 300_000);
});
