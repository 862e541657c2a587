import type { FastifyReply, FastifyRequest } from 'fastify';
import { requestTenant, type TenantSource } from '@strata/runtime';
import { sendBadData } from './proxy.js';

/** Prometheus' parameters of a request: the query string's, then a POST form body's (which wins for single values downstream). */
export function requestParams(req: FastifyRequest): URLSearchParams {
  const out = new URLSearchParams(req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '');
  const type = String(req.headers['content-type'] ?? '');
  if (req.method === 'POST' && Buffer.isBuffer(req.body) && type.startsWith('application/x-www-form-urlencoded')) {
    const form = new URLSearchParams(req.body.toString('utf8'));
    for (const name of new Set(form.keys())) out.delete(name);
    for (const [k, v] of form) out.append(k, v);
  }
  return out;
}

/**
 * The parameters but `except`, in a stable order: what, with the range, makes a cache key. A request
 * that does not say whether it takes a partial response gets `partialResponse`, as Thanos' frontend
 * sends it on.
 */
export function otherParams(params: URLSearchParams, except: ReadonlySet<string>, partialResponse: boolean): [string, string][] {
  const out = [...params].filter(([k]) => !except.has(k));
  if (!params.has('partial_response')) out.push(['partial_response', String(partialResponse)]);
  return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Whether a Cache-Control header says no-store. */
export function noStore(cacheControl: string | string[] | undefined): boolean {
  return [cacheControl ?? []].flat().some((v) => v.split(',').some((d) => d.trim().toLowerCase() === 'no-store'));
}

/**
 * Whether the querier's answer may be cached: not one with warnings (it may be partial, an endpoint
 * missing), nor one it marks Cache-Control: no-store.
 */
export function mayCache(answer: { warnings?: string[] }, headers: readonly [string, string][]): boolean {
  return (answer.warnings ?? []).length === 0 && !noStore(headers.find(([name]) => name === 'cache-control')?.[1]);
}

/** ms as the seconds an API parameter takes. */
export function seconds(ms: number): string {
  return String(ms / 1000);
}

/** The request's tenant, or undefined once the request was answered 400 (a client certificate that names none). */
export function tenantOrReply(req: FastifyRequest, reply: FastifyReply, source: TenantSource): string | undefined {
  try {
    return requestTenant(req, source);
  } catch (e) {
    void sendBadData(reply, (e as Error).message);
    return undefined;
  }
}
