// Thanos Receive as a hashring, end to end: three `strata receive` share the series of a Prometheus 2.42
// that remote-writes to one of them, each series kept on two of them (ketama, replication factor 2).
// A querier over the three, deduplicating on their `receive_replica` label, answers range queries as
// that Prometheus answers them; it still does across a receiver stopped and started again while the
// writes go on (a quorum of one copy of two), and across a change of the hashring file.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Querier } from '@strata/querier';
import { start as startReceiver, type ReceiveConfig, type Receiver } from '@strata/receive';
import { nopLogger } from '@strata/runtime';
import { GrpcStatus, StoreClient } from '@strata/storeapi';
import { Labels } from '@strata/tsdb';
import { counterHistogram } from '@strata/testing/histograms';
import { distinctPorts, sleep, tempDir } from '@strata/testing/process';
import { snappyLiterals, writeRequest, type WrittenSeries } from '@strata/testing/remotewrite';
import type { PrometheusHandle } from '@strata/testing/prometheus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectSameAnswers as expectSameAnswersAs, startWritingPrometheus, until } from './compare.js';

type Vector = { metric: Record<string, string>; value: [number, string] }[];

let dir: { path: string; cleanup: () => Promise<void> };
let hashringFile: string;
const configs: ReceiveConfig[] = [];
const receivers: (Receiver | undefined)[] = [];
let prometheus: PrometheusHandle;
let querier: Querier;
let firstMs = 0;

const expectSameAnswers = () => expectSameAnswersAs(`http://${querier.httpAddress}`, prometheus.url, firstMs, ['receive_replica', 'tenant_id']);

async function instant(query: string, params: Record<string, string> = {}): Promise<Vector> {
  const qs = new URLSearchParams({ query, time: String((Date.now() - 3_000) / 1000), ...params });
  const body = (await (await fetch(`http://${querier.httpAddress}/api/v1/query?${qs}`)).json()) as { status: string; data: { result: Vector } };
  expect(body.status, JSON.stringify(body)).toBe('success');
  return body.data.result;
}

/** How many series each receiver (by its receive_replica label) holds samples of after `sinceMs`. */
async function seriesWrittenSince(sinceMs: number): Promise<Record<string, number>> {
  const now = Date.now();
  const qs = new URLSearchParams({ query: `{__name__=~".+"}[${Math.floor((now - sinceMs) / 1000)}s]`, time: String(now / 1000), dedup: 'false' });
  const body = (await (await fetch(`http://${querier.httpAddress}/api/v1/query?${qs}`)).json()) as { data: { result: { metric: Record<string, string> }[] } };
  const out: Record<string, number> = {};
  for (const s of body.data.result) out[s.metric.receive_replica as string] = (out[s.metric.receive_replica as string] ?? 0) + 1;
  return out;
}

async function metric(r: Receiver, name: string): Promise<number> {
  const text = await (await fetch(`http://${r.httpAddress}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

const hashring = (endpoints: readonly string[]) => JSON.stringify([{ hashring: 'default', endpoints }]);

beforeAll(async () => {
  dir = await tempDir('strata-receive-hashring-');
  // The receivers' gRPC addresses are in the hashring before any starts: picked apart, then bound.
  const port = distinctPorts();
  const grpc = [`127.0.0.1:${await port()}`, `127.0.0.1:${await port()}`, `127.0.0.1:${await port()}`];
  hashringFile = join(dir.path, 'hashrings.json');
  await writeFile(hashringFile, hashring(grpc));
  for (const [i, address] of grpc.entries()) {
    configs.push({
      httpAddress: '127.0.0.1:0',
      grpcAddress: address,
      remoteWriteAddress: `127.0.0.1:${await port()}`,
      tsdbPath: join(dir.path, `receive-${i}`),
      blockDurationMs: 10_000,
      retentionMs: 0,
      externalLabels: Labels.from({ receive_replica: String(i) }),
      tenantHeader: 'THANOS-TENANT',
      defaultTenant: 'default-tenant',
      tenantLabelName: 'tenant_id',
      hashrings: { file: hashringFile, refreshIntervalMs: 60_000 },
      hashringsAlgorithm: 'ketama',
      localEndpoint: address,
      replicationFactor: 2,
      forwardTimeoutMs: 2_000,
      compactionIntervalMs: 500,
      maxExemplars: 1000,
      logger: nopLogger,
    });
  }
  for (const c of configs) receivers.push(await startReceiver(c));
  ({ prometheus, querier, firstMs } = await startWritingPrometheus(join(dir.path, 'prometheus'), configs[0]?.remoteWriteAddress as string, grpc, ['receive_replica']));
}, 180_000);

afterAll(async () => {
  await querier?.stop();
  await prometheus?.stop();
  for (const r of receivers) await r?.stop();
  await dir?.cleanup();
});

describe('strata receive in a hashring', () => {
  it('answers, through a querier deduplicating the copies, as the Prometheus writing to one receiver', async () => {
    await expectSameAnswers();
  });

  it('keeps each series on exactly two receivers, and no receiver holds them all', async () => {
    const all = await instant('count({__name__=~".+"})');
    const total = Number(all[0]?.value[1]);
    expect(total).toBeGreaterThan(100);
    const perReceiver = await instant('count by (receive_replica) ({__name__=~".+"})', { dedup: 'false' });
    const counts = perReceiver.map((r) => Number(r.value[1]));
    expect(counts).toHaveLength(3);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(2 * total);
    for (const n of counts) expect(n).toBeLessThan(total);
    // Every forward so far succeeded: the receiver Prometheus writes to counted them.
    expect(await metric(receivers[0] as Receiver, 'thanos_receive_forward_requests_total{result="success"}')).toBeGreaterThan(0);
    expect(await metric(receivers[0] as Receiver, 'thanos_receive_hashring_nodes{name="default"}')).toBe(3);
  });

  it('forwards native histograms and exemplars as they came: each series on two receivers, read back whole', async () => {
    // Before the time the instant queries are asked at (3 s ago), within the 10 s blocks' head window.
    const t = Date.now() - 3_500;
    const series: WrittenSeries[] = Array.from({ length: 20 }, (_, i) => ({
      labels: { __name__: 'forwarded_histogram', i: String(i) },
      histograms: [{ t, h: counterHistogram(i + 40) }],
    }));
    // Exemplars in TimeSeries of their own, as Prometheus' queue sends them.
    const exemplars = series.map((s, i) => ({ labels: s.labels, exemplars: [{ t, v: i, labels: { trace_id: `t${i}` } }] }));
    const res = await fetch(`http://${configs[0]?.remoteWriteAddress}/api/v1/receive`, {
      method: 'POST',
      headers: { 'Content-Encoding': 'snappy', 'Content-Type': 'application/x-protobuf', 'X-Prometheus-Remote-Write-Version': '0.1.0' },
      body: snappyLiterals(writeRequest([...series, ...exemplars])),
    });
    expect(res.status).toBe(200);
    const copies = await instant('count by (receive_replica) (forwarded_histogram)', { dedup: 'false' });
    expect(copies.reduce((n, r) => n + Number(r.value[1]), 0)).toBe(40);
    const counts = await instant('histogram_count(forwarded_histogram)');
    expect(counts.map((r) => [r.metric.i, Number(r.value[1])]).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual(series.map((_, i) => [String(i), counterHistogram(i + 40).count]));
    const body = (await (await fetch(`http://${querier.httpAddress}/api/v1/query_exemplars?query=forwarded_histogram`)).json()) as { data: { seriesLabels: Record<string, string>; exemplars: { labels: Record<string, string> }[] }[] };
    expect(body.data.map((d) => [d.seriesLabels.i, d.exemplars.map((e) => e.labels.trace_id)]).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual(series.map((_, i) => [String(i), [`t${i}`]]));
  });

  it('refuses a forwarded copy beyond the replication factor', async () => {
    const client = new StoreClient(configs[1]?.grpcAddress as string);
    try {
      await expect(client.remoteWrite({ tenant: 'default-tenant', replica: 3, timeseries: [] })).rejects.toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT });
    } finally {
      client.close();
    }
  });

  it('loses nothing while a receiver is down: its series have their other copy, and it is written again once back', async () => {
    const stopped = receivers[2] as Receiver;
    await stopped.stop();
    receivers[2] = undefined;
    await sleep(8_000);
    // The writes went on at a quorum of one copy; the copies for the stopped receiver failed.
    expect(await metric(receivers[0] as Receiver, 'thanos_receive_forward_requests_total{result="error"}')).toBeGreaterThan(0);
    await expectSameAnswers();
    receivers[2] = await startReceiver(configs[2] as ReceiveConfig);
    // The querier finds it again at its next Info round; the copies from now on reach it.
    await until('the restarted receiver holding new samples', async () => ((await seriesWrittenSince(Date.now() - 2_000))['2'] ?? 0) > 0, 30_000);
    await sleep(5_000);
    await expectSameAnswers();
  });

  it('follows a change of the hashring file: the receiver left out gets no new series', async () => {
    const before = await metric(receivers[0] as Receiver, 'thanos_receive_hashrings_file_changes_total');
    await writeFile(hashringFile, hashring([configs[0]?.grpcAddress as string, configs[1]?.grpcAddress as string]));
    await until('every receiver reading the new hashring', async () => {
      for (const r of receivers) if ((await metric(r as Receiver, 'thanos_receive_hashrings_file_changes_total')) <= before) return false;
      return true;
    });
    const since = Date.now() + 1_000;
    await sleep(6_000);
    // With two receivers and two copies, each holds every series from now on; the third none.
    const byReplica = await seriesWrittenSince(since);
    expect(byReplica['2']).toBeUndefined();
    expect(byReplica['0']).toBeGreaterThan(100);
    expect(byReplica['0']).toBe(byReplica['1']);
    expect(await metric(receivers[0] as Receiver, 'thanos_receive_hashring_nodes{name="default"}')).toBe(2);
    await expectSameAnswers();
  });
});
