// Out-of-order samples through `strata receive --tsdb.out-of-order.time-window`, end to end. A Prometheus
// 2.42 with the same out-of-order window and the receiver are sent the same remote writes: an hour and a
// half of samples a minute, then, late, the half minutes between them over the last 25 minutes and a
// series that starts 25 minutes back (before where the receiver's head takes samples in order, with its
// 10-minute blocks), then samples older than the window (refused by both), then newer ones, after which
// the receiver cuts blocks and flushes the late samples into blocks of their own. A querier over the
// receiver, deduplicating on its replica label as one over HA receivers does, answers as Prometheus does
// while the late samples are in the receiver's head, once they are in out-of-order blocks (which promtool
// reads), and after a restart.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { start as startQuerier, type Querier } from '@strata/querier';
import { start as startReceiver, type ReceiveConfig, type Receiver } from '@strata/receive';
import { nopLogger } from '@strata/runtime';
import { tempDir } from '@strata/testing/process';
import { promtool, startPrometheus, type PrometheusHandle } from '@strata/testing/prometheus';
import { snappyLiterals, writeRequest, type WrittenSeries } from '@strata/testing/remotewrite';
import { fromOutOfOrder, isULID, parseMeta } from '@strata/tsdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectSameAnswer, query } from '../querier/answers.js';
import { restartableReceiver, until } from './compare.js';

const MINUTE = 60_000;
const BLOCK_MS = 10 * MINUTE;
const WINDOW = '30m';

let dir: { path: string; cleanup: () => Promise<void> };
let prometheus: PrometheusHandle;
let config: ReceiveConfig;
let receiver: Receiver;
let querier: Querier;
/** Minute 0 of the data, 100 minutes ago. */
let base: number;

const at = (minute: number) => base + minute * MINUTE;
/** A counter of the seconds since minute 0, one series per job. */
const counter = (job: string, minutes: readonly number[]): WrittenSeries => ({ labels: { __name__: 'requests_total', job }, samples: minutes.map((m) => ({ t: at(m), v: m * 60 })) });
const gauge = (minutes: readonly number[]): WrittenSeries => ({ labels: { __name__: 'late_gauge' }, samples: minutes.map((m) => ({ t: at(m), v: Math.sin(m) })) });
const range = (from: number, to: number, step = 1) => Array.from({ length: Math.ceil((to - from) / step) }, (_, i) => from + i * step);

/** One remote write to both: the receiver's status and body, and Prometheus' status. */
async function writeToBoth(series: readonly WrittenSeries[]): Promise<{ receiver: number; body: string; prometheus: number }> {
  const post = (url: string) =>
    fetch(url, {
      method: 'POST',
      headers: { 'Content-Encoding': 'snappy', 'Content-Type': 'application/x-protobuf', 'X-Prometheus-Remote-Write-Version': '0.1.0' },
      body: snappyLiterals(writeRequest(series)),
    });
  const [ours, theirs] = await Promise.all([post(`http://${config.remoteWriteAddress}/api/v1/receive`), post(`${prometheus.url}/api/v1/write`)]);
  return { receiver: ours.status, body: await ours.text(), prometheus: theirs.status };
}

async function expectTaken(series: readonly WrittenSeries[]): Promise<void> {
  const res = await writeToBoth(series);
  expect(res, JSON.stringify(series.map((s) => s.labels))).toMatchObject({ receiver: 200, prometheus: 204 });
}

/** The receiver's blocks of the default tenant: [ulid, holds out-of-order samples]. */
async function blocks(): Promise<[string, boolean][]> {
  const tenantDir = join(config.tsdbPath, 'default-tenant');
  const ulids = (await readdir(tenantDir)).filter(isULID);
  return Promise.all(ulids.map(async (u) => [u, fromOutOfOrder(parseMeta(await readFile(join(tenantDir, u, 'meta.json'), 'utf8')))] as [string, boolean]));
}

const RANGE_QUERIES = ['requests_total', 'late_gauge', 'rate(requests_total[3m])', 'count_over_time(requests_total[10m])', 'count_over_time(late_gauge[2m])', 'sum(requests_total)', 'requests_total offset 30s'];

async function expectSameAnswers(): Promise<void> {
  const ranges = [
    { start: String(at(0) / 1000), end: String(at(110) / 1000), step: '60' },
    { start: String(at(60) / 1000), end: String(at(92) / 1000), step: '15' },
  ];
  for (const q of RANGE_QUERIES) {
    for (const params of ranges) {
      const [got, want] = await Promise.all([query(`http://${querier.httpAddress}`, 'query_range', { query: q, ...params }), query(prometheus.url, 'query_range', { query: q, ...params })]);
      expect(want.data.result.length, q).toBeGreaterThan(0);
      expectSameAnswer(got, want, `${q} step ${params.step}`, ['receive', 'tenant_id']);
    }
  }
}

beforeAll(async () => {
  dir = await tempDir('strata-receive-ooo-');
  config = await restartableReceiver(dir.path, { blockDurationMs: BLOCK_MS, outOfOrderTimeWindowMs: 30 * MINUTE, compactionIntervalMs: 500 });
  receiver = await startReceiver(config);
  prometheus = await startPrometheus({ dir: join(dir.path, 'prometheus'), extraArgs: ['--web.enable-remote-write-receiver'], outOfOrderTimeWindow: WINDOW });
  querier = await startQuerier({ httpAddress: '127.0.0.1:0', grpcAddress: '127.0.0.1:0', endpoints: [config.grpcAddress], replicaLabels: ['receive'], promqlCompat: 2, logger: nopLogger });
  base = Math.floor((Date.now() - 100 * MINUTE) / 1000) * 1000;
  // In order, a sample a minute up to minute 90, ten minutes a request.
  for (let m = 0; m < 90; m += 10) await expectTaken([counter('a', range(m, m + 10)), counter('b', range(m, m + 10))]);
}, 120_000);

afterAll(async () => {
  await querier?.stop();
  await prometheus?.stop();
  await receiver?.stop();
  await dir?.cleanup();
});

describe('out-of-order samples through strata receive', () => {
  it('takes late samples within the window as Prometheus does, and refuses older ones as too old', async () => {
    // The half minutes of the last 25 minutes, newest first, as a client catching up might send them.
    for (let m = 89.5; m > 65; m -= 5) await expectTaken([counter('a', range(m - 4, m + 0.5, 0.5).filter((x) => x % 1 !== 0))]);
    // A series that starts 25 minutes back: in the receiver, before where its head takes samples in order.
    await expectTaken([gauge(range(64, 70))]);
    // Older than the window: refused by both (Prometheus refuses the whole request).
    const tooOld = await writeToBoth([counter('b', [40.5])]);
    expect(tooOld.receiver).toBe(409);
    expect(tooOld.body).toContain('too old sample');
    expect(tooOld.prometheus).toBeGreaterThanOrEqual(400);
    await until('the querier reading the receiver', async () => (await query(`http://${querier.httpAddress}`, 'query', { query: 'count(late_gauge)', time: String(at(65) / 1000) })).data?.result.length === 1);
    await expectSameAnswers();
  });

  it('flushes them into blocks of their own when it cuts its head, which promtool reads, and answers the same from them', async () => {
    // Newer samples move the head on: the receiver cuts a block and flushes the late samples.
    for (let m = 90; m < 110; m += 10) await expectTaken([counter('a', range(m, m + 10)), counter('b', range(m, m + 10))]);
    await until('out-of-order blocks in the receiver', async () => (await blocks()).some(([, ooo]) => ooo), 30_000);
    const tenantDir = join(config.tsdbPath, 'default-tenant');
    for (const [ulid, ooo] of await blocks()) {
      if (!ooo) continue;
      // --extended reads every chunk.
      expect(await promtool(['tsdb', 'analyze', '--extended', tenantDir, ulid]), ulid).toMatch(/^Series: [12]$/m);
    }
    await expectSameAnswers();
  });

  it('answers the same after a restart', async () => {
    await receiver.stop();
    receiver = await startReceiver(config);
    await until('the querier reading the restarted receiver', async () => (await query(`http://${querier.httpAddress}`, 'query', { query: 'count(requests_total)', time: String(at(100) / 1000) })).data?.result.length === 1);
    await expectSameAnswers();
  });
});
