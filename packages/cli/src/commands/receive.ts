import type { Command } from 'commander';
import { start } from '@strata/receive';
import { Labels } from '@strata/tsdb';
import { parseLabelFlags } from '../flags.js';
import { localTsdbFromFlags, withLocalTsdbFlags } from './localtsdb-flags.js';
import { collect, intFlag, loggerFromFlags, runUntilSignal, serverTlsFromFlags, servingFromFlags, startTracingFor, tracingConfigFromFlags, withServingFlags } from './component.js';

/** `strata receive`: Thanos' receiver as a single node, with `thanos receive`'s flags. */
export function register(program: Command): void {
  const cmd = program
    .command('receive')
    .description("Accept Prometheus' remote write into a TSDB per tenant, serve it over the StoreAPI and ship its blocks to the bucket (a single receiver: no hashring, no replication)")
    .option('--remote-write.address <host:port>', 'listen address of the remote-write endpoint (POST /api/v1/receive)', '0.0.0.0:19291')
    .option('--tsdb.path <dir>', 'data directory of the TSDBs, one per tenant', './data')
    .option('--label <name="value">', 'external label of every tenant\'s series and blocks (repeatable), e.g. replica="A"', collect, [])
    .option('--receive.tenant-header <name>', 'HTTP header naming the tenant of a write request', 'THANOS-TENANT')
    .option('--receive.default-tenant-id <id>', 'the tenant of write requests without the header', 'default-tenant')
    .option('--receive.tenant-label-name <name>', 'label naming the tenant in its series and blocks', 'tenant_id')
    .option('--receive.hashrings <json>', 'not supported: a single receiver is what Strata offers')
    .option('--receive.hashrings-file <path>', 'not supported: a single receiver is what Strata offers')
    .option('--receive.hashrings-algorithm <name>', 'not supported: a single receiver is what Strata offers')
    .option('--receive.replication-factor <n>', 'copies of each write: only 1 (a single receiver)', '1')
    .option('--receive.local-endpoint <address>', "Thanos' flag, accepted and unused: a single receiver has no peers")
    .option('--grpc-address <host:port>', 'listen address of the StoreAPI', '0.0.0.0:10901')
    .option('--http-address <host:port>', 'listen address of /metrics and probes', '0.0.0.0:10902');
  withServingFlags(withLocalTsdbFlags(cmd, { what: 'receiver', retention: '15d' }), { grpc: true, requestLogging: true }).action(async (o: Record<string, unknown>) => {
    const single = 'a single receiver is what Strata offers: no hashring, no replication';
    for (const flag of ['hashrings', 'hashringsFile', 'hashringsAlgorithm'] as const) if (o[`receive.${flag}`] !== undefined) throw new Error(`--receive.${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is not supported: ${single}`);
    if (intFlag(o['receive.replicationFactor'], '--receive.replication-factor', 1) !== 1) throw new Error(`--receive.replication-factor other than 1 is not supported: ${single}`);
    const logger = loggerFromFlags(o);
    const tracing = startTracingFor(await tracingConfigFromFlags(o), 'receive', logger);
    const serving = await servingFromFlags(o, logger);
    const grpcTls = await serverTlsFromFlags(o);
    const receiver = await start({
      remoteWriteAddress: String(o['remoteWrite.address']),
      tsdbPath: String(o['tsdb.path']),
      ...(await localTsdbFromFlags(o)),
      externalLabels: Labels.from(parseLabelFlags(o.label as string[])),
      tenantHeader: String(o['receive.tenantHeader']),
      defaultTenant: String(o['receive.defaultTenantId']),
      tenantLabelName: String(o['receive.tenantLabelName']),
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
