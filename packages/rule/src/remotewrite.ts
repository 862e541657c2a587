/**
 * The stateless ruler's output: rule results sent with Prometheus' remote write 1.0 to every
 * `--remote-write.config` endpoint, as Prometheus' QueueManager sends them (one shard per endpoint).
 *
 * A request is a prompb.WriteRequest, snappy-compressed in the block format (not framed):
 *
 *   POST <url>
 *   Content-Encoding: snappy
 *   Content-Type: application/x-protobuf
 *   User-Agent: Strata/<version>
 *   X-Prometheus-Remote-Write-Version: 0.1.0
 *
 *   WriteRequest { repeated TimeSeries timeseries = 1 }
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2 }
 *   Sample       { double value = 1; int64 timestamp = 2 }   (milliseconds)
 *
 * A 5xx answer or no answer is retried with exponential backoff (min_backoff doubling up to max_backoff),
 * as is a 429 with retry_on_http_429 (after its Retry-After); any other answer but 2xx fails the batch.
 * Batches go one at a time, so each series' samples arrive in the order they were appended.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { nopLogger, STRATA_VERSION, type Logger } from '@strata/runtime';
import { ProtoWriter, writeTimeSeries, type PromTimeSeries } from '@strata/storeapi';
import { tlsConnectOptions } from '@strata/objstore';
import type { FloatHistogram, Label } from '@strata/tsdb';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { compressSync } from 'snappy';
import { authorization } from '@strata/sidecar';
import { HttpPoster, redactedUrl, statusText, type PostResult } from './httppost.js';
import type { RemoteWriteConfig } from './remotewriteconfig.js';

export interface RemoteWriteSample {
  /** Milliseconds since the epoch. */
  t: number;
  v: number;
  /** A native histogram sample (`v` unused): sent only with send_native_histograms. */
  h?: FloatHistogram;
}

export interface RemoteWriteSeries {
  labels: readonly Label[];
  samples: readonly RemoteWriteSample[];
}

export interface RemoteWriteOptions {
  /** Where the prometheus_remote_storage_* metrics go. */
  registry: Registry;
  logger?: Logger;
  /** The ruler's external labels: added to each series that lacks them, before write_relabel_configs (Prometheus' global.external_labels). */
  externalLabels?: Iterable<Label>;
  /** How long close() keeps sending what is queued before it drops the rest (Prometheus' flush deadline: 1m). */
  flushDeadlineMs?: number;
}

const DEFAULT_FLUSH_DEADLINE_MS = 60_000;
/** Of an error answer, only the first line of its first bytes is logged, as Prometheus does. */
const MAX_ERROR_MESSAGE_BYTES = 1024;

const REQUEST_HEADERS: Readonly<Record<string, string>> = {
  'Content-Encoding': 'snappy',
  'Content-Type': 'application/x-protobuf',
  'User-Agent': `Strata/${STRATA_VERSION}`,
  'X-Prometheus-Remote-Write-Version': '0.1.0',
};

/** Sends what is appended to every configured endpoint, each with its own queue. */
export class RemoteWriteStorage {
  readonly #queues: QueueManager[];

  constructor(configs: readonly RemoteWriteConfig[], opts: RemoteWriteOptions) {
    const metrics = new RemoteWriteMetrics(opts.registry);
    this.#queues = configs.map((cfg) => new QueueManager(cfg, metrics, opts));
  }

  /** Queues the samples; never waits. Samples appended after close() are dropped. */
  append(series: readonly RemoteWriteSeries[]): void {
    for (const q of this.#queues) q.append(series);
  }

  /** Sends what is queued (retrying as usual) for up to the flush deadline, then drops what is left. */
  async close(): Promise<void> {
    await Promise.all(this.#queues.map((q) => q.close()));
  }
}

/** Prometheus' metric names and help; every series is labelled with the queue's `remote_name` and `url`. */
class RemoteWriteMetrics {
  readonly samples: Counter<'remote_name' | 'url'>;
  readonly failed: Counter<'remote_name' | 'url'>;
  readonly retried: Counter<'remote_name' | 'url'>;
  readonly dropped: Counter<'remote_name' | 'url'>;
  readonly pending: Gauge<'remote_name' | 'url'>;
  readonly sendDuration: Histogram<'remote_name' | 'url'>;

  constructor(registry: Registry) {
    const labelNames = ['remote_name', 'url'] as const;
    // A storage made again (a configuration reload) counts on in the metrics of the one before.
    const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
    const counter = (name: string, help: string) => get(name, () => new Counter({ name, help, labelNames, registers: [registry] }));
    this.samples = counter('prometheus_remote_storage_samples_total', 'Total number of samples sent to remote storage.');
    this.failed = counter('prometheus_remote_storage_samples_failed_total', 'Total number of samples which failed on send to remote storage, non-recoverable errors.');
    this.retried = counter('prometheus_remote_storage_samples_retried_total', 'Total number of samples which failed on send to remote storage but were retried because the send error was recoverable.');
    this.dropped = counter('prometheus_remote_storage_samples_dropped_total', 'Total number of samples which were dropped before being sent via remote write, either via relabelling or because the queue was full.');
    this.pending = get('prometheus_remote_storage_samples_pending', () => new Gauge({ name: 'prometheus_remote_storage_samples_pending', help: 'The number of samples pending in the queues shards to be sent to the remote storage.', labelNames, registers: [registry] }));
    this.sendDuration = get(
      'prometheus_remote_storage_sent_batch_duration_seconds',
      () =>
        new Histogram({
          name: 'prometheus_remote_storage_sent_batch_duration_seconds',
          help: 'Duration of send calls to the remote storage.',
          labelNames,
          // Prometheus' DefBuckets and 25, 60, 120, 300.
          buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 120, 300],
          registers: [registry],
        }),
    );
  }
}

interface Pending {
  labels: readonly Label[];
  key: string;
  t: number;
  v: number;
  h: FloatHistogram | undefined;
}

/** An error answer or a failed request: whether it is retried, and after how long if the server said. */
interface SendError {
  message: string;
  recoverable: boolean;
  retryAfterMs?: number;
}

/** One endpoint's queue and sender. */
class QueueManager {
  readonly #cfg: RemoteWriteConfig;
  readonly #logger: Logger;
  readonly #poster: HttpPoster;
  readonly #external: readonly Label[];
  readonly #flushDeadlineMs: number;
  readonly #labels: { remote_name: string; url: string };
  readonly #m: RemoteWriteMetrics;
  #queue: Pending[] = [];
  /** When the batch being filled was started: it is sent batch_send_deadline after, full or not. */
  #batchStartedAt = 0;
  #closing = false;
  readonly #abort = new AbortController();
  #wake: (() => void) | undefined;
  readonly #running: Promise<void>;

  constructor(cfg: RemoteWriteConfig, metrics: RemoteWriteMetrics, opts: RemoteWriteOptions) {
    this.#cfg = cfg;
    const url = redactedUrl(new URL(cfg.url));
    this.#labels = { remote_name: cfg.name, url };
    this.#logger = (opts.logger ?? nopLogger).with({ component: 'remote', remote_name: cfg.name, url });
    this.#m = metrics;
    this.#external = [...(opts.externalLabels ?? [])];
    this.#flushDeadlineMs = opts.flushDeadlineMs ?? DEFAULT_FLUSH_DEADLINE_MS;
    const auth = () => {
      const value = authorization(cfg.http);
      return { ...cfg.headers, ...(value !== undefined ? { Authorization: value } : {}) };
    };
    this.#poster = new HttpPoster(cfg.url, { timeoutMs: cfg.remoteTimeoutMs, tls: tlsConnectOptions(cfg.http.tls, `remote_write ${cfg.name}: tls_config`), headers: auth });
    this.#m.pending.set(this.#labels, 0);
    this.#running = this.#run();
  }

  append(series: readonly RemoteWriteSeries[]): void {
    const wasEmpty = this.#queue.length === 0;
    let added = 0;
    let dropped = 0;
    for (const s of series) {
      const labels = this.#closing ? undefined : this.#process(s.labels);
      if (labels === undefined) {
        dropped += s.samples.length;
        continue;
      }
      const key = labels.map((l) => `${l.name}\xff${l.value}`).join('\xff');
      for (const { t, v, h } of s.samples) {
        // As Prometheus' WAL watcher: histograms are read only for an endpoint that takes them.
        if (h !== undefined && !this.#cfg.sendNativeHistograms) continue;
        this.#queue.push({ labels, key, t, v, h });
        added++;
      }
    }
    this.#m.pending.inc(this.#labels, added);
    const over = this.#queue.length - this.#cfg.queue.capacity;
    if (over > 0) {
      this.#queue.splice(0, over);
      this.#m.pending.dec(this.#labels, over);
      dropped += over;
      this.#logger.warn('Remote write queue full, dropping the oldest samples', { dropped: over });
    }
    if (dropped > 0) this.#m.dropped.inc(this.#labels, dropped);
    if (added === 0) return;
    if (wasEmpty) this.#batchStartedAt = performance.now();
    if (wasEmpty || this.#queue.length >= this.#cfg.queue.maxSamplesPerSend) this.#wake?.();
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.#wake?.();
    const deadline = setTimeout(() => this.#abort.abort(), this.#flushDeadlineMs);
    await this.#running;
    clearTimeout(deadline);
  }

  /** The series' labels as sent: external labels added where missing, then write_relabel_configs; undefined if dropped. */
  #process(labels: readonly Label[]): Label[] | undefined {
    const set: Record<string, string> = {};
    for (const l of labels) set[l.name] = l.value;
    for (const l of this.#external) if (!(l.name in set)) set[l.name] = l.value;
    const relabelled = this.#cfg.writeRelabel.empty ? set : this.#cfg.writeRelabel.process(set);
    if (relabelled === undefined) return undefined;
    const names = Object.keys(relabelled).filter((n) => relabelled[n] !== '').sort();
    return names.length === 0 ? undefined : names.map((name) => ({ name, value: relabelled[name] as string }));
  }

  async #run(): Promise<void> {
    const { maxSamplesPerSend, batchSendDeadlineMs } = this.#cfg.queue;
    while (!this.#abort.signal.aborted) {
      const waited = performance.now() - this.#batchStartedAt;
      if (this.#queue.length > 0 && (this.#closing || this.#queue.length >= maxSamplesPerSend || waited >= batchSendDeadlineMs)) {
        const batch = this.#queue.splice(0, maxSamplesPerSend);
        this.#batchStartedAt = performance.now();
        await this.#send(batch);
        this.#m.pending.dec(this.#labels, batch.length);
        continue;
      }
      if (this.#closing) return;
      await new Promise<void>((resolve) => {
        const timer = this.#queue.length > 0 ? setTimeout(resolve, batchSendDeadlineMs - waited) : undefined;
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
    const left = this.#queue.length;
    if (left > 0) {
      this.#queue = [];
      this.#m.dropped.inc(this.#labels, left);
      this.#m.pending.dec(this.#labels, left);
      this.#logger.warn('Remote write flush deadline passed, dropping the samples not sent', { dropped: left, flush_deadline_ms: this.#flushDeadlineMs });
    }
  }

  /** Sends a batch until it is written, fails for good, or close() gives up. */
  async #send(batch: readonly Pending[]): Promise<void> {
    const body = compressSync(encodeWriteRequest(batch));
    const n = batch.length;
    const { minBackoffMs, maxBackoffMs } = this.#cfg.queue;
    const signal = this.#abort.signal;
    let backoffMs = minBackoffMs;
    for (;;) {
      this.#m.samples.inc(this.#labels, n);
      const start = performance.now();
      const err = await this.#attempt(body, signal);
      this.#m.sendDuration.observe(this.#labels, (performance.now() - start) / 1000);
      if (err === undefined) return;
      if (signal.aborted) break;
      if (!err.recoverable) {
        this.#m.failed.inc(this.#labels, n);
        this.#logger.error('non-recoverable error', { count: n, err: err.message });
        return;
      }
      const waitMs = err.retryAfterMs ?? backoffMs;
      try {
        await sleep(waitMs, undefined, { signal });
      } catch {
        break;
      }
      this.#m.retried.inc(this.#labels, n);
      this.#logger.warn('Failed to send batch, retrying', { err: err.message });
      backoffMs = Math.min(waitMs * 2, maxBackoffMs);
    }
    this.#m.dropped.inc(this.#labels, n);
    this.#logger.warn('Remote write flush deadline passed, dropping a batch being retried', { dropped: n });
  }

  async #attempt(body: Buffer, signal: AbortSignal): Promise<SendError | undefined> {
    let res: PostResult;
    try {
      res = await this.#poster.post(body, REQUEST_HEADERS, signal);
    } catch (e) {
      return { message: (e as Error).message, recoverable: true };
    }
    if (res.status >= 200 && res.status < 300) return undefined;
    const line = res.body.subarray(0, MAX_ERROR_MESSAGE_BYTES).toString('utf8').split('\n')[0] ?? '';
    const message = `server returned HTTP status ${statusText(res.status)}: ${line}`;
    if (res.status >= 500 && res.status < 600) return { message, recoverable: true };
    if (res.status === 429 && this.#cfg.queue.retryOnHttp429) {
      const retryAfterMs = retryAfter(res.headers.get('retry-after'));
      return { message, recoverable: true, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    }
    return { message, recoverable: false };
  }
}

/** A batch as a prompb.WriteRequest: one TimeSeries per series, its samples in the order appended. */
function encodeWriteRequest(batch: readonly Pending[]): Buffer {
  const series = new Map<string, PromTimeSeries>();
  for (const p of batch) {
    let ts = series.get(p.key);
    if (ts === undefined) series.set(p.key, (ts = { labels: p.labels, samples: [], histograms: [] }));
    if (p.h !== undefined) ts.histograms.push({ timestamp: p.t, h: p.h });
    else ts.samples.push({ value: p.v, timestamp: p.t });
  }
  const w = new ProtoWriter(64 + batch.length * 16);
  for (const ts of series.values()) writeTimeSeries(w, 1, ts);
  return w.finish();
}

/** A Retry-After header (seconds, or an HTTP date) in ms from now; undefined if absent, invalid or past. */
function retryAfter(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}
