import type { Logger } from '@strata/runtime';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Params } from './params.js';

/**
 * Logs an API request that took longer than `thresholdMs` (0: none; below 0: every request), as
 * Thanos' query frontend does with --query-frontend.log-queries-longer-than: what was asked (every
 * parameter as `param_<name>`), how it ended and how long it took.
 */
export function logIfSlow(logger: Logger, thresholdMs: number, req: FastifyRequest, reply: FastifyReply, tookMs: number): void {
  if (thresholdMs === 0 || tookMs < thresholdMs) return;
  const fields: Record<string, string | number> = {
    method: req.method,
    path: req.url.split('?', 1)[0] as string,
    status: reply.statusCode,
    time_taken: `${(tookMs / 1000).toFixed(3)}s`,
    remote_addr: req.ip,
  };
  const p = Params.from(req.query, req.body);
  for (const name of p.names()) fields[`param_${name}`] = p.all(name).join(',');
  logger.info('slow query detected', fields);
}
