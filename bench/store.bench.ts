/**
 * `pnpm bench store [--series=N] [--days=D] [--step=S] [--rounds=N] [--wide=N] [--wide-rounds=N] [--wide-warmup=N] [--wide-only] [--skip-promtool] [--cpu-prof-dir=DIR]`
 *
 * The store gateway over a bucket of 2h blocks (default 1,000 series × 7 days at a 30s step, written
 * with Strata's own BlockWriter, uploaded to s3rver), per query: latency (cold: first run, warm: best
 * of the rest), object-store requests and bytes fetched against the chunk bytes the answer holds, and
 * as the reference `promtool tsdb dump` of the same selection from the same blocks on local disk, in
 * the same run. Also: load time, heap and RSS per loaded idle block.
 *
 * Series throughput is measured on a wide selection, so that per-request and per-block costs are
 * amortized over many series: one more 2h block of `--wide` series (default 100,000, same sample
 * generator), all of them selected. It is served twice, from s3rver and from a filesystem bucket, each
 * by a store gateway of its own running as in deployments: `strata store` (the built CLI) in its own
 * process, read over gRPC by a reader in a process of its own (bench/series-reader.ts: a fresh JIT and
 * heap, as a querier's) as a querier would, asking for batches of 64 series per frame
 * as Thanos' querier does (`response_batch_size`). Reported: series/s (and MiB/s of chunk bytes) at this
 * client, cold (index cache empty) and warm (postings and series entries cached, chunks always read
 * from the bucket, as with Thanos' defaults): after `--wide-warmup` untimed rounds (default 10: the store
 * gateway's JIT goes on improving its per-round time over the first ten or so, which a long-running
 * store gateway has long done), the best and the median of `--wide-rounds` rounds (default 10), against
 * `promtool tsdb dump` of the same block; and the store gateway's own CPU per series (its
 * process_cpu_seconds_total, from its /metrics, around each round), as series per CPU-second of the
 * store gateway: what one core of it serves, which other work on a shared machine disturbs less than
 * wall time. On 2 cores the client's decoding (and s3rver) share the machine with the store gateway,
 * which sends nothing before it has read every series of a query (a corrupt block fails the call
 * before any frame): the client decodes while the store gateway encodes and sends. A supplementary line gives the same selection with skip_chunks (labels only):
 * the per-series cost apart from chunks. No chunk cache is involved: every round reads its chunks from
 * the bucket. `--cpu-prof-dir=DIR` writes V8 CPU profiles of both store gateways there. `--wide-only` runs
 * just this throughput part (no 1,000-series dataset, queries or idle-block heap). `--skip-promtool`
 * leaves out the promtool dumps (the reference columns; most of a `--wide-only` run's time), for quick
 * comparisons of the store gateway alone.
 *
 * The 1,000-series × 7-day queries run against a store gateway in this process (its heap per idle
 * block is measured here); their throughput line counts this process' CPU (store gateway and client).
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { uploadBlock } from '../packages/block/src/index.js';
import { newBucket, parseBucketConfig, type Bucket } from '../packages/objstore/src/index.js';
import { nopLogger } from '../packages/runtime/src/index.js';
import { StoreClient, type LabelMatcher } from '../packages/storeapi/src/index.js';
import { start } from '../packages/store/src/index.js';
import { BlockWriter, Labels, type SampleIterator, ValueType } from '../packages/tsdb/src/index.js';
import { freePort, startProcess, tempDir, waitForHttp, type Managed } from '../test/harness/process.js';
import { startS3rver } from '../test/harness/s3.js';
import { readRound, type ReaderJob, type ReaderRound } from './series-reader.js';
import { median } from './stats.js';


const CLI = fileURLToPath(new URL('../packages/cli/dist/main.js', import.meta.url));

/** Runs promtool, draining its output without keeping it (a 7-day dump is larger than a JS string may be). */
function promtoolDump(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('promtool', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    p.stdout.resume();
    p.once('error', reject);
    p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`promtool ${args.join(' ')} exited with ${code}`))));
  });
}
const BLOCK_MS = 2 * 3_600_000;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** A random walk with two decimals between [from, to), one sample every `step` ms. */
class WalkIterator implements SampleIterator {
  #t: number;
  #v: number;
  constructor(
    from: number,
    readonly to: number,
    readonly step: number,
    seed: number,
  ) {
    this.#t = from - step;
    this.#v = seed * 10;
  }
  next(): ValueType {
    this.#t += this.step;
    if (this.#t >= this.to) return ValueType.None;
    this.#v = Math.round((this.#v + Math.sin(this.#t / 7_000_000 + this.#v) * 3) * 100) / 100;
    return ValueType.Float;
  }
  seek(t: number): ValueType {
    while (this.#t < t) if (this.next() === ValueType.None) return ValueType.None;
    return ValueType.Float;
  }
  atT(): number {
    return this.#t;
  }
  atFloat(): number {
    return this.#v;
  }
  err(): Error | null {
    return null;
  }
}

/** Thanos' querier asks stores for batches of this many series per frame (store.DefaultResponseBatchSize). */
const RESPONSE_BATCH_SIZE = 64;


/** Writes a 2h block per step of `[from, end)` into `data` with one series per label set, uploads each to every bucket; returns the block count. */
async function writeBlocks(data: string, labels: readonly Labels[], from: number, end: number, step: number, buckets: readonly Bucket[]): Promise<number> {
  let blocks = 0;
  for (let t = from; t < end; t += BLOCK_MS) {
    const w = await BlockWriter.create(data, { chunkRange: BLOCK_MS, thanos: { labels: { cluster: 'bench' }, downsample: { resolution: 0 }, source: 'test' } });
    for (let s = 0; s < labels.length; s++) await w.addSeries(labels[s]!, new WalkIterator(t, t + BLOCK_MS, step, s));
    const meta = await w.close();
    for (const b of buckets) await uploadBlock(b, join(data, meta.ulid));
    blocks++;
  }
  return blocks;
}

/**
 * The wide block: `n` series × the 2h before `end`, written into `data` and uploaded to every bucket. Its
 * labels are made here, to die with the call: kept in this process' heap, 100,000 label sets slowed
 * what this process measures later (its garbage collections then mark them every time).
 */
async function writeWideBlock(data: string, n: number, end: number, step: number, buckets: readonly Bucket[]): Promise<void> {
  const labels = Array.from({ length: n }, (_, s) => Labels.from({ __name__: 'bench_wide', job: `job${s % 10}`, instance: `host${s}:9100` })).sort(Labels.compare);
  await writeBlocks(data, labels, end - BLOCK_MS, end, step, buckets);
}


/** `strata store` over the bucket `objstoreYaml` describes, in a process of its own, ready (first sync done). */
async function startStoreProcess(dir: string, name: string, objstoreYaml: string, nodeArgs: string[]): Promise<{ proc: Managed; grpc: string; metricsUrl: string }> {
  const config = join(dir, `${name}.objstore.yaml`);
  await writeFile(config, objstoreYaml);
  const http = `127.0.0.1:${await freePort()}`;
  const grpc = `127.0.0.1:${await freePort()}`;
  const args = [...nodeArgs, CLI, 'store', `--objstore.config-file=${config}`, `--data-dir=${join(dir, name)}`, `--http-address=${http}`, `--grpc-address=${grpc}`, '--log.level=warn'];
  const proc = startProcess('node', args, { logFile: join(dir, `${name}.log`) });
  await waitForHttp(`http://${http}/-/ready`, { proc, timeoutMs: 120_000 });
  return { proc, grpc, metricsUrl: `http://${http}/metrics` };
}

/** A query of the table: its selection, the store gateway asked and who reads it, and the blocks promtool dumps for it. */
interface Query {
  name: string;
  matchers: LabelMatcher[];
  selector: string;
  mint: number;
  maxt: number;
  dir: string;
  throughput?: boolean;
  source: QuerySource;
}

/**
 * Read in this process from the store gateway in this process, or by a reader process of its own (a
 * querier's stand-in) from a store gateway in a process of its own.
 */
type QuerySource = { local: { client: StoreClient; metrics: () => Promise<string> } } | { process: { grpc: string; metricsUrl: string } };

async function inProcessRounds(client: StoreClient, request: ReaderJob['request'], metrics: () => Promise<string>, rounds: number): Promise<ReaderRound[]> {
  const out: ReaderRound[] = [];
  for (let i = 0; i < rounds; i++) out.push(await readRound(client, request, metrics));
  return out;
}

const READER = fileURLToPath(new URL('./series-reader.ts', import.meta.url));

/** The rounds of a reader process (series-reader.ts), run with tsx as this benchmark is. */
function readerRounds(job: ReaderJob): Promise<ReaderRound[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', READER, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.once('error', reject);
    p.once('exit', (code) => (code === 0 ? resolve(out.trim().split('\n').map((l) => JSON.parse(l) as ReaderRound)) : reject(new Error(`series reader exited with ${code}`))));
  });
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      series: { type: 'string', default: '1000' },
      days: { type: 'string', default: '7' },
      step: { type: 'string', default: '30' },
      rounds: { type: 'string', default: '3' },
      wide: { type: 'string', default: '100000' },
      'wide-rounds': { type: 'string', default: '10' },
      'wide-warmup': { type: 'string', default: '10' },
      'cpu-prof-dir': { type: 'string' },
      'wide-only': { type: 'boolean', default: false },
      'skip-promtool': { type: 'boolean', default: false },
    },
  });
  const nSeries = Number(values.series);
  const nWide = Number(values.wide);
  const days = Number(values.days);
  const step = Number(values.step) * 1000;
  const rounds = Number(values.rounds);
  // More rounds for the wide block, each a fraction of a second: the best of a few is noisy on a shared machine.
  const wideRounds = Number(values['wide-rounds']);
  const wideWarmup = Number(values['wide-warmup']);
  const profDir = values['cpu-prof-dir'];
  const dir = await tempDir('strata-store-bench-');
  const s3 = await startS3rver();
  const procs: Managed[] = [];
  try {
    const end = Math.floor((Date.now() - 3 * 3_600_000) / BLOCK_MS) * BLOCK_MS;
    const queries: Query[] = [];
    // The 1,000-series queries' store gateway runs in this process; the wide queries' in processes of their own (whose CPU is reported).
    let local: { store: Awaited<ReturnType<typeof start>>; client: StoreClient } | undefined;
    if (!values['wide-only']) {
      const start0 = end - days * 24 * 3_600_000;
      const data = join(dir.path, 'data');
      await mkdir(join(data, 'wal'), { recursive: true });
      const labels = Array.from({ length: nSeries }, (_, s) => Labels.from({ __name__: 'bench_value', job: `job${s % 10}`, instance: `host${s}:9100` })).sort(Labels.compare);
      let t0 = performance.now();
      const bucket = newBucket(parseBucketConfig(s3.configYaml({ prefix: 'bench' })));
      const blocks = await writeBlocks(data, labels, start0, end, step, [bucket]);
      const samples = nSeries * ((end - start0) / step);
      console.log(`dataset: ${nSeries} series × ${days} days at ${step / 1000}s = ${(samples / 1e6).toFixed(1)}M samples in ${blocks} blocks; written and uploaded in ${((performance.now() - t0) / 1000).toFixed(1)}s`);

      // The store's fixed cost (registry, HTTP and gRPC servers) measured on an empty bucket, so only the blocks' share is divided.
      const empty = await start({ bucket: newBucket(parseBucketConfig(s3.configYaml({ prefix: 'empty' }))), dataDir: join(dir.path, 'empty'), grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: nopLogger });
      gc();
      const before = process.memoryUsage();
      await empty.stop();
      t0 = performance.now();
      const store = await start({ bucket, dataDir: join(dir.path, 'store'), grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: nopLogger });
      const loadS = (performance.now() - t0) / 1000;
      await store.closeIdle(0);
      gc();
      const after = process.memoryUsage();
      console.log(
        `load: ${blocks} blocks (index-headers built) in ${loadS.toFixed(2)}s; per idle block: heap ${((after.heapUsed - before.heapUsed) / blocks / 1024).toFixed(1)} KiB, RSS ${((after.rss - before.rss) / blocks / 1024).toFixed(1)} KiB (target ≤ 32 KiB)`,
      );

      local = { store, client: new StoreClient(store.grpcAddress) };
      const source: QuerySource = { local: { client: local.client, metrics: async () => store.registry.metrics() } };
      const h = 3_600_000;
      queries.push(
        { name: '1 series, 7d', matchers: [{ type: 0, name: 'instance', value: 'host7:9100' }], selector: '{instance="host7:9100"}', mint: start0, maxt: end, source, dir: data },
        { name: '1 series, 3h mid-block', matchers: [{ type: 0, name: 'instance', value: 'host7:9100' }], selector: '{instance="host7:9100"}', mint: end - 30 * h - h / 2, maxt: end - 27 * h - h / 2, source, dir: data },
        { name: `${nSeries / 10} series (job), 1d`, matchers: [{ type: 0, name: 'job', value: 'job3' }], selector: '{job="job3"}', mint: end - 24 * h, maxt: end, source, dir: data },
        { name: `${nSeries} series, 2h`, matchers: [{ type: 0, name: '__name__', value: 'bench_value' }], selector: '{__name__="bench_value"}', mint: end - 2 * h, maxt: end - 1, source, dir: data },
        { name: `${nSeries} series, 7d`, matchers: [{ type: 0, name: '__name__', value: 'bench_value' }], selector: '{__name__="bench_value"}', mint: start0, maxt: end, throughput: true, source, dir: data },
      );
    }
    console.log('\nquery | series | cold ms | warm ms | obj requests (cold) | bytes fetched (cold) | chunk bytes returned | fetched/needed | promtool dump ms | ratio promtool/warm');
    // The wide block: s3rver and a filesystem bucket, each served by a store gateway of its own.
    const wideData = join(dir.path, 'wide');
    await mkdir(join(wideData, 'wal'), { recursive: true });
    const wideS3Yaml = s3.configYaml({ prefix: 'wide' });
    const wideFsYaml = `type: FILESYSTEM\nconfig:\n  directory: ${join(dir.path, 'wide-bucket')}\n`;
    const wideS3 = newBucket(parseBucketConfig(wideS3Yaml));
    const wideFs = newBucket(parseBucketConfig(wideFsYaml));
    const t0 = performance.now();
    await writeWideBlock(wideData, nWide, end, step, [wideS3, wideFs]);
    // What writing it left behind goes before the 1,000-series queries, read in this process, are measured.
    gc();
    console.log(`wide block: ${nWide} series × 2h written and uploaded (s3rver and filesystem) in ${((performance.now() - t0) / 1000).toFixed(1)}s`);
    const profile = (name: string) => (profDir !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=${name}.cpuprofile`] : []);
    const wideStores = await Promise.all(
      [
        ['wide-store-s3rver', wideS3Yaml],
        ['wide-store-filesystem', wideFsYaml],
      ].map(([name, yaml]) => startStoreProcess(dir.path, name as string, yaml as string, profile(name as string))),
    );
    procs.push(...wideStores.map((s) => s.proc));
    const wide = { matchers: [{ type: 0, name: '__name__', value: 'bench_wide' }] as LabelMatcher[], selector: '{__name__="bench_wide"}', mint: end - BLOCK_MS, maxt: end - 1, dir: wideData, throughput: true };
    queries.push(
      { name: `${nWide} series, 2h (s3rver)`, ...wide, source: { process: wideStores[0]! } },
      { name: `${nWide} series, 2h (filesystem)`, ...wide, source: { process: wideStores[1]! } },
    );

    const throughput: string[] = [];
    const promtoolMs = new Map<string, number>();
    for (const q of queries) {
      const request = { minTime: q.mint, maxTime: q.maxt, matchers: q.matchers, responseBatchSize: RESPONSE_BATCH_SIZE };
      const warmup = 'process' in q.source ? wideWarmup : 0;
      const measured = 'process' in q.source ? await readerRounds({ ...q.source.process, request, rounds: 1 + warmup + wideRounds }) : await inProcessRounds(q.source.local.client, request, q.source.local.metrics, rounds);
      const cold = measured[0] as ReaderRound;
      const warmRounds = measured.slice(1 + warmup);
      const warm = Math.min(...warmRounds.map((r) => r.ms));
      const warmMedian = median(warmRounds.map((r) => r.ms));
      const warmCpu = Math.min(...warmRounds.map((r) => r.cpuMs));
      const warmStoreCpu = Math.min(...warmRounds.map((r) => r.storeCpuMs));
      const warmStoreCpuMedian = median(warmRounds.map((r) => r.storeCpuMs));
      // The CPU counter ticks in 10 ms: over all rounds, its rounding shrinks to a fraction of a percent.
      const warmStoreCpuMean = warmRounds.reduce((sum, r) => sum + r.storeCpuMs, 0) / warmRounds.length;
      // The same selection of the same blocks (the wide block from either bucket) is dumped once.
      const dumpArgs = ['tsdb', 'dump', `--min-time=${q.mint}`, `--max-time=${q.maxt}`, `--match=${q.selector}`, q.dir];
      let promMs = values['skip-promtool'] ? Number.NaN : promtoolMs.get(dumpArgs.join(' '));
      if (promMs === undefined) {
        const tp = performance.now();
        await promtoolDump(dumpArgs);
        promMs = performance.now() - tp;
        promtoolMs.set(dumpArgs.join(' '), promMs);
      }
      console.log(
        `${q.name} | ${cold.series} | ${cold.ms.toFixed(0)} | ${warm.toFixed(0)} | ${cold.requests} | ${(cold.bytes / 1024).toFixed(0)} KiB | ${(cold.chunkBytes / 1024).toFixed(0)} KiB | ${(cold.bytes / Math.max(1, cold.chunkBytes)).toFixed(2)} | ${promMs.toFixed(0)} | ${(promMs / warm).toFixed(2)}`,
      );
      if (q.throughput === true) {
        const perS = (n: number, ms: number) => ((n / ms) * 1000).toFixed(0);
        const mib = (ms: number) => (cold.chunkBytes / 1048576 / (ms / 1000)).toFixed(1);
        const cpuLine =
          'process' in q.source
            ? `warm ${perS(cold.series, warmStoreCpu)} series per CPU-second of the store gateway (${((warmStoreCpu * 1000) / cold.series).toFixed(2)} µs/series; median ${((warmStoreCpuMedian * 1000) / cold.series).toFixed(2)}, mean ${((warmStoreCpuMean * 1000) / cold.series).toFixed(2)}), client ${perS(cold.series, warmCpu)} series per CPU-second`
            : `warm ${perS(cold.series, warmCpu)} series per CPU-second of this process (store gateway and client in one process; s3rver and promtool are other processes)`;
        throughput.push(
          `${q.name}: warm ${perS(cold.series, warm)} series/s (median ${perS(cold.series, warmMedian)}; ${perS(cold.chunks, warm)} chunks/s, ${mib(warm)} MiB/s of chunks), cold ${perS(cold.series, cold.ms)} series/s; promtool dump ${perS(cold.series, promMs)} series/s; ${cpuLine}`,
        );
      }
    }
    // Supplementary, not the target's measure: the same selection without chunks (skip_chunks, as the
    // querier asks for /api/v1/series), i.e. the Series path's cost per series apart from chunk bytes.
    const labelsOnly = (await readerRounds({ grpc: wideStores[1]!.grpc, metricsUrl: wideStores[1]!.metricsUrl, request: { minTime: wide.mint, maxTime: wide.maxt, matchers: wide.matchers, skipChunks: true, responseBatchSize: RESPONSE_BATCH_SIZE }, rounds: wideRounds })).map((r) => ({ ms: r.ms / r.series, cpu: r.storeCpuMs / r.series }));
    throughput.push(
      `${nWide} series, 2h (filesystem), skip_chunks (labels only, supplementary): warm ${(1000 / Math.min(...labelsOnly.map((r) => r.ms))).toFixed(0)} series/s, ${(1000 / Math.min(...labelsOnly.map((r) => r.cpu))).toFixed(0)} series per CPU-second of the store gateway`,
    );
    console.log(`\nSeries throughput (target ≥ 500000 series/s):\n${throughput.join('\n')}`);
    local?.client.close();
    await local?.store.stop();
  } finally {
    // SIGTERM: the store gateways stop cleanly (and write their CPU profiles when asked).
    await Promise.all(procs.map((p) => p.stop()));
    await s3.stop();
    await dir.cleanup();
  }
}
