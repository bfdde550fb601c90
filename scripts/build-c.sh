#!/usr/bin/env bash
# Builds the C libraries, libpgdblink.so (with its SONAME) and libpgdblink.a,
# from the crate with the `capi` feature (Rust users of the crate get the
# rlib alone, without the C ABI):
#
#   scripts/build-c.sh                  target/debug/libpgdblink.{so,a}
#   scripts/build-c.sh --release        target/release/...
#   scripts/build-c.sh --release --no-default-features --features system-libpq
#
# Extra arguments go to `cargo rustc` before its `--`. rustc's note with the
# static library's native libraries (`native-static-libs: ...`) is printed on
# stderr (scripts/install.sh reads it for pgdblink.pc).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MAJOR=${VERSION%%.*}
SONAME=libpgdblink.so.$MAJOR
exec "${CARGO:-cargo}" rustc --lib --features capi --crate-type cdylib --crate-type staticlib "$@" \
  -- --print native-static-libs -C "link-arg=-Wl,-soname,$SONAME"
