/**
 * Sends the ruler's alerts to Alertmanagers, as Thanos' ruler does with pkg/alert's Queue and Sender:
 * alerts are queued (the oldest dropped when the queue is full), taken in batches, and each batch is
 * POSTed to every Alertmanager at once; one failing does not keep the others from getting it, and a
 * batch is not retried (the rule manager sends firing alerts again every evaluation).
 *
 * Before queueing, an alert's labels lose the `--alert.label-drop` names, get the ruler's external labels
 * (those not dropped; they replace the alert's own) and go through `--alert.relabel-config`; an alert
 * relabelled to nothing is not sent.
 *
 * API v2 (`POST <path_prefix>/api/v2/alerts`), as Alertmanager's models.PostableAlerts, times in UTC with
 * milliseconds (go-openapi's strfmt.DateTime), Go's zero time for an unset end:
 *
 *   [{"annotations": {"summary": "…"}, "endsAt": "2024-05-01T10:04:00.000Z", "startsAt": "2024-05-01T10:00:00.000Z",
 *     "generatorURL": "http://ruler/graph?g0.expr=…", "labels": {"alertname": "HighLatency", …}}]
 *
 * API v1 (`POST <path_prefix>/api/v1/alerts`), as Thanos' alert.Alert marshals: the same fields, times
 * as Go's time.Time (RFC 3339 with nanoseconds, trailing zeros dropped).
 */
import { posix } from 'node:path';
import type { Relabeler } from '@strata/block';
import { isDnsEndpoint, nopLogger, resolveDnsEndpoint, systemResolver, type DnsResolver, type Logger } from '@strata/runtime';
import { formatGoTime, ZERO_TIME } from '@strata/storeapi';
import type { Label } from '@strata/tsdb';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { AlertmanagerConfig, AlertmanagerApiVersion } from './alertmanagerconfig.js';
import { configuredPoster, type HttpPoster, statusText } from './httppost.js';

export interface Alert {
  labels: readonly Label[];
  annotations: readonly Label[];
  /** A Date, or milliseconds since the epoch. */
  startsAt: Date | number;
  /** Unset: the alert fires until told otherwise (Alertmanager resolves it after its resolve_timeout). */
  endsAt?: Date | number;
  generatorURL?: string;
}

export interface NotifierOptions {
  /** Where the thanos_alert_* metrics go. */
  registry: Registry;
  logger?: Logger;
  /** The ruler's external labels, set on every alert. */
  externalLabels?: Iterable<Label>;
  /** `--alert.label-drop`: label names removed from alerts (external labels included), e.g. replica labels. */
  labelDrop?: readonly string[];
  /** `--alert.relabel-config`, applied last. */
  relabel?: Relabeler;
  /** Alerts queued at most (Thanos' ruler: 10000). */
  capacity?: number;
  /** Alerts per request at most (Thanos' ruler: 100). */
  maxBatchSize?: number;
  resolver?: DnsResolver;
  /** How long DNS answers are used before they are looked up again (Thanos' --alertmanagers.sd-dns-interval, 30s). */
  dnsIntervalMs?: number;
}

const DEFAULT_CAPACITY = 10_000;
const DEFAULT_MAX_BATCH_SIZE = 100;
const DEFAULT_DNS_INTERVAL_MS = 30_000;
const DEFAULT_STOP_DEADLINE_MS = 10_000;

/** The ruler's alert queue and the senders to every configured Alertmanager. */
export class Notifier {
  readonly #alertmanagers: AlertmanagerClient[];
  readonly #logger: Logger;
  readonly #drop: ReadonlySet<string>;
  readonly #external: readonly Label[];
  readonly #relabel: Relabeler | undefined;
  readonly #capacity: number;
  readonly #maxBatchSize: number;
  readonly #m: NotifierMetrics;
  #queue: Alert[] = [];
  #stopping = false;
  readonly #abort = new AbortController();
  #wake: (() => void) | undefined;
  readonly #running: Promise<void>;

  constructor(alertmanagers: readonly AlertmanagerConfig[], opts: NotifierOptions) {
    this.#logger = (opts.logger ?? nopLogger).with({ component: 'alert-sender' });
    this.#drop = new Set(opts.labelDrop ?? []);
    this.#external = [...(opts.externalLabels ?? [])].filter((l) => !this.#drop.has(l.name));
    this.#relabel = opts.relabel !== undefined && !opts.relabel.empty ? opts.relabel : undefined;
    this.#capacity = opts.capacity ?? DEFAULT_CAPACITY;
    this.#maxBatchSize = opts.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE;
    this.#m = new NotifierMetrics(opts.registry, () => this.#capacity, () => this.#queue.length);
    const resolver = opts.resolver ?? systemResolver;
    const dnsIntervalMs = opts.dnsIntervalMs ?? DEFAULT_DNS_INTERVAL_MS;
    this.#alertmanagers = alertmanagers.map((cfg) => new AlertmanagerClient(cfg, resolver, dnsIntervalMs, this.#logger));
    this.#running = this.#run();
  }

  /** Queues the alerts (their labels rewritten as configured); never waits. Alerts sent after stop() are dropped. */
  send(alerts: readonly Alert[]): void {
    if (alerts.length === 0) return;
    this.#m.pushed.inc(alerts.length);
    if (this.#stopping) {
      this.#m.queueDropped.inc(alerts.length);
      return;
    }
    for (const a of alerts) {
      const labels = this.#labels(a.labels);
      if (labels !== undefined) this.#queue.push({ ...a, labels });
    }
    const over = this.#queue.length - this.#capacity;
    if (over > 0) {
      this.#queue.splice(0, over);
      this.#m.queueDropped.inc(over);
      this.#logger.warn('Alert notification queue full, dropping alerts', { numDropped: over });
    }
    this.#wake?.();
  }

  /** Sends what is queued for up to `deadlineMs`, then drops the rest and stops. */
  async stop(deadlineMs = DEFAULT_STOP_DEADLINE_MS): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    const timer = setTimeout(() => this.#abort.abort(), deadlineMs);
    await this.#running;
    clearTimeout(timer);
  }

  #labels(labels: readonly Label[]): Label[] | undefined {
    let set: Record<string, string> = {};
    for (const l of labels) if (!this.#drop.has(l.name)) set[l.name] = l.value;
    for (const l of this.#external) set[l.name] = l.value;
    if (this.#relabel !== undefined) {
      const relabelled = this.#relabel.process(set);
      if (relabelled === undefined) return undefined;
      set = relabelled;
    }
    return Object.keys(set)
      .filter((n) => set[n] !== '')
      .sort()
      .map((name) => ({ name, value: set[name] as string }));
  }

  async #run(): Promise<void> {
    while (!this.#abort.signal.aborted) {
      if (this.#queue.length === 0) {
        if (this.#stopping) return;
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
        continue;
      }
      const batch = this.#queue.splice(0, this.#maxBatchSize);
      this.#m.popped.inc(batch.length);
      await this.#sendBatch(batch);
    }
    if (this.#queue.length > 0) {
      this.#m.queueDropped.inc(this.#queue.length);
      this.#logger.warn('Alert sender stopped before the queue was sent, dropping alerts', { numDropped: this.#queue.length });
      this.#queue = [];
    }
  }

  /** POSTs the batch to every Alertmanager at once; counts it dropped if none took it. */
  async #sendBatch(batch: readonly Alert[]): Promise<void> {
    const payloads = new Map<AlertmanagerApiVersion, Buffer>();
    for (const am of this.#alertmanagers) {
      if (!payloads.has(am.apiVersion)) payloads.set(am.apiVersion, Buffer.from(JSON.stringify(batch.map((a) => encodeAlert(a, am.apiVersion)))));
    }
    const sent = await Promise.all(this.#alertmanagers.map((am) => am.send(payloads.get(am.apiVersion) as Buffer, batch.length, this.#m, this.#abort.signal)));
    if (sent.some((n) => n > 0)) return;
    this.#m.senderDropped.inc(batch.length);
    this.#logger.warn('failed to send alerts to all alertmanagers', { numAlerts: batch.length });
  }
}

/** Thanos' ruler's metric names (pkg/alert): the queue's, and the sender's per Alertmanager `host:port`. */
class NotifierMetrics {
  readonly pushed: Counter;
  readonly popped: Counter;
  readonly queueDropped: Counter;
  readonly sent: Counter<'alertmanager'>;
  readonly errors: Counter<'alertmanager'>;
  readonly senderDropped: Counter;
  readonly latency: Histogram<'alertmanager'>;

  constructor(registry: Registry, capacity: () => number, length: () => number) {
    const registers = [registry];
    this.pushed = new Counter({ name: 'thanos_alert_queue_alerts_pushed_total', help: 'Total number of alerts pushed to the queue.', registers });
    this.popped = new Counter({ name: 'thanos_alert_queue_alerts_popped_total', help: 'Total number of alerts popped from the queue.', registers });
    this.queueDropped = new Counter({ name: 'thanos_alert_queue_alerts_dropped_total', help: 'Total number of alerts that were dropped from the queue.', registers });
    new Gauge({ name: 'thanos_alert_queue_capacity', help: 'Capacity of the alert queue.', registers, collect: gaugeOf(capacity) });
    new Gauge({ name: 'thanos_alert_queue_length', help: 'Length of the alert queue.', registers, collect: gaugeOf(length) });
    const labelNames = ['alertmanager'] as const;
    this.sent = new Counter({ name: 'thanos_alert_sender_alerts_sent_total', help: 'Total number of alerts sent by alertmanager.', labelNames, registers });
    this.errors = new Counter({ name: 'thanos_alert_sender_errors_total', help: 'Total number of errors while sending alerts to alertmanager.', labelNames, registers });
    this.senderDropped = new Counter({ name: 'thanos_alert_sender_alerts_dropped_total', help: 'Total number of alerts dropped in case of all sends to alertmanagers failed.', registers });
    // client_golang's default buckets.
    this.latency = new Histogram({ name: 'thanos_alert_sender_latency_seconds', help: 'Latency for sending alert notifications (not including dropped notifications).', labelNames, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers });
  }
}

function gaugeOf(value: () => number): (this: Gauge) => void {
  return function (this: Gauge) {
    this.set(value());
  };
}

/** One `alertmanagers` entry: its addresses (looked up again when DNS answers are older than the interval) and a connection pool per address. */
class AlertmanagerClient {
  readonly #cfg: AlertmanagerConfig;
  readonly #resolver: DnsResolver;
  readonly #dnsIntervalMs: number;
  readonly #logger: Logger;
  readonly #posters = new Map<string, HttpPoster>();
  #addresses: { at: number; list: string[] } | undefined;

  constructor(cfg: AlertmanagerConfig, resolver: DnsResolver, dnsIntervalMs: number, logger: Logger) {
    this.#cfg = cfg;
    this.#resolver = resolver;
    this.#dnsIntervalMs = dnsIntervalMs;
    this.#logger = logger;
  }

  get apiVersion(): AlertmanagerApiVersion {
    return this.#cfg.apiVersion;
  }

  /** POSTs the payload to each address; returns to how many it was delivered. */
  async send(body: Buffer, count: number, m: NotifierMetrics, signal: AbortSignal): Promise<number> {
    const results = await Promise.all(
      (await this.#resolve()).map(async (address) => {
        const poster = this.#poster(address);
        const labels = { alertmanager: address };
        const start = performance.now();
        try {
          const res = await poster.post(body, { 'Content-Type': 'application/json' }, signal);
          if (res.status < 200 || res.status >= 300) throw new Error(`bad response status ${statusText(res.status)} from "${poster.url.href}"`);
        } catch (e) {
          this.#logger.warn('sending alerts failed', { alertmanager: address, numAlerts: count, err: (e as Error).message });
          m.errors.inc(labels);
          return 0;
        }
        m.latency.observe(labels, (performance.now() - start) / 1000);
        m.sent.inc(labels, count);
        return 1;
      }),
    );
    return results.reduce<number>((a, b) => a + b, 0);
  }

  /** The `host:port` addresses now: static ones as they are, DNS names as last looked up (within the interval). */
  async #resolve(): Promise<string[]> {
    const now = performance.now();
    if (this.#addresses !== undefined && now - this.#addresses.at < this.#dnsIntervalMs) return this.#addresses.list;
    const list: string[] = [];
    for (const address of this.#cfg.staticAddresses) {
      if (!isDnsEndpoint(address)) {
        list.push(address);
        continue;
      }
      try {
        list.push(...(await resolveDnsEndpoint(address, this.#resolver)));
      } catch (e) {
        // Keep what the name stood for before, as Thanos' DNS provider does on a failed lookup.
        const before = this.#addresses?.list.filter((a) => !this.#cfg.staticAddresses.includes(a)) ?? [];
        this.#logger.warn('looking up Alertmanager addresses failed', { address, err: (e as Error).message });
        list.push(...before);
      }
    }
    this.#addresses = { at: now, list: [...new Set(list)] };
    return this.#addresses.list;
  }

  #poster(address: string): HttpPoster {
    let poster = this.#posters.get(address);
    if (poster === undefined) {
      const { scheme, pathPrefix, apiVersion, http, timeoutMs } = this.#cfg;
      const url = `${scheme}://${address}${posix.join('/', pathPrefix, `/api/${apiVersion}/alerts`)}`;
      poster = configuredPoster(url, http, timeoutMs, 'alertmanagers');
      this.#posters.set(address, poster);
    }
    return poster;
  }
}

/** An alert as the API version's JSON (field order as Go writes it). */
function encodeAlert(a: Alert, version: AlertmanagerApiVersion): Record<string, unknown> {
  const labels = Object.fromEntries(a.labels.map((l) => [l.name, l.value]));
  const annotations = Object.fromEntries(a.annotations.map((l) => [l.name, l.value]));
  const generatorURL = a.generatorURL !== undefined && a.generatorURL !== '' ? { generatorURL: a.generatorURL } : {};
  if (version === 'v1') return { labels, annotations, startsAt: rfc3339Nano(a.startsAt), endsAt: rfc3339Nano(a.endsAt), ...generatorURL };
  return { ...(a.annotations.length > 0 ? { annotations } : {}), endsAt: rfc3339Millis(a.endsAt), startsAt: rfc3339Millis(a.startsAt), ...generatorURL, labels };
}

/** go-openapi's strfmt.DateTime: `2006-01-02T15:04:05.000Z07:00`, here in UTC. */
function rfc3339Millis(t: Date | number | undefined): string {
  return t === undefined ? '0001-01-01T00:00:00.000Z' : new Date(t).toISOString();
}

/** Go's time.Time in JSON. */
function rfc3339Nano(t: Date | number | undefined): string {
  if (t === undefined) return formatGoTime(ZERO_TIME);
  const ms = typeof t === 'number' ? t : t.getTime();
  const seconds = Math.floor(ms / 1000);
  return formatGoTime({ seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) });
}
