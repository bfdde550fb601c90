#!/usr/bin/env bash
# The long reliability run ("soak"), for a release candidate or a nightly job
# rather than every CI run:
#
#   1. tests/stress.rs for PGDBLINK_STRESS_SECS seconds (default 60 here; 5 in
#      a normal `cargo test`) in release mode: 16 threads calling every public
#      function of the named API at random on 8 shared connection names, a
#      watchdog for deadlocks (no operation completes for 30 s: abort with a
#      report of what each thread was doing), bounded-wait and
#      result-ownership checks (see the doc comment at the top of
#      tests/stress.rs).
#   2. The C programs of tests/c/*.c compiled with AddressSanitizer (which
#      includes LeakSanitizer) against the release cdylib, run against a
#      throwaway PostgreSQL cluster this script starts (or PGDBLINK_TEST_DSN).
#   3. A summary: operations per kind, errors per SQLSTATE, durations.
#
# Usage: scripts/soak.sh [--secs N | N]
#   The 10-minute soak:
#     PGDBLINK_STRESS_SECS=600 scripts/soak.sh     (or: scripts/soak.sh --secs 600)
#   --secs N / N                  the stress phase's length in seconds (default 60;
#                                 overrides PGDBLINK_STRESS_SECS). The stress is
#                                 not otherwise time-limited: its own watchdog
#                                 aborts it N + 60 s after the start at the latest.
#   PGDBLINK_STRESS_SECS=600      the same as --secs 600
#   PGDBLINK_STRESS_SEED=0x...    replay the per-thread sequences of a seed
#   PGDBLINK_STRESS_EXCLUDE=a,b   leave stress operations out (tests/stress.rs)
#   PGDBLINK_SOAK_MEMCHECK=valgrind  run the C programs under valgrind
#                                    instead of ASan
#   PGDBLINK_TEST_DSN=...         use an existing server (superuser connstr)
# Needs what scripts/test.sh needs (run scripts/install-deps.sh once); gcc's
# libasan (Debian/Ubuntu: part of gcc, package libasan8).
#
# How ASan is used, and why it works here: only the C test program is
# instrumented (-fsanitize=address); the Rust cdylib and the libpq compiled
# into it are built normally. Because the *executable* is instrumented,
# libasan is its first DT_NEEDED library and is loaded before
# libpgdblink.so, so its malloc/free/realloc interceptors serve every
# allocation in the process, Rust's and libpq's included: LeakSanitizer at
# exit reports any PGconn, PGresult, C string or result handle the library
# (or the program) failed to free, and ASan aborts on a double free, a free
# of a foreign pointer, or a C-side out-of-bounds access. No LD_PRELOAD is
# needed (that is only for an uninstrumented executable loading an
# instrumented library). What ASan cannot see is an out-of-bounds access
# inside the uninstrumented Rust/libpq code itself; tests/c_abi.rs runs the
# same programs under valgrind memcheck, which does, so the two complement
# each other. If the sanitizer cannot run at all (no libasan, or
# LeakSanitizer cannot stop the world under a ptrace-restricted sandbox),
# this script says so and runs the programs under valgrind instead.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

usage() { sed -n 's/^# \{0,1\}//; /^Usage:/,/^Needs/p' "$0" | sed '$d'; }

SECS=${PGDBLINK_STRESS_SECS:-60}
while [[ $# -gt 0 ]]; do
    case $1 in
    --secs)
        [[ $# -ge 2 ]] || { echo "soak.sh: --secs needs a value" >&2; exit 2; }
        SECS=$2
        shift 2
        ;;
    --secs=*)
        SECS=${1#--secs=}
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    [0-9]*)
        SECS=$1
        shift
        ;;
    *)
        echo "soak.sh: unknown argument: $1" >&2
        usage >&2
        exit 2
        ;;
    esac
done
# The stress test parses it as seconds (a float); refuse anything else here,
# before the build, rather than after it.
if ! [[ $SECS =~ ^[0-9]+([.][0-9]+)?$ ]] || [[ $SECS =~ ^0+([.]0+)?$ ]]; then
    echo "soak.sh: the stress phase must be a positive number of seconds, not '$SECS'" >&2
    exit 2
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pgdblink-soak.XXXXXX")
PGDATA_DIR=""
PG_RUN=()
PG_BINDIR_FOUND=""
FAILED=0

log() { printf '[soak %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

cleanup() {
    if [[ -n $PGDATA_DIR ]]; then
        "${PG_RUN[@]}" "$PG_BINDIR_FOUND/pg_ctl" -D "$PGDATA_DIR" -m immediate -w stop \
            >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# --- 1. build -----------------------------------------------------------------
t0=$(now)
log "building (release): the cdylib and the stress test"
scripts/build-c.sh --release 2>/dev/null
cargo test --release --test stress --no-run
BUILD_TIME=$(since "$t0")

# --- 2. stress ------------------------------------------------------------------
log "stress: ${SECS} s, 16 threads, 8 shared names (release)"
t0=$(now)
set +e
PGDBLINK_STRESS_SECS=$SECS cargo test --release --test stress -- --nocapture \
    2>&1 | tee "$WORK/stress.log"
STRESS_RC=${PIPESTATUS[0]}
set -e
STRESS_TIME=$(since "$t0")
if [[ $STRESS_RC -ne 0 ]]; then
    log "stress FAILED (exit $STRESS_RC)"
    FAILED=1
fi

# --- 3. a server for the C programs ---------------------------------------------
# A port nothing listens on (bash's /dev/tcp connect fails).
free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    echo "no free port found" >&2
    return 1
}

find_bindir() {
    if [[ -n ${PG_BINDIR:-} ]]; then
        echo "$PG_BINDIR"
        return
    fi
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -z $d ]] && command -v pg_config >/dev/null; then
        d=$(pg_config --bindir)
    fi
    if [[ -z $d ]]; then
        d=$(dirname "$(command -v initdb)")
    fi
    echo "$d"
}

start_cluster() {
    PG_BINDIR_FOUND=$(find_bindir)
    local dir=$WORK/pg
    mkdir -p "$dir/sock"
    if [[ $(id -u) -eq 0 ]]; then
        # initdb refuses to run as root.
        chown -R postgres:postgres "$dir"
        chmod 755 "$WORK"
        PG_RUN=(runuser -u postgres --)
    else
        PG_RUN=(env)
    fi
    "${PG_RUN[@]}" "$PG_BINDIR_FOUND/initdb" -D "$dir/data" -A trust -U postgres \
        --no-sync -E UTF8 --locale=C >"$WORK/initdb.log" 2>&1 ||
        { cat "$WORK/initdb.log"; return 1; }
    PGDATA_DIR=$dir/data
    local port
    for _ in 1 2 3 4 5; do
        port=$(free_port)
        if "${PG_RUN[@]}" "$PG_BINDIR_FOUND/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" \
            -w -t 60 -o "-p $port -k $dir/sock -c listen_addresses=127.0.0.1 -c fsync=off \
            -c max_connections=200" start >/dev/null 2>&1; then
            DSN="host=$dir/sock port=$port user=postgres dbname=postgres"
            return 0
        fi
    done
    tail -n 30 "$dir/postgres.log"
    return 1
}

t0=$(now)
if [[ -n ${PGDBLINK_TEST_DSN:-} ]]; then
    DSN=$PGDBLINK_TEST_DSN
    log "C programs: using PGDBLINK_TEST_DSN"
else
    log "C programs: starting a throwaway cluster"
    start_cluster
fi
DEAD_DSN="host=127.0.0.1 port=$(free_port) user=postgres dbname=postgres connect_timeout=5"
export PGDBLINK_DSN=$DSN PGDBLINK_DEAD_DSN=$DEAD_DSN

# --- 4. the C programs under ASan + LSan (or valgrind) ---------------------------
LIBDIR=$ROOT/target/release
# Programs linked with -lpgdblink load its SONAME: build-c.sh left that link
# (libpgdblink.so.0.MINOR -> libpgdblink.so) beside the build.
CC_CMD=${CC:-cc}
C_PROGRAMS=()
for src in tests/c/*.c; do
    C_PROGRAMS+=("$(basename "$src" .c)")
done

compile() { # name, extra flags...
    local name=$1
    shift
    # shellcheck disable=SC2086  # CC may carry flags
    $CC_CMD -std=c11 -Wall -Wextra -Werror -g "$@" -I include -o "$WORK/$name" \
        "tests/c/$name.c" -L "$LIBDIR" -lpgdblink "-Wl,-rpath,$LIBDIR" -lpthread
}

# Can the sanitizer run here? Compile and run a trivial leaking program: it
# must be reported (exit 23), not crash LeakSanitizer.
MODE=${PGDBLINK_SOAK_MEMCHECK:-asan}
ASAN_WHY=""
cat >"$WORK/probe.c" <<'EOF'
#include <stdlib.h>
void *volatile keep;
int main(void) { keep = malloc(7); keep = 0; return 0; }
EOF
if [[ $MODE == valgrind ]]; then
    log "C programs: valgrind requested (PGDBLINK_SOAK_MEMCHECK=valgrind)"
elif ! $CC_CMD -fsanitize=address -g -o "$WORK/probe" "$WORK/probe.c" 2>"$WORK/probe.err"; then
    ASAN_WHY="the compiler cannot build with -fsanitize=address: $(head -n 3 "$WORK/probe.err")"
else
    set +e
    ASAN_OPTIONS=exitcode=23 "$WORK/probe" >"$WORK/probe.out" 2>&1
    rc=$?
    set -e
    if [[ $rc -ne 23 ]] || ! grep -q "detected memory leaks" "$WORK/probe.out"; then
        ASAN_WHY="LeakSanitizer does not work here (exit $rc): $(head -n 3 "$WORK/probe.out")"
    fi
fi
if [[ $MODE != valgrind && -n $ASAN_WHY ]]; then
    log "AddressSanitizer unavailable: $ASAN_WHY"
    log "falling back to valgrind memcheck"
    MODE=valgrind
fi

declare -A C_RESULT C_TIME
for name in "${C_PROGRAMS[@]}"; do
    t1=$(now)
    set +e
    if [[ $MODE == asan ]]; then
        compile "$name" -fsanitize=address -fno-omit-frame-pointer &&
            ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:exitcode=23:strict_string_checks=1:detect_stack_use_after_return=1 \
                LSAN_OPTIONS=report_objects=1 \
                timeout 300 "$WORK/$name" >"$WORK/$name.log" 2>&1
    else
        supp=()
        [[ -f tests/c/valgrind.supp ]] && supp=(--suppressions=tests/c/valgrind.supp)
        compile "$name" &&
            timeout 600 valgrind --error-exitcode=23 --leak-check=full \
                --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
                "${supp[@]}" "$WORK/$name" >"$WORK/$name.log" 2>&1
    fi
    rc=$?
    set -e
    C_TIME[$name]=$(since "$t1")
    case $rc in
    0) C_RESULT[$name]="ok" ;;
    23) C_RESULT[$name]="MEMORY ERRORS OR LEAKS" ;;
    124) C_RESULT[$name]="TIMED OUT" ;;
    *) C_RESULT[$name]="FAILED (exit $rc)" ;;
    esac
    if [[ $rc -ne 0 ]]; then
        FAILED=1
        log "tests/c/$name.c: ${C_RESULT[$name]}; its output:"
        tail -n 60 "$WORK/$name.log"
    fi
done
C_TIME_ALL=$(since "$t0")

# --- 5. summary ----------------------------------------------------------------
echo
echo "================ pgdblink soak summary ================"
echo "build (release):            $BUILD_TIME"
echo "stress (${SECS} s requested):  $STRESS_TIME, exit $STRESS_RC"
grep -E '^stress: seed' "$WORK/stress.log" | sed 's/^/  /' || true
grep -E '^stress summary:' "$WORK/stress.log" | sed 's/^/  /' || true
grep -E '^stress WATCHDOG' "$WORK/stress.log" | sed 's/^/  /' || true
echo "  operations per kind:"
grep -E '^  op ' "$WORK/stress.log" | sed 's/^  op /    /' || true
echo "  calls per public function:"
grep -E '^  call ' "$WORK/stress.log" | sed 's/^  call /    /' || true
echo "  errors per SQLSTATE (08003 not connected / still connecting, 42710 duplicate"
echo "  name, 08001 connect failed or timed out, 57014 canceled or timed out, 22012"
echo "  1/0, 25P02 aborted transaction, 34000 no such cursor, 08006 busy or reset,"
echo "  XX000 dblink busy, 2F003 exec of a query):"
grep -E '^  error ' "$WORK/stress.log" | sed 's/^  error /    /' || true
grep -E '^  outcome (tags verified|send_query: |disconnect: ok|disconnect_all: done|reset: |connect: ok|connect_poll: Ready)' \
    "$WORK/stress.log" | sed 's/^  outcome /    /' || true
echo "C programs under $MODE ($C_TIME_ALL incl. server start):"
for name in "${C_PROGRAMS[@]}"; do
    printf '  tests/c/%-12s %-28s %s\n' "$name.c" "${C_RESULT[$name]}" "${C_TIME[$name]}"
done
[[ -n $ASAN_WHY ]] && echo "  (ASan not used: $ASAN_WHY)"
if [[ $FAILED -ne 0 ]]; then
    echo "SOAK FAILED"
    exit 1
fi
echo "SOAK PASSED"
