/**
 * `strata receive`: Thanos' receiver as a single node (no hashring, replication factor 1). Prometheus'
 * remote write comes in on `--remote-write.address` into a TSDB per tenant (multitsdb.ts), whose series
 * the StoreAPI serves on `--grpc-address` and whose blocks are shipped to the bucket; /metrics and the
 * probes are on `--http-address`. Not ready (and remote write answered 503) until the WALs are replayed.
 */
import type { Bucket } from '@strata/objstore';
import { collectProcessMetrics, grpcServerMetrics, grpcServing, httpServing, parseAddress, Prober, startHttpServer, type Logger, type ServingConfig } from '@strata/runtime';
import { serveStore, type ServerTLS } from '@strata/storeapi';
import type { Labels } from '@strata/tsdb';
import Fastify from 'fastify';
import { type Counter, type Histogram, Registry } from 'prom-client';
import { receiveHandler } from './handler.js';
import { ReceiveMetrics } from './metrics.js';
import { MultiTSDB, type MultiTSDBOptions } from './multitsdb.js';

export interface ReceiveConfig extends ServingConfig {
  httpAddress: string;
  grpcAddress: string;
  grpcTls?: ServerTLS;
  /** --remote-write.address */
  remoteWriteAddress: string;
  /** --tsdb.path */
  tsdbPath: string;
  /** --tsdb.block-duration (2h) */
  blockDurationMs: number;
  /** --tsdb.retention (15d) */
  retentionMs: number;
  /** --label */
  externalLabels: Labels;
  /** --receive.tenant-header (THANOS-TENANT) */
  tenantHeader: string;
  /** --receive.default-tenant-id (default-tenant) */
  defaultTenant: string;
  /** --receive.tenant-label-name (tenant_id) */
  tenantLabelName: string;
  /** Most bytes of a remote-write body (compressed); default 32 MiB. */
  maxRequestBytes?: number;
  /** --objstore.config(-file): where blocks are shipped; none: kept locally. */
  bucket?: Bucket;
  shipper?: MultiTSDBOptions['shipper'];
  /** How often the heads are checked for blocks to cut (Prometheus: every minute). */
  compactionIntervalMs?: number;
  logger: Logger;
}

export interface Receiver {
  readonly httpAddress: string;
  readonly grpcAddress: string;
  readonly remoteWriteAddress: string;
  readonly registry: Registry;
  stop(): Promise<void>;
}

export async function start(cfg: ReceiveConfig): Promise<Receiver> {
  const { logger } = cfg;
  const registry = new Registry();
  collectProcessMetrics(registry);
  const prober = new Prober('receive', registry);
  const http = await startHttpServer({ address: cfg.httpAddress, registry, prober, logger, ...httpServing(cfg) });
  prober.healthy();
  let tsdbs: MultiTSDB | undefined;
  const writer = Fastify({ logger: false, forceCloseConnections: 'idle' });
  const closeAll = async () => {
    await Promise.all([http.close(), writer.close()]);
    await tsdbs?.close();
  };
  // Its requests in the HTTP server's http_requests_total and http_request_duration_seconds, under
  // handler="receive", as Thanos instruments its remote-write handler.
  const requests = registry.getSingleMetric('http_requests_total') as Counter<string>;
  const duration = registry.getSingleMetric('http_request_duration_seconds') as Histogram<string>;
  writer.addHook('onResponse', async (req, reply) => {
    const labels = { handler: 'receive', code: String(reply.statusCode), method: req.method };
    requests.inc(labels);
    duration.observe(labels, reply.elapsedTime / 1000);
  });
  try {
    await writer.register(
      receiveHandler({
        tenantHeader: cfg.tenantHeader,
        defaultTenant: cfg.defaultTenant,
        maxRequestBytes: cfg.maxRequestBytes ?? 32 * 1024 ** 2,
        ready: () => tsdbs !== undefined && prober.isReady(),
        write: (tenant, series) => (tsdbs as MultiTSDB).append(tenant, series),
        metrics: new ReceiveMetrics(registry),
        logger: logger.with({ component: 'receive-handler' }),
      }),
    );
    const { host, port } = parseAddress(cfg.remoteWriteAddress);
    await writer.listen({ host, port });
    tsdbs = await MultiTSDB.open({
      dir: cfg.tsdbPath,
      blockDurationMs: cfg.blockDurationMs,
      retentionMs: cfg.retentionMs,
      externalLabels: cfg.externalLabels,
      tenantLabelName: cfg.tenantLabelName,
      ...(cfg.bucket !== undefined ? { bucket: cfg.bucket } : {}),
      ...(cfg.shipper !== undefined ? { shipper: cfg.shipper } : {}),
      registry,
      logger,
    });
    if (cfg.bucket === undefined) logger.info('no supported bucket was configured, uploads will be disabled');
  } catch (err) {
    await closeAll();
    throw err;
  }
  const opened = tsdbs;
  let grpc;
  try {
    grpc = await serveStore(opened.store, { address: cfg.grpcAddress, ...grpcServing(cfg, grpcServerMetrics(registry), logger), ...(cfg.grpcTls !== undefined ? { tls: cfg.grpcTls } : {}) });
  } catch (err) {
    await closeAll();
    throw err;
  }
  const compaction = setInterval(() => void opened.compact(), cfg.compactionIntervalMs ?? 60_000);
  compaction.unref();
  prober.ready();
  const writeAddr = writer.server.address();
  const served = grpc;
  return {
    httpAddress: http.address,
    grpcAddress: served.address,
    remoteWriteAddress: typeof writeAddr === 'object' && writeAddr !== null ? `${host(cfg.remoteWriteAddress)}:${writeAddr.port}` : cfg.remoteWriteAddress,
    registry,
    async stop() {
      prober.notReady('stopping');
      clearInterval(compaction);
      await served.stop(cfg.grpcGracePeriodMs);
      await closeAll();
    },
  };
}

const host = (address: string) => parseAddress(address).host;
