/**
 * `start(config)`: the sidecar next to one Prometheus. It waits for Prometheus, loads its external
 * labels (refusing to run without any), serves the StoreAPI over remote read, keeps labels and min time
 * fresh with a heartbeat, and — when a bucket is configured — ships finished blocks.
 */
import { TimeBound } from '@strata/block';
import { collectProcessMetrics, createLogger, grpcServing, httpServing, type Logger, Prober, type ServingConfig, startHttpServer } from '@strata/runtime';
import { join } from 'node:path';
import type { Bucket } from '@strata/objstore';
import { type Compression, formatInt64, MIN_INT64, serveStore, type ServerTLS } from '@strata/storeapi';
import { Registry } from 'prom-client';
import { SidecarMetrics } from './metrics.js';
import type { PrometheusHttpClientConfig } from './httpclient.js';
import { PrometheusClient } from './promclient.js';
import { Reloader, type ReloaderOptions } from './reloader.js';
import type { ResponseType } from '@strata/storeapi';
import { LocalBlocks } from './localblocks.js';
import type { SeriesLimits } from '@strata/storeapi';
import { Shipper, SHIPPER_META_FILENAME } from './shipper.js';
import { checkLocalCompaction, ConfigError } from './localcompaction.js';
import { PrometheusStore, type PrometheusState } from './store.js';

export interface SidecarConfig extends ServingConfig {
  /** Base URL of Prometheus, e.g. http://localhost:9090. */
  prometheusUrl: string;
  /** How to reach a Prometheus behind its --web.config.file (--prometheus.http-client): credentials, TLS. */
  prometheusHttpClient?: PrometheusHttpClientConfig;
  /** Prometheus' data directory (--storage.tsdb.path). */
  tsdbPath: string;
  /** Where blocks are shipped; without a bucket the sidecar only serves the StoreAPI. */
  bucket?: Bucket;
  /** host:port for gRPC (port 0 = any free port). Default 0.0.0.0:10901. */
  grpcAddress?: string;
  /** host:port for HTTP. Default 0.0.0.0:10902. */
  httpAddress?: string;
  grpcTls?: ServerTLS;
  grpcCompression?: Compression;
  /** Also ship blocks Prometheus compacted itself (compaction level > 1). */
  uploadCompacted?: boolean;
  /** --shipper.ignore-unequal-block-size: ship even though Prometheus compacts blocks locally without waiting for their upload. */
  ignoreUnequalBlockSize?: boolean;
  /** --shipper.allow-out-of-order-uploads: a block that fails to upload does not hold back newer ones, and compacted blocks are shipped without the overlap check. */
  allowOutOfOrderUploads?: boolean;
  /** --hash-func=SHA256: the SHA256 of each uploaded file in meta.json. */
  hashFiles?: boolean;
  /** --shipper.upload-concurrency: files of one block uploaded at once (default 0, as Thanos: one at a time). */
  uploadConcurrency?: number;
  /** --shipper.meta-file-name: the shipper's state file in the data directory (default thanos.shipper.json). */
  shipperMetaFileName?: string;
  /** --store.limits.request-series, --store.limits.request-samples: what one Series call may send (0: no limit). */
  seriesLimits?: SeriesLimits;
  /** --min-time: data older than this (as of each heartbeat) is neither served nor advertised. */
  minTime?: TimeBound;
  /** How long to wait for Prometheus at start. Default 10 minutes. */
  readyTimeoutMs?: number;
  /** Refresh of external labels and lowest timestamp. Default 30s. */
  heartbeatIntervalMs?: number;
  /** --prometheus.get_config_timeout: how long the requests for Prometheus' configuration, flags and lowest timestamp (at start and at every heartbeat) wait for an answer. Default 30s. */
  getConfigTimeoutMs?: number;
  /** Shipper sync interval. Default 30s. */
  shipperIntervalMs?: number;
  /** Thanos' --reloader.*: Prometheus reloads when its configuration (a template, substituted) or rules change. */
  reloader?: Omit<ReloaderOptions, 'prometheus' | 'registry' | 'logger'>;
  /** Remote-read response types offered to Prometheus (tests force SAMPLES to cover old Prometheus). */
  remoteReadResponseTypes?: readonly ResponseType[];
  /**
   * Serve the blocks Prometheus has written from `tsdbPath` (LocalBlocks), its head only through remote
   * read (default true; --no-tsdb.serve-blocks: everything through remote read, as Thanos' sidecar).
   */
  serveBlocks?: boolean;
  logger?: Logger;
  registry?: Registry;
}

export interface Sidecar {
  readonly grpcAddress: string;
  readonly httpAddress: string;
  readonly registry: Registry;
  /** The shipper, when a bucket is configured. */
  readonly shipper: Shipper | undefined;
  stop(): Promise<void>;
}

const RETRY_MS = 1_000;

export async function start(config: SidecarConfig): Promise<Sidecar> {
  const log = (config.logger ?? createLogger()).with({ component: 'sidecar' });
  const registry = config.registry ?? new Registry();
  collectProcessMetrics(registry);
  const metrics = new SidecarMetrics(registry);
  const prober = new Prober('sidecar', registry);
  const prom = new PrometheusClient(config.prometheusUrl, {
    ...(config.prometheusHttpClient !== undefined ? { httpClient: config.prometheusHttpClient } : {}),
    ...(config.getConfigTimeoutMs !== undefined ? { configTimeoutMs: config.getConfigTimeoutMs } : {}),
  });
  const minTimeFlag = config.minTime ?? TimeBound.at(MIN_INT64);
  let state: PrometheusState | undefined;

  const http = await startHttpServer({ address: config.httpAddress ?? '0.0.0.0:10902', registry, prober, logger: log, ...httpServing(config) });
  prober.healthy();
  prober.notReady('waiting for Prometheus');

  const closers: (() => Promise<void>)[] = [() => http.close()];
  // The reloader starts before Prometheus answers: Prometheus may be waiting for the configuration it writes.
  const r = config.reloader;
  if (r !== undefined && (r.configFile !== undefined || (r.ruleDirs?.length ?? 0) > 0)) {
    const reloader = new Reloader({ ...r, prometheus: prom, registry, logger: log });
    reloader.start();
    closers.push(() => reloader.stop());
  }
  let closing: Promise<void> | undefined;
  /** Stops what started, newest first (not ready from the start: load balancers stop sending); later calls wait for the first. */
  const closeAll = () =>
    (closing ??= (async () => {
      prober.notReady('stopping');
      for (const c of [...closers].reverse()) await c().catch((e: unknown) => log.warn('error while stopping', { err: e as Error }));
    })());

  async function refresh(): Promise<PrometheusState> {
    const [config, times] = await Promise.all([prom.config(), prom.tsdbTimes()]);
    const window = config.outOfOrderWindowMs;
    return {
      extLabels: config.externalLabels,
      minTime: Math.max(minTimeFlag.ms(), times.lowest),
      // Out-of-order samples are accepted back to the window before the head's newest: they stay in the
      // head until Prometheus compacts them (MIN_INT64: everything may be there, the head being empty).
      ...(window > 0 ? { headOnlyFrom: times.headMax === MIN_INT64 ? MIN_INT64 : times.headMax - window } : {}),
    };
  }

  try {
    // Wait for Prometheus and its external labels; anything but "unreachable" is final.
    const deadline = Date.now() + (config.readyTimeoutMs ?? 600_000);
    for (;;) {
      try {
        const s = await refresh();
        if (s.extLabels.size === 0) {
          throw new ConfigError(
            `Prometheus at ${prom.url} has no external labels. The sidecar needs them to tell its data apart in the querier and the bucket: ` +
              `add global.external_labels to the Prometheus configuration (for example cluster and replica) and reload it.`,
          );
        }
        if (config.bucket !== undefined) {
          const shipperFile = join(config.tsdbPath, config.shipperMetaFileName ?? SHIPPER_META_FILENAME);
          checkLocalCompaction(await prom.flags(), { shipperFile, ignoreUnequalBlockSize: config.ignoreUnequalBlockSize === true }, log);
        }
        state = s;
        break;
      } catch (e) {
        if (e instanceof ConfigError) throw e;
        if (Date.now() >= deadline) throw new Error(`Prometheus at ${prom.url} not ready after --prometheus.ready_timeout: ${(e as Error).message}`);
        log.info('waiting for Prometheus', { url: prom.url, err: e as Error });
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
    log.info('Prometheus is up', { external_labels: state.extLabels.toString(), min_time: formatInt64(state.minTime) });
    metrics.prometheusUp.set(1);
    prober.ready();

    let blocks: LocalBlocks | undefined;
    if (config.serveBlocks !== false) {
      try {
        const local = await LocalBlocks.open({ dir: config.tsdbPath, registry, logger: log.with({ subsystem: 'blocks' }) });
        closers.push(() => local.close());
        blocks = local;
      } catch (e) {
        // E.g. a read-only root filesystem without a writable temporary directory.
        log.warn("cannot keep index-headers of Prometheus' blocks (in the system's temporary directory): everything is read through remote read", { err: e as Error });
      }
    }
    /**
     * Follows Prometheus' blocks on disk (at start and at every heartbeat); until the first sync, remote
     * read serves everything. A failure is logged when it starts and when it ends, not at every beat (a
     * sidecar without access to the data directory serves everything through remote read).
     */
    let blocksFailing = false;
    const syncBlocks = () =>
      void blocks?.sync(state!.extLabels).then(
        () => {
          if (blocksFailing) log.info("reading Prometheus' blocks again");
          blocksFailing = false;
        },
        (e: unknown) => {
          if (!blocksFailing) log.warn("reading Prometheus' blocks failed; remote read serves what they hold until they can be read", { err: e as Error });
          blocksFailing = true;
        },
      );
    syncBlocks();
    const store = new PrometheusStore({
      prometheus: prom,
      state: () => state,
      ...(config.remoteReadResponseTypes ? { responseTypes: config.remoteReadResponseTypes } : {}),
      ...(blocks !== undefined ? { blocks } : {}),
      sources: metrics.seriesSources,
      ...(config.seriesLimits !== undefined ? { limits: config.seriesLimits } : {}),
      dropped: metrics.selectsDropped,
      logger: log,
    });
    const grpc = await serveStore(store, {
      address: config.grpcAddress ?? '0.0.0.0:10901',
      ...grpcServing(config, metrics.grpc, log),
      ...(config.grpcTls ? { tls: config.grpcTls } : {}),
      ...(config.grpcCompression ? { compression: config.grpcCompression } : {}),
    });
    closers.push(() => grpc.stop());
    log.info('listening for StoreAPI gRPC', { address: grpc.address });

    // Heartbeat: Prometheus being down makes us not ready; the next successful beat recovers.
    let heartbeat: NodeJS.Timeout | undefined;
    let stopped = false;
    const beat = async () => {
      try {
        const next = await refresh();
        // Stopping: stay not ready.
        if (closing !== undefined) return;
        // Keep serving and shipping under the last good labels rather than none.
        if (next.extLabels.size === 0) throw new Error('Prometheus configuration no longer has external labels');
        state = next;
        syncBlocks();
        metrics.prometheusUp.set(1);
        if (!prober.isReady()) log.info('Prometheus reachable again');
        prober.ready();
      } catch (e) {
        metrics.prometheusUp.set(0);
        if (prober.isReady()) log.warn('heartbeat to Prometheus failed', { err: e as Error });
        prober.notReady(`Prometheus unreachable: ${(e as Error).message}`);
      }
      if (!stopped) heartbeat = setTimeout(beat, config.heartbeatIntervalMs ?? 30_000);
    };
    heartbeat = setTimeout(beat, config.heartbeatIntervalMs ?? 30_000);
    closers.push(async () => {
      stopped = true;
      clearTimeout(heartbeat);
    });

    let shipper: Shipper | undefined;
    if (config.bucket !== undefined) {
      const s = new Shipper({
        bucket: config.bucket,
        dir: config.tsdbPath,
        labels: () => state!.extLabels,
        uploadCompacted: config.uploadCompacted ?? false,
        allowOutOfOrderUploads: config.allowOutOfOrderUploads === true,
        hashFiles: config.hashFiles === true,
        ...(config.uploadConcurrency !== undefined ? { uploadConcurrency: config.uploadConcurrency } : {}),
        ...(config.shipperMetaFileName !== undefined ? { metaFileName: config.shipperMetaFileName } : {}),
        metrics: metrics.shipper,
        logger: log.with({ subsystem: 'shipper' }),
      });
      s.start(config.shipperIntervalMs ?? 30_000);
      closers.push(() => s.stop());
      shipper = s;
    } else {
      log.info('no object store configured: blocks are not uploaded');
    }

    return {
      grpcAddress: grpc.address,
      httpAddress: http.address,
      registry,
      shipper,
      stop: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
