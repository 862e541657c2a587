/**
 * `pnpm bench receive [--series=N (10000)] [--scrapes=N (30)] [--rounds=N (7)] [--shards=N (4)] [--batches=500,2000]`
 *
 * Remote-write ingestion throughput of `strata receive` (a process of its own, started from the built
 * CLI) against Prometheus 2.42's own remote-write receiver (`--web.enable-remote-write-receiver`,
 * Debian's `prometheus`), in the same run, on the same requests. Each target has a fresh data directory
 * and runs alone while it is sent to.
 *
 * The requests, built up front: N series shaped as a node exporter's (~200 a host: node_cpu_seconds_total
 * by cpu and mode, disk, network and filesystem series by device, memory gauges…, with job, instance
 * and an external `cluster` label, as a Prometheus sends them), scraped every 15 s; a round is
 * `--scrapes` scrapes of every series (300,000 samples by default). As Prometheus' queue manager sends
 * them: each sample is a TimeSeries of its own with its full label set, series are spread over
 * `--shards` shards (series i on shard i mod shards), each shard sends its samples in scrape order in
 * requests of max_samples_per_send samples (500: Prometheus 2.42's default; 2000: the default since
 * 2.44, and what Thanos' docs suggest), one request in flight per shard, its shards at once on
 * keep-alive connections. Bodies are prompb.WriteRequest written with the repo's ProtoWriter and
 * writeTimeSeries, snappy-compressed (the block format, as Prometheus sends them).
 *
 * Every round (and batch size) has a time range of its own after the previous one, the same for both
 * targets, so nothing is refused as out of order; all rounds together span well under the 3h at which
 * either TSDB would cut a block (a compaction in a round is not what is measured here). Per batch size:
 * one untimed round first (the first of all creates the series: reported apart), then `--rounds` timed
 * rounds, each sending the round's requests to both targets in turn (which goes first alternating).
 * Timed: from the first request sent to the last answer. Every answer must be a success (Prometheus
 * 204, Strata 200: no sample refused).
 *
 * Reported per batch size: each target's median samples/s over the rounds; the median of the per-round
 * ratios Strata / Prometheus; the CPU per sample of the receiving process (all its threads, from
 * /proc/<pid>/task/<tid>/schedstat, read 200 ms after the round's last answer so that work a round leaves
 * behind (a WAL flush, GC) counts; Node's GC threads are threads of the process) and how many cores that
 * kept busy (CPU over the round's wall time, so the trailing 200 ms' work included); the sender's (this
 * process') CPU per sample, and the average compressed request size. Then each process' peak RSS (VmHWM) over the
 * run. The sender shares the 2 cores of a small machine with the receiver: a faster receiver is held back
 * by it more, so the ratio understates a large gap.
 *
 * Checked after the rounds: both targets hold every sample sent, and no more: Prometheus' and the
 * receiver's prometheus_tsdb_head_samples_appended_total and head series; every series and
 * sample read back, from Prometheus by its remote read (streamed chunks) and from the receiver by its
 * StoreAPI Series (samples counted from the XOR chunks' headers).
 */
import { Agent, request } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readFrames } from '../packages/sidecar/src/index.js';
import { decodeChunkedReadResponse, encodeReadRequest, MatcherType, ProtoWriter, ResponseType, seriesRequest, StoreClient, writeTimeSeries } from '../packages/storeapi/src/index.js';
import type { Label } from '../packages/tsdb/src/index.js';
import { freePort, pidWithArgument, processCpuMs, processPeakRssMiB, tempDir, withDescendants } from '../test/harness/process.js';
import { startPrometheus } from '../test/harness/prometheus.js';
import { startComponent } from './components.js';
import { median } from './stats.js';

// snappy is the receiver's dependency (the bench package has none of its own): resolved from there.
const snappy = createRequire(new URL('../packages/receive/package.json', import.meta.url))('snappy') as { compressSync(b: Buffer): Buffer };

const STEP_MS = 15_000;
/** Samples in a chunk: the BE16 count that opens every XOR chunk. */
const samplesIn = (data: Uint8Array) => (data[0]! << 8) | data[1]!;
const TENANT = 'default-tenant';

/** ~200 series of one host, as a node exporter's /metrics: [name, labels] without job and instance. */
function hostSeries(): [string, Record<string, string>][] {
  const out: [string, Record<string, string>][] = [];
  for (let cpu = 0; cpu < 8; cpu++) for (const mode of ['idle', 'iowait', 'irq', 'nice', 'softirq', 'steal', 'system', 'user']) out.push(['node_cpu_seconds_total', { cpu: String(cpu), mode }]);
  for (const device of ['nvme0n1', 'nvme1n1', 'sda', 'sdb']) {
    for (const m of ['read_bytes', 'written_bytes', 'reads_completed', 'writes_completed', 'io_time_seconds']) out.push([`node_disk_${m}_total`, { device }]);
  }
  for (const device of ['docker0', 'eth0', 'eth1', 'lo']) {
    for (const dir of ['receive', 'transmit']) for (const m of ['bytes', 'packets', 'errs', 'drop']) out.push([`node_network_${dir}_${m}_total`, { device }]);
  }
  const mounts = [
    { device: '/dev/nvme0n1p1', fstype: 'ext4', mountpoint: '/' },
    { device: '/dev/nvme0n1p2', fstype: 'vfat', mountpoint: '/boot/efi' },
    { device: '/dev/nvme1n1', fstype: 'xfs', mountpoint: '/var/lib/docker' },
    { device: 'tmpfs', fstype: 'tmpfs', mountpoint: '/run' },
  ];
  for (const mount of mounts) for (const m of ['avail_bytes', 'size_bytes', 'free_bytes', 'files', 'files_free', 'readonly', 'device_error']) out.push([`node_filesystem_${m}`, mount]);
  const memory = ['Active', 'Active_anon', 'Active_file', 'AnonHugePages', 'AnonPages', 'Bounce', 'Buffers', 'Cached', 'CommitLimit', 'Committed_AS', 'DirectMap1G', 'DirectMap2M', 'DirectMap4k', 'Dirty', 'HugePages_Free', 'HugePages_Rsvd', 'HugePages_Surp', 'HugePages_Total', 'Hugepagesize', 'Inactive', 'Inactive_anon', 'Inactive_file', 'KernelStack', 'Mapped', 'MemAvailable', 'MemFree', 'MemTotal', 'Mlocked', 'NFS_Unstable', 'PageTables', 'SReclaimable', 'SUnreclaim', 'Shmem', 'Slab', 'SwapCached', 'SwapFree', 'SwapTotal', 'Unevictable', 'VmallocUsed', 'Writeback'];
  for (const m of memory) out.push([`node_memory_${m}_bytes`, {}]);
  for (const m of ['load1', 'load5', 'load15', 'boot_time_seconds', 'time_seconds', 'context_switches_total', 'intr_total', 'forks_total', 'procs_running', 'procs_blocked', 'entropy_available_bits', 'filefd_allocated', 'filefd_maximum', 'sockstat_TCP_inuse', 'sockstat_TCP_tw', 'sockstat_sockets_used']) out.push([`node_${m}`, {}]);
  return out;
}

interface BenchSeries {
  readonly labels: Label[];
  /** Its value at scrape `i` (counters only go up). */
  value(i: number): number;
}

function nodeExporterSeries(count: number): BenchSeries[] {
  const template = hostSeries();
  const out: BenchSeries[] = [];
  for (let host = 0; out.length < count; host++) {
    for (const [name, labels] of template) {
      if (out.length === count) break;
      const all: Record<string, string> = { __name__: name, ...labels, cluster: 'eu-west-1', instance: `node-${String(host).padStart(4, '0')}.example.internal:9100`, job: 'node' };
      const sorted = Object.keys(all).sort().map((n) => ({ name: n, value: all[n] as string }));
      const s = out.length;
      const counter = name.endsWith('_total');
      // Counters grow at a rate of their own with two decimals; gauges wander around a level.
      const rate = ((s * 7919) % 1000) / 10 + 0.01;
      const level = ((s * 104729) % 100_000) + 1000;
      out.push({
        labels: sorted,
        value: counter ? (i) => Math.round((level + i * rate + (i % 7) * 0.13) * 100) / 100 : (i) => Math.round((level + 50 * Math.sin(i * 0.05 + s)) * 100) / 100,
      });
    }
  }
  return out;
}

/** The requests of one round: per shard, its snappy bodies in order. */
interface RoundRequests {
  readonly bodies: Buffer[][];
  readonly samples: number;
  readonly bytes: number;
  readonly startMs: number;
  readonly endMs: number;
}

/** A round's requests: scrapes `firstScrape`… of every series, as `shards` shards of `batch` samples send them. */
function buildRound(series: readonly BenchSeries[], t0: number, firstScrape: number, scrapes: number, shards: number, batch: number): RoundRequests {
  const bodies: Buffer[][] = [];
  let samples = 0;
  let bytes = 0;
  for (let shard = 0; shard < shards; shard++) {
    const out: Buffer[] = [];
    let w = new ProtoWriter(batch * 200);
    let inBatch = 0;
    const flush = () => {
      const body = snappy.compressSync(w.finish());
      out.push(body);
      bytes += body.length;
      w = new ProtoWriter(batch * 200);
      inBatch = 0;
    };
    for (let i = firstScrape; i < firstScrape + scrapes; i++) {
      const timestamp = t0 + i * STEP_MS;
      for (let s = shard; s < series.length; s += shards) {
        const x = series[s] as BenchSeries;
        writeTimeSeries(w, 1, { labels: x.labels, samples: [{ value: x.value(i), timestamp }], histograms: [] });
        samples++;
        if (++inBatch === batch) flush();
      }
    }
    if (inBatch > 0) flush();
    bodies.push(out);
  }
  return { bodies, samples, bytes, startMs: t0 + firstScrape * STEP_MS, endMs: t0 + (firstScrape + scrapes - 1) * STEP_MS };
}

interface Target {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly path: string;
  /** The receiving process and its children. */
  readonly pids: number[];
  readonly agent: Agent;
}

/** POSTs a remote-write body; resolves with the status once the answer is read, which must be a 2xx. */
function post(t: Target, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: t.host,
        port: t.port,
        path: t.path,
        method: 'POST',
        agent: t.agent,
        headers: { 'Content-Encoding': 'snappy', 'Content-Type': 'application/x-protobuf', 'X-Prometheus-Remote-Write-Version': '0.1.0', 'User-Agent': 'Prometheus/2.42.0', 'Content-Length': body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else reject(new Error(`${t.name}: remote write answered ${status}: ${Buffer.concat(chunks).toString().slice(0, 300)}`));
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface RoundResult {
  seconds: number;
  /** CPU ms of the receiving process, and of this process (the sender). */
  cpuMs: number;
  senderCpuMs: number;
}

const cpuOf = (pids: readonly number[]) => pids.reduce((sum, pid) => sum + (processCpuMs(pid) ?? Number.NaN), 0);

async function sendRound(t: Target, round: RoundRequests): Promise<RoundResult> {
  const cpu0 = cpuOf(t.pids);
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    round.bodies.map(async (shard) => {
      for (const body of shard) await post(t, body);
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const own = process.cpuUsage(own0);
  // What the round leaves behind (a WAL write finishing, GC) is its cost too; both targets idle otherwise.
  await new Promise((r) => setTimeout(r, 200));
  return { seconds, cpuMs: cpuOf(t.pids) - cpu0, senderCpuMs: (own.user + own.system) / 1000 };
}

/** The sum of a metric's samples in a /metrics text whose labels contain `labelFilter` (all of them by default). */
async function metricSum(url: string, name: string, labelFilter = ''): Promise<number> {
  const text = await (await fetch(url)).text();
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)/.exec(line);
    if (m === null || m[1] !== name || !(m[2] ?? '').includes(labelFilter)) continue;
    sum += Number(m[3]);
    found = true;
  }
  if (!found) throw new Error(`${url}: no ${name}${labelFilter ? ` with ${labelFilter}` : ''}`);
  return sum;
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      series: { type: 'string', default: '10000' },
      scrapes: { type: 'string', default: '30' },
      rounds: { type: 'string', default: '7' },
      shards: { type: 'string', default: '4' },
      batches: { type: 'string', default: '500,2000' },
    },
  });
  const seriesCount = Number(values.series);
  const scrapes = Number(values.scrapes);
  const rounds = Number(values.rounds);
  const shards = Number(values.shards);
  const batches = values.batches.split(',').map(Number);
  const phases = batches.length * (rounds + 1);
  const spanMs = phases * scrapes * STEP_MS;
  // Under 1.5 block durations (3h), past which a head is cut into a block; with room to spare.
  if (spanMs > 2.5 * 3600_000) throw new Error(`${phases} rounds of ${scrapes} scrapes span ${(spanMs / 3600_000).toFixed(2)}h: over 2.5h, a TSDB would cut a block during the run; fewer --scrapes or --rounds`);
  // Ends about now: the latest samples are a few minutes old, as a Prometheus catching up sends them.
  const t0 = Math.floor((Date.now() - spanMs) / 60_000) * 60_000 - 5 * 60_000;

  const t = performance.now();
  const series = nodeExporterSeries(seriesCount);
  /** Per batch size, its untimed round then the timed ones, each a fresh time range. */
  const plan = batches.map((batch, b) => Array.from({ length: rounds + 1 }, (_, r) => buildRound(series, t0, (b * (rounds + 1) + r) * scrapes, scrapes, shards, batch)));
  const all = plan.flat();
  const sent = all.reduce((n, r) => n + r.samples, 0);
  process.stderr.write(
    `built ${all.reduce((n, r) => n + r.bodies.flat().length, 0)} requests (${sent} samples, ${(all.reduce((n, r) => n + r.bytes, 0) / 2 ** 20).toFixed(1)} MiB snappy) in ${((performance.now() - t) / 1000).toFixed(1)} s\n`,
  );

  const dir = await tempDir('strata-bench-receive-');
  const prom = await startPrometheus({ dir: dir.path, dataDir: join(dir.path, 'prometheus'), extraArgs: ['--web.enable-remote-write-receiver'] });
  const rwPort = await freePort();
  const receiver = await startComponent(dir.path, 'receive', ['receive', `--remote-write.address=127.0.0.1:${rwPort}`, `--tsdb.path=${join(dir.path, 'receive')}`, '--label=replica="r0"', '--log.level=warn'], true);
  const promPid = pidWithArgument(`--storage.tsdb.path=${join(dir.path, 'prometheus')}`);
  if (promPid === undefined || receiver.proc.child.pid === undefined) throw new Error('the pids of Prometheus and the receiver are needed (/proc)');
  const targets: Target[] = [
    { name: 'Prometheus 2.42', host: '127.0.0.1', port: prom.port, path: '/api/v1/write', pids: [promPid], agent: new Agent({ keepAlive: true, maxSockets: shards }) },
    { name: 'strata receive', host: '127.0.0.1', port: rwPort, path: '/api/v1/receive', pids: withDescendants(receiver.proc.child.pid), agent: new Agent({ keepAlive: true, maxSockets: shards }) },
  ];
  const [promT, strataT] = targets as [Target, Target];
  const results = batches.map(() => ({ prom: [] as RoundResult[], strata: [] as RoundResult[] }));
  let first: { prom: RoundResult; strata: RoundResult } | undefined;
  try {
    for (const [b, roundsOf] of plan.entries()) {
      for (const [r, round] of roundsOf.entries()) {
        const promFirst = r % 2 === 0;
        const a = await sendRound(promFirst ? promT : strataT, round);
        const c = await sendRound(promFirst ? strataT : promT, round);
        const [p, s] = promFirst ? [a, c] : [c, a];
        if (b === 0 && r === 0) first = { prom: p, strata: s };
        if (r === 0) continue;
        results[b]?.prom.push(p);
        results[b]?.strata.push(s);
      }
    }

    // Both hold every sample sent, and no more.
    const checks: [string, number, number][] = [];
    const promMetrics = `${prom.url}/metrics`;
    const strataMetrics = `http://${receiver.http}/metrics`;
    checks.push(['Prometheus prometheus_tsdb_head_samples_appended_total', await metricSum(promMetrics, 'prometheus_tsdb_head_samples_appended_total'), sent]);
    checks.push(['Prometheus prometheus_tsdb_head_series', await metricSum(promMetrics, 'prometheus_tsdb_head_series'), seriesCount]);
    checks.push(['strata prometheus_tsdb_head_samples_appended_total', await metricSum(strataMetrics, 'prometheus_tsdb_head_samples_appended_total', `tenant="${TENANT}"`), sent]);
    checks.push(['strata prometheus_tsdb_head_series', await metricSum(strataMetrics, 'prometheus_tsdb_head_series', `tenant="${TENANT}"`), seriesCount]);
    const lastMs = Math.max(...all.map((r) => r.endMs));
    // Prometheus' remote read, streamed chunks: its samples counted from the chunks' headers as the receiver's.
    const res = await fetch(`${prom.url}/api/v1/read`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' },
      body: encodeReadRequest({ startMs: t0 - 1, endMs: lastMs + 1, matchers: [{ type: MatcherType.EQ, name: 'job', value: 'node' }] }, [ResponseType.STREAMED_XOR_CHUNKS]),
    });
    if (res.status !== 200) throw new Error(`Prometheus remote read: ${res.status} ${await res.text()}`);
    const readSeries = new Set<string>();
    let readSamples = 0;
    for await (const frame of readFrames(res.body as AsyncIterable<Uint8Array>)) {
      for (const s of decodeChunkedReadResponse(frame)) {
        readSeries.add(JSON.stringify(s.labels));
        for (const c of s.chunks) readSamples += samplesIn(c.data);
      }
    }
    checks.push(['Prometheus remote read: series', readSeries.size, seriesCount], ['Prometheus remote read: samples', readSamples, sent]);
    const client = new StoreClient(receiver.grpc);
    let storedSeries = 0;
    let storedSamples = 0;
    try {
      for await (const f of client.series(seriesRequest({ minTime: t0 - 1, maxTime: lastMs + 1, matchers: [{ type: MatcherType.EQ, name: 'job', value: 'node' }] }))) {
        for (const s of 'series' in f ? [f.series] : 'batch' in f ? f.batch : []) {
          storedSeries++;
          for (const c of s.chunks) storedSamples += samplesIn(c.raw!.data);
        }
      }
    } finally {
      client.close();
    }
    checks.push(['strata StoreAPI Series: series', storedSeries, seriesCount], ['strata StoreAPI Series: samples', storedSamples, sent]);
    for (const [what, got, want] of checks) if (got !== want) throw new Error(`${what}: ${got}, sent ${want}`);

    const rss = targets.map((x) => x.pids.reduce((sum, pid) => sum + (processPeakRssMiB(pid) ?? Number.NaN), 0));
    const perRound = plan[0]?.[0]?.samples ?? 0;
    process.stdout.write(
      `\nremote write ingestion: ${seriesCount} node-exporter-like series, a round = ${scrapes} scrapes at 15s = ${perRound} samples (1 sample a TimeSeries), ` +
        `${shards} shards (one request in flight each); median of ${rounds} rounds after 1 untimed, per max_samples_per_send\n`,
    );
    process.stdout.write(`${'batch'.padEnd(7)}${'target'.padEnd(17)}${'samples/s'.padStart(11)}${'ratio'.padStart(7)}${'CPU µs/sample'.padStart(15)}${'cores'.padStart(7)}${'sender µs/sample'.padStart(18)}${'KiB/request'.padStart(13)}\n`);
    for (const [b, batch] of batches.entries()) {
      const res = results[b]!;
      const timedRounds = plan[b]!.slice(1);
      const samples = timedRounds[0]?.samples ?? 0;
      const kib = timedRounds.reduce((n, r) => n + r.bytes, 0) / timedRounds.reduce((n, r) => n + r.bodies.flat().length, 0) / 1024;
      const ratios = res.strata.map((s, i) => res.prom[i]!.seconds / s.seconds);
      for (const [name, rs] of [[promT.name, res.prom], [strataT.name, res.strata]] as const) {
        const rate = median(rs.map((x) => samples / x.seconds));
        const cpu = median(rs.map((x) => (1000 * x.cpuMs) / samples));
        const cores = median(rs.map((x) => x.cpuMs / 1000 / x.seconds));
        const sender = median(rs.map((x) => (1000 * x.senderCpuMs) / samples));
        const ratio = name === strataT.name ? `${median(ratios).toFixed(2)}` : '1';
        process.stdout.write(
          `${String(batch).padEnd(7)}${name.padEnd(17)}${`${(rate / 1e3).toFixed(0)}k`.padStart(11)}${ratio.padStart(7)}${cpu.toFixed(2).padStart(15)}${cores.toFixed(2).padStart(7)}${sender.toFixed(2).padStart(18)}${kib.toFixed(1).padStart(13)}\n`,
        );
      }
      process.stdout.write(`${''.padEnd(7)}per-round ratios: ${ratios.map((x) => x.toFixed(2)).join(' ')}\n`);
    }
    if (first !== undefined) {
      const n = plan[0]?.[0]?.samples ?? 0;
      const cell = (x: RoundResult) => `${(n / x.seconds / 1e3).toFixed(0)}k samples/s, ${((1000 * x.cpuMs) / n).toFixed(2)} µs CPU/sample`;
      process.stdout.write(`first round (creates the ${seriesCount} series, batch ${batches[0]}): Prometheus ${cell(first.prom)}; strata ${cell(first.strata)}\n`);
    }
    process.stdout.write(`peak RSS (VmHWM over the run): Prometheus ${rss[0]?.toFixed(0)} MiB, strata receive ${rss[1]?.toFixed(0)} MiB (ratio ${((rss[1] ?? 0) / (rss[0] ?? 1)).toFixed(2)})\n`);
    process.stdout.write(`checked: both hold all ${sent} samples sent in ${seriesCount} series (head counters; read back by Prometheus' remote read and the receiver's StoreAPI)\n`);
  } finally {
    for (const x of targets) x.agent.destroy();
    await receiver.proc.stop();
    await prom.stop();
    await dir.cleanup();
  }
}
