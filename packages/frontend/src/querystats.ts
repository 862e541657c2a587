import { paramFields, requestTenantOrDefault, type Logger, type TenantSource } from '@strata/runtime';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Counter, type Registry } from 'prom-client';

/** The `stats` of an answer to `stats=all`: Prometheus' timings and samples, and what Strata's querier read. */
interface AnswerStats {
  timings?: { execTotalTime?: number };
  samples?: { totalQueryableSamples?: number; peakSamples?: number };
  storage?: { seriesFetched?: number; chunkBytesFetched?: number };
}

/** What the querier said the queries of one request cost, added up over its pieces and shards. */
export class QueryCosts {
  wallSeconds = 0;
  totalSamples = 0;
  peakSamples = 0;
  seriesFetched = 0;
  chunkBytes = 0;

  /** Adds the stats of a parsed answer, taking them out of it unless `keep` (the client asked for them). */
  take(answer: { data?: unknown }, keep: boolean): void {
    const data = answer.data as { stats?: AnswerStats } | undefined;
    const s = data?.stats;
    if (data === undefined || s === undefined) return;
    this.wallSeconds += s.timings?.execTotalTime ?? 0;
    this.totalSamples += s.samples?.totalQueryableSamples ?? 0;
    this.peakSamples = Math.max(this.peakSamples, s.samples?.peakSamples ?? 0);
    this.seriesFetched += s.storage?.seriesFetched ?? 0;
    this.chunkBytes += s.storage?.chunkBytesFetched ?? 0;
    if (!keep) delete data.stats;
  }
}

/** The parameter a query asks for the querier's stats with, where it does not already. */
export function askingStats(params: URLSearchParams): URLSearchParams {
  if (!params.has('stats')) params.set('stats', 'all');
  return params;
}

/**
 * Thanos' --query-frontend.force-query-stats: every query the frontend sends on asks for the querier's
 * stats; what they say is added up per request and given back in a `Server-Timing` header
 * (`querier_wall_time`, `response_time`), logged in a `query stats` line and counted by tenant. A client
 * that did not ask for stats gets its answer without them, as it would without the flag; a cached piece
 * adds nothing, since no querier ran it.
 */
export class ForcedQueryStats {
  readonly #costs = new WeakMap<FastifyRequest, QueryCosts>();
  readonly #tenant: (req: FastifyRequest) => string;
  readonly #seconds: Counter<'tenant'>;
  readonly #series: Counter<'tenant'>;
  readonly #chunkBytes: Counter<'tenant'>;

  constructor(
    private readonly logger: Logger,
    registry: Registry,
    tenant: TenantSource,
  ) {
    this.#tenant = requestTenantOrDefault(tenant);
    const counter = (name: string, help: string) => new Counter({ name, help, labelNames: ['tenant'], registers: [registry] });
    this.#seconds = counter('strata_frontend_query_seconds_total', "The queriers' time on queries (--query-frontend.force-query-stats), by tenant.");
    this.#series = counter('strata_frontend_query_fetched_series_total', 'Series the queriers fetched for queries (--query-frontend.force-query-stats), by tenant.');
    this.#chunkBytes = counter('strata_frontend_query_fetched_chunks_bytes_total', 'Chunk bytes the queriers fetched for queries (--query-frontend.force-query-stats), by tenant.');
  }

  /** The costs of `req`'s queries, kept until it is answered. */
  costsOf(req: FastifyRequest): QueryCosts {
    let c = this.#costs.get(req);
    if (c === undefined) this.#costs.set(req, (c = new QueryCosts()));
    return c;
  }

  /** Sets the Server-Timing header of `req`'s answer, before it is sent. */
  setTiming(req: FastifyRequest, reply: FastifyReply): void {
    const c = this.#costs.get(req);
    if (c === undefined) return;
    reply.header('server-timing', `querier_wall_time;dur=${c.wallSeconds * 1000}, response_time;dur=${reply.elapsedTime}`);
  }

  /** Logs and counts `req`'s costs, once it is answered. */
  report(req: FastifyRequest, reply: FastifyReply, params: Iterable<[string, string]>): void {
    const c = this.#costs.get(req);
    if (c === undefined) return;
    const tenant = this.#tenant(req);
    this.#seconds.inc({ tenant }, c.wallSeconds);
    this.#series.inc({ tenant }, c.seriesFetched);
    this.#chunkBytes.inc({ tenant }, c.chunkBytes);
    this.logger.info('query stats', {
      component: 'query-frontend',
      method: req.method,
      path: req.url.split('?', 1)[0] as string,
      status_code: reply.statusCode,
      response_time: `${(reply.elapsedTime / 1000).toFixed(3)}s`,
      query_wall_time_seconds: c.wallSeconds,
      fetched_series_count: c.seriesFetched,
      fetched_chunks_bytes: c.chunkBytes,
      peak_samples: c.peakSamples,
      total_samples_loaded: c.totalSamples,
      ...paramFields(params),
    });
  }
}
