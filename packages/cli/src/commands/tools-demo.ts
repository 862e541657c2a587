import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Command } from 'commander';
import { startDemoExporter } from '../demo/exporter.js';
import { writeOpenMetrics } from '../demo/exposition.js';
import { DemoModel } from '../demo/model.js';
import { parseDuration, parseTime } from '../flags.js';

/** `strata tools demo-exporter`: the PromLabs demo service's metrics, live or as an OpenMetrics backfill. */
export function register(tools: Command): void {
  tools
    .command('demo-exporter')
    .description(
      'Serve the synthetic metrics of the PromLabs demo service (what the PromQL compliance queries expect), ' +
        'or with --openmetrics-file write the same series for a past range as OpenMetrics for backfilling.',
    )
    .option('--listen-address <host:port>', 'address to serve /metrics on', '127.0.0.1:8080')
    .option('--openmetrics-file <path>', 'instead of serving, write OpenMetrics for --min-time..--max-time to this file')
    .option('--min-time <time>', 'backfill start: RFC3339, Unix seconds, or relative like -3d', '-1d')
    .option('--max-time <time>', 'backfill end: RFC3339, Unix seconds, or relative like -1h', 'now')
    .option('--step <duration>', 'backfill sample interval', '15s')
    .option('--instance <host:port...>', 'instance names seeding the series: the scrape target address Prometheus uses (live: the first; default the listen address), or every instance to backfill', [])
    .option('--job <name>', 'job label for the backfill', 'demo')
    .action(async (opts: { listenAddress: string; openmetricsFile?: string; minTime: string; maxTime: string; step: string; instance: string[]; job: string }) => {
      if (opts.openmetricsFile === undefined) {
        const exporter = await startDemoExporter(opts.listenAddress, opts.instance[0]);
        process.stderr.write(`demo exporter serving http://${exporter.address}/metrics\n`);
        for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void exporter.stop());
        return;
      }
      const instances = (opts.instance.length > 0 ? opts.instance : [opts.listenAddress]).map((instance) => ({
        model: new DemoModel(instance),
        labels: { job: opts.job, instance },
      }));
      const now = Date.now();
      const stepMs = parseDuration(opts.step);
      const startMs = Math.ceil(parseTime(opts.minTime, now) / stepMs) * stepMs;
      const endMs = parseTime(opts.maxTime, now);
      const out = createWriteStream(opts.openmetricsFile);
      const lines = await writeOpenMetrics(instances, { startMs, endMs, stepMs }, async (chunk) => {
        if (!out.write(chunk)) await once(out, 'drain');
      });
      out.end();
      await once(out, 'finish');
      process.stderr.write(`wrote ${lines} samples for ${instances.length} instance(s) to ${opts.openmetricsFile}\n`);
    });
}
