import type { Command } from 'commander';
import type { Bucket } from '@strata/objstore';
import { parseDuration } from '../flags.js';
import { hashFuncFlag, intFlag } from './component.js';
import { bucketFromFlags, withObjstoreFlags } from './objstore-flags.js';

/**
 * The flags of a component keeping a TSDB of its own and shipping its blocks, as Thanos' ruler and
 * receiver take them: its blocks and retention, the shipper's, and the bucket (`what` names whose).
 */
export function withLocalTsdbFlags(cmd: Command, opts: { what: string; retention: string }): Command {
  return withObjstoreFlags(cmd, 'objstore', `the bucket the ${opts.what}'s blocks are shipped to (none: kept locally)`)
    .option('--tsdb.block-duration <duration>', 'span of the blocks cut (and shipped)', '2h')
    .option('--tsdb.retention <duration>', 'how long blocks are kept on local disk (0: for ever)', opts.retention)
    .option('--tsdb.no-lockfile', "Thanos' flag, accepted: the TSDB takes no lock file", false)
    .option('--tsdb.wal-compression', "Thanos' flag, accepted: the write-ahead log is not compressed", false)
    .option('--tsdb.enable-native-histograms', "Thanos' flag (deprecated there), accepted: native histograms are always stored", true)
    .option('--no-tsdb.enable-native-histograms', 'accepted too: native histograms are stored all the same')
    .option('--shipper.allow-out-of-order-uploads', 'a block that fails to upload does not hold back newer ones (it is retried on the next sync)', false)
    .option('--hash-func <func>', 'SHA256: record each uploaded file\'s SHA256 in meta.json ("": none, as Thanos)', '')
    .option('--shipper.upload-concurrency <n>', 'files of one block uploaded at once (0: one at a time, as Thanos)', '0');
}

export interface LocalTsdbFlags {
  blockDurationMs: number;
  retentionMs: number;
  bucket?: Bucket;
  shipper: { hashFiles: boolean; allowOutOfOrderUploads: boolean; uploadConcurrency: number };
}

/** What `withLocalTsdbFlags` registered, read and checked. */
export async function localTsdbFromFlags(o: Record<string, unknown>): Promise<LocalTsdbFlags> {
  const bucket = await bucketFromFlags(o, 'objstore');
  return {
    blockDurationMs: parseDuration(String(o['tsdb.blockDuration'])),
    retentionMs: parseDuration(String(o['tsdb.retention'])),
    ...(bucket !== undefined ? { bucket } : {}),
    shipper: {
      hashFiles: hashFuncFlag(String(o.hashFunc)),
      allowOutOfOrderUploads: o['shipper.allowOutOfOrderUploads'] === true,
      uploadConcurrency: intFlag(o['shipper.uploadConcurrency'], '--shipper.upload-concurrency', 0),
    },
  };
}
