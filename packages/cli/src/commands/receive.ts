import type { Command } from 'commander';
import { Relabeler } from '@strata/block';
import { start } from '@strata/receive';
import { Labels } from '@strata/tsdb';
import { parseLabelFlags } from '../flags.js';
import { localTsdbFromFlags, withLocalTsdbFlags } from './localtsdb-flags.js';
import { parseDuration } from '../flags.js';
import {
  choiceFlag,
  clientTlsFromFlags,
  collect,
  intFlag,
  loggerFromFlags,
  runUntilSignal,
  serverTlsFromFlags,
  servingFromFlags,
  startTracingFor,
  tracingConfigFromFlags,
  withGrpcClientTlsFlags,
  withServerTlsFlags,
  withServingFlags,
  yamlFlag,
} from './component.js';

/** `strata receive`: Thanos' receiver, with `thanos receive`'s flags. */
export function register(program: Command): void {
  const cmd = program
    .command('receive')
    .description("Accept Prometheus' remote write into a TSDB per tenant, serve it over the StoreAPI and ship its blocks to the bucket; with a hashring, share the series with the other receivers and keep copies of them")
    .option('--remote-write.address <host:port>', 'listen address of the remote-write endpoint (POST /api/v1/receive)', '0.0.0.0:19291')
    .option('--tsdb.path <dir>', 'data directory of the TSDBs, one per tenant', './data')
    .option('--tsdb.max-exemplars <n>', "exemplars kept per tenant, the oldest evicted by the next, served over Thanos' Exemplars API (0: exemplars are dropped)", '0')
    .option('--tsdb.too-far-in-future.time-window <duration>', "samples later than this past the receiver's clock are refused as out of bounds (a client's skewed clock would otherwise move the head past every other sample); 0s: off", '0s')
    .option('--tsdb.out-of-order.time-window <duration>', "samples (floats and native histograms) up to this long before a tenant's latest sample are taken even when out of order, and flushed into blocks of their own that overlap others (which the compactor merges); 0s: refused", '0s')
    .option('--tsdb.out-of-order.cap-max <n>', 'samples per out-of-order chunk in the head; 0 or less: 32', '0')
    .option('--label <name="value">', 'external label of every tenant\'s series and blocks (repeatable), e.g. replica="A"', collect, [])
    .option('--receive.tenant-header <name>', 'HTTP header naming the tenant of a write request', 'THANOS-TENANT')
    .option('--receive.tenant-certificate-field <field>', "take the tenant from this field of the client's TLS certificate (organization, organizationalUnit or commonName; needs --remote-write.server-tls-client-ca), the header ignored")
    .option('--receive.default-tenant-id <id>', 'the tenant of write requests without the header', 'default-tenant')
    .option('--receive.tenant-label-name <name>', 'label naming the tenant in its series and blocks', 'tenant_id')
    .option('--receive.split-tenant-label-name <name>', "label whose value, where a series has it, is the series' tenant (over the tenant header); taken off the series", '')
    .option('--receive.hashrings <json>', 'the hashrings (JSON, as the file holds them)')
    .option('--receive.hashrings-file <path>', 'file of the hashrings (JSON), watched for changes; without one: a single receiver')
    .option('--receive.hashrings-algorithm <name>', 'how series are spread over a hashring that names no algorithm: hashmod or ketama', 'hashmod')
    .option('--receive.hashrings-file-refresh-interval <duration>', 'how often the hashrings file is read again besides its changes', '5m')
    .option('--receive.replication-factor <n>', 'copies of each series, on as many receivers of its hashring', '1')
    .option('--receive.local-endpoint <address>', "this receiver's address in the hashring (its --grpc-address as the others reach it); without it, with a hashring: a router that stores nothing")
    .option('--receive.limits-config <yaml>', 'write limits and gates (YAML, Thanos\' format): request size, series and samples per tenant (413), head series per tenant from meta-monitoring (429), max concurrency')
    .option('--receive.limits-config-file <path>', 'file of --receive.limits-config, read again when it changes')
    .option('--receive.limits-config-reload-timer <duration>', 'how often the limits file is checked for changes', '1s')
    .option('--receive.relabel-config <yaml>', 'relabel rules (YAML) applied to the series of each remote write before they are stored or forwarded')
    .option('--receive.relabel-config-file <path>', 'file of --receive.relabel-config')
    .option('--receive.replica-header <name>', 'HTTP header of a write another receiver replicated: its copy number', 'THANOS-REPLICA')
    .option('--receive.grpc-compression <name>', 'compression of the writes forwarded to other receivers: snappy or none', 'snappy')
    .option('--receive-forward-timeout <duration>', 'deadline of each write forwarded to another receiver', '5s')
    .option('--receive-forward-max-backoff <duration>', 'longest pause of the writes to a receiver that was unavailable', '5s')
    .option('--grpc-address <host:port>', 'listen address of the StoreAPI', '0.0.0.0:10901')
    .option('--http-address <host:port>', 'listen address of /metrics and probes', '0.0.0.0:10902');
  withGrpcClientTlsFlags(cmd, 'remote-write.client', 'the other receivers');
  withServerTlsFlags(cmd, 'remote-write.server', 'the remote-write endpoint');
  withServingFlags(withLocalTsdbFlags(cmd, { what: 'receiver', retention: '15d' }), { grpc: true, requestLogging: true }).action(async (o: Record<string, unknown>) => {
    const inline = o['receive.hashrings'] as string | undefined;
    const file = o['receive.hashringsFile'] as string | undefined;
    if (inline !== undefined && file !== undefined) throw new Error('give only one of --receive.hashrings and --receive.hashrings-file');
    const localEndpoint = o['receive.localEndpoint'] as string | undefined;
    const forwardTls = await clientTlsFromFlags(o, 'remote-write.client');
    const remoteWriteTls = await serverTlsFromFlags(o, 'remote-write.server');
    const certField = o['receive.tenantCertificateField'] as string | undefined;
    if (certField !== undefined) {
      choiceFlag(certField, '--receive.tenant-certificate-field', ['organization', 'organizationalUnit', 'commonName']);
      if (remoteWriteTls?.clientCA === undefined) throw new Error('--receive.tenant-certificate-field needs --remote-write.server-tls-client-ca: the tenant is read from the certificate clients present');
    }
    const relabelText = await yamlFlag(o, 'receive.relabel-config');
    const limitsInline = o['receive.limitsConfig'] as string | undefined;
    const limitsFile = o['receive.limitsConfigFile'] as string | undefined;
    if (limitsInline !== undefined && limitsFile !== undefined) throw new Error('give only one of --receive.limits-config and --receive.limits-config-file');
    const logger = loggerFromFlags(o);
    const tracing = startTracingFor(await tracingConfigFromFlags(o), 'receive', logger);
    const serving = await servingFromFlags(o, logger);
    const grpcTls = await serverTlsFromFlags(o);
    const receiver = await start({
      remoteWriteAddress: String(o['remoteWrite.address']),
      ...(remoteWriteTls !== undefined ? { remoteWriteTls } : {}),
      ...(certField !== undefined ? { tenantCertificateField: certField as 'organization' | 'organizationalUnit' | 'commonName' } : {}),
      tsdbPath: String(o['tsdb.path']),
      tooFarInFutureMs: parseDuration(String(o['tsdb.tooFarInFuture.timeWindow'])),
      // As Thanos: 0 or less keeps none.
      maxExemplars: Math.max(0, intFlag(o['tsdb.maxExemplars'], '--tsdb.max-exemplars', Number.MIN_SAFE_INTEGER)),
      outOfOrderTimeWindowMs: parseDuration(String(o['tsdb.outOfOrder.timeWindow'])),
      // As Thanos: 0 or less is Prometheus' default.
      outOfOrderCapMax: Math.max(0, intFlag(o['tsdb.outOfOrder.capMax'], '--tsdb.out-of-order.cap-max', Number.MIN_SAFE_INTEGER)) || 32,
      ...(await localTsdbFromFlags(o)),
      externalLabels: Labels.from(parseLabelFlags(o.label as string[])),
      tenantHeader: String(o['receive.tenantHeader']),
      defaultTenant: String(o['receive.defaultTenantId']),
      tenantLabelName: String(o['receive.tenantLabelName']),
      splitTenantLabelName: String(o['receive.splitTenantLabelName']),
      replicaHeader: String(o['receive.replicaHeader']),
      ...(relabelText !== undefined ? { relabel: Relabeler.fromYaml(relabelText, '--receive.relabel-config') } : {}),
      ...(limitsInline !== undefined ? { limits: { content: limitsInline } } : {}),
      ...(limitsFile !== undefined ? { limits: { file: limitsFile, reloadIntervalMs: parseDuration(String(o['receive.limitsConfigReloadTimer'])) } } : {}),
      ...(inline !== undefined ? { hashrings: { content: inline } } : {}),
      ...(file !== undefined ? { hashrings: { file, refreshIntervalMs: parseDuration(String(o['receive.hashringsFileRefreshInterval'])) } } : {}),
      hashringsAlgorithm: choiceFlag(o['receive.hashringsAlgorithm'], '--receive.hashrings-algorithm', ['hashmod', 'ketama']) as 'hashmod' | 'ketama',
      ...(localEndpoint !== undefined ? { localEndpoint } : {}),
      replicationFactor: intFlag(o['receive.replicationFactor'], '--receive.replication-factor'),
      forwardTimeoutMs: parseDuration(String(o.receiveForwardTimeout)),
      forwardMaxBackoffMs: parseDuration(String(o.receiveForwardMaxBackoff)),
      forwardCompression: choiceFlag(o['receive.grpcCompression'], '--receive.grpc-compression', ['snappy', 'none']) as 'snappy' | 'none',
      ...(forwardTls !== undefined ? { forwardTls } : {}),
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
