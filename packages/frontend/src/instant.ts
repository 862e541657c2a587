import { clientGone, goJson, sendJson } from '@strata/runtime';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseSeriesAnswer, unionAnswers, type SeriesAnswer } from './answer.js';
import type { Downstream } from './downstream.js';
import type { FrontendMetrics } from './metrics.js';
import { passThrough, sendAnswer, sendUnavailable } from './proxy.js';
import { askingStats, type ForcedQueryStats } from './querystats.js';
import { requestParams, seconds } from './request.js';
import { overlappingShardsError, shardInfoParams, shardingOf } from './sharding.js';

export interface InstantContext {
  /** --query-frontend.vertical-shards (0 or 1: every instant query passed through). */
  readonly verticalShards: number;
  readonly downstream: Downstream;
  readonly metrics: FrontendMetrics;
  readonly now: () => number;
  /** --query-frontend.force-query-stats */
  readonly forcedStats?: ForcedQueryStats;
}

/** Parameters whose answer cannot be put together from shards (per-query costs, a limit per shard): sent whole. */
const WHOLE_ONLY_PARAMS = ['stats', 'limit', 'shard_info', 'analyze'];

/**
 * Instant queries: passed through to the querier, or, with --query-frontend.vertical-shards, a query
 * that can be sharded sent as one query per shard of its series, evaluated at one time, and the shards'
 * series put together, as Thanos' frontend shards instant queries.
 */
export class InstantHandler {
  constructor(private readonly ctx: InstantContext) {}

  async handle(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const { verticalShards, downstream, metrics, now, forcedStats } = this.ctx;
    const params = requestParams(req);
    const query = params.get('query');
    const key = verticalShards > 1 && query !== null && !WHOLE_ONLY_PARAMS.some((p) => params.has(p)) ? shardingOf(query, { ordered: true }) : undefined;
    if (verticalShards > 1) metrics.verticalSharding.inc({ op: 'query', result: key !== undefined ? 'sharded' : 'whole' });
    if (key === undefined) return passThrough(downstream, metrics, req, reply, forcedStats);
    metrics.queries.inc({ op: 'query' });
    // Every shard at the same time: a query without one is at the frontend's now.
    if (!params.has('time') || params.get('time') === '') params.set('time', seconds(now()));
    // A client asking for stats is not sharded: forced ones are taken out of the shards' answers.
    const costs = forcedStats?.costsOf(req);
    if (costs !== undefined) askingStats(params);
    const headers = { ...downstream.forwardedHeaders(req), 'content-type': 'application/x-www-form-urlencoded' };
    const signal = clientGone(reply);
    let answers;
    try {
      answers = await Promise.all(
        shardInfoParams(key, verticalShards).map((param) =>
          downstream.send({ method: 'POST', path: '/api/v1/query', headers, body: Buffer.from(new URLSearchParams([...params, param]).toString()), signal }),
        ),
      );
    } catch (e) {
      return sendUnavailable(reply, e);
    }
    const parsed: SeriesAnswer[] = [];
    for (const a of answers) {
      const answer = a.status === 200 ? parseSeriesAnswer(a.body.toString('utf8')) : undefined;
      // A shard's error is the query's, as the querier gave it.
      if (answer === undefined) return sendAnswer(reply, a);
      costs?.take(answer, false);
      parsed.push(answer);
    }
    forcedStats?.setTiming(req, reply);
    const overlap = overlappingShardsError(parsed);
    if (overlap !== undefined) return sendAnswer(reply, overlap);
    return sendJson(reply, goJson(JSON.stringify(unionAnswers(parsed))));
  }
}
