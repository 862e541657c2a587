/**
 * The remote-write endpoint, `POST /api/v1/receive`, answering as Thanos' receive handler (pkg/receive/
 * handler.go) on a single node:
 *
 *   200  every sample stored (or the request held none)
 *   400  the body is not a snappy-compressed WriteRequest, or the tenant is not a valid one; also when
 *        it holds native histogram samples, which Strata does not store yet: its float samples are
 *        stored all the same, and the answer names how many histogram samples were dropped (a 4xx,
 *        as 409, is not retried by Prometheus, so the floats are not sent twice)
 *   409  samples out of order, at a series' last time with another value, or out of bounds, or series
 *        with invalid labels: the rest of the request is stored (Thanos' errConflict)
 *   413  the body is over the size limit
 *   500  the TSDB failed
 *   503  not ready yet (the WALs are being replayed)
 *
 * The tenant is the request's tenant header's, else the default tenant.
 */
import type { AppendResult, SeriesSamples } from '@strata/localtsdb';
import type { Logger } from '@strata/runtime';
import type { FastifyPluginAsync } from 'fastify';
import { decodeWriteRequest, MalformedRequestError, type WriteRequest } from './writerequest.js';
import type { ReceiveMetrics } from './metrics.js';

export interface ReceiveHandlerOptions {
  /** --receive.tenant-header */
  tenantHeader: string;
  /** --receive.default-tenant-id */
  defaultTenant: string;
  /** Most bytes of a (compressed) body. */
  maxRequestBytes: number;
  ready: () => boolean;
  /** Appends a tenant's series to its TSDB. */
  write: (tenant: string, series: readonly SeriesSamples[]) => Promise<AppendResult>;
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
      const header = req.headers[opts.tenantHeader.toLowerCase()];
      const tenant = (Array.isArray(header) ? header[0] : header) || opts.defaultTenant;
      if (!validTenant(tenant)) return reply.code(400).type('text/plain').send(`tenant name not valid: ${JSON.stringify(tenant)}\n`);
      let wreq: WriteRequest;
      try {
        wreq = decodeWriteRequest(req.body instanceof Uint8Array ? req.body : new Uint8Array());
      } catch (e) {
        if (!(e instanceof MalformedRequestError)) throw e;
        return reply.code(400).type('text/plain').send(`${e.message}\n`);
      }
      let result: AppendResult = { appended: 0, outOfOrder: 0, duplicates: 0, outOfBounds: 0 };
      try {
        if (wreq.series.length > 0) result = await opts.write(tenant, wreq.series);
      } catch (err) {
        opts.logger.error('writing to the TSDB failed', { tenant, err: err as Error });
        return reply.code(500).type('text/plain').send(`store locally: ${(err as Error).message}\n`);
      }
      const conflicts = conflictErrors(wreq, result);
      for (const c of conflicts) opts.logger.warn(c.log, { tenant, num_dropped: c.n });
      const code = wreq.histograms > 0 ? 400 : conflicts.length > 0 ? 409 : 200;
      let samples = 0;
      for (const s of wreq.series) samples += s.samples.length;
      opts.metrics.observe(tenant, code, wreq.series.length, samples);
      if (wreq.histograms > 0) {
        const more = conflicts.length > 0 ? `; ${conflicts.map((c) => c.msg).join('; ')}` : '';
        return reply.code(400).type('text/plain').send(`native histograms are not supported: dropped ${wreq.histograms} histogram samples, stored ${result.appended} float samples${more}\n`);
      }
      if (conflicts.length > 0) return reply.code(409).type('text/plain').send(`store locally: conflict: ${conflicts.map((c) => c.msg).join('; ')}\n`);
      return reply.code(200).send();
    });
  };
}

/** What was dropped as a conflict, each kind with Thanos' error and log message (writer_errors.go). */
function conflictErrors(w: WriteRequest, r: AppendResult): { n: number; msg: string; log: string }[] {
  const all = [
    { n: w.labelsOutOfOrder, msg: `add ${w.labelsOutOfOrder} series: out of order labels`, log: 'Error on series with out-of-order labels' },
    { n: w.labelsDuplicate, msg: `add ${w.labelsDuplicate} series: duplicate labels`, log: 'Error on series with duplicate labels' },
    { n: w.labelsEmpty, msg: `add ${w.labelsEmpty} series: labelset contains label with empty name or value`, log: 'Error on series with empty label name or value' },
    { n: r.outOfOrder, msg: `add ${r.outOfOrder} samples: out of order sample`, log: 'Error on ingesting out-of-order samples' },
    { n: r.duplicates, msg: `add ${r.duplicates} samples: duplicate sample for timestamp`, log: 'Error on ingesting samples with different value but same timestamp' },
    { n: r.outOfBounds, msg: `add ${r.outOfBounds} samples: out of bounds`, log: 'Error on ingesting samples that are too old or are too far into the future' },
  ];
  return all.filter((c) => c.n > 0);
}

/** As Thanos' tenancy.IsTenantValid: the tenant names a directory under --tsdb.path, so no path tricks. */
function validTenant(t: string): boolean {
  return t !== '.' && t !== '..' && !t.includes('/') && !t.includes('\\');
}
