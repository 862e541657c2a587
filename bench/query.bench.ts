/**
 * `pnpm bench query [--hours=H] [--rounds=N] [--warm-up=N] [--history=bucket|deduplicated|sidecar] [--store-cache=in-memory|none] [--only=I,J] [--cpu-prof-dir=DIR]`
 * (`--cpu-prof-dir` writes V8 CPU profiles of every Strata process there: query-one.cpuprofile and
 * query-two.cpuprofile, the store gateways store-r0 and store-all, the sidecars sidecar-r0-one,
 * sidecar-r0-two and sidecar-r1-two;
 * `--only=2,5` runs just those queries, numbered from 1 as listed in QUERIES)
 *
 * A dashboard-like query set (Grafana-style range queries over the whole history at a 1-minute step)
 * answered in the same run, on the same demo-service history, by Prometheus 2.42 holding all of it on
 * its local disk, and by `strata query` deployed as issue 7 describes: the newest block still in the
 * Prometheus replicas behind sidecars, all older blocks shipped to an S3 bucket (s3rver) and served by
 * a store gateway:
 *   - one replica: sidecar r0 + a store gateway serving r0's blocks (no deduplication needed)
 *   - two replicas: sidecars r0 and r1 + a store gateway serving both replicas' blocks; the querier
 *     deduplicates on `replica`. r1 scrapes 7 s after r0, as HA replicas scrape at their own phase,
 *     so its chunks differ from r0's and the querier's penalty merge does real work (byte-identical
 *     replicas would be dropped early as duplicate chunks).
 * Each target has sidecars of its own (r0's Prometheus has two), so that each sidecar warms up on its
 * own target's calls: one shared by both targets had twice the warm-up calls of r1's, and cost 2.3–2.5 ms
 * of CPU a query where r1's cost 3.3–4.3.
 * The store gateways cache chunk reads in memory (Thanos' caching bucket, `--store.caching-bucket.config`
 * with `type: IN-MEMORY` and Thanos' defaults: 250 MiB), as Thanos deployments configure it: a dashboard
 * queries the same history again and again, which Prometheus reads from its page cache.
 * `--store-cache=none` runs them without it, every chunk read going to s3rver.
 * `--history=deduplicated` has `strata compact --deduplication.replica-label=replica
 * --deduplication.func=penalty` merge both replicas' blocks in the bucket into one copy first (vertical
 * compaction, then the usual levels), as Thanos deployments of HA pairs run their compactor: both
 * targets' store gateways then serve that one copy, which has no replica label, and the querier merges
 * it with the sidecars' newest blocks (the check of round 0 holds: the copy is r0's samples).
 * `--history=sidecar` keeps every block on the replicas' disks instead, with no store gateway: the
 * querier's own cost without the object store's round trips.
 * The queriers evaluate PromQL as Prometheus 2.42 does (`--query.promql-compat=2`), and the warm-up
 * round checks that the one-replica answers equal Prometheus' (r0 holds the reference's samples).
 * Then a dashboard refresh per round: all queries sent at once, as Grafana sends a dashboard's panels
 * (the median time until the last answer, per target).
 * Reports p50 and p95 latency per target and the ratios against Prometheus, and two replicas against
 * one (the cost of deduplication); per query the median latencies, and the geometric mean of their
 * ratios (steadier from run to run than the p50, which falls between two queries' latencies). Targets
 * (issue 7): p50 ≤ 1.0× Prometheus; deduplication ≤ +10%.
 * Where /proc is readable (Linux), also the CPU time per query of every process behind each target
 * (querier, store gateway, s3rver, sidecars, Prometheus), taken around each request: queries run one
 * at a time, so what those processes spend meanwhile is that query's cost; the time their threads
 * were ready to run but waited for one of the machine's cores (its run queues), which every process
 * more on the machine adds to (two replicas: a second sidecar, whose call runs at the same moment as
 * the store gateway's); and the peak resident memory of each process (s3rver, shared and not Strata's,
 * left out).
 * Every component runs as its own process (the built CLI), as in production. Each round sends every
 * query to every target back to back, in an order that rotates through all permutations, so no target
 * is favoured by a quieter or warmer machine. Round 0 checks the answers and `--warm-up` rounds (default
 * 150, some 1,200 calls to each store gateway and sidecar) after it are not timed either: V8 goes on
 * optimizing the components' per-query code over their first thousand or so calls (measured in-process
 * on this bench's data, for a query of 24 series: a store gateway's CPU per Series call 2.6 ms over its
 * first 300 calls, 0.67 ms after 1,500; a sidecar's 1.4 ms over calls 100–300, 0.75 over 700–1,000,
 * 0.47 after 1,500), and production components have long done so; all three targets get them.
 */
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { uploadBlock } from '../packages/block/src/index.js';
import { startFlags } from '../packages/cli/src/startflags.js';
import { writeDemoBlocks } from '../packages/cli/src/demo/blocks.js';
import { newBucket, parseBucketConfig } from '../packages/objstore/src/index.js';
import { BlockReader, BlockWriter, Matcher, type BlockMeta, type SampleIterator, type ThanosMeta, type ValueType } from '../packages/tsdb/src/index.js';
import { freePort, pidWithArgument, processPeakRssMiB, processSchedMs, startProcess, tempDir, waitForHttp, withDescendants, type Managed } from '../test/harness/process.js';
import { startPrometheus } from '../test/harness/prometheus.js';
import { startS3rver } from '../test/harness/s3.js';
import { diffMatrices, type MatrixSeries } from '../test/querier/compliance.js';

const CLI = fileURLToPath(new URL('../packages/cli/dist/main.js', import.meta.url));
const INSTANCES = ['demo.promlabs.com:10000', 'demo.promlabs.com:10001', 'demo.promlabs.com:10002'];
const BLOCK_MS = 2 * 3_600_000;

const ALL_QUERIES = [
  'sum by (mode) (rate(demo_cpu_usage_seconds_total[5m]))',
  'histogram_quantile(0.9, sum by (le, path) (rate(demo_api_request_duration_seconds_bucket[5m])))',
  'sum by (type) (demo_memory_usage_bytes)',
  'demo_disk_usage_bytes / demo_disk_total_bytes',
  'avg_over_time(demo_memory_usage_bytes[10m])',
  'sum by (status) (rate(demo_api_request_duration_seconds_count[1m]))',
  'max_over_time(demo_batch_last_run_duration_seconds[1h])',
  'topk(3, rate(demo_api_request_duration_seconds_sum[5m]))',
];

function fail(message: string): never {
  throw new Error(message);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

/** A replica scraping the same targets `byMs` later. */
class ShiftedIterator implements SampleIterator {
  constructor(
    private readonly it: SampleIterator,
    private readonly byMs: number,
  ) {}
  next(): ValueType {
    return this.it.next();
  }
  seek(t: number): ValueType {
    return this.it.seek(t - this.byMs);
  }
  atT(): number {
    return this.it.atT() + this.byMs;
  }
  atFloat(): number {
    return this.it.atFloat();
  }
  err(): Error | null {
    return this.it.err();
  }
}

/** Copies of the blocks in `srcDir` with every sample `byMs` later, as another replica's blocks. */
async function shiftedReplica(srcDir: string, metas: readonly BlockMeta[], outDir: string, byMs: number, thanos: ThanosMeta): Promise<BlockMeta[]> {
  const out: BlockMeta[] = [];
  for (const m of metas) {
    const reader = await BlockReader.openDir(join(srcDir, m.ulid));
    const writer = await BlockWriter.create(outDir, { chunkRange: BLOCK_MS, thanos });
    for await (const s of reader.series([new Matcher('=~', '__name__', '.+')])) await writer.addSeries(s.labels, new ShiftedIterator(s.iterator(), byMs));
    out.push(await writer.close());
    await reader.close();
  }
  return out;
}

function permutations<T>(xs: readonly T[]): T[][] {
  if (xs.length <= 1) return [[...xs]];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

async function startComponent(args: string[], dir: string, name: string, nodeArgs: string[] = []): Promise<{ proc: Managed; http: string; grpc: string }> {
  const http = `127.0.0.1:${await freePort()}`;
  const grpc = `127.0.0.1:${await freePort()}`;
  const proc = startProcess('node', [...nodeArgs, CLI, ...args, `--http-address=${http}`, `--grpc-address=${grpc}`], { logFile: join(dir, `${name}.log`) });
  await waitForHttp(`http://${http}/-/ready`, { proc, timeoutMs: 120_000 });
  return { proc, http, grpc };
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { hours: { type: 'string', default: '24' }, rounds: { type: 'string', default: '20' }, 'warm-up': { type: 'string', default: '150' }, history: { type: 'string', default: 'bucket' }, 'store-cache': { type: 'string', default: 'in-memory' }, 'cpu-prof-dir': { type: 'string' }, only: { type: 'string' } } });
  const QUERIES = values.only === undefined ? ALL_QUERIES : values.only.split(',').map((i) => ALL_QUERIES[Number(i) - 1] ?? fail(`--only: there is no query ${i}`));
  if (values.history !== 'bucket' && values.history !== 'deduplicated' && values.history !== 'sidecar') throw new Error('--history is bucket, deduplicated or sidecar');
  if (values['store-cache'] !== 'in-memory' && values['store-cache'] !== 'none') throw new Error('--store-cache is in-memory or none');
  const storeCache = values['store-cache'] === 'in-memory' ? ['--store.caching-bucket.config=type: IN-MEMORY'] : [];
  const inBucket = values.history !== 'sidecar';
  const deduplicated = values.history === 'deduplicated';
  const profDir = values['cpu-prof-dir'];
  const hours = Number(values.hours);
  const rounds = Number(values.rounds);
  const warmUp = Number(values['warm-up']);
  if (!Number.isInteger(warmUp) || warmUp < 0) throw new Error('--warm-up is a number of rounds (0 or more)');
  const dir = await tempDir('strata-bench-query-');
  const procs: { stop(): Promise<void> }[] = [];
  try {
    const endMs = Math.floor(Date.now() / 15_000) * 15_000;
    const startMs = endMs - hours * 3_600_000;
    const demo = { instances: INSTANCES, job: 'demo', startMs, endMs, stepMs: 15_000, blockMs: BLOCK_MS };
    process.stderr.write(`writing ${hours}h of demo history for ${INSTANCES.length} instances, and copies for replicas r0 and r1…\n`);
    const referenceDir = join(dir.path, 'reference', 'data');
    const referenceMetas = await writeDemoBlocks(referenceDir, demo);

    const s3 = inBucket ? await startS3rver() : undefined;
    if (s3 !== undefined) procs.push(s3);
    const objstoreConfig = join(dir.path, 'objstore.yaml');
    if (s3 !== undefined) await writeFile(objstoreConfig, s3.configYaml());
    const bucket = s3 !== undefined ? newBucket(parseBucketConfig(s3.configYaml())) : undefined;
    /** Each target's sidecars' gRPC addresses. */
    const sidecars = { one: [] as string[], two: [] as string[] };
    const profile = (name: string) => (profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=${name}.cpuprofile`] : []);
    /** Processes per component behind each target, for the CPU breakdown. */
    const pids = { one: [] as (number | undefined)[], two: [] as (number | undefined)[], replica: [] as (number | undefined)[] };
    for (const [i, replica] of ['r0', 'r1'].entries()) {
      // Each replica's blocks carry its external labels, as its sidecar ships them; the newest block is
      // still on the replica's disk, every older one only in the bucket (with --history=bucket).
      const blocksDir = join(dir.path, `blocks-${replica}`);
      const thanos: ThanosMeta = { labels: { cluster: 'bench', replica }, downsample: { resolution: 0 }, source: 'sidecar' };
      const metas = await shiftedReplica(referenceDir, referenceMetas, blocksDir, i * 7000, thanos);
      const newest = metas.reduce((a, b) => (b.minTime > a.minTime ? b : a));
      const home = join(dir.path, replica);
      const dataDir = join(home, 'data');
      await mkdir(dataDir, { recursive: true });
      for (const m of metas) {
        if (bucket !== undefined && m !== newest) await uploadBlock(bucket, join(blocksDir, m.ulid));
        else await cp(join(blocksDir, m.ulid), join(dataDir, m.ulid), { recursive: true });
      }
      const prom = await startPrometheus({ dir: home, dataDir, externalLabels: { cluster: 'bench', replica }, blockDuration: '2h' });
      procs.push(prom);
      for (const target of i === 0 ? (['one', 'two'] as const) : (['two'] as const)) {
        const name = `sidecar-${replica}-${target}`;
        const sc = await startComponent(['sidecar', `--prometheus.url=${prom.url}`, `--tsdb.path=${dataDir}`], dir.path, name, profile(name));
        procs.push(sc.proc);
        sidecars[target].push(sc.grpc);
        pids[target].push(sc.proc.child.pid);
      }
      pids.replica.push(pidWithArgument(`--storage.tsdb.path=${dataDir}`));
    }
    // Started after the replicas' copies were read from its data dir.
    const reference = await startPrometheus({ dir: join(dir.path, 'reference'), dataDir: referenceDir, externalLabels: {}, blockDuration: '2h' });
    procs.push(reference);
    if (deduplicated) {
      process.stderr.write('merging both replicas\' blocks in the bucket into one copy (strata compact)…\n');
      const compact = startProcess(
        'node',
        [CLI, 'compact', `--objstore.config-file=${objstoreConfig}`, `--data-dir=${join(dir.path, 'compact')}`, '--deduplication.replica-label=replica', '--deduplication.func=penalty', '--consistency-delay=0s', '--delete-delay=0s', '--downsampling.disable', `--http-address=127.0.0.1:${await freePort()}`],
        { logFile: join(dir.path, 'compact.log') },
      );
      const code = await new Promise<number | null>((resolve) => compact.child.once('exit', resolve));
      if (code !== 0) fail(`strata compact exited with ${code}: see ${compact.logFile}`);
    }
    const store = (name: string, relabel: string[]) =>
      startComponent(['store', `--objstore.config-file=${objstoreConfig}`, `--data-dir=${join(dir.path, name)}`, ...storeCache, ...relabel], dir.path, name, profile(name));
    const oneEndpoints = [...sidecars.one];
    const twoEndpoints = [...sidecars.two];
    const stores: (number | undefined)[] = [];
    if (inBucket) {
      // Deduplicated, the bucket holds one copy, without a replica label, for both targets.
      const storeR0 = await store('store-r0', deduplicated ? [] : ['--selector.relabel-config=[{action: keep, source_labels: [replica], regex: r0}]']);
      const storeAll = await store('store-all', []);
      procs.push(storeR0.proc, storeAll.proc);
      oneEndpoints.push(storeR0.grpc);
      twoEndpoints.push(storeAll.grpc);
      stores.push(storeR0.proc.child.pid, storeAll.proc.child.pid);
    }
    // PromQL as Prometheus 2.42 evaluates it (closed range windows, its float arithmetic), so that both
    // compute the same answers: round 0 checks that the one-replica answers are Prometheus' own.
    const querier = (endpoints: string[], name: string) =>
      // A profiled querier is started with its start flags, so that it does not relaunch itself (both
      // processes would write the same profile).
      startComponent(['query', ...endpoints.map((e) => `--endpoint=${e}`), '--query.replica-label=replica', '--query.promql-compat=2'], dir.path, name, profDir ? [...startFlags('query'), ...profile(name)] : []);
    const one = await querier(oneEndpoints, 'query-one');
    const two = await querier(twoEndpoints, 'query-two');
    procs.push(one.proc, two.proc);

    const targets: Record<string, string> = {
      prometheus: reference.url,
      'strata, 1 replica': `http://${one.http}`,
      'strata, 2 replicas (dedup)': `http://${two.http}`,
    };
    const s3pid = s3 !== undefined ? [s3.proc.child.pid] : [];
    const components: Record<string, Record<string, (number | undefined)[]>> = {
      prometheus: { prometheus: [pidWithArgument(`--storage.tsdb.path=${referenceDir}`)] },
      'strata, 1 replica': { querier: withDescendants(one.proc.child.pid), 'store gateway': stores.slice(0, 1), s3rver: s3pid, sidecars: pids.one, 'Prometheus replicas': pids.replica.slice(0, 1) },
      'strata, 2 replicas (dedup)': { querier: withDescendants(two.proc.child.pid), 'store gateway': stores.slice(1), s3rver: s3pid, sidecars: pids.two, 'Prometheus replicas': pids.replica },
    };
    /** Per component of a target: CPU used and time waiting for a CPU so far (ms, all its processes' threads). */
    const schedOf = (name: string) =>
      Object.fromEntries(
        Object.entries(components[name] ?? {})
          .filter(([, ps]) => ps.length > 0)
          .map(([c, ps]) => {
            const all = ps.map((p) => processSchedMs(p));
            return [c, { cpuMs: all.reduce((sum, s) => sum + (s?.cpuMs ?? NaN), 0), waitMs: all.reduce((sum, s) => sum + (s?.waitMs ?? NaN), 0) }];
          }),
      );
    const cpuSpent: Record<string, Record<string, number>> = {};
    const cpuWaited: Record<string, Record<string, number>> = {};
    /** CPU per query (index) of each target's components, summed over the timed rounds. */
    const cpuByQuery: Record<string, Record<string, number>>[] = QUERIES.map(() => ({}));
    const orders = permutations(Object.keys(targets));
    const latencies: Record<string, number[]> = Object.fromEntries(Object.keys(targets).map((k) => [k, []]));
    const perQuery: Record<string, number[]>[] = QUERIES.map(() => Object.fromEntries(Object.keys(targets).map((k) => [k, []])));
    const answers: Record<string, MatrixSeries[]>[] = [];
    const params = (q: string) => new URLSearchParams({ query: q, start: String(startMs / 1000), end: String(endMs / 1000), step: '60' });
    for (let r = 0; r <= warmUp + rounds; r++) {
      for (const [qi, q] of QUERIES.entries()) {
        for (const name of orders[(r * QUERIES.length + qi) % orders.length] as string[]) {
          const sched0 = schedOf(name);
          const t0 = performance.now();
          const res = await fetch(`${targets[name]}/api/v1/query_range?${params(q)}`);
          const body = (await res.json()) as { status: string; error?: string; warnings?: string[]; data?: { result: MatrixSeries[] } };
          const ms = performance.now() - t0;
          if (body.status !== 'success') throw new Error(`${name}: ${q}: ${body.error}`);
          // PromQL's own annotations are expected; a store warning means an answer without all the data.
          const lost = body.warnings?.filter((w) => !w.startsWith('PromQL '));
          if (lost?.length) throw new Error(`${name}: ${q}: ${lost.join('; ')}`);
          if (r === 0) {
            // Round 0 warms up, and checks the answers: r0 holds the reference's very samples.
            (answers[qi] ??= {})[name] = body.data?.result ?? [];
            const [want, got] = [answers[qi]?.prometheus, answers[qi]?.['strata, 1 replica']];
            const diff = want && got ? diffMatrices(want, got, { dropLabels: ['cluster'] }) : null;
            if (diff !== null) throw new Error(`strata, 1 replica answers ${q} unlike Prometheus: ${diff}`);
            continue;
          }
          if (r <= warmUp) continue;
          const spent = (cpuSpent[name] ??= {});
          const waited = (cpuWaited[name] ??= {});
          const ofQuery = ((cpuByQuery[qi] as Record<string, Record<string, number>>)[name] ??= {});
          for (const [c, after] of Object.entries(schedOf(name))) {
            const before = sched0[c] as { cpuMs: number; waitMs: number };
            spent[c] = (spent[c] ?? 0) + after.cpuMs - before.cpuMs;
            waited[c] = (waited[c] ?? 0) + after.waitMs - before.waitMs;
            ofQuery[c] = (ofQuery[c] ?? 0) + after.cpuMs - before.cpuMs;
          }
          (latencies[name] as number[]).push(ms);
          (perQuery[qi]?.[name] as number[]).push(ms);
        }
      }
    }
    // A dashboard refresh: every panel's query sent at once, as Grafana does; the refresh takes as long
    // as its slowest panel. After the sequential rounds, so that their CPU figures stay per query.
    const refreshes: Record<string, number[]> = Object.fromEntries(Object.keys(targets).map((k) => [k, []]));
    for (let r = 0; r <= rounds; r++) {
      for (const name of orders[r % orders.length] as string[]) {
        const t0 = performance.now();
        await Promise.all(
          QUERIES.map(async (q) => {
            const res = await fetch(`${targets[name]}/api/v1/query_range?${params(q)}`);
            const body = (await res.json()) as { status: string; error?: string };
            if (body.status !== 'success') throw new Error(`${name}: ${q} (dashboard refresh): ${body.error}`);
          }),
        );
        if (r > 0) (refreshes[name] as number[]).push(performance.now() - t0);
      }
    }
    const stats = Object.fromEntries(
      Object.entries(latencies).map(([k, v]) => {
        const s = [...v].sort((a, b) => a - b);
        return [k, { p50: percentile(s, 0.5), p95: percentile(s, 0.95) }];
      }),
    );
    const prom = stats.prometheus as { p50: number; p95: number };
    const oneS = stats['strata, 1 replica'] as { p50: number; p95: number };
    const twoS = stats['strata, 2 replicas (dedup)'] as { p50: number; p95: number };
    process.stdout.write(`\nquery benchmark: ${QUERIES.length} dashboard queries × ${rounds} rounds after ${warmUp} untimed, ${hours}h of history (${inBucket ? `newest block via sidecars, the rest${deduplicated ? ', deduplicated by strata compact,' : ''} via store gateway${storeCache.length > 0 ? ' (in-memory chunk cache)' : ''} + s3rver` : 'all via sidecars'}), step 60s\n`);
    process.stdout.write(`${'target'.padEnd(30)} ${'p50 ms'.padStart(9)} ${'p95 ms'.padStart(9)} ${'p50 ×prom'.padStart(10)} ${'p95 ×prom'.padStart(10)}\n`);
    for (const [k, s] of Object.entries(stats)) {
      process.stdout.write(`${k.padEnd(30)} ${s.p50.toFixed(1).padStart(9)} ${s.p95.toFixed(1).padStart(9)} ${(s.p50 / prom.p50).toFixed(2).padStart(10)} ${(s.p95 / prom.p95).toFixed(2).padStart(10)}\n`);
    }
    process.stdout.write(`\nper query, median ms (prometheus / 1 replica / 2 replicas):\n`);
    const medians = QUERIES.map((_, qi) => Object.values(perQuery[qi] as Record<string, number[]>).map((v) => percentile([...v].sort((a, b) => a - b), 0.5)));
    for (const [qi, q] of QUERIES.entries()) process.stdout.write(`${(medians[qi] as number[]).map((m) => m.toFixed(1).padStart(8)).join(' ')}  ${q}\n`);
    // Steadier than the p50 of all latencies, which falls between two queries' and jumps between them.
    const geomean = (ratio: (m: number[]) => number) => Math.exp(medians.reduce((sum, m) => sum + Math.log(ratio(m)), 0) / medians.length);
    process.stdout.write(
      `geometric mean of the per-query median ratios: 1 replica ${geomean((m) => (m[1] as number) / (m[0] as number)).toFixed(2)}× Prometheus, 2 replicas ${geomean((m) => (m[2] as number) / (m[0] as number)).toFixed(2)}×, 2 vs 1 replica ${geomean((m) => (m[2] as number) / (m[1] as number)).toFixed(2)}×\n`,
    );
    const refresh = Object.fromEntries(Object.entries(refreshes).map(([k, v]) => [k, percentile([...v].sort((a, b) => a - b), 0.5)]));
    process.stdout.write(
      `\ndashboard refresh (all ${QUERIES.length} queries at once), median ms: ${Object.entries(refresh)
        .map(([k, ms]) => `${k} ${ms.toFixed(1)} (${(ms / (refresh.prometheus as number)).toFixed(2)}×)`)
        .join(', ')}\n`,
    );
    const perQueryMs = (title: string, byTarget: Record<string, Record<string, number>>) => {
      process.stdout.write(`\n${title}, by process:\n`);
      for (const name of Object.keys(targets)) {
        const parts = Object.entries(byTarget[name] ?? {}).map(([c, ms]) => [c, ms / (rounds * QUERIES.length)] as const);
        const total = parts.reduce((sum, [, ms]) => sum + ms, 0);
        if (!Number.isNaN(total)) process.stdout.write(`${name.padEnd(30)} ${total.toFixed(1).padStart(7)}  = ${parts.map(([c, ms]) => `${c} ${ms.toFixed(1)}`).join(' + ')}\n`);
      }
    };
    perQueryMs('CPU ms per query (mean over all queries; /proc schedstat of every thread)', cpuSpent);
    // Where the second replica's cost lies, query by query (the p50 falls among the small ones).
    const [oneName, twoName] = ['strata, 1 replica', 'strata, 2 replicas (dedup)'];
    const parts = Object.keys(cpuSpent[twoName] ?? {}).filter((c) => c !== 's3rver' && c !== 'Prometheus replicas' && !Number.isNaN(cpuSpent[twoName]?.[c]));
    process.stdout.write(`\nCPU ms per query, 1 replica → 2 replicas (mean over the timed rounds), by process:\n`);
    for (const [qi, q] of QUERIES.entries()) {
      const ms = (name: string, c: string) => ((cpuByQuery[qi] as Record<string, Record<string, number>>)[name]?.[c] ?? 0) / rounds;
      process.stdout.write(`${parts.map((c) => `${c} ${ms(oneName, c).toFixed(1)} → ${ms(twoName, c).toFixed(1)}`).join(', ')}  ${q}\n`);
    }
    // Every component shares this machine's cores: time a thread was ready to run but had no core.
    perQueryMs('ms per query waiting for a CPU (schedstat run-queue time of every thread)', cpuWaited);
    process.stdout.write(`\npeak resident memory, MiB (VmHWM over the run, start-up included), by process:\n`);
    for (const name of Object.keys(targets)) {
      const parts = Object.entries(components[name] ?? {})
        .filter(([c]) => c !== 's3rver')
        .map(([c, ps]) => [c, ps.reduce<number>((sum, p) => sum + (processPeakRssMiB(p) ?? NaN), 0)] as const);
      const total = parts.reduce((sum, [, mib]) => sum + mib, 0);
      if (!Number.isNaN(total)) process.stdout.write(`${name.padEnd(30)} ${total.toFixed(0).padStart(7)}  = ${parts.map(([c, mib]) => `${c} ${mib.toFixed(0)}`).join(' + ')}\n`);
    }
    const dedupCost = twoS.p50 / oneS.p50 - 1;
    process.stdout.write(`\ndeduplication cost (2 replicas vs 1, p50): ${(dedupCost * 100).toFixed(1)}%  (target ≤ 10%)\n`);
    process.stdout.write(`p50 vs Prometheus (2 replicas): ${(twoS.p50 / prom.p50).toFixed(2)}×  (target ≤ 1.0×)\n`);
  } finally {
    for (const p of procs.reverse()) await p.stop().catch(() => undefined);
    await dir.cleanup();
  }
}
