import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '@strata/runtime';
import { stringify } from 'yaml';

/** A Prometheus process the quick start started, stopped with it. */
export interface PrometheusProcess {
  readonly url: string;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export interface PrometheusProcessOptions {
  dir: string;
  externalLabels: Record<string, string>;
  /** Scrape targets with the instance label each should carry. */
  targets: readonly { address: string; instance: string }[];
  scrapeInterval: string;
  /** min = max block duration: short blocks reach the bucket soon. */
  blockDuration: string;
}

/** Starts Debian's (or any) `prometheus` binary on 127.0.0.1 and a free port, and waits until it is ready. */
export async function startPrometheusProcess(opts: PrometheusProcessOptions): Promise<PrometheusProcess> {
  const dataDir = join(opts.dir, 'data');
  await mkdir(dataDir, { recursive: true });
  const config = join(opts.dir, 'prometheus.yml');
  await writeFile(
    config,
    stringify({
      global: { scrape_interval: opts.scrapeInterval, evaluation_interval: opts.scrapeInterval, external_labels: opts.externalLabels },
      scrape_configs: [
        {
          job_name: 'demo',
          static_configs: opts.targets.map((t) => ({ targets: [t.address], labels: { instance: t.instance } })),
        },
      ],
    }),
  );
  const port = await freePort();
  const log = createWriteStream(join(opts.dir, 'prometheus.log'));
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${dataDir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--storage.tsdb.min-block-duration=${opts.blockDuration}`,
      `--storage.tsdb.max-block-duration=${opts.blockDuration}`,
      '--storage.tsdb.retention.time=1d',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (e) => reject(new Error(`cannot run prometheus (${e.message}): install it with "apt-get install prometheus" or run scripts/quickstart.sh`))),
  );
  const url = `http://127.0.0.1:${port}`;
  await Promise.race([waitReady(url, child, join(opts.dir, 'prometheus.log')), spawnError]);
  return {
    url,
    dataDir,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function waitReady(url: string, child: ChildProcess, logFile: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}; see ${logFile}`);
    try {
      if ((await fetch(`${url}/-/ready`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`prometheus at ${url} not ready after 60s; see ${logFile}`);
}
