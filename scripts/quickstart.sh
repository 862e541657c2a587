#!/usr/bin/env bash
# Strata's quick start: installs what it needs (scripts/setup.sh), builds, and runs a complete local
# Strata with demo data until Ctrl-C. Extra arguments go to `strata quickstart` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
pnpm run build >/dev/null
exec node packages/cli/dist/main.js quickstart "$@"
