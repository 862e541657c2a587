import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { threadRunDelayMs } from './rundelay.js';

const linux = existsSync('/proc/thread-self/schedstat');
if (!linux) console.warn('rundelay.test.ts: SKIPPED, no /proc/thread-self/schedstat on this machine');

describe.skipIf(!linux)('threadRunDelayMs', () => {
  it("reads the thread's run-queue wait, which only grows", () => {
    const first = threadRunDelayMs();
    expect(first).toBeTypeOf('number');
    expect(first).toBeGreaterThanOrEqual(0);
    let last = first as number;
    for (let i = 0; i < 100; i++) {
      const now = threadRunDelayMs() as number;
      expect(now).toBeGreaterThanOrEqual(last);
      last = now;
    }
  });
});
