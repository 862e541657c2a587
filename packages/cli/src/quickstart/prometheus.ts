import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '@strata/runtime';
import { stringify } from 'yaml';
import { startChild } from './child.js';

/**
 * Prometheus (Debian's package, or any `prometheus` on the PATH) as a child process on 127.0.0.1 and
 * a free port: the quick start runs its replicas with it, and the tests their reference servers.
 */
export interface PrometheusProcessOptions {
  /** Directory for the config and the log. */
  dir: string;
  /** The data dir; default `<dir>/data`. */
  dataDir?: string;
  externalLabels?: Record<string, string>;
  scrapeConfigs?: unknown[];
  /** Also scrape its own /metrics (job "prometheus"). */
  scrapeSelf?: boolean;
  scrapeInterval?: string;
  /** Rule files to load (evaluated every scrape interval). */
  ruleFiles?: string[];
  /** `remote_read` entries of its configuration. */
  remoteRead?: unknown[];
  /** `remote_write` entries of its configuration. */
  remoteWrite?: unknown[];
  /** min = max block duration, as the sidecar requires; default 2h. */
  blockDuration?: string;
  /** A different max block duration (local compaction on). */
  maxBlockDuration?: string;
  retention?: string;
  /** `storage.tsdb.out_of_order_time_window` of its configuration (2.39+). */
  outOfOrderTimeWindow?: string;
  extraArgs?: string[];
}

export interface PrometheusProcess {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly logFile: string;
  stop(): Promise<void>;
}

export async function startPrometheusProcess(opts: PrometheusProcessOptions): Promise<PrometheusProcess> {
  const port = await freePort();
  const dataDir = opts.dataDir ?? join(opts.dir, 'data');
  await mkdir(dataDir, { recursive: true });
  const config = join(opts.dir, 'prometheus.yml');
  const interval = opts.scrapeInterval ?? '15s';
  await writeFile(
    config,
    stringify({
      global: { scrape_interval: interval, evaluation_interval: interval, ...(opts.externalLabels ? { external_labels: opts.externalLabels } : {}) },
      ...(opts.ruleFiles !== undefined ? { rule_files: opts.ruleFiles } : {}),
      ...(opts.remoteRead !== undefined ? { remote_read: opts.remoteRead } : {}),
      ...(opts.remoteWrite !== undefined ? { remote_write: opts.remoteWrite } : {}),
      ...(opts.outOfOrderTimeWindow !== undefined ? { storage: { tsdb: { out_of_order_time_window: opts.outOfOrderTimeWindow } } } : {}),
      scrape_configs: [
        ...(opts.scrapeConfigs ?? []),
        ...(opts.scrapeSelf ? [{ job_name: 'prometheus', static_configs: [{ targets: [`127.0.0.1:${port}`] }] }] : []),
      ],
    }),
  );
  const block = opts.blockDuration ?? '2h';
  const logFile = join(opts.dir, `prometheus-${port}.log`);
  const url = `http://127.0.0.1:${port}`;
  const child = await startChild(
    'prometheus',
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${dataDir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--storage.tsdb.min-block-duration=${block}`,
      `--storage.tsdb.max-block-duration=${opts.maxBlockDuration ?? block}`,
      `--storage.tsdb.retention.time=${opts.retention ?? '100y'}`,
      '--web.enable-lifecycle',
      ...(opts.extraArgs ?? []),
    ],
    { logFile, readyUrl: `${url}/-/ready`, cannotRun: 'install it ("apt-get install prometheus") or run scripts/quickstart.sh' },
  );
  return { url, port, dataDir, logFile, stop: () => child.stop() };
}
