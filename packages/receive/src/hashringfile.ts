/**
 * The hashring configuration, given inline (--receive.hashrings) or as a file (--receive.hashrings-file)
 * that is watched as Thanos' ConfigWatcher watches it: on a change in its directory (Kubernetes swaps a
 * ConfigMap's files by renaming a symlink) and every --receive.hashrings-file-refresh-interval besides.
 * A changed file is loaded when it is valid; an invalid one is logged and counted, and the hashring in
 * use stays. Until a first valid one is loaded, the receiver is not ready.
 */
import { createHash } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Logger } from '@strata/runtime';
import { Counter, Gauge, type Registry } from 'prom-client';
import { type HashringConfig, parseHashringsConfig } from './hashring.js';

export type HashringSource = { content: string } | { file: string; refreshIntervalMs: number };

export interface HashringFileOptions {
  source: HashringSource;
  /** Called with each valid configuration that differs from the last; throws if it cannot take it (it is then not loaded). */
  onChange: (configs: HashringConfig[]) => void;
  registry: Registry;
  logger: Logger;
}

export class HashringFile {
  readonly #opts: HashringFileOptions;
  readonly #metrics: HashringFileMetrics;
  #hash = '';
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #loading: Promise<void> = Promise.resolve();
  #loaded = false;

  private constructor(opts: HashringFileOptions) {
    this.#opts = opts;
    this.#metrics = new HashringFileMetrics(opts.registry);
  }

  /** Loads the configuration and starts watching its file. Throws when inline content is invalid. */
  static async start(opts: HashringFileOptions): Promise<HashringFile> {
    const h = new HashringFile(opts);
    const { source } = opts;
    if ('content' in source) {
      h.#apply(source.content);
      return h;
    }
    await h.#reload('start');
    try {
      h.#watcher = watch(dirname(source.file), (_event, name) => {
        if (name === null || name === basename(source.file) || name.startsWith('..')) h.#schedule('change');
      });
      h.#watcher.on('error', (err) => opts.logger.warn('watching the hashring file failed; it is still read every refresh interval', { err }));
    } catch (err) {
      opts.logger.warn('watching the hashring file failed; it is still read every refresh interval', { err: err as Error });
    }
    h.#timer = setInterval(() => h.#schedule('refresh'), source.refreshIntervalMs);
    h.#timer.unref();
    return h;
  }

  /** Whether a valid configuration was loaded. */
  get loaded(): boolean {
    return this.#loaded;
  }

  stop(): void {
    this.#watcher?.close();
    clearInterval(this.#timer);
  }

  #schedule(why: 'change' | 'refresh'): void {
    this.#loading = this.#loading.then(() => this.#reload(why));
  }

  async #reload(why: 'start' | 'change' | 'refresh'): Promise<void> {
    const { source, logger } = this.#opts;
    if (!('file' in source)) return;
    if (why === 'refresh') this.#metrics.refreshes.inc();
    let content: string;
    try {
      content = await readFile(source.file, 'utf8');
    } catch (err) {
      this.#failed(`reading the hashring file ${source.file} failed`, err as Error);
      return;
    }
    try {
      this.#apply(content);
    } catch (err) {
      this.#failed(`the hashring file ${source.file} is not valid; the hashring in use stays`, err as Error);
      return;
    }
    if (why !== 'start') logger.debug('hashring file checked', { file: source.file });
  }

  /** Loads `content` if it differs from what is loaded; throws when it is not valid. */
  #apply(content: string): void {
    const hash = createHash('sha256').update(content).digest();
    const hex = hash.toString('hex');
    if (hex === this.#hash) return;
    const configs = parseHashringsConfig(content);
    // Taken by the receiver first: a configuration it cannot build a hashring of is not loaded.
    this.#opts.onChange(configs);
    if (this.#hash !== '') this.#metrics.changes.inc();
    this.#hash = hex;
    this.#loaded = true;
    this.#metrics.loaded(configs, hash);
    this.#opts.logger.info('hashring configuration loaded', { hashrings: configs.length, nodes: new Set(configs.flatMap((c) => c.endpoints.map((e) => e.address))).size });
  }

  #failed(msg: string, err: Error): void {
    this.#metrics.errors.inc();
    this.#metrics.lastReloadSuccessful.set(0);
    this.#opts.logger.error(msg, { err });
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
