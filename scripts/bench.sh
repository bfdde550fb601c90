#!/usr/bin/env bash
# pgdblink's benchmark suite, in one command: installs what is missing,
# builds in release mode, builds the raw-libpq C anchor (benches/c/rawpq.c)
# against the same libpq pgdblink links, starts a throwaway PostgreSQL
# server, runs every workload through pgdblink and its anchors (raw libpq,
# the `postgres` crate, the real dblink), and prints the table: median,
# min–max, ratio pgdblink / anchor, the bar, met or not.
#
#   scripts/bench.sh            the full suite (about 5 minutes on 2 CPUs)
#   scripts/bench.sh --tiny     each workload once at a tiny size (CI; < 1 minute)
#   scripts/bench.sh --only latency,callgrind --reps 9
#   scripts/bench.sh --only fanout_n     fan-out at N = 10, 150, 1,000 (about 2 minutes)
#   scripts/bench.sh --only copy,pipeline   COPY between databases, pipelines (about 30 s)
#
# Set PGDBLINK_TEST_DSN to use an existing server instead (see tests/kit/src/lib.rs).
# The table is also written to target/bench/last-run.md.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --bench
cargo bench --bench suite --no-run
# The C library (the pgdblink side of the C fan-out), from the same build.
scripts/build-c.sh --release 2>/dev/null
# The C anchor links the very libpq pgdblink was linked with: pq-src's build
# output of this build (cargo reports it; the suite otherwise takes the newest).
libpq_dir=$(cargo bench --bench suite --no-run --message-format=json 2>/dev/null |
  grep '"build-script-executed"' | grep '#pq-src@' |
  sed -n 's/.*"out_dir":"\([^"]*\)".*/\1/p' | tail -n 1 || true)
if [ -n "$libpq_dir" ]; then
  export PGDBLINK_BENCH_LIBPQ_DIR="$libpq_dir"
fi
cargo bench --bench suite -- --out target/bench/last-run.md "$@"
