/**
 * The parts of Prometheus' HTTP API the sidecar uses: readiness, config (external labels), flags,
 * the lowest timestamp from /metrics, label names/values and series with matchers, and remote read.
 */
import { Http1Client, parseDuration } from '@strata/objstore';
import { startHttpClientSpan } from '@strata/runtime';
import { encodeReadRequest, type LabelMatcher, type Meta, MIN_INT64, type ReadQuery, type ResponseType } from '@strata/storeapi';
import { Labels } from '@strata/tsdb';
import { parse as parseYaml } from 'yaml';
import { authorization, prometheusTlsOptions, type PrometheusHttpClientConfig } from './httpclient.js';
import type { PrometheusExemplars } from './exemplars.js';
import type { PrometheusRules } from './rules.js';
import type { PrometheusTargets } from './targets.js';

const MATCHER_OPS = ['=', '!=', '=~', '!~'] as const;

/** A PromQL selector string for the match[] parameter: `{a="1",b=~"x.*"}`. */
export function selector(matchers: readonly LabelMatcher[]): string {
  return `{${matchers.map((m) => `${m.name}${MATCHER_OPS[m.type]}${JSON.stringify(m.value)}`).join(',')}}`;
}

/** Times outside ±this many ms are left out of API calls, so Prometheus uses its own min/max time. */
const API_TIME_BOUND = 8.64e15;

function apiTime(ms: number): string | undefined {
  return Math.abs(ms) >= API_TIME_BOUND ? undefined : (ms / 1000).toFixed(3);
}

export class PrometheusError extends Error {
  override name = 'PrometheusError';
}

export class PrometheusClient {
  readonly url: string;
  readonly #timeoutMs: number;
  readonly #configTimeoutMs: number;
  /** The URL's path, which every request path starts with. */
  readonly #prefix: string;
  /**
   * Requests go through a lean HTTP/1.1 client rather than fetch, whose plumbing cost ~3–4 ms of CPU per
   * API call (~0.2 ms here; the order check of every Series call makes one) and as much CPU as decoding
   * the frames for remote read's bodies. Remote reads get their own connections, as they stream long.
   */
  readonly #api1: Http1Client;
  readonly #remoteRead1: Http1Client;
  readonly #httpClient: PrometheusHttpClientConfig;

  /**
   * `httpClient`: credentials and TLS settings for a Prometheus behind its --web.config.file (Thanos'
   * --prometheus.http-client). `configTimeoutMs` (--prometheus.get_config_timeout): how long the requests
   * for Prometheus' configuration, flags and lowest timestamp (what the sidecar's start and heartbeat ask)
   * wait for an answer; `timeoutMs` the others. Both 30s unless given.
   */
  constructor(url: string, opts: { timeoutMs?: number; configTimeoutMs?: number; httpClient?: PrometheusHttpClientConfig } = {}) {
    this.url = url.replace(/\/+$/, '');
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#configTimeoutMs = opts.configTimeoutMs ?? 30_000;
    this.#prefix = new URL(this.url).pathname.replace(/\/+$/, '');
    const httpClient = opts.httpClient ?? {};
    this.#httpClient = httpClient;
    const tls = prometheusTlsOptions(httpClient);
    this.#api1 = new Http1Client(this.url, { tls });
    this.#remoteRead1 = new Http1Client(this.url, { error: (message) => new PrometheusError(`Prometheus remote read: ${message}`), tls });
  }

  /** Headers every request carries besides its own: the credentials, if any. */
  #withAuth(headers: Record<string, string>): Record<string, string> {
    const auth = authorization(this.#httpClient);
    return auth !== undefined ? { ...headers, Authorization: auth } : headers;
  }

  /** GET `path`, or POST `form`; the whole answer, within the client's timeout (of configuration requests, with `configRequest`). */
  async #fetch(path: string, opts: { form?: URLSearchParams; signal?: AbortSignal; configRequest?: boolean } = {}): Promise<{ status: number; text: string }> {
    const timeoutMs = opts.configRequest === true ? this.#configTimeoutMs : this.#timeoutMs;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    const onAbort = () => ac.abort();
    if (opts.signal?.aborted) ac.abort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const [method, headers, body] = opts.form
      ? ['POST', { 'Content-Type': 'application/x-www-form-urlencoded' }, Buffer.from(opts.form.toString())]
      : ['GET', {}, Buffer.alloc(0)];
    const traced = startHttpClientSpan(method, new URL(this.#prefix + path, this.url), headers);
    try {
      const res = await this.#api1.request(method, this.#prefix + path, this.#withAuth(traced?.headers ?? headers), body, ac.signal);
      const pieces: Buffer[] = [];
      for await (const piece of res.body) pieces.push(piece);
      traced?.end(res.status);
      return { status: res.status, text: Buffer.concat(pieces).toString('utf8') };
    } catch (e) {
      traced?.end(e as Error);
      const timedOut = ac.signal.aborted && !opts.signal?.aborted;
      const limit = `no answer within ${timeoutMs} ms${opts.configRequest === true ? ' (--prometheus.get_config_timeout)' : ''}`;
      throw new PrometheusError(`Prometheus ${this.url}${path.split('?')[0]}: ${timedOut ? limit : (e as Error).message}`);
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** GET or POST-form `/api/v1/<path>`; returns `data` or throws with Prometheus' error text. */
  async #api<T>(path: string, params: [string, string | undefined][] = [], opts: { post?: boolean; signal?: AbortSignal; configRequest?: boolean } = {}): Promise<T> {
    const qs = new URLSearchParams();
    for (const [k, v] of params) if (v !== undefined) qs.append(k, v);
    const fetchOpts = { ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.configRequest === true ? { configRequest: true } : {}) };
    const { status, text } = opts.post
      ? await this.#fetch(`/api/v1/${path}`, { form: qs, ...fetchOpts })
      : await this.#fetch(`/api/v1/${path}${qs.size > 0 ? `?${qs}` : ''}`, fetchOpts);
    let body: { status?: string; data?: T; error?: string };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new PrometheusError(`Prometheus /api/v1/${path}: HTTP ${status}: ${text.slice(0, 200)}`);
    }
    if (body.status !== 'success') throw new PrometheusError(`Prometheus /api/v1/${path}: ${body.error ?? `HTTP ${status}`}`);
    return body.data as T;
  }

  /** Asks Prometheus to load its configuration and rules again (POST /-/reload, served with --web.enable-lifecycle). */
  async reload(): Promise<void> {
    const res = await this.#fetch('/-/reload', { form: new URLSearchParams() });
    if (res.status < 200 || res.status > 299) throw new PrometheusError(`Prometheus ${this.url}/-/reload: ${res.status} ${res.text.trim()}`);
  }

  async isReady(): Promise<boolean> {
    try {
      return (await this.#fetch('/-/ready')).status === 200;
    } catch {
      return false;
    }
  }

  /**
   * What the sidecar needs of Prometheus' configuration (`/api/v1/status/config`): its external labels,
   * and how far back out-of-order samples are accepted (storage.tsdb.out_of_order_time_window, 0 when
   * off): until Prometheus compacts them, such samples are in its head, behind the blocks on disk.
   */
  async config(): Promise<{ externalLabels: Labels; outOfOrderWindowMs: number }> {
    const { yaml } = await this.#api<{ yaml: string }>('status/config', [], { configRequest: true });
    const config = parseYaml(yaml) as { global?: { external_labels?: Record<string, unknown> }; storage?: { tsdb?: { out_of_order_time_window?: unknown } } } | null;
    const ext = config?.global?.external_labels ?? {};
    const window = config?.storage?.tsdb?.out_of_order_time_window;
    return {
      externalLabels: Labels.from(Object.entries(ext).map(([name, value]) => ({ name, value: String(value) }))),
      outOfOrderWindowMs: window === undefined || window === null ? 0 : parseDuration(String(window)),
    };
  }

  /** Command-line flags, e.g. `storage.tsdb.min-block-duration`. */
  flags(): Promise<Record<string, string>> {
    return this.#api<Record<string, string>>('status/flags', [], { configRequest: true });
  }

  /**
   * The oldest sample timestamp Prometheus holds and the newest in its head (ms), from the gauges
   * prometheus_tsdb_lowest_timestamp_seconds and prometheus_tsdb_head_max_time; MIN_INT64 for either
   * when it holds nothing yet.
   */
  async tsdbTimes(): Promise<{ lowest: number; headMax: number }> {
    const res = await this.#fetch('/metrics', { configRequest: true });
    if (res.status !== 200) throw new PrometheusError(`Prometheus /metrics: HTTP ${res.status}`);
    const m = /^prometheus_tsdb_lowest_timestamp_seconds(?:\{\})? (\S+)/m.exec(res.text);
    if (!m) throw new PrometheusError('Prometheus /metrics has no prometheus_tsdb_lowest_timestamp_seconds');
    const seconds = Number(m[1]);
    const head = Number(/^prometheus_tsdb_head_max_time(?:\{\})? (\S+)/m.exec(res.text)?.[1]);
    return {
      // An empty TSDB reports math.MaxInt64 (as seconds ≈ 9.22e15).
      lowest: !Number.isFinite(seconds) || seconds * 1000 >= API_TIME_BOUND ? MIN_INT64 : Math.round(seconds * 1000),
      // And an empty head math.MinInt64.
      headMax: Number.isFinite(head) && Math.abs(head) < API_TIME_BOUND ? head : MIN_INT64,
    };
  }


  labelNames(matchers: readonly LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<string[]> {
    const params: [string, string | undefined][] = [
      ['start', apiTime(startMs)],
      ['end', apiTime(endMs)],
    ];
    if (matchers.length > 0) params.push(['match[]', selector(matchers)]);
    return this.#api<string[]>('labels', params, { post: true, signal });
  }

  labelValues(name: string, matchers: readonly LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<string[]> {
    const params: [string, string | undefined][] = [
      ['start', apiTime(startMs)],
      ['end', apiTime(endMs)],
    ];
    if (matchers.length > 0) params.push(['match[]', selector(matchers)]);
    return this.#api<string[]>(`label/${encodeURIComponent(name)}/values`, params, { signal });
  }

  /** `/api/v1/rules`, of one type (`alert` or `record`) or all. */
  rules(type: 'alert' | 'record' | undefined, signal?: AbortSignal): Promise<PrometheusRules> {
    return this.#api<PrometheusRules>('rules', [['type', type]], { signal });
  }

  /** `/api/v1/query_exemplars` over [start, end] (ms). */
  queryExemplars(query: string, startMs: number, endMs: number, signal?: AbortSignal): Promise<PrometheusExemplars> {
    return this.#api<PrometheusExemplars>(
      'query_exemplars',
      [
        ['query', query],
        ['start', apiTime(startMs)],
        ['end', apiTime(endMs)],
      ],
      { post: true, signal },
    );
  }

  /** `/api/v1/targets`, of one state (`active` or `dropped`) or both. */
  targets(state: 'active' | 'dropped' | undefined, signal?: AbortSignal): Promise<PrometheusTargets> {
    return this.#api<PrometheusTargets>('targets', [['state', state]], { signal });
  }

  /** `/api/v1/metadata`: metric name → its metadata entries; `limit` < 0 is none (not sent), as Thanos asks. */
  metricMetadata(metric: string, limit: number, signal?: AbortSignal): Promise<Record<string, Meta[]>> {
    return this.#api<Record<string, Meta[]>>(
      'metadata',
      [
        ['metric', metric === '' ? undefined : metric],
        ['limit', limit < 0 ? undefined : String(limit)],
      ],
      { signal },
    );
  }

  series(matchers: readonly LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<Record<string, string>[]> {
    return this.#api<Record<string, string>[]>(
      'series',
      [
        ['match[]', selector(matchers)],
        ['start', apiTime(startMs)],
        ['end', apiTime(endMs)],
      ],
      { post: true, signal },
    );
  }

  /** POST /api/v1/read; the caller reads the body according to its Content-Type. */
  async remoteRead(query: ReadQuery, accepted: readonly ResponseType[], signal?: AbortSignal): Promise<RemoteReadResponse> {
    const headers = {
      'Content-Encoding': 'snappy',
      'Content-Type': 'application/x-protobuf',
      'X-Prometheus-Remote-Read-Version': '0.1.0',
      'User-Agent': 'strata-sidecar',
    };
    // The span covers the wait for Prometheus' answer; its body streams on to the caller.
    const traced = startHttpClientSpan('POST', new URL(`${this.#prefix}/api/v1/read`, this.url), headers);
    let res;
    try {
      res = await this.#remoteRead1.request('POST', `${this.#prefix}/api/v1/read`, this.#withAuth(traced?.headers ?? headers), encodeReadRequest(query, accepted), signal);
      traced?.end(res.status);
    } catch (e) {
      traced?.end(e as Error);
      throw e;
    }
    if (res.status !== 200) {
      const pieces: Buffer[] = [];
      for await (const piece of res.body) pieces.push(piece);
      const text = Buffer.concat(pieces).toString('utf8');
      throw new PrometheusError(`Prometheus remote read: HTTP ${res.status}: ${text.trim().slice(0, 300)}`);
    }
    return { contentType: res.headers.get('content-type') ?? '', body: res.body, cancel: () => res.cancel(), recycle: () => res.recycle() };
  }
}

/** A remote-read response whose status was 200. */
export interface RemoteReadResponse {
  contentType: string;
  /** Network chunks as they arrive; iterate once. */
  body: AsyncIterable<Buffer>;
  /** Drops a response whose body will not be read (leaving the body's iteration early does the same). */
  cancel(): void;
  /** The body's pieces before the last one yielded are no longer used (see Http1Response.recycle). */
  recycle(): void;
}
