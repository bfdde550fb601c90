#!/usr/bin/env bash
# Fuzzes pgdblink with cargo-fuzz (libFuzzer + AddressSanitizer) against a
# live throwaway PostgreSQL server that each target starts for itself.
#
#   scripts/fuzz.sh                 # every target, 60 s each
#   scripts/fuzz.sh 1800            # every target, 30 minutes each
#   scripts/fuzz.sh 900 c_abi       # one target, 15 minutes
#
# Targets (tests/fuzz/fuzz_targets/):
#   api_sequence  random sequences of Rust API calls, names and SQL
#   c_abi         the C ABI with arbitrary bytes, NULLs and indexes
#
# Installs cargo-fuzz if missing. cargo-fuzz needs nightly-only compiler
# flags; on a stable toolchain they are unlocked with RUSTC_BOOTSTRAP=1.
# The corpus grows in tests/fuzz/corpus/<target>/ (reused by later runs);
# a crash, leak, timeout or panic is saved in tests/fuzz/artifacts/<target>/
# and makes this script exit nonzero. Reproduce one with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir tests/fuzz <target> <artifact>
# and shrink it with `cargo fuzz tmin --fuzz-dir tests/fuzz <target> <artifact>`.
# Extra libFuzzer flags can be given in FUZZ_FLAGS (e.g. FUZZ_FLAGS=-jobs=2).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(api_sequence c_abi)
fi
case "$seconds" in
  '' | *[!0-9]*)
    echo "usage: scripts/fuzz.sh [seconds per target] [target...]" >&2
    exit 2
    ;;
esac

if [ -x scripts/install-deps.sh ]; then
  scripts/install-deps.sh
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi
# Nightly features (sanitizers, -Z flags) on a stable toolchain.
if ! rustc --version | grep -q nightly; then
  export RUSTC_BOOTSTRAP=1
fi

for target in "${targets[@]}"; do
  cargo fuzz build --fuzz-dir tests/fuzz "$target"
done

status=0
for target in "${targets[@]}"; do
  log="tests/fuzz/artifacts/$target.log"
  mkdir -p "tests/fuzz/corpus/$target" "tests/fuzz/artifacts/$target"
  echo "fuzz: $target for ${seconds}s (log: $log)" >&2
  # -timeout: one input taking 60 s is a hang (every wait in the targets is
  # bounded far below that). -rss_limit_mb: ASan's shadow memory needs room.
  # -max_len/-len_control=0: inputs of up to 1 KiB (dozens of calls) from
  # the start; libFuzzer's default grows the limit slowly, which keeps call
  # sequences short for most of a run.
  # shellcheck disable=SC2086
  if cargo fuzz run --fuzz-dir tests/fuzz "$target" -- \
    -max_total_time="$seconds" -timeout=60 -rss_limit_mb=4096 \
    -max_len=1024 -len_control=0 \
    -print_final_stats=1 ${FUZZ_FLAGS:-} >"$log" 2>&1; then
    result=ok
  else
    result=FAILED
    status=1
  fi
  # The last status line: #runs, coverage, corpus, exec/s.
  summary=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
  speed=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}' || true)
  echo "fuzz: $target $result: ${runs:-?} runs, ${speed:-?} exec/s; $summary" >&2
  if [ "$result" = FAILED ]; then
    grep -E 'ERROR|panicked|SUMMARY|Test unit written|artifact' "$log" >&2 || true
    tail -n 40 "$log" >&2
  fi
done
exit "$status"
