import { parseTime } from '@strata/promql';
import { clientGone, goJson, sendJson, type TenantSource } from '@strata/runtime';
import { compareStrings, Labels } from '@strata/tsdb';
import type { FastifyReply, FastifyRequest } from 'fastify';
import pLimit from 'p-limit';
import { joinedNotes } from './answer.js';
import { parsedSize, type EntriesCache } from './cache.js';
import type { Downstream, DownstreamAnswer } from './downstream.js';
import type { FrontendMetrics } from './metrics.js';
import { passThrough, sendAnswer, sendUnavailable } from './proxy.js';
import { mayCache, noStore, otherParams, requestParams, seconds, tenantOrReply } from './request.js';
import { splitByInterval, type SplitOptions } from './split.js';

/** A successful answer of /api/v1/labels, /api/v1/label/<name>/values (strings) or /api/v1/series (label sets). */
interface SetAnswer {
  status: 'success';
  data: (string | Record<string, string>)[];
  warnings?: string[];
  infos?: string[];
}

/** A piece's answer as cached, with the memory it is counted at (parsedSize). */
export interface CachedSet {
  readonly answer: SetAnswer;
  readonly bytes: number;
}

/** How label and series requests are split (Thanos' --labels.* flags). */
export interface LabelsOptions extends SplitOptions {
  /** The range of a request that gives none (ms back from now; 0: such requests go to the querier whole). */
  defaultTimeRange: number;
}

export interface LabelsContext {
  readonly opts: LabelsOptions;
  /** Where a request's tenant comes from: each tenant's answers are cached apart. */
  readonly tenant: TenantSource;
  readonly downstream: Downstream;
  readonly cache: EntriesCache<CachedSet> | undefined;
  readonly metrics: FrontendMetrics;
  readonly now: () => number;
}

const RANGE_PARAMS = new Set(['start', 'end']);

/**
 * Label names, label values and series over a range are the union of their answers over its pieces:
 * Prometheus answers them from every block (and the head) that overlaps the range, and a block
 * overlaps the range exactly when it overlaps one of its pieces. So the range is split at multiples of
 * the split interval, each piece answered by the cache (an exact range asked before) or the querier,
 * and the answers joined, sorted as Prometheus sorts them. A request with `limit` (a cut the pieces
 * would make differently) goes to the querier whole.
 */
export class LabelsHandler {
  constructor(private readonly ctx: LabelsContext) {}

  async handle(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const { opts, metrics, downstream } = this.ctx;
    const params = requestParams(req);
    // Without a range, the last --labels.default-time-range, as Thanos' frontend asks.
    const now = this.ctx.now();
    const start = params.has('start') ? parseTime(params.get('start') as string) : opts.defaultTimeRange > 0 ? now - opts.defaultTimeRange : undefined;
    const end = params.has('end') ? parseTime(params.get('end') as string) : opts.defaultTimeRange > 0 ? now : undefined;
    if (opts.splitInterval <= 0 || start === undefined || end === undefined || end < start || params.has('limit')) return passThrough(downstream, metrics, req, reply);
    const tenant = tenantOrReply(req, reply, this.ctx.tenant);
    if (tenant === undefined) return reply;
    metrics.queries.inc({ op: 'labels' });
    const path = req.url.split('?', 1)[0] as string;
    const rest = otherParams(params, RANGE_PARAMS, opts.partialResponse);
    const headers = downstream.forwardedHeaders(req);
    delete headers['content-type'];
    const signal = clientGone(reply);
    const limit = pLimit(Math.max(1, opts.maxQueryParallelism));
    const useCache = !noStore(req.headers['cache-control']);
    const answerPiece = async (from: number, to: number): Promise<SetAnswer | DownstreamAnswer> => {
      const key = JSON.stringify([tenant, path, rest, from, to]);
      const cacheable = useCache && this.ctx.cache !== undefined && to <= this.ctx.now() - opts.maxCacheFreshness;
      const hit = cacheable ? (await this.ctx.cache?.get(key))?.[0] : undefined;
      if (cacheable) metrics.cacheLookups.inc({ cache: 'labels', result: hit !== undefined ? 'hit' : 'miss' });
      if (hit !== undefined) return hit.answer;
      const qs = new URLSearchParams([...rest, ['start', seconds(from)], ['end', seconds(to)]]);
      const a = await limit(() => downstream.send({ method: 'GET', path: `${path}?${qs}`, headers, signal }));
      const answer = a.status === 200 ? parseSetAnswer(a.body.toString('utf8')) : undefined;
      if (answer === undefined) return a;
      if (cacheable && mayCache(answer, a.headers)) this.ctx.cache?.set(key, [{ answer, bytes: parsedSize(a.body.length) }]);
      return answer;
    };
    let answers: (SetAnswer | DownstreamAnswer)[];
    try {
      answers = await Promise.all(splitByInterval({ start, end, step: 1 }, opts.splitInterval).map((p) => answerPiece(p.start, p.end)));
    } catch (e) {
      return sendUnavailable(reply, e);
    }
    const failed = answers.find((a): a is DownstreamAnswer => !('data' in a));
    if (failed !== undefined) return sendAnswer(reply, failed);
    return sendJson(reply, goJson(JSON.stringify(joinSets(answers as SetAnswer[], path.endsWith('/series')))));
  }
}

function parseSetAnswer(body: string): SetAnswer | undefined {
  try {
    const a = JSON.parse(body) as Partial<SetAnswer>;
    return a.status === 'success' && Array.isArray(a.data) ? (a as SetAnswer) : undefined;
  } catch {
    return undefined;
  }
}

/** The union of the pieces' answers: label sets sorted by labels (series), strings in byte order. */
function joinSets(answers: readonly SetAnswer[], series: boolean): SetAnswer {
  const byKey = new Map<string, string | Record<string, string>>();
  for (const a of answers) for (const x of a.data) byKey.set(typeof x === 'string' ? x : JSON.stringify(x), x);
  const data = series
    ? [...byKey.values()].map((x) => ({ x, labels: Labels.from(x as Record<string, string>) })).sort((a, b) => Labels.compare(a.labels, b.labels)).map((k) => k.x)
    : [...byKey.values()].sort((a, b) => compareStrings(a as string, b as string));
  return { status: 'success', data, ...joinedNotes(answers) };
}
