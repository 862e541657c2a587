/**
 * The parts of Prometheus' HTTP API the sidecar uses: readiness, config (external labels), flags,
 * the lowest timestamp from /metrics, label names/values and series with matchers, and remote read.
 */
import { type LabelMatcher, MIN_INT64 } from '@strata/storeapi';
import { Labels } from '@strata/tsdb';
import { parse as parseYaml } from 'yaml';
import { Http1Client } from './http1.js';
import { encodeReadRequest, type ReadQuery, type ResponseType } from './remoteread.js';

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
  /** Remote read bypasses fetch: every byte of a query passes through its body. */
  readonly #remoteReadClient: Http1Client;

  constructor(url: string, opts: { timeoutMs?: number } = {}) {
    this.url = url.replace(/\/+$/, '');
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#remoteReadClient = new Http1Client(this.url, (message) => new PrometheusError(`Prometheus remote read: ${message}`));
  }

  /** `timeout` covers the whole exchange, so streamed remote-read bodies are fetched without it. */
  async #fetch(path: string, init: RequestInit = {}, signal?: AbortSignal, timeout = true): Promise<Response> {
    const signals = [signal, timeout ? AbortSignal.timeout(this.#timeoutMs) : undefined].filter((s): s is AbortSignal => s !== undefined);
    try {
      return await fetch(`${this.url}${path}`, { ...init, signal: signals.length > 0 ? AbortSignal.any(signals) : null });
    } catch (e) {
      const cause = (e as Error & { cause?: Error }).cause;
      throw new PrometheusError(`Prometheus ${this.url}${path.split('?')[0]}: ${cause?.message ?? (e as Error).message}`);
    }
  }

  /** GET or POST-form `/api/v1/<path>`; returns `data` or throws with Prometheus' error text. */
  async #api<T>(path: string, params: [string, string | undefined][] = [], opts: { post?: boolean; signal?: AbortSignal } = {}): Promise<T> {
    const qs = new URLSearchParams();
    for (const [k, v] of params) if (v !== undefined) qs.append(k, v);
    const res = opts.post
      ? await this.#fetch(`/api/v1/${path}`, { method: 'POST', body: qs }, opts.signal)
      : await this.#fetch(`/api/v1/${path}${qs.size > 0 ? `?${qs}` : ''}`, {}, opts.signal);
    const text = await res.text();
    let body: { status?: string; data?: T; error?: string };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new PrometheusError(`Prometheus /api/v1/${path}: HTTP ${res.status}: ${text.slice(0, 200)}`);
    }
    if (body.status !== 'success') throw new PrometheusError(`Prometheus /api/v1/${path}: ${body.error ?? `HTTP ${res.status}`}`);
    return body.data as T;
  }

  async isReady(): Promise<boolean> {
    try {
      return (await this.#fetch('/-/ready')).ok;
    } catch {
      return false;
    }
  }

  /** `global.external_labels` from the loaded configuration (the YAML inside /api/v1/status/config). */
  async externalLabels(): Promise<Labels> {
    const { yaml } = await this.#api<{ yaml: string }>('status/config');
    const config = parseYaml(yaml) as { global?: { external_labels?: Record<string, unknown> } } | null;
    const ext = config?.global?.external_labels ?? {};
    return Labels.from(Object.entries(ext).map(([name, value]) => ({ name, value: String(value) })));
  }

  /** Command-line flags, e.g. `storage.tsdb.min-block-duration`. */
  flags(): Promise<Record<string, string>> {
    return this.#api<Record<string, string>>('status/flags');
  }

  /**
   * The oldest sample timestamp Prometheus holds (ms), from the gauge
   * prometheus_tsdb_lowest_timestamp_seconds; MIN_INT64 when it holds nothing yet.
   */
  async lowestTimestamp(): Promise<number> {
    const res = await this.#fetch('/metrics');
    if (!res.ok) throw new PrometheusError(`Prometheus /metrics: HTTP ${res.status}`);
    const m = /^prometheus_tsdb_lowest_timestamp_seconds(?:\{\})? (\S+)/m.exec(await res.text());
    if (!m) throw new PrometheusError('Prometheus /metrics has no prometheus_tsdb_lowest_timestamp_seconds');
    const seconds = Number(m[1]);
    // An empty TSDB reports math.MaxInt64 (as seconds ≈ 9.22e15).
    if (!Number.isFinite(seconds) || seconds * 1000 >= API_TIME_BOUND) return MIN_INT64;
    return Math.round(seconds * 1000);
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
    const url = new URL(`${this.url}/api/v1/read`);
    const headers = {
      'Content-Encoding': 'snappy',
      'Content-Type': 'application/x-protobuf',
      'X-Prometheus-Remote-Read-Version': '0.1.0',
      'User-Agent': 'strata-sidecar',
    };
    const res = await this.#remoteReadClient.request('POST', url.pathname + url.search, headers, encodeReadRequest(query, accepted), signal);
    if (res.status !== 200) {
      const pieces: Buffer[] = [];
      for await (const piece of res.body) pieces.push(piece);
      const text = Buffer.concat(pieces).toString('utf8');
      throw new PrometheusError(`Prometheus remote read: HTTP ${res.status}: ${text.trim().slice(0, 300)}`);
    }
    return { contentType: res.headers.get('content-type') ?? '', body: res.body, cancel: () => res.cancel() };
  }
}

/** A remote-read response whose status was 200. */
export interface RemoteReadResponse {
  contentType: string;
  /** Network chunks as they arrive; iterate once. */
  body: AsyncIterable<Buffer>;
  /** Drops a response whose body will not be read (leaving the body's iteration early does the same). */
  cancel(): void;
}
