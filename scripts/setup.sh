#!/usr/bin/env bash
# Installs what Strata's build, tests and quick start need on a fresh Debian machine with Node 20:
# Debian's prometheus package (prometheus + promtool 2.42), memcached and redis for the cache tests, pnpm
# (pinned in package.json) and the workspace's node packages. Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# prometheus + promtool 2.42: the reference every test compares with. docker-compose (1.29, Python):
# only to validate deploy/docker-compose in the tests; no container engine is needed.
missing=()
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
# openssl: the TLS tests make their certificates with it.
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# memcached: the memcached cache client's and the query frontend's memcached tests run a real one.
command -v memcached >/dev/null 2>&1 || missing+=(memcached)
# redis-server (with redis-cli): the redis cache client's tests run a real one (the package never starts its service here).
command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 || missing+=(redis-server)
# prometheus-alertmanager (0.25): the ruler's notifier test sends alerts to a real one, started on a free port.
command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  as_root apt-get update -qq
  # --no-install-recommends keeps prometheus to 12 packages; the package never starts its service here.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

want_pnpm=$(node -p "require('./package.json').packageManager.split('@')[1]")
if [ "$(pnpm --version 2>/dev/null || true)" != "$want_pnpm" ]; then
  echo "setup: installing pnpm $want_pnpm" >&2
  npm install -g "pnpm@$want_pnpm" >/dev/null 2>&1 || as_root npm install -g "pnpm@$want_pnpm" >/dev/null
fi

pnpm install --frozen-lockfile --reporter=silent
