import type { Command } from 'commander';
import { startQuickstart } from '../quickstart/quickstart.js';
import { parseDuration } from '../flags.js';
import { loggerFromFlags, runUntilSignal, withLogFlags, yamlFlag } from './component.js';
import { bucketFromFlags, withObjstoreFlags } from './objstore-flags.js';

/** `strata quickstart`: everything on one machine, with demo data, until Ctrl-C. */
export function register(program: Command): void {
  const cmd = program
    .command('quickstart')
    .description(
      'Run a complete local Strata: 3 demo exporters, 2 Prometheus replicas (needs the prometheus binary) with a sidecar each, ' +
        'backfilled history in the bucket, a store gateway, the querier, a query frontend in front of it and the compactor. Ctrl-C stops everything.',
    )
    .option('--data-dir <dir>', 'where Prometheus data, the local bucket and caches live', './strata-quickstart')
    .option('--history <duration>', 'history to backfill into the bucket on the first start', '3d')
    .option('--http-address <host:port>', 'where the querier serves the Prometheus API', '127.0.0.1:10902')
    .option('--query-frontend.http-address <host:port>', 'where the query frontend serves the same API, range queries split and cached', '127.0.0.1:10904');
  withLogFlags(withObjstoreFlags(cmd, 'objstore', 'a bucket (e.g. S3) to use instead of a directory under --data-dir')).action(async (o: Record<string, unknown>) => {
    const logger = loggerFromFlags(o);
    const bucket = await bucketFromFlags(o, 'objstore');
    const bucketConfig = await yamlFlag(o, 'objstore.config');
    const qs = await startQuickstart({
      dataDir: String(o.dataDir),
      ...(bucket !== undefined ? { bucket } : {}),
      ...(bucketConfig !== undefined ? { bucketConfig } : {}),
      // This very command, for the compactor's process.
      strataCommand: [process.execPath, ...process.execArgv, process.argv[1] as string],
      historyMs: parseDuration(String(o.history)),
      httpAddress: String(o.httpAddress),
      frontendHttpAddress: String(o['queryFrontend.httpAddress']),
      logger,
    });
    process.stdout.write(
      `\nStrata is running. Querier (Prometheus API): ${qs.queryUrl}\n` +
        `  promtool query instant ${qs.queryUrl} 'sum by (mode) (rate(demo_cpu_usage_seconds_total[5m]))'\n` +
        `  curl '${qs.queryUrl}/api/v1/query?query=up'\n` +
        `Query frontend (the same API, range queries split by day and cached): ${qs.frontendUrl}\n` +
        `Point Grafana at ${qs.frontendUrl} as a Prometheus data source.\n` +
        `A Prometheus can read all of it with remote_read from ${qs.queryUrl}/api/v1/read, or scrape ${qs.queryUrl}/federate.\n` +
        `Cardinality of every replica's series, deduplicated (Prometheus' TSDB status): ${qs.queryUrl}/tsdb-status\n` +
        `Rules over every replica and all of history (the ruler): ${qs.rulesUrl}\n` +
        `Block viewer (every block in the bucket, as the compactor merges, compacts and downsamples them): ${qs.blocksUrl}\n` +
        `Ctrl-C stops everything.\n\n`,
    );
    await runUntilSignal(logger, async () => {
      await qs.stop();
      await bucket?.close();
    });
  });
}
