import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@strata/runtime';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ActiveQueryTracker, unfinished } from './activequeries.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'strata-active-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const inFile = () => unfinished(readFileSync(join(dir, 'queries.active'))).map((e) => e.query);

describe('ActiveQueryTracker', () => {
  it('keeps each query in the file while it is evaluated, a valid JSON array throughout', async () => {
    const tracker = new ActiveQueryTracker(dir, 3, createLogger({ write: () => {} }));
    let release = () => {};
    const held = new Promise<void>((r) => (release = r));
    const a = tracker.track('sum(rate(a[5m]))', () => held);
    const b = tracker.track('up{job="x"}', async () => inFile());
    expect(await b).toEqual(['sum(rate(a[5m]))', 'up{job="x"}']);
    // As Prometheus' file reads: the NUL padding dropped, the last entry's comma too.
    const text = readFileSync(join(dir, 'queries.active'), 'utf8').replace(/\0/g, '').replace(/,\]$/, ']');
    expect(JSON.parse(text)).toEqual([{ query: 'sum(rate(a[5m]))', timestamp_sec: expect.any(Number) }]);
    release();
    await a;
    expect(inFile()).toEqual([]);
    tracker.close();
  });

  it('logs at start the queries a process left behind, then starts the file again', async () => {
    const crashed = new ActiveQueryTracker(dir, 2, createLogger({ write: () => {} }));
    void crashed.track('count(huge)', () => new Promise(() => {}));
    crashed.close();
    const lines: string[] = [];
    const next = new ActiveQueryTracker(dir, 2, createLogger({ write: (l) => lines.push(l) }));
    expect(lines).toEqual([expect.stringMatching(/msg="These queries didn't finish in the querier's last run:" queries="\[\{\\"query\\":\\"count\(huge\)\\",\\"timestamp_sec\\":\d+\}\]"/)]);
    expect(inFile()).toEqual([]);
    next.close();
  });

  it('cuts a query too long for its slot so that the entry still reads', async () => {
    const tracker = new ActiveQueryTracker(dir, 1, createLogger({ write: () => {} }));
    const long = `sum(x{l="${'é"\\'.repeat(2000)}"})`;
    const seen = await tracker.track(long, async () => inFile());
    expect(seen).toHaveLength(1);
    expect(long.startsWith(seen[0] as string)).toBe(true);
    expect((seen[0] as string).length).toBeGreaterThan(200);
    tracker.close();
  });
});
