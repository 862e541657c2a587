import type { Command } from 'commander';
import { start } from '@strata/receive';
import { Labels } from '@strata/tsdb';
import { parseDuration, parseLabelFlags } from '../flags.js';
import { bucketFromFlags, withObjstoreFlags } from './objstore-flags.js';
import { hashFuncFlag, intFlag, loggerFromFlags, runUntilSignal, serverTlsFromFlags, servingFromFlags, startTracingFor, tracingConfigFromFlags, withServingFlags } from './component.js';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** `strata receive`: Thanos' receiver as a single node, with `thanos receive`'s flags. */
export function register(program: Command): void {
  const cmd = program
    .command('receive')
    .description("Accept Prometheus' remote write into a TSDB per tenant, serve it over the StoreAPI and ship its blocks to the bucket (a single receiver: no hashring, no replication)")
    .option('--remote-write.address <host:port>', 'listen address of the remote-write endpoint (POST /api/v1/receive)', '0.0.0.0:19291')
    .option('--tsdb.path <dir>', 'data directory of the TSDBs, one per tenant', './data')
    .option('--tsdb.retention <duration>', 'how long blocks are kept on local disk (0: for ever)', '15d')
    .option('--tsdb.block-duration <duration>', 'span of the blocks cut (and shipped)', '2h')
    .option('--tsdb.no-lockfile', "Thanos' flag, accepted: the TSDB takes no lock file", false)
    .option('--tsdb.wal-compression', "Thanos' flag, accepted: the write-ahead log is not compressed", false)
    .option('--label <name="value">', 'external label of every tenant\'s series and blocks (repeatable), e.g. replica="A"', collect, [])
    .option('--receive.tenant-header <name>', 'HTTP header naming the tenant of a write request', 'THANOS-TENANT')
    .option('--receive.default-tenant-id <id>', 'the tenant of write requests without the header', 'default-tenant')
    .option('--receive.tenant-label-name <name>', 'label naming the tenant in its series and blocks', 'tenant_id')
    .option('--receive.hashrings <json>', 'not supported: a single receiver is what Strata offers')
    .option('--receive.hashrings-file <path>', 'not supported: a single receiver is what Strata offers')
    .option('--receive.hashrings-algorithm <name>', 'not supported: a single receiver is what Strata offers')
    .option('--receive.replication-factor <n>', 'copies of each write: only 1 (a single receiver)', '1')
    .option('--receive.local-endpoint <address>', "Thanos' flag, accepted and unused: a single receiver has no peers")
    .option('--shipper.allow-out-of-order-uploads', 'a block that fails to upload does not hold back newer ones (it is retried on the next sync)', false)
    .option('--hash-func <func>', 'SHA256: record each uploaded file\'s SHA256 in meta.json ("": none, as Thanos)', '')
    .option('--shipper.upload-concurrency <n>', 'files of one block uploaded at once (0: one at a time, as Thanos)', '0')
    .option('--grpc-address <host:port>', 'listen address of the StoreAPI', '0.0.0.0:10901')
    .option('--http-address <host:port>', 'listen address of /metrics and probes', '0.0.0.0:10902');
  withServingFlags(withObjstoreFlags(cmd, 'objstore', "the bucket the receiver's blocks are shipped to (none: kept locally)"), { grpc: true, requestLogging: true }).action(async (o: Record<string, unknown>) => {
    const single = 'a single receiver is what Strata offers: no hashring, no replication';
    for (const flag of ['hashrings', 'hashringsFile', 'hashringsAlgorithm'] as const) if (o[`receive.${flag}`] !== undefined) throw new Error(`--receive.${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is not supported: ${single}`);
    if (intFlag(o['receive.replicationFactor'], '--receive.replication-factor', 1) !== 1) throw new Error(`--receive.replication-factor other than 1 is not supported: ${single}`);
    const logger = loggerFromFlags(o);
    const tracing = startTracingFor(await tracingConfigFromFlags(o), 'receive', logger);
    const serving = await servingFromFlags(o, logger);
    const grpcTls = await serverTlsFromFlags(o);
    const bucket = await bucketFromFlags(o, 'objstore');
    const receiver = await start({
      remoteWriteAddress: String(o['remoteWrite.address']),
      tsdbPath: String(o['tsdb.path']),
      retentionMs: parseDuration(String(o['tsdb.retention'])),
      blockDurationMs: parseDuration(String(o['tsdb.blockDuration'])),
      externalLabels: Labels.from(parseLabelFlags(o.label as string[])),
      tenantHeader: String(o['receive.tenantHeader']),
      defaultTenant: String(o['receive.defaultTenantId']),
      tenantLabelName: String(o['receive.tenantLabelName']),
      ...(bucket !== undefined ? { bucket } : {}),
      shipper: {
        hashFiles: hashFuncFlag(String(o.hashFunc)),
        allowOutOfOrderUploads: o['shipper.allowOutOfOrderUploads'] === true,
        uploadConcurrency: intFlag(o['shipper.uploadConcurrency'], '--shipper.upload-concurrency', 0),
      },
      httpAddress: String(o.httpAddress),
      grpcAddress: String(o.grpcAddress),
      ...(grpcTls !== undefined ? { grpcTls } : {}),
      ...serving,
      logger,
    });
    logger.info('receiver ready', { grpc: receiver.grpcAddress, http: receiver.httpAddress, remote_write: receiver.remoteWriteAddress });
    await runUntilSignal(logger, async () => {
      await receiver.stop();
      await tracing.stop();
    });
  });
}
