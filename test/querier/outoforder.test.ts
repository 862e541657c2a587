// A sidecar next to a Prometheus 2.42 that takes samples out of order (`out_of_order_time_window`, here
// 2 minutes, with 10-minute blocks). When Prometheus cuts its head, it flushes the late samples into
// blocks of their own, one per block window, hinted `from-out-of-order`: such a block may end after the
// in-order blocks do, while Prometheus' head still holds the in-order samples of its window. The sidecar
// serves from disk only up to where the in-order blocks end and reads the rest through remote read, so a
// querier over it answers exactly as Prometheus does.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { start as startQuerier, type Querier } from '@strata/querier';
import { nopLogger } from '@strata/runtime';
import { start as startSidecar, type Sidecar } from '@strata/sidecar';
import { sleep, tempDir } from '@strata/testing/process';
import { startPrometheus, type PrometheusHandle } from '@strata/testing/prometheus';
import { remoteWrite, type WrittenSeries } from '@strata/testing/remotewrite';
import { fromOutOfOrder, isULID, parseMeta, type BlockMeta } from '@strata/tsdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectSameAnswer, query } from './answers.js';

const MINUTE = 60_000;
const BLOCK = 10 * MINUTE;

let dir: { path: string; cleanup: () => Promise<void> };
let prometheus: PrometheusHandle;
let sidecar: Sidecar;
let querier: Querier;
/** Minute 0 of the data: a multiple of the block duration, an hour ago. */
let base: number;

const at = (minute: number) => base + minute * MINUTE;
const series = (minutes: readonly number[]): WrittenSeries[] =>
  ['a', 'b'].map((job) => ({ labels: { __name__: 'requests_total', job }, samples: minutes.map((m) => ({ t: at(m), v: m * 60 + (job === 'a' ? 0 : 1) })) }));
const halfMinutes = (from: number, to: number) => Array.from({ length: (to - from) * 2 }, (_, i) => from + i / 2);

async function blocks(): Promise<BlockMeta[]> {
  const names = (await readdir(prometheus.dataDir)).filter(isULID);
  return Promise.all(names.map(async (n) => parseMeta(await readFile(join(prometheus.dataDir, n, 'meta.json'), 'utf8'))));
}

beforeAll(async () => {
  dir = await tempDir('strata-sidecar-ooo-');
  prometheus = await startPrometheus({ dir: dir.path, extraArgs: ['--web.enable-remote-write-receiver'], blockDuration: '10m', outOfOrderTimeWindow: '2m', externalLabels: { cluster: 'c1', replica: 'r0' } });
  sidecar = await startSidecar({ prometheusUrl: prometheus.url, tsdbPath: prometheus.dataDir, grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', heartbeatIntervalMs: 200, logger: nopLogger });
  querier = await startQuerier({ httpAddress: '127.0.0.1:0', grpcAddress: '127.0.0.1:0', endpoints: [sidecar.grpcAddress], replicaLabels: ['replica'], promqlCompat: 2, logger: nopLogger });
  base = Math.floor((Date.now() - 60 * MINUTE) / BLOCK) * BLOCK;
  // In order up to minute 44: Prometheus cuts its head into blocks up to minute 30.
  await remoteWrite(prometheus.url, series(halfMinutes(0, 44)));
  // Late, within two minutes of the newest (minute 43.5).
  await remoteWrite(prometheus.url, series([41.75, 42.25, 42.75, 43.25]));
  // On to minute 46: Prometheus cuts [30, 40) and flushes the late samples into a block of [40, 50).
  await remoteWrite(prometheus.url, series(halfMinutes(44, 46)));
  for (let i = 0; i < 300 && !(await blocks()).some((m) => fromOutOfOrder(m) && m.maxTime === at(50)); i++) await sleep(100);
  // The sidecar's next heartbeats load it.
  await sleep(1_000);
}, 120_000);

afterAll(async () => {
  await querier?.stop();
  await sidecar?.stop();
  await prometheus?.stop();
  await dir?.cleanup();
});

describe('a sidecar next to a Prometheus taking samples out of order', () => {
  it('has an out-of-order block ending after the in-order blocks', async () => {
    const metas = await blocks();
    expect(metas.filter(fromOutOfOrder).map((m) => [m.minTime, m.maxTime])).toEqual([[at(40), at(50)]]);
    expect(Math.max(...metas.filter((m) => !fromOutOfOrder(m)).map((m) => m.maxTime))).toBe(at(40));
  });

  it('answers as Prometheus, across its in-order blocks, its out-of-order block and its head', async () => {
    const ranges = [
      { start: String(at(0) / 1000), end: String(at(47) / 1000), step: '30' },
      { start: String(at(38) / 1000), end: String(at(46) / 1000), step: '15' },
    ];
    for (const q of ['requests_total', 'count_over_time(requests_total[1m])', 'rate(requests_total[2m])', 'sum(requests_total)']) {
      for (const params of ranges) {
        const [got, want] = await Promise.all([query(`http://${querier.httpAddress}`, 'query_range', { query: q, ...params }), query(prometheus.url, 'query_range', { query: q, ...params })]);
        expect(want.data.result.length, q).toBeGreaterThan(0);
        expectSameAnswer(got, want, `${q} step ${params.step}`, ['replica', 'cluster']);
      }
    }
  });
});
