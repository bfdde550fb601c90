#!/usr/bin/env bash
# Runs every pgdblink test on a fresh machine: installs what is missing, then
# the Rust unit/integration tests, the differential tests against the real
# dblink, and the C ABI tests under valgrind (all started from cargo test,
# each test binary with its own throwaway PostgreSQL cluster).
#
# Set PGDBLINK_TEST_DSN to use an existing server (a superuser connstr) instead.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# The C tests link the C library (the crate with the capi feature); build it
# first: cargo test does not. (Its output is shown only when it fails.)
if ! build_log=$(scripts/build-c.sh 2>&1); then
  printf '%s\n' "$build_log" >&2
  exit 1
fi
cargo test "$@"
