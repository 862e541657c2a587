/**
 * The receiver's write limits and gates (`--receive.limits-config(-file)`), as Thanos' (pkg/receive/
 * limits.go, request_limiter.go, head_series_limiter.go):
 *
 *   write:
 *     global:
 *       max_concurrency: 30          # remote writes worked on at once; the rest wait (a gate, not an error)
 *       meta_monitoring_url: http://prometheus:9090
 *       meta_monitoring_limit_query: sum(prometheus_tsdb_head_series) by (tenant)
 *     default:
 *       request: { size_bytes_limit: 1MB, series_limit: 1000, samples_limit: 10000 }
 *       head_series_limit: 100000
 *     tenants:
 *       acme: { request: { series_limit: 0 }, head_series_limit: 200000 }
 *
 * 0 is no limit; a limit left out of `default` is none, one left out of a tenant's is the default's.
 * A request over a request limit is answered 413 (Prometheus does not resend it); a tenant whose head
 * series, across every receiver as the meta-monitoring Prometheus counts them (asked every 15 seconds),
 * are at its limit is answered 429 (Prometheus resends). Best effort, as Thanos': while meta-monitoring
 * cannot be asked, or does not know the tenant, nothing is limited by head series.
 */
import { configMapping, parseBytes, parseYamlConfig } from '@strata/objstore';
import type { Logger } from '@strata/runtime';
import { Counter, Gauge, type Registry, Summary } from 'prom-client';
import { WatchedFile } from './watchedfile.js';

export interface RequestLimits {
  sizeBytes: number;
  series: number;
  samples: number;
}

export interface TenantLimits {
  request: RequestLimits;
  headSeries: number;
}

export interface WriteLimitsConfig {
  maxConcurrency: number;
  metaMonitoring?: { url: string; query: string };
  default: TenantLimits;
  tenants: ReadonlyMap<string, TenantLimits>;
}

const NO_LIMITS: TenantLimits = { request: { sizeBytes: 0, series: 0, samples: 0 }, headSeries: 0 };
const DEFAULT_LIMIT_QUERY = 'sum(prometheus_tsdb_head_series) by (tenant)';

/** Throws, naming the field, on anything but Thanos' limits configuration. */
export function parseLimitsConfig(text: string, what = '--receive.limits-config'): WriteLimitsConfig {
  const doc = parseYamlConfig(text, what) ?? {};
  const write = configMapping(configMapping(doc, what, new Set(['write'])).write ?? {}, `${what}: write`, new Set(['global', 'default', 'tenants']));
  const global = configMapping(write.global ?? {}, `${what}: write.global`, new Set(['max_concurrency', 'meta_monitoring_url', 'meta_monitoring_limit_query']));
  const cfg: WriteLimitsConfig = {
    maxConcurrency: count(global.max_concurrency, `${what}: write.global.max_concurrency`) ?? 0,
    default: tenantLimits(write.default, `${what}: write.default`, NO_LIMITS),
    tenants: new Map(),
  };
  if (global.meta_monitoring_url !== undefined && global.meta_monitoring_url !== null) {
    const url = String(global.meta_monitoring_url);
    if (!/^https?:\/\//.test(url)) throw new Error(`${what}: write.global.meta_monitoring_url must be an http(s) URL, not ${JSON.stringify(url)}`);
    cfg.metaMonitoring = { url: url.replace(/\/+$/, ''), query: global.meta_monitoring_limit_query === undefined ? DEFAULT_LIMIT_QUERY : String(global.meta_monitoring_limit_query) };
  }
  const tenants = configMapping(write.tenants ?? {}, `${what}: write.tenants`);
  for (const [tenant, v] of Object.entries(tenants)) (cfg.tenants as Map<string, TenantLimits>).set(tenant, tenantLimits(v, `${what}: write.tenants.${tenant}`, cfg.default));
  const headSeriesLimited = cfg.default.headSeries > 0 || [...cfg.tenants.values()].some((t) => t.headSeries > 0);
  if (headSeriesLimited && cfg.metaMonitoring === undefined) throw new Error(`${what}: head_series_limit needs write.global.meta_monitoring_url, where the tenants' head series are counted`);
  return cfg;
}

function tenantLimits(v: unknown, where: string, inherited: TenantLimits): TenantLimits {
  const m = configMapping(v ?? {}, where, new Set(['request', 'head_series_limit']));
  const r = configMapping(m.request ?? {}, `${where}.request`, new Set(['size_bytes_limit', 'series_limit', 'samples_limit']));
  const size = r.size_bytes_limit;
  return {
    request: {
      sizeBytes: size === undefined || size === null ? inherited.request.sizeBytes : typeof size === 'number' ? (count(size, `${where}.request.size_bytes_limit`) as number) : parseBytes(String(size), `${where}.request.size_bytes_limit`),
      series: count(r.series_limit, `${where}.request.series_limit`) ?? inherited.request.series,
      samples: count(r.samples_limit, `${where}.request.samples_limit`) ?? inherited.request.samples,
    },
    headSeries: count(m.head_series_limit, `${where}.head_series_limit`) ?? inherited.headSeries,
  };
}

function count(v: unknown, where: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Error(`${where} must be a whole number ≥ 0, not ${JSON.stringify(v)}`);
  return v;
}

/** Why a write was refused by a limit: its HTTP answer. */
export interface LimitRefusal {
  status: 413 | 429;
  message: string;
}

type RequestLimitName = 'size_bytes_limit' | 'series_limit' | 'samples_limit';

/** The limits in force (swapped when the file changes), the gate, and the head series meta-monitoring counts. */
export class WriteLimiter {
  #cfg: WriteLimitsConfig;
  readonly #metrics: LimiterMetrics;
  readonly #logger: Logger;
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  /** Head series by tenant, as meta-monitoring last answered. */
  #headSeries = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #file: WatchedFile | undefined;

  constructor(cfg: WriteLimitsConfig, registry: Registry, logger: Logger) {
    this.#metrics = new LimiterMetrics(registry);
    this.#logger = logger;
    this.#cfg = cfg;
    this.#metrics.configured(cfg);
  }

  /**
   * The limits given inline, or in a file that is followed (read again every `reloadIntervalMs` and on
   * changes; an invalid new one is logged and the limits in force stay). Throws when they are not valid at start.
   */
  static async start(source: { content: string } | { file: string; reloadIntervalMs: number }, registry: Registry, logger: Logger): Promise<WriteLimiter> {
    if ('content' in source) return new WriteLimiter(parseLimitsConfig(source.content), registry, logger);
    let limiter: WriteLimiter | undefined;
    let failure: Error | undefined;
    const file = await WatchedFile.start({
      file: source.file,
      refreshIntervalMs: source.reloadIntervalMs,
      apply: (content) => {
        const cfg = parseLimitsConfig(content, source.file);
        if (limiter === undefined) limiter = new WriteLimiter(cfg, registry, logger);
        else limiter.set(cfg);
        logger.info('write limits loaded', { file: source.file });
      },
      failed: (err) => {
        failure = err;
        if (limiter !== undefined) logger.error('the write limits file is not valid; the limits in force stay', { file: source.file, err });
      },
      logger,
    });
    if (limiter === undefined) {
      file.stop();
      throw new Error(`--receive.limits-config-file: ${failure?.message ?? 'not loaded'}`);
    }
    limiter.#file = file;
    return limiter;
  }

  /** New limits (the configuration file changed). */
  set(cfg: WriteLimitsConfig): void {
    this.#cfg = cfg;
    this.#metrics.configured(cfg);
  }

  /** Asks meta-monitoring for every tenant's head series now and every `intervalMs` (Thanos: 15s), when a head series limit needs it. */
  startMetaMonitoring(intervalMs = 15_000): void {
    const ask = () => void this.#askMetaMonitoring();
    ask();
    this.#timer = setInterval(ask, intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#file?.stop();
  }

  /** Waits for a slot of max_concurrency; call the returned function when the write is done. */
  async enter(): Promise<() => void> {
    const max = this.#cfg.maxConcurrency;
    if (max > 0 && this.#running >= max) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#running++;
    return () => {
      this.#running--;
      this.#waiting.shift()?.();
    };
  }

  /** Why the tenant's writes are refused for its head series, if they are. */
  headSeriesRefusal(tenant: string): LimitRefusal | undefined {
    const limit = this.#limits(tenant).headSeries;
    const current = this.#headSeries.get(tenant);
    if (limit <= 0 || current === undefined || current < limit) return undefined;
    this.#metrics.headSeriesLimited.inc({ tenant });
    this.#logger.error('tenant above limit', { tenant, currentSeries: current, limit });
    return { status: 429, message: 'tenant is above active series limit' };
  }

  /** Why a request of `amount` (bytes, series or samples) is refused, if it is (413). */
  requestRefusal(tenant: string, limit: RequestLimitName, amount: number): LimitRefusal | undefined {
    const request = this.#limits(tenant).request;
    const max = limit === 'size_bytes_limit' ? request.sizeBytes : limit === 'series_limit' ? request.series : request.samples;
    if (max <= 0 || amount <= max) return undefined;
    this.#metrics.hits.observe({ tenant, limit }, amount - max);
    return { status: 413, message: limit === 'size_bytes_limit' ? 'write request too large' : limit === 'series_limit' ? 'too many timeseries' : 'too many samples' };
  }

  #limits(tenant: string): TenantLimits {
    return this.#cfg.tenants.get(tenant) ?? this.#cfg.default;
  }

  async #askMetaMonitoring(): Promise<void> {
    const meta = this.#cfg.metaMonitoring;
    if (meta === undefined) return;
    try {
      const res = await fetch(`${meta.url}/api/v1/query?${new URLSearchParams({ query: meta.query, dedup: 'true' })}`, { signal: AbortSignal.timeout(10_000) });
      const body = (await res.json()) as { status?: string; error?: string; data?: { resultType?: string; result?: { metric: Record<string, string>; value: [number, string] }[] } };
      if (body.status !== 'success' || body.data?.resultType !== 'vector') throw new Error(`meta-monitoring answered ${res.status}: ${body.error ?? 'not a vector'}`);
      const counts = new Map<string, number>();
      for (const r of body.data.result ?? []) if (r.metric.tenant !== undefined) counts.set(r.metric.tenant, Number(r.value[1]));
      this.#headSeries = counts;
    } catch (err) {
      this.#metrics.metaMonitoringFailures.inc();
      this.#logger.warn('querying meta-monitoring for the tenants’ head series failed; head series are not limited until it answers', { err: err as Error });
    }
  }
}

class LimiterMetrics {
  readonly #limits: Gauge<'tenant' | 'limit'>;
  readonly #headSeriesLimit: Gauge<'tenant'>;
  readonly hits: Summary<'tenant' | 'limit'>;
  readonly headSeriesLimited: Counter<'tenant'>;
  readonly metaMonitoringFailures: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.#limits = new Gauge({ name: 'thanos_receive_write_limits', help: 'The configured write limits.', labelNames: ['tenant', 'limit'], registers });
    this.#headSeriesLimit = new Gauge({ name: 'thanos_receive_head_series_limit', help: 'The configured limit for active (head) series of tenants.', labelNames: ['tenant'], registers });
    this.hits = new Summary({ name: 'thanos_receive_write_limits_hit', help: 'The number of times a request was refused due to a remote write limit.', labelNames: ['tenant', 'limit'], percentiles: [0.5, 0.95, 0.99], registers });
    this.headSeriesLimited = new Counter({ name: 'thanos_receive_head_series_limited_requests_total', help: 'The total number of remote write requests that have been dropped due to active series limiting.', labelNames: ['tenant'], registers });
    this.metaMonitoringFailures = new Counter({ name: 'thanos_receive_metamonitoring_failed_queries_total', help: 'The total number of meta-monitoring queries that failed while limiting.', registers });
  }

  /** The limits of the default (tenant "") and of each tenant configured. */
  configured(cfg: WriteLimitsConfig): void {
    this.#limits.reset();
    this.#headSeriesLimit.reset();
    for (const [tenant, l] of [['', cfg.default] as const, ...cfg.tenants]) {
      this.#limits.set({ tenant, limit: 'size_bytes_limit' }, l.request.sizeBytes);
      this.#limits.set({ tenant, limit: 'series_limit' }, l.request.series);
      this.#limits.set({ tenant, limit: 'samples_limit' }, l.request.samples);
      this.#headSeriesLimit.set({ tenant }, l.headSeries);
      // The tenants named with a head series limit show their refusals before they count.
      if (tenant !== '' && l.headSeries > 0) this.headSeriesLimited.inc({ tenant }, 0);
    }
  }
}
