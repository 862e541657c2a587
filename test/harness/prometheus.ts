import { execFile } from 'node:child_process';
import { cp, mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { startPrometheusProcess, type PrometheusProcess, type PrometheusProcessOptions } from '@strata/cli';

const execFileP = promisify(execFile);

export type PrometheusOptions = PrometheusProcessOptions;

export interface PrometheusHandle extends PrometheusProcess {
  /** GET `/api/v1/<path>` with query params; returns `data` or throws with Prometheus' error. */
  api<T = unknown>(path: string, params?: Record<string, string | string[]>): Promise<T>;
}

/** Starts Debian's Prometheus 2.42 on 127.0.0.1 and a free port, ready to query (retention 100y). */
export async function startPrometheus(opts: PrometheusOptions): Promise<PrometheusHandle> {
  const prom = await startPrometheusProcess(opts);
  return {
    ...prom,
    stop: () => prom.stop(),
    async api<T>(path: string, params: Record<string, string | string[]> = {}): Promise<T> {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) qs.append(k, x);
      const res = await fetch(`${prom.url}/api/v1/${path}?${qs}`);
      const body = (await res.json()) as { status: string; data: T; error?: string };
      if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error}`);
      return body.data;
    },
  };
}

/** Starts a Prometheus 2.42 whose data dir (`<dir>/data`) holds copies of the given block directories. */
export async function startPrometheusOn(blockDirs: readonly string[], opts: Omit<PrometheusOptions, 'dataDir'>): Promise<PrometheusHandle> {
  const dataDir = join(opts.dir, 'data');
  await mkdir(dataDir, { recursive: true });
  for (const b of blockDirs) await cp(b, join(dataDir, basename(b)), { recursive: true });
  return startPrometheus({ ...opts, dataDir });
}

/** Runs promtool with the given arguments; returns stdout. Large outputs are allowed. */
export async function promtool(args: string[], opts: { cwd?: string } = {}): Promise<string> {
  const { stdout } = await execFileP('promtool', args, { cwd: opts.cwd, maxBuffer: 1 << 30 });
  return stdout;
}

/** A series of a Prometheus range or matrix answer, as Prometheus 2.42 writes it in JSON. */
export interface MatrixSeries {
  readonly metric: Record<string, string>;
  readonly values?: [number, string][];
  readonly histograms?: [number, { count: string; sum: string; buckets?: [number, string, string, string][] }][];
}

/**
 * A matrix series' samples in time order: floats as [t, v], histograms as [t, count, sum, bucket counts…],
 * as `decodedSamples` gives them, except that Prometheus leaves out empty buckets.
 */
export function matrixSamples(s: MatrixSeries): number[][] {
  const out: number[][] = [
    ...(s.values ?? []).map(([t, v]) => [Math.round(t * 1000), Number(v)]),
    ...(s.histograms ?? []).map(([t, h]) => [Math.round(t * 1000), Number(h.count), Number(h.sum), ...(h.buckets ?? []).map((b) => Number(b[3]))]),
  ];
  return out.sort((a, b) => a[0]! - b[0]!);
}
