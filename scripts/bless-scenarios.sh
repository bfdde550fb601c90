#!/usr/bin/env bash
# Regenerates the expected outputs of the differential scenarios
# (tests/scenarios/expected/) from both oracles: dblink 18 (the PyPI wheel,
# scripts/oracle18.sh) writes <name>.out, then dblink 15 (Debian's
# postgresql-contrib) writes <name>.pg15.out where it differs.
#
#   scripts/bless-scenarios.sh [substring ...]   # only the scenarios named so
#
# Read the diff (git diff tests/scenarios/expected) before committing it.
set -euo pipefail
cd "$(dirname "$0")/.."
bindir18="$(scripts/oracle18.sh)"
PG_BINDIR="$bindir18" PGDBLINK_BLESS=1 cargo test --test scenarios -- "$@"
PGDBLINK_BLESS=1 cargo test --test scenarios -- "$@"
