/**
 * Local TSDBs for a test file's tests: each test gets a fresh directory, its warnings collected, and
 * every TSDB it opened closed after it.
 */
import { LocalTSDB, type LocalTSDBOptions } from '@strata/localtsdb';
import { createLogger, type Logger } from '@strata/runtime';
import { decodeSeriesResponse, encodeSeriesResponse, fromStoreSeries, type LabelMatcher, MatcherType, seriesRequest, type SeriesRequest } from '@strata/storeapi';
import { type FloatHistogram, ValueType } from '@strata/tsdb';
import { Registry } from 'prom-client';
import { afterEach, beforeEach } from 'vitest';
import { tempDir } from './process.js';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
/** The local TSDB tests' block duration: Prometheus' 2h. */
export const BLOCK = 2 * HOUR;
/** A fixed time where a 2h block starts: the tests' data does not depend on the time of day. */
export const BLOCK_START = 1_700_000_000_000 - (1_700_000_000_000 % BLOCK);

export interface LocalTsdbFixture {
  /** The test's directory. */
  readonly dir: string;
  /** The warnings logged in the test (assignable: a test may start over). */
  warnings: string[];
  readonly logger: Logger;
  /** The TSDBs open, closed after the test (a test that closes one itself takes it out). */
  open: LocalTSDB[];
  /** Opens a TSDB in the test's directory with the file's `defaults`, overridden by `o`. */
  openDB(o?: Partial<LocalTSDBOptions>): Promise<LocalTSDB>;
  /** Closes `db` and opens its directory again. */
  reopen(db: LocalTSDB, o?: Partial<LocalTSDBOptions>): Promise<LocalTSDB>;
}

export function localTsdbFixture(prefix: string, defaults: Omit<LocalTSDBOptions, 'dir' | 'logger' | 'registry'>): LocalTsdbFixture {
  let tmp: { path: string; cleanup: () => Promise<void> } | undefined;
  const fixture: LocalTsdbFixture = {
    get dir() {
      if (tmp === undefined) throw new Error('no test is running');
      return tmp.path;
    },
    warnings: [],
    logger: createLogger({ write: (line) => void (line.includes('level=warn') && fixture.warnings.push(line)) }),
    open: [],
    async openDB(o = {}) {
      const db = await LocalTSDB.open({ dir: fixture.dir, registry: new Registry(), logger: fixture.logger, ...defaults, ...o });
      fixture.open.push(db);
      return db;
    },
    async reopen(db, o = {}) {
      await db.close();
      fixture.open = fixture.open.filter((d) => d !== db);
      return fixture.openDB(o);
    },
  };
  beforeEach(async () => {
    tmp = await tempDir(prefix);
    fixture.warnings = [];
    fixture.open = [];
  });
  afterEach(async () => {
    for (const db of fixture.open) await db.close();
    await tmp?.cleanup();
  });
  return fixture;
}

/** A sample as `querySeries` reads it: a float, or a native histogram (`h`, its counts as floats; `v` 0). */
export interface QueriedSample {
  t: number;
  v: number;
  h?: FloatHistogram;
}

/** Selects every series with a name (default matchers of `querySeries`). */
const ANY_NAME: LabelMatcher = { type: MatcherType.RE, name: '__name__', value: '.+' };

/**
 * A TSDB's Series answer as it goes over the wire (encoded, decoded), for all time and every named series
 * unless `req` says otherwise: labels → samples, and each series' chunk ranges.
 */
export async function querySeries(db: LocalTSDB, req: Partial<SeriesRequest> = {}): Promise<{ labels: string; samples: QueriedSample[]; chunks: [number, number][] }[]> {
  const out: { labels: string; samples: QueriedSample[]; chunks: [number, number][] }[] = [];
  const ctx = { signal: new AbortController().signal };
  for await (const f of db.store.series(seriesRequest({ minTime: 0, maxTime: Number.MAX_SAFE_INTEGER, matchers: [ANY_NAME], ...req }), ctx)) {
    if ('warning' in f) throw new Error(f.warning);
    if (!('series' in f) && !('run' in f)) continue;
    for (const s of 'run' in f ? f.run : [f.series]) {
      const decoded = decodeSeriesResponse(encodeSeriesResponse({ series: s }));
      if (!('series' in decoded)) throw new Error('not a series');
      const cs = fromStoreSeries(decoded.series);
      const samples: QueriedSample[] = [];
      for (const c of cs.chunks) {
        const it = c.chunk.iterator();
        for (let vt = it.next(); vt !== ValueType.None; vt = it.next()) {
          if (vt === ValueType.Float) samples.push({ t: it.atT(), v: it.atFloat() });
          else samples.push({ t: it.atT(), v: 0, h: (it.atFloatHistogram as () => FloatHistogram)() });
        }
      }
      out.push({ labels: cs.labels.toString(), samples, chunks: cs.chunks.map((c) => [c.minTime, c.maxTime]) });
    }
  }
  return out;
}
