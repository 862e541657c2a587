// Native histograms through `strata receive`, end to end. A Prometheus 2.42 (native histograms on) and the
// receiver are sent the same 40 minutes of integer, float and gauge histogram series and of a series that
// switches between floats and histograms; then Prometheus alone is sent their next samples, as they come,
// and remote-writes them on to the receiver with `send_native_histograms` (its remote write sends only
// what it takes after it starts), as a Prometheus does with what it scrapes. A querier over the receiver
// answers what Prometheus answers, across the blocks the receiver cut (10-minute blocks, which promtool
// reads) and its head, and again after a restart, its head read back from its write-ahead log.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { start as startQuerier, type Querier } from '@strata/querier';
import { start as startReceiver, type ReceiveConfig, type Receiver } from '@strata/receive';
import { nopLogger } from '@strata/runtime';
import { sleep, tempDir } from '@strata/testing/process';
import { promtool, startPrometheus, type PrometheusHandle } from '@strata/testing/prometheus';
import { counterHistogram, floatCounterHistogram, gaugeHistogram } from '@strata/testing/histograms';
import { remoteWrite, remoteWriteTo, snappyLiterals, writeRequest, type WrittenSeries } from '@strata/testing/remotewrite';
import { STALE_NAN } from '@strata/tsdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectSameAnswer, query } from '../querier/answers.js';
import { restartableReceiver, until } from './compare.js';

const STEP = 15_000;
/** Samples sent to both, STEP apart, up to a minute ago. */
const N = 160;
/** Samples then sent to Prometheus alone, a second apart, and relayed. */
const LIVE = 10;
const BLOCK_MS = 10 * 60_000;

let dir: { path: string; cleanup: () => Promise<void> };
let prometheus: PrometheusHandle;
let config: ReceiveConfig;
let receiver: Receiver;
let querier: Querier;
let start: number;
/** The time of the first sample Prometheus relays. */
let liveStart: number;
let end: number;

/**
 * What is sent at sample i, at time t: the histograms, a series that is a float before sample 60 and a
 * histogram after, and the integer counter's stale marker ten samples before the relayed ones, after
 * which it comes back.
 */
function samplesAt(i: number, t: number): WrittenSeries[] {
  const out: WrittenSeries[] = [
    { labels: { __name__: 'rpc_duration_seconds', path: '/b' }, histograms: [{ t, h: floatCounterHistogram(i) }], float: true },
    { labels: { __name__: 'queue_depth' }, histograms: [{ t, h: gaugeHistogram(i) }], float: true },
    i < 60 ? { labels: { __name__: 'switching' }, samples: [{ t, v: i }] } : { labels: { __name__: 'switching' }, histograms: [{ t, h: counterHistogram(i - 60, 100) }] },
  ];
  if (i < N - 10 || i >= N) out.push({ labels: { __name__: 'rpc_duration_seconds', path: '/a' }, histograms: [{ t, h: counterHistogram(i, 100) }] });
  else if (i === N - 10) out.push({ labels: { __name__: 'rpc_duration_seconds', path: '/a' }, samples: [{ t, v: STALE_NAN }] });
  return out;
}

beforeAll(async () => {
  dir = await tempDir('strata-receive-histograms-');
  config = await restartableReceiver(dir.path, { blockDurationMs: BLOCK_MS, compactionIntervalMs: 500 });
  receiver = await startReceiver(config);
  // One shard: the receiver gets the samples in the order Prometheus took them, each time within its
  // head's window (half a block) of the latest.
  const relay = { ...remoteWriteTo(config.remoteWriteAddress), send_native_histograms: true, queue_config: { ...remoteWriteTo(config.remoteWriteAddress).queue_config, max_shards: 1 } };
  prometheus = await startPrometheus({ dir: join(dir.path, 'prometheus'), extraArgs: ['--enable-feature=native-histograms', '--web.enable-remote-write-receiver'], remoteWrite: [relay] });
  querier = await startQuerier({ httpAddress: '127.0.0.1:0', grpcAddress: '127.0.0.1:0', endpoints: [config.grpcAddress], promqlCompat: 2, logger: nopLogger });
  // 40 minutes up to a minute ago, to both: four 10-minute blocks and the head.
  start = Math.floor((Date.now() - 60_000 - N * STEP) / 1000) * 1000 + 123;
  for (let i = 0; i < N; i++) {
    const series = samplesAt(i, start + i * STEP);
    await remoteWrite(prometheus.url, series);
    await writeToReceiver(series);
  }
  // Then as they come, to Prometheus, which relays them.
  liveStart = Date.now();
  let last = 0;
  for (let i = N; i < N + LIVE; i++) {
    last = Date.now();
    await remoteWrite(prometheus.url, samplesAt(i, last));
    await sleep(1_000);
  }
  end = last + 1;
  await until('the relayed samples in the receiver', async () => {
    const relayed = ['rpc_duration_seconds', 'queue_depth', 'switching'].map((m) => `count(timestamp(${m}) == ${last / 1000})`).join(' + ');
    const got = await query(`http://${querier.httpAddress}`, 'query', { query: relayed, time: String(end / 1000) });
    return (got.data?.result[0] as { value?: [number, string] } | undefined)?.value?.[1] === '4';
  });
}, 180_000);

afterAll(async () => {
  await querier?.stop();
  await prometheus?.stop();
  await receiver?.stop();
  await dir?.cleanup();
});

const RANGE_QUERIES = [
  'rpc_duration_seconds',
  'queue_depth',
  'switching',
  'rate(rpc_duration_seconds[2m])',
  'increase(switching[5m])',
  'histogram_count(rate(rpc_duration_seconds[2m]))',
  'histogram_sum(queue_depth)',
  'sum(rate(rpc_duration_seconds[2m]))',
  'histogram_quantile(0.9, rate(rpc_duration_seconds[2m]))',
  'histogram_quantile(0.5, queue_depth)',
  'histogram_fraction(0, 2, rate(rpc_duration_seconds[2m]))',
  'count_over_time({__name__=~"rpc_duration_seconds|switching"}[3m])',
];

/** Each query answered over the whole time at a 30 s step, and over the relayed samples at a 1 s step, as Prometheus answers it. */
async function expectSameAnswers(): Promise<void> {
  const ranges = [
    { start: String(start / 1000), end: String((end + 60_000) / 1000), step: '30' },
    { start: String((liveStart - 20_000) / 1000), end: String((end + 5_000) / 1000), step: '1' },
  ];
  for (const q of RANGE_QUERIES) {
    for (const params of ranges) {
      const [got, want] = await Promise.all([query(`http://${querier.httpAddress}`, 'query_range', { query: q, ...params }), query(prometheus.url, 'query_range', { query: q, ...params })]);
      expect(want.data.result.length, q).toBeGreaterThan(0);
      expectSameAnswer(got, want, `${q} step ${params.step}`, ['receive', 'tenant_id']);
    }
  }
}

/** A remote write to the receiver, as Prometheus' remote write sends it. */
async function writeToReceiver(series: readonly WrittenSeries[]): Promise<void> {
  const res = await fetch(`http://${config.remoteWriteAddress}/api/v1/receive`, {
    method: 'POST',
    headers: { 'Content-Encoding': 'snappy', 'Content-Type': 'application/x-protobuf', 'X-Prometheus-Remote-Write-Version': '0.1.0' },
    body: snappyLiterals(writeRequest(series)),
  });
  if (res.status !== 200) throw new Error(`receiver: ${res.status} ${await res.text()}`);
}

describe('native histograms through strata receive', () => {
  it('answers, through a querier, as the Prometheus that relayed them', async () => {
    await expectSameAnswers();
  });

  it('cuts them into blocks that promtool reads', async () => {
    const tenantDir = join(config.tsdbPath, 'default-tenant');
    const blocks = (await readdir(tenantDir)).filter((n) => /^[0-9A-Z]{26}$/.test(n));
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    for (const ulid of blocks) {
      // --extended reads every chunk.
      const analysis = await promtool(['tsdb', 'analyze', '--extended', tenantDir, ulid]);
      expect(analysis, ulid).toMatch(/^Series: 4$/m);
    }
  });

  it('reads its head back from its write-ahead log after a restart', async () => {
    await receiver.stop();
    receiver = await startReceiver(config);
    await until('the querier reading the restarted receiver', async () => {
      const got = await query(`http://${querier.httpAddress}`, 'query', { query: 'count(queue_depth)', time: String((end - STEP) / 1000) });
      return got.data?.result.length === 1;
    });
    await expectSameAnswers();
  });
});
