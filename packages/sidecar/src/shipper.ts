/**
 * The shipper: uploads every block Prometheus finishes, oldest first, exactly once.
 *
 * State lives in `<tsdb.path>/thanos.shipper.json` (`--shipper.meta-file-name`; Thanos' format, `{"version":1,"uploaded":[…]}`),
 * written atomically after every upload. A block counts as shipped once its meta.json is in the bucket,
 * and meta.json goes up last, so a crash or an object-store outage mid-upload leaves only an invisible
 * partial block, which the next sync uploads again (objects are overwritten whole).
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CHUNKS_DIRNAME, INDEX_FILENAME, MetaFetcher, uploadBlock } from '@strata/block';
import { type Bucket, joinKey } from '@strata/objstore';
import type { Logger } from '@strata/runtime';
import { type BlockMeta, formatMeta, Labels, META_FILENAME, Resolution, type ThanosSource } from '@strata/tsdb';
import type { ShipperMetrics } from './metrics.js';
import { finishedBlocks } from './tsdbdir.js';

export const SHIPPER_META_FILENAME = 'thanos.shipper.json';
/** Where blocks are staged (hard links plus a meta.json with the thanos section) before upload. */
const UPLOAD_STAGING_DIR = join('thanos', 'upload');

export interface ShipperState {
  version: 1;
  uploaded: string[];
}

export interface ShipperOptions {
  bucket: Bucket;
  /** Prometheus' data directory. */
  dir: string;
  /** Current external labels, written into every uploaded block. */
  labels: () => Labels;
  uploadCompacted: boolean;
  /**
   * --shipper.allow-out-of-order-uploads (Thanos'): a block that fails to upload is retried on the next sync
   * without holding back the newer ones, and compacted blocks go without the overlap check (for a bucket
   * whose compactor deduplicates overlaps vertically).
   */
  allowOutOfOrderUploads?: boolean;
  /** Record each uploaded file's SHA256 in meta.json (--hash-func=SHA256), so that a compactor's download skips a file it already has. */
  hashFiles?: boolean;
  /** --shipper.upload-concurrency: files of one block uploaded at once; 0 (the default, as Thanos') is one at a time. */
  uploadConcurrency?: number;
  /** --shipper.meta-file-name: the state file's name in `dir` (default thanos.shipper.json). */
  metaFileName?: string;
  /** meta.json's thanos.source of the blocks shipped (default sidecar). */
  source?: ThanosSource;
  metrics: ShipperMetrics;
  logger: Logger;
}

export interface SyncResult {
  /** Blocks uploaded by this sync. */
  uploaded: string[];
  /** The first failure, which stopped the sync (later blocks wait, to keep uploads in time order) unless out-of-order uploads are allowed. */
  error?: Error;
}

export async function readShipperState(dir: string, file = SHIPPER_META_FILENAME): Promise<ShipperState | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, file), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const parsed = JSON.parse(text) as Partial<ShipperState>;
  if (parsed.version !== 1) throw new Error(`${file}: unsupported version ${String(parsed.version)}`);
  if (!Array.isArray(parsed.uploaded) || !parsed.uploaded.every((u) => typeof u === 'string')) throw new Error(`${file}: "uploaded" is not a list of block IDs`);
  return { version: 1, uploaded: parsed.uploaded };
}

/** Write to a temporary file, fsync, rename over the old file, fsync the directory. */
export async function writeShipperState(dir: string, state: ShipperState, file = SHIPPER_META_FILENAME): Promise<void> {
  const final = join(dir, file);
  const tmp = `${final}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(`${JSON.stringify(state, null, '\t')}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, final);
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

export class Shipper {
  readonly #opts: ShipperOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<SyncResult> | undefined;
  #stopped = false;

  constructor(opts: ShipperOptions) {
    this.#opts = opts;
  }

  /** Syncs now and then every `intervalMs`, one sync at a time. */
  start(intervalMs: number): void {
    const loop = async () => {
      await this.sync();
      if (!this.#stopped) this.#timer = setTimeout(loop, intervalMs);
    };
    void loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** One pass over the data directory; concurrent callers share the running pass. */
  sync(): Promise<SyncResult> {
    if (this.#running === undefined) {
      this.#running = this.#sync().finally(() => {
        this.#running = undefined;
      });
    }
    return this.#running;
  }

  async #sync(): Promise<SyncResult> {
    const { dir, bucket, metrics, logger: log } = this.#opts;
    const result: SyncResult = { uploaded: [] };
    let state: ShipperState;
    try {
      state = (await readShipperState(dir, this.#opts.metaFileName)) ?? { version: 1, uploaded: [] };
    } catch (e) {
      // The bucket is the source of truth (meta.json exists ⇒ shipped), so a bad state file only costs checks.
      log.warn('shipper state unreadable; starting from an empty list', { err: e as Error });
      state = { version: 1, uploaded: [] };
    }
    const done = new Set(state.uploaded);
    const onDisk = new Set<string>();
    /** Metas in the bucket, read once per sync and only if a compacted block is to be shipped. */
    let inBucket: BlockMeta[] | undefined;
    try {
      for (const meta of await this.#localBlocks()) {
        onDisk.add(meta.ulid);
        if (done.has(meta.ulid)) continue;
        if ((meta.stats?.numSamples ?? 0) === 0) continue;
        if (meta.compaction.level > 1 && !this.#opts.uploadCompacted) continue;
        if (await bucket.exists(joinKey(meta.ulid, META_FILENAME))) {
          done.add(meta.ulid);
          continue;
        }
        try {
          if (meta.compaction.level > 1 && this.#opts.allowOutOfOrderUploads !== true) {
            inBucket ??= [...(await new MetaFetcher(bucket).fetch()).metas.values()];
            this.#checkNoOverlap(meta, inBucket);
          }
          await this.#upload(meta);
          inBucket?.push(meta);
        } catch (e) {
          metrics.uploadFailures.inc();
          log.error('block upload failed; retrying on the next sync', { block: meta.ulid, err: e as Error });
          result.error ??= e as Error;
          if (this.#opts.allowOutOfOrderUploads === true) continue;
          break;
        }
        metrics.uploads.inc();
        metrics.lastSuccessfulUpload.set(Date.now() / 1000);
        log.info('uploaded block', { block: meta.ulid, min_time: meta.minTime, max_time: meta.maxTime });
        done.add(meta.ulid);
        result.uploaded.push(meta.ulid);
        await writeShipperState(dir, { version: 1, uploaded: [...done] }, this.#opts.metaFileName);
      }
      // Forget blocks Prometheus has deleted (retention).
      await writeShipperState(dir, { version: 1, uploaded: [...done].filter((id) => onDisk.has(id)) }, this.#opts.metaFileName);
    } catch (e) {
      result.error ??= e as Error;
      log.error('shipper sync failed', { err: e as Error });
    }
    metrics.dirSyncs.inc();
    if (result.error) metrics.dirSyncFailures.inc();
    return result;
  }

  /** Finished blocks, oldest first; a damaged one is counted, logged and skipped. */
  #localBlocks(): Promise<BlockMeta[]> {
    return finishedBlocks(this.#opts.dir, (block, err) => {
      this.#opts.metrics.corruptedBlocks.inc();
      this.#opts.logger.error('cannot read block meta.json; skipping the block', { block, err });
    });
  }

  /**
   * A block Prometheus compacted covers blocks that may already be in the bucket; shipping it too would
   * leave overlapping blocks of one source, which the compactor refuses to touch.
   */
  #checkNoOverlap(meta: BlockMeta, inBucket: readonly BlockMeta[]): void {
    const labels = this.#opts.labels();
    for (const b of inBucket) {
      if (b.ulid === meta.ulid || !Labels.from(b.thanos?.labels ?? {}).equals(labels)) continue;
      if (b.minTime < meta.maxTime && meta.minTime < b.maxTime) {
        throw new Error(
          `compacted block ${meta.ulid} [${meta.minTime}, ${meta.maxTime}) overlaps block ${b.ulid} [${b.minTime}, ${b.maxTime}) already in the bucket; ` +
            'not uploading it. Disable local compaction in Prometheus (min = max block duration) and remove the compacted block from the upload, or delete the overlapping blocks from the bucket.',
        );
      }
    }
  }

  /** Stages hard links and a meta.json with the thanos section, then uploads (meta.json last). */
  async #upload(meta: BlockMeta): Promise<void> {
    const src = join(this.#opts.dir, meta.ulid);
    const stagingRoot = join(this.#opts.dir, UPLOAD_STAGING_DIR, randomBytes(4).toString('hex'));
    const staged = join(stagingRoot, meta.ulid);
    await mkdir(join(staged, CHUNKS_DIRNAME), { recursive: true });
    try {
      const segments = (await readdir(join(src, CHUNKS_DIRNAME))).sort();
      for (const s of segments) await link(join(src, CHUNKS_DIRNAME, s), join(staged, CHUNKS_DIRNAME, s));
      await link(join(src, INDEX_FILENAME), join(staged, INDEX_FILENAME));
      const withThanos: BlockMeta = {
        ...meta,
        thanos: {
          ...meta.thanos,
          labels: this.#opts.labels().toRecord(),
          downsample: { resolution: Resolution.Raw },
          source: this.#opts.source ?? 'sidecar',
          segment_files: segments,
        },
      };
      await writeFile(join(staged, META_FILENAME), formatMeta(withThanos));
      await uploadBlock(this.#opts.bucket, staged, { concurrency: Math.max(1, this.#opts.uploadConcurrency ?? 0), ...(this.#opts.hashFiles === true ? { hash: true } : {}) });
    } finally {
      await rm(stagingRoot, { recursive: true, force: true });
    }
  }
}
