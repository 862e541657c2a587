import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from './logger.js';
import { basicCredentials } from './webauth.js';

/** Who sent a slow request, for its log line: a header naming the user (Thanos' --query-frontend.slow-query-logs-user-header), else the basic-auth user. */
export interface SlowLogOptions {
  userHeader?: string;
}

/**
 * Logs an API request that took longer than `thresholdMs` (0: none; below 0: every request), as
 * Thanos' query frontend does with --query-frontend.log-queries-longer-than, with its fields: what was
 * asked (every parameter as `param_<name>`, repeated ones joined by commas), by whom (`remote_user`;
 * Grafana's dashboard and panel headers), how it ended, how long it took and its trace; `fields` adds
 * the caller's own (the frontend's `org_id`).
 */
export function logIfSlow(
  logger: Logger,
  thresholdMs: number,
  req: FastifyRequest,
  reply: FastifyReply,
  tookMs: number,
  params: Iterable<[string, string]>,
  fields: Record<string, string> = {},
  opts: SlowLogOptions = {},
): void {
  if (thresholdMs === 0 || tookMs < thresholdMs) return;
  const header = (name: string) => {
    const v = req.headers[name.toLowerCase()];
    return (Array.isArray(v) ? v[0] : v) ?? '';
  };
  const traceId = reply.getHeader('x-thanos-trace-id');
  const logged: Record<string, string | number> = {
    ...fields,
    method: req.method,
    host: header('host'),
    path: req.url.split('?', 1)[0] as string,
    remote_user: opts.userHeader !== undefined && opts.userHeader !== '' ? header(opts.userHeader) : (basicCredentials(req)?.user ?? ''),
    remote_addr: req.ip,
    status: reply.statusCode,
    time_taken: `${(tookMs / 1000).toFixed(3)}s`,
    // Grafana names the dashboard and panel a query is for (grafana/grafana#60301).
    grafana_dashboard_uid: header('x-dashboard-uid') || '-',
    grafana_panel_id: header('x-panel-id') || '-',
    trace_id: traceId === undefined ? '-' : String(traceId),
  };
  logger.info('slow query detected', { ...logged, ...paramFields(params) });
}

/** A request's parameters as Thanos' frontend logs them: `param_<name>`, a repeated one's values joined by commas. */
export function paramFields(params: Iterable<[string, string]>): Record<string, string> {
  const byName = new Map<string, string[]>();
  for (const [name, value] of params) byName.set(name, [...(byName.get(name) ?? []), value]);
  const out: Record<string, string> = {};
  for (const [name, values] of byName) out[`param_${name}`] = values.join(',');
  return out;
}
