import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '@strata/runtime';
import { stringify } from 'yaml';

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
  /** min = max block duration, as the sidecar requires; default 2h. */
  blockDuration?: string;
  /** A different max block duration (local compaction on). */
  maxBlockDuration?: string;
  retention?: string;
  extraArgs?: string[];
}

export interface PrometheusProcess {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly logFile: string;
  stop(): Promise<void>;
}

const running = new Set<{ kill(signal: NodeJS.Signals): boolean }>();
process.once('exit', () => {
  // Never leave a Prometheus behind, whatever ends this process.
  for (const c of running) c.kill('SIGKILL');
});

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
      scrape_configs: [
        ...(opts.scrapeConfigs ?? []),
        ...(opts.scrapeSelf ? [{ job_name: 'prometheus', static_configs: [{ targets: [`127.0.0.1:${port}`] }] }] : []),
      ],
    }),
  );
  const block = opts.blockDuration ?? '2h';
  const logFile = join(opts.dir, `prometheus-${port}.log`);
  const log = createWriteStream(logFile);
  const child = spawn(
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
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));
  const spawnFailed = new Promise<never>((_, reject) =>
    child.once('error', (e) => reject(new Error(`cannot run prometheus (${e.message}): install it ("apt-get install prometheus") or run scripts/quickstart.sh`))),
  );
  const url = `http://127.0.0.1:${port}`;
  await Promise.race([waitReady(url, () => child.exitCode, logFile), spawnFailed]);
  return {
    url,
    port,
    dataDir,
    logFile,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitReady(url: string, exitCode: () => number | null, logFile: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const code = exitCode();
    if (code !== null) throw new Error(`prometheus exited with ${code} before it was ready; see ${logFile}`);
    try {
      if ((await fetch(`${url}/-/ready`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`prometheus at ${url} not ready after 60s; see ${logFile}`);
}
