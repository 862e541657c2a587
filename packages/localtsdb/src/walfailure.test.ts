// A WAL write that fails midway (a full disk): the append call throws, having kept nothing, and the TSDB
// goes on as if it had not been made, its WAL replayed whole after a restart.
import * as fs from 'node:fs';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { createLogger } from '@strata/runtime';
import { Labels } from '@strata/tsdb';
import { tempDir } from '@strata/testing/process';
import { LocalTSDB } from './db.js';

/** When set, the next write(2) writes half its bytes and fails as a full disk does. */
let failNext = false;

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const writeSync = (fd: number, buf: Uint8Array, offset?: number, length?: number, position?: number | null): number => {
    if (!failNext) return real.writeSync(fd, buf, offset, length, position);
    failNext = false;
    real.writeSync(fd, buf, offset ?? 0, Math.floor((length ?? buf.length) / 2), position);
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  };
  return { ...real, writeSync, default: { ...real, writeSync } };
});

const HOUR = 3_600_000;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % (2 * HOUR));
let tmp: { path: string; cleanup: () => Promise<void> };
let warnings: string[];

beforeEach(async () => {
  tmp = await tempDir('strata-walfailure-');
  warnings = [];
});
afterEach(async () => {
  await tmp.cleanup();
});

const open = () =>
  LocalTSDB.open({
    dir: tmp.path, blockDurationMs: 2 * HOUR, retentionMs: 0, externalLabels: Labels.EMPTY, registry: new Registry(),
    logger: createLogger({ write: (line) => void (line.includes('level=warn') && warnings.push(line)) }),
  });
const name = (n: string) => Labels.from({ __name__: n });

it('throws on a failed WAL write having kept nothing of the call, its new series included, and replays whole afterwards', async () => {
  const db = await open();
  expect(db.appendSeries([{ labels: name('a'), samples: [{ timestamp: T0, value: 1 }] }]).appended).toBe(1);
  failNext = true;
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
