import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from './logger.js';

/**
 * Logs an API request that took longer than `thresholdMs` (0: none; below 0: every request), as
 * Thanos' query frontend does with --query-frontend.log-queries-longer-than: what was asked (every
 * parameter as `param_<name>`, repeated ones joined by commas), how it ended and how long it took;
 * `fields` adds the caller's own (the frontend's `org_id`).
 */
export function logIfSlow(
  logger: Logger,
  thresholdMs: number,
  req: FastifyRequest,
  reply: FastifyReply,
  tookMs: number,
  params: Iterable<[string, string]>,
  fields: Record<string, string> = {},
): void {
  if (thresholdMs === 0 || tookMs < thresholdMs) return;
  const logged: Record<string, string | number> = {
    ...fields,
    method: req.method,
    path: req.url.split('?', 1)[0] as string,
    status: reply.statusCode,
    time_taken: `${(tookMs / 1000).toFixed(3)}s`,
    remote_addr: req.ip,
  };
  const byName = new Map<string, string[]>();
  for (const [name, value] of params) byName.set(name, [...(byName.get(name) ?? []), value]);
  for (const [name, values] of byName) logged[`param_${name}`] = values.join(',');
  logger.info('slow query detected', logged);
}
