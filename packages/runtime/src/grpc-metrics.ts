import type { Registry } from 'prom-client';
import { grpcMethodType, type GrpcServerObserver } from './grpcobserver.js';
import { scrapedCounter, scrapedHistogram, type CountCell, type HistogramCell } from './scraped.js';

/**
 * gRPC server metrics with go-grpc-prometheus' names, which Thanos dashboards and alerts use:
 * grpc_server_started_total, grpc_server_handled_total{grpc_code}, grpc_server_handling_seconds.
 * The returned object fits the StoreAPI server's observer hook.
 */
export function grpcServerMetrics(registry: Registry): GrpcServerObserver {
  const labelNames = ['grpc_service', 'grpc_method', 'grpc_type'] as const;
  const started = scrapedCounter(registry, 'grpc_server_started_total', 'Total number of RPCs started on the server.', labelNames);
  const handled = scrapedCounter(registry, 'grpc_server_handled_total', 'Total number of RPCs completed on the server, regardless of success or failure.', [...labelNames, 'grpc_code']);
  const seconds = scrapedHistogram(
    registry,
    'grpc_server_handling_seconds',
    'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.',
    labelNames,
    [0.001, 0.01, 0.1, 0.3, 0.6, 1, 3, 6, 9, 20, 30, 60, 90, 120],
  );
  // Each method's cells, made when it is first called.
  interface MethodMetrics {
    labels: Record<(typeof labelNames)[number], string>;
    started: CountCell;
    seconds: HistogramCell;
    handled: Map<string, CountCell>;
  }
  // By service, then method: a key joined from both was a string built and hashed twice a call.
  const byService = new Map<string, Map<string, MethodMetrics>>();
  const of = (service: string, method: string): MethodMetrics => {
    let methods = byService.get(service);
    if (methods === undefined) byService.set(service, (methods = new Map()));
    let m = methods.get(method);
    if (m === undefined) {
      const labels = { grpc_service: service, grpc_method: method, grpc_type: grpcMethodType(method) };
      m = { labels, started: started(labels), seconds: seconds(labels), handled: new Map() };
      methods.set(method, m);
    }
    return m;
  };
  return {
    started: (service, method) => {
      of(service, method).started.value++;
    },
    handled: (service, method, code, s) => {
      const m = of(service, method);
      let h = m.handled.get(code);
      if (h === undefined) m.handled.set(code, (h = handled({ ...m.labels, grpc_code: code })));
      h.value++;
      m.seconds.observe(s);
    },
  };
}
