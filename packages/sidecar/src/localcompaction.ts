/**
 * Whether Prometheus may compact its blocks locally while the sidecar ships them, checked from its flags
 * as Thanos' sidecar checks them. A block Prometheus compacts before it is shipped covers blocks that
 * were, and the bucket would hold both. So the shipper refuses to start unless
 * - Prometheus does not compact (storage.tsdb.min-block-duration = max-block-duration), or
 * - Prometheus compacts only blocks the shipper has uploaded: Prometheus 3.9's
 *   --storage.tsdb.delay-compact-file.path names the shipper's state file (its compacted blocks are then
 *   not shipped, unless --shipper.upload-compacted), or
 * - the operator said otherwise (--shipper.ignore-unequal-block-size, as Thanos' hidden flag).
 */
import { normalize } from 'node:path';
import type { Logger } from '@strata/runtime';
import { parseDuration } from '@strata/objstore';

/** A configuration the operator must change; not retried. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface LocalCompactionCheck {
  /** The shipper's state file: --tsdb.path joined with --shipper.meta-file-name. */
  shipperFile: string;
  /** --shipper.ignore-unequal-block-size: ship even though Prometheus compacts without waiting for uploads. */
  ignoreUnequalBlockSize: boolean;
}

/** Throws a ConfigError, saying which flag to change, when Prometheus' flags let it compact blocks before they are shipped. */
export function checkLocalCompaction(flags: Readonly<Record<string, string>>, check: LocalCompactionCheck, log: Logger): void {
  const delayFile = flags['storage.tsdb.delay-compact-file.path'];
  if (delayFile !== undefined && delayFile !== '') {
    if (normalize(delayFile) !== normalize(check.shipperFile)) {
      throw new ConfigError(
        `Prometheus waits for the blocks listed in ${delayFile} (storage.tsdb.delay-compact-file.path) before it compacts them, but the shipper lists ` +
          `its uploads in ${check.shipperFile}: start Prometheus with --storage.tsdb.delay-compact-file.path=${check.shipperFile}.`,
      );
    }
    return;
  }
  const min = flags['storage.tsdb.min-block-duration'];
  const max = flags['storage.tsdb.max-block-duration'];
  if (min === undefined || max === undefined) {
    log.warn('Prometheus does not report its block durations; cannot check that local compaction is disabled');
    return;
  }
  if (!sameDuration(min, max)) {
    const what = `Prometheus compacts blocks locally (storage.tsdb.min-block-duration=${min}, storage.tsdb.max-block-duration=${max})`;
    if (check.ignoreUnequalBlockSize) {
      log.warn(`${what}; shipping anyway (--shipper.ignore-unequal-block-size): blocks it compacts before they are shipped will overlap uploaded ones`);
      return;
    }
    throw new ConfigError(
      `${what}, which would make uploaded blocks overlap. Start Prometheus with --storage.tsdb.max-block-duration=${min} ` +
        `(equal to --storage.tsdb.min-block-duration; 2h is recommended) to disable local compaction, or, from Prometheus 3.9 on, ` +
        `with --storage.tsdb.delay-compact-file.path=${check.shipperFile} to have it compact only blocks already shipped.`,
    );
  }
  if (min !== '2h') log.warn('found that TSDB block duration is not 2h; 2h is recommended', { min_block_duration: min });
}

function sameDuration(a: string, b: string): boolean {
  try {
    return parseDuration(a) === parseDuration(b);
  } catch {
    return a === b;
  }
}
