/**
 * CLI: `pnpm conformance --suite main|v2.42.0 [--compat 2|3] [--verbose] [--file name] [--min-pass-rate r]`.
 * Exits 1 when passed/(passed+failed) is below the minimum: by default the targets, 100% for v2.42.0
 * and 95% for main.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { countStatuses, runSuite } from './runner.js';

const { values } = parseArgs({
  options: {
    suite: { type: 'string', default: 'main' },
    compat: { type: 'string' },
    verbose: { type: 'boolean', default: false },
    file: { type: 'string' },
    dir: { type: 'string' },
    'min-pass-rate': { type: 'string' },
  },
});

const suite = values.suite as string;
if (suite !== 'main' && suite !== 'v2.42.0') {
  console.error(`unknown suite ${JSON.stringify(suite)}: use main or v2.42.0`);
  process.exit(2);
}
const compat = values.compat === undefined ? (suite === 'main' ? 3 : 2) : Number(values.compat);
if (compat !== 2 && compat !== 3) {
  console.error(`--compat must be 2 or 3, got ${values.compat}`);
  process.exit(2);
}
// packages/promql/dist/conformance → the repository root is four levels up; ../shared sits beside it.
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const dir = values.dir ?? join(repoRoot, '..', 'shared', 'promql-testdata', suite);
if (!existsSync(dir)) {
  console.error(`test scripts not found at ${dir}`);
  process.exit(2);
}

const results = await runSuite(dir, compat);
const total = { passed: 0, failed: 0, skipped: 0 };
for (const f of results) {
  if (values.file !== undefined && f.file !== values.file) continue;
  const c = countStatuses(f.cases);
  total.passed += c.passed;
  total.failed += c.failed;
  total.skipped += c.skipped;
  console.log(`${f.file}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`);
  if (values.verbose) {
    for (const x of f.cases) {
      if (x.status === 'failed') console.log(`  FAIL line ${x.line}: ${x.expr}\n    ${x.reason}`);
    }
  }
}
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
const minRate = Number(values['min-pass-rate'] ?? (suite === 'main' ? 0.95 : 1));
const rate = total.passed / Math.max(1, total.passed + total.failed);
if (rate < minRate) {
  console.error(`pass rate ${(rate * 100).toFixed(1)}% is below ${(minRate * 100).toFixed(1)}%`);
  process.exit(1);
}
