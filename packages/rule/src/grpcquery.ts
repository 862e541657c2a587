/**
 * How the ruler evaluates a rule's expression over Thanos' Query API (`--grpc-query-endpoint`), as
 * Thanos' ruler does through its remote engine: an instant query at the evaluation time in whole seconds
 * (the API's `time_seconds`, as Thanos sends it), deduplicated, with the group's partial response
 * strategy. Queriers are tried in a random order until one answers; a query the querier refuses as
 * invalid is not tried on another. Native histogram results come exactly (prompb histograms), where the
 * HTTP API's JSON carries only their buckets' bounds and counts.
 */
import { GrpcStatus, queryRequest, StoreClient, type QueryAnswer } from '@strata/storeapi';
import { Labels } from '@strata/tsdb';
import { QueryError, shuffled, type InstantSample, type LastSample, type QueryClient, type QueryOptions } from './query.js';
import type { QueryTargets } from './querytargets.js';

export interface GrpcQueryConfig {
  readonly targets: QueryTargets;
  readonly timeoutMs: number;
  /** Called with each answer's warnings (Thanos' ruler logs them). */
  readonly onWarnings?: (expr: string, warnings: readonly string[], opts: QueryOptions) => void;
}

export interface GrpcQueryClient extends QueryClient {
  close(): void;
}

export function grpcQueryClient(cfg: GrpcQueryConfig): GrpcQueryClient {
  const clients = new Map<string, StoreClient>();
  const ask = async (expr: string, timeMs: number, opts: QueryOptions): Promise<QueryAnswer> => {
    const addresses = shuffled(await cfg.targets.addresses());
    if (addresses.length === 0) throw new Error('no query API server reachable: no querier found');
    const req = queryRequest({ query: expr, timeSeconds: Math.floor(timeMs / 1000), enableDedup: true, enablePartialResponse: opts.partialResponse, timeoutSeconds: Math.ceil(cfg.timeoutMs / 1000) });
    let last: unknown;
    for (const address of addresses) {
      let client = clients.get(address);
      if (client === undefined) clients.set(address, (client = new StoreClient(address)));
      try {
        const answer = await client.query(req, { timeoutMs: cfg.timeoutMs, ...(opts.signal !== undefined ? { signal: opts.signal } : {}) });
        if (answer.warnings.length > 0) cfg.onWarnings?.(expr, answer.warnings, opts);
        return answer;
      } catch (err) {
        if ((err as { code?: number }).code === GrpcStatus.INVALID_ARGUMENT) throw new QueryError((err as { details?: string }).details ?? (err as Error).message);
        if (opts.signal?.aborted === true) throw err;
        last = err;
      }
    }
    throw new Error(`no querier answered: ${last instanceof Error ? last.message : String(last)}`);
  };
  return {
    async query(expr, timeMs, opts) {
      const out: InstantSample[] = [];
      for (const s of (await ask(expr, timeMs, opts)).series) {
        const labels = Labels.from(s.labels);
        const h = s.histograms[0];
        if (s.samples.length + s.histograms.length !== 1) throw new QueryError(`rule result is not a vector or scalar (a series with ${s.samples.length + s.histograms.length} samples)`);
        out.push(h !== undefined ? { labels, value: 0, histogram: h.h } : { labels, value: (s.samples[0] as { value: number }).value });
      }
      return out;
    },
    async lastSamples(selector, rangeMs, timeMs, opts) {
      const out: LastSample[] = [];
      for (const s of (await ask(`${selector}[${rangeMs}ms]`, timeMs, opts)).series) {
        const last = s.samples.at(-1);
        if (last !== undefined) out.push({ labels: Labels.from(s.labels), timeMs: last.timestamp, value: last.value });
      }
      return out;
    },
    close() {
      for (const c of clients.values()) c.close();
      clients.clear();
    },
  };
}
