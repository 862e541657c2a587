/**
 * `pnpm bench receive [--histograms] [--late=N] [--series=N (10000; 500 with --histograms)] [--scrapes=N (30)] [--rounds=N (7)] [--shards=N (4)] [--batches=500,2000]`
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
 * `--histograms`: native histograms instead of floats, the same way (a separate run: Prometheus is started
 * with `--enable-feature=native-histograms`, without which it refuses them). N (500 by default: a 20th of
 * the float series, a histogram sample carrying ~30 buckets) request-latency histograms of services as
 * client_golang exposes them (http_request_duration_seconds by handler, method and code, 20 an instance,
 * with job, instance and `cluster`), sent as Prometheus 2.42's remote write sends a scraped native histogram
 * (HistogramToHistogramProto): a TimeSeries per histogram sample with integer counts (count_int,
 * zero_count_int, positive spans and sint64 bucket deltas), reset hint UNKNOWN, its timestamp. Schema 3
 * (client_golang's default bucket factor 1.1); 20–40 populated positive buckets in 1–3 spans (3–5 empty
 * buckets between them: client_golang makes a gap of up to 2 part of a span), peaking at ~10–30 ms;
 * the zero bucket (client_golang's threshold, 2^-128) counting in a third of them. Every scrape each
 * bucket grows by 0.6–1.4 times a rate of its own, from the counts of ~2000 scrapes (the histograms have
 * counted for a while); the bucket layout stays as it is (the steady state: a new bucket would make both
 * TSDBs re-encode a chunk, not what is measured here). The repo's writeTimeSeries writes float counts only
 * (a PromQL result's), so these are written here (writeHistogramTimeSeries). max_samples_per_send counts a
 * histogram as a sample: batch sizes are histograms a request. The report is the float run's, per
 * histogram sample.
 *
 * `--late=N`: every Nth scrape of a round (the 1st, the N+1th, …) is sent after the scrape that follows it,
 * as a sender that retried a request sends it, so a 1/N share of the samples comes out of order; both
 * targets take them within a 10-minute out-of-order window (Prometheus' `out_of_order_time_window`, the
 * receiver's `--tsdb.out-of-order.time-window`).
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
 * StoreAPI Series (samples counted from the chunks' headers), every chunk of the encoding the samples
 * were sent as: XOR, or with `--histograms` HISTOGRAM (integer counts; not converted to float histograms).
 * Prometheus 2.42 counts histogram samples in prometheus_tsdb_head_samples_appended_total{type="histogram"}:
 * the check adds up every type.
 */
import { Agent, request } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readFrames } from '../packages/sidecar/src/index.js';
import { decodeChunkedReadResponse, encodeReadRequest, MatcherType, ProtoWriter, ResponseType, seriesRequest, StoreClient, toStoreEncoding, writeLabels, writeSpans, writeTimeSeries } from '../packages/storeapi/src/index.js';
import { CounterResetHint, Encoding, type Histogram, type Label, type Span } from '../packages/tsdb/src/index.js';
import { freePort, pidWithArgument, processCpuMs, processPeakRssMiB, tempDir, withDescendants } from '../test/harness/process.js';
import { startPrometheus } from '../test/harness/prometheus.js';
import { startComponent } from './components.js';
import { median } from './stats.js';

// snappy is the receiver's dependency (the bench package has none of its own): resolved from there.
const snappy = createRequire(new URL('../packages/receive/package.json', import.meta.url))('snappy') as { compressSync(b: Buffer): Buffer };

const STEP_MS = 15_000;
/** Samples in a chunk: the BE16 count that opens every XOR and histogram chunk. */
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
  /** Writes its sample of scrape `i` at `timestamp` as a TimeSeries of its own (WriteRequest field 1). */
  write(w: ProtoWriter, i: number, timestamp: number): void;
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
      const value = counter ? (i: number) => Math.round((level + i * rate + (i % 7) * 0.13) * 100) / 100 : (i: number) => Math.round((level + 50 * Math.sin(i * 0.05 + s)) * 100) / 100;
      out.push({ labels: sorted, write: (w, i, timestamp) => writeTimeSeries(w, 1, { labels: sorted, samples: [{ value: value(i), timestamp }], histograms: [] }) });
    }
  }
  return out;
}

/** A service's request-latency histograms per instance: [handler, method] (each by code 200 and 500). */
const HANDLERS: readonly (readonly [string, string])[] = [
  ['/api/v1/orders', 'GET'], ['/api/v1/orders', 'POST'], ['/api/v1/orders/{id}', 'GET'], ['/api/v1/users/{id}', 'GET'], ['/api/v1/users/{id}', 'PUT'],
  ['/api/v1/cart', 'GET'], ['/api/v1/cart', 'POST'], ['/api/v1/search', 'GET'], ['/healthz', 'GET'], ['/metrics', 'GET'],
];
/** client_golang's native histogram zero threshold (DefNativeHistogramZeroThreshold). */
const ZERO_THRESHOLD = 2 ** -128;
/** Scrapes counted before the first one sent: a histogram of a process up for ~8h, not a fresh one. */
const UPTIME_SCRAPES = 2000;

/** A deterministic fraction in [0, 1) for (a, b, c): the scrape-to-scrape jitter of a bucket's growth. */
function jitter(a: number, b: number, c: number): number {
  let x = Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b) ^ Math.imul(c, 0xc2b2ae35);
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return ((x ^ (x >>> 16)) >>> 0) / 2 ** 32;
}

/**
 * `count` native histogram series as client_golang's http_request_duration_seconds, 20 an instance; series
 * s's sample at scrape i in integer counts (see the header for the shape).
 */
function latencyHistogramSeries(count: number): BenchSeries[] {
  const out: BenchSeries[] = [];
  for (let host = 0; out.length < count; host++) {
    for (const [handler, method] of HANDLERS) {
      for (const code of ['200', '500']) {
        if (out.length === count) break;
        const all: Record<string, string> = { __name__: 'http_request_duration_seconds', cluster: 'eu-west-1', code, handler, instance: `api-${String(host).padStart(4, '0')}.example.internal:8080`, job: 'api', method };
        const sorted = Object.keys(all).sort().map((n) => ({ name: n, value: all[n] as string }));
        const at = latencyHistogram(out.length);
        out.push({ labels: sorted, write: (w, i, timestamp) => writeHistogramTimeSeries(w, 1, sorted, timestamp, at(i)) });
      }
    }
  }
  return out;
}

/** Series s's histogram at scrape i: its bucket layout and rates fixed, its counts growing scrape by scrape. */
function latencyHistogram(s: number): (i: number) => Histogram {
  const buckets = 20 + ((s * 13) % 21);
  const spanCount = 1 + (s % 3);
  const spans: Span[] = [];
  /** Each populated bucket's schema-3 index. */
  const indexes: number[] = [];
  // Starting half the buckets below 20 ms' bucket (8·log2(0.02) ≈ −45), shifted by up to ±5 buckets (×1.09 each) per series.
  let index = -45 + ((s % 11) - 5) - Math.floor(buckets / 2);
  for (let k = 0; k < spanCount; k++) {
    const length = k < spanCount - 1 ? Math.floor(buckets / spanCount) : buckets - (spanCount - 1) * Math.floor(buckets / spanCount);
    const gap = k === 0 ? 0 : 3 + ((s + k) % 3);
    spans.push({ offset: k === 0 ? index : gap, length });
    index += gap;
    for (let j = 0; j < length; j++) indexes.push(index++);
  }
  // Requests a scrape per bucket: a bell over the populated buckets, its peak (~12) in their lower half
  // (a longer tail of slow requests), a fraction of one in the outermost; handlers differ in traffic.
  const traffic = (1 + (s % 5)) / 3;
  const rates = indexes.map((_, j) => traffic * (0.05 + 12 * Math.exp(-(((j - 0.4 * buckets) / (buckets / 5)) ** 2) / 2)));
  // An observation's value taken as its bucket's geometric middle: (2^((i−1)/8), 2^(i/8)].
  const middles = indexes.map((i) => 2 ** ((i - 0.5) / 8));
  const zeroRate = Math.floor(s / 3) % 3 === 0 ? 0.02 : 0;
  return (i) => {
    const counts = rates.map((rate, j) => Math.floor(rate * (UPTIME_SCRAPES + i + 0.4 * jitter(s, j, i))));
    const zeroCount = Math.floor(zeroRate * (UPTIME_SCRAPES + i));
    let count = zeroCount;
    let sum = 0;
    const deltas = counts.map((c, j) => {
      count += c;
      sum += c * (middles[j] as number);
      return j === 0 ? c : c - (counts[j - 1] as number);
    });
    return {
      counterResetHint: CounterResetHint.Unknown, schema: 3, zeroThreshold: ZERO_THRESHOLD, zeroCount, count, sum,
      positiveSpans: spans, negativeSpans: [], positiveBuckets: deltas, negativeBuckets: [], customValues: [],
    };
  };
}

/** A uint64 oneof member: written even when zero, as Go writes one (its presence says which member is set). */
function oneofUint64(w: ProtoWriter, field: number, v: number): void {
  if (v !== 0) w.uint64(field, BigInt(v));
  else w.raw(Uint8Array.of(field << 3, 0), 0, 2);
}

/**
 * A TimeSeries of one native histogram with integer counts, as Prometheus' remote write sends a scraped
 * one (HistogramToHistogramProto): count_int 1, sum 3, schema 4, zero_threshold 5, zero_count_int 6,
 * negative spans 8 and deltas 9, positive spans 11 and deltas 12 (sint64, each bucket's count minus the
 * previous one's), reset_hint 14, timestamp 15. writeTimeSeries writes float counts only.
 */
function writeHistogramTimeSeries(w: ProtoWriter, field: number, labels: readonly Label[], timestamp: number, h: Histogram): void {
  w.fork(field);
  writeLabels(w, 1, labels);
  w.fork(4);
  oneofUint64(w, 1, h.count);
  w.double(3, h.sum).sint32(4, h.schema).double(5, h.zeroThreshold);
  oneofUint64(w, 6, h.zeroCount);
  writeSpans(w, 8, h.negativeSpans);
  w.packedSint64(9, h.negativeBuckets);
  writeSpans(w, 11, h.positiveSpans);
  w.packedSint64(12, h.positiveBuckets).uint32(14, h.counterResetHint).int64(15, timestamp);
  w.ldelim().ldelim();
}

/** What is sent: node exporters' float samples (the default), or services' native histograms (`--histograms`). */
interface Scenario {
  /** Series sent unless `--series` says. */
  readonly defaultSeries: number;
  series(count: number): BenchSeries[];
  /** Its series as the report names them. */
  readonly seriesName: string;
  /** A sample as the report's table and rates name it, and samples as its sentences do. */
  readonly unit: string;
  readonly samplesName: string;
  /** The job label of its series: the check reads them back by it. */
  readonly job: string;
  /** The chunk encoding its samples are stored in (TSDB and remote-read numbers). */
  readonly encoding: Encoding;
  /** Prometheus flags it needs besides the remote-write receiver. */
  readonly prometheusFlags: readonly string[];
}

const FLOATS: Scenario = {
  defaultSeries: 10_000, series: nodeExporterSeries, seriesName: 'node-exporter-like series', unit: 'sample', samplesName: 'samples', job: 'node', encoding: Encoding.XOR, prometheusFlags: [],
};
const HISTOGRAMS: Scenario = {
  defaultSeries: 500, series: latencyHistogramSeries, seriesName: 'native histogram series (schema 3, 20-40 buckets in 1-3 spans, integer counts)', unit: 'histogram', samplesName: 'histogram samples',
  job: 'api', encoding: Encoding.Histogram, prometheusFlags: ['--enable-feature=native-histograms'],
};

/** A rate in thousands a second: a decimal below 10k (histogram rates can be that low), none above. */
const kilo = (perSecond: number) => `${(perSecond / 1e3).toFixed(perSecond < 10e3 ? 1 : 0)}k`;

/** A chunk's samples, once it is of the encoding expected (`where` names the chunk in the error). */
function chunkSamples(encoding: number, expected: number, data: Uint8Array, where: string): number {
  if (encoding !== expected) throw new Error(`${where}: a chunk of encoding ${encoding}, expected ${expected}`);
  return samplesIn(data);
}

/** The requests of one round: per shard, its snappy bodies in order. */
interface RoundRequests {
  readonly bodies: Buffer[][];
  readonly samples: number;
  readonly bytes: number;
  readonly startMs: number;
  readonly endMs: number;
}

/** The order a round sends its scrapes in: every `late`th (0: none) after the one that follows it. */
function scrapeOrder(firstScrape: number, scrapes: number, late: number): number[] {
  const order = Array.from({ length: scrapes }, (_, k) => firstScrape + k);
  if (late > 0) for (let k = 0; k + 1 < scrapes; k += late) [order[k], order[k + 1]] = [order[k + 1] as number, order[k] as number];
  return order;
}

/** A round's requests: scrapes `firstScrape`… of every series (every `late`th late), as `shards` shards of `batch` samples send them. */
function buildRound(series: readonly BenchSeries[], t0: number, firstScrape: number, scrapes: number, shards: number, batch: number, late: number): RoundRequests {
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
    for (const i of scrapeOrder(firstScrape, scrapes, late)) {
      const timestamp = t0 + i * STEP_MS;
      for (let s = shard; s < series.length; s += shards) {
        (series[s] as BenchSeries).write(w, i, timestamp);
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
      histograms: { type: 'boolean', default: false },
      late: { type: 'string', default: '0' },
      series: { type: 'string' },
      scrapes: { type: 'string', default: '30' },
      rounds: { type: 'string', default: '7' },
      shards: { type: 'string', default: '4' },
      batches: { type: 'string', default: '500,2000' },
    },
  });
  const scenario = values.histograms ? HISTOGRAMS : FLOATS;
  const seriesCount = Number(values.series ?? scenario.defaultSeries);
  const scrapes = Number(values.scrapes);
  const rounds = Number(values.rounds);
  const shards = Number(values.shards);
  const batches = values.batches.split(',').map(Number);
  const late = Number(values.late);
  const oooWindow = late > 0 ? '10m' : undefined;
  const phases = batches.length * (rounds + 1);
  const spanMs = phases * scrapes * STEP_MS;
  // Under 1.5 block durations (3h), past which a head is cut into a block; with room to spare.
  if (spanMs > 2.5 * 3600_000) throw new Error(`${phases} rounds of ${scrapes} scrapes span ${(spanMs / 3600_000).toFixed(2)}h: over 2.5h, a TSDB would cut a block during the run; fewer --scrapes or --rounds`);
  // Ends about now: the latest samples are a few minutes old, as a Prometheus catching up sends them.
  const t0 = Math.floor((Date.now() - spanMs) / 60_000) * 60_000 - 5 * 60_000;

  const t = performance.now();
  const series = scenario.series(seriesCount);
  /** Per batch size, its untimed round then the timed ones, each a fresh time range. */
  const plan = batches.map((batch, b) => Array.from({ length: rounds + 1 }, (_, r) => buildRound(series, t0, (b * (rounds + 1) + r) * scrapes, scrapes, shards, batch, late)));
  const all = plan.flat();
  const sent = all.reduce((n, r) => n + r.samples, 0);
  process.stderr.write(
    `built ${all.reduce((n, r) => n + r.bodies.flat().length, 0)} requests (${sent} ${scenario.samplesName}, ${(all.reduce((n, r) => n + r.bytes, 0) / 2 ** 20).toFixed(1)} MiB snappy) in ${((performance.now() - t) / 1000).toFixed(1)} s\n`,
  );

  const dir = await tempDir('strata-bench-receive-');
  const prom = await startPrometheus({
    dir: dir.path,
    dataDir: join(dir.path, 'prometheus'),
    extraArgs: ['--web.enable-remote-write-receiver', ...scenario.prometheusFlags],
    ...(oooWindow !== undefined ? { outOfOrderTimeWindow: oooWindow } : {}),
  });
  const rwPort = await freePort();
  const receiveArgs = ['receive', `--remote-write.address=127.0.0.1:${rwPort}`, `--tsdb.path=${join(dir.path, 'receive')}`, '--label=replica="r0"', '--log.level=warn'];
  const receiver = await startComponent(dir.path, 'receive', [...receiveArgs, ...(oooWindow !== undefined ? [`--tsdb.out-of-order.time-window=${oooWindow}`] : [])], true);
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
      body: encodeReadRequest({ startMs: t0 - 1, endMs: lastMs + 1, matchers: [{ type: MatcherType.EQ, name: 'job', value: scenario.job }] }, [ResponseType.STREAMED_XOR_CHUNKS]),
    });
    if (res.status !== 200) throw new Error(`Prometheus remote read: ${res.status} ${await res.text()}`);
    const readSeries = new Set<string>();
    let readSamples = 0;
    for await (const frame of readFrames(res.body as AsyncIterable<Uint8Array>)) {
      for (const s of decodeChunkedReadResponse(frame)) {
        readSeries.add(JSON.stringify(s.labels));
        for (const c of s.chunks) readSamples += chunkSamples(c.type, scenario.encoding, c.data, `Prometheus remote read ${JSON.stringify(s.labels)}`);
      }
    }
    checks.push(['Prometheus remote read: series', readSeries.size, seriesCount], ['Prometheus remote read: samples', readSamples, sent]);
    const client = new StoreClient(receiver.grpc);
    let storedSeries = 0;
    let storedSamples = 0;
    try {
      for await (const f of client.series(seriesRequest({ minTime: t0 - 1, maxTime: lastMs + 1, matchers: [{ type: MatcherType.EQ, name: 'job', value: scenario.job }] }))) {
        for (const s of 'series' in f ? [f.series] : 'batch' in f ? f.batch : []) {
          storedSeries++;
          for (const c of s.chunks) storedSamples += chunkSamples(c.raw!.type, toStoreEncoding(scenario.encoding), c.raw!.data, `strata StoreAPI Series ${JSON.stringify(s.labels)}`);
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
      `\nremote write ingestion: ${seriesCount} ${scenario.seriesName}, a round = ${scrapes} scrapes at 15s = ${perRound} ${scenario.samplesName} (1 ${scenario.unit} a TimeSeries), ` +
        `${shards} shards (one request in flight each)${late > 0 ? `, every ${late}th scrape late (1/${late} of the ${scenario.samplesName} out of order, a ${oooWindow} out-of-order window)` : ''}; median of ${rounds} rounds after 1 untimed, per max_samples_per_send\n`,
    );
    // Columns named by the scenario's unit, each as wide as its title and two spaces.
    const [rateTitle, cpuTitle, senderTitle] = [`${scenario.unit}s/s`, `CPU µs/${scenario.unit}`, `sender µs/${scenario.unit}`];
    const [rateW, cpuW, senderW] = [rateTitle.length + 2, cpuTitle.length + 2, senderTitle.length + 2];
    process.stdout.write(`${'batch'.padEnd(7)}${'target'.padEnd(17)}${rateTitle.padStart(rateW)}${'ratio'.padStart(7)}${cpuTitle.padStart(cpuW)}${'cores'.padStart(7)}${senderTitle.padStart(senderW)}${'KiB/request'.padStart(13)}\n`);
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
          `${String(batch).padEnd(7)}${name.padEnd(17)}${kilo(rate).padStart(rateW)}${ratio.padStart(7)}${cpu.toFixed(2).padStart(cpuW)}${cores.toFixed(2).padStart(7)}${sender.toFixed(2).padStart(senderW)}${kib.toFixed(1).padStart(13)}\n`,
        );
      }
      process.stdout.write(`${''.padEnd(7)}per-round ratios: ${ratios.map((x) => x.toFixed(2)).join(' ')}\n`);
    }
    if (first !== undefined) {
      const n = plan[0]?.[0]?.samples ?? 0;
      const cell = (x: RoundResult) => `${kilo(n / x.seconds)} ${scenario.unit}s/s, ${((1000 * x.cpuMs) / n).toFixed(2)} µs CPU/${scenario.unit}`;
      process.stdout.write(`first round (creates the ${seriesCount} series, batch ${batches[0]}): Prometheus ${cell(first.prom)}; strata ${cell(first.strata)}\n`);
    }
    process.stdout.write(`peak RSS (VmHWM over the run): Prometheus ${rss[0]?.toFixed(0)} MiB, strata receive ${rss[1]?.toFixed(0)} MiB (ratio ${((rss[1] ?? 0) / (rss[0] ?? 1)).toFixed(2)})\n`);
    process.stdout.write(`checked: both hold all ${sent} ${scenario.samplesName} sent in ${seriesCount} series (head counters; read back by Prometheus' remote read and the receiver's StoreAPI)\n`);
  } finally {
    for (const x of targets) x.agent.destroy();
    await receiver.proc.stop();
    await prom.stop();
    await dir.cleanup();
  }
}
