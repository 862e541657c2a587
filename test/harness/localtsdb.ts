/**
 * Local TSDBs for a test file's tests: each test gets a fresh directory, its warnings collected, and
 * every TSDB it opened closed after it.
 */
import { LocalTSDB, type LocalTSDBOptions } from '@strata/localtsdb';
import { createLogger, type Logger } from '@strata/runtime';
import { Registry } from 'prom-client';
import { afterEach, beforeEach } from 'vitest';
import { tempDir } from './process.js';

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
