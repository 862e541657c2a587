import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { freePort, startProcess, waitForHttp, type Managed } from './process.js';

const execFileP = promisify(execFile);

export interface PrometheusOptions {
  /** Directory for config, data and log. */
  dir: string;
  externalLabels?: Record<string, string>;
  scrapeConfigs?: unknown[];
  /** Also scrape its own /metrics (job "prometheus"), for live data without another target. */
  scrapeSelf?: boolean;
  scrapeInterval?: string;
  /** min = max block duration (Thanos' requirement); default 2h. */
  blockDuration?: string;
  /** A different max block duration (local compaction on), for tests of setups Thanos rejects. */
  maxBlockDuration?: string;
  retention?: string;
  extraArgs?: string[];
  /** Use this data dir instead of `<dir>/data`. */
  dataDir?: string;
}

export interface PrometheusHandle {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly proc: Managed;
  stop(): Promise<void>;
  /** GET `/api/v1/<path>` with query params; returns `data` or throws with Prometheus' error. */
  api<T = unknown>(path: string, params?: Record<string, string | string[]>): Promise<T>;
}

/** Starts Debian's Prometheus 2.42 on 127.0.0.1 and a free port, ready to query. */
export async function startPrometheus(opts: PrometheusOptions): Promise<PrometheusHandle> {
  const port = await freePort();
  const dataDir = opts.dataDir ?? join(opts.dir, 'data');
  await mkdir(dataDir, { recursive: true });
  const configFile = join(opts.dir, 'prometheus.yml');
  await writeFile(
    configFile,
    stringify({
      global: {
        scrape_interval: opts.scrapeInterval ?? '15s',
        evaluation_interval: opts.scrapeInterval ?? '15s',
        ...(opts.externalLabels ? { external_labels: opts.externalLabels } : {}),
      },
      scrape_configs: [
        ...(opts.scrapeConfigs ?? []),
        ...(opts.scrapeSelf ? [{ job_name: 'prometheus', static_configs: [{ targets: [`127.0.0.1:${port}`] }] }] : []),
      ],
    }),
  );
  const block = opts.blockDuration ?? '2h';
  const proc = startProcess(
    'prometheus',
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${dataDir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--storage.tsdb.min-block-duration=${block}`,
      `--storage.tsdb.max-block-duration=${opts.maxBlockDuration ?? block}`,
      `--storage.tsdb.retention.time=${opts.retention ?? '100y'}`,
      '--web.enable-lifecycle',
      ...(opts.extraArgs ?? []),
    ],
    { logFile: join(opts.dir, `prometheus-${port}.log`) },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/-/ready`, { proc });
  return {
    url,
    port,
    dataDir,
    proc,
    stop: () => proc.stop(),
    async api<T>(path: string, params: Record<string, string | string[]> = {}): Promise<T> {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) qs.append(k, x);
      const res = await fetch(`${url}/api/v1/${path}?${qs}`);
      const body = (await res.json()) as { status: string; data: T; error?: string };
      if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error}`);
      return body.data;
    },
  };
}

/** Runs promtool with the given arguments; returns stdout. Large outputs are allowed. */
export async function promtool(args: string[], opts: { cwd?: string } = {}): Promise<string> {
  const { stdout } = await execFileP('promtool', args, { cwd: opts.cwd, maxBuffer: 1 << 30 });
  return stdout;
}
