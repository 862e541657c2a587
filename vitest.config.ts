import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests import workspace packages from their TypeScript sources, so a test run never depends on a stale dist/.
const packagesDir = fileURLToPath(new URL('./packages/', import.meta.url));
const harnessDir = fileURLToPath(new URL('./test/harness/', import.meta.url));
const alias = [
  // Test helpers that start real Prometheus, promtool and S3 servers: `@strata/testing/prometheus` etc.
  { find: /^@strata\/testing\/(.*?)(\.js)?$/, replacement: `${harnessDir}$1.ts` },
  ...readdirSync(packagesDir).map((name) => ({ find: `@strata/${name}`, replacement: `${packagesDir}${name}/src/index.ts` })),
];

export default defineConfig({
  resolve: { alias },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    teardownTimeout: 30_000,
  },
});
