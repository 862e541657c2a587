import { parseDurationParam, parseTime } from '@strata/promql';
import { clientGone, formatGoDuration, goJson, sendJson, type TenantSource } from '@strata/runtime';
import type { FastifyReply, FastifyRequest } from 'fastify';
import pLimit, { type LimitFunction } from 'p-limit';
import { mergeAnswers, parseMatrixAnswer, trimAnswer, type MatrixAnswer } from './answer.js';
import { parsedSize, type EntriesCache, type Extent } from './cache.js';
import type { Downstream, DownstreamAnswer } from './downstream.js';
import type { FrontendMetrics } from './metrics.js';
import { pinnedQuery } from './pin.js';
import { askingStats, type ForcedQueryStats, type QueryCosts } from './querystats.js';
import { mayCache, noStore, otherParams, requestParams, seconds, tenantOrReply } from './request.js';
import { passThrough, sendAnswer, sendBadData, sendUnavailable } from './proxy.js';
import { overlappingShardsError, shardInfoParams, shardingOf, type ShardingKey } from './sharding.js';
import { alignToStep, splitByInterval, type SplitOptions, type StepRange } from './split.js';

/** How range queries are split, cached and sent on (Thanos' --query-range.* flags). */
export interface RangeOptions extends SplitOptions {
  alignRangeWithStep: boolean;
  /**
   * For a query with max_source_resolution=auto, ask again at the next coarser resolution (5m, then 1h)
   * for the start of a piece the answer left empty, as Thanos' --query-range.request-downsampled: raw
   * data kept for less time than the downsampled data (per-resolution retention) otherwise leaves the
   * older part of a long range blank.
   */
  requestDownsampled: boolean;
  /** Longest range accepted (ms; 0: any). */
  maxQueryLength: number;
  /**
   * Thanos' dynamic horizontal splitting, in place of a fixed split interval (`splitInterval` 0): a
   * range of at least twice `maxSplitInterval` is split at it; a shorter one longer than
   * `minSplitInterval` into `horizontalShards` pieces; any other at `minSplitInterval`. 0: off.
   */
  minSplitInterval: number;
  maxSplitInterval: number;
  horizontalShards: number;
  /**
   * Send each shardable query as this many queries, each over a shard of the series (Thanos'
   * --query-frontend.vertical-shards; 0 or 1: not sharded), so that as many queriers share its work.
   */
  verticalShards: number;
}

export interface RangeContext {
  readonly opts: RangeOptions;
  /** Where a request's tenant comes from: each tenant's answers are cached apart. */
  readonly tenant: TenantSource;
  readonly downstream: Downstream;
  readonly cache: EntriesCache<Extent> | undefined;
  readonly metrics: FrontendMetrics;
  readonly now: () => number;
  /** --query-frontend.force-query-stats */
  readonly forcedStats?: ForcedQueryStats;
}

/** The parameters that name the query and its range; every other one goes to each piece as it came. */
const RANGE_PARAMS = new Set(['query', 'start', 'end', 'step']);
/**
 * Parameters whose answer cannot be put together from pieces: `stats` (per-query costs) and `limit`
 * (series cut per piece would differ from the whole's). Such queries go downstream whole.
 */
const WHOLE_ONLY_PARAMS = ['stats', 'limit', 'analyze'];

/** A range query as the frontend answers it. */
interface RangeQuery {
  /** The query as every piece sends it (see pinnedQuery). */
  readonly query: string;
  readonly range: StepRange;
  /** The other parameters, in a stable order (for cache keys). */
  readonly rest: readonly [string, string][];
  /** Where the query is split (ms; 0: whole, uncached). */
  readonly interval: number;
  /** How each downstream query is sharded (--query-frontend.vertical-shards); undefined: sent whole. */
  readonly sharding?: ShardingKey;
}

/** The request as a range query the frontend can split; undefined for one that goes downstream whole (invalid ones too: the querier says why). */
function rangeQuery(params: URLSearchParams, opts: RangeOptions): RangeQuery | undefined {
  if (WHOLE_ONLY_PARAMS.some((p) => params.has(p))) return undefined;
  const query = params.get('query');
  const start = parseTime(params.get('start') ?? '');
  const end = parseTime(params.get('end') ?? '');
  const step = parseDurationParam(params.get('step') ?? '');
  if (query === null || start === undefined || end === undefined || step === undefined || step <= 0 || end < start || (end - start) / step > 11_000) return undefined;
  const range = opts.alignRangeWithStep ? alignToStep({ start, end, step }) : { start, end, step };
  const pinned = pinnedQuery(query, range);
  if (pinned === undefined) return undefined;
  // A request that names its shard (a frontend in front of this one) is that shard's already.
  const sharding = opts.verticalShards > 1 && !params.has('shard_info') ? shardingOf(pinned) : undefined;
  return { query: pinned, range, rest: otherParams(params, RANGE_PARAMS, opts.partialResponse), interval: splitInterval(opts, range), ...(sharding !== undefined ? { sharding } : {}) };
}

/** The interval a range query is split at: --query-range.split-interval, or Thanos' dynamic one (its dynamicIntervalFn). */
export function splitInterval(opts: RangeOptions, r: StepRange): number {
  if (opts.splitInterval !== 0 || opts.minSplitInterval <= 0) return opts.splitInterval;
  const length = r.end - r.start;
  if (Math.floor(length / opts.maxSplitInterval) >= 2) return opts.maxSplitInterval;
  if (length > opts.minSplitInterval) return Math.floor(length / opts.horizontalShards);
  return opts.minSplitInterval;
}

/** A piece's answer: the downstream querier's matrix, or its error answer (sent to the client as it came). */
type FetchedPiece = { answer: MatrixAnswer; cacheable: boolean; bytes: number };
type PieceAnswer = FetchedPiece | { error: DownstreamAnswer };

/** Answers range queries from pieces: split by interval, each piece from the cache where it holds it and downstream for the rest. */
export class RangeHandler {
  constructor(private readonly ctx: RangeContext) {}

  async handle(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const { opts, metrics, downstream } = this.ctx;
    const q = rangeQuery(requestParams(req), opts);
    if (q === undefined) return passThrough(downstream, metrics, req, reply, this.ctx.forcedStats);
    const tenant = tenantOrReply(req, reply, this.ctx.tenant);
    if (tenant === undefined) return reply;
    metrics.queries.inc({ op: 'query_range' });
    if (opts.verticalShards > 1) metrics.verticalSharding.inc({ op: 'query_range', result: q.sharding !== undefined ? 'sharded' : 'whole' });
    const length = q.range.end - q.range.start;
    if (opts.maxQueryLength > 0 && length > opts.maxQueryLength) {
      return sendBadData(reply, `the query time range exceeds the limit (query length: ${formatGoDuration(length * 1e6)}, limit: ${formatGoDuration(opts.maxQueryLength * 1e6)})`);
    }
    const fetcher = new PieceFetcher(this.ctx, q, this.ctx.downstream.forwardedHeaders(req), clientGone(reply), this.ctx.forcedStats?.costsOf(req));
    // A client asking for a fresh answer (Cache-Control: no-store, as Cortex' frontend reads it) gets one, and it is not cached.
    const useCache = !noStore(req.headers['cache-control']);
    let answers: PieceAnswer[];
    try {
      answers = await Promise.all(splitByInterval(q.range, q.interval).map((piece) => (useCache ? this.#answerPiece(fetcher, q, piece, tenant) : fetcher.fetch(piece))));
    } catch (e) {
      return sendUnavailable(reply, e);
    }
    this.ctx.forcedStats?.setTiming(req, reply);
    const failed = answers.find((a) => 'error' in a);
    if (failed !== undefined && 'error' in failed) return sendAnswer(reply, failed.error);
    return sendJson(reply, goJson(JSON.stringify(mergeAnswers(answers.map((a) => (a as { answer: MatrixAnswer }).answer)))));
  }

  /**
   * One piece: what the cache holds of it up to the freshness cutoff, the gaps fetched (and cached, unless
   * their answer carries warnings: a partial answer), and what is newer than the cutoff fetched uncached.
   */
  async #answerPiece(fetcher: PieceFetcher, q: RangeQuery, piece: StepRange, tenant: string): Promise<PieceAnswer> {
    const { cache, opts, metrics, now } = this.ctx;
    const { step } = piece;
    // Cached extents lie on the step grid of a key: only step-aligned pieces share it.
    if (cache === undefined || q.interval <= 0 || piece.start % step !== 0) return fetcher.fetch(piece);
    // The last step to cache: on the grid (the piece's end need not be, unaligned) and old enough.
    const lastStep = piece.start + Math.floor((piece.end - piece.start) / step) * step;
    const cutoff = Math.min(lastStep, Math.floor((now() - opts.maxCacheFreshness) / step) * step);
    if (cutoff < piece.start) return fetcher.fetch(piece);
    // Pieces are cut at the query's interval (dynamic ones differ by range): each interval keys pieces of its own.
    const key = JSON.stringify([tenant, q.query, step, q.interval, Math.floor(piece.start / q.interval), q.rest]);
    const cached = await cache.get(key);
    const parts: (Extent | StepRange)[] = [];
    let t = piece.start;
    for (const e of cached) {
      if (e.end < t) continue;
      if (e.start > cutoff) break;
      if (e.start > t) parts.push({ start: t, end: e.start - step, step });
      parts.push(e);
      t = e.end + step;
    }
    if (t <= cutoff) parts.push({ start: t, end: cutoff, step });
    if (cutoff + step <= piece.end) parts.push({ start: cutoff + step, end: piece.end, step });
    const gaps = parts.filter((p): p is StepRange => !('answer' in p));
    const fetched = await Promise.all(gaps.map((g) => fetcher.fetch(g)));
    const failed = fetched.find((f) => 'error' in f);
    if (failed !== undefined) return failed;
    // Up to the cutoff: answered from the cache whole, in part, or not at all.
    const missing = gaps.filter((g) => g.end <= cutoff).length;
    const held = parts.length - gaps.length;
    metrics.cacheLookups.inc({ cache: 'query_range', result: missing === 0 ? 'hit' : held > 0 ? 'partial' : 'miss' });
    const answerOf = new Map(gaps.map((g, i) => [g, fetched[i] as { answer: MatrixAnswer; cacheable: boolean; bytes: number }]));
    const extents: Extent[] = [...cached];
    for (const [g, a] of answerOf) if (g.end <= cutoff && a.cacheable) extents.push({ start: g.start, end: g.end, answer: a.answer, bytes: a.bytes });
    cache.set(key, joined(extents, step));
    const answers = parts.map((p) => ('answer' in p ? trimAnswer(p.answer, piece.start, cutoff) : (answerOf.get(p) as { answer: MatrixAnswer }).answer));
    return { answer: mergeAnswers(answers), cacheable: false, bytes: 0 };
  }
}

/** The downstream range queries of one request, at most --query-range.max-query-parallelism at a time. */
class PieceFetcher {
  readonly #limit: LimitFunction;

  constructor(
    private readonly ctx: RangeContext,
    private readonly q: RangeQuery,
    private readonly headers: Record<string, string>,
    private readonly signal: AbortSignal,
    /** Where the querier's stats of each query go, when they are forced (the client never asked: such requests are not split). */
    private readonly costs?: QueryCosts,
  ) {
    this.#limit = pLimit(Math.max(1, ctx.opts.maxQueryParallelism));
  }

  fetch(r: StepRange): Promise<PieceAnswer> {
    return this.#limit(async () => {
      this.ctx.metrics.splitQueries.inc();
      const first = await this.#send(r, this.q.rest);
      const auto = this.q.rest.some(([k, v]) => k === 'max_source_resolution' && v === 'auto');
      return 'error' in first || !this.ctx.opts.requestDownsampled || !auto ? first : this.#withDownsampled(r, first);
    });
  }

  /**
   * `first` (the piece at max_source_resolution=auto, step / 5) with what coarser resolutions have for
   * where it starts late: [start, its earliest point - step] asked at 5m, then what that left empty at
   * 1h, each answer's points earlier than the one before's.
   */
  async #withDownsampled(r: StepRange, first: FetchedPiece): Promise<PieceAnswer> {
    const parts = [first];
    let end = r.end;
    for (const resolution of DOWNSAMPLED_RESOLUTIONS) {
      if (resolution <= r.step / 5) continue;
      const earliest = earliestPoint((parts[parts.length - 1] as FetchedPiece).answer);
      if (earliest === r.start) break;
      if (earliest !== undefined) end = earliest - r.step;
      if (end < r.start) break;
      this.ctx.metrics.downsampledExtraQueries.inc();
      const rest = this.q.rest.map(([k, v]): [string, string] => [k, k === 'max_source_resolution' ? `${resolution / 1000}s` : v]);
      const more = await this.#send({ start: r.start, end, step: r.step }, rest);
      if ('error' in more) return more;
      parts.push(more);
    }
    if (parts.length === 1) return first;
    return { answer: mergeAnswers(parts.map((p) => p.answer).reverse()), cacheable: parts.every((p) => p.cacheable), bytes: parts.reduce((n, p) => n + p.bytes, 0) };
  }

  /** The range query over `r`, as one query, or as one per shard put together. */
  async #send(r: StepRange, rest: readonly [string, string][]): Promise<PieceAnswer> {
    const key = this.q.sharding;
    if (key === undefined) return this.#sendOne(r, rest);
    const shards = await Promise.all(shardInfoParams(key, this.ctx.opts.verticalShards).map((param) => this.#sendOne(r, [...rest, param])));
    const failed = shards.find((a) => 'error' in a);
    if (failed !== undefined) return failed;
    const fetched = shards as FetchedPiece[];
    const overlap = overlappingShardsError(fetched.map((a) => a.answer));
    if (overlap !== undefined) return { error: overlap };
    // The shards hold different series: put together, they are the whole answer.
    return { answer: mergeAnswers(fetched.map((a) => a.answer)), cacheable: fetched.every((a) => a.cacheable), bytes: fetched.reduce((n, a) => n + a.bytes, 0) };
  }

  async #sendOne(r: StepRange, rest: readonly [string, string][]): Promise<PieceAnswer> {
    const form = new URLSearchParams([['query', this.q.query], ['start', seconds(r.start)], ['end', seconds(r.end)], ['step', seconds(r.step)], ...rest]);
    if (this.costs !== undefined) askingStats(form);
    const a = await this.ctx.downstream.send({
      method: 'POST',
      path: '/api/v1/query_range',
      headers: { ...this.headers, 'content-type': 'application/x-www-form-urlencoded' },
      body: Buffer.from(form.toString()),
      signal: this.signal,
    });
    const answer = a.status === 200 ? parseMatrixAnswer(a.body.toString('utf8')) : undefined;
    if (answer === undefined) return { error: a };
    this.costs?.take(answer, false);
    return { answer, cacheable: mayCache(answer, a.headers), bytes: parsedSize(a.body.length) };
  }
}

/** The resolutions the compactor downsamples to (ms), finest first. */
const DOWNSAMPLED_RESOLUTIONS = [5 * 60_000, 3_600_000];

/** The time (ms) of an answer's earliest point, over all its series; undefined for an empty answer. */
function earliestPoint(a: MatrixAnswer): number | undefined {
  let earliest: number | undefined;
  for (const s of a.data.result) {
    const t = Math.min(s.values?.[0]?.[0] ?? Infinity, s.histograms?.[0]?.[0] ?? Infinity);
    if (t !== Infinity && (earliest === undefined || t < earliest)) earliest = t;
  }
  return earliest === undefined ? undefined : Math.round(earliest * 1000);
}

/** Extents in time order, those that meet on the step grid joined into one. */
function joined(extents: readonly Extent[], step: number): Extent[] {
  const out: Extent[] = [];
  for (const e of [...extents].sort((a, b) => a.start - b.start)) {
    const last = out[out.length - 1];
    if (last !== undefined && e.start <= last.end + step) {
      const answer = mergeAnswers([last.answer, trimAnswer(e.answer, last.end + step, e.end)]);
      out[out.length - 1] = { start: last.start, end: Math.max(last.end, e.end), answer, bytes: last.bytes + e.bytes };
    } else {
      out.push(e);
    }
  }
  return out;
}
