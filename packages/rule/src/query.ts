/**
 * How the ruler evaluates a rule's expression: an instant query to a querier's HTTP API, as Thanos'
 * ruler sends it (`--query`; pkg/promclient QueryInstant): `query`, `time` (seconds with nanoseconds),
 * `dedup=true` and the group's `partial_response` strategy, POSTed as a form (`--query.http-method`).
 * Queriers are tried in a random order until one answers; a vector or a scalar is the answer (a scalar
 * as one sample without labels, as Prometheus' EngineQueryFunc turns it), anything else an error.
 */
import { STRATA_VERSION } from '@strata/runtime';
import { formatTimestamp } from '@strata/promql';
import type { PrometheusHttpClientConfig } from '@strata/sidecar';
import { type FloatHistogram, Labels } from '@strata/tsdb';
import { configuredPoster, type HttpPoster } from './httppost.js';
import type { QueryTargets } from './querytargets.js';

export interface InstantSample {
  readonly labels: Labels;
  /** 0 for a native histogram, as a Prometheus sample's F. */
  readonly value: number;
  readonly histogram?: FloatHistogram;
}

export interface QueryOptions {
  /** Thanos' per-group partial_response_strategy: warn answers with what the endpoints gave. */
  readonly partialResponse: boolean;
  readonly signal?: AbortSignal;
}

/**
 * An instant query at `timeMs`: a rule's evaluation time cut to the millisecond, as Prometheus' own
 * rules query its engine (timestamp.FromTime), where Thanos' float seconds are rounded by the querier.
 */
export type QueryFunc = (expr: string, timeMs: number, opts: QueryOptions) => Promise<InstantSample[]>;

export interface HttpQueryConfig {
  readonly targets: QueryTargets;
  readonly method: 'GET' | 'POST';
  readonly timeoutMs: number;
  /** Credentials and TLS for the queriers (`--query.config`'s http_config). */
  readonly http?: PrometheusHttpClientConfig;
  /** Called with each answer's warnings (Thanos' ruler logs them). */
  readonly onWarnings?: (expr: string, warnings: readonly string[], opts: QueryOptions) => void;
}

interface ApiAnswer {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  warnings?: string[];
  data?: { resultType: string; result: unknown };
}

/** An error the querier answered with: not retried on another querier (the query itself is wrong). */
export class QueryError extends Error {}

/** A result the HTTP API's JSON cannot carry exactly (a native histogram): for a Query API client, if there is one. */
export class HttpResultError extends Error {}

/** A series' last sample within a range: what `ALERTS_FOR_STATE` held when the ruler last wrote it. */
export interface LastSample {
  readonly labels: Labels;
  readonly timeMs: number;
  readonly value: number;
}

/** The last sample of each series `selector` selects within `rangeMs` before `timeMs`. */
export type LastSamplesFunc = (selector: string, rangeMs: number, timeMs: number, opts: QueryOptions) => Promise<LastSample[]>;

export interface QueryClient {
  readonly query: QueryFunc;
  readonly lastSamples: LastSamplesFunc;
}

/**
 * Each query asked of `clients` in turn until one answers, as Thanos' ruler asks its HTTP queriers, then
 * its Query API ones; a query one of them refused as wrong is not asked again.
 */
export function firstAnswering(clients: readonly QueryClient[]): QueryClient {
  const inTurn = async <T>(ask: (c: QueryClient) => Promise<T>): Promise<T> => {
    let last: unknown = new Error('no --query or --grpc-query-endpoint was given');
    for (const c of clients) {
      try {
        return await ask(c);
      } catch (err) {
        if (err instanceof QueryError) throw err;
        last = err;
      }
    }
    throw last;
  };
  if (clients.length === 1) return clients[0] as QueryClient;
  return {
    query: (expr, timeMs, opts) => inTurn((c) => c.query(expr, timeMs, opts)),
    lastSamples: (selector, rangeMs, timeMs, opts) => inTurn((c) => c.lastSamples(selector, rangeMs, timeMs, opts)),
  };
}

export function httpQueryClient(cfg: HttpQueryConfig): QueryClient {
  // A querier's connections are kept alive between evaluations.
  const posters = new Map<string, HttpPoster>();
  const posterOf = (base: string) => {
    let p = posters.get(base);
    if (p === undefined) posters.set(base, (p = configuredPoster(`${base}/api/v1/query`, cfg.http ?? {}, cfg.timeoutMs, '--query.config')));
    return p;
  };
  const ask = async (expr: string, timeMs: number, opts: QueryOptions): Promise<ApiAnswer> => {
    const bases = shuffled(await cfg.targets.baseUrls());
    if (bases.length === 0) throw new Error('no query API server reachable: no querier found');
    const params = new URLSearchParams({ query: expr, time: formatTimestamp(timeMs), dedup: 'true', partial_response: String(opts.partialResponse) });
    let last: unknown;
    for (const base of bases) {
      try {
        const answer = await queryOnce(base, posterOf(base), params, cfg.method, opts.signal);
        if (answer.warnings !== undefined && answer.warnings.length > 0) cfg.onWarnings?.(expr, answer.warnings, opts);
        return answer;
      } catch (err) {
        if (err instanceof QueryError || opts.signal?.aborted === true) throw err;
        last = err;
      }
    }
    throw new Error(`no querier answered: ${last instanceof Error ? last.message : String(last)}`);
  };
  return {
    query: async (expr, timeMs, opts) => samplesOf(await ask(expr, timeMs, opts), timeMs),
    lastSamples: async (selector, rangeMs, timeMs, opts) => {
      const answer = await ask(`${selector}[${rangeMs}ms]`, timeMs, opts);
      if (answer.data?.resultType !== 'matrix') throw new Error(`expected a range vector for ${selector}, got ${answer.data?.resultType ?? 'nothing'}`);
      const out: LastSample[] = [];
      for (const s of answer.data.result as { metric: Record<string, string>; values?: [number, string][] }[]) {
        const last = s.values?.at(-1);
        if (last !== undefined) out.push({ labels: Labels.from(s.metric), timeMs: Math.round(last[0] * 1000), value: parseValue(last[1]) });
      }
      return out;
    },
  };
}

async function queryOnce(base: string, poster: HttpPoster, params: URLSearchParams, method: 'GET' | 'POST', signal: AbortSignal | undefined): Promise<ApiAnswer> {
  const headers = { 'User-Agent': `Strata/${STRATA_VERSION}`, Accept: 'application/json', ...(method === 'POST' ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}) };
  const res = method === 'POST' ? await poster.send('POST', '', Buffer.from(params.toString()), headers, signal) : await poster.send('GET', `?${params}`, Buffer.alloc(0), headers, signal);
  const text = res.body.toString('utf8');
  let answer: ApiAnswer;
  try {
    answer = JSON.parse(text) as ApiAnswer;
  } catch {
    throw new Error(`${base}: HTTP ${res.status}: ${text.slice(0, 200)}`);
  }
  if (answer.status === 'error') {
    const message = `${answer.errorType ?? 'error'}: ${answer.error ?? ''}`;
    // Prometheus' 4xx (bad_data, execution) are about the query; 5xx and timeouts are the querier's.
    if (res.status >= 400 && res.status < 500) throw new QueryError(message);
    throw new Error(`${base}: ${message}`);
  }
  return answer;
}

/** A vector or scalar answer as samples; a scalar becomes one sample without labels. */
function samplesOf(answer: ApiAnswer, timeMs: number): InstantSample[] {
  const data = answer.data;
  if (data === undefined) throw new Error('querier answered without data');
  if (data.resultType === 'scalar') return [{ labels: Labels.EMPTY, value: parseValue((data.result as [number, string])[1]) }];
  if (data.resultType !== 'vector') throw new QueryError(`rule result is not a vector or scalar (got ${data.resultType})`);
  const out: InstantSample[] = [];
  for (const s of data.result as { metric: Record<string, string>; value?: [number, string]; histogram?: unknown }[]) {
    if (s.value === undefined) throw new HttpResultError(`query at ${formatTimestamp(timeMs)} gave a native histogram for ${JSON.stringify(s.metric)}, which the HTTP API's JSON does not carry exactly: evaluate rules over native histograms through --grpc-query-endpoint`);
    out.push({ labels: Labels.from(s.metric), value: parseValue(s.value[1]) });
  }
  return out;
}

/** A sample value as Prometheus' API writes it ("NaN", "+Inf", "-Inf" or a number). */
function parseValue(s: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}

export function shuffled<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j] as T, xs[i] as T];
  }
  return xs;
}
