/**
 * A receiver's writes over its hashring: the hashring loaded from its configuration and followed
 * (hashringfile.ts), each write distributed by the router (router.ts). As Thanos' receivers, one with a
 * local endpoint stores what the hashring gives it and takes a forwarded copy as a copy; one without
 * (a router only) takes every write as new, the copy numbers being for the receivers that store.
 */
import type { Logger } from '@strata/runtime';
import type { ClientTLS, Compression } from '@strata/storeapi';
import type { Registry } from 'prom-client';
import { type Hashring, type HashringAlgorithm, newHashring } from './hashring.js';
import { HashringFile, type HashringSource } from './hashringfile.js';
import { RouterMetrics } from './metrics.js';
import { Router } from './router.js';
import { WriteError } from './writeerror.js';
import type { LocalWrite, Write } from './writer.js';

export interface RoutingConfig {
  hashrings: HashringSource;
  /** For hashrings that name no algorithm. */
  algorithm: HashringAlgorithm;
  localEndpoint: string | undefined;
  replicationFactor: number;
  forwardTimeoutMs: number;
  forwardMaxBackoffMs: number;
  forwardTls?: ClientTLS;
  forwardCompression?: Compression;
}

export interface Routing {
  readonly write: Write;
  /** Whether a hashring is loaded (the receiver is not ready before). */
  readonly loaded: boolean;
  /** The `external_labels` of the tenant's hashring. */
  externalLabels(tenant: string): Readonly<Record<string, string>>;
  stop(): void;
}

/** Loads the hashring (throws if given inline and invalid); `loaded` is called each time one is (`changed`: it replaced another). */
export async function startRouting(cfg: RoutingConfig, writeLocal: LocalWrite, loaded: (changed: boolean) => void, registry: Registry, logger: Logger): Promise<Routing> {
  const metrics = new RouterMetrics(registry, cfg.replicationFactor);
  let hashring: Hashring | undefined;
  let router: Router | undefined;
  const file = await HashringFile.start({
    source: cfg.hashrings,
    onChange: (configs) => {
      const changed = hashring !== undefined;
      hashring = newHashring(configs, cfg.algorithm, cfg.replicationFactor);
      if (router !== undefined) router.setHashring(hashring);
      else
        router = new Router(hashring, {
          localEndpoint: cfg.localEndpoint,
          replicationFactor: cfg.replicationFactor,
          forwardTimeoutMs: cfg.forwardTimeoutMs,
          maxBackoffMs: cfg.forwardMaxBackoffMs,
          writeLocal,
          ...(cfg.forwardTls !== undefined ? { tls: cfg.forwardTls } : {}),
          ...(cfg.forwardCompression !== undefined ? { compression: cfg.forwardCompression } : {}),
          metrics,
          logger: logger.with({ component: 'receive-router' }),
        });
      loaded(changed);
    },
    registry,
    logger,
  });
  const ingests = cfg.localEndpoint !== undefined;
  return {
    write: (tenant, series, replica) => {
      if (router === undefined) throw new WriteError('not-ready', 'the hashring configuration is not loaded yet');
      return router.write(tenant, series, ingests ? replica : 0);
    },
    get loaded() {
      return file.loaded;
    },
    externalLabels: (tenant) => hashring?.externalLabels(tenant) ?? {},
    stop() {
      file.stop();
      router?.close();
    },
  };
}
