/**
 * Writes series into this receiver's TSDB of a tenant, as Thanos' receive Writer (pkg/receive/writer.go):
 * what the TSDB refuses is logged by kind and fails the write as a conflict (the rest stored), with
 * Thanos' messages (writer_errors.go).
 */
import type { AppendResult, SeriesSamples } from '@strata/localtsdb';
import type { Logger } from '@strata/runtime';
import { WriteError } from './writeerror.js';
import type { ReceivedSeries, WriteRequest } from './writerequest.js';

/** Refused series or samples, each kind a reason: `add 3 samples: out of order sample`. */
export class ConflictError extends WriteError {
  constructor(readonly reasons: readonly string[]) {
    super('conflict', `store locally: conflict: ${reasons.join('; ')}`);
  }
}

interface Refused {
  /** What Thanos answers for it. */
  reason: string;
  /** What Thanos logs for it. */
  log: string;
  n: number;
}

export type LocalWrite = (tenant: string, series: readonly SeriesSamples[]) => Promise<void>;

/** Writes a tenant's series (`replica` 0: a new write, n > 0: a copy another receiver forwarded), locally or over the hashring; throws WriteError. */
export type Write = (tenant: string, series: readonly ReceivedSeries[], replica: number) => Promise<void>;

/**
 * Writes a request's valid series and tells what failed: the write's error, with the series the request
 * held that were left out for their labels counted in as conflicts (as Thanos' writer refuses them).
 */
export async function writeRequest(write: Write, tenant: string, wreq: WriteRequest, replica: number, logger: Logger): Promise<WriteError | undefined> {
  let failed: WriteError | undefined;
  try {
    await write(tenant, wreq.series, replica);
  } catch (err) {
    if (!(err instanceof WriteError)) throw err;
    failed = err;
  }
  const refused = refusedSeries(wreq);
  for (const r of refused) logger.warn(r.log, { tenant, num_dropped: r.n });
  if (refused.length > 0 && (failed === undefined || failed instanceof ConflictError)) return new ConflictError([...refused.map((r) => r.reason), ...(failed?.reasons ?? [])]);
  return failed;
}

/** A LocalWrite over `append`; throws WriteError (internal when the TSDB fails, conflict for refused samples). */
export function localWriter(append: (tenant: string, series: readonly SeriesSamples[]) => Promise<AppendResult>, logger: Logger): LocalWrite {
  return async (tenant, series) => {
    let result: AppendResult;
    try {
      result = await append(tenant, series);
    } catch (err) {
      logger.error('writing to the TSDB failed', { tenant, err: err as Error });
      throw new WriteError('internal', `store locally: ${(err as Error).message}`);
    }
    const refused = refusedSamples(result);
    if (refused.length === 0) return;
    for (const r of refused) logger.warn(r.log, { tenant, num_dropped: r.n });
    throw new ConflictError(refused.map((r) => r.reason));
  };
}

/** The series left out for their labels (writerequest.ts). */
function refusedSeries(w: WriteRequest): Refused[] {
  return [
    { n: w.labelsOutOfOrder, reason: `add ${w.labelsOutOfOrder} series: out of order labels`, log: 'Error on series with out-of-order labels' },
    { n: w.labelsDuplicate, reason: `add ${w.labelsDuplicate} series: duplicate labels`, log: 'Error on series with duplicate labels' },
    { n: w.labelsEmpty, reason: `add ${w.labelsEmpty} series: labelset contains label with empty name or value`, log: 'Error on series with empty label name or value' },
  ].filter((c) => c.n > 0);
}

function refusedSamples(r: AppendResult): Refused[] {
  return [
    { n: r.outOfOrder, reason: `add ${r.outOfOrder} samples: out of order sample`, log: 'Error on ingesting out-of-order samples' },
    { n: r.duplicates, reason: `add ${r.duplicates} samples: duplicate sample for timestamp`, log: 'Error on ingesting samples with different value but same timestamp' },
    { n: r.outOfBounds, reason: `add ${r.outOfBounds} samples: out of bounds`, log: 'Error on ingesting samples that are too old or are too far into the future' },
    { n: r.tooOld, reason: `add ${r.tooOld} samples: too old sample`, log: 'Error on ingesting samples that are outside of the allowed out-of-order time window' },
    { n: r.invalidHistograms, reason: `add ${r.invalidHistograms} native histograms: invalid histogram: ${r.invalidHistogram}`, log: 'Error on ingesting native histograms that are not well formed' },
  ].filter((c) => c.n > 0);
}
