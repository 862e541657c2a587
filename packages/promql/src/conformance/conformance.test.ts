import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { countStatuses, runSuite } from './runner.js';

// ../shared beside the repository root holds Prometheus' test scripts; they are read in place.
const testdata = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../../..'), '..', 'shared', 'promql-testdata');
const present = existsSync(testdata);
const skipReason = present ? '' : ` (skipped: Prometheus test scripts not found at ${testdata})`;
if (!present) console.warn(`PromQL conformance${skipReason}`);

async function summary(suite: string, compat: 2 | 3): Promise<{ passed: number; failed: number; skipped: number; failures: string[] }> {
  const files = await runSuite(join(testdata, suite), compat);
  const total = { passed: 0, failed: 0, skipped: 0 };
  const failures: string[] = [];
  for (const f of files) {
    const c = countStatuses(f.cases);
    total.passed += c.passed;
    total.failed += c.failed;
    total.skipped += c.skipped;
    for (const x of f.cases) if (x.status === 'failed') failures.push(`${f.file}:${x.line} ${x.expr}: ${x.reason}`);
  }
  return { ...total, failures };
}

describe('PromQL conformance with Prometheus test scripts', () => {
  it.skipIf(!present)(`passes every case of the v2.42.0 suite in 2.x mode${skipReason}`, async () => {
    const r = await summary('v2.42.0', 2);
    expect(r.failures).toEqual([]);
    expect(r.skipped).toBe(0);
    expect(r.passed).toBeGreaterThan(500);
  }, 120_000);

  it.skipIf(!present)(`passes at least 95% of the float cases of the main suite in 3.x mode${skipReason}`, async () => {
    const r = await summary('main', 3);
    const rate = r.passed / (r.passed + r.failed);
    expect(rate, `${r.passed} passed, ${r.failed} failed:\n${r.failures.join('\n')}`).toBeGreaterThanOrEqual(0.95);
  }, 300_000);
});
