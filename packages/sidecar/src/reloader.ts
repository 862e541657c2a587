/**
 * The sidecar's configuration reloader (Thanos' `--reloader.*`): keeps Prometheus running on the
 * configuration and rules on disk. The configuration file may be a template: its `$(NAME)` references
 * are replaced by environment variables and the result written where Prometheus reads its
 * configuration (`--reloader.config-envsubst-file`); a gzipped file is read as well. Whenever that
 * result or a file in a rule directory changes, Prometheus is asked to reload (POST /-/reload, which
 * Prometheus serves with `--web.enable-lifecycle`; or, with `--reloader.method=signal`, a SIGHUP to the
 * processes named `--reloader.process-name`); a reload that fails is tried again every retry interval
 * until one succeeds. Changes are noticed from file-system notifications and, should those be
 * missed (network file systems, Kubernetes' symlink swaps of a ConfigMap), every watch interval.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { FileWatch, type Logger } from '@strata/runtime';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { PrometheusClient } from './promclient.js';
import { signalProcesses } from './procsignal.js';

/** How Prometheus is asked to reload (Thanos' --reloader.method). */
export type ReloadMethod = 'http' | 'signal';

export interface ReloaderOptions {
  /** Asked to reload over HTTP (POST /-/reload) with the http method. */
  prometheus: PrometheusClient;
  /** --reloader.method: POST /-/reload (http, the default), or SIGHUP to the processes named `processName` (signal). */
  method?: ReloadMethod;
  /** --reloader.process-name: the executable name of the processes the signal method signals (default prometheus). */
  processName?: string;
  /** --reloader.config-file: Prometheus' configuration, or a template of it. */
  configFile?: string | undefined;
  /** --reloader.config-envsubst-file: where the configuration goes with its `$(NAME)` references substituted. */
  configOutputFile?: string | undefined;
  /** --reloader.rule-dir: directories whose files Prometheus loads as rules. */
  ruleDirs?: readonly string[];
  /** --reloader.watch-interval: how often everything is checked besides notifications (default 3m). */
  watchIntervalMs?: number;
  /** --reloader.retry-interval: how soon a failed reload is tried again (default 5s). */
  retryIntervalMs?: number;
  registry: Registry;
  logger: Logger;
  /** The environment `$(NAME)` is looked up in (default: this process'). */
  env?: NodeJS.ProcessEnv;
}

/** Notifications within this long are one change (an editor's or Kubernetes' several writes). */
const DEBOUNCE_MS = 100;
const GZIP_MAGIC = [0x1f, 0x8b];

export class Reloader {
  readonly #opts: ReloaderOptions;
  readonly #log: Logger;
  readonly #metrics: ReturnType<typeof reloaderMetrics>;
  #watch: FileWatch | undefined;
  /** Retries of failed reloads. */
  readonly #timers = new Set<NodeJS.Timeout>();
  /** The hash of what Prometheus last reloaded successfully (configuration and rules). */
  #applied: string | undefined;
  /** The check running, and whether another was asked for meanwhile. */
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(opts: ReloaderOptions) {
    this.#opts = opts;
    this.#log = opts.logger.with({ component: 'reloader' });
    this.#metrics = reloaderMetrics(opts.registry);
  }

  /** Watches the files and applies them now (reloading Prometheus, as at every change). */
  start(): void {
    const dirs = [...new Set([...(this.#opts.configFile !== undefined ? [dirname(this.#opts.configFile)] : []), ...(this.#opts.ruleDirs ?? [])])];
    // Writing the output file is no change to apply: a check it scheduled could read the template while
    // someone else writes it (truncated, empty) and apply that.
    const out = this.#opts.configOutputFile;
    const outDir = out === undefined ? undefined : dirname(out);
    const ownNames = out === undefined ? new Set<string>() : new Set([basename(out), basename(outputTemp(out))]);
    const own = (dir: string, name: string | null) => dir === outDir && name !== null && ownNames.has(name);
    this.#watch = new FileWatch({
      dirs,
      relevant: (dir, name) => !own(dir, name),
      debounceMs: DEBOUNCE_MS,
      intervalMs: this.#opts.watchIntervalMs ?? 180_000,
      onChange: () => void this.check(),
      onNotification: () => this.#metrics.watchEvents.inc(),
      onWatchError: (dir, err) => {
        this.#metrics.watchErrors.inc();
        this.#log.warn('cannot watch; checking every watch interval only', { dir, err });
      },
    });
    this.#metrics.watches.set(this.#watch.watching);
    void this.check();
  }

  /** Applies the files now if they changed since Prometheus last reloaded them; resolves when done. */
  check(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#running !== undefined) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        await this.#apply();
      } while (this.#again && !this.#stopped);
    })().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#watch?.close();
    for (const t of this.#timers) clearTimeout(t);
    await this.#running;
  }

  /** Checks again in `ms`. */
  #after(ms: number): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      void this.check();
    }, ms);
    t.unref();
    this.#timers.add(t);
  }

  async #apply(): Promise<void> {
    const hash = createHash('sha256');
    try {
      const config = await this.#config();
      if (config !== undefined) hash.update(config);
      for (const dir of this.#opts.ruleDirs ?? []) await hashRuleDir(dir, hash);
    } catch (e) {
      this.#metrics.applyFailures.inc();
      this.#log.error('cannot apply the configuration', { err: e as Error });
      return;
    }
    const digest = hash.digest('hex');
    if (digest === this.#applied) return;
    try {
      await this.#reload();
    } catch (e) {
      this.#metrics.reloadFailures.inc();
      this.#metrics.lastReloadSuccessful.set(0);
      this.#log.warn('Prometheus did not reload; trying again', { err: e as Error, retry_in_ms: this.#opts.retryIntervalMs ?? 5_000 });
      this.#after(this.#opts.retryIntervalMs ?? 5_000);
      return;
    }
    this.#applied = digest;
    this.#metrics.reloads.inc();
    this.#metrics.lastReloadSuccessful.set(1);
    this.#metrics.lastReloadSuccess.set(Date.now() / 1000);
    this.#log.info('Prometheus reloaded its configuration and rules');
  }

  /** Has Prometheus load its configuration and rules again, as the method says. */
  async #reload(): Promise<void> {
    if (this.#opts.method === 'signal') await signalProcesses(this.#opts.processName ?? 'prometheus', 'SIGHUP');
    else await this.#opts.prometheus.reload();
  }

  /** The configuration as Prometheus is to read it, written to the output file where one is given; undefined without a configuration file. */
  async #config(): Promise<Buffer | undefined> {
    const { configFile, configOutputFile } = this.#opts;
    if (configFile === undefined) return undefined;
    let raw = await readFile(configFile);
    if (raw[0] === GZIP_MAGIC[0] && raw[1] === GZIP_MAGIC[1]) raw = gunzipSync(raw);
    if (configOutputFile === undefined) return raw;
    const out = Buffer.from(substituteEnv(raw.toString('utf8'), this.#opts.env ?? process.env, configFile));
    const current = await readFile(configOutputFile).catch(() => undefined);
    if (current === undefined || !current.equals(out)) {
      // Written whole and renamed into place: Prometheus never reads half a configuration.
      const tmp = outputTemp(configOutputFile);
      await writeFile(tmp, out);
      await rename(tmp, configOutputFile);
      this.#metrics.applies.inc();
    }
    return out;
  }
}

/** Where the output is written before it is renamed into place. */
function outputTemp(configOutputFile: string): string {
  return `${configOutputFile}.tmp`;
}

/** `text` with every `$(NAME)` replaced by the environment variable NAME; an unset one is an error, as in Thanos. */
export function substituteEnv(text: string, env: NodeJS.ProcessEnv, what: string): string {
  return text.replace(/\$\(([a-zA-Z_][a-zA-Z0-9_]*)\)/g, (_, name: string) => {
    const v = env[name];
    if (v === undefined) throw new Error(`${what}: found reference to unset environment variable ${JSON.stringify(name)}`);
    return v;
  });
}

/** Adds the names and contents of the files in `dir` (not its subdirectories; symlinks followed, as Kubernetes mounts ConfigMaps) to `hash`. */
async function hashRuleDir(dir: string, hash: ReturnType<typeof createHash>): Promise<void> {
  const names = (await readdir(dir)).sort();
  for (const name of names) {
    const path = join(dir, name);
    const st = await stat(path).catch(() => undefined);
    if (st === undefined || !st.isFile()) continue;
    hash.update(`\0${name}\0`);
    hash.update(await readFile(path));
  }
}

function reloaderMetrics(registry: Registry) {
  const registers = [registry];
  return {
    reloads: new Counter({ name: 'strata_sidecar_reloader_reloads_total', help: 'Total number of reload requests.', registers }),
    reloadFailures: new Counter({ name: 'strata_sidecar_reloader_reloads_failed_total', help: 'Total number of reload requests that failed.', registers }),
    lastReloadSuccessful: new Gauge({ name: 'strata_sidecar_reloader_last_reload_successful', help: 'Whether the last reload attempt was successful.', registers }),
    lastReloadSuccess: new Gauge({ name: 'strata_sidecar_reloader_last_reload_success_timestamp_seconds', help: 'Timestamp of the last successful reload.', registers }),
    applies: new Counter({ name: 'strata_sidecar_reloader_config_apply_operations_total', help: 'Total number of config apply operations.', registers }),
    applyFailures: new Counter({ name: 'strata_sidecar_reloader_config_apply_operations_failed_total', help: 'Total number of config apply operations that failed.', registers }),
    watches: new Gauge({ name: 'strata_sidecar_reloader_watches', help: 'Number of resources watched by the reloader.', registers }),
    watchEvents: new Counter({ name: 'strata_sidecar_reloader_watch_events_total', help: 'Total number of events received by the reloader from the watcher.', registers }),
    watchErrors: new Counter({ name: 'strata_sidecar_reloader_watch_errors_total', help: 'Total number of errors received by the reloader from the watcher.', registers }),
  };
}
