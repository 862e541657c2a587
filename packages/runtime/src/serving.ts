import { observeAll, type GrpcServerObserver } from './grpcobserver.js';
import type { HttpServerOptions } from './http.js';
import type { Logger } from './logger.js';
import { grpcRequestLogger, type RequestLogging } from './requestlog.js';
import type { WebConfig } from './webauth.js';

/**
 * How a component serves HTTP and gRPC, as its command's flags set it: Thanos' --http.config,
 * --http-grace-period, --grpc-grace-period, --grpc-server-max-connection-age and --request.logging-config.
 */
export interface ServingConfig {
  /** TLS, basic authentication and response headers of the HTTP server. */
  httpWebConfig?: WebConfig;
  /** How long in-flight HTTP requests, and StoreAPI calls, may finish when the component stops (each 5s by default). */
  httpGracePeriodMs?: number;
  grpcGracePeriodMs?: number;
  /** How long a StoreAPI client's connection is kept before it is asked to reconnect (Thanos' --grpc-server-max-connection-age). */
  grpcMaxConnectionAgeMs?: number;
  /** Which requests and calls are logged. */
  requestLogging?: RequestLogging;
}

/** A component's serving config as startHttpServer takes it. */
export function httpServing(cfg: ServingConfig): Pick<HttpServerOptions, 'web' | 'gracePeriodMs' | 'requestLog'> {
  return {
    ...(cfg.httpWebConfig !== undefined ? { web: cfg.httpWebConfig } : {}),
    ...(cfg.httpGracePeriodMs !== undefined ? { gracePeriodMs: cfg.httpGracePeriodMs } : {}),
    ...(cfg.requestLogging?.http !== undefined ? { requestLog: cfg.requestLogging.http } : {}),
  };
}

/** A component's serving config as serveStore takes it: the grace period, the connection age, and `metrics` with the call logging. */
export function grpcServing(cfg: ServingConfig, metrics: GrpcServerObserver, logger: Logger): { gracePeriodMs?: number; maxConnectionAgeMs?: number; observer: GrpcServerObserver } {
  const policy = cfg.requestLogging?.grpc;
  return {
    ...(cfg.grpcGracePeriodMs !== undefined ? { gracePeriodMs: cfg.grpcGracePeriodMs } : {}),
    ...(cfg.grpcMaxConnectionAgeMs !== undefined ? { maxConnectionAgeMs: cfg.grpcMaxConnectionAgeMs } : {}),
    observer: policy !== undefined ? observeAll(metrics, grpcRequestLogger(logger, policy)) : metrics,
  };
}
