// Thanos Receive as a single node, end to end: a Prometheus 2.42 scraping itself every second
// remote-writes to `strata receive`; a querier over the receiver's StoreAPI answers range queries as that
// Prometheus answers them over the same time, across the blocks the receiver cut and its head. A second
// tenant is kept apart, a restart of the receiver loses nothing (Prometheus resends what it could not
// write, the receiver replays its write-ahead log), and the blocks are shipped to an S3-protocol server
// with the tenant's label.
import { join } from 'node:path';
import { getBuffer, newBucket, parseBucketConfig, type Bucket } from '@strata/objstore';
import type { Querier } from '@strata/querier';
import { start as startReceiver, type ReceiveConfig, type Receiver } from '@strata/receive';
import { nopLogger } from '@strata/runtime';
import { Labels } from '@strata/tsdb';
import { freePort, sleep, tempDir } from '@strata/testing/process';
import type { PrometheusHandle } from '@strata/testing/prometheus';
import { snappyLiterals, writeRequest } from '@strata/testing/remotewrite';
import { startS3rver, type S3Server } from '@strata/testing/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectSameAnswers as expectSameAnswersAs, startWritingPrometheus, until } from './compare.js';

let dir: { path: string; cleanup: () => Promise<void> };
let s3: S3Server;
let bucket: Bucket;
let receiver: Receiver;
let config: ReceiveConfig;
let prometheus: PrometheusHandle;
let querier: Querier;
let firstMs = 0;

const expectSameAnswers = () => expectSameAnswersAs(`http://${querier.httpAddress}`, prometheus.url, firstMs, ['receive', 'tenant_id']);

beforeAll(async () => {
  dir = await tempDir('strata-receive-');
  s3 = await startS3rver();
  bucket = newBucket(parseBucketConfig(s3.configYaml()));
  config = {
    httpAddress: '127.0.0.1:0',
    // Fixed, so that a restarted receiver is where Prometheus and the querier look for it.
    grpcAddress: `127.0.0.1:${await freePort()}`,
    remoteWriteAddress: `127.0.0.1:${await freePort()}`,
    tsdbPath: join(dir.path, 'receive'),
    // Blocks of 10 seconds, cut and shipped within seconds, so that answers span blocks and head.
    blockDurationMs: 10_000,
    retentionMs: 0,
    externalLabels: Labels.from({ receive: 'r0' }),
    tenantHeader: 'THANOS-TENANT',
    defaultTenant: 'default-tenant',
    tenantLabelName: 'tenant_id',
    bucket,
    shipper: { syncIntervalMs: 500 },
    compactionIntervalMs: 500,
    logger: nopLogger,
  };
  receiver = await startReceiver(config);
  ({ prometheus, querier, firstMs } = await startWritingPrometheus(join(dir.path, 'prometheus'), config.remoteWriteAddress, [config.grpcAddress]));
}, 180_000);

afterAll(async () => {
  await querier?.stop();
  await prometheus?.stop();
  await receiver?.stop();
  await bucket?.close();
  await s3?.stop();
  await dir?.cleanup();
});

describe('strata receive', () => {
  it('answers, through a querier, as the Prometheus writing to it', async () => {
    await expectSameAnswers();
  });

  it('ships its blocks with the tenant label, Thanos’ receive as their source', async () => {
    const blocks: string[] = [];
    await until('a block in the bucket', async () => {
      blocks.length = 0;
      for await (const e of bucket.list('')) if (/^[0-9A-Z]{26}\/$/.test(e.name)) blocks.push(e.name);
      return blocks.length > 0;
    });
    const meta = JSON.parse((await getBuffer(bucket, `${blocks[0]}meta.json`)).toString()) as { thanos: Record<string, unknown> };
    expect(meta.thanos).toMatchObject({ labels: { receive: 'r0', tenant_id: 'default-tenant' }, source: 'receive' });
  });

  it('keeps tenants apart by the THANOS-TENANT header', async () => {
    const now = Date.now();
    const res = await fetch(`http://${config.remoteWriteAddress}/api/v1/receive`, {
      method: 'POST',
      headers: { 'Content-Encoding': 'snappy', 'Content-Type': 'application/x-protobuf', 'X-Prometheus-Remote-Write-Version': '0.1.0', 'THANOS-TENANT': 'team-b' },
      body: snappyLiterals(writeRequest([{ labels: { __name__: 'team_b_metric', job: 'b' }, samples: [{ t: now - 1_000, v: 7 }] }])),
    });
    expect(res.status).toBe(200);
    // The querier picks endpoints by the label sets their Info gave; the new tenant's is there from its next Info round (5 seconds).
    const teamB = async () =>
      ((await (await fetch(`http://${querier.httpAddress}/api/v1/query?query=${encodeURIComponent('{__name__=~"team_b_metric|up", tenant_id="team-b"}')}`)).json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }).data.result;
    await until('the querier reading team-b', async () => (await teamB()).length > 0);
    expect((await teamB()).map((r) => [r.metric, r.value[1]])).toEqual([[{ __name__: 'team_b_metric', job: 'b', receive: 'r0', tenant_id: 'team-b' }, '7']]);
    const count = (await (await fetch(`http://${querier.httpAddress}/api/v1/query?query=${encodeURIComponent('count by (tenant_id) ({__name__=~"up|team_b_metric"})')}`)).json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    expect(count.data.result.map((r) => [r.metric.tenant_id, r.value[1]]).sort()).toEqual([
      ['default-tenant', '1'],
      ['team-b', '1'],
    ]);
  });

  it('loses nothing across a restart: Prometheus resends, the write-ahead log is read back', async () => {
    await receiver.stop();
    await sleep(3_000);
    receiver = await startReceiver(config);
    // Prometheus retries the writes the receiver missed; the querier finds the receiver again at its next Info round.
    await sleep(12_000);
    await expectSameAnswers();
  });
});
