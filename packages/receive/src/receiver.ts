/**
 * `strata receive`: Thanos' receiver. Prometheus' remote write comes in on `--remote-write.address` into a
 * TSDB per tenant (multitsdb.ts), whose series the StoreAPI serves on `--grpc-address` and whose blocks
 * are shipped to the bucket; /metrics and the probes are on `--http-address`. Not ready (and remote
 * write answered 503) until the WALs are replayed and, with a hashring, its configuration is loaded.
 *
 * As Thanos' determineMode: with a hashring configuration and `--receive.local-endpoint` the receiver
 * routes (router.ts) and ingests what the hashring gives it; with a hashring and no local endpoint it
 * only routes; without a hashring it ingests everything itself. Other receivers' forwarded writes come
 * in over the WriteableStore API on `--grpc-address`.
 */
import type * as https from 'node:https';
import type { Relabeler } from '@strata/block';
import type { Bucket } from '@strata/objstore';
import { collectProcessMetrics, grpcServerMetrics, grpcServing, httpServing, parseAddress, Prober, startHttpServer, type Logger, type ServingConfig } from '@strata/runtime';
import { type ClientTLS, type Compression, serveStore, type ServerTLS, StoreError } from '@strata/storeapi';
import type { Labels } from '@strata/tsdb';
import Fastify from 'fastify';
import { type Counter, type Histogram, Registry } from 'prom-client';
import { receiveHandler, type TenantCertificateField, validTenant } from './handler.js';
import type { HashringAlgorithm } from './hashring.js';
import type { HashringSource } from './hashringfile.js';
import { WriteLimiter } from './limits.js';
import { ReceiveMetrics } from './metrics.js';
import { MultiTSDB, type MultiTSDBOptions } from './multitsdb.js';
import { type Routing, type RoutingConfig, startRouting } from './routing.js';
import { splitTenantWrite } from './splittenant.js';
import { GRPC_STATUS } from './writeerror.js';
import { decodeTimeSeries, SeriesLabelsCache } from './writerequest.js';
import { localWriter, type Write, writeRequest } from './writer.js';

export interface ReceiveConfig extends ServingConfig {
  httpAddress: string;
  grpcAddress: string;
  grpcTls?: ServerTLS;
  /** --remote-write.address */
  remoteWriteAddress: string;
  /** --remote-write.server-tls-*: HTTPS on the remote-write endpoint (client certificates required with a client CA). */
  remoteWriteTls?: ServerTLS;
  /** --tsdb.path */
  tsdbPath: string;
  /** --tsdb.block-duration (2h) */
  blockDurationMs: number;
  /** --tsdb.retention (15d) */
  retentionMs: number;
  /** --tsdb.too-far-in-future.time-window: samples later than this past the receiver's clock are refused as out of bounds (0: off, as Thanos' default). */
  tooFarInFutureMs?: number;
  /** --tsdb.max-exemplars: exemplars kept per tenant, served over Thanos' Exemplars API (0: none, as Thanos' default). */
  maxExemplars?: number;
  /** --tsdb.out-of-order.time-window: samples (floats and native histograms) this long before a tenant's latest are taken out of order (0: off, as Thanos' default). */
  outOfOrderTimeWindowMs?: number;
  /** --tsdb.out-of-order.cap-max: samples per out-of-order chunk in the head (32). */
  outOfOrderCapMax?: number;
  /** --label */
  externalLabels: Labels;
  /** --receive.tenant-header (THANOS-TENANT) */
  tenantHeader: string;
  /** --receive.default-tenant-id (default-tenant) */
  defaultTenant: string;
  /** --receive.tenant-label-name (tenant_id) */
  tenantLabelName: string;
  /** --receive.tenant-certificate-field (with --remote-write.server-tls-client-ca) */
  tenantCertificateField?: TenantCertificateField;
  /** --receive.split-tenant-label-name: the label whose value, where a series has it, is the series' tenant. */
  splitTenantLabelName?: string;
  /** --receive.replica-header (THANOS-REPLICA) */
  replicaHeader?: string;
  /** --receive.hashrings or --receive.hashrings-file (with --receive.hashrings-file-refresh-interval); none: a single receiver. */
  hashrings?: HashringSource;
  /** --receive.hashrings-algorithm (hashmod), for hashrings that name none. */
  hashringsAlgorithm?: HashringAlgorithm;
  /** --receive.local-endpoint: this receiver's address in the hashring. */
  localEndpoint?: string;
  /** --receive.replication-factor (1) */
  replicationFactor?: number;
  /** --receive-forward-timeout (5s) */
  forwardTimeoutMs?: number;
  /** --receive-forward-max-backoff (5s) */
  forwardMaxBackoffMs?: number;
  /** --remote-write.client-tls-*: how other receivers are called. */
  forwardTls?: ClientTLS;
  /** --receive.grpc-compression */
  forwardCompression?: Compression;
  /** --receive.limits-config, or --receive.limits-config-file followed every --receive.limits-config-reload-timer. */
  limits?: { content: string } | { file: string; reloadIntervalMs: number };
  /** --receive.relabel-config(-file) */
  relabel?: Relabeler;
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
  const writer = Fastify({ logger: false, forceCloseConnections: 'idle', ...(cfg.remoteWriteTls !== undefined ? { https: httpsOptions(cfg.remoteWriteTls) } : {}) });
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
  const handlerLogger = logger.with({ component: 'receive-handler' });
  const labelsCache = new SeriesLabelsCache();
  const writeLocal = localWriter((tenant, series) => (tsdbs as MultiTSDB).append(tenant, series), handlerLogger);
  let write: Write = (tenant, series) => writeLocal(tenant, series);
  let routing: Routing | undefined;
  let limiter: WriteLimiter | undefined;
  let started = false;
  const stopAll = async () => {
    routing?.stop();
    limiter?.stop();
    await closeAll();
  };
  const ready = () => tsdbs !== undefined && prober.isReady();
  /**
   * Ready from the first hashring loaded, if that is after the start. A new hashring, as Thanos', first
   * has the heads cut into blocks (writes answered 503 meanwhile), so that no block mixes series placed
   * by two hashrings.
   */
  let flushing = Promise.resolve();
  const hashringLoaded = (changed: boolean) =>
    (flushing = flushing.then(async () => {
      if (!started) return;
      if (changed && tsdbs !== undefined) {
        prober.notReady('flushing the TSDBs for the new hashring');
        await tsdbs.flush();
        if (!started) return;
      }
      prober.ready();
    }));
  try {
    if (cfg.hashrings !== undefined) {
      const routingConfig = {
        hashrings: cfg.hashrings,
        algorithm: cfg.hashringsAlgorithm ?? 'hashmod',
        localEndpoint: cfg.localEndpoint,
        replicationFactor: cfg.replicationFactor ?? 1,
        forwardTimeoutMs: cfg.forwardTimeoutMs ?? 5_000,
        forwardMaxBackoffMs: cfg.forwardMaxBackoffMs ?? 5_000,
        ...(cfg.forwardTls !== undefined ? { forwardTls: cfg.forwardTls } : {}),
        ...(cfg.forwardCompression !== undefined ? { forwardCompression: cfg.forwardCompression } : {}),
      } satisfies RoutingConfig;
      routing = await startRouting(routingConfig, writeLocal, (changed) => void hashringLoaded(changed), registry, logger);
      write = routing.write;
    }
    if (cfg.splitTenantLabelName !== undefined && cfg.splitTenantLabelName !== '') write = splitTenantWrite(write, cfg.splitTenantLabelName, validTenant);
    if (cfg.limits !== undefined) {
      limiter = await WriteLimiter.start(cfg.limits, registry, logger);
      if (routing !== undefined) limiter.startMetaMonitoring();
    }
    await writer.register(
      receiveHandler({
        tenantHeader: cfg.tenantHeader,
        defaultTenant: cfg.defaultTenant,
        replicaHeader: cfg.replicaHeader ?? 'THANOS-REPLICA',
        ...(cfg.tenantCertificateField !== undefined ? { tenantCertificateField: cfg.tenantCertificateField } : {}),
        labelsCache,
        ...(cfg.relabel !== undefined && !cfg.relabel.empty ? { relabel: cfg.relabel } : {}),
        // Head series are limited where writes are routed, as Thanos' (the counts are of every receiver).
        ...(limiter !== undefined ? { limits: limiter, limitHeadSeries: routing !== undefined } : {}),
        maxRequestBytes: cfg.maxRequestBytes ?? 32 * 1024 ** 2,
        ready,
        write: (tenant, series, replica) => write(tenant, series, replica),
        metrics: new ReceiveMetrics(registry),
        logger: handlerLogger,
      }),
    );
    const { host, port } = parseAddress(cfg.remoteWriteAddress);
    await writer.listen({ host, port });
    tsdbs = await MultiTSDB.open({
      dir: cfg.tsdbPath,
      blockDurationMs: cfg.blockDurationMs,
      retentionMs: cfg.retentionMs,
      ...(cfg.tooFarInFutureMs !== undefined ? { tooFarInFutureMs: cfg.tooFarInFutureMs } : {}),
      ...(cfg.maxExemplars !== undefined ? { maxExemplars: cfg.maxExemplars } : {}),
      ...(cfg.outOfOrderTimeWindowMs !== undefined ? { outOfOrderTimeWindowMs: cfg.outOfOrderTimeWindowMs } : {}),
      ...(cfg.outOfOrderCapMax !== undefined ? { outOfOrderCapMax: cfg.outOfOrderCapMax } : {}),
      externalLabels: cfg.externalLabels,
      tenantLabelName: cfg.tenantLabelName,
      tenantExternalLabels: (tenant) => routing?.externalLabels(tenant) ?? {},
      ...(cfg.bucket !== undefined ? { bucket: cfg.bucket } : {}),
      ...(cfg.shipper !== undefined ? { shipper: cfg.shipper } : {}),
      registry,
      logger,
    });
    if (cfg.bucket === undefined) logger.info('no supported bucket was configured, uploads will be disabled');
  } catch (err) {
    await stopAll();
    throw err;
  }
  const opened = tsdbs;
  let grpc;
  try {
    grpc = await serveStore(opened.store, {
      address: cfg.grpcAddress,
      ...grpcServing(cfg, grpcServerMetrics(registry), logger),
      ...(cfg.grpcTls !== undefined ? { tls: cfg.grpcTls } : {}),
      // Writes other receivers of the hashring forward: a copy is written here, a new write distributed.
      writeable: async (req) => {
        if (!ready()) throw new StoreError(GRPC_STATUS['not-ready'], 'target not ready');
        if (!validTenant(req.tenant)) throw new StoreError(GRPC_STATUS.internal, `tenant name not valid: ${JSON.stringify(req.tenant)}`);
        let wreq;
        try {
          wreq = decodeTimeSeries(req.timeseries, labelsCache);
        } catch (err) {
          throw new StoreError(GRPC_STATUS.internal, (err as Error).message);
        }
        const failed = await writeRequest(write, req.tenant, wreq, req.replica, handlerLogger);
        if (failed !== undefined) throw new StoreError(GRPC_STATUS[failed.failure], failed.message);
      },
    });
  } catch (err) {
    await stopAll();
    throw err;
  }
  // Each round also lets go of the tenants idle past the retention, as Thanos' receiver.
  const compaction = setInterval(() => void opened.compact().then(() => opened.prune()), cfg.compactionIntervalMs ?? 60_000);
  compaction.unref();
  started = true;
  // With a hashring file that did not load (yet), ready once it does.
  if (routing === undefined || routing.loaded) prober.ready();
  else prober.notReady('no valid hashring configuration loaded');
  const writeAddr = writer.server.address();
  const served = grpc;
  return {
    httpAddress: http.address,
    grpcAddress: served.address,
    remoteWriteAddress: typeof writeAddr === 'object' && writeAddr !== null ? `${host(cfg.remoteWriteAddress)}:${writeAddr.port}` : cfg.remoteWriteAddress,
    registry,
    async stop() {
      prober.notReady('stopping');
      started = false;
      clearInterval(compaction);
      await served.stop(cfg.grpcGracePeriodMs);
      await stopAll();
    },
  };
}

const host = (address: string) => parseAddress(address).host;

/** Node's HTTPS server options for `tls`, as Thanos' remote-write server's: a client CA makes client certificates required. */
function httpsOptions(tls: ServerTLS): https.ServerOptions {
  const verify = tls.clientCA !== undefined ? { ca: tls.clientCA, requestCert: true, rejectUnauthorized: true } : {};
  return { cert: tls.cert, key: tls.key, minVersion: tls.minVersion ?? 'TLSv1.3', ...verify };
}
