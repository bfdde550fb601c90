#!/usr/bin/env bash
# The main job: connect several named connections, send one query to all of
# them at once and gather the results (examples/fanout.rs). Uses the server in
# $PGDBLINK_DSN, or else starts a throwaway local one (installing PostgreSQL
# when it is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PGDBLINK_DSN:-}" ]; then
  scripts/install-deps.sh
fi
cargo run --quiet --release --example fanout -- "$@"
