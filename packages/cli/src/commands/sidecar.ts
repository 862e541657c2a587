import type { Command } from 'commander';
import { parsePrometheusHttpClientConfig, type ReloadMethod, SHIPPER_META_FILENAME, start } from '@strata/sidecar';
import { Registry } from 'prom-client';
import { parseDuration, parseTimeBound } from '../flags.js';
import {
  choiceFlag,
  growHeapBetweenFullCollections,
  hashFuncFlag,
  intFlag,
  loggerFromFlags,
  repeatable,
  runUntilSignal,
  serverTlsFromFlags,
  servingFromFlags,
  tracingConfigFromFlags,
  startTracingFor,
  yamlFlag,
  withServingFlags,
} from './component.js';
import { bucketFromFlags, withObjstoreFlags } from './objstore-flags.js';

/** `strata sidecar`: runs next to one Prometheus, with `thanos sidecar`'s flags. */
export function register(program: Command): void {
  const cmd = withObjstoreFlags(program.command('sidecar').description('Serve a Prometheus over the StoreAPI and upload its finished blocks to object storage'), 'objstore', 'the bucket to upload to (without it, blocks are not uploaded)')
    .option('--prometheus.url <url>', 'URL of the Prometheus to serve and ship', 'http://localhost:9090')
    .option('--tsdb.path <dir>', "Prometheus' data directory (--storage.tsdb.path)", './data')
    .option('--no-tsdb.serve-blocks', "read everything through Prometheus' remote read, as Thanos' sidecar does, instead of serving the blocks Prometheus has written from --tsdb.path (only its head through remote read)")
    .option('--grpc-address <host:port>', 'listen address for the StoreAPI (gRPC)', '0.0.0.0:10901')
    .option('--http-address <host:port>', 'listen address for /metrics and probes', '0.0.0.0:10902')
    .option('--shipper.upload-compacted', 'also upload blocks Prometheus compacted itself (level > 1)', false)
    .option('--shipper.allow-out-of-order-uploads', 'a block that fails to upload does not hold back newer ones (it is retried on the next sync), and compacted blocks are shipped without checking the bucket for overlaps: for a compactor that deduplicates overlaps vertically', false)
    .option('--shipper.ignore-unequal-block-size', 'ship even though Prometheus compacts blocks locally (min ≠ max block duration) without --storage.tsdb.delay-compact-file.path: its compacted blocks then overlap uploaded ones', false)
    .option('--hash-func <func>', 'SHA256: record each uploaded file\'s SHA256 in meta.json, so that a compactor\'s download skips a file it already has ("": none, as Thanos)', '')
    .option('--shipper.sync-interval <duration>', 'how often the shipper looks for new blocks', '30s')
    .option('--shipper.upload-concurrency <n>', 'files of one block uploaded at once (0: one at a time, as Thanos)', '0')
    .option('--shipper.meta-file-name <name>', "the shipper's state file (the blocks it uploaded) in --tsdb.path", SHIPPER_META_FILENAME)
    .option('--store.limits.request-series <n>', 'most series one Series call may send, from blocks and head together; past it the call fails with ResourceExhausted (0: no limit)', '0')
    .option('--store.limits.request-samples <n>', 'most samples one Series call may send, from blocks and head together; past it the call fails with ResourceExhausted (0: no limit)', '0')
    .option('--min-time <time>', 'serve and advertise only data from this time on (RFC3339, Unix seconds, or relative like -2w)')
    .option('--prometheus.ready_timeout <duration>', 'how long to wait for Prometheus at start', '10m')
    .option('--prometheus.get_config_interval <duration>', 'how often to refresh external labels and the lowest timestamp', '30s')
    .option('--prometheus.get_config_timeout <duration>', "how long the requests for Prometheus' configuration, flags and lowest timestamp (at start and at every refresh) wait for an answer", '30s')
    .option('--prometheus.http-client <yaml>', "how to reach a Prometheus behind its --web.config.file (Thanos' YAML): basic_auth, bearer_token(_file), tls_config, e.g. \"basic_auth: {username: strata, password_file: /secrets/pw}\"")
    .option('--prometheus.http-client-file <path>', 'file with that configuration')
    .option('--reloader.config-file <path>', "Prometheus' configuration to watch (gzipped too); Prometheus reloads when it changes")
    .option('--reloader.config-envsubst-file <path>', 'where the configuration goes with its $(NAME) references replaced by environment variables')
    .option('--reloader.rule-dir <dir>', 'directory of rule files to watch; repeatable', repeatable, [])
    .option('--reloader.watch-interval <duration>', 'how often the watched files are checked besides change notifications', '3m')
    .option('--reloader.retry-interval <duration>', 'how soon a failed reload of Prometheus is tried again', '5s')
    .option('--reloader.method <method>', 'how Prometheus is made to reload: http (POST /-/reload, needs its --web.enable-lifecycle) or signal (SIGHUP to the processes named --reloader.process-name, which must share the sidecar\'s process namespace)', 'http')
    .option('--reloader.process-name <name>', 'executable name of the Prometheus processes --reloader.method=signal signals', 'prometheus');
  withServingFlags(cmd, { grpc: true, requestLogging: true }).action(async (o: Record<string, unknown>) => {
    growHeapBetweenFullCollections();
    const str = (k: string) => (o[k] === undefined ? undefined : String(o[k]));
    const logger = loggerFromFlags(o);
    const tracing = startTracingFor(await tracingConfigFromFlags(o), 'sidecar', logger);
    const serving = await servingFromFlags(o, logger);
    const registry = new Registry();
    const grpcTls = await serverTlsFromFlags(o);
    const bucket = await bucketFromFlags(o, 'objstore', { registry });
    const minTime = str('minTime');
    const httpClient = await yamlFlag(o, 'prometheus.http-client');

    const sidecar = await start({
      prometheusUrl: str('prometheus.url')!,
      ...(httpClient !== undefined ? { prometheusHttpClient: parsePrometheusHttpClientConfig(httpClient) } : {}),
      tsdbPath: str('tsdb.path')!,
      serveBlocks: o['tsdb.serveBlocks'] !== false,
      ...(bucket !== undefined ? { bucket } : {}),
      grpcAddress: str('grpcAddress')!,
      httpAddress: str('httpAddress')!,
      ...serving,
      ...(grpcTls !== undefined ? { grpcTls } : {}),
      uploadCompacted: o['shipper.uploadCompacted'] === true,
      allowOutOfOrderUploads: o['shipper.allowOutOfOrderUploads'] === true,
      ignoreUnequalBlockSize: o['shipper.ignoreUnequalBlockSize'] === true,
      hashFiles: hashFuncFlag(String(o.hashFunc)),
      shipperIntervalMs: parseDuration(str('shipper.syncInterval')!),
      uploadConcurrency: intFlag(o['shipper.uploadConcurrency'], '--shipper.upload-concurrency', 0),
      shipperMetaFileName: String(o['shipper.metaFileName']),
      seriesLimits: {
        series: intFlag(o['store.limits.requestSeries'], '--store.limits.request-series', 0),
        samples: intFlag(o['store.limits.requestSamples'], '--store.limits.request-samples', 0),
      },
      ...(minTime !== undefined ? { minTime: parseTimeBound(minTime) } : {}),
      readyTimeoutMs: parseDuration(str('prometheus.ready_timeout')!),
      heartbeatIntervalMs: parseDuration(str('prometheus.get_config_interval')!),
      getConfigTimeoutMs: parseDuration(str('prometheus.get_config_timeout')!),
      reloader: {
        configFile: str('reloader.configFile'),
        configOutputFile: str('reloader.configEnvsubstFile'),
        ruleDirs: o['reloader.ruleDir'] as string[],
        watchIntervalMs: parseDuration(str('reloader.watchInterval')!),
        retryIntervalMs: parseDuration(str('reloader.retryInterval')!),
        method: choiceFlag(o['reloader.method'], '--reloader.method', ['http', 'signal']) as ReloadMethod,
        processName: str('reloader.processName')!,
      },
      logger,
      registry,
    });
    await runUntilSignal(logger, async () => {
      await sidecar.stop();
      await tracing.stop();
    });
  });
}
