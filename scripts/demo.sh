#!/usr/bin/env bash
# The main job: connect several named connections, send one query to all of
# them at once and gather the results (examples/fanout.rs). Uses the server in
# $PGDBLINK_DSN, or else starts a throwaway local one (the test kit's
# throwaway-server, tests/kit; installing PostgreSQL when it is missing) and
# removes it at the end. Arguments go to the example:
#   scripts/demo.sh [name=connstr ...] [-- sql]
set -euo pipefail
cd "$(dirname "$0")/.."

# Own connections given (name=connstr before any `--`): no server needed.
own_targets=0
for arg in "$@"; do
  [ "$arg" = "--" ] && break
  own_targets=1
done

if [ -z "${PGDBLINK_DSN:-}" ]; then
  scripts/install-deps.sh
fi
# Build first, so that a throwaway server is up only while the example runs.
cargo build --quiet --release --example fanout
if [ -z "${PGDBLINK_DSN:-}" ] && [ "$own_targets" = 0 ]; then
  # The kit on its own (its lockfile, target/kit): `cargo build -p` of a
  # dev-dependency is not supported from pgdblink's manifest.
  cargo build --quiet --manifest-path tests/kit/Cargo.toml --target-dir target/kit \
    --bin throwaway-server
  # Prints the DSN as one line, then runs until its stdin (our pipe) closes.
  coproc SERVER { exec target/kit/debug/throwaway-server; }
  server_pid=$SERVER_PID
  server_in=${SERVER[1]}
  stop_server() {
    exec {server_in}>&- 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  }
  trap stop_server EXIT
  if ! read -r PGDBLINK_DSN <&"${SERVER[0]}" || [ -z "$PGDBLINK_DSN" ]; then
    echo "demo.sh: the throwaway server did not start (see above)" >&2
    exit 1
  fi
  export PGDBLINK_DSN
  echo "demo.sh: throwaway server: PGDBLINK_DSN='$PGDBLINK_DSN'" >&2
fi
cargo run --quiet --release --example fanout -- "$@"
