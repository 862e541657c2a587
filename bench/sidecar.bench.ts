/**
 * `pnpm bench sidecar [--series=N] [--hours=H] [--block-hours=H (default 2)] [--rounds=N (default 15)] [--cpu-prof-dir=DIR]`
 * (`--cpu-prof-dir` writes V8 CPU profiles of both sidecar processes there)
 *
 * Series throughput (samples/s) through the sidecar's StoreAPI (a `strata sidecar` process) vs
 * Prometheus' streamed remote read read directly, on the same Prometheus 2.42 and the same backfilled
 * data (persisted blocks), in the same run. The data is backfilled in blocks of `--block-hours`: by
 * default 2h, the blocks Prometheus writes next to a sidecar that uploads (which needs min = max block
 * duration), so a day's query reads twelve; `--block-hours=24` gives the one block a Prometheus that
 * compacts locally would have made of it. Two sidecars: one as deployed, serving the blocks Prometheus
 * has written from disk (`disk`: its own reads of the block files, as the store gateway's, and Prometheus
 * not involved), and one with `--no-tsdb.serve-blocks` (`remote read`: everything through Prometheus'
 * remote read, as Thanos' sidecar, and as Strata's serves Prometheus' head).
 *
 * Both sides decode every frame into objects (a series with its labels and one object per chunk, whose
 * bytes stay a view) and count samples from each chunk's header (no XOR decoding), so the ratio is the
 * cost the sidecar adds: the remote-read round trip it makes (or its reads from disk), transcoding chunks
 * into gRPC frames (with each chunk's xxhash64, as Thanos' sidecar sends it and the client decodes it) and
 * a StoreAPI client's decoding (StoreClient, as Strata's querier uses it). Both read remote read with the same client
 * (PrometheusClient and its HTTP/1.1 reader) and the same frame reader.
 * Sidecar cases, by what the client asks for:
 * - batches of 64: what Thanos' querier sends (response_batch_size is hard-coded to 64 since v0.41);
 *   the sidecar streams as Prometheus answers;
 * - one series per frame: what Strata's querier and Thanos' queriers before v0.41 send;
 * - dedup: Thanos' querier with deduplication (without_replica_labels, batches of 64). Here the replica
 *   label is an external one, which dropping keeps Prometheus' order: the sidecar streams (as Thanos'
 *   sidecar, which buffers and re-sorts everything only where a selected series stores a replica label).
 * Every case (the direct read too) first runs WARM_UP_ROUNDS times untimed, so that both sides are
 * measured in the steady state of a long-running process (code optimized, caches warm).
 * Each round runs every case next to a direct read, alternating which goes first. Reported: the best
 * run of each side and its ratio to the best direct read, and per case the median (range) of its ratios
 * to the direct read next to it, which a load that changes during the run skews less.
 * Where /proc is readable (Linux), also the CPU time per call of Prometheus, the sidecar and this process
 * (the reader), averaged over the rounds, and how many cores that kept busy: on a machine whose cores
 * all three keep busy, samples/s follow the CPU a call costs them together more than any one's speed
 * (on 2 cores the direct read keeps ~1.8 busy: Prometheus and the reader take ~27 ms each in parallel).
 * Threads that exit during a call are not counted.
 * Target (issue 4): the sidecar adds at most 20%, i.e. ratio ≥ 0.8.
 * The disk sidecar's calls are checked to have been served from its blocks (its
 * strata_sidecar_series_calls_total{source="blocks"}).
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { decodeChunkedReadResponse, ResponseType } from '../packages/storeapi/src/index.js';
import { PrometheusClient, readFrames } from '../packages/sidecar/src/index.js';
import { seriesRequest, StoreClient, type LabelMatcher, type SeriesRequest } from '../packages/storeapi/src/index.js';
import { isULID } from '../packages/tsdb/src/index.js';
import { freePort, pidWithArgument, processCpuMs, startProcess, tempDir, waitForHttp } from '../test/harness/process.js';
import { promtool, startPrometheus } from '../test/harness/prometheus.js';
import { median } from './stats.js';

const STEP_S = 15;
/**
 * Untimed rounds of every case before the measured ones. V8 goes on compiling the code of each path
 * (the sidecar's remote-read reader, the batching or one-per-frame sink, this process' decoders) over
 * the first 40–60 calls, deoptimizing and compiling again some of the largest functions (the sidecar's
 * Series: 100-300 ms of compiler time each time; after 30 calls it still spent ~1.4 ms a call
 * compiling); a production sidecar has long done so. Both sides are warmed alike: each round calls
 * the direct read and every case, so the sidecar gets 3 calls a round.
 */
const WARM_UP_ROUNDS = 30;

function openMetrics(series: number, hours: number, endS: number): string {
  const n = Math.floor((hours * 3600) / STEP_S);
  const startS = endS - n * STEP_S;
  const lines = ['# TYPE bench_value gauge'];
  for (let s = 0; s < series; s++) {
    let v = s * 10;
    for (let i = 0; i < n; i++) {
      // A random walk with two decimals: realistic XOR chunk sizes.
      v = Math.round((v + Math.sin(i * 0.37 + s) * 3) * 100) / 100;
      lines.push(`bench_value{job="job${s % 10}",instance="host${s}:9100"} ${v} ${startS + i * STEP_S}`);
    }
  }
  lines.push('# EOF', '');
  return lines.join('\n');
}

/** Samples in a chunk: the BE16 count that opens every XOR chunk. */
const samplesIn = (data: Uint8Array) => (data[0]! << 8) | data[1]!;

/** CPU time (ms) of a process' threads (0 where /proc is unreadable). */
const cpuMs = (pid: number | undefined): number => processCpuMs(pid) ?? 0;

interface Run {
  samples: number;
  series: number;
  seconds: number;
  /** CPU ms the call cost Prometheus, the sidecar and this process. */
  cpu: [number, number, number];
}

/** Processes whose CPU `timed` measures: Prometheus' and the sidecars' pids (an idle sidecar adds nothing). */
const pids: { prometheus?: number | undefined; sidecars: (number | undefined)[] } = { sidecars: [] };
const sidecarsCpuMs = () => pids.sidecars.reduce<number>((sum, pid) => sum + cpuMs(pid), 0);

async function timed(fn: () => Promise<Omit<Run, 'seconds' | 'cpu'>>): Promise<Run> {
  const before = [cpuMs(pids.prometheus), sidecarsCpuMs()];
  const own = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const r = await fn();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const { user, system } = process.cpuUsage(own);
  return { ...r, seconds, cpu: [cpuMs(pids.prometheus) - before[0]!, sidecarsCpuMs() - before[1]!, (user + system) / 1000] };
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { series: { type: 'string', default: '500' }, hours: { type: 'string', default: '24' }, 'block-hours': { type: 'string', default: '2' }, rounds: { type: 'string', default: '15' }, 'cpu-prof-dir': { type: 'string' } } });
  const seriesCount = Number(values.series);
  const hours = Number(values.hours);
  const blockHours = Number(values['block-hours']);
  const rounds = Number(values.rounds);
  const dir = await tempDir('strata-bench-sidecar-');
  const data = join(dir.path, 'data');
  await mkdir(join(data, 'wal'), { recursive: true });
  const endS = Math.floor(Date.now() / 1000 / 3600) * 3600 - 3600;
  process.stderr.write(`backfilling ${seriesCount} series × ${hours}h at ${STEP_S}s in ${blockHours}h blocks with promtool…\n`);
  await writeFile(join(dir.path, 'bench.om'), openMetrics(seriesCount, hours, endS));
  await promtool(['tsdb', 'create-blocks-from', 'openmetrics', `--max-block-duration=${blockHours}h`, join(dir.path, 'bench.om'), data]);

  const prom = await startPrometheus({ dir: dir.path, dataDir: data, externalLabels: { cluster: 'bench', replica: 'r0' } });
  // The sidecars run as processes of their own (the built CLI), as in production, so their work and the
  // client's decoding overlap as they would with a querier on another machine.
  const startSidecar = async (name: string, flags: string[]) => {
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    const proc = startProcess(
      process.execPath,
      [
        ...(values['cpu-prof-dir'] ? ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof-dir']}`] : []),
        fileURLToPath(new URL('../packages/cli/dist/main.js', import.meta.url)),
        'sidecar',
        `--prometheus.url=${prom.url}`,
        `--tsdb.path=${data}`,
        `--grpc-address=127.0.0.1:${grpcPort}`,
        `--http-address=127.0.0.1:${httpPort}`,
        '--log.level=warn',
        ...flags,
      ],
      { logFile: join(dir.path, `sidecar-${name}.log`) },
    );
    const metrics = `http://127.0.0.1:${httpPort}/metrics`;
    await waitForHttp(`http://127.0.0.1:${httpPort}/-/ready`, { proc });
    pids.sidecars.push(proc.child.pid);
    return { proc, client: new StoreClient(`127.0.0.1:${grpcPort}`), metric: async (series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(await (await fetch(metrics)).text())?.[1] ?? 0) };
  };
  const disk = await startSidecar('disk', []);
  const remote = await startSidecar('remote-read', ['--no-tsdb.serve-blocks']);
  pids.prometheus = pidWithArgument(`--storage.tsdb.path=${data}`);
  // The disk sidecar loads Prometheus' blocks in the background after it starts.
  const blocks = (await readdir(data)).filter(isULID).length;
  for (let i = 0; (await disk.metric('strata_bucket_store_blocks_loaded')) < blocks; i++) {
    if (i === 600) throw new Error('the sidecar did not load the blocks from disk');
    await new Promise((r) => setTimeout(r, 100));
  }
  const promClient = new PrometheusClient(prom.url, { timeoutMs: 600_000 });
  const matchers: LabelMatcher[] = [{ type: 0, name: '__name__', value: 'bench_value' }];
  const minTime = (endS - hours * 3600) * 1000;
  const maxTime = endS * 1000;

  const direct = () =>
    timed(async () => {
      let samples = 0;
      let series = 0;
      const res = await promClient.remoteRead({ startMs: minTime, endMs: maxTime, matchers }, [ResponseType.STREAMED_XOR_CHUNKS]);
      for await (const frame of readFrames(res.body!)) {
        for (const s of decodeChunkedReadResponse(frame)) {
          series++;
          for (const c of s.chunks) samples += samplesIn(c.data);
        }
      }
      return { samples, series };
    });
  const viaSidecar = (client: StoreClient, fields: Partial<SeriesRequest>) => () =>
    timed(async () => {
      let samples = 0;
      let series = 0;
      for await (const f of client.series(seriesRequest({ minTime, maxTime, matchers, ...fields }))) {
        const list = 'series' in f ? [f.series] : 'batch' in f ? f.batch : [];
        for (const s of list) {
          series++;
          for (const c of s.chunks) samples += samplesIn(c.raw!.data);
        }
      }
      return { samples, series };
    });

  const cases: [string, () => Promise<Run>][] = [];
  for (const [name, { client }] of [['disk', disk], ['remote read', remote]] as const) {
    cases.push(
      [`${name}, batches of 64`, viaSidecar(client, { responseBatchSize: 64 })],
      [`${name}, one per frame`, viaSidecar(client, {})],
      [`${name}, dedup`, viaSidecar(client, { withoutReplicaLabels: ['replica'], responseBatchSize: 64 })],
    );
  }
  const best = new Map<string, Run>();
  const keepBest = (name: string, run: Run) => {
    const prev = best.get(name);
    if (prev === undefined || run.seconds < prev.seconds) best.set(name, run);
  };
  /** Per case, the ratio against a direct read run right next to it: steadier under a changing load. */
  const paired = new Map<string, number[]>();
  /** Per case, the CPU of its measured calls added up, and how many. */
  const cpu = new Map<string, { ms: [number, number, number]; seconds: number; calls: number }>();
  const addCpu = (name: string, run: Run) => {
    const c = cpu.get(name) ?? { ms: [0, 0, 0], seconds: 0, calls: 0 };
    for (let i = 0; i < 3; i++) c.ms[i]! += run.cpu[i]!;
    c.seconds += run.seconds;
    c.calls++;
    cpu.set(name, c);
  };
  try {
    // Untimed (WARM_UP_ROUNDS): also fills the page cache and Prometheus' mmap.
    for (let r = 0; r < WARM_UP_ROUNDS; r++) for (const fn of [direct, ...cases.map(([, c]) => c)]) await fn();
    for (let r = 0; r < rounds; r++) {
      for (const [name, fn] of r % 2 === 0 ? cases : [...cases].reverse()) {
        const ref = r % 2 === 0 ? await direct() : undefined;
        const run = await fn();
        const refRun = ref ?? (await direct());
        keepBest('remote read direct', refRun);
        keepBest(name, run);
        addCpu('remote read direct', refRun);
        addCpu(name, run);
        paired.set(name, [...(paired.get(name) ?? []), refRun.seconds / run.seconds]);
      }
    }
    const fromBlocks = await disk.metric('strata_sidecar_series_calls_total{source="blocks"}');
    const calls = (WARM_UP_ROUNDS + rounds) * 3;
    if (fromBlocks < calls) throw new Error(`the disk sidecar served ${fromBlocks} of its ${calls} calls from blocks: see ${join(dir.path, 'sidecar-disk.log')}`);
  } finally {
    for (const { client, proc } of [disk, remote]) {
      client.close();
      await proc.stop();
    }
    await prom.stop();
    await dir.cleanup();
  }

  const ref = best.get('remote read direct')!;
  const rate = (r: Run) => r.samples / r.seconds;
  process.stdout.write(`sidecar Series vs Prometheus remote read, ${ref.series} series, ${ref.samples} samples in ${blockHours}h blocks, best of ${rounds} rounds; paired: median ratio to the direct read next to it\n`);
  for (const name of ['remote read direct', ...cases.map(([n]) => n)]) {
    const run = best.get(name)!;
    if (run.samples !== ref.samples || run.series !== ref.series) throw new Error(`${name} returned ${run.series} series / ${run.samples} samples, remote read ${ref.series} / ${ref.samples}`);
    const pairs = paired.get(name);
    process.stdout.write(
      `${name.padEnd(28)} ${run.seconds.toFixed(3)} s  ${(rate(run) / 1e6).toFixed(2)} M samples/s  ${(run.series / run.seconds).toFixed(0)} series/s  ratio ${(rate(run) / rate(ref)).toFixed(3)}` +
        (pairs ? `  paired ${median(pairs).toFixed(3)} (${Math.min(...pairs).toFixed(2)}–${Math.max(...pairs).toFixed(2)})` : '') +
        '\n',
    );
  }
  if (pids.prometheus !== undefined && pids.sidecars.every((pid) => pid !== undefined)) {
    process.stdout.write('CPU per call (mean over the rounds): Prometheus + sidecar + reader = total, and cores that kept busy (total / wall)\n');
    for (const [name, { ms, seconds, calls }] of cpu) {
      const [p, sc, reader] = ms.map((x) => x / calls) as [number, number, number];
      const total = p + sc + reader;
      process.stdout.write(`${name.padEnd(28)} ${p.toFixed(0)} + ${sc.toFixed(0)} + ${reader.toFixed(0)} = ${total.toFixed(0)} ms, ${(total / ((1000 * seconds) / calls)).toFixed(2)} cores\n`);
    }
  }
}
