import { join } from 'node:path';
import { newBucket, parseBucketConfig, type Bucket } from '@strata/objstore';
import { start as startQuerier, type Querier } from '@strata/querier';
import { nopLogger } from '@strata/runtime';
import { start as startStore, type Store } from '@strata/store';
import { copyBlock, promtoolBlocks, uploadWithLabels } from '../store/fixtures.js';

/** History in a bucket as two replicas ship it, a store gateway over it and a querier deduplicating on `replica`. */
export interface ReplicatedHistory {
  /** promtool's blocks of the history, in time order (the reference data). */
  readonly blocks: string[];
  readonly bucket: Bucket;
  readonly store: Store;
  readonly querier: Querier;
  stop(): Promise<void>;
}

/**
 * Makes promtool blocks of `openMetrics` under `dir` and uploads them to a filesystem bucket there as
 * replicas r0 and r1, r0 without the first block (deduplication fills it from r1); then starts a store
 * gateway over the bucket and a querier over the store gateway.
 */
export async function replicatedHistory(openMetrics: string, dir: string): Promise<ReplicatedHistory> {
  const bucket = newBucket(parseBucketConfig(`type: FILESYSTEM\nconfig:\n  directory: ${join(dir, 'bucket')}\n`));
  const blocks = await promtoolBlocks(openMetrics, join(dir, 'blocks'));
  for (const [i, b] of blocks.entries()) {
    if (i > 0) await uploadWithLabels(bucket, b, { replica: 'r0' });
    await uploadWithLabels(bucket, await copyBlock(b, join(dir, 'copies')), { replica: 'r1' });
  }
  const store = await startStore({ bucket, dataDir: join(dir, 'store'), grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: nopLogger });
  const querier = await startQuerier({ httpAddress: '127.0.0.1:0', endpoints: [store.grpcAddress], replicaLabels: ['replica'], logger: nopLogger });
  return {
    blocks,
    bucket,
    store,
    querier,
    async stop() {
      await querier.stop();
      await store.stop();
      await bucket.close();
    },
  };
}
