/**
 * The remote-write endpoint, `POST /api/v1/receive`, answering as Thanos' receive handler (pkg/receive/
 * handler.go) on a single node:
 *
 *   200  every sample stored (or the request held none)
 *   400  the body is not a snappy-compressed WriteRequest, or the tenant is not a valid one
 *   409  samples out of order, at a series' last time with another value, or out of bounds, native
 *        histograms that are not well formed, or series with invalid labels: the rest of the request
 *        is stored (Thanos' errConflict)
 *   413  the body is over the size limit
 *   500  the TSDB failed
 *   503  not ready yet (the WALs are being replayed)
 *
 * The tenant is the request's tenant header's, else the default tenant. A receiver of a hashring sends each
 * series on to the receivers that own it (router.ts); the answer is then its quorum's (503 when too few
 * of them took it).
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Relabeler } from '@strata/block';
import type { Logger } from '@strata/runtime';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { ReceiveMetrics } from './metrics.js';
import { relabelSeries } from './relabel.js';
import { HTTP_STATUS, type WriteError } from './writeerror.js';
import type { LimitRefusal, WriteLimiter } from './limits.js';
import { decodeWriteRequest, MalformedRequestError, type SeriesLabelsCache, uncompressWriteRequest, type WriteRequest } from './writerequest.js';
import { writeRequest, type Write } from './writer.js';

export interface ReceiveHandlerOptions {
  /** --receive.tenant-header */
  tenantHeader: string;
  /** --receive.default-tenant-id */
  defaultTenant: string;
  /** --receive.tenant-certificate-field: the tenant from this field of the client's TLS certificate, the header ignored. */
  tenantCertificateField?: TenantCertificateField;
  /** --receive.replica-header: a write another receiver already replicated (its copy's number, 1-indexed). */
  replicaHeader: string;
  /** --receive.limits-config: request limits and the concurrency gate; `limitHeadSeries`: with its head series limits too (a router). */
  limits?: WriteLimiter;
  limitHeadSeries?: boolean;
  /** --receive.relabel-config: applied to the series of each remote write before they are written or forwarded. */
  relabel?: Relabeler;
  /** The labels of the series seen before, shared with the WriteableStore API's writes. */
  labelsCache?: SeriesLabelsCache;
  /** Most bytes of a (compressed) body. */
  maxRequestBytes: number;
  ready: () => boolean;
  write: Write;
  metrics: ReceiveMetrics;
  logger: Logger;
}

export const RECEIVE_PATH = '/api/v1/receive';

export function receiveHandler(opts: ReceiveHandlerOptions): FastifyPluginAsync {
  return async (app) => {
    // The body is protobuf whatever the content type says: taken as bytes.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.maxRequestBytes }, (_req, body, done) => done(null, body));
    app.post(RECEIVE_PATH, async (req, reply) => {
      if (!opts.ready()) return reply.code(503).type('text/plain').send('service unavailable: not ready\n');
      const tenant = opts.tenantCertificateField !== undefined ? certificateTenant(req.raw.socket, opts.tenantCertificateField) : headerTenant(req.headers[opts.tenantHeader.toLowerCase()], opts.defaultTenant);
      if (tenant === undefined) return reply.code(400).type('text/plain').send(`could not get tenant from client certificate field ${opts.tenantCertificateField}\n`);
      if (!validTenant(tenant)) return reply.code(400).type('text/plain').send(`tenant name not valid: ${JSON.stringify(tenant)}\n`);
      const replicaRaw = req.headers[opts.replicaHeader.toLowerCase()];
      const replica = replicaRaw === undefined || replicaRaw === '' ? 0 : Number(replicaRaw);
      if (!Number.isSafeInteger(replica) || replica < 0) return reply.code(400).type('text/plain').send('could not parse replica header\n');
      const limits = opts.limits;
      const leave = await limits?.enter();
      try {
        const refused = (r: LimitRefusal) => reply.code(r.status).type('text/plain').send(`${r.message}\n`);
        const overHeadSeries = opts.limitHeadSeries === true ? limits?.headSeriesRefusal(tenant) : undefined;
        if (overHeadSeries !== undefined) return refused(overHeadSeries);
        const body = req.body instanceof Uint8Array ? req.body : new Uint8Array();
        const tooLarge = limits?.requestRefusal(tenant, 'size_bytes_limit', body.length);
        if (tooLarge !== undefined) return refused(tooLarge);
        let wreq: WriteRequest;
        try {
          const raw = uncompressWriteRequest(body);
          const tooLargeUncompressed = limits?.requestRefusal(tenant, 'size_bytes_limit', raw.length);
          if (tooLargeUncompressed !== undefined) return refused(tooLargeUncompressed);
          wreq = decodeWriteRequest(raw, opts.labelsCache);
        } catch (e) {
          if (!(e instanceof MalformedRequestError)) throw e;
          return reply.code(400).type('text/plain').send(`${e.message}\n`);
        }
        const overLimit = limits?.requestRefusal(tenant, 'series_limit', wreq.timeseries) ?? limits?.requestRefusal(tenant, 'samples_limit', wreq.samples);
        if (overLimit !== undefined) return refused(overLimit);
        if (opts.relabel !== undefined) wreq = { ...wreq, series: relabelSeries(wreq.series, opts.relabel) };
        return await answer(reply, tenant, wreq, await writeRequest(opts.write, tenant, wreq, replica, opts.logger));
      } finally {
        leave?.();
      }
    });

    /** The answer to a write that reached the TSDB or the hashring: its error, or 200. */
    function answer(reply: FastifyReply, tenant: string, wreq: WriteRequest, failed: WriteError | undefined): FastifyReply {
      const code = failed !== undefined ? HTTP_STATUS[failed.failure] : 200;
      if (failed !== undefined && code >= 500) opts.logger.error('internal server error', { tenant, err: failed });
      let samples = 0;
      for (const s of wreq.series) samples += s.samples.length + (s.histograms?.length ?? 0);
      opts.metrics.observe(tenant, code, wreq.series.length, samples);
      if (failed !== undefined) return reply.code(code).type('text/plain').send(`${failed.message}\n`);
      return reply.code(200).send();
    }
  };
}

export type TenantCertificateField = 'organization' | 'organizationalUnit' | 'commonName';

function headerTenant(header: string | string[] | undefined, defaultTenant: string): string {
  return (Array.isArray(header) ? header[0] : header) || defaultTenant;
}

/** The tenant a client's certificate names in `field`, as Thanos' tenancy.getTenantFromCertificate (the first value); undefined without one. */
function certificateTenant(socket: Socket, field: TenantCertificateField): string | undefined {
  if (!(socket instanceof TLSSocket)) return undefined;
  const subject = socket.getPeerCertificate().subject as Record<string, string | string[] | undefined> | undefined;
  const value = subject?.[field === 'organization' ? 'O' : field === 'organizationalUnit' ? 'OU' : 'CN'];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === '' ? undefined : first;
}

/** As Thanos' tenancy.IsTenantValid: the tenant names a directory under --tsdb.path, so no path tricks. */
export function validTenant(t: string): boolean {
  return t !== '.' && t !== '..' && !t.includes('/') && !t.includes('\\');
}
