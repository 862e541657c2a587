/**
 * The hashring configuration, given inline (--receive.hashrings) or as a file (--receive.hashrings-file)
 * that is followed (watchedfile.ts; --receive.hashrings-file-refresh-interval). A changed file is loaded
 * when it is valid; an invalid one is logged and counted, and the hashring in use stays. Until a first
 * valid one is loaded, the receiver is not ready.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '@strata/runtime';
import { Counter, Gauge, type Registry } from 'prom-client';
import { type HashringConfig, parseHashringsConfig } from './hashring.js';
import { WatchedFile } from './watchedfile.js';

export type HashringSource = { content: string } | { file: string; refreshIntervalMs: number };

export interface HashringFileOptions {
  source: HashringSource;
  /** Called with each valid configuration that differs from the last; throws if it cannot take it (it is then not loaded). */
  onChange: (configs: HashringConfig[]) => void;
  registry: Registry;
  logger: Logger;
}

export class HashringFile {
  readonly #watched: WatchedFile | undefined;

  private constructor(watched: WatchedFile | undefined) {
    this.#watched = watched;
  }

  /** Loads the configuration and starts following its file. Throws when inline content is invalid. */
  static async start(opts: HashringFileOptions): Promise<HashringFile> {
    const { source, logger } = opts;
    const metrics = new HashringFileMetrics(opts.registry);
    let loaded = false;
    const apply = (content: string, sha256: Buffer) => {
      const configs = parseHashringsConfig(content);
      // Taken by the receiver first: a configuration it cannot build a hashring of is not loaded.
      opts.onChange(configs);
      if (loaded) metrics.changes.inc();
      loaded = true;
      metrics.loaded(configs, sha256);
      logger.info('hashring configuration loaded', { hashrings: configs.length, nodes: new Set(configs.flatMap((c) => c.endpoints.map((e) => e.address))).size });
    };
    if ('content' in source) {
      apply(source.content, createHash('sha256').update(source.content).digest());
      return new HashringFile(undefined);
    }
    const watched = await WatchedFile.start({
      file: source.file,
      refreshIntervalMs: source.refreshIntervalMs,
      apply,
      failed: (err) => {
        metrics.errors.inc();
        metrics.lastReloadSuccessful.set(0);
        logger.error('the hashring file could not be loaded; the hashring in use stays', { file: source.file, err });
      },
      refreshed: () => metrics.refreshes.inc(),
      logger,
    });
    return new HashringFile(watched);
  }

  /** Whether a valid configuration was loaded. */
  get loaded(): boolean {
    return this.#watched?.applied ?? true;
  }

  stop(): void {
    this.#watched?.stop();
  }
}

class HashringFileMetrics {
  readonly hash: Gauge;
  readonly lastReloadSuccessful: Gauge;
  readonly lastReloadTime: Gauge;
  readonly changes: Counter;
  readonly errors: Counter;
  readonly refreshes: Counter;
  readonly nodes: Gauge<'name'>;
  readonly tenants: Gauge<'name'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.hash = new Gauge({ name: 'thanos_receive_config_hash', help: 'Hash of the currently loaded hashring configuration file.', registers });
    this.lastReloadSuccessful = new Gauge({ name: 'thanos_receive_config_last_reload_successful', help: 'Whether the last hashring configuration file reload attempt was successful.', registers });
    this.lastReloadTime = new Gauge({ name: 'thanos_receive_config_last_reload_success_timestamp_seconds', help: 'Timestamp of the last successful hashring configuration file reload.', registers });
    this.changes = new Counter({ name: 'thanos_receive_hashrings_file_changes_total', help: 'The number of times the hashrings configuration file has changed.', registers });
    this.errors = new Counter({ name: 'thanos_receive_hashrings_file_errors_total', help: 'The number of errors watching the hashrings configuration file.', registers });
    this.refreshes = new Counter({ name: 'thanos_receive_hashrings_file_refreshes_total', help: 'The number of refreshes of the hashrings configuration file.', registers });
    this.nodes = new Gauge({ name: 'thanos_receive_hashring_nodes', help: 'The number of nodes per hashring.', labelNames: ['name'], registers });
    this.tenants = new Gauge({ name: 'thanos_receive_hashring_tenants', help: 'The number of tenants per hashring.', labelNames: ['name'], registers });
  }

  loaded(configs: readonly HashringConfig[], sha256: Buffer): void {
    // As Thanos' hashAsMetricValue: the hash's first 6 bytes, which a float64 holds exactly.
    this.hash.set(sha256.readUIntBE(0, 6));
    this.lastReloadSuccessful.set(1);
    this.lastReloadTime.set(Date.now() / 1000);
    this.nodes.reset();
    this.tenants.reset();
    for (const c of configs) {
      this.nodes.set({ name: c.name }, c.endpoints.length);
      this.tenants.set({ name: c.name }, c.tenants.length);
    }
  }
}
