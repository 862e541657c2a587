import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { uploadBlock } from '@strata/block';
import { newBucket, type Bucket } from '@strata/objstore';
import { start as startFrontend } from '@strata/frontend';
import { start as startQuerier } from '@strata/querier';
import { start as startRuler, type Ruler } from '@strata/rule';
import { freePort, parseAddress, type Logger } from '@strata/runtime';
import { start as startSidecar } from '@strata/sidecar';
import { start as startStore } from '@strata/store';
import { Labels } from '@strata/tsdb';
import { Registry } from 'prom-client';
import { writeDemoBlocks } from '../demo/blocks.js';
import { startDemoExporter } from '../demo/exporter.js';
import { stringify } from 'yaml';
import { startChild } from './child.js';
import { startPrometheusProcess } from './prometheus.js';
import { parseDuration } from '../flags.js';

/**
 * A complete Strata on one machine, for trying it out: three demo exporters, two Prometheus replicas
 * scraping them (external labels cluster/replica, short blocks), a sidecar each shipping blocks to the
 * bucket (a local directory unless an objstore config is given), days of backfilled history in the
 * bucket, a store gateway serving it, the querier over everything, a ruler evaluating rules over all of
 * it (its results in a TSDB of its own, read by the querier and shipped to the bucket), a query frontend
 * with its results caches in front of the querier, and (given `strataCommand`) the compactor.
 */
export interface QuickstartOptions {
  dataDir: string;
  /** The bucket to use (S3, say); default: a directory under dataDir. */
  bucket?: Bucket;
  /** That bucket's configuration (YAML), for the compactor. */
  bucketConfig?: string;
  /** How to run `strata` (command and its first arguments): the compactor runs as a process of its own. */
  strataCommand?: readonly string[];
  /** How much history to backfill into the bucket on the first start (ms). */
  historyMs: number;
  /** Querier HTTP address. */
  httpAddress: string;
  /** Query frontend HTTP address. */
  frontendHttpAddress: string;
  logger: Logger;
}

export interface Quickstart {
  readonly queryUrl: string;
  /** The ruler's rules and alerts (`/api/v1/rules`), evaluated over the global view. */
  readonly rulesUrl: string;
  readonly frontendUrl: string;
  /** The block viewer: the compactor's (every block in the bucket), else the store gateway's. */
  readonly blocksUrl: string;
  stop(): Promise<void>;
}

/** The query frontend's caches: room for a few dashboards' answers. */
const FRONTEND_CACHE_BYTES = 256 * 1024 * 1024;

const CLUSTER = 'quickstart';
const INSTANCES = ['demo-0', 'demo-1', 'demo-2'];
const SCRAPE_INTERVAL = '5s';
const BLOCK_DURATION = '5m';

/**
 * Rules both replicas evaluate, so that the querier's rules and alerts (and Grafana's alerting view)
 * have something to show: a recording rule, and alerts on the demo service's disk and batch job.
 */
const DEMO_RULES = `groups:
  - name: demo
    rules:
      - record: instance_mode:demo_cpu_usage_seconds:rate1m
        expr: sum by (instance, mode) (rate(demo_cpu_usage_seconds_total[1m]))
      - alert: DemoDiskAlmostFull
        expr: demo_disk_usage_bytes / demo_disk_total_bytes > 0.8
        labels:
          severity: warning
        annotations:
          summary: "Disk of {{ $labels.instance }} is {{ $value | humanizePercentage }} full"
      - alert: DemoBatchJobFailing
        expr: time() - demo_batch_last_success_timestamp_seconds > 300
        for: 1m
        labels:
          severity: page
        annotations:
          summary: "Batch job of {{ $labels.instance }} has not succeeded for 5 minutes"
`;

/**
 * Rules over every replica and the whole history, which the ruler evaluates through the querier: the
 * cluster's CPU use by mode, and an alert when an instance is missing from every replica.
 */
const GLOBAL_RULES = `groups:
  - name: global
    rules:
      - record: cluster_mode:demo_cpu_usage_seconds:rate1m
        expr: sum by (cluster, mode) (rate(demo_cpu_usage_seconds_total[1m]))
      - alert: DemoInstanceDown
        expr: up{job="demo"} == 0
        for: 1m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} of {{ $labels.cluster }} is down in every replica"
`;

export async function startQuickstart(opts: QuickstartOptions): Promise<Quickstart> {
  const log = opts.logger;
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((e: Error) => log.warn('stopping a component failed', { err: e }));
  };
  try {
    await mkdir(opts.dataDir, { recursive: true });
    const bucket = await openBucket(opts);

    const exporters = await Promise.all(INSTANCES.map((instance) => startDemoExporter('127.0.0.1:0', instance)));
    for (const e of exporters) stops.push(() => e.stop());
    log.info('demo exporters up', { addresses: exporters.map((e) => e.address).join(',') });

    await backfill(opts, bucket);

    const rulesFile = join(opts.dataDir, 'rules.yml');
    await writeFile(rulesFile, DEMO_RULES);
    const sidecarAddresses: string[] = [];
    for (const replica of ['0', '1']) {
      const prom = await startPrometheusProcess({
        dir: join(opts.dataDir, `prometheus-${replica}`),
        externalLabels: { cluster: CLUSTER, replica },
        // The instance label names the demo instance, as in the backfilled history, whatever the port.
        scrapeConfigs: [{ job_name: 'demo', static_configs: exporters.map((e, i) => ({ targets: [e.address], labels: { instance: INSTANCES[i] } })) }],
        scrapeInterval: SCRAPE_INTERVAL,
        ruleFiles: [rulesFile],
        blockDuration: BLOCK_DURATION,
        retention: '1d',
      });
      stops.push(() => prom.stop());
      const sidecar = await startSidecar({
        prometheusUrl: prom.url,
        tsdbPath: prom.dataDir,
        bucket,
        grpcAddress: '127.0.0.1:0',
        httpAddress: '127.0.0.1:0',
        logger: log.with({ replica }),
        registry: new Registry(),
      });
      stops.push(() => sidecar.stop());
      sidecarAddresses.push(sidecar.grpcAddress);
      log.info('prometheus and sidecar up', { replica, prometheus: prom.url, sidecar: sidecar.grpcAddress });
    }

    const store = await startStore({
      bucket,
      dataDir: join(opts.dataDir, 'store'),
      grpcAddress: '127.0.0.1:0',
      httpAddress: '127.0.0.1:0',
      // New blocks arrive every few minutes from the sidecars' short blocks.
      syncIntervalMs: 60_000,
      logger: log,
    });
    stops.push(() => store.stop());
    log.info('store gateway up', { grpc: store.grpcAddress });

    // The ruler asks the querier, and the querier reads the ruler's results: the ruler starts first, given
    // the address the querier will have (it evaluates its rules only after a first interval).
    if (parseAddress(opts.httpAddress).port === 0) throw new Error(`--http-address must name a port (the ruler asks the querier there), not ${opts.httpAddress}`);
    const ruler = await startGlobalRuler(opts, bucket, opts.httpAddress);
    stops.push(() => ruler.stop());
    log.info('ruler up', { rules: `http://${ruler.httpAddress}/api/v1/rules` });
    const querier = await startQuerier({
      httpAddress: opts.httpAddress,
      grpcAddress: '127.0.0.1:0',
      endpoints: [...sidecarAddresses, store.grpcAddress, ruler.grpcAddress],
      replicaLabels: ['replica'],
      logger: log,
    });
    stops.push(() => querier.stop());
    const queryUrl = `http://${querier.httpAddress}`;
    const frontend = await startFrontend({
      httpAddress: opts.frontendHttpAddress,
      downstreamUrl: queryUrl,
      range: { cacheBytes: FRONTEND_CACHE_BYTES },
      labels: { cacheBytes: FRONTEND_CACHE_BYTES / 4 },
      compressResponses: true,
      logger: log,
    });
    stops.push(() => frontend.stop());
    let blocksUrl = `http://${store.httpAddress}/blocks`;
    if (opts.strataCommand !== undefined) {
      const compactor = await startCompactor(opts, opts.strataCommand);
      stops.push(() => compactor.stop());
      blocksUrl = compactor.blocksUrl;
      log.info('compactor up', { blocks: blocksUrl });
    }
    return { queryUrl, rulesUrl: `http://${ruler.httpAddress}/api/v1/rules`, frontendUrl: `http://${frontend.httpAddress}`, blocksUrl, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The ruler of GLOBAL_RULES: results kept in its TSDB, shipped to the bucket in blocks as short as the replicas'. */
async function startGlobalRuler(opts: QuickstartOptions, bucket: Bucket, queryAddress: string): Promise<Ruler> {
  const rulesFile = join(opts.dataDir, 'global-rules.yml');
  await writeFile(rulesFile, GLOBAL_RULES);
  return startRuler({
    ruleFiles: [rulesFile],
    evalIntervalMs: 15_000,
    queryOffsetMs: 0,
    resendDelayMs: 60_000,
    queryAddresses: [queryAddress],
    queryMethod: 'POST',
    storage: { tsdb: { dir: join(opts.dataDir, 'rule'), blockDurationMs: parseDuration(BLOCK_DURATION), retentionMs: 24 * 3_600_000 }, bucket },
    alertmanagers: [],
    alertLabelDrop: [],
    alertQueryUrl: `http://${queryAddress}`,
    externalLabels: Labels.from({ cluster: CLUSTER, ruler: 'global' }),
    forOutageToleranceMs: 3_600_000,
    forGracePeriodMs: 600_000,
    restoreIgnoredLabels: [],
    promqlCompat: 3,
    httpAddress: '127.0.0.1:0',
    grpcAddress: '127.0.0.1:0',
    logger: opts.logger.with({ component: 'rule' }),
  });
}

/**
 * `strata compact --wait` over the bucket, as a process of its own: compaction's CPU work stays off this
 * process's event loop, which serves the querier. It merges the replicas' blocks (penalty deduplication
 * on `replica`), compacts them and downsamples them, once they are older than its consistency delay.
 */
async function startCompactor(opts: QuickstartOptions, strata: readonly string[]): Promise<{ blocksUrl: string; stop(): Promise<void> }> {
  const dir = join(opts.dataDir, 'compact');
  await mkdir(dir, { recursive: true });
  const config = join(dir, 'objstore.yml');
  await writeFile(config, opts.bucketConfig ?? stringify({ type: 'FILESYSTEM', config: { directory: resolve(opts.dataDir, 'bucket') } }));
  const address = `127.0.0.1:${await freePort()}`;
  const [command, ...first] = strata as [string, ...string[]];
  const child = await startChild(
    'strata compact',
    command,
    [
      ...first,
      'compact',
      '--wait',
      `--objstore.config-file=${config}`,
      `--data-dir=${join(dir, 'data')}`,
      `--http-address=${address}`,
      '--deduplication.replica-label=replica',
      '--deduplication.func=penalty',
      '--bucket-web-label=cluster',
    ],
    { logFile: join(dir, 'compact.log'), readyUrl: `http://${address}/-/ready`, cannotRun: 'run the quick start through scripts/quickstart.sh' },
  );
  return { blocksUrl: `http://${address}/blocks`, stop: () => child.stop() };
}

async function openBucket(opts: QuickstartOptions): Promise<Bucket> {
  if (opts.bucket !== undefined) return opts.bucket;
  const directory = join(opts.dataDir, 'bucket');
  await mkdir(directory, { recursive: true });
  return newBucket({ type: 'FILESYSTEM', directory, prefix: '' });
}

/** Writes `historyMs` of demo history as 2h blocks into the bucket, once per data dir. */
async function backfill(opts: QuickstartOptions, bucket: Bucket): Promise<void> {
  const done = join(opts.dataDir, 'backfill.done');
  if (await stat(done).then(() => true, () => false)) return;
  // 30s is plenty for history and halves the time the first start spends writing it.
  const stepMs = 30_000;
  const endMs = Math.floor(Date.now() / stepMs) * stepMs - 60_000;
  const tmp = join(opts.dataDir, 'backfill');
  await rm(tmp, { recursive: true, force: true });
  let blocks = 0;
  await writeDemoBlocks(tmp, {
    instances: INSTANCES,
    job: 'demo',
    up: true,
    startMs: endMs - opts.historyMs,
    endMs,
    stepMs,
    blockMs: 2 * 3_600_000,
    thanos: { labels: { cluster: CLUSTER, replica: '0' }, downsample: { resolution: 0 }, source: 'bucket.upload' },
    onBlock: async (meta, dir) => {
      await uploadBlock(bucket, dir);
      await rm(dir, { recursive: true, force: true });
      blocks++;
      opts.logger.info('backfilled block', { block: meta.ulid, from: new Date(meta.minTime).toISOString(), to: new Date(meta.maxTime).toISOString(), progress: `${blocks}` });
    },
  });
  await rm(tmp, { recursive: true, force: true });
  await writeFile(done, new Date().toISOString());
}
