import type { Logger } from '@strata/runtime';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { requestParams } from './request.js';

/**
 * Logs an API request slower than `thresholdMs` (0: none; below 0: every one) with its parameters, as
 * Thanos' query frontend does with --query-frontend.log-queries-longer-than.
 */
export function logIfSlow(logger: Logger, thresholdMs: number, req: FastifyRequest, reply: FastifyReply): void {
  const took = reply.elapsedTime;
  if (thresholdMs === 0 || took < thresholdMs) return;
  const fields: Record<string, string | number> = { method: req.method, path: req.url.split('?', 1)[0] as string, status: reply.statusCode, time_taken: `${(took / 1000).toFixed(3)}s`, remote_addr: req.ip };
  const params = requestParams(req);
  for (const name of new Set(params.keys())) fields[`param_${name}`] = params.getAll(name).join(',');
  logger.info('slow query detected', fields);
}
