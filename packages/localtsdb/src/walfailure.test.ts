// A WAL write that fails midway (a full disk): the append call throws, having kept nothing, and the TSDB
// goes on as if it had not been made, its WAL replayed whole after a restart. When the out-of-order log's
// write fails, the call's in-order samples are kept, and a retry of the call takes the rest.
import * as fs from 'node:fs';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { createLogger } from '@strata/runtime';
import { Labels } from '@strata/tsdb';
import { BLOCK_START, HOUR, querySeries } from '@strata/testing/localtsdb';
import { tempDir } from '@strata/testing/process';
import { LocalTSDB } from './db.js';

/** write(2)s that succeed before the next one writes half its bytes and fails as a full disk does (none fails while it is -1). */
let writesBeforeFailure = -1;

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const writeSync = (fd: number, buf: Uint8Array, offset?: number, length?: number, position?: number | null): number => {
    if (writesBeforeFailure !== 0) {
      if (writesBeforeFailure > 0) writesBeforeFailure--;
      return real.writeSync(fd, buf, offset, length, position);
    }
    writesBeforeFailure = -1;
    real.writeSync(fd, buf, offset ?? 0, Math.floor((length ?? buf.length) / 2), position);
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  };
  return { ...real, writeSync, default: { ...real, writeSync } };
});

const T0 = BLOCK_START;
let tmp: { path: string; cleanup: () => Promise<void> };
let warnings: string[];

beforeEach(async () => {
  tmp = await tempDir('strata-walfailure-');
  warnings = [];
});
afterEach(async () => {
  await tmp.cleanup();
});

const open = (outOfOrderTimeWindowMs = 0) =>
  LocalTSDB.open({
    dir: tmp.path, blockDurationMs: 2 * HOUR, retentionMs: 0, externalLabels: Labels.EMPTY, registry: new Registry(), outOfOrderTimeWindowMs,
    logger: createLogger({ write: (line) => void (line.includes('level=warn') && warnings.push(line)) }),
  });
const name = (n: string) => Labels.from({ __name__: n });

it('throws on a failed WAL write having kept nothing of the call, its new series included, and replays whole afterwards', async () => {
  const db = await open();
  expect(db.appendSeries([{ labels: name('a'), samples: [{ timestamp: T0, value: 1 }] }]).appended).toBe(1);
  writesBeforeFailure = 0;
  expect(() => db.appendSeries([{ labels: name('a'), samples: [{ timestamp: T0 + 1000, value: 2 }] }, { labels: name('b'), samples: [{ timestamp: T0 + 1000, value: 3 }] }])).toThrow(/ENOSPC/);
  // The same samples again: taken, as if the failed call had not been made.
  expect(db.appendSeries([{ labels: name('a'), samples: [{ timestamp: T0 + 1000, value: 2 }] }, { labels: name('b'), samples: [{ timestamp: T0 + 1000, value: 3 }] }]).appended).toBe(2);
  expect(db.appendSeries([{ labels: name('c'), samples: [{ timestamp: T0 + 2000, value: 4 }] }]).appended).toBe(1);
  const segments = fs.readdirSync(`${tmp.path}/wal`);
  await db.close();
  const again = await open();
  try {
    expect(warnings).toEqual([]);
    expect(fs.readdirSync(`${tmp.path}/wal`).slice(0, segments.length)).toEqual(segments);
    // Every sample is in the head again: a resend of each is a duplicate dropped without error.
    const resent = again.appendSeries([
      { labels: name('a'), samples: [{ timestamp: T0 + 1000, value: 2 }] },
      { labels: name('b'), samples: [{ timestamp: T0 + 1000, value: 3 }] },
      { labels: name('c'), samples: [{ timestamp: T0 + 2000, value: 4 }] },
    ]);
    expect(resent).toEqual({ appended: 0, outOfOrder: 0, duplicates: 0, outOfBounds: 0, tooOld: 0, invalidHistograms: 0 });
    expect(again.latestTime).toBe(T0 + 2000);
  } finally {
    await again.close();
  }
});

it('keeps the in-order samples of a call whose out-of-order log write fails, and takes the rest when the call is made again', async () => {
  const db = await open(HOUR);
  db.appendSeries([{ labels: name('a'), samples: [{ timestamp: T0, value: 0 }, { timestamp: T0 + 2000, value: 2 }] }]);
  const call = [{ labels: name('a'), samples: [{ timestamp: T0 + 1000, value: 1 }, { timestamp: T0 + 3000, value: 3 }] }];
  // The WAL's write, then the out-of-order log's fails.
  writesBeforeFailure = 1;
  expect(() => db.appendSeries(call)).toThrow(/ENOSPC/);
  // The in-order sample is a resend now; the out-of-order one is taken.
  expect(db.appendSeries(call)).toEqual({ appended: 1, outOfOrder: 0, duplicates: 0, outOfBounds: 0, tooOld: 0, invalidHistograms: 0 });
  const want = [0, 1, 2, 3].map((i) => ({ t: T0 + i * 1000, v: i }));
  expect((await querySeries(db)).map((s) => s.samples)).toEqual([want]);
  await db.close();
  const again = await open(HOUR);
  try {
    expect(warnings).toEqual([]);
    expect((await querySeries(again)).map((s) => s.samples)).toEqual([want]);
  } finally {
    await again.close();
  }
});
