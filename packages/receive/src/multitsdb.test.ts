// Tenants let go of after the retention, as Thanos' receiver decommissions them: the head cut into a
// block and shipped to a (filesystem) bucket, the directory removed, the tenant opened afresh by a write.
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { getBuffer, newBucket, parseBucketConfig } from '@strata/objstore';
import { createLogger } from '@strata/runtime';
import { type CallContext } from '@strata/storeapi';
import { Labels } from '@strata/tsdb';
import { tempDir } from '@strata/testing/process';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { MultiTSDB } from './multitsdb.js';

const HOUR = 3_600_000;
const ctx: CallContext = { signal: new AbortController().signal };
let tmp: { path: string; cleanup: () => Promise<void> } | undefined;

afterEach(async () => {
  await tmp?.cleanup();
});

describe('MultiTSDB.prune', () => {
  it('lets go of a tenant with no sample within the retention: flushed, shipped, removed, and opened again by a write', async () => {
    tmp = await tempDir('strata-multitsdb-');
    const bucket = newBucket(parseBucketConfig(`type: FILESYSTEM\nconfig:\n  directory: ${join(tmp.path, 'bucket')}\n`));
    const db = await MultiTSDB.open({
      dir: join(tmp.path, 'tsdb'),
      blockDurationMs: 2 * HOUR,
      retentionMs: HOUR,
      externalLabels: Labels.from({ receive: 'r0' }),
      tenantLabelName: 'tenant_id',
      bucket,
      shipper: { syncIntervalMs: 3_600_000 },
      registry: new Registry(),
      logger: createLogger({ write: () => undefined }),
    });
    try {
      const now = Date.now();
      const at = (t: number) => [{ labels: Labels.from({ __name__: 'up' }), samples: [{ timestamp: t, value: 1 }] }];
      // Both in one 2 h window (so one block), hours before the retention's start.
      const window = Math.floor((now - 4 * HOUR) / (2 * HOUR)) * 2 * HOUR;
      await db.append('idle', at(window + 60_000));
      await db.append('idle', at(window + 30 * 60_000));
      await db.append('busy', at(now - 1_000));
      await db.prune(now);
      expect((await readdir(join(tmp.path, 'tsdb'))).sort()).toEqual(['busy']);
      expect((await db.store.info(ctx)).labelSets.map((s) => s.find((l) => l.name === 'tenant_id')?.value)).toEqual(['busy']);
      // Its samples are in the bucket, in a block labelled with the tenant.
      const blocks: string[] = [];
      for await (const e of bucket.list('')) if (/^[0-9A-Z]{26}\/$/.test(e.name)) blocks.push(e.name);
      expect(blocks).toHaveLength(1);
      const meta = JSON.parse((await getBuffer(bucket, `${blocks[0]}meta.json`)).toString()) as { stats: { numSamples: number }; thanos: { labels: Record<string, string> } };
      expect([meta.stats.numSamples, meta.thanos.labels]).toEqual([2, { receive: 'r0', tenant_id: 'idle' }]);
      // A new write opens it again.
      await db.append('idle', at(now));
      await access(join(tmp.path, 'tsdb', 'idle'));
      expect((await db.store.info(ctx)).labelSets).toHaveLength(2);
    } finally {
      await db.close();
      await bucket.close();
    }
  });
});
