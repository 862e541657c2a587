import { Counter, Histogram, type Registry } from 'prom-client';

/**
 * gRPC server metrics with go-grpc-prometheus' names, which Thanos dashboards and alerts use:
 * grpc_server_started_total, grpc_server_handled_total{grpc_code}, grpc_server_handling_seconds.
 * The returned object fits the StoreAPI server's observer hook.
 */
export interface GrpcServerMetrics {
  started(service: string, method: string): void;
  handled(service: string, method: string, code: string, seconds: number): void;
}

export function grpcServerMetrics(registry: Registry): GrpcServerMetrics {
  const labelNames = ['grpc_service', 'grpc_method', 'grpc_type'] as const;
  const started = new Counter({ name: 'grpc_server_started_total', help: 'Total number of RPCs started on the server.', labelNames, registers: [registry] });
  const handled = new Counter({
    name: 'grpc_server_handled_total',
    help: 'Total number of RPCs completed on the server, regardless of success or failure.',
    labelNames: [...labelNames, 'grpc_code'],
    registers: [registry],
  });
  const seconds = new Histogram({
    name: 'grpc_server_handling_seconds',
    help: 'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.',
    labelNames,
    buckets: [0.001, 0.01, 0.1, 0.3, 0.6, 1, 3, 6, 9, 20, 30, 60, 90, 120],
    registers: [registry],
  });
  const type = (method: string) => (method === 'Series' ? 'server_stream' : 'unary');
  return {
    started: (service, method) => started.inc({ grpc_service: service, grpc_method: method, grpc_type: type(method) }),
    handled: (service, method, code, s) => {
      const l = { grpc_service: service, grpc_method: method, grpc_type: type(method) };
      handled.inc({ ...l, grpc_code: code });
      seconds.observe(l, s);
    },
  };
}
