import { execFile } from 'node:child_process';
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

/** Runs promtool with the given arguments; returns stdout. Large outputs are allowed. */
export async function promtool(args: string[], opts: { cwd?: string } = {}): Promise<string> {
  const { stdout } = await execFileP('promtool', args, { cwd: opts.cwd, maxBuffer: 1 << 30 });
  return stdout;
}
