import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { Logger } from './logger.js';

/**
 * A component served by several processes (node:cluster), so that it uses more than one core: Node
 * runs a process' JavaScript on one thread, where Go's runtime spreads one Thanos process over all.
 * The primary process only forks the workers, restarts one that dies, stops them on SIGINT or SIGTERM
 * and collects their metrics; each worker runs the whole component. The workers share its listening
 * sockets (the primary hands each new connection to the next worker in turn), so a client's
 * connection, and every request on it, stays with one worker.
 *
 * /metrics, answered by whichever worker gets the request, is every worker's metrics put together by
 * the primary: summed (counters, histograms, and gauges of things each worker has, such as queries in
 * flight), except where a metric says otherwise (its `aggregator`: the same endpoints, seen by every
 * worker, counted once). A worker too busy to answer within a second (a long query evaluation holds
 * its thread) is counted with what it answered last, and the counters and histograms of a worker that
 * died stay in the sums, so that they never go back: Prometheus would take a drop for a reset, and a
 * rate over it would count all the other workers' totals again.
 */

/** A worker's metrics, as it sends them to the primary. */
type WorkerMetrics = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** IPC messages between the primary and its workers. */
type WorkerMessage =
  | { type: 'strata:ready' }
  | { type: 'strata:metrics-request'; id: number }
  | { type: 'strata:metrics'; id: number; text: string }
  | { type: 'strata:collect'; id: number }
  | { type: 'strata:collected'; id: number; metrics: WorkerMetrics };

/** How long the primary waits for a worker's metrics before it uses the ones it sent last. */
const COLLECT_TIMEOUT_MS = 1000;
/** How long a worker waits for the primary's answer to its /metrics request. */
const METRICS_TIMEOUT_MS = 5000;
/** A worker that dies is started again after this; one that dies before it is ready stops them all. */
const RESTART_DELAY_MS = 1000;

/** The number (1…N) of this worker process; undefined in a process that is not one. */
export function workerSlot(): number | undefined {
  if (!cluster.isWorker) return undefined;
  const slot = Number(process.env['STRATA_WORKER_SLOT']);
  return Number.isInteger(slot) && slot > 0 ? slot : undefined;
}

function isWorkerMessage(m: unknown): m is WorkerMessage {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string' && (m as { type: string }).type.startsWith('strata:');
}

const pendingMetrics = new Map<number, (text: string) => void>();
let nextMetricsRequest = 0;

/**
 * In a worker, once its component serves: answers the primary's requests for `registry`'s metrics and
 * the primary's answers to workersMetrics, and tells the primary it is ready.
 */
export function serveAsWorker(registry: Registry): void {
  process.on('message', (m: unknown) => {
    if (!isWorkerMessage(m)) return;
    if (m.type === 'strata:collect') {
      void registry.getMetricsAsJSON().then((metrics) => process.send?.({ type: 'strata:collected', id: m.id, metrics } satisfies WorkerMessage));
    } else if (m.type === 'strata:metrics') {
      pendingMetrics.get(m.id)?.(m.text);
      pendingMetrics.delete(m.id);
    }
  });
  process.send?.({ type: 'strata:ready' } satisfies WorkerMessage);
}

/** In a worker: what /metrics answers, every worker's metrics put together by the primary. */
export function workersMetrics(): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const id = nextMetricsRequest++;
    const timer = setTimeout(() => {
      pendingMetrics.delete(id);
      reject(new Error("the primary process did not answer with the workers' metrics"));
    }, METRICS_TIMEOUT_MS);
    pendingMetrics.set(id, (text) => {
      clearTimeout(timer);
      resolve(text);
    });
    process.send?.({ type: 'strata:metrics-request', id } satisfies WorkerMessage);
  });
}

/** In a worker whose component has stopped: closes the IPC channel, so that the process can exit. */
export function leaveWorkers(): void {
  cluster.worker?.disconnect();
}

export interface WorkerPoolOptions {
  /** Worker processes to run. */
  count: number;
  logger: Logger;
  /** After SIGINT or SIGTERM, how long the workers have to stop (their grace periods) before they are killed. */
  stopTimeoutMs: number;
}

/**
 * In the primary: runs `count` workers, each this process' command again, until SIGINT or SIGTERM,
 * then stops them (SIGTERM; after `stopTimeoutMs` SIGKILL) and resolves. A worker that dies is started again, and
 * counted; one that dies before it was ever ready (a flag it refuses, a port taken) stops them all and
 * rejects, as the component started on its own would fail.
 */
export async function runWorkerPool(opts: WorkerPoolOptions): Promise<void> {
  const { count, logger } = opts;
  const registry = new Registry();
  const restarts = new Counter({ name: 'strata_worker_restarts_total', help: 'Worker processes started again after one died.', registers: [registry] });
  const running = new Gauge({ name: 'strata_workers', help: 'Worker processes running.', registers: [registry] });
  // The workers' own start times are left out of their sum (prom-client's aggregator); uptime is the primary's.
  new Gauge({ name: 'process_start_time_seconds', help: 'Start time of the process since unix epoch in seconds.', registers: [registry] }).set(Math.round(Date.now() / 1000 - process.uptime()));
  const slots = new Map<Worker, number>();
  const everReady = new Set<number>();
  const lastMetrics = new Map<number, WorkerMetrics>();
  /** What workers that died had counted (counters and histograms), summed. */
  let retired: WorkerMetrics = [];
  let stopping = false;
  let failure: Error | undefined;
  let collectId = 0;
  const collects = new Map<number, Map<number, (metrics: WorkerMetrics) => void>>();

  const fork = (slot: number) => {
    const w = cluster.fork({ STRATA_WORKER_SLOT: String(slot) });
    slots.set(w, slot);
    running.set(slots.size);
    logger.info('worker started', { worker: slot, pid: w.process.pid ?? 0 });
  };

  /** Every worker's metrics, or what it sent last where it does not answer in time. */
  const collect = async (): Promise<string> => {
    const id = collectId++;
    const waiting = new Map<number, (metrics: WorkerMetrics) => void>();
    collects.set(id, waiting);
    await Promise.all(
      [...slots].map(
        ([w, slot]) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, COLLECT_TIMEOUT_MS);
            waiting.set(slot, (metrics) => {
              clearTimeout(timer);
              lastMetrics.set(slot, metrics);
              resolve();
            });
            if (w.isConnected()) w.send({ type: 'strata:collect', id } satisfies WorkerMessage);
          }),
      ),
    ).finally(() => collects.delete(id));
    return Registry.merge([AggregatorRegistry.aggregate([...lastMetrics.values(), retired]), registry]).metrics();
  };

  cluster.on('message', (w, m: unknown) => {
    if (!isWorkerMessage(m)) return;
    const slot = slots.get(w);
    if (slot === undefined) return;
    if (m.type === 'strata:ready') {
      everReady.add(slot);
    } else if (m.type === 'strata:collected') {
      collects.get(m.id)?.get(slot)?.(m.metrics);
    } else if (m.type === 'strata:metrics-request') {
      void collect().then(
        (text) => w.isConnected() && w.send({ type: 'strata:metrics', id: m.id, text } satisfies WorkerMessage),
        (e: unknown) => logger.warn('collecting the workers\' metrics failed', { err: e as Error }),
      );
    }
  });

  /** Adds a dead worker's counters and histograms (its gauges ended with it) to `retired`. */
  const retire = async (metrics: WorkerMetrics) => {
    // prom-client declares MetricType as an enum of its types' names, and exports no values for it.
    const cumulative = metrics.filter((m) => ['counter', 'histogram'].includes(m.type as unknown as string));
    retired = await AggregatorRegistry.aggregate([retired, cumulative]).getMetricsAsJSON();
  };

  let stopAll: () => void = () => {};
  const allStopped = new Promise<void>((resolve) => {
    cluster.on('exit', (w, code, signal) => {
      const slot = slots.get(w);
      if (slot === undefined) return;
      slots.delete(w);
      running.set(slots.size);
      if (stopping) {
        if (slots.size === 0) resolve();
        return;
      }
      if (!everReady.has(slot)) {
        failure = new Error(`worker ${slot} exited before it was ready (${signal ?? `code ${code}`}); its error is above`);
        logger.error('worker failed to start; stopping the others', { worker: slot, ...howEnded(code, signal) });
        stopAll();
        if (slots.size === 0) resolve();
        return;
      }
      logger.error('worker died; starting it again', { worker: slot, ...howEnded(code, signal) });
      const last = lastMetrics.get(slot);
      lastMetrics.delete(slot);
      if (last !== undefined) void retire(last);
      restarts.inc();
      setTimeout(() => {
        if (!stopping) fork(slot);
      }, RESTART_DELAY_MS).unref();
    });
  });

  stopAll = () => {
    if (stopping) return;
    stopping = true;
    for (const w of slots.keys()) w.process.kill('SIGTERM');
    setTimeout(() => {
      for (const w of slots.keys()) w.process.kill('SIGKILL');
    }, opts.stopTimeoutMs).unref();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info('shutting down the workers', { signal });
    stopAll();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  for (let slot = 1; slot <= count; slot++) fork(slot);
  await allStopped;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (failure !== undefined) throw failure;
}

/** How a worker process ended, for the log: the signal that killed it, or its exit code. */
function howEnded(code: number | null, signal: string | null): { signal: string } | { code: number } {
  return signal !== null ? { signal } : { code: code ?? 0 };
}
