import { join } from 'node:path';
import { start as startQuerier, type Querier, type QuerierConfig } from '@strata/querier';
import { nopLogger } from '@strata/runtime';
import { start as startSidecar, type Sidecar } from '@strata/sidecar';
import { sleep, tempDir } from '@strata/testing/process';
import { startPrometheus, type PrometheusHandle, type PrometheusOptions } from '@strata/testing/prometheus';

/** Prometheus 2.42 replicas (`cluster="c1"`, `replica` r0, r1, …) with a sidecar each and a querier deduplicating on `replica`. */
export interface ReplicaStack {
  readonly dir: string;
  readonly replicas: PrometheusHandle[];
  readonly sidecars: Sidecar[];
  readonly querier: Querier;
  /** The querier's HTTP base URL. */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Starts `count` replicas with the options `prometheus` gives (external labels added), waits until
 * `ready` holds for each (polled every 100 ms, up to 30 s: Prometheus discovers its targets ~5 s after
 * it starts), then their sidecars and the querier (with `querierConfig` added to its configuration).
 */
export async function replicaStack(
  count: number,
  prometheus: (home: string) => Omit<PrometheusOptions, 'dir' | 'dataDir' | 'externalLabels' | 'blockDuration'>,
  ready: (prom: PrometheusHandle) => Promise<boolean> = async () => true,
  querierConfig: Partial<QuerierConfig> = {},
): Promise<ReplicaStack> {
  const dir = await tempDir('strata-replicas-');
  const replicas: PrometheusHandle[] = [];
  const sidecars: Sidecar[] = [];
  let querier: Querier | undefined;
  const stop = async () => {
    await querier?.stop();
    for (const s of sidecars) await s.stop();
    for (const p of replicas) await p.stop();
    await dir.cleanup();
  };
  try {
    for (let i = 0; i < count; i++) {
      const home = join(dir.path, `r${i}`);
      replicas.push(await startPrometheus({ ...prometheus(dir.path), dir: home, dataDir: join(home, 'data'), externalLabels: { cluster: 'c1', replica: `r${i}` }, blockDuration: '2h' }));
    }
    for (const prom of replicas) {
      for (let i = 0; i < 300 && !(await ready(prom)); i++) await sleep(100);
      sidecars.push(await startSidecar({ prometheusUrl: prom.url, tsdbPath: prom.dataDir, grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: nopLogger }));
    }
    querier = await startQuerier({ httpAddress: '127.0.0.1:0', grpcAddress: '127.0.0.1:0', endpoints: sidecars.map((s) => s.grpcAddress), replicaLabels: ['replica'], logger: nopLogger, ...querierConfig });
    return { dir: dir.path, replicas, sidecars, querier, url: `http://${querier.httpAddress}`, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * Two replicas that take native histograms by remote write and make snapshots, behind a querier
 * evaluating as Prometheus 2.42 does.
 */
export function histogramReplicaStack(): Promise<ReplicaStack> {
  return replicaStack(2, () => ({ extraArgs: ['--enable-feature=native-histograms', '--web.enable-remote-write-receiver', '--web.enable-admin-api'] }), undefined, { promqlCompat: 2 });
}

/** Prometheus' head cuts every series' chunk at multiples of its block duration (the stacks' 2h). */
const CHUNK_RANGE_MS = 2 * 3600_000;

/**
 * The first of `n` timestamps `step` apart, off the step grid as scrapes are, whose `cut`-th is the first
 * past a multiple of 2h, where Prometheus' head cuts every series' chunk; the last at least a minute ago.
 */
export function startAcrossChunkCut(n: number, step: number, cut: number): number {
  const boundary = Math.floor((Date.now() - 60_000 - (n - cut) * step) / CHUNK_RANGE_MS) * CHUNK_RANGE_MS;
  return boundary - cut * step + 2345;
}

/** Replaces what changes from one evaluation or scrape to the next (times, durations) by its shape, at any depth. */
export function stable(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (['lastEvaluation', 'activeAt', 'lastScrape'].includes(k)) out[k] = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/.test(v as string) ? 'time' : v;
    else if (['evaluationTime', 'lastScrapeDuration'].includes(k)) out[k] = typeof v === 'number' && v >= 0 ? 'seconds' : v;
    else if (Array.isArray(v)) out[k] = v.map((x) => (typeof x === 'object' && x !== null ? stable(x as Record<string, unknown>) : x));
    else out[k] = typeof v === 'object' && v !== null ? stable(v as Record<string, unknown>) : v;
  }
  return out;
}
