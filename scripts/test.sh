#!/usr/bin/env bash
# The whole test suite: installs what it needs (scripts/setup.sh), builds, type-checks the tests and
# benchmarks, and runs every test, including the end-to-end tests against real Prometheus processes
# and an S3-protocol server.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
pnpm run build
pnpm run typecheck
pnpm exec vitest run "$@"
